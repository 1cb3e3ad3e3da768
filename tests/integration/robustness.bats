#!/usr/bin/env bats
# Bad input never stops the program: malformed CACHEKIT_* values, a NULL
# context; and the shim writes nothing to stdout, one line per problem to
# stderr.

load helpers

@test "a malformed setting gets one stderr line naming it, and its default is used" {
    start_redis
    printf 'connect\nsh %s kill %s\nrepeat 6 cmd GET k\n' "$REDISCTL" "$REDIS_DIR" > "$BATS_TEST_TMPDIR/script"
    CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=lots \
        LD_PRELOAD="$SHIM" "$CLIENT" -p "$PORT" < "$BATS_TEST_TMPDIR/script" \
        > "$BATS_TEST_TMPDIR/stdout" 2> "$BATS_TEST_TMPDIR/stderr"
    grep -c 'CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD="lots" is not valid' "$BATS_TEST_TMPDIR/stderr"
    [ "$(grep -c 'CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD' "$BATS_TEST_TMPDIR/stderr")" -eq 1 ]
    grep -q 'using the default 5' "$BATS_TEST_TMPDIR/stderr"
    # the default threshold applies: five errors, then nil
    run sed 's/^NULL .*/NULL/' "$BATS_TEST_TMPDIR/stdout"
    assert_output_is "$(printf '%s\n' "connect ok" NULL NULL NULL NULL NULL nil)"
}

@test "every malformed setting is reported, the program runs on" {
    start_redis
    rcli set k v >/dev/null
    printf 'connect\ncmd GET k\n' > "$BATS_TEST_TMPDIR/script"
    CACHEKIT_CIRCUIT_BREAKER_ENABLED=perhaps CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=-4 \
        CACHEKIT_LOG_LEVEL=chatty LD_PRELOAD="$SHIM" "$CLIENT" -p "$PORT" < "$BATS_TEST_TMPDIR/script" \
        > "$BATS_TEST_TMPDIR/stdout" 2> "$BATS_TEST_TMPDIR/stderr"
    [ "$(cat "$BATS_TEST_TMPDIR/stdout")" = "$(printf 'connect ok\nstr v')" ]
    [ "$(wc -l < "$BATS_TEST_TMPDIR/stderr")" -eq 3 ]
    grep -q 'CACHEKIT_CIRCUIT_BREAKER_ENABLED="perhaps" is not valid.*using the default true' "$BATS_TEST_TMPDIR/stderr"
    grep -q 'CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT="-4" is not valid.*using the default 30' "$BATS_TEST_TMPDIR/stderr"
    grep -q 'CACHEKIT_LOG_LEVEL="chatty" is not valid.*using the default info' "$BATS_TEST_TMPDIR/stderr"
}

@test "a NULL context gets an error and a diagnostic instead of a crash" {
    printf 'null-context\nnull-context\n' > "$BATS_TEST_TMPDIR/script"
    LD_PRELOAD="$SHIM" "$CLIENT" < "$BATS_TEST_TMPDIR/script" \
        > "$BATS_TEST_TMPDIR/stdout" 2> "$BATS_TEST_TMPDIR/stderr"
    [ "$(cat "$BATS_TEST_TMPDIR/stdout")" = "$(printf 'null-context NULL\nnull-context NULL')" ]
    [ "$(grep -c 'redisCommand called with a NULL context' "$BATS_TEST_TMPDIR/stderr")" -eq 1 ]
}

@test "an unknown command gets Redis's own error and one diagnostic; it invalidates the L1" {
    start_redis
    printf 'connect\ncmd SET k v\ncmd GET k\ncmd NOSUCHCMD x\ncmd NOSUCHCMD y\nsh %s kill %s\ncmd GET k\n' \
        "$REDISCTL" "$REDIS_DIR" > "$BATS_TEST_TMPDIR/script"
    THRESHOLD=1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [[ "${lines[3]}" =~ ^"err ERR unknown command" ]]
    [ "$(grep -c 'unknown command "NOSUCHCMD"' "$BATS_TEST_TMPDIR/stderr")" -eq 1 ]
    # the unknown command may have written anything: k is not served stale
    [[ "${lines[5]}" =~ ^NULL ]]
}

