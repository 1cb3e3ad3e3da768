#!/usr/bin/env bats
# Breaker state shared by the processes of a user (issue 14, item 2):
# CACHEKIT_SHARED_STATE (default on) keeps each endpoint's breaker words in
# a small file every process maps, so failures of any process open the
# circuit for all, a process started while it is open is answered at once,
# and one probe or health check per host decides when it closes. Each test
# has a file of its own (helpers.bash). Faults are real: SIGSTOP, kill -9,
# a second uid, bytes written into the file.

load helpers

STATE_FILE() { echo "$CACHEKIT_SHARED_STATE"; }

# two_gets: a short-lived program: connect, two GETs, exit (ccache makes
# at most two Redis calls per compile).
two_gets() { printf 'connect\ncmd GET k\ncmd GET k\n'; }

# slowest_call: the slowest -T call time (ms, whole) in $output.
slowest_call() { sed -n 's/.* \[\([0-9]*\)\.[0-9] ms\]$/\1/p' <<<"$output" | sort -n | tail -1; }

@test "short-lived processes and a frozen Redis: after the first opens the circuit, each later one is answered at once (control: shared state off, each waits the timeout)" {
    start_redis
    rcli set k v1 > /dev/null
    "$REDISCTL" freeze "$REDIS_DIR"
    export THRESHOLD=1 CACHEKIT_SOCKET_TIMEOUT=0.3

    # control: every process starts with a closed circuit of its own
    local i slowest
    for i in 1 2 3; do
        CACHEKIT_SHARED_STATE=off run client_under_shim -T < <(two_gets)
        [ "$status" -eq 0 ]
        slowest=$(slowest_call)
        echo "shared state off, process $i: slowest call ${slowest} ms" >&2
        [ "$slowest" -ge 250 ]
    done
    [ ! -e "$(STATE_FILE)" ] # off: no file made

    # shared: the first process opens it for all
    run client_under_shim -T < <(two_gets)
    [ "$status" -eq 0 ]
    [ "$(slowest_call)" -ge 250 ]
    for i in 2 3 4 5 6; do
        run client_under_shim -T < <(two_gets)
        [ "$status" -eq 0 ]
        slowest=$(slowest_call)
        echo "shared state on, process $i: ${output//$'\n'/ | } (slowest ${slowest} ms)" >&2
        [ "$slowest" -lt 50 ]
        [ "$(grep -c '^nil' <<<"$output")" -eq 2 ] # answered: a nil, as on a miss
    done
    # the file: this user's, closed to others
    [ "$(stat -c '%U %a %F' "$(STATE_FILE)")" = "$(id -un) 600 regular file" ]
}

# ccache_compile N [env...]: compiles a source of its own (a local miss:
# ccache asks Redis, then stores there) under ccache with Redis remote
# storage; prints the wall time in ms; fails when the compile does.
ccache_compile() {
    local n=$1 dir=$BATS_TEST_TMPDIR/cc
    shift
    mkdir -p "$dir"
    echo "int f$n(void) { return $n; }" > "$dir/x$n.c"
    local start=$(date +%s%N)
    env CCACHE_DIR="$dir/cache" CCACHE_REMOTE_STORAGE="redis://127.0.0.1:$PORT" "$@" \
        ccache gcc -c "$dir/x$n.c" -o "$dir/x$n.o" 2>> "$BATS_TEST_TMPDIR/stderr" || return 1
    [ -s "$dir/x$n.o" ] || return 1
    echo $((($(date +%s%N) - start) / 1000000))
}

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

