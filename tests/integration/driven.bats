#!/usr/bin/env bats
# Programs that drive the I/O themselves (shim/policy/driven.c): they
# append commands, then call redisBufferWrite, redisBufferRead and
# redisGetReplyFromReader in a loop of their own, as Ruby's hiredis driver
# does. The scripted client's `drive` is that loop in C (on a non-blocking
# context from `connect-nb`, as the driver connects); Debian's ruby-hiredis
# runs tests/apps/hiredis_rb_loop.rb. Every run has a control without the
# shim.

load helpers

RB_LOOP=$CK_ROOT/tests/apps/hiredis_rb_loop.rb

# EXTRA_PRELOAD: a library preloaded into both runs (after the shim).
plain_client() {
    env ${EXTRA_PRELOAD:+LD_PRELOAD="${CK_PRELOAD_FIRST:+$CK_PRELOAD_FIRST }$EXTRA_PRELOAD"} \
        "$CLIENT" -p "$PORT" "$@" 2>/dev/null
}

# The client under the shim (helpers.bash's client_under_shim), with a
# 0.3 s socket timeout, ended after 20 s if it hangs.
bounded_client() {
    timeout 20 env CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD="${THRESHOLD:-2}" \
        CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT="${COOLDOWN:-30}" CACHEKIT_SOCKET_TIMEOUT=0.3 \
        LD_PRELOAD="$SHIM${EXTRA_PRELOAD:+ $EXTRA_PRELOAD}" "$CLIENT" -p "$PORT" 2> "$BATS_TEST_TMPDIR/stderr"
}

# kill_script: the driver-style program through a kill and a restart of
# the test's server.
kill_script() {
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect-nb
drive SET k v1
drive GET k
sh $REDISCTL kill $REDIS_DIR
drive GET k
connect-nb
drive GET k
echo open
connect-nb
drive GET k
drive GET missing
drive SET k v2
echo restart
sh $REDISCTL start $REDIS_DIR $PORT
sleep 400
connect-nb
connect-nb
drive SET k v3
drive GET k
SCRIPT
}

@test "driver style through a kill: breaker, stale value, refused write, then live again" {
    start_redis
    kill_script
    run plain_client < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    # without the shim: every call while Redis is down is an error
    [ "$(sed -n '/^open$/,/^restart$/p' <<<"$output" | grep -c '^NULL ')" -eq 3 ]
    [ "$(tail -2 <<<"$output")" = "$(printf '%s\n' "status OK" "str v3")" ]
    "$REDISCTL" kill "$REDIS_DIR"
    start_redis
    kill_script
    THRESHOLD=2 COOLDOWN=0.3 run bounded_client < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    grep -q "CLOSED -> OPEN (2 consecutive failures" "$BATS_TEST_TMPDIR/stderr"
    # while open: a placeholder it can wait on; the read gets its last good
    # value, the unknown key nil, the write the dead server's error
    assert_output_is "$(printf '%s\n' "connect ok" "status OK" "str v1" "NULL Server closed the connection" \
        "connect ok" "NULL Connection refused" open "connect ok" "str v1" nil \
        "NULL cachekit: circuit open for 127.0.0.1:$PORT, write not sent" restart \
        "connect ok" "connect ok" "status OK" "str v3")"
}

@test "driver style against a frozen server: each wait bounded by CACHEKIT_SOCKET_TIMEOUT, then answered at once" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect-nb
drive SET k v1
drive GET k
sh $REDISCTL freeze $REDIS_DIR
drive GET k
connect-nb
drive GET k
connect-nb
drive GET k
drive SET k v2
SCRIPT
    # without the shim the program waits for ever (its poll has no
    # timeout): still waiting after 1.5 s, when the shim's run is over
    run timeout 1.5 "$CLIENT" -p "$PORT" < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 124 ]
    [ "$output" = "$(printf '%s\n' "connect ok" "status OK" "str v1")" ]
    "$REDISCTL" thaw "$REDIS_DIR"
    run bounded_client < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    grep -q "no reply within the deadline (CACHEKIT_SOCKET_TIMEOUT)" "$BATS_TEST_TMPDIR/stderr"
    grep -q "CLOSED -> OPEN (2 consecutive failures; last error: no reply within CACHEKIT_SOCKET_TIMEOUT)" \
        "$BATS_TEST_TMPDIR/stderr"
    assert_output_is "$(printf '%s\n' "connect ok" "status OK" "str v1" "NULL Server closed the connection" \
        "connect ok" "NULL Server closed the connection" "connect ok" "str v1" \
        "NULL cachekit: circuit open for 127.0.0.1:$PORT, write not sent")"
}