@test "with the breaker disabled the program sees plain hiredis behaviour" {
    start_redis
    printf 'connect\nsh %s kill %s\nrepeat 8 cmd GET k\nconnect\n' "$REDISCTL" "$REDIS_DIR" > "$BATS_TEST_TMPDIR/script"
    CACHEKIT_CIRCUIT_BREAKER_ENABLED=false THRESHOLD=1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [ "$(grep -c '^NULL ' <<<"$output")" -eq 8 ]
    none grep '^nil$' <<<"$output"
    [ "${lines[9]}" = "connect failed: Connection refused" ]
}

@test "the shim prints nothing on stdout, even at debug level through an outage" {
    start_redis
    printf 'connect\nsh %s kill %s\nrepeat 6 cmd GET k\n' "$REDISCTL" "$REDIS_DIR" > "$BATS_TEST_TMPDIR/script"
    CACHEKIT_LOG_LEVEL=debug THRESHOLD=2 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    none grep -v -E '^(connect ok|NULL .*|nil)$' <<<"$output"
    grep -q 'debug: hiredis .* ABI found' "$BATS_TEST_TMPDIR/stderr"
    grep -q 'CLOSED -> OPEN' "$BATS_TEST_TMPDIR/stderr"
}

@test "an unknown command's name reaches the log only as a short escaped prefix, on one line; the refusal's errstr holds none of it" {
    start_redis
    # a name of 70 bytes with a line feed and a terminal escape in it
    local name='EVIL\nNAME\x1b[31m' i
    for ((i = 0; i < 56; i++)); do name+=x; done
    {
        echo connect
        echo "raw *2\\r\\n\$70\\r\\n$name\\r\\n\$1\\r\\nk\\r\\n"
        echo get
        echo "sh $REDISCTL kill $REDIS_DIR"
        echo "cmd GET k"
        echo "raw *2\\r\\n\$70\\r\\n$name\\r\\n\$1\\r\\nk\\r\\n"
        echo get
    } > "$BATS_TEST_TMPDIR/script"
    THRESHOLD=1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    cat "$BATS_TEST_TMPDIR/stderr" >&2
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "${lines[2]}" == "err ERR unknown command"* ]] # Redis's own answer, untouched
    grep -qF 'unknown command "EVIL\x0aNAME\x1b[31mxxxxxxxxxx..." (reported once)' "$BATS_TEST_TMPDIR/stderr"
    none grep -a '^NAME' "$BATS_TEST_TMPDIR/stderr" # no line starts inside the name
    none grep -a $'\x1b' "$BATS_TEST_TMPDIR/stderr"
    # while open the unlisted command is refused as a write: a short, stable errstr
    [ "${lines[5]}" = "NULL cachekit: circuit open for 127.0.0.1:$PORT, write not sent" ]
}

@test "audit: an endpoint named with a line feed and a terminal escape (a Unix socket path) is logged escaped, on one line" {
    local T=$BATS_TEST_TMPDIR
    local path=$'/nonexistent/x\nFAKE cachekit[1]: error: injected \033[31mRED.sock'
    printf 'connect-unix\ncmd GET a\n' > "$T/script"
    PORT=0 THRESHOLD=1 run client_under_shim -s "$path" < "$T/script"
    cat "$T/stderr" >&2
    [ "$status" -eq 0 ]
    grep -qF 'circuit unix:/nonexistent/x\x0aFAKE cachekit[1]: error: injected \x1b[31mRED.sock: CLOSED -> OPEN' "$T/stderr"
    none grep -a '^FAKE' "$T/stderr"
    none grep -a $'\x1b' "$T/stderr"
}
