#!/usr/bin/env bats
# Active health checks (issue 14, item 1): while a circuit is open the
# shim checks Redis itself (connect, AUTH as the program did, PING) every
# CACHEKIT_HEALTH_CHECK_INTERVAL (default 1 s), so programs go live within
# about one interval of Redis returning and no program call pays a timeout
# as a probe. These run the default interval (the other suites pin 0, the
# program-call probe). Times are read from the program's own clock (-A: ms
# since its start); "live" is a value only the returned Redis holds.

load helpers

setup() {
    unset CACHEKIT_HEALTH_CHECK_INTERVAL # the product's default: 1 s
}

LIVE_WITHIN_MS=1500 # the issue's bound for the default interval

# at_ms LINE: the -A time of a line.
at_ms() { sed -n 's/.* @\([0-9.]*\)$/\1/p' <<<"$1" | cut -d. -f1; }

# live_after MARKER VALUE: ms from the line MARKER to the first reply VALUE
# after it, in $output.
live_after() {
    local marked first
    marked=$(grep -m1 "^$1" <<<"$output")
    first=$(sed -n "/^$1/,\$p" <<<"$output" | grep -m1 "^$2 ")
    [ -n "$marked" ] && [ -n "$first" ] || { echo "no '$2' after '$1'" >&2; return 1; }
    echo $(($(at_ms "$first") - $(at_ms "$marked")))
}

# calls_between FROM TO: the reply lines between two marker lines.
calls_between() { sed -n "/^$1/,/^$2/p" <<<"$output" | grep -vE "^($1|$2)"; }

without_sigpipe() {
    trap '' PIPE # inherited, ignored, by what it runs
    "$@"
}

show() {
    printf '%s\n' "$output" | runs >&2
    cat "$BATS_TEST_TMPDIR/stderr" >&2
}

@test "a killed Redis restarted: a sync program's calls are live within 1.5 s, with a 60 s cooldown (control: plain hiredis at once)" {
    start_redis
    kill_restart_script > "$BATS_TEST_TMPDIR/script"
    # control: plain hiredis, reconnecting after a failed call as collectd does
    run "$CLIENT" -p "$PORT" -r -A < "$BATS_TEST_TMPDIR/script"
    local plain_ms
    plain_ms=$(live_after restarted "str v2")
    echo "plain hiredis: live ${plain_ms} ms after the restart" >&2
    [ "$plain_ms" -le 200 ]

    # (the control's script left Redis running: the same script again)
    COOLDOWN=60 run client_under_shim -r -T -A < "$BATS_TEST_TMPDIR/script"
    show
    [ "$status" -eq 0 ]
    local shim_ms
    shim_ms=$(live_after restarted "str v2")
    echo "under the shim: live ${shim_ms} ms after the restart" >&2
    [ "$shim_ms" -le "$LIVE_WITHIN_MS" ]
    # while Redis was gone: the last good value, once the circuit opened
    [ "$(calls_between killed restarted | grep -c '^str v1')" -ge 3 ]
    grep -q 'CLOSED -> OPEN' "$BATS_TEST_TMPDIR/stderr"
    grep -q 'OPEN -> CLOSED (health check: Redis answers)' "$BATS_TEST_TMPDIR/stderr"
    none grep 'HALF_OPEN' "$BATS_TEST_TMPDIR/stderr" # no program call probed
    grep -q '"health_checks":{"up":1,' <<<"$output"
}

frozen_script() {
    cat <<SCRIPT
connect
cmd SET k v1
cmd GET k
sh $REDISCTL freeze $REDIS_DIR
echo frozen
loop 50 60 cmd GET k
sh $REDISCTL thaw $REDIS_DIR && redis-cli -p $PORT set k v2 > /dev/null
echo thawed
loop 40 50 cmd GET k
SCRIPT
}

# The calls after the first THRESHOLD failures of the freeze, with their
# times in ms.
times_while_open() { calls_between frozen thawed | tail -n +4 | sed -n 's/.* \[\([0-9]*\)\.[0-9] ms\].*/\1/p'; }

