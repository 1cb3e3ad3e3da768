#!/usr/bin/env bats
# varnish 7 with its Redis VMOD (Debian's varnish and varnish-redis, linked
# to Debian's hiredis 0.14) under the shim with both metrics outputs
# (issue 12): varnishd's manager forks the worker that runs the VMOD, and
# the worker closes what it inherited and opens its own sockets. Under the
# shim, as without it (control run): every request answered by varnish on
# its port, no worker panic; the metrics port serves the shim's metrics
# (the worker's: the manager never talks to Redis).

load helpers

setup() {
    [ -z "${CK_PROGRAMS_SKIP:-}" ] || skip "$CK_PROGRAMS_SKIP"
    command -v varnishd > /dev/null || skip "varnish is not installed"
}

teardown() {
    stop_varnish
    [ -n "${REDIS_DIR:-}" ] && "$REDISCTL" kill "$REDIS_DIR"
    return 0
}

# SIGTERM; SIGKILL to the manager and its worker if it has not exited 10 s
# later.
stop_varnish() {
    [ -n "${VARNISH_PID:-}" ] || return 0
    kill "$VARNISH_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$VARNISH_PID" 2>/dev/null || break; sleep 0.1; done
    pkill -9 -P "$VARNISH_PID" 2>/dev/null || true
    kill -9 "$VARNISH_PID" 2>/dev/null || true
    wait "$VARNISH_PID" 2>/dev/null || true
    VARNISH_PID=
    return 0
}

# start_varnish [env...]: varnishd in the foreground on a free loopback
# port, a VCL that INCRs a counter and reads a key per request.
start_varnish() {
    local T=$BATS_TEST_TMPDIR
    VPORT=$(ck_free_port)
    cat > "$T/test.vcl" <<VCL
vcl 4.1;
import redis;
backend default none;
sub vcl_init {
    new db = redis.db(location="127.0.0.1:$PORT", type=master, connection_timeout=500,
                      shared_connections=false, max_connections=1);
}
sub vcl_recv { return (synth(200, "OK")); }
sub vcl_synth {
    db.command("INCR"); db.push("hits"); db.execute();
    set resp.http.X-Hits = db.get_integer_reply();
    db.command("GET"); db.push("greeting"); db.execute();
    set resp.http.X-Greeting = db.get_string_reply();
    set resp.body = "varnish here";
    return (deliver);
}
VCL
    rm -rf "$T/work"
    env "$@" varnishd -F -j none -n "$T/work" -a "127.0.0.1:$VPORT" -T none -f "$T/test.vcl" -s malloc,16m \
        > "$T/varnish.out" 2>&1 &
    VARNISH_PID=$!
    for _ in $(seq 1 100); do
        curl -s -m 1 -o /dev/null "http://127.0.0.1:$VPORT/" && return 0
        sleep 0.1
    done
    cat "$T/varnish.out" >&2
    return 1
}

# Twenty requests: how many varnish answered itself (200 and its body).
varnish_answers() {
    local i n=0
    for i in $(seq 1 20); do
        curl -s -m 2 -D - "http://127.0.0.1:$VPORT/" | tr -d '\r' > "$BATS_TEST_TMPDIR/answer"
        grep -qx 'HTTP/1.1 200 OK' "$BATS_TEST_TMPDIR/answer" && grep -qx 'X-Greeting: hello' "$BATS_TEST_TMPDIR/answer" &&
            grep -q 'varnish here' "$BATS_TEST_TMPDIR/answer" && n=$((n + 1))
    done
    echo "$n"
}

@test "varnish + varnish-redis with CACHEKIT_METRICS_FILE and _LISTEN: varnish's port serves varnish, no panic, the metrics port serves metrics (control: without the shim)" {
    start_redis
    rcli set greeting hello > /dev/null
    start_varnish
    [ "$(varnish_answers)" -eq 20 ]
    stop_varnish
    local mport; mport=$(ck_free_port)
    # (leak checks off under ASan: varnishd runs the C compiler for its VCL,
    # which inherits the preload)
    start_varnish LD_PRELOAD="$SHIM" ASAN_OPTIONS=detect_leaks=0 CACHEKIT_METRICS_FILE="$BATS_TEST_TMPDIR/m-%p.prom" \
        CACHEKIT_METRICS_LISTEN="127.0.0.1:$mport"
    [ "$(varnish_answers)" -eq 20 ]
    curl -s -m 2 "http://127.0.0.1:$mport/metrics" | grep -q '^cachekit_calls_total{endpoint="127.0.0.1:'"$PORT"'",program="varnishd"'
    none grep -iE 'panic|Child \([0-9]+\) died' "$BATS_TEST_TMPDIR/varnish.out"
    # one metrics file: the worker's (the manager never connected)
    [ "$(find "$BATS_TEST_TMPDIR" -name 'm-*.prom' | wc -l)" -eq 1 ]
}