@test "ccache with Redis remote storage frozen: after the first compile opens the circuit, each compile takes its healthy time without the shim (+0.1 s); controls: ccache without the shim waits its 10 s, and with shared state off each compile waits" {
    [ -z "${CK_PROGRAMS_SKIP:-}" ] || skip "$CK_PROGRAMS_SKIP"
    command -v ccache > /dev/null || skip "ccache is not installed"
    start_redis
    # ccache's own operation timeout is 10 s: capped as a daemon's would be
    # (the sanitized runs: the preload reaches gcc and cc1 too, whose own
    # leaks LeakSanitizer would report; ASan's other checks stay on)
    local shim=(LD_PRELOAD="$SHIM" CACHEKIT_SOCKET_TIMEOUT_MAX=0.3 CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=1
                ASAN_OPTIONS=detect_leaks=0:abort_on_error=0)
    local i t plain=() open=()
    # control: ccache without the shim, Redis healthy
    for i in 1 2 3; do
        t=$(ccache_compile "$i" LD_PRELOAD=)
        plain+=("$t")
    done
    t=$(ccache_compile 4 "${shim[@]}")
    [ "$(rcli dbsize)" -ge 4 ] # they did use Redis, with and without the shim
    "$REDISCTL" freeze "$REDIS_DIR"

    # control: ccache without the shim, Redis frozen: its own timeout
    local plain_frozen
    plain_frozen=$(ccache_compile 9 LD_PRELOAD=)
    echo "frozen, without the shim: ${plain_frozen} ms" >&2
    [ "$plain_frozen" -ge 5000 ]
    # control: shared state off, every compile pays the (capped) timeout
    t=$(ccache_compile 10 "${shim[@]}" CACHEKIT_SHARED_STATE=off)
    echo "frozen, shared state off: ${t} ms" >&2
    [ "$t" -ge 300 ]

    t=$(ccache_compile 20 "${shim[@]}")
    echo "frozen, first compile (opens the circuit): ${t} ms" >&2
    [ "$t" -ge 300 ]
    for i in 21 22 23 24 25; do
        t=$(ccache_compile "$i" "${shim[@]}")
        open+=("$t")
    done
    local plain_median open_median
    plain_median=$(printf '%s\n' "${plain[@]}" | median)
    open_median=$(printf '%s\n' "${open[@]}" | median)
    echo "healthy without the shim: ${plain[*]} ms (median $plain_median); frozen, circuit open: ${open[*]} ms (median $open_median)" >&2
    [ "$open_median" -le $((plain_median + 100)) ]
    for t in "${open[@]}"; do
        [ "$t" -lt $((plain_median + 300)) ] # none waited a timeout
    done
    grep -q 'CLOSED -> OPEN' "$BATS_TEST_TMPDIR/stderr"
}

# background_client NAME SCRIPT [client options]: the client under the
# shim in the background, its stdout in $BATS_TEST_TMPDIR/NAME.out and
# stderr in NAME.err; its pid in BG_PID.
background_client() {
    local name=$1 script=$2
    shift 2
    env CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD="${THRESHOLD:-3}" \
        CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT="${COOLDOWN:-30}" \
        LD_PRELOAD="$SHIM" "$CLIENT" -p "$PORT" "$@" < "$script" \
        > "$BATS_TEST_TMPDIR/$name.out" 2> "$BATS_TEST_TMPDIR/$name.err" &
    BG_PID=$!
}

logged() { grep -q "$2" "$BATS_TEST_TMPDIR/$1.err"; }

# checked_down METRICS_FILE: the process's health check found Redis down
# at least once (it held the lease).
checked_down() { grep -qE '^cachekit_health_checks_total\{.*result="down"\} [1-9]' "$1" 2> /dev/null; }

@test "kill -9 of the process holding the probe does not stall recovery: the next process probes when the probe times out" {
    start_redis
    rcli set k v1 > /dev/null
    export THRESHOLD=1 COOLDOWN=0.3 CACHEKIT_SOCKET_CONNECT_TIMEOUT=0.2 CACHEKIT_SOCKET_TIMEOUT=1
    # A opens the circuit on a frozen Redis, then its next call probes and
    # hangs in it (1 s timeout), and A is killed while it holds the probe
    printf 'connect\ncmd GET k\nsh %s freeze %s\ncmd GET k\nsleep 400\ncmd GET k\nsleep 5000\n' \
        "$REDISCTL" "$REDIS_DIR" > "$BATS_TEST_TMPDIR/a.script"
    background_client a "$BATS_TEST_TMPDIR/a.script" -T
    local a=$BG_PID
    eventually 10 logged a 'OPEN -> HALF_OPEN'
    kill -9 "$a"
    wait "$a" 2> /dev/null || true
    "$REDISCTL" thaw "$REDIS_DIR"
    rcli set k v2 > /dev/null
    # B meets the circuit A left HALF_OPEN: it waits for A's probe to
    # time out (connect + socket timeout: 1.2 s), then probes itself
    printf 'connect\nloop 60 50 cmd GET k\n' > "$BATS_TEST_TMPDIR/b.script"
    run client_under_shim -T -A < "$BATS_TEST_TMPDIR/b.script"
    printf '%s\n' "$output" | runs >&2
    [ "$status" -eq 0 ]
    local first
    first=$(grep -m1 '^str v2' <<<"$output")
    [ -n "$first" ]
    echo "B live at ${first##*@} ms after its start" >&2
    [ "$(sed 's/.* @\([0-9]*\).*/\1/' <<<"$first")" -le 2000 ]
    grep -q 'HALF_OPEN -> HALF_OPEN (probe not settled in time, another call probes)' "$BATS_TEST_TMPDIR/stderr"
}

