#!/usr/bin/env bats
# What an operator sees and uses: Prometheus metrics (file and HTTP),
# health, logs, the cachekit-run launcher, CACHEKIT_ONLY_CMDS. Threshold 3,
# cooldown 1 s.

bats_require_minimum_version 1.5.0
load helpers

LAUNCHER=$CK_BUILD/launcher/cachekit-run

# The launcher puts the shim first in LD_PRELOAD; sanitizer runtimes must
# come first: its tests run in the plain builds.
needs_plain_build() { [ -z "${CK_PRELOAD_FIRST:-}" ] || skip "the launcher preloads the shim first"; }

# metric FILE NAME LABEL-SUBSTRING: the value of the one series of NAME
# whose labels contain the substring.
metric() {
    awk -v name="$2" -v want="$3" 'index($0, name "{") == 1 && index($0, want) {print $NF}' "$1"
}

# The metrics at three moments of an outage, from the file and from HTTP,
# written by the program itself at each step of its script.
@test "metrics file and /metrics follow an outage: states, counters, latency; promtool accepts them" {
    start_redis
    local T=$BATS_TEST_TMPDIR mport
    mport=$(ck_free_port)
    snap() { # snap NAME: /metrics, /health and the metrics file, now
        echo "sh curl -s -m 5 -o $T/$1.http http://127.0.0.1:$mport/metrics; curl -s -m 5 -o $T/$1.json http://127.0.0.1:$mport/health"
        echo "sleep 300"
        echo "sh cp $T/metrics.prom $T/$1.file"
    }
    {
        echo connect
        echo "cmd SET k v"
        echo "cmd GET k"
        snap healthy
        echo "sh $REDISCTL kill $REDIS_DIR"
        echo "loop 6 0 cmd GET k"
        echo "cmd SET w x"
        snap open
        echo "sh $REDISCTL start $REDIS_DIR $PORT"
        echo "sleep 1200"
        echo "loop 3 0 cmd GET k"
        snap recovered
    } > "$T/script"
    PORT=$PORT THRESHOLD=3 COOLDOWN=1 CACHEKIT_ONLY_CMDS=scripted_client CACHEKIT_METRICS_FILE="$T/metrics.prom" \
        CACHEKIT_METRICS_INTERVAL=0.1 CACHEKIT_METRICS_LISTEN="127.0.0.1:$mport" run client_under_shim < "$T/script"
    cat "$BATS_TEST_TMPDIR/stderr" >&2
    [ "$status" -eq 0 ]
    local step source f
    for step in healthy open recovered; do
        for source in http file; do
            f=$T/$step.$source
            promtool check metrics < "$f" >&2
            grep -q "program=\"scripted_client\",pid=\"[0-9]*\"" "$f"
        done
    done
    f=$T/healthy.http
    [ "$(metric "$f" cachekit_circuit_breaker_state "127.0.0.1:$PORT")" = 0 ]
    [ "$(metric "$f" cachekit_calls_total 'outcome="passed"')" = 2 ]
    [ "$(metric "$f" cachekit_call_duration_seconds_count "127.0.0.1:$PORT")" = 2 ]
    [ "$(metric "$f" cachekit_l1_entries scripted_client)" = 1 ]
    for f in "$T/open.http" "$T/open.file"; do
        [ "$(metric "$f" cachekit_circuit_breaker_state "127.0.0.1:$PORT")" = 1 ]
        [ "$(metric "$f" cachekit_circuit_breaker_failures_total "127.0.0.1:$PORT")" = 3 ]
        [ "$(metric "$f" cachekit_circuit_breaker_opens_total "127.0.0.1:$PORT")" = 1 ]
        [ "$(metric "$f" cachekit_calls_total 'outcome="failed"')" = 3 ]
        [ "$(metric "$f" cachekit_calls_total 'outcome="short_circuited"')" = 4 ]
        # 3 stale values instead of the failed reads' errors, 3 while open;
        # the SET was refused (CACHEKIT_OPEN_WRITES=error), not answered nil
        [ "$(metric "$f" cachekit_synthesized_replies_total 'kind="stale"')" = 6 ]
        [ "$(metric "$f" cachekit_synthesized_replies_total 'kind="nil"')" = 0 ]
        [ "$(metric "$f" cachekit_writes_not_sent_total "127.0.0.1:$PORT")" = 1 ]
        [ "$(metric "$f" cachekit_l1_hits_total scripted_client)" = 6 ]
    done
    grep -q '"state":"OPEN","consecutive_failures":3' "$T/open.json"
    grep -qE '"seconds_until_probe":0\.[0-9]+' "$T/open.json"
    f=$T/recovered.http
    [ "$(metric "$f" cachekit_circuit_breaker_state "127.0.0.1:$PORT")" = 0 ]
    [ "$(metric "$f" cachekit_circuit_breaker_recoveries_total "127.0.0.1:$PORT")" = 1 ]
    [ "$(metric "$f" cachekit_reconnects_total "127.0.0.1:$PORT")" -ge 1 ] # the broken context healed
    grep -q '"state":"CLOSED"' "$T/recovered.json"
    # the file is rewritten, never left partial: no temporary files remain
    [ "$(find "$T" -name '.metrics.prom.*' | wc -l)" -eq 0 ]
}