@test "redisGetReply and the reader's calls take replies from one queue, in order, open or closed" {
    start_redis
    rcli mset a A b B c C >/dev/null
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect-nb
append GET a
append GET b
append GET c
append GET a
nb-get
drive-read
nb-get
drive-read
sh $REDISCTL kill $REDIS_DIR
drive GET a
connect-nb
append GET a
append GET missing
append GET b
append SET x 1
drive-read
nb-get
drive-read
nb-get
drive-read
SCRIPT
    # the control: the closed half (up to the kill) without the shim
    sed '/kill/,$d' "$BATS_TEST_TMPDIR/script" > "$BATS_TEST_TMPDIR/closed"
    run timeout 20 "$CLIENT" -p "$PORT" < "$BATS_TEST_TMPDIR/closed"
    [ "$status" -eq 0 ]
    local control=$output
    [ "$(wc -l <<<"$control")" -eq 9 ]
    THRESHOLD=1 run bounded_client < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [ "$(head -n 9 <<<"$output")" = "$control" ]
    assert_output_is "$(printf '%s\n' "connect ok" "append ok" "append ok" "append ok" "append ok" \
        "str A" "str B" "str C" "str A" "NULL Server closed the connection" "connect ok" \
        "append ok" "append ok" "append ok" "append ok" "str A" nil "str B" \
        "NULL cachekit: circuit open for 127.0.0.1:$PORT, write not sent" \
        "NULL cachekit: circuit open for 127.0.0.1:$PORT, write not sent")"
}

# rb_loop ROUNDS ACTIONS...: Debian's ruby-hiredis program, under the shim
# when SHIMMED=1; lines in $output, stderr in $BATS_TEST_TMPDIR/stderr.
rb_loop() {
    local preload=()
    [ "${SHIMMED:-0}" = 1 ] && preload=(LD_PRELOAD="$SHIM")
    rcli set k value >/dev/null
    # the product's health check (helpers.bash turns it off for the older
    # suites) brings the circuit back once Redis answers
    env CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=3 CACHEKIT_SOCKET_TIMEOUT=0.3 CACHEKIT_HEALTH_CHECK_INTERVAL=0.2 \
        "${preload[@]}" \
        timeout -k 2 "${RB_TIMEOUT:-60}" ruby "$RB_LOOP" "$PORT" "$@" 2> "$BATS_TEST_TMPDIR/stderr"
}

# rounds FROM TO: the lines of rounds FROM..TO-1 (action lines left out).
rounds() { awk -v a="$1" -v b="$2" '$1 >= a && $1 < b && $2 != "action"' <<<"$output"; }

# outage_then_live VALUE: through rounds 10-39 (Redis away) reads answered
# with the last good value, no write reported done, nothing else than
# those and the dead server's errors; rounds 52-59 live again: VALUE read,
# the writes done.
outage_then_live() {
    [ "$(rounds 10 40 | grep -c ' get "value"')" -ge 5 ]
    none grep ' set "OK"' <(rounds 10 40)
    none grep -v ' get "value"\| error Errno::ECONNREFUSED\| error Errno::ECONNRESET' <(rounds 10 40)
    [ "$(rounds 52 60 | grep -c " get $1")" -eq 8 ]
    [ "$(rounds 52 60 | grep -c ' set "OK"')" -eq 2 ]
}

# The script's run under the shim prints what it prints without it, and
# no deadline fired (Redis is healthy throughout).
same_as_without_the_shim_no_deadline() {
    run plain_client < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    local control=$output
    run bounded_client < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [ "$output" = "$control" ]
    none grep 'no reply within' "$BATS_TEST_TMPDIR/stderr"
}

need_ruby_hiredis() {
    [ -z "${CK_PROGRAMS_SKIP:-}" ] || skip "$CK_PROGRAMS_SKIP"
    ruby -rhiredis -e 1 || skip "Debian's ruby-hiredis is not installed"
}

@test "Ruby's hiredis driver through a kill and restart: stale values, no write reported done, live again" {
    need_ruby_hiredis
    start_redis
    local kill="10=$REDISCTL kill $REDIS_DIR" restart
    restart="40=$REDISCTL start $REDIS_DIR $PORT && redis-cli -p $PORT set k v2 >/dev/null"
    run rb_loop 60 0.05 "$kill" "$restart"
    [ "$status" -eq 0 ]
    # control: every round while killed is an error
    [ "$(rounds 10 40 | grep -c ' error ')" -eq 30 ]
    rounds 59 60 | grep -q '^59 get "v2" \['
    "$REDISCTL" kill "$REDIS_DIR"
    start_redis
    restart="40=$REDISCTL start $REDIS_DIR $PORT && redis-cli -p $PORT set k v2 >/dev/null"
    SHIMMED=1 run rb_loop 60 0.05 "10=$REDISCTL kill $REDIS_DIR" "$restart"
    [ "$status" -eq 0 ]
    grep -q "CLOSED -> OPEN" "$BATS_TEST_TMPDIR/stderr"
    outage_then_live '"v2"'
}

