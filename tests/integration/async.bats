#!/usr/bin/env bats
# The async API through real faults (shared/FAULTS.md F1, F2, F3, F10),
# with a libevent program and with a hand-written poll loop like
# Redis::Fast's (tests/apps/async_client.c, which sends GET k, GET of a
# never-read key and INCR counter every 50 ms and reconnects after a
# disconnect). Every callback fires exactly once and in order; while the
# circuit is open GET k gets the last good value at once and the rest nil;
# only commands lost with their connection get NULL; the loop is never
# blocked; the program recovers. Threshold 3, cooldown 1 s (at most 2 s),
# socket timeout 0.5 s. These run with CACHEKIT_OPEN_WRITES=nil (INCR gets
# nil while open); the last test runs the default, error.

load helpers

ASYNC_CLIENT=$CK_BUILD/tests/apps/async_client
BOUND_MS=1000   # the 0.5 s deadline, the deadline thread's tick, sanitizer slowness
INSTANT_MS=200  # an answer owed by the shim: the next turn of the loop
LATE_MS=300     # how late a tick of an event loop may run

start_async_client() {
    LOOP=$1
    OUT=$BATS_TEST_TMPDIR/out
    STOP=$BATS_TEST_TMPDIR/stop
    MARK=0
    env CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=3 CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT="${COOLDOWN:-1}" \
        CACHEKIT_OPEN_WRITES="${OPEN_WRITES:-nil}" \
        CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT_MAX="${COOLDOWN:-2}" CACHEKIT_SOCKET_TIMEOUT="${SOCKET_TIMEOUT:-0.5}" LD_PRELOAD="$SHIM" \
        "$ASYNC_CLIENT" -p "$PORT" -l "$1" -i 50 ${CLIENT_FLAGS:-} -f "$STOP" > "$OUT" 2> "$BATS_TEST_TMPDIR/stderr" &
    BACKGROUND_PID=$!
}

# Stops the client and checks what it checked itself: every callback
# exactly once and in order, the loop never late: an event loop never
# waits, a program that waits for its replies (the poll loop) waits no
# longer than the deadline.
finish_async_client() {
    touch "$STOP"
    local rc=0
    wait "$BACKGROUND_PID" || rc=$?
    BACKGROUND_PID=
    cat "$BATS_TEST_TMPDIR/stderr" >&2
    grep '^summary' "$OUT" >&2
    [ "$rc" -eq 0 ]
    grep -qE '^summary .* missing=0 duplicates=0 out_of_order=0 ' "$OUT"
    local late
    late=$(sed -n 's/^summary .*max_late_ms=\([0-9]*\).*/\1/p' "$OUT")
    [ "$late" -le "$([ "$LOOP" = poll ] && echo "$BOUND_MS" || echo "$LATE_MS")" ]
}

# late_write_as_without_the_shim EXPECTED [VAR=VALUE...] -- ARGS...:
# tests/apps/async_late_write with ARGS prints EXPECTED and exits 0, run
# without the shim (the control) and under it, both with the settings
# given (CACHEKIT_* count under the shim only) and with the library in
# SLOW, if set, preloaded (after the shim).
late_write_as_without_the_shim() {
    local expected=$1 settings=() extra=${SLOW:-} app=$CK_BUILD/tests/apps/async_late_write
    shift
    while [ "$1" != -- ]; do settings+=("$1"); shift; done
    shift
    run env "${settings[@]}" LD_PRELOAD="${extra:+${CK_PRELOAD_FIRST:+$CK_PRELOAD_FIRST }$extra}" "$app" "$@"
    [ "$status" -eq 0 ] || { echo "without the shim: status $status: $output" >&2; return 1; }
    assert_output_is "$expected"
    run env "${settings[@]}" LD_PRELOAD="$SHIM${extra:+ $extra}" "$app" "$@"
    [ "$status" -eq 0 ] || { echo "under the shim: status $status: $output" >&2; return 1; }
    assert_output_is "$expected"
}