@test "a real Prometheus scrapes /metrics and its query API returns the circuit state series" {
    start_redis
    local T=$BATS_TEST_TMPDIR mport pport
    mport=$(ck_free_port)
    pport=$(ck_free_port)
    cat > "$T/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: cachekit
    static_configs:
      - targets: ['127.0.0.1:$mport']
YAML
    prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
        --web.listen-address="127.0.0.1:$pport" > "$T/prometheus.log" 2>&1 &
    PROXY_PID=$! # stopped by teardown
    OUT=$T/out
    env CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=3 CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=30 \
        CACHEKIT_METRICS_LISTEN="127.0.0.1:$mport" LD_PRELOAD="$SHIM" \
        "$CK_BUILD/tests/apps/async_client" -p "$PORT" -i 50 -f "$T/stop" > "$OUT" 2> "$T/stderr" &
    BACKGROUND_PID=$!
    # wait_until_state VALUE SELECTOR: Prometheus's query API returns the
    # state series with that value (30 s at most)
    wait_until_state() {
        local i answer=""
        for ((i = 0; i < 150; i++)); do
            answer=$(curl -s -m 5 "http://127.0.0.1:$pport/api/v1/query" \
                --data-urlencode "query=cachekit_circuit_breaker_state{$2}" || true)
            grep -q "\"value\":\[[0-9.]*,\"$1\"\]" <<< "$answer" && return 0
            sleep 0.2
        done
        echo "$answer" >&2
        return 1
    }
    wait_until_state 0 "endpoint=\"127.0.0.1:$PORT\",program=\"async_client\""
    "$REDISCTL" kill "$REDIS_DIR"
    wait_until_state 1 "endpoint=\"127.0.0.1:$PORT\""
    touch "$T/stop"
}

@test "a daemon that detaches (fork, parent exits): the child exports its own metrics from its first connect" {
    [[ "${CK_PRELOAD_FIRST:-}" != *libtsan* ]] || skip "ThreadSanitizer does not support new threads after a multi-threaded fork"
    start_redis
    local T=$BATS_TEST_TMPDIR mport
    mport=$(ck_free_port)
    {
        echo pid
        echo "sleep 200" # (the exporter's first document is rendered)
        echo daemonize
        echo pid
        echo connect
        echo "cmd GET k"
        echo "sleep 300"
        echo "sh cp $T/metrics.prom $T/child.prom; curl -s -m 5 -o $T/child.http http://127.0.0.1:$mport/metrics"
    } > "$T/script"
    PORT=$PORT CACHEKIT_ONLY_CMDS=scripted_client CACHEKIT_METRICS_FILE="$T/metrics.prom" CACHEKIT_METRICS_INTERVAL=0.1 \
        CACHEKIT_METRICS_LISTEN="127.0.0.1:$mport" run client_under_shim < "$T/script"
    cat "$BATS_TEST_TMPDIR/stderr" >&2
    echo "$output" >&2
    [ "$status" -eq 0 ]
    local parent child
    parent=$(sed -n 's/^pid //p' <<< "$output" | head -n 1)
    child=$(sed -n 's/^pid //p' <<< "$output" | tail -n 1)
    [ "$parent" != "$child" ]
    [ "$(metric "$T/child.prom" cachekit_calls_total "pid=\"$child\",outcome=\"passed\"")" = 1 ]
    [ "$(metric "$T/child.http" cachekit_calls_total "pid=\"$child\",outcome=\"passed\"")" = 1 ]
}