# checks_down JSON: the health document's health_checks.down.
checks_of() { sed -n "s/.*\"health_checks\":{\"up\":\([0-9]*\),\"down\":\([0-9]*\),.*/\1 \2/p" <<<"$1"; }

@test "one health check per host: a second process leaves it to the first, and takes over at once when the first is killed -9 (not when its 2.2 s lease lapses)" {
    start_redis
    rcli set k v1 > /dev/null
    unset CACHEKIT_HEALTH_CHECK_INTERVAL
    export CACHEKIT_HEALTH_CHECK_INTERVAL=0.2 CACHEKIT_SOCKET_CONNECT_TIMEOUT=0.2 CACHEKIT_SOCKET_TIMEOUT=0.3
    export THRESHOLD=1 COOLDOWN=60
    # the lease: 3 intervals + 2 x (connect + 2 x socket timeout) = 2.2 s
    printf 'connect\ncmd GET k\nsh %s freeze %s\ncmd GET k\nsleep 30000\n' "$REDISCTL" "$REDIS_DIR" \
        > "$BATS_TEST_TMPDIR/a.script"
    background_client a "$BATS_TEST_TMPDIR/a.script"
    local a=$BG_PID
    eventually 10 logged a 'CLOSED -> OPEN'
    cat > "$BATS_TEST_TMPDIR/b.script" << SCRIPT
connect
cmd GET k
sleep 1500
health
sh kill -9 $a
sh $REDISCTL thaw $REDIS_DIR && redis-cli -p $PORT set k v2 > /dev/null
echo restarted
loop 100 50 cmd GET k
health
SCRIPT
    run client_under_shim -A < "$BATS_TEST_TMPDIR/b.script"
    printf '%s\n' "$output" | runs >&2
    [ "$status" -eq 0 ]
    # while A lived, A checked (down, a frozen Redis) and B did not
    local before after
    before=$(grep -m1 '^health ' <<<"$output")
    [ "$(checks_of "$before")" = "0 0" ]
    # A is gone: B's check takes over when A's lease lapses, and closes it
    local ms
    ms=$(sed -n '/^restarted/,$p' <<<"$output" | grep -m1 '^str v2' | sed 's/.* @\([0-9]*\).*/\1/')
    local restarted
    restarted=$(grep -m1 '^restarted' <<<"$output" | sed 's/.* @\([0-9]*\).*/\1/')
    [ -n "$ms" ] && [ -n "$restarted" ]
    echo "B live $((ms - restarted)) ms after A was killed and Redis thawed" >&2
    [ $((ms - restarted)) -le 1000 ]
    after=$(grep '^health ' <<<"$output" | tail -1)
    [ "$(checks_of "$after" | cut -d' ' -f1)" -eq 1 ]
    grep -q 'OPEN -> CLOSED (health check: Redis answers)' "$BATS_TEST_TMPDIR/stderr"
    none grep 'HALF_OPEN' "$BATS_TEST_TMPDIR/stderr" # no program call probed
}

@test "a killed Redis restarted: two processes sharing state are both live within 1.5 s (default interval), closed by one check for both" {
    start_redis
    rcli set k v1 > /dev/null
    unset CACHEKIT_HEALTH_CHECK_INTERVAL
    export COOLDOWN=60
    printf 'connect\nloop 120 50 cmd GET k\nhealth\n' > "$BATS_TEST_TMPDIR/b.script"
    background_client b "$BATS_TEST_TMPDIR/b.script" -M
    local b=$BG_PID
    kill_restart_script connect 30 > "$BATS_TEST_TMPDIR/a.script"
    run client_under_shim -M < "$BATS_TEST_TMPDIR/a.script"
    wait "$b"
    printf '%s\n' "$output" | runs >&2
    runs < "$BATS_TEST_TMPDIR/b.out" >&2
    [ "$status" -eq 0 ]
    local restarted a_live b_live
    restarted=$(grep -m1 '^restarted' <<<"$output" | sed 's/.* @\([0-9]*\).*/\1/')
    a_live=$(sed -n '/^restarted/,$p' <<<"$output" | grep -m1 '^str v2' | sed 's/.* @\([0-9]*\).*/\1/')
    b_live=$(awk -v t="$restarted" '/^str v2/ {split($0, f, "@"); if (f[2] + 0 >= t + 0) {print int(f[2]); exit}}' \
        "$BATS_TEST_TMPDIR/b.out")
    [ -n "$restarted" ] && [ -n "$a_live" ] && [ -n "$b_live" ]
    echo "live after the restart: A $((a_live - restarted)) ms, B $((b_live - restarted)) ms" >&2
    [ $((a_live - restarted)) -le 1500 ]
    [ $((b_live - restarted)) -le 1500 ]
    # one check closed it for both
    local a_up b_up
    a_up=$(checks_of "$(grep '^health ' <<<"$output" | tail -1)" | cut -d' ' -f1)
    b_up=$(checks_of "$(grep '^health ' "$BATS_TEST_TMPDIR/b.out" | tail -1)" | cut -d' ' -f1)
    [ $((a_up + b_up)) -eq 1 ]
}

