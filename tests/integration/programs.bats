#!/usr/bin/env bats
# Unmodified programs from Debian's packages, on Debian's hiredis 0.14.1,
# under the shim: Perl's Redis::Fast (its own poll loop over the async
# API) and webdis (libevent). Redis is stopped under them: they keep
# answering with the last good value, then with live values once it is
# back. Threshold 3, cooldown 1 s (at most 2 s).

load helpers

# (LSAN_OPTIONS only matters to the sanitized runs: perl leaks by design)
SHIM_ENV=(LSAN_OPTIONS=suppressions=$BATS_TEST_DIRNAME/perl.supp
          CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=3 CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=1
          CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT_MAX=2)

setup() {
    # the programs link the system's hiredis: one run (0.14.1) is enough
    [ -z "${CK_PROGRAMS_SKIP:-}" ] || skip "$CK_PROGRAMS_SKIP"
    OUT=$BATS_TEST_TMPDIR/out
    STOP=$BATS_TEST_TMPDIR/stop
    MARK=0
    touch "$OUT"
}

restart_with() { # restart_with VALUE: the same server back, k set to VALUE
    "$REDISCTL" start "$REDIS_DIR" "$PORT"
    rcli set k "$1" > /dev/null
}

@test "Redis::Fast: GET keeps returning the last good value while Redis is stopped, live values after" {
    start_redis
    rcli set k hello > /dev/null
    env "${SHIM_ENV[@]}" LD_PRELOAD="$SHIM" perl "$CK_ROOT/tests/apps/redis_fast_loop.pl" "$PORT" k "$STOP" \
        > "$OUT" 2> "$BATS_TEST_TMPDIR/stderr" &
    BACKGROUND_PID=$!
    wait_for 3 '^value hello$'
    mark
    local stopped=$MARK
    "$REDISCTL" kill "$REDIS_DIR"
    wait_for 20 '^value hello$'
    mark
    local restarted=$MARK
    restart_with world
    wait_for 3 '^value world$'
    touch "$STOP"
    wait "$BACKGROUND_PID"
    BACKGROUND_PID=
    cat "$BATS_TEST_TMPDIR/stderr" >&2
    # not one error or nil while Redis was down: Redis::Fast's own
    # reconnects met the open circuit, which answered
    sed -n "$((stopped + 1)),${restarted}p" "$OUT" | grep -v '^value hello$' | sort | uniq -c >&2 || true
    [ "$(sed -n "$((stopped + 1)),${restarted}p" "$OUT" | grep -vc '^value hello$')" -eq 0 ]
    grep -q 'CLOSED -> OPEN' "$BATS_TEST_TMPDIR/stderr"
    grep -q 'HALF_OPEN -> CLOSED' "$BATS_TEST_TMPDIR/stderr"
}

# The subscriber is stopped with SHUTDOWN, not kill -9: after a kill -9
# Redis::Fast 0.34 sometimes reconnects to the dying server and loses its
# subscriptions, with or without the shim (measured: 3 of 16 runs each).
subscriber_through_an_outage() { # [env assignments]: prints the subscriber's lines
    start_redis
    env "$@" perl "$CK_ROOT/tests/apps/redis_fast_subscriber.pl" "$PORT" ch > "$OUT" 2> "$BATS_TEST_TMPDIR/stderr" &
    BACKGROUND_PID=$!
    wait_for 1 '^subscribed$'
    for _ in $(seq 1 100); do [ "$(rcli pubsub numsub ch | tail -1)" = 1 ] && break; sleep 0.1; done
    rcli shutdown nosave >/dev/null 2>&1 || true
    sleep 5
    "$REDISCTL" start "$REDIS_DIR" "$PORT"
    # subscribed again within 10 s of the restart
    local n=0
    for _ in $(seq 1 100); do n=$(rcli pubsub numsub ch | tail -1); [ "$n" = 1 ] && break; sleep 0.1; done
    echo "numsub $n" >> "$BATS_TEST_TMPDIR/numsub"
    rcli publish ch hello >/dev/null
    rcli publish ch quit >/dev/null
    for _ in $(seq 1 100); do grep -q '^message quit$' "$OUT" && break; sleep 0.1; done
    kill "$BACKGROUND_PID" 2>/dev/null || true
    wait "$BACKGROUND_PID" || true
    BACKGROUND_PID=
    cat "$OUT"
}

@test "Redis::Fast subscriber with reconnect: subscribed again after an outage that opened the circuit" {
    # (not `run`: the function starts the server, whose directory the
    # test must know to stop it)
    subscriber_through_an_outage LD_PRELOAD= > "$BATS_TEST_TMPDIR/control"
    local control
    control=$(cat "$BATS_TEST_TMPDIR/control")
    "$REDISCTL" kill "$REDIS_DIR"
    subscriber_through_an_outage "${SHIM_ENV[@]}" LD_PRELOAD="$SHIM" > "$BATS_TEST_TMPDIR/shim"
    output=$(cat "$BATS_TEST_TMPDIR/shim")
    cat "$BATS_TEST_TMPDIR/stderr" >&2
    [ "$control" = "$(printf '%s\n' subscribed "message hello" "message quit")" ]
    # subscribed again (it used to wait for ever on an async placeholder
    # that refused its SUBSCRIBE), the same messages as without the shim;
    # Redis::Fast may report the end of a placeholder once from
    # wait_for_messages (README, limits)
    local errors others
    errors=$(grep -c '^error' <<<"$output" || true)
    others=$(grep -v '^error \[WAIT_FOR_MESSAGES\]' <<<"$output")
    [ "$others" = "$control" ]
    [ "$errors" -le 2 ]
    # the circuit did open under it
    grep -q 'CLOSED -> OPEN' "$BATS_TEST_TMPDIR/stderr"
}