@test "a frozen Redis: once open, no program call pays a timeout as a probe; live within 1.5 s of SIGCONT (control: the check off, the probes pay it)" {
    start_redis
    frozen_script > "$BATS_TEST_TMPDIR/script"
    export COOLDOWN=1 CACHEKIT_SOCKET_TIMEOUT=0.5

    # control: the check off, the program's calls probe after the cooldown
    CACHEKIT_HEALTH_CHECK_INTERVAL=0 run client_under_shim -T -A < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    local slowest
    slowest=$(times_while_open | sort -n | tail -1)
    echo "check off: slowest call while open ${slowest} ms" >&2
    [ "$slowest" -ge 400 ] # a probe waited out the 0.5 s timeout

    # (the control thawed Redis: the same script again, the check on)
    CACHEKIT_METRICS_FILE="$BATS_TEST_TMPDIR/metrics.prom" run client_under_shim -T -A < "$BATS_TEST_TMPDIR/script"
    show
    [ "$status" -eq 0 ]
    slowest=$(times_while_open | sort -n | tail -1)
    echo "check on: slowest call while open ${slowest} ms" >&2
    [ "$(times_while_open | wc -l)" -ge 40 ]
    [ "$slowest" -le 50 ]
    local live_ms
    live_ms=$(live_after thawed "str v2")
    echo "live ${live_ms} ms after SIGCONT" >&2
    [ "$live_ms" -le "$LIVE_WITHIN_MS" ]
    # the checks that met the frozen server were counted down, the last up
    local endpoint="endpoint=\"127.0.0.1:$PORT\""
    [ "$(grep "^cachekit_health_checks_total{$endpoint,.*result=\"down\"}" "$BATS_TEST_TMPDIR/metrics.prom" |
        awk '{print $2}')" -ge 1 ]
    grep -q "^cachekit_health_checks_total{$endpoint,.*result=\"up\"} 1$" "$BATS_TEST_TMPDIR/metrics.prom"
}

@test "a Redis with a password, restarted and loading its data: the check authenticates as the program did, counts LOADING as down, and closes the circuit only once Redis serves" {
    start_redis --requirepass sekrit --enable-debug-command local --dbfilename dump.rdb
    local auth=(-a sekrit --no-auth-warning)
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd AUTH sekrit
cmd SET k v1
cmd GET k
sh redis-cli -p $PORT ${auth[*]} set k v2 > /dev/null && redis-cli -p $PORT ${auth[*]} debug populate 3000 > /dev/null && redis-cli -p $PORT ${auth[*]} save > /dev/null && $REDISCTL kill $REDIS_DIR
loop 6 100 cmd GET k
sh redis-server --bind 127.0.0.1 --port $PORT --dir $REDIS_DIR --dbfilename dump.rdb --save '' --appendonly no --requirepass sekrit --key-load-delay 1000 --loading-process-events-interval-bytes 1024 --daemonize yes --pidfile $REDIS_DIR/redis.pid --logfile $REDIS_DIR/redis.log
echo restarted
loop 120 50 cmd GET k
health
SCRIPT
    COOLDOWN=60 run client_under_shim -T -A < "$BATS_TEST_TMPDIR/script"
    show
    [ "$status" -eq 0 ]
    # Redis was loading for a while after the restart (3000 keys, 1 ms each)...
    grep -q 'DB loaded from disk' "$REDIS_DIR/redis.log"
    local live_ms
    live_ms=$(live_after restarted "str v2")
    echo "live ${live_ms} ms after the restart" >&2
    [ "$live_ms" -ge 1000 ]
    [ "$live_ms" -le $((3000 + 2000)) ]
    # ...the checks said down meanwhile (LOADING after AUTH; without AUTH
    # Redis answers NOAUTH, which means up, and the program would have met
    # LOADING itself and reopened the circuit)
    grep -qE '"health_checks":\{"up":1,"down":[1-9][0-9]*,' <<<"$output"
    none grep -E '^(err|NULL)' < <(sed -n '/^restarted/,$p' <<<"$output")
    [ "$(grep -c 'CLOSED -> OPEN' "$BATS_TEST_TMPDIR/stderr")" -eq 1 ]
    grep -q 'OPEN -> CLOSED (health check: Redis answers)' "$BATS_TEST_TMPDIR/stderr"
}

@test "CACHEKIT_HEALTH_CHECK_INTERVAL: a malformed value is named and the default (1 s) used" {
    start_redis
    kill_restart_script > "$BATS_TEST_TMPDIR/script"
    CACHEKIT_HEALTH_CHECK_INTERVAL=soon COOLDOWN=60 run client_under_shim -r -T -A < "$BATS_TEST_TMPDIR/script"
    show
    [ "$status" -eq 0 ]
    grep -q 'CACHEKIT_HEALTH_CHECK_INTERVAL' "$BATS_TEST_TMPDIR/stderr"
    [ "$(live_after restarted "str v2")" -le "$LIVE_WITHIN_MS" ]
}

@test "audit: a daemon forked while the check thread waits meets a second outage: its calls and its exit do not hang" {
    [[ "${CK_PRELOAD_FIRST:-}" != *libtsan* ]] || skip "ThreadSanitizer does not support new threads after a multi-threaded fork"
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd SET k v1
sh $REDISCTL kill $REDIS_DIR
loop 5 100 cmd GET k
sleep 1500
daemonize
pid
sh $REDISCTL start $REDIS_DIR $PORT
loop 25 100 cmd GET k
echo recovered
sh $REDISCTL kill $REDIS_DIR
loop 10 100 cmd GET k
echo child finished
SCRIPT
    # the parent's check thread waits between checks when the program
    # forks; the child's first signal to its own thread used to wait for
    # that waiter for ever (glibc's condition variable), in a call or at exit
    local out=$BATS_TEST_TMPDIR/out
    COOLDOWN=60 client_under_shim -A < "$BATS_TEST_TMPDIR/script" > "$out"
    eventually 20 grep -q '^child finished' "$out" || { cat "$out" "$BATS_TEST_TMPDIR/stderr" >&2; false; }
    local child
    child=$(sed -n 's/^pid \([0-9]*\).*/\1/p' "$out")
    [ -n "$child" ]
    eventually 5 test ! -e "/proc/$child"
    grep -q '^recovered' "$out"
}

@test "audit: an ACL user without +ping (PING refused with NOPERM, the program's commands served): the circuit closes within 1.5 s of the restart" {
    printf '%s\n' 'user default off' 'user app on >apppw ~* +get +set' > "$BATS_TEST_TMPDIR/users.acl"
    start_redis --aclfile "$BATS_TEST_TMPDIR/users.acl"
    local as_app="--user app --pass apppw --no-auth-warning"
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd AUTH app apppw
cmd SET k v1
cmd GET k
sh $REDISCTL kill $REDIS_DIR
echo killed
loop 6 100 cmd GET k
sh $REDISCTL start $REDIS_DIR $PORT --aclfile $BATS_TEST_TMPDIR/users.acl && redis-cli -p $PORT $as_app set k v2 > /dev/null
echo restarted
loop 40 50 cmd GET k
SCRIPT
    [ "$(redis-cli -p "$PORT" $as_app ping)" = "NOPERM this user has no permissions to run the 'ping' command" ]
    COOLDOWN=60 run client_under_shim -T -A < "$BATS_TEST_TMPDIR/script"
    show
    [ "$status" -eq 0 ]
    local live_ms
    live_ms=$(live_after restarted "str v2")
    echo "live ${live_ms} ms after the restart" >&2
    [ "$live_ms" -le "$LIVE_WITHIN_MS" ]
    grep -q 'OPEN -> CLOSED (health check: Redis answers)' "$BATS_TEST_TMPDIR/stderr"
}

@test "audit: an endpoint the check cannot reach (a descriptor the program connected to an abstract Unix socket): the program's probe after the cooldown recovers it" {
    start_redis
    local name="cachekit-test-$$-$RANDOM"
    PROXY_MODE=$BATS_TEST_TMPDIR/proxy-mode
    echo pass > "$PROXY_MODE"
    "$FAULTPROXY" -a "$name" -t "$PORT" -m "$PROXY_MODE" -d 300 &
    PROXY_PID=$!
    eventually 5 grep -q "@$name\$" /proc/net/unix
    kill_restart_script "connect-abstract $name" 60 > "$BATS_TEST_TMPDIR/script"
    # (a write to a Unix socket whose peer closed raises SIGPIPE, which a
    # program using one ignores, with or without the shim)
    COOLDOWN=1 run without_sigpipe client_under_shim -r -T -A < "$BATS_TEST_TMPDIR/script"
    show
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "connect ok" ]
    local live_ms
    live_ms=$(live_after restarted "str v2")
    echo "live ${live_ms} ms after the restart" >&2
    # the cooldown (1 s), or twice that after a probe met Redis still down
    [ "$live_ms" -le 4000 ]
    grep -q 'HALF_OPEN -> CLOSED (probe succeeded)' "$BATS_TEST_TMPDIR/stderr"
}

