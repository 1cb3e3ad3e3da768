# Shared set-up of the integration tests: a redis-server of the test's own
# on a free loopback port, and the scripted client run under the shim.
#
# CK_BUILD names the build directory whose test programs are used (one per
# hiredis version); the shim is the same binary in every build.

CK_ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
CK_BUILD=${CK_BUILD:-$CK_ROOT/build}
# Sanitizer runtimes, when the build uses them, must be loaded first.
# CK_SHIM may name a shim from another build (a sanitized one).
CK_SHIM_FILE=${CK_SHIM:-$CK_BUILD/shim/libcachekit_shim.so}
SHIM="${CK_PRELOAD_FIRST:+$CK_PRELOAD_FIRST }$CK_SHIM_FILE"
CLIENT=$CK_BUILD/tests/apps/scripted_client
REDISCTL=$CK_ROOT/tests/tools/redisctl
source "$CK_ROOT/scripts/lib/common.sh"
# The suites written before the health check (health_check.bats) assert the
# program-call probe after the cooldown, which is what the shim does with
# the check off: they run so. health_check.bats runs the default.
export CACHEKIT_HEALTH_CHECK_INTERVAL=0
# Breaker state is shared by the processes of a user (CACHEKIT_SHARED_STATE):
# each test has a file of its own, so that no circuit a test opened (ports
# are reused) is found open by the next.
export CACHEKIT_SHARED_STATE=$BATS_TEST_TMPDIR/breakers.state

start_redis() {
    REDIS_DIR=$BATS_TEST_TMPDIR/redis
    for _ in 1 2 3; do # another test may take the port between the check and the bind
        PORT=$(ck_free_port)
        "$REDISCTL" start "$REDIS_DIR" "$PORT" "$@" && return 0
    done
    return 1
}

teardown() {
    [ -n "${PROXY_PID:-}" ] && { kill "$PROXY_PID" && kill -CONT "$PROXY_PID"; } 2>/dev/null # (a stopped one too)
    [ -n "${REDIS_DIR:-}" ] && "$REDISCTL" thaw "$REDIS_DIR" 2>/dev/null
    [ -n "${REDIS_DIR:-}" ] && "$REDISCTL" kill "$REDIS_DIR"
    [ -n "${BACKGROUND_PID:-}" ] && kill "$BACKGROUND_PID" 2>/dev/null
    [ -n "${TRICKLER:-}" ] && kill "$TRICKLER" 2>/dev/null
    [ -n "${SCRATCH_DIR:-}" ] && rm -rf "$SCRATCH_DIR"
    return 0
}

rcli() { redis-cli -p "$PORT" "$@"; }

# An INFO field of the test's server.
info_field() { rcli info all | tr -d '\r' | awk -F: -v f="$1" '$1 == f {print $2}'; }

# How many times the server has executed a command: cmdstat_<name> calls.
calls_of() {
    rcli info commandstats | tr -d '\r' | awk -F'[:=,]' -v c="cmdstat_$1" '$1 == c {print $3; found=1} END {if (!found) print 0}'
}

# run_client [client options] < script: the client under the shim, with a
# small threshold and the given CACHEKIT_* settings; stdout in $output
# (bats `run`), stderr in $BATS_TEST_TMPDIR/stderr.
client_under_shim() {
    env CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD="${THRESHOLD:-3}" \
        CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT="${COOLDOWN:-30}" \
        LD_PRELOAD="$SHIM" "$CLIENT" -p "$PORT" "$@" 2>"$BATS_TEST_TMPDIR/stderr"
}

# none CMD...: fails, showing them, when CMD prints any line (a bare
# `! cmd` in bats only fails a test as its last command).
none() {
    local out
    out=$("$@" || true)
    [ -z "$out" ] || { printf '%s\n' "$out" >&2; return 1; }
}