@test "CACHEKIT_METRICS_FILE on a symbolic link: refused with a diagnostic, the link and its target untouched" {
    start_redis
    local T=$BATS_TEST_TMPDIR
    echo "precious" > "$T/victim"
    ln -s "$T/victim" "$T/metrics.prom"
    printf 'connect\ncmd GET k\nsleep 300\n' > "$T/script"
    PORT=$PORT CACHEKIT_METRICS_FILE="$T/metrics.prom" CACHEKIT_METRICS_INTERVAL=0.1 run client_under_shim < "$T/script"
    cat "$BATS_TEST_TMPDIR/stderr" >&2
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'connect ok\nnil')" ]
    [ -L "$T/metrics.prom" ]
    [ "$(cat "$T/victim")" = precious ]
    grep -q 'CACHEKIT_METRICS_FILE=.*is a symbolic link.*refusing' "$BATS_TEST_TMPDIR/stderr"
    [ "$(grep -c 'symbolic link' "$BATS_TEST_TMPDIR/stderr")" -eq 1 ] # once, not at every interval
}

@test "CACHEKIT_METRICS_LISTEN on a port in use: one clear diagnostic, the program runs on" {
    start_redis
    printf 'connect\ncmd SET k v\ncmd GET k\n' > "$BATS_TEST_TMPDIR/script"
    # Redis itself holds the port
    PORT=$PORT CACHEKIT_METRICS_LISTEN="127.0.0.1:$PORT" run client_under_shim < "$BATS_TEST_TMPDIR/script"
    cat "$BATS_TEST_TMPDIR/stderr" >&2
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'connect ok\nstatus OK\nstr v')" ]
    [ "$(wc -l < "$BATS_TEST_TMPDIR/stderr")" -eq 1 ]
    grep -q "CACHEKIT_METRICS_LISTEN=\"127.0.0.1:$PORT\": cannot listen (Address already in use)" "$BATS_TEST_TMPDIR/stderr"
}

@test "cachekit_health(), looked up with dlsym: the health document" {
    start_redis
    printf 'health\nconnect\ncmd GET k\nhealth\n' > "$BATS_TEST_TMPDIR/script"
    PORT=$PORT run client_under_shim < "$BATS_TEST_TMPDIR/script"
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" =~ ^health\ [0-9]+\ \{\"program\":\"scripted_client\",\"pid\":[0-9]+,\"endpoints\":\[\], ]]
    [[ "${lines[3]}" == *"\"endpoint\":\"127.0.0.1:$PORT\",\"state\":\"CLOSED\",\"consecutive_failures\":0,"* ]]
    # without the shim the program finds no such function
    printf 'health\n' | "$CLIENT" -p "$PORT" | grep -qx 'health none'
}

@test "logs are rate-limited: a storm of transitions gives CACHEKIT_LOG_RATE_LIMIT lines" {
    # no server, a 1 ms cooldown that does not grow: every call probes and fails
    local dead
    dead=$(ck_free_port)
    printf 'connect\nloop 150 2 cmd GET k\n' > "$BATS_TEST_TMPDIR/script"
    PORT=$dead THRESHOLD=1 COOLDOWN=0.001 \
        CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT_MAX=0.001 CACHEKIT_LOG_RATE_LIMIT=20 \
        run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    local limited unlimited
    limited=$(grep -c 'circuit' "$BATS_TEST_TMPDIR/stderr")
    PORT=$dead THRESHOLD=1 COOLDOWN=0.001 \
        CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT_MAX=0.001 CACHEKIT_LOG_RATE_LIMIT=0 \
        run client_under_shim < "$BATS_TEST_TMPDIR/script"
    unlimited=$(grep -c 'circuit' "$BATS_TEST_TMPDIR/stderr")
    echo "limited $limited, unlimited $unlimited" >&2
    [ "$limited" -eq 20 ]
    [ "$unlimited" -gt 60 ]
}

@test "CACHEKIT_LOG=syslog: diagnostics go to syslog, none to stderr" {
    command -v strace > /dev/null || skip "strace is not installed"
    printf 'connect\n' > "$BATS_TEST_TMPDIR/script"
    # not under `run`, which would take stderr into $output: the file
    # checked below is the program's stderr
    PORT=$(ck_free_port) CACHEKIT_LOG=syslog CACHEKIT_DEFAULT_TTL=nonsense \
        strace -f -e trace=connect -o "$BATS_TEST_TMPDIR/trace" env LD_PRELOAD="$SHIM" "$CLIENT" -p 1 \
        < "$BATS_TEST_TMPDIR/script" > "$BATS_TEST_TMPDIR/stdout" 2> "$BATS_TEST_TMPDIR/stderr" || true
    grep -q '^connect ' "$BATS_TEST_TMPDIR/stdout" # the program ran
    none grep cachekit "$BATS_TEST_TMPDIR/stderr"
    grep -q '"/dev/log"' "$BATS_TEST_TMPDIR/trace"
}