@test "audit: a second outage soon after the first (the calls between succeeded): live again within 1.5 s of the second restart" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd SET k v1
cmd GET k
sh $REDISCTL kill $REDIS_DIR
loop 6 100 cmd GET k
sh $REDISCTL start $REDIS_DIR $PORT && redis-cli -p $PORT set k v2 > /dev/null
echo first restart
loop 30 50 cmd GET k
sh $REDISCTL kill $REDIS_DIR
loop 6 100 cmd GET k
sh $REDISCTL start $REDIS_DIR $PORT && redis-cli -p $PORT set k v3 > /dev/null
echo second restart
loop 40 50 cmd GET k
SCRIPT
    # the second outage begins within one cooldown (10 s) of the check
    # closing the circuit: it is not "PING answers, the calls fail", for
    # calls succeeded in between, and must not wait the cooldown out
    COOLDOWN=10 run client_under_shim -r -T -A < "$BATS_TEST_TMPDIR/script"
    show
    [ "$status" -eq 0 ]
    local first_ms second_ms
    first_ms=$(live_after "first restart" "str v2")
    second_ms=$(live_after "second restart" "str v3")
    echo "live ${first_ms} ms after the first restart, ${second_ms} ms after the second" >&2
    [ "$first_ms" -le "$LIVE_WITHIN_MS" ]
    [ "$second_ms" -le "$LIVE_WITHIN_MS" ]
    [ "$(grep -c 'OPEN -> CLOSED (health check: Redis answers)' "$BATS_TEST_TMPDIR/stderr")" -eq 2 ]
}