@test "another user's file at the path is refused with one diagnostic; the process keeps its own state" {
    [ "$(id -u)" -eq 0 ] || skip "needs root to run a second uid (setpriv)"
    start_redis
    # a directory both users reach (the test's own is closed to others)
    SCRATCH_DIR=$(mktemp -d /tmp/cachekit-shared.XXXXXX)
    local dir=$SCRATCH_DIR
    chmod 1777 "$dir"
    export CACHEKIT_SHARED_STATE=$dir/state
    # nobody's program makes the file
    printf 'connect\ncmd SET k v1\n' | setpriv --reuid=nobody --regid=nogroup --clear-groups \
        env LD_PRELOAD="$SHIM" "$CLIENT" -p "$PORT" > /dev/null
    [ "$(stat -c %U "$dir/state")" = nobody ]
    run client_under_shim < <(printf 'connect\ncmd GET k\ncmd GET k\n')
    [ "$status" -eq 0 ]
    assert_output_is $'connect ok\nstr v1\nstr v1'
    grep -q "CACHEKIT_SHARED_STATE: $dir/state cannot be used (it belongs to another user); each process keeps its own breaker state" \
        "$BATS_TEST_TMPDIR/stderr"
    [ "$(grep -c CACHEKIT_SHARED_STATE "$BATS_TEST_TMPDIR/stderr")" -eq 1 ]
    # its breaker is its own, and works: a frozen Redis opens it
    "$REDISCTL" freeze "$REDIS_DIR"
    THRESHOLD=1 CACHEKIT_SOCKET_TIMEOUT=0.2 run client_under_shim < <(two_gets)
    grep -q 'CLOSED -> OPEN' "$BATS_TEST_TMPDIR/stderr"
}

@test "a symbolic link, a file open to others, or another layout version at the path is refused and left as it is" {
    start_redis
    local dir=$BATS_TEST_TMPDIR/shared
    mkdir -p "$dir"
    export CACHEKIT_SHARED_STATE=$dir/state
    echo precious > "$dir/target"
    ln -s "$dir/target" "$dir/state"
    run client_under_shim < <(printf 'connect\ncmd SET k v1\n')
    assert_output_is $'connect ok\nstatus OK'
    grep -q "cannot be used (it is a symbolic link)" "$BATS_TEST_TMPDIR/stderr"
    [ "$(cat "$dir/target")" = precious ]

    rm "$dir/state"
    run client_under_shim < <(printf 'connect\ncmd GET k\n') # makes a good file
    [ "$(stat -c %a "$dir/state")" = 600 ]
    chmod 640 "$dir/state"
    run client_under_shim < <(printf 'connect\ncmd GET k\n')
    assert_output_is $'connect ok\nstr v1'
    grep -q "cannot be used (group or others may use it)" "$BATS_TEST_TMPDIR/stderr"

    # another version's file: the version word (after the 8-byte magic)
    chmod 600 "$dir/state"
    printf '\x63' | dd of="$dir/state" bs=1 seek=8 conv=notrunc status=none
    local before
    before=$(md5sum < "$dir/state")
    run client_under_shim < <(printf 'connect\ncmd GET k\n')
    assert_output_is $'connect ok\nstr v1'
    grep -q "cannot be used (it has another layout version)" "$BATS_TEST_TMPDIR/stderr"
    [ "$(md5sum < "$dir/state")" = "$before" ]
}