# ms of a reply line.
ms_of() { sed -n 's/.* ms=\([0-9]*\)$/\1/p' <<< "$1"; }

# Every reply line in $1 matching REGEX came within MAX ms.
all_within() {
    local line ms
    while IFS= read -r line; do
        ms=$(ms_of "$line")
        [ "$ms" -le "$3" ] || { echo "too slow ($ms ms > $3): $line" >&2; return 1; }
    done < <(grep -E "$2" <<< "$1")
}

# Writes reported done are in Redis, and only they: the restarted server's
# counter equals the INCRs it answered.
writes_match() {
    local done_count
    done_count=$(since "$1" | grep -c 'INCR int:')
    [ "$(rcli get counter)" = "$done_count" ]
}

# fault_scenario LOOP START END: k read live, the fault started by the
# shell command START (evaluated then, when $REDIS_DIR is known) until GET k was answered 10 times from the circuit, ended
# by END; k changed, read live again. Checks what holds for every fault;
# $FAULT is the output during the fault, $RESUMED its last line before it ended.
fault_scenario() {
    start_redis
    rcli set k hello > /dev/null
    start_async_client "$1"
    wait_for 3 'GET str:hello'
    mark # before the fault: the client may see it before the command returns
    local started=$MARK
    eval "$2"
    wait_for 10 'GET str:hello'
    wait_for 10 'INCR nil'
    # marked before the fault ends: what the client sees once Redis is back
    # (a restarted Redis without k answers GET k nil for real) is after it
    mark
    RESUMED=$MARK
    eval "$3"
    rcli set k world > /dev/null
    wait_for 3 'GET str:world'
    finish_async_client

    FAULT=$(sed -n "$((started + 1)),${RESUMED}p" "$OUT")
    # the last good value, nil, or NULL for what was lost (and the last
    # live replies, from just before the fault)
    none grep -vE 'GET str:hello|GETNEW nil|INCR (nil|int:[0-9]+)|NULL' < <(grep -E '^reply' <<< "$FAULT")
    all_within "$FAULT" 'GET str:hello|GETNEW nil|INCR nil' "$INSTANT_MS"
    [ "$(grep -c 'CLOSED -> OPEN' "$BATS_TEST_TMPDIR/stderr")" -eq 1 ]
    grep -q 'HALF_OPEN -> CLOSED' "$BATS_TEST_TMPDIR/stderr"
}

outage_scenario() {
    # F2: killed under a running loop; then F1: stopped
    fault_scenario "$1" '"$REDISCTL" kill "$REDIS_DIR"' '"$REDISCTL" start "$REDIS_DIR" "$PORT"'
    local lost
    lost=$(grep -c 'NULL' <<< "$FAULT" || true)
    [ "$lost" -le 3 ] # one tick's commands were in flight at most
    # exactly threshold failures: the connection lost with replies awaited,
    # then refused connects, then the open circuit's placeholder (counted
    # from the last disconnect: a reconnect may still reach the dying
    # server, connect, and be reset with nothing awaited, which is no
    # failure, as CI found)
    local refused
    refused=$(awk '/^disconnect/ {n = 0} /^connect err/ {n++} /^connect ok/ && n > 0 {exit} END {print n + 0}' \
        <<< "$FAULT")
    # (shown only when the test fails)
    echo "connects refused before the placeholder: $refused; replies lost: $lost; the fault window:" >&2
    echo "$FAULT" >&2
    [ $((refused + (lost > 0 ? 1 : 0))) -eq 3 ]
    writes_match "$RESUMED"
}

@test "async F1/F2, libevent: Redis killed under the loop, stale value and nil, exactly-once callbacks, recovery" {
    outage_scenario libevent
}

@test "async F1/F2, own poll loop (Redis::Fast style): the same" {
    outage_scenario poll
}

@test "async F1/F2, hiredis 1.x REDIS_NO_AUTO_FREE_REPLIES: the program frees every reply, made-up ones too" {
    "$ASYNC_CLIENT" -F -f /dev/null -p 1 > /dev/null 2>&1 || [ $? -ne 77 ] || skip "hiredis 0.14 has no REDIS_NO_AUTO_FREE_REPLIES"
    # a double free or a leak fails the sanitized runs
    CLIENT_FLAGS=-F outage_scenario libevent
}