@test "cachekit-run: arguments and exit status pass through unchanged; options become CACHEKIT_* settings" {
    needs_plain_build
    run env CACHEKIT_SHIM="$CK_SHIM_FILE" "$LAUNCHER" -t 3 --cooldown 7 --health-check 0.5 --no-l1 -e LOG_LEVEL=error \
        --set CACHEKIT_SOCKET_TIMEOUT=2 -- sh -c 'printf "[%s]" "$@"; echo; env | grep -E "^(CACHEKIT_|LD_PRELOAD)" | sort; exit 7' \
        zero 'two words' '' '*' '-t'
    echo "$output" >&2
    [ "$status" -eq 7 ]
    [ "${lines[0]}" = "[two words][][*][-t]" ]
    printf '%s\n' "${lines[@]}" | grep -qx 'CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=3'
    printf '%s\n' "${lines[@]}" | grep -qx 'CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=7'
    printf '%s\n' "${lines[@]}" | grep -qx 'CACHEKIT_HEALTH_CHECK_INTERVAL=0.5'
    printf '%s\n' "${lines[@]}" | grep -qx 'CACHEKIT_L1_ENABLED=false'
    printf '%s\n' "${lines[@]}" | grep -qx 'CACHEKIT_LOG_LEVEL=error'
    printf '%s\n' "${lines[@]}" | grep -qx 'CACHEKIT_SOCKET_TIMEOUT=2'
    printf '%s\n' "${lines[@]}" | grep -qx "LD_PRELOAD=$CK_SHIM_FILE"
    run "$LAUNCHER" --shim "$CK_SHIM_FILE" true
    [ "$status" -eq 0 ]
    run "$LAUNCHER" --shim "$CK_SHIM_FILE" false
    [ "$status" -eq 1 ]
    run "$LAUNCHER" --bogus true
    [ "$status" -eq 2 ]
    [[ "$output" == *"unknown option: --bogus"* ]]
    run "$LAUNCHER" --shim "$CK_SHIM_FILE"
    [ "$status" -eq 2 ]
    run -127 "$LAUNCHER" --shim "$CK_SHIM_FILE" /nonexistent/command
    [ "$status" -eq 127 ]
}

@test "cachekit-run --only: a child program not named is left untouched (pure pass-through)" {
    needs_plain_build
    local dead
    dead=$(ck_free_port)
    printf 'connect\ncmd GET k\ncmd GET k\ncmd GET k\ncmd GET k\n' > "$BATS_TEST_TMPDIR/script"
    # active in the client: a refused connect becomes a placeholder, nil after the threshold
    run "$LAUNCHER" --shim "$CK_SHIM_FILE" -t 3 --only scripted_client -- \
        sh -c '"$0" -p "$1" < "$2"' "$CLIENT" "$dead" "$BATS_TEST_TMPDIR/script"
    echo "$output" >&2
    [ "${lines[0]}" = "connect ok" ]
    [ "${lines[4]}" = "nil" ]
    # named for another program: the client, a child of sh, is plain hiredis
    run "$LAUNCHER" --shim "$CK_SHIM_FILE" -t 3 --only some-other-program --metrics-file "$BATS_TEST_TMPDIR/m.prom" -- \
        sh -c '"$0" -p "$1" < "$2"' "$CLIENT" "$dead" "$BATS_TEST_TMPDIR/script"
    echo "$output" >&2
    [ "${lines[0]}" = "connect failed: Connection refused" ]
    [ ! -e "$BATS_TEST_TMPDIR/m.prom" ] # no exporter either
    # and --skip
    run "$LAUNCHER" --shim "$CK_SHIM_FILE" -t 3 --skip scripted_client -- \
        sh -c '"$0" -p "$1" < "$2"' "$CLIENT" "$dead" "$BATS_TEST_TMPDIR/script"
    [ "${lines[0]}" = "connect failed: Connection refused" ]
}

@test "meson install: the shim, cachekit-run pointing at it, and both man pages" {
    local dest=$BATS_TEST_TMPDIR/dest
    meson install -C "$CK_BUILD" --destdir "$dest" --no-rebuild > /dev/null
    local shim launcher
    shim=$(find "$dest" -name libcachekit_shim.so)
    launcher=$(find "$dest" -path '*/bin/cachekit-run')
    [ -n "$shim" ] && [ -x "$launcher" ]
    [ -f "$(find "$dest" -name cachekit-run.1)" ]
    [ -f "$(find "$dest" -name libcachekit_shim.7)" ]
    # the launcher's default shim is where the shim was installed (without DESTDIR)
    grep -q "^shim=\${CACHEKIT_SHIM:-${shim#"$dest"}}$" "$launcher"
    MANWIDTH=80 man -l "$(find "$dest" -name cachekit-run.1)" | grep -q 'cachekit-run \[options\]'
}
