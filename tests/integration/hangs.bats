#!/usr/bin/env bats
# Redis hangs, crawls or breaks the stream (shared/FAULTS.md F3-F8): every
# call stays within the configured bound, the breaker opens after the
# threshold, later calls return at once, and the program recovers once
# the fault ends. Socket timeout 0.5 s, threshold 3, cooldown 1 s.

load helpers

BOUND_MS=1000   # the 0.5 s timeout, plus a reconnect, plus sanitizer slowness
INSTANT_MS=50   # an answer from the open circuit

# fault_scenario PORT START END [extra env]: the program reads k through
# the fault started by the shell command START and ended by END. The L1 is
# off: these check the breaker's answers (stale values: l1.bats).
fault_scenario() {
    local port=$1 start=$2 end=$3; shift 3
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd SET k v1
cmd GET k
sh $start
loop 8 0 cmd GET k
sh $end
sleep 1300
loop 3 0 cmd GET k
SCRIPT
    local assignment
    for assignment in "$@"; do export "${assignment?}"; done
    PORT=$port THRESHOLD=3 COOLDOWN=1 CACHEKIT_SOCKET_TIMEOUT=0.5 CACHEKIT_L1_ENABLED=false run client_under_shim -T \
        < "$BATS_TEST_TMPDIR/script"
    for i in "${!lines[@]}"; do echo "$i: ${lines[$i]}"; done >&2
    cat "$BATS_TEST_TMPDIR/stderr" >&2
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "connect ok" ]
    [ "$(reply_of "${lines[2]}")" = "str v1" ]
    local i
    # threshold calls fail, each within the bound
    for i in 3 4 5; do
        [[ "$(reply_of "${lines[$i]}")" =~ ^(NULL|${FAILED_REPLY:-NULL}) ]]
        took "${lines[$i]}" 0 "$BOUND_MS"
    done
    # then the circuit is open: nil at once
    for i in 6 7 8 9 10; do
        [ "$(reply_of "${lines[$i]}")" = "nil" ]
        took "${lines[$i]}" 0 "$INSTANT_MS"
    done
    # recovered
    for i in 11 12 13; do
        [ "$(reply_of "${lines[$i]}")" = "str v1" ]
    done
    [ "${#lines[@]}" -eq 14 ]
    [ "$(grep -c 'CLOSED -> OPEN' "$BATS_TEST_TMPDIR/stderr")" -eq 1 ]
    grep -q 'HALF_OPEN -> CLOSED' "$BATS_TEST_TMPDIR/stderr"
}

@test "F3 frozen (SIGSTOP): bounded calls, open, instant nil, recovery after SIGCONT" {
    start_redis
    fault_scenario "$PORT" "$REDISCTL freeze $REDIS_DIR" "$REDISCTL thaw $REDIS_DIR"
}

@test "F4 busy (DEBUG SLEEP): bounded calls, open, instant nil, recovery" {
    start_redis --enable-debug-command yes
    fault_scenario "$PORT" "redis-cli -p $PORT debug sleep 2 >/dev/null & sleep 0.2" \
        "redis-cli -p $PORT ping >/dev/null"
}

@test "F4 busy (CLIENT PAUSE ALL): bounded calls, open, instant nil, recovery" {
    start_redis
    fault_scenario "$PORT" "redis-cli -p $PORT client pause 2000 all >/dev/null" \
        "redis-cli -p $PORT ping >/dev/null"
}

@test "F5 blackhole (proxy that never answers): bounded calls, open, instant nil, recovery" {
    start_redis
    start_proxy
    fault_scenario "$PROXY_PORT" "echo blackhole > $PROXY_MODE" "echo pass > $PROXY_MODE"
}

@test "F6 slow link (proxy adds 150 ms each way): slow calls count as failures but return their value" {
    start_redis
    start_proxy
    FAILED_REPLY="str v1" fault_scenario "$PROXY_PORT" "echo delay 150 > $PROXY_MODE" "echo pass > $PROXY_MODE" \
        CACHEKIT_SLOW_CALL_THRESHOLD=0.1
    for i in 3 4 5; do
        [ "$(reply_of "${lines[$i]}")" = "str v1" ]
        took "${lines[$i]}" 100
    done
    grep -q 'last error: slow call' "$BATS_TEST_TMPDIR/stderr"
}

