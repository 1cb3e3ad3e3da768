#!/usr/bin/env bats
# Threads of one process share one breaker per endpoint. scripts/test also
# runs this file with the shim and program built with ThreadSanitizer.

load helpers

THREADED=$CK_BUILD/tests/apps/threaded_client

# wait_for DESCRIPTION COMMAND...: polls COMMAND every 50 ms, at most 20 s.
wait_for() {
    local what=$1; shift
    for _ in $(seq 1 400); do
        "$@" && return 0
        sleep 0.05
    done
    echo "timed out waiting for: $what" >&2
    return 1
}

gets_at_least() { [ "$(calls_of get)" -ge "$1" ]; }
logged() { grep -q "$1" "$BATS_TEST_TMPDIR/stderr"; }

@test "threads share one breaker: an outage opens it once, no thread waits, all recover" {
    start_redis
    rcli set k v >/dev/null
    local stop=$BATS_TEST_TMPDIR/stop out=$BATS_TEST_TMPDIR/out
    CACHEKIT_L1_ENABLED=false CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=3 CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=0.3 \
        LD_PRELOAD="$SHIM" "$THREADED" -p "$PORT" -t 4 -f "$stop" > "$out" 2> "$BATS_TEST_TMPDIR/stderr" &
    BACKGROUND_PID=$!
    wait_for "healthy reads" gets_at_least 200
    "$REDISCTL" kill "$REDIS_DIR"
    wait_for "the circuit to open" logged "CLOSED -> OPEN"
    sleep 0.5 # an outage longer than the cooldown: probes fail meanwhile
    "$REDISCTL" start "$REDIS_DIR" "$PORT"
    rcli set k v >/dev/null
    wait_for "recovery" logged "HALF_OPEN -> CLOSED"
    wait_for "reads on the restarted server" gets_at_least 400
    touch "$stop"
    wait "$BACKGROUND_PID"
    cat "$out" >&2
    [ "$(grep -c 'last=value' "$out")" -eq 4 ]
    # one breaker for all: it opened once per outage, not once per thread
    [ "$(grep -c 'CLOSED -> OPEN' "$BATS_TEST_TMPDIR/stderr")" -eq 1 ]
    field() { awk -v f="$1=" '{for (i = 1; i <= NF; i++) if (index($i, f) == 1) n += substr($i, length(f) + 1)} END {print n + 0}' "$out"; }
    # the loops kept running through the outage, answered at once with nil
    [ "$(field nil)" -gt 100 ]
    # errors: the threshold, calls in flight in the other threads, and the
    # failed probes of the outage; never one per call. Connects while the
    # circuit is open hand out placeholders, which do not fail.
    [ "$(field errors)" -le 40 ]
    [ "$(field connect_errors)" -le 40 ]
}