@test "Ruby's hiredis driver against a frozen server: bounded, then stale values, live after the thaw" {
    need_ruby_hiredis
    start_redis
    # control: the driver waits for ever on a raw connection (no timeout set)
    RB_TIMEOUT=2 run rb_loop 40 0.05 "10=$REDISCTL freeze $REDIS_DIR"
    [ "$status" -eq 124 ]
    [ "$(rounds 10 40)" = "" ]
    "$REDISCTL" thaw "$REDIS_DIR"
    "$REDISCTL" kill "$REDIS_DIR"
    start_redis
    SHIMMED=1 run rb_loop 60 0.05 "10=$REDISCTL freeze $REDIS_DIR" "40=$REDISCTL thaw $REDIS_DIR"
    [ "$status" -eq 0 ]
    grep -q "CLOSED -> OPEN (3 consecutive failures; last error: no reply within CACHEKIT_SOCKET_TIMEOUT)" \
        "$BATS_TEST_TMPDIR/stderr"
    # each wait ends: every round of the freeze has its line
    [ "$(rounds 10 40 | wc -l)" -eq 30 ]
    outage_then_live '"value"'
}

@test "audit: a reply read through redisGetReply ends its deadline: an idle connection is never shut down (no SIGPIPE at the next write)" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect-nb
append GET a
nb-get
sleep 600
append GET a
nb-get
echo end
SCRIPT
    same_as_without_the_shim_no_deadline
}

@test "audit: a program slow to read replies that came is not cut off by the deadline" {
    start_redis
    rcli mset a 1 b 2 >/dev/null
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect-nb
append GET a
append GET b
flush
sleep 600
drive-read
drive-read
drive GET a
SCRIPT
    same_as_without_the_shim_no_deadline
}

# CI: a program descheduled between its read and the reply the bytes make
# (tests/tools/slow_read holds it 150 ms after each read) had its
# connection cut: the deadline took the bytes gone from the socket for
# silence. Then a program that waits for readability before it asks its
# reader for a reply already there (plain hiredis waits out its poll).
@test "a program held after its read, or waiting while its reply is in its reader, is not cut by the deadline" {
    start_redis
    rcli mset a 1 b 2 >/dev/null
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect-nb
append GET a
append GET b
flush
sleep 600
poll-read
poll-read 700
drive-read
drive GET a
SCRIPT
    CK_SLOW_READ_MS=150 EXTRA_PRELOAD=$CK_BUILD/tests/tools/libslow_read.so same_as_without_the_shim_no_deadline
    assert_output_is "$(printf '%s\n' "connect ok" "append ok" "append ok" "flush ok" "str 1" "poll timeout" "str 2" "str 1")"
    # the same through redisGetReply, which takes from the reader only on
    # a non-blocking context; the program works while reply 2 waits there
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect-nb
append GET a
append GET b
flush
sleep 400
fill
get
sleep 700
get
drive GET a
SCRIPT
    CK_SLOW_READ_MS=150 EXTRA_PRELOAD=$CK_BUILD/tests/tools/libslow_read.so same_as_without_the_shim_no_deadline
    assert_output_is "$(printf '%s\n' "connect ok" "append ok" "append ok" "flush ok" "fill ok" "str 1" "str 2" "str 1")"
}

# Audit: the link stalled with a whole reply and the start of the next in
# the reader; once the program took the first, the deadline waited for
# its next call to the reader, which a program that polls first never
# makes. The proxy trickles (10 ms a byte), then is stopped.
@test "audit: a stall mid-reply is cut after the program took the whole reply before it (control: plain hiredis)" {
    start_redis
    rcli set a x > /dev/null
    rcli set b "$(head -c 1000 /dev/zero | tr '\0' y)" > /dev/null
    start_proxy
    echo "trickle 10" > "$PROXY_MODE"
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect-nb
append GET a
append GET b
flush
sleep 250
sh kill -STOP $PROXY_PID
sleep 100
fill
get
poll-read 2000
SCRIPT
    run "$CLIENT" -p "$PROXY_PORT" < "$BATS_TEST_TMPDIR/script"
    kill -CONT "$PROXY_PID"
    [ "$status" -eq 0 ]
    assert_output_is "$(printf '%s\n' "connect ok" "append ok" "append ok" "flush ok" "fill ok" "str x" "poll timeout")"
    PORT=$PROXY_PORT run bounded_client < "$BATS_TEST_TMPDIR/script"
    kill -CONT "$PROXY_PID"
    [ "$status" -eq 0 ]
    grep -q "no reply within the deadline (CACHEKIT_SOCKET_TIMEOUT)" "$BATS_TEST_TMPDIR/stderr"
    assert_output_is "$(printf '%s\n' "connect ok" "append ok" "append ok" "flush ok" "fill ok" "str x" \
        "NULL Server closed the connection")"
}