@test "a corrupt or truncated state file is rebuilt, and a process that maps the old one goes on unharmed" {
    start_redis
    rcli set k v1 > /dev/null
    # the shim's own name for its file: garbage in it is damage
    export CACHEKIT_SHARED_STATE=$BATS_TEST_TMPDIR/cachekit-$(id -u).state
    # A maps the file and keeps calling
    printf 'connect\nloop 60 50 cmd GET k\n' > "$BATS_TEST_TMPDIR/a.script"
    background_client a "$BATS_TEST_TMPDIR/a.script"
    local a=$BG_PID
    eventually 10 test -s "$(STATE_FILE)"
    # garbage over the header
    head -c 128 /dev/urandom | dd of="$(STATE_FILE)" conv=notrunc status=none
    run client_under_shim < <(printf 'connect\ncmd GET k\n')
    assert_output_is $'connect ok\nstr v1'
    grep -q "CACHEKIT_SHARED_STATE: $(STATE_FILE) was replaced (it is not a cachekit state file)" \
        "$BATS_TEST_TMPDIR/stderr"
    wait "$a"
    [ "$(grep -c '^str v1' "$BATS_TEST_TMPDIR/a.out")" -eq 60 ]
    none grep -v '^connect ok$\|^str v1$' "$BATS_TEST_TMPDIR/a.out"

    # truncated (by hand, no process maps it): rebuilt, and shared again
    truncate -s 100 "$(STATE_FILE)"
    run client_under_shim < <(printf 'connect\ncmd GET k\n')
    assert_output_is $'connect ok\nstr v1'
    grep -q "was replaced (it is short)" "$BATS_TEST_TMPDIR/stderr"
    [ "$(stat -c %s "$(STATE_FILE)")" -gt 100 ]
    "$REDISCTL" freeze "$REDIS_DIR"
    THRESHOLD=1 CACHEKIT_SOCKET_TIMEOUT=0.2 run client_under_shim -T < <(two_gets)
    THRESHOLD=1 run client_under_shim -T < <(two_gets)
    [ "$(slowest_call)" -lt 50 ] # the first one's open circuit, shared
}

@test "a setting that names some other file of the user: refused and left as it is (never replaced)" {
    start_redis
    local other=$BATS_TEST_TMPDIR/id_ed25519
    printf 'secret\n' > "$other"
    chmod 600 "$other"
    CACHEKIT_SHARED_STATE=$other run client_under_shim < <(printf 'connect\ncmd SET k v1\n')
    assert_output_is $'connect ok\nstatus OK'
    [ "$(cat "$other")" = secret ]
    grep -q "CACHEKIT_SHARED_STATE: $other cannot be used (it is not a cachekit state file)" \
        "$BATS_TEST_TMPDIR/stderr"
    # an empty file (a lock file: replacing it would break its flock) too;
    # under the shim's own name it is a state file truncated to nothing
    : > "$BATS_TEST_TMPDIR/app.lock"
    chmod 600 "$BATS_TEST_TMPDIR/app.lock"
    local inode
    inode=$(stat -c %i "$BATS_TEST_TMPDIR/app.lock")
    CACHEKIT_SHARED_STATE=$BATS_TEST_TMPDIR/app.lock run client_under_shim < <(printf 'connect\ncmd GET k\n')
    assert_output_is $'connect ok\nstr v1'
    grep -q "cannot be used (it is empty)" "$BATS_TEST_TMPDIR/stderr"
    [ "$(stat -c '%i %s' "$BATS_TEST_TMPDIR/app.lock")" = "$inode 0" ]
    local own=$BATS_TEST_TMPDIR/cachekit-$(id -u).state
    : > "$own"
    chmod 600 "$own"
    CACHEKIT_SHARED_STATE=$own run client_under_shim < <(printf 'connect\ncmd GET k\n')
    assert_output_is $'connect ok\nstr v1'
    grep -q "was replaced (it is empty)" "$BATS_TEST_TMPDIR/stderr"
    [ "$(stat -c %s "$own")" -gt 0 ]
}

# subscriber_quits OUT SECONDS: Redis::Fast's subscriber (started before)
# is subscribed within SECONDS, and gets the message "quit".
subscriber_quits() {
    eventually "$2" bash -c "[ \"\$(redis-cli -p $PORT pubsub numsub ch | tail -1)\" = 1 ]"
    rcli publish ch quit > /dev/null
    eventually 5 grep -q '^message quit$' "$1"
    wait "$BACKGROUND_PID"
    BACKGROUND_PID=
}