frozen_scenario() {
    fault_scenario "$1" '"$REDISCTL" freeze "$REDIS_DIR"' '"$REDISCTL" thaw "$REDIS_DIR"'
    grep -q 'NULL' <<< "$FAULT" # the calls in flight failed...
    all_within "$FAULT" 'NULL' "$BOUND_MS" # ...within the deadline
    grep -q 'no reply within the deadline' "$BATS_TEST_TMPDIR/stderr"
}

@test "async F3, libevent: frozen Redis, in-flight callbacks fail within the deadline, then stale, recovery" {
    frozen_scenario libevent
}

@test "async F3, own poll loop: the loop is not left waiting on a frozen Redis" {
    frozen_scenario poll
}

@test "async F10, libevent: Redis flapping every 0.7 s, exactly-once callbacks throughout, recovery" {
    start_redis
    rcli set k v0 > /dev/null
    start_async_client libevent
    wait_for 3 'GET str:v0'
    local round
    for round in 1 2 3 4; do
        "$REDISCTL" kill "$REDIS_DIR"
        sleep 0.7
        "$REDISCTL" start "$REDIS_DIR" "$PORT"
        rcli set k "v$round" > /dev/null
        sleep 0.7
    done
    mark
    rcli set k final > /dev/null
    wait_for 3 'GET str:final'
    finish_async_client
    none grep -vE 'GET str:(v[0-4]|final)|GET nil|GETNEW nil|INCR (nil|int:[0-9]+)|NULL' < <(grep -E '^reply' "$OUT")
}

@test "async, CACHEKIT_OPEN_WRITES=error (the default): a write while open fails as on a dead server, its callback gets NULL once, in order, the program reconnects and recovers" {
    start_redis
    rcli set k hello > /dev/null
    OPEN_WRITES=error start_async_client libevent
    wait_for 3 'GET str:hello'
    mark
    local started=$MARK
    "$REDISCTL" kill "$REDIS_DIR"
    wait_for 5 'disconnect err cachekit: circuit open for 127.0.0.1:'"$PORT"', write not sent'
    "$REDISCTL" start "$REDIS_DIR" "$PORT"
    mark
    local resumed=$MARK
    rcli set k world > /dev/null
    wait_for 3 'GET str:world'
    wait_for 3 'INCR int:'
    finish_async_client
    local fault; fault=$(sed -n "$((started + 1)),${resumed}p" "$OUT")
    # while open: the last good value and nil at once, and every INCR
    # NULL (never nil: the program learns it was not done)...
    none grep -E 'INCR nil' <<< "$fault"
    [ "$(grep -c 'GET str:hello' <<< "$fault")" -ge 5 ]
    all_within "$fault" 'GET str:hello|GETNEW nil' "$INSTANT_MS"
    # ...and what Redis answered is all it has
    writes_match "$resumed"
}

# The health check (on by default; the tests above pin it off, see
# helpers.bash): with a 60 s cooldown, only the check can bring the
# program back within the issue's 1.5 s.
health_checked_recovery() {
    start_redis
    rcli set k hello > /dev/null
    COOLDOWN=60 CACHEKIT_HEALTH_CHECK_INTERVAL=1 start_async_client "$1"
    wait_for 3 'GET str:hello'
    mark
    "$REDISCTL" kill "$REDIS_DIR"
    wait_for 3 'INCR nil' # the circuit is open
    "$REDISCTL" start "$REDIS_DIR" "$PORT"
    rcli set k world > /dev/null
    local restarted
    restarted=$(date +%s%N)
    mark
    wait_for 1 'GET str:world'
    local live_ms=$((($(date +%s%N) - restarted) / 1000000))
    echo "live ${live_ms} ms after the restart" >&2
    finish_async_client
    [ "$live_ms" -le 1500 ]
    grep -q 'OPEN -> CLOSED (health check: Redis answers)' "$BATS_TEST_TMPDIR/stderr"
    none grep 'HALF_OPEN' "$BATS_TEST_TMPDIR/stderr" # no program call probed
}