@test "F7 reset (proxy answers with TCP RST): bounded calls, open, instant nil, recovery" {
    start_redis
    start_proxy
    fault_scenario "$PROXY_PORT" "echo reset > $PROXY_MODE" "echo pass > $PROXY_MODE"
}

@test "F8 truncated reply (proxy cuts the reply in half): bounded calls, open, instant nil, recovery" {
    start_redis
    start_proxy
    fault_scenario "$PROXY_PORT" "echo truncate > $PROXY_MODE" "echo pass > $PROXY_MODE"
}

@test "without the shim, a frozen Redis hangs the same program (the fault is real)" {
    start_redis
    rcli set k v1 >/dev/null
    "$REDISCTL" freeze "$REDIS_DIR"
    printf 'connect\ncmd GET k\n' > "$BATS_TEST_TMPDIR/script"
    run timeout 3 "$CLIENT" -p "$PORT" < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 124 ] # still waiting when timeout(1) killed it
}

@test "blocking commands keep their own timeout: BLPOP 2 is not cut by a 0.3 s socket timeout" {
    start_redis
    printf 'connect\ncmd BLPOP nosuchlist 2\ncmd GET k\n' > "$BATS_TEST_TMPDIR/script"
    CACHEKIT_SOCKET_TIMEOUT=0.3 run client_under_shim -T < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [ "$(reply_of "${lines[1]}")" = "nil" ]
    took "${lines[1]}" 1900
    [ "$(reply_of "${lines[2]}")" = "nil" ]
    none grep 'CLOSED -> OPEN' "$BATS_TEST_TMPDIR/stderr"
}

@test "a timeout the program set wins over the shim's" {
    start_redis --enable-debug-command yes
    printf 'connect\ntimeout 3000\ncmd DEBUG SLEEP 1\ncmd PING\n' > "$BATS_TEST_TMPDIR/script"
    CACHEKIT_SOCKET_TIMEOUT=0.3 run client_under_shim -T < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [ "$(reply_of "${lines[2]}")" = "status OK" ]
    took "${lines[2]}" 900
    [ "$(reply_of "${lines[3]}")" = "status PONG" ]
}

@test "the shim's socket timeout applies when the program set none" {
    start_redis --enable-debug-command yes
    printf 'connect\ncmd DEBUG SLEEP 1\n' > "$BATS_TEST_TMPDIR/script"
    CACHEKIT_SOCKET_TIMEOUT=0.3 run client_under_shim -T < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [[ "$(reply_of "${lines[1]}")" =~ ^NULL ]]
    took "${lines[1]}" 250 900
}

@test "adaptive timeout: after fast calls, a busy server is cut at 100 ms, not at the 5 s socket timeout" {
    start_redis --enable-debug-command yes
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
repeat 200 cmd PING
sh redis-cli -p $PORT debug sleep 2 >/dev/null & sleep 0.2
cmd GET k
SCRIPT
    CACHEKIT_ADAPTIVE_TIMEOUT=on CACHEKIT_SOCKET_TIMEOUT=5 run client_under_shim -T < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [ "$(grep -c '^status PONG' <<<"$output")" -eq 200 ]
    last=${lines[${#lines[@]} - 1]}
    [[ "$(reply_of "$last")" =~ ^NULL ]]
    took "$last" 90 1000
}

@test "F3 with a program that reconnects after every error: connects to a frozen server do not count as health" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd SET k v1
sh $REDISCTL freeze $REDIS_DIR
loop 8 0 cmd GET k
sh $REDISCTL thaw $REDIS_DIR
sleep 1300
loop 2 0 cmd GET k
SCRIPT
    CACHEKIT_SOCKET_TIMEOUT=0.5 THRESHOLD=3 COOLDOWN=1 run client_under_shim -r -T < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    replies=$(grep -v '^connect' <<<"$output" | sed -e 's/ \[[0-9.]* ms\]$//' -e 's/^NULL .*/NULL/')
    [ "$replies" = "$(printf '%s\n' "status OK" NULL NULL NULL nil nil nil nil nil "str v1" "str v1")" ]
    [ "$(grep -c 'CLOSED -> OPEN' "$BATS_TEST_TMPDIR/stderr")" -eq 1 ]
}