@test "an async subscriber with its checks off, on a circuit another process's check covers: subscribed again once that check closes it (control: without the shim, started while Redis is down)" {
    [ -z "${CK_PROGRAMS_SKIP:-}" ] || skip "$CK_PROGRAMS_SKIP"
    start_redis
    # control: Redis::Fast without the shim, started while Redis is down,
    # subscribes when it is back
    "$REDISCTL" kill "$REDIS_DIR"
    perl "$CK_ROOT/tests/apps/redis_fast_subscriber.pl" "$PORT" ch > "$BATS_TEST_TMPDIR/control.out" 2> /dev/null &
    BACKGROUND_PID=$!
    "$REDISCTL" start "$REDIS_DIR" "$PORT"
    subscriber_quits "$BATS_TEST_TMPDIR/control.out" 10
    rcli set k v1 > /dev/null
    # A: the check on, holds the lease of the shared circuit
    printf 'connect\ncmd GET k\nsh %s kill %s\nloop 160 50 cmd GET k\n' "$REDISCTL" "$REDIS_DIR" \
        > "$BATS_TEST_TMPDIR/a.script"
    THRESHOLD=1 CACHEKIT_HEALTH_CHECK_INTERVAL=0.2 background_client a "$BATS_TEST_TMPDIR/a.script"
    local a=$BG_PID
    eventually 10 logged a 'CLOSED -> OPEN'
    # B: Redis::Fast subscribing while the circuit is open (a placeholder
    # confirms it), its own checks off and a cooldown that would not end
    # before the test does
    env LSAN_OPTIONS=suppressions=$BATS_TEST_DIRNAME/perl.supp CACHEKIT_HEALTH_CHECK_INTERVAL=0 \
        CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=60 LD_PRELOAD="$SHIM" \
        perl "$CK_ROOT/tests/apps/redis_fast_subscriber.pl" "$PORT" ch > "$BATS_TEST_TMPDIR/b.out" \
        2> "$BATS_TEST_TMPDIR/b.err" &
    BACKGROUND_PID=$!
    eventually 10 grep -q '^subscribed$' "$BATS_TEST_TMPDIR/b.out"
    "$REDISCTL" start "$REDIS_DIR" "$PORT"
    eventually 5 logged a 'OPEN -> CLOSED (health check: Redis answers)'
    # B's placeholder ends (it looks every second) and Redis::Fast
    # subscribes again for real, as without the shim
    subscriber_quits "$BATS_TEST_TMPDIR/b.out" 5
    kill "$a" 2> /dev/null || true
    [ "$(cat "$BATS_TEST_TMPDIR/b.out")" = "$(cat "$BATS_TEST_TMPDIR/control.out")" ]
}

@test "no room for the file (a full tmpfs, a file size limit): refused with a diagnostic, never a SIGBUS or SIGXFSZ" {
    start_redis
    rcli set k v1 > /dev/null
    # a file size limit below the file's 8320 bytes: writing it would
    # raise SIGXFSZ in the program
    run bash -c "ulimit -f 4; CACHEKIT_SHARED_STATE=$BATS_TEST_TMPDIR/f.state LD_PRELOAD='$SHIM' \
        '$CLIENT' -p $PORT 2> '$BATS_TEST_TMPDIR/stderr'" < <(printf 'connect\ncmd GET k\n')
    [ "$status" -eq 0 ]
    assert_output_is $'connect ok\nstr v1'
    grep -q "cannot be used (File too large)" "$BATS_TEST_TMPDIR/stderr"
    [ ! -e "$BATS_TEST_TMPDIR/f.state" ]

    [ "$(id -u)" -eq 0 ] || skip "needs root to mount a small tmpfs"
    command -v unshare > /dev/null || skip "no unshare"
    # a tmpfs of 8 KB cannot hold the file; one of 64 KB can, and is then
    # filled: a process that maps the file then writes a slot of its pages
    # (the file's pages were all allocated when it was made)
    cat > "$BATS_TEST_TMPDIR/full.sh" << SCRIPT
set -u
mnt=$BATS_TEST_TMPDIR/mnt
mkdir -p \$mnt
mount -t tmpfs -o size=8k tmpfs \$mnt
printf 'connect\ncmd GET k\n' | CACHEKIT_SHARED_STATE=\$mnt/s.state LD_PRELOAD='$SHIM' '$CLIENT' -p $PORT
echo "rc \$?"
umount \$mnt
mount -t tmpfs -o size=64k tmpfs \$mnt
printf 'connect\ncmd GET k\n' | CACHEKIT_SHARED_STATE=\$mnt/s.state LD_PRELOAD='$SHIM' '$CLIENT' -p $PORT
dd if=/dev/zero of=\$mnt/filler bs=4k status=none 2> /dev/null
for port in 21002 21003 21004 21005 21006 21007 21008 21009 $PORT; do
    printf 'connect\ncmd GET k\n' | CACHEKIT_SHARED_STATE=\$mnt/s.state LD_PRELOAD='$SHIM' '$CLIENT' -p \$port > /dev/null
    echo "rc \$?"
done
umount \$mnt
SCRIPT
    run unshare -m bash -c "bash '$BATS_TEST_TMPDIR/full.sh' 2> '$BATS_TEST_TMPDIR/stderr'"
    printf '%s\n' "$output" >&2
    cat "$BATS_TEST_TMPDIR/stderr" >&2
    [ "$status" -eq 0 ]
    grep -q "cannot be used (No space left on device)" "$BATS_TEST_TMPDIR/stderr"
    [ "$(grep -c '^str v1' <<<"$output")" -eq 2 ]
    [ "$(grep -c '^rc 0$' <<<"$output")" -eq 10 ] # no SIGBUS (rc 135)
}