@test "async, health check (default 1 s), libevent: Redis killed and restarted, live within 1.5 s despite a 60 s cooldown, exactly-once callbacks" {
    health_checked_recovery libevent
}

@test "async, health check (default 1 s), own poll loop: the same" {
    health_checked_recovery poll
}

# The latency count of the endpoint in a metrics file.
latency_count() {
    awk -v want="$2" 'index($0, "cachekit_call_duration_seconds_count{") == 1 && index($0, want) {print $NF}' "$1"
}

@test "async calls are timed: a slow link (60 ms each way) opens the circuit as slow calls, the histogram counts them" {
    start_redis
    rcli set k hello > /dev/null
    start_proxy
    echo "delay 60" > "$PROXY_MODE"
    local metrics=$BATS_TEST_TMPDIR/metrics.prom
    PORT=$PROXY_PORT CACHEKIT_SLOW_CALL_THRESHOLD=0.05 CACHEKIT_METRICS_FILE=$metrics CACHEKIT_METRICS_INTERVAL=0.1 \
        start_async_client libevent
    # every reply comes (late), then the circuit opens on slow calls
    wait_for 3 'GET str:hello'
    eventually 10 grep -q 'CLOSED -> OPEN (3 consecutive failures; last error: slow call' "$BATS_TEST_TMPDIR/stderr" || { cat "$BATS_TEST_TMPDIR/stderr" "$OUT" | tail -20; false; }
    eventually 5 test -s "$metrics"
    local counted
    counted=$(latency_count "$metrics" "127.0.0.1:$PROXY_PORT")
    [ "${counted:-0}" -ge 3 ]
    finish_async_client
}

@test "async calls feed the adaptive timeout: once learnt, a reply later than it (not the 5 s socket timeout) ends the connection" {
    start_redis
    rcli set k hello > /dev/null
    start_proxy
    PORT=$PROXY_PORT SOCKET_TIMEOUT=5 CACHEKIT_ADAPTIVE_TIMEOUT=true start_async_client libevent
    # 64 fast calls teach it a timeout (its floor, 100 ms, on loopback)
    wait_for 25 'GET str:hello'
    mark
    echo "delay 400" > "$PROXY_MODE"
    eventually 3 grep -q 'no reply within the deadline' "$BATS_TEST_TMPDIR/stderr"
    finish_async_client
}

# The latency sum of the endpoint in a metrics file, in seconds.
latency_sum() {
    awk -v want="$2" 'index($0, "cachekit_call_duration_seconds_sum{") == 1 && index($0, want) {print $NF}' "$1"
}

@test "audit: an async call's latency ends when its reply arrives, not when the program's earlier callbacks are done" {
    start_redis
    rcli set k hello > /dev/null
    local metrics=$BATS_TEST_TMPDIR/metrics.prom
    # three commands a tick, each callback working 60 ms: the third reply
    # waits 120 ms in hiredis behind the two callbacks before it
    CLIENT_FLAGS="-i 250 -w 60" CACHEKIT_METRICS_FILE=$metrics CACHEKIT_METRICS_INTERVAL=0.1 \
        start_async_client libevent
    wait_for 4 'GET str:hello'
    finish_async_client
    local count sum
    count=$(latency_count "$metrics" "127.0.0.1:$PORT")
    sum=$(latency_sum "$metrics" "127.0.0.1:$PORT")
    [ "${count:-0}" -ge 9 ]
    # Redis on loopback answers in well under 20 ms; counted to the
    # callback, the mean would be above 60 ms
    awk -v s="$sum" -v c="$count" 'BEGIN {exit !(s / c < 0.02)}' || { echo "mean latency $sum / $count s" >&2; false; }
}