# Audit: taking a reply re-armed the deadline for the next command, still
# unwritten in hiredis's buffer: the program working before it flushed
# was cut before its command reached Redis.
@test "audit: a command appended but not flushed gets no deadline while the program works (control: plain hiredis)" {
    start_redis
    rcli mset a 1 b 2 >/dev/null
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect-nb
append GET a
flush
append GET b
poll-read
sleep 700
flush
poll-read
SCRIPT
    same_as_without_the_shim_no_deadline
    assert_output_is "$(printf '%s\n' "connect ok" "append ok" "flush ok" "append ok" "str 1" "flush ok" "str 2")"
}

# Audit: with its next command appended and not flushed, a program's
# deadline was off while a reply stalled mid-way (the reply under way says
# its command went out). The proxy trickles 200 KB a byte per ms, then is
# stopped.
@test "audit: a reply stalled mid-way is cut though the next command waits unflushed (control: plain hiredis)" {
    start_redis
    head -c 200000 /dev/zero | tr '\0' y | rcli -x set big > /dev/null
    start_proxy
    echo "trickle 1" > "$PROXY_MODE"
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect-nb
append GET big
flush
append GET b
sleep 300
sh kill -STOP $PROXY_PID
poll-read 2000
SCRIPT
    run "$CLIENT" -p "$PROXY_PORT" < "$BATS_TEST_TMPDIR/script"
    kill -CONT "$PROXY_PID"
    [ "$status" -eq 0 ]
    assert_output_is "$(printf '%s\n' "connect ok" "append ok" "flush ok" "append ok" "poll timeout")"
    PORT=$PROXY_PORT run bounded_client < "$BATS_TEST_TMPDIR/script"
    kill -CONT "$PROXY_PID"
    [ "$status" -eq 0 ]
    grep -q "no reply within the deadline (CACHEKIT_SOCKET_TIMEOUT)" "$BATS_TEST_TMPDIR/stderr"
    assert_output_is "$(printf '%s\n' "connect ok" "append ok" "flush ok" "append ok" "NULL Server closed the connection")"
}

# Audit: every read re-armed the deadline, those that found nothing too:
# a program that polls briefly and reads at each wake-up was never cut
# off a frozen Redis.
@test "audit: reads that find nothing do not put the deadline off: a frozen Redis is cut (control: plain hiredis)" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect-nb
sh $REDISCTL freeze $REDIS_DIR
append GET a
flush
loop 12 100 fill
SCRIPT
    run "$CLIENT" -p "$PORT" < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [ "$(grep -c '^fill ok$' <<<"$output")" -eq 12 ]
    "$REDISCTL" thaw "$REDIS_DIR"
    run bounded_client < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    grep -q "no reply within the deadline (CACHEKIT_SOCKET_TIMEOUT)" "$BATS_TEST_TMPDIR/stderr"
    grep -q '^fill failed$' <<<"$output"
}

@test "audit: a program that polls for readability first gets the open circuit's answers on a placeholder" {
    start_redis
    rcli set k v >/dev/null
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect-nb
drive GET k
sh $REDISCTL kill $REDIS_DIR
drive GET k
connect-nb
append GET k
append GET missing
flush
poll-read
poll-read
append SET k 2
flush
poll-read
SCRIPT
    THRESHOLD=1 run bounded_client < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    assert_output_is "$(printf '%s\n' "connect ok" "str v" "NULL Server closed the connection" "connect ok" \
        "append ok" "append ok" "flush ok" "str v" nil "append ok" "flush ok" \
        "NULL cachekit: circuit open for 127.0.0.1:$PORT, write not sent")"
}

@test "audit: with its own reply functions, a read through redisGetReply never leaves an older value for the outage" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect-nb
own-replies
drive SET k v1
drive GET k
sh redis-cli -p $PORT set k v2 >/dev/null
append GET k
nb-get
sh $REDISCTL kill $REDIS_DIR
drive GET k
connect-nb
own-replies
drive GET k
SCRIPT
    THRESHOLD=1 run bounded_client < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    # v2 was read through redisGetReply, unseen by the shim: the L1's v1
    # must not be served (nil: nothing kept)
    assert_output_is "$(printf '%s\n' "connect ok" "own-replies ok" "status OK" "str v1" "append ok" "str v2" \
        "NULL Server closed the connection" "connect ok" "own-replies ok" nil)"
}