# eventually SECONDS CMD...: retries CMD every 50 ms until it succeeds;
# fails, naming CMD, when it has not within SECONDS (a wait that times out
# silently would let the test go on as if it had happened).
eventually() {
    local deadline=$(($(date +%s%N) + $1 * 1000000000))
    shift
    until "$@"; do
        if [ "$(date +%s%N)" -ge "$deadline" ]; then
            echo "not true in time: $*" >&2
            return 1
        fi
        sleep 0.05
    done
}

# Fails with both texts shown when they differ.
assert_output_is() {
    if [ "$output" != "$1" ]; then
        diff <(printf '%s\n' "$1") <(printf '%s\n' "$output") >&2 || true
        return 1
    fi
}

# Collapses runs of equal lines into "line xN", for loops whose exact
# length depends on timing.
runs() { awk 'NR > 1 && $0 != prev {print prev " x" n; n = 0} {prev = $0; n++} END {if (n) print prev " x" n}'; }

FAULTPROXY=$CK_BUILD/tests/tools/faultproxy

# start_proxy: a fault proxy on a free port in front of the test's Redis;
# its mode is the first line of $PROXY_MODE (see tests/tools/faultproxy.c).
start_proxy() {
    PROXY_PORT=$(ck_free_port)
    PROXY_MODE=$BATS_TEST_TMPDIR/proxy-mode
    echo pass > "$PROXY_MODE"
    "$FAULTPROXY" -l "$PROXY_PORT" -t "$PORT" -m "$PROXY_MODE" -d 300 &
    PROXY_PID=$!
    for _ in $(seq 1 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PROXY_PORT") 2>/dev/null && return 0
        sleep 0.02
    done
    echo "fault proxy did not start" >&2
    return 1
}

stop_proxy() {
    [ -n "${PROXY_PID:-}" ] && { kill "$PROXY_PID" && kill -CONT "$PROXY_PID"; } 2>/dev/null # (a stopped one too)
    PROXY_PID=
    return 0
}

# call_ms LINE: the duration a -T reply line reports.
call_ms() { sed -n 's/.* \[\([0-9.]*\) ms\]$/\1/p' <<<"$1"; }
# took LINE MIN [MAX]: the call of a -T reply line took MIN to MAX ms.
took() {
    awk -v ms="$(call_ms "$1")" -v lo="$2" -v hi="${3:-1e18}" 'BEGIN {exit !(ms != "" && ms >= lo && ms <= hi)}'
}
# reply_of LINE: the reply without its duration.
reply_of() { sed 's/ \[[0-9.]* ms\]$//' <<<"$1"; }

# For programs running in the background with their output in $OUT:
# `mark` remembers where the output is now, `since N` prints what came
# after line N, `wait_for` waits for lines after the mark.
mark() { MARK=$(wc -l < "$OUT"); }
since() { tail -n +"$(($1 + 1))" "$OUT"; }

# wait_for N REGEX: until N lines after the mark match (15 s at most).
wait_for() {
    local i
    for ((i = 0; i < 300; i++)); do
        [ "$(since "$MARK" | grep -cE "$2")" -ge "$1" ] && return 0
        sleep 0.05
    done
    echo "timed out waiting for $1 x '$2'; output since line $MARK:" >&2
    since "$MARK" | tail -n 20 >&2
    return 1
}

# kill_restart_script [CONNECT [READS]]: the program connects (CONNECT,
# default "connect"), Redis is killed, then restarted holding k=v2; READS
# reads follow (default 40, 50 ms apart), then the health document.
kill_restart_script() {
    cat <<SCRIPT
${1:-connect}
cmd SET k v1
cmd GET k
sh $REDISCTL kill $REDIS_DIR
echo killed
loop 6 100 cmd GET k
sh $REDISCTL start $REDIS_DIR $PORT && redis-cli -p $PORT set k v2 > /dev/null
echo restarted
loop ${2:-40} 50 cmd GET k
health
SCRIPT
}