# CI's diagnostics (a summary missing: the program was gone): the deadline
# thread shut both sides of an async socket down, and an event loop that
# wrote before it read (it found the socket writable first) died of
# SIGPIPE. Only the reading side is shut down now, as for sync contexts.
@test "an async program that writes after the deadline ended its connection is not killed by SIGPIPE (control: plain hiredis)" {
    start_redis
    rcli set k hello > /dev/null
    local app=$CK_BUILD/tests/apps/async_late_write
    # -b: Redis frozen before the first command (no reply by the
    # deadline); without: its reply is in, unread (the program is slow,
    # not Redis: the connection is kept)
    for mode in -b ""; do
        run env LD_PRELOAD= "$app" $mode -p "$PORT" -P "$REDIS_DIR/redis.pid"
        [ "$status" -eq 0 ]
        assert_output_is "$(printf '%s\n' "reply str hello" "reply str hello" "exit ok")"
        run env CACHEKIT_SOCKET_TIMEOUT=0.2 LD_PRELOAD="$SHIM" "$app" $mode -p "$PORT" -P "$REDIS_DIR/redis.pid"
        [ "$status" -eq 0 ] # (141: SIGPIPE)
        output=$(grep -E '^(reply|exit)' <<<"$output") # (the shim's log lines aside)
        [ "$(tail -1 <<<"$output")" = "exit ok" ]
        # one answer per command: the reply, or NULL if the connection ended first
        [ "$(grep -cE '^reply (str hello|NULL)$' <<<"$output")" -eq 2 ]
        if [ -z "$mode" ]; then
            assert_output_is "$(printf '%s\n' "reply str hello" "reply str hello" "exit ok")"
        fi
    done
}

# CI: a program descheduled between its read of a reply and the callback
# (tests/tools/slow_read holds it 150 ms after each read) had its
# connection cut: the deadline, overdue while the reply waited unread,
# took the bytes gone from the socket for silence. Redis is thawed 300 ms
# after the second command, so its reply comes after that cut.
@test "an async program held between its read and its callback is not cut by the deadline (control: plain hiredis)" {
    start_redis
    rcli set k hello > /dev/null
    SLOW=$CK_BUILD/tests/tools/libslow_read.so late_write_as_without_the_shim \
        "$(printf '%s\n' "reply str hello" "reply str hello" "exit ok")" \
        CK_SLOW_READ_MS=150 CACHEKIT_SOCKET_TIMEOUT=0.5 -- -w 1000 -t 300 -p "$PORT" -P "$REDIS_DIR/redis.pid"
}

# Audit: the async deadline restarted on whole replies only: a reply that
# trickled in, read byte by byte by the program's loop, was cut, where a
# sync read timeout restarts on every byte. Bytes the kernel counts
# (TCP) restart it now; a gap longer than the timeout still ends it.
@test "an async reply that trickles in a byte at a time is not cut while its bytes keep coming; a longer gap is (control: plain hiredis)" {
    start_redis
    rcli set k hello > /dev/null
    start_proxy
    local served
    served=$(printf '%s\n' "reply str hello" "exit ok")
    # 11 bytes 150 ms apart: 1.5 s in all, three times the timeout
    echo "trickle 150" > "$PROXY_MODE"
    late_write_as_without_the_shim "$served" CACHEKIT_SOCKET_TIMEOUT=0.5 -- -c 0 -p "$PROXY_PORT"
    # the program busy past the deadline once (its first read held 0.6 s:
    # the deadline put off), then catching up: the bytes that came while it
    # was put off count (audit: they were taken for none, and it was cut)
    echo "trickle 100" > "$PROXY_MODE"
    SLOW=$CK_BUILD/tests/tools/libslow_read.so late_write_as_without_the_shim "$served" \
        CK_SLOW_READ_MS=600 CK_SLOW_READ_TIMES=1 CACHEKIT_SOCKET_TIMEOUT=0.5 -- -c 0 -p "$PROXY_PORT"
    local app=$CK_BUILD/tests/apps/async_late_write
    # a byte every 1.2 s: the program itself gives up after 3 s without
    # the shim; under it, the first gap ends the connection
    echo "trickle 1200" > "$PROXY_MODE"
    run env CACHEKIT_SOCKET_TIMEOUT=0.5 LD_PRELOAD="$SHIM" "$app" -c 0 -p "$PROXY_PORT"
    [ "$status" -eq 0 ]
    grep -q 'no reply within the deadline' <<<"$output"
    [ "$(grep -E '^(reply|exit)' <<<"$output")" = "$(printf '%s\n' "reply NULL" "exit ok")" ]
}

