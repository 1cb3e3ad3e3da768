#!/usr/bin/env bats
# Transparency: hiredis's own test suite (test.c of the Debian source
# package, built against the matching shared library by
# scripts/hiredis-sources) passes unchanged under the shim. CK_HIREDIS_TEST
# names that program; scripts/test sets it for each version.

load helpers

setup() {
    [ -n "${CK_HIREDIS_TEST:-}" ] || skip "CK_HIREDIS_TEST is not set (scripts/test sets it)"
    REDIS_DIR=$BATS_TEST_TMPDIR/redis
    PORT=$(ck_free_port)
    "$REDISCTL" start "$REDIS_DIR" "$PORT" --enable-debug-command yes --unixsocket "$REDIS_DIR/redis.sock"
}

run_suite() {
    local lsan=""
    case $CK_HIREDIS_TEST in
        */0.14.1/*) lsan="suppressions=$BATS_TEST_DIRNAME/hiredis-0.14.1-test.supp" ;;
    esac
    run env "$@" LSAN_OPTIONS="$lsan" CACHEKIT_LOG_LEVEL=debug LD_PRELOAD="$SHIM" \
        "$CK_HIREDIS_TEST" -p "$PORT" -s "$REDIS_DIR/redis.sock"
    if [ "$status" -ne 0 ] || ! grep -q 'ALL TESTS PASSED' <<<"$output"; then
        grep -v PASSED <<<"$output" >&2
        return 1
    fi
    # the shim really was in the process
    grep -q 'debug: hiredis .* ABI found' <<<"$output"
}

@test "hiredis test suite passes under the shim with the breaker disabled" {
    run_suite CACHEKIT_CIRCUIT_BREAKER_ENABLED=false
}

# Lazy connect deliberately changes one thing a healthy-circuit program can
# see: a refused connect returns a usable context instead of an error
# (hiredis's "Returns error when the port is not open" checks exactly
# that). With it off, the shim is transparent while the circuit is closed.
@test "hiredis test suite passes under the shim with the breaker enabled (never tripping), lazy connect off" {
    run_suite CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=1000000 CACHEKIT_LAZY_CONNECT=false
}
