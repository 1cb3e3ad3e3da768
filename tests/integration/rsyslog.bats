#!/usr/bin/env bats
# rsyslog's Redis output (Debian's rsyslog-hiredis, omhiredis, linked to
# Debian's hiredis 0.14) through a real outage, with and without the shim
# (issue 11). rsyslogd runs in the foreground with a private
# configuration: imuxsock on a private socket, `logger` as the source,
# omhiredis LPUSHing each line, the action retried for ever
# (resumeRetryCount -1) every second. Redis keeps every acknowledged write
# (AOF, appendfsync always), so what it holds after the outage is what
# rsyslog delivered. Without the shim rsyslog loses nothing (it suspends the
# action and retries the batch); under it nothing may be lost either, the
# only duplicates allowed are the writes whose reply never came (a batch
# sent again), rsyslogd stays idle while Redis is down, and delivery
# resumes once Redis is back. The shim's socket timeout is 1 s, so the
# 5 s freeze makes the writes in flight time out, and opens the circuit
# (threshold 2).

load helpers

# (RSYSLOG_* override them, for longer measurements than CI runs)
LINES=${RSYSLOG_LINES:-150}
PACE=${RSYSLOG_PACE:-0.04}         # s between lines: 25 lines/s, 6 s of logging
FAULT_AT=${RSYSLOG_FAULT_AT:-1.5}  # s after the first line
FAULT_FOR=${RSYSLOG_FAULT_FOR:-5}  # s
SOCKET_TIMEOUT=${RSYSLOG_SOCKET_TIMEOUT:-1}
BREAKER_THRESHOLD=${RSYSLOG_THRESHOLD:-2}
COOLDOWN=${RSYSLOG_COOLDOWN:-1}
COOLDOWN_MAX=${RSYSLOG_COOLDOWN_MAX:-2}

setup() {
    [ -z "${CK_PROGRAMS_SKIP:-}" ] || skip "$CK_PROGRAMS_SKIP"
    # (80 s of wall clock each run: once, in the plain build, keeps CI short)
    [ -z "${CK_PRELOAD_FIRST:-}" ] || skip "run in the plain 0.14.1 build only"
    [ -f /usr/lib/x86_64-linux-gnu/rsyslog/omhiredis.so ] || skip "rsyslog-hiredis is not installed"
}

teardown() {
    [ -n "${RSYSLOG_PID:-}" ] && kill -9 "$RSYSLOG_PID" 2>/dev/null
    [ -n "${SENDER_PID:-}" ] && kill "$SENDER_PID" 2>/dev/null
    [ -n "${REDIS_DIR:-}" ] && "$REDISCTL" thaw "$REDIS_DIR" 2>/dev/null
    [ -n "${REDIS_DIR:-}" ] && "$REDISCTL" kill "$REDIS_DIR"
    return 0
}

# rsyslogd's CPU time so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$RSYSLOG_PID/stat"; }

start_rsyslogd() { # [LD_PRELOAD value]
    local dir=$BATS_TEST_TMPDIR/rsyslog
    rm -rf "$dir"
    mkdir -p "$dir/work"
    cat > "$dir/rsyslog.conf" <<CONF
global(workDirectory="$dir/work")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$dir/log.sock" CreatePath="on")
module(load="omhiredis")
template(name="line" type="string" string="%msg%")
if \$msg contains "cktest" then {
    action(type="omhiredis" server="127.0.0.1" serverport="$PORT" mode="queue" key="lines" template="line"
           action.resumeRetryCount="-1" action.resumeInterval="1" queue.type="LinkedList")
}
CONF
    SOCK=$dir/log.sock
    env ${1:+LD_PRELOAD="$1"} CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD="$BREAKER_THRESHOLD" \
        CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT="$COOLDOWN" CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT_MAX="$COOLDOWN_MAX" \
        CACHEKIT_SOCKET_TIMEOUT="$SOCKET_TIMEOUT" CACHEKIT_METRICS_FILE="$dir/metrics" CACHEKIT_METRICS_INTERVAL=0.5 \
        rsyslogd -n -f "$dir/rsyslog.conf" -i "$dir/rsyslogd.pid" 2> "$dir/stderr" &
    RSYSLOG_PID=$!
    for _ in $(seq 1 100); do [ -S "$SOCK" ] && return 0; sleep 0.05; done
    echo "rsyslogd did not start" >&2
    cat "$dir/stderr" >&2
    return 1
}