# Audit: the connect deadline ran until the program's loop first looked
# at a connect the kernel had long finished: a program busy with its own
# start-up found a healthy connection cut (and the circuit could open).
@test "a connection that is up is not cut by the connect deadline when the program's loop looks late (control: plain hiredis)" {
    start_redis
    rcli set k hello > /dev/null
    late_write_as_without_the_shim "$(printf '%s\n' "reply str hello" "exit ok")" \
        CACHEKIT_SOCKET_CONNECT_TIMEOUT=0.2 -- -c 500 -p "$PORT"
}

# Audit: the deadline ran from the command's queueing, not its writing:
# a program busy between the two (or a large write under way) was cut
# before its command could even reach Redis.
@test "a command queued but not written yet gets no deadline: the program busy before its loop writes it is served (control: plain hiredis)" {
    start_redis
    rcli set k hello > /dev/null
    late_write_as_without_the_shim "$(printf '%s\n' "reply str hello" "exit ok")" \
        CACHEKIT_SOCKET_TIMEOUT=0.3 -- -c 0 -q 800 -p "$PORT"
}

# Audit: a hiredis 1.x program that writes with redisAsyncWrite (public in
# async.h) left the shim believing its command unwritten: no deadline ever
# ran, and a frozen Redis held it as without the shim.
@test "hiredis 1.x: a program that writes with redisAsyncWrite is still cut off a frozen Redis (control: plain hiredis)" {
    start_redis
    rcli set k hello > /dev/null
    local app=$CK_BUILD/tests/apps/async_late_write
    run env LD_PRELOAD= "$app" -W -b -w 1000 -p "$PORT" -P "$REDIS_DIR/redis.pid"
    [ "$status" -ne 77 ] || skip "hiredis 0.14 has no redisAsyncWrite"
    [ "$status" -eq 0 ]
    assert_output_is "$(printf '%s\n' "reply str hello" "reply str hello" "exit ok")"
    run env CACHEKIT_SOCKET_TIMEOUT=0.3 LD_PRELOAD="$SHIM" "$app" -W -b -w 1000 -p "$PORT" -P "$REDIS_DIR/redis.pid"
    [ "$status" -eq 0 ]
    # the cut (replies that come after it may still be read before the
    # end: Linux keeps what arrives after a SHUT_RD; CI)
    grep -q 'no reply within the deadline' <<<"$output"
    output=$(grep -E '^(reply|exit)' <<<"$output")
    [ "$(tail -1 <<<"$output")" = "exit ok" ]
    [ "$(grep -cE '^reply (str hello|NULL)$' <<<"$output")" -eq 2 ]
}

# Audit: once the deadline thread had ended an async placeholder, the
# shim's own confirmation of a subscription, written into the other end
# of its socket pair, raised SIGPIPE in the program.
@test "a subscription sent on an async placeholder the shim has just ended is not answered with SIGPIPE (control: plain hiredis)" {
    local app=$CK_BUILD/tests/apps/async_late_write dead
    dead=$(ck_free_port)
    run env LD_PRELOAD= "$app" -S 700 -p "$dead"
    [ "$status" -eq 0 ]
    assert_output_is "$(printf '%s\n' "reply NULL" "exit ok")"
    run env CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=1 CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=0.3 \
        LD_PRELOAD="$SHIM" "$app" -S 700 -p "$dead"
    [ "$status" -eq 0 ] # (141: SIGPIPE)
    output=$(grep -E '^(reply|exit)' <<<"$output") # (the shim's log lines aside)
    assert_output_is "$(printf '%s\n' "reply NULL" "exit ok")"
}