@test "short-lived processes after an outage whose lease holder was stopped by SIGTERM: live within 1.5 s (or 3 processes) of Redis returning (a check cut short by an exit leaves it due)" {
    start_redis
    rcli set k v1 > /dev/null
    # a 0.5 s interval: a lease of 3 x 0.5 + 2 x (2 + 2 x 0.3) = 6.7 s
    export CACHEKIT_HEALTH_CHECK_INTERVAL=0.5 THRESHOLD=1 CACHEKIT_SOCKET_TIMEOUT=0.3
    # A opens the circuit on a frozen Redis, its check holds the lease;
    # SIGTERM (no exit handlers: the lease is not given back)
    printf 'connect\ncmd GET k\nsh %s freeze %s\ncmd GET k\nsleep 30000\n' "$REDISCTL" "$REDIS_DIR" \
        > "$BATS_TEST_TMPDIR/a.script"
    CACHEKIT_METRICS_FILE=$BATS_TEST_TMPDIR/a.prom CACHEKIT_METRICS_INTERVAL=0.1 \
        background_client a "$BATS_TEST_TMPDIR/a.script"
    local a=$BG_PID
    eventually 10 logged a 'CLOSED -> OPEN'
    eventually 10 checked_down "$BATS_TEST_TMPDIR/a.prom" # its check holds the lease
    kill -TERM "$a"
    wait "$a" 2> /dev/null || true
    "$REDISCTL" thaw "$REDIS_DIR"
    local thawed=$(date +%s%N) i live=""
    # short-lived programs, 100 ms apart, each a GET, 50 ms of work, a GET
    for i in $(seq 1 40); do
        run client_under_shim < <(printf 'connect\ncmd GET k\nsleep 50\ncmd GET k\n')
        if grep -q '^str v1' <<<"$output"; then
            live=$((($(date +%s%N) - thawed) / 1000000))
            break
        fi
        sleep 0.1
    done
    [ -n "$live" ]
    echo "the first live answer ${live} ms after the thaw, in process $i" >&2
    # within 1.5 s, or (where ThreadSanitizer makes each process take over
    # a second) by the third process after the thaw; a lease waited out
    # would take 6.7 s, many processes
    [ "$live" -le 1500 ] || [ "$i" -le 3 ]
}