@test "audit: a server that trickles its answer a byte at a time: a check is bounded in all (twice the socket timeout) and counts down" {
    start_redis
    start_proxy
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd SET k v1
cmd GET k
sh echo reset > $PROXY_MODE
loop 6 100 cmd GET k
sh echo trickle 700 > $PROXY_MODE
echo trickling
loop 160 50 cmd GET k
health
SCRIPT
    # +PONG and its CRLF, 7 bytes 0.7 s apart: every read gets a byte
    # within the 1 s socket timeout, the answer takes 4.9 s; a check must
    # give up after 2 s (before, it waited for the PONG and closed the
    # circuit on a server that could not answer in time)
    # (bounded: a client whose circuit closed on the trickling server would
    # take 5 s a call)
    run timeout 30 bash -c 'exec "$@" 2> "$0"' "$BATS_TEST_TMPDIR/stderr" env CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=3 \
        CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=60 CACHEKIT_SOCKET_TIMEOUT=1 LD_PRELOAD="$SHIM" \
        "$CLIENT" -p "$PROXY_PORT" -T -A < "$BATS_TEST_TMPDIR/script"
    show
    [ "$status" -eq 0 ]
    grep -q 'CLOSED -> OPEN' "$BATS_TEST_TMPDIR/stderr"
    grep -qE '"state":"OPEN".*"health_checks":\{"up":0,"down":[1-9]' <<<"$output"
    # while the check covers the circuit no program call will probe it
    grep -qE '"seconds_until_probe":null,.*"covering":true\},"shared":true\}' <<<"$output"
    none grep 'OPEN -> CLOSED' "$BATS_TEST_TMPDIR/stderr"
}

@test "review: a daemon forked while a check waits on a frozen Redis: the child's own checks and exit do not hang" {
    [[ "${CK_PRELOAD_FIRST:-}" != *libtsan* ]] || skip "ThreadSanitizer does not support new threads after a multi-threaded fork"
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd SET k v1
sh $REDISCTL freeze $REDIS_DIR
loop 5 100 cmd GET k
sleep 1300
daemonize
pid
loop 30 100 cmd GET k
sh $REDISCTL thaw $REDIS_DIR
loop 30 100 cmd GET k
echo child finished
SCRIPT
    # the parent's check waits up to 4 s on the frozen server when the
    # program forks: its deadline watch, listed with the deadline thread,
    # lies on the check thread's stack, which the child's own check thread
    # may be given
    local out=$BATS_TEST_TMPDIR/out
    COOLDOWN=60 CACHEKIT_SOCKET_TIMEOUT=2 client_under_shim -A < "$BATS_TEST_TMPDIR/script" > "$out"
    eventually 30 grep -q '^child finished' "$out" || { cat "$out" "$BATS_TEST_TMPDIR/stderr" >&2; false; }
    local child
    child=$(sed -n 's/^pid \([0-9]*\).*/\1/p' "$out")
    [ -n "$child" ]
    eventually 5 test ! -e "/proc/$child"
    grep -q '^str v1' < <(sed -n '/^pid/,$p' "$out")
}
