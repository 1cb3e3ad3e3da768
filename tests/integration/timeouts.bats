#!/usr/bin/env bats
# Timeouts a program "set" to nothing, and the cap on every timeout
# (issue 12, item 6): redisSetTimeout(c, {0, 0}) means no timeout, so the
# shim's CACHEKIT_SOCKET_TIMEOUT applies (varnish's VMOD calls it before
# every command: a frozen Redis would hang varnish, with or without the
# shim); CACHEKIT_SOCKET_TIMEOUT_MAX caps every timeout, the program's own
# included; a configured timeout below a microsecond is refused.

load helpers

@test "redisSetTimeout({0,0}) before every command: a frozen Redis is bounded by CACHEKIT_SOCKET_TIMEOUT (control: plain hiredis waits)" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
timeout 0
cmd PING
sh $REDISCTL freeze $REDIS_DIR
timeout 0
cmd GET a
SCRIPT
    run timeout 3 "$CLIENT" -T -p "$PORT" < "$BATS_TEST_TMPDIR/script"
    "$REDISCTL" thaw "$REDIS_DIR"
    [ "$status" -eq 124 ] # without the shim it waits until killed
    CACHEKIT_SOCKET_TIMEOUT=0.3 THRESHOLD=5 run client_under_shim -T < "$BATS_TEST_TMPDIR/script"
    "$REDISCTL" thaw "$REDIS_DIR"
    [ "$status" -eq 0 ]
    local last; last=$(tail -n 1 <<< "$output")
    [[ "$(reply_of "$last")" == NULL* ]]
    took "$last" 250 1500
}

@test "CACHEKIT_SOCKET_TIMEOUT_MAX caps the program's own longer timeout" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
timeout 10000
cmd PING
sh $REDISCTL freeze $REDIS_DIR
cmd GET a
SCRIPT
    CACHEKIT_SOCKET_TIMEOUT_MAX=0.3 THRESHOLD=5 run client_under_shim -T < "$BATS_TEST_TMPDIR/script"
    "$REDISCTL" thaw "$REDIS_DIR"
    [ "$status" -eq 0 ]
    local last; last=$(tail -n 1 <<< "$output")
    [[ "$(reply_of "$last")" == NULL* ]]
    took "$last" 250 1500
}

@test "a configured timeout below a microsecond is refused with a diagnostic (it would be no timeout at all)" {
    start_redis
    printf 'connect\ncmd PING\n' > "$BATS_TEST_TMPDIR/script"
    CACHEKIT_SOCKET_TIMEOUT=0.0000001 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    grep -q 'CACHEKIT_SOCKET_TIMEOUT="0.0000001"' "$BATS_TEST_TMPDIR/stderr"
    grep -q 'using the default 5' "$BATS_TEST_TMPDIR/stderr"
}

@test "log lines say a call timed out (not \"Resource temporarily unavailable\"); the program's errstr stays hiredis's" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd PING
sh $REDISCTL freeze $REDIS_DIR
cmd GET a
SCRIPT
    CACHEKIT_SOCKET_TIMEOUT=0.2 THRESHOLD=1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    "$REDISCTL" thaw "$REDIS_DIR"
    cat "$BATS_TEST_TMPDIR/stderr" >&2
    [ "$status" -eq 0 ]
    grep -q "circuit 127.0.0.1:$PORT: CLOSED -> OPEN (1 consecutive failures; last error: timed out)" \
        "$BATS_TEST_TMPDIR/stderr"
    none grep -i 'temporarily' "$BATS_TEST_TMPDIR/stderr"
    # what the program reads is what hiredis itself reports for a timeout
    [[ "$(tail -n 1 <<< "$output")" == "NULL Resource temporarily unavailable"* ]]
}