@test "two servers behind one name are two breakers: a relative Unix socket path, and the same address in another network namespace" {
    # relative paths: ua/redis.sock and ub/redis.sock, both "unix:redis.sock"
    local a=$BATS_TEST_TMPDIR/ua b=$BATS_TEST_TMPDIR/ub pa pb
    pa=$(ck_free_port) && "$REDISCTL" start "$a" "$pa" --unixsocket "$a/redis.sock"
    pb=$(ck_free_port) && "$REDISCTL" start "$b" "$pb" --unixsocket "$b/redis.sock"
    redis-cli -s "$b/redis.sock" set k fromB > /dev/null
    "$REDISCTL" freeze "$a"
    (cd "$a" && THRESHOLD=1 CACHEKIT_SOCKET_TIMEOUT=0.2 client_under_shim -s redis.sock < <(printf 'connect-unix\ncmd GET k\ncmd GET k\n')) > /dev/null
    grep -q 'CLOSED -> OPEN' "$BATS_TEST_TMPDIR/stderr"
    run bash -c "cd '$b' && CACHEKIT_SHARED_STATE='$CACHEKIT_SHARED_STATE' LD_PRELOAD='$SHIM' '$CLIENT' -s redis.sock" \
        < <(printf 'connect-unix\ncmd GET k\n')
    "$REDISCTL" thaw "$a"
    "$REDISCTL" kill "$a"
    "$REDISCTL" kill "$b"
    assert_output_is $'connect ok\nstr fromB'

    # another network namespace, the same 127.0.0.1:PORT
    [ "$(id -u)" -eq 0 ] || skip "needs root for a network namespace"
    start_redis
    "$REDISCTL" freeze "$REDIS_DIR"
    THRESHOLD=1 CACHEKIT_SOCKET_TIMEOUT=0.2 run client_under_shim < <(two_gets)
    grep -q 'CLOSED -> OPEN' "$BATS_TEST_TMPDIR/stderr"
    run unshare -n bash -c "ip link set lo up
        redis-server --bind 127.0.0.1 --port $PORT --save '' --appendonly no --dir '$BATS_TEST_TMPDIR' \
            --daemonize yes --pidfile '$BATS_TEST_TMPDIR/ns.pid' --logfile '$BATS_TEST_TMPDIR/ns.log' 3>&-
        for _ in \$(seq 1 100); do redis-cli -p $PORT ping 2> /dev/null | grep -q PONG && break; sleep 0.05; done
        redis-cli -p $PORT set k netns > /dev/null
        printf 'connect\ncmd GET k\n' | CACHEKIT_SHARED_STATE='$CACHEKIT_SHARED_STATE' LD_PRELOAD='$SHIM' '$CLIENT' -p $PORT
        kill \$(cat '$BATS_TEST_TMPDIR/ns.pid')"
    assert_output_is $'connect ok\nstr netns'
}

@test "a process whose check thread went to sleep after an earlier outage wakes when another process opens the circuit, and takes over from it when it is killed" {
    start_redis
    rcli set k v1 > /dev/null
    unset CACHEKIT_HEALTH_CHECK_INTERVAL
    # a lease of 3 x 0.2 + 2 x (1 + 2 x 1) = 6.6 s, and a 60 s cooldown: a
    # thread that stays asleep leaves A refused for that long
    export CACHEKIT_HEALTH_CHECK_INTERVAL=0.2 CACHEKIT_SOCKET_CONNECT_TIMEOUT=1 CACHEKIT_SOCKET_TIMEOUT=1 COOLDOWN=60
    printf 'connect\nloop 400 50 cmd GET k\n' > "$BATS_TEST_TMPDIR/a.script"
    background_client a "$BATS_TEST_TMPDIR/a.script" -M
    local a=$BG_PID
    # outage 1, A's own: its thread starts, closes the circuit, sleeps
    "$REDISCTL" kill "$REDIS_DIR"
    eventually 10 logged a 'CLOSED -> OPEN'
    "$REDISCTL" start "$REDIS_DIR" "$PORT"
    rcli set k v1 > /dev/null
    eventually 10 logged a 'OPEN -> CLOSED (health check'
    # outage 2, opened by B, whose check holds the lease; then B is killed
    printf 'connect\ncmd GET k\nsh %s freeze %s\ncmd GET k\nsleep 30000\n' "$REDISCTL" "$REDIS_DIR" \
        > "$BATS_TEST_TMPDIR/b.script"
    THRESHOLD=1 CACHEKIT_METRICS_FILE=$BATS_TEST_TMPDIR/b.prom CACHEKIT_METRICS_INTERVAL=0.1 \
        background_client b "$BATS_TEST_TMPDIR/b.script"
    local b=$BG_PID
    eventually 10 logged b 'CLOSED -> OPEN'
    eventually 10 checked_down "$BATS_TEST_TMPDIR/b.prom" # B's check holds the lease
    kill -9 "$b"
    wait "$b" 2> /dev/null || true
    printf 'sh %s thaw %s && redis-cli -p %s set k v2 > /dev/null\necho thawed\n' "$REDISCTL" "$REDIS_DIR" "$PORT" |
        "$CLIENT" -p "$PORT" -M > "$BATS_TEST_TMPDIR/thaw.out"
    local thawed live
    thawed=$(sed -n 's/^thawed @\([0-9]*\).*/\1/p' "$BATS_TEST_TMPDIR/thaw.out")
    eventually 10 grep -q '^str v2' "$BATS_TEST_TMPDIR/a.out"
    live=$(awk '/^str v2/ {split($0, f, "@"); print int(f[2]); exit}' "$BATS_TEST_TMPDIR/a.out")
    kill "$a" 2> /dev/null || true
    echo "A live $((live - thawed)) ms after B was killed and Redis thawed" >&2
    [ $((live - thawed)) -le 1500 ]
}