# SIGTERM, and SIGKILL if it has not exited 10 s later (an action that
# retries for ever can hold its shutdown).
stop_rsyslogd() {
    kill "$RSYSLOG_PID"
    for _ in $(seq 1 100); do kill -0 "$RSYSLOG_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$RSYSLOG_PID" 2>/dev/null || true
    wait "$RSYSLOG_PID" || true
    RSYSLOG_PID=
}

# scenario FAULT_START FAULT_END [shim]: LINES lines through rsyslogd while
# the fault lasts FAULT_FOR s; sets DELIVERED (distinct lines in Redis),
# DUPLICATES and IDLE_CPU (rsyslogd's CPU seconds during the fault).
scenario() {
    rm -rf "$BATS_TEST_TMPDIR/redis" # a fresh server: no lines of an earlier run in its AOF
    start_redis --appendonly yes --appendfsync always
    start_rsyslogd "${3:-}"
    (for i in $(seq 1 "$LINES"); do timeout 5 logger -u "$SOCK" "cktest $i"; sleep "$PACE"; done) &
    SENDER_PID=$!
    sleep "$FAULT_AT"
    eval "$1"
    local before; before=$(cpu_ticks)
    sleep "$FAULT_FOR"
    local during=$(( $(cpu_ticks) - before ))
    eval "$2"
    wait "$SENDER_PID"
    SENDER_PID=
    # delivery resumes: every line arrives (60 s at most, plus the cooldown)
    for _ in $(seq 1 $((600 + ${COOLDOWN%.*} * 10))); do
        [ "$(rcli lrange lines 0 -1 | sort -u | wc -l)" -ge "$LINES" ] && break
        sleep 0.1
    done
    stop_rsyslogd
    DELIVERED=$(rcli lrange lines 0 -1 | sort -u | wc -l)
    DUPLICATES=$(( $(rcli llen lines) - DELIVERED ))
    IDLE_CPU=$(awk -v t="$during" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}')
    echo "# $([ -n "${3:-}" ] && echo shim || echo plain): delivered $DELIVERED of $LINES, duplicates $DUPLICATES, CPU during the fault ${IDLE_CPU} s" >&3
    "$REDISCTL" kill "$REDIS_DIR"
}

# Writes the shim saw time out (sent, no reply): the only ones that may be
# delivered twice.
timed_out_writes() {
    awk '/^cachekit_calls_total\{.*outcome="failed"/ {n += $NF} END {print n + 0}' "$BATS_TEST_TMPDIR/rsyslog/metrics"
}

kill_scenario() { scenario '"$REDISCTL" kill "$REDIS_DIR"' '"$REDISCTL" start "$REDIS_DIR" "$PORT" --appendonly yes --appendfsync always' "$@"; }
freeze_scenario() { scenario '"$REDISCTL" freeze "$REDIS_DIR"' '"$REDISCTL" thaw "$REDIS_DIR"' "$@"; }

# against_control SCENARIO: the scenario without the shim, then under it:
# every line delivered both times; under the shim rsyslogd is idle during
# the fault (under a quarter of a core) and sends no more duplicates than
# the control run did plus the writes that timed out.
against_control() {
    "$1"
    [ "$DELIVERED" -eq "$LINES" ]
    local plain_duplicates=$DUPLICATES
    "$1" "$SHIM"
    [ "$DELIVERED" -eq "$LINES" ]
    awk -v cpu="$IDLE_CPU" -v span="$FAULT_FOR" 'BEGIN {exit !(cpu < 0.25 * span)}'
    [ "$DUPLICATES" -le $((plain_duplicates + $(timed_out_writes))) ]
}

@test "rsyslog omhiredis, Redis killed -9 and restarted: no line lost under the shim as without it, rsyslogd idle meanwhile" {
    against_control kill_scenario
}

@test "rsyslog omhiredis, Redis frozen (SIGSTOP) and thawed: no line lost under the shim as without it, rsyslogd idle meanwhile" {
    against_control freeze_scenario
}