@test "Redis::Fast with a healthy Redis: the same results with and without the shim" {
    start_redis
    perl "$CK_ROOT/tests/apps/redis_fast_session.pl" "$PORT" > "$BATS_TEST_TMPDIR/plain" 2>/dev/null
    rcli flushall > /dev/null
    env "${SHIM_ENV[@]}" LD_PRELOAD="$SHIM" perl "$CK_ROOT/tests/apps/redis_fast_session.pl" "$PORT" \
        > "$BATS_TEST_TMPDIR/shim" 2> "$BATS_TEST_TMPDIR/stderr"
    diff "$BATS_TEST_TMPDIR/plain" "$BATS_TEST_TMPDIR/shim"
    [ "$(tail -n 1 "$BATS_TEST_TMPDIR/shim")" = done ]
    [ "$(wc -l < "$BATS_TEST_TMPDIR/shim")" -eq 23 ]
}

# start_webdis [env...]: webdis on a free port in front of the test's
# Redis, in the foreground of a background job.
start_webdis() {
    HTTP_PORT=$(ck_free_port)
    cat > "$BATS_TEST_TMPDIR/webdis.json" <<JSON
{"redis_host": "127.0.0.1", "redis_port": $PORT, "http_host": "127.0.0.1", "http_port": $HTTP_PORT,
 "threads": 1, "pool_size": 2, "daemonize": false, "database": 0, "verbosity": 3,
 "logfile": "$BATS_TEST_TMPDIR/webdis.log"}
JSON
    env "$@" webdis "$BATS_TEST_TMPDIR/webdis.json" > /dev/null 2> "$BATS_TEST_TMPDIR/stderr" &
    BACKGROUND_PID=$!
}

# Appends one HTTP GET of k to $OUT: body and status.
http_get_k() { curl -s -m 2 -w ' %{http_code}\n' "http://127.0.0.1:$HTTP_PORT/GET/k" >> "$OUT" || echo "curl failed" >> "$OUT"; }

# Polls webdis every 100 ms until N answers after the mark match.
poll_webdis_until() {
    local i
    for ((i = 0; i < 150; i++)); do
        http_get_k
        [ "$(since "$MARK" | grep -cE "$2")" -ge "$1" ] && return 0
        sleep 0.1
    done
    since "$MARK" | tail -n 10 >&2
    return 1
}

@test "webdis: HTTP GET keeps answering the last good value while Redis is stopped, live values after" {
    start_redis
    rcli set k hello > /dev/null
    start_webdis "${SHIM_ENV[@]}" LD_PRELOAD="$SHIM"
    poll_webdis_until 3 '^\{"GET":"hello"\} 200$'
    mark
    local stopped=$MARK
    "$REDISCTL" kill "$REDIS_DIR"
    poll_webdis_until 15 '^\{"GET":"hello"\} 200$'
    mark
    local restarted=$MARK
    restart_with world
    poll_webdis_until 3 '^\{"GET":"world"\} 200$'
    cat "$BATS_TEST_TMPDIR/stderr" >&2
    local outage
    outage=$(sed -n "$((stopped + 1)),${restarted}p" "$OUT")
    # webdis answers 503 while it has no connection: until the circuit
    # opened (threshold refused connects), and for a moment at each failed
    # probe (the placeholder gives way to a real connect, refused); every
    # other answer is the last good value
    none grep -vE '^\{"GET":"hello"\} 200$| 503$' <<< "$outage"
    local unavailable probes_failed
    unavailable=$(grep -c ' 503$' <<< "$outage" || true)
    probes_failed=$(grep -c 'probe failed' "$BATS_TEST_TMPDIR/stderr" || true)
    echo "503 answers: $unavailable, failed probes: $probes_failed" >&2
    [ "$unavailable" -le $((3 + 2 * probes_failed)) ]
    grep -q 'HALF_OPEN -> CLOSED' "$BATS_TEST_TMPDIR/stderr"
}

@test "webdis without the shim (control): the same outage gives errors, not values" {
    start_redis
    rcli set k hello > /dev/null
    start_webdis
    poll_webdis_until 3 '^\{"GET":"hello"\} 200$'
    "$REDISCTL" kill "$REDIS_DIR"
    mark
    local i
    for i in 1 2 3 4 5 6 7 8 9 10; do http_get_k; sleep 0.1; done
    since "$MARK" >&2
    [ "$(since "$MARK" | grep -c '"hello"')" -le 1 ] # at most one answered before webdis saw the kill
    [ "$(since "$MARK" | grep -c ' 503$')" -ge 9 ]
}
