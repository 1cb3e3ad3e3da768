#!/usr/bin/env bats
# Daemons and forks (issue 12): the shim never touches a descriptor it
# does not own, starts its exporter only in a process that talks to Redis,
# and writes to stderr only while fd 2 is the stderr the program started
# with.

load helpers

FD_DAEMON=$CK_BUILD/tests/apps/fd_daemon

# The port answers (an HTTP request gets any status line).
port_answers() { curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/metrics" | grep -qE '^[1-5][0-9][0-9]$'; }

@test "a process that never talks to Redis (true, sh) writes no metrics file and takes no port" {
    local T=$BATS_TEST_TMPDIR mport
    mport=$(ck_free_port)
    CACHEKIT_METRICS_FILE="$T/true.prom" CACHEKIT_METRICS_LISTEN="127.0.0.1:$mport" LD_PRELOAD="$SHIM" /bin/true
    [ ! -e "$T/true.prom" ]
    CACHEKIT_METRICS_FILE="$T/sh.prom" CACHEKIT_METRICS_LISTEN="127.0.0.1:$mport" LD_PRELOAD="$SHIM" \
        sh -c "sleep 0.5" &
    BACKGROUND_PID=$!
    sleep 0.2
    run port_answers "$mport"
    [ "$status" -ne 0 ] # nobody listens while it runs
    wait "$BACKGROUND_PID"
    BACKGROUND_PID=
    [ ! -e "$T/sh.prom" ]
}

@test "CACHEKIT_METRICS_FILE: %p and %e name each process's own file" {
    start_redis
    local T=$BATS_TEST_TMPDIR
    printf 'connect\ncmd PING\npid\n' > "$T/script"
    CACHEKIT_METRICS_FILE="$T/m-%e-%p.prom" run client_under_shim < "$T/script"
    [ "$status" -eq 0 ]
    local pid; pid=$(sed -n 's/^pid //p' <<< "$output")
    [ -s "$T/m-scripted_client-$pid.prom" ]
    grep -q "pid=\"$pid\"" "$T/m-scripted_client-$pid.prom"
}

@test "a daemon that forks, closes fds 3-1023 and opens its own files on those numbers: its files untouched, no busy exporter, metrics in the child's own file" {
    start_redis
    local T=$BATS_TEST_TMPDIR mport
    mport=$(ck_free_port)
    CACHEKIT_METRICS_FILE="$T/m-%p.prom" CACHEKIT_METRICS_INTERVAL=0.1 CACHEKIT_METRICS_LISTEN="127.0.0.1:$mport" \
        LD_PRELOAD="$SHIM" run timeout 60 "$FD_DAEMON" -p "$PORT" -d "$T" -m close -t 1000
    printf '%s\n' "$output" >&2
    [ "$status" -eq 0 ]
    [ "$(grep -c '^fd[3-8] ok$' <<< "$output")" -eq 6 ]
    grep -qx 'files intact' <<< "$output"
    # the exporter thread does not spin on a descriptor that is not its own
    local cpu; cpu=$(sed -n 's/^cpu_ms //p' <<< "$output")
    [ "$cpu" -lt 200 ]
    # parent and child each wrote their own metrics file
    [ "$(find "$T" -name 'm-*.prom' | wc -l)" -eq 2 ]
}

@test "a child that closes fds wholesale, reuses the numbers, then frees an async placeholder it inherited: its files untouched (control: plain hiredis)" {
    start_redis
    local T=$BATS_TEST_TMPDIR dead plain_broken
    dead=$(ck_free_port)
    mkdir "$T/plain" "$T/shim"
    run timeout 60 "$FD_DAEMON" -p "$PORT" -d "$T/plain" -m close -t 10 -a "$dead"
    printf '%s\n' "$output" >&2
    # plain hiredis closes the number of a context still connecting (its
    # own descriptor): a program's bug, the same with or without the shim
    plain_broken=$(grep -c '^fd[3-8] failed' <<< "$output" || true)
    [ "$plain_broken" -le 1 ]
    CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=1 LD_PRELOAD="$SHIM" run timeout 60 "$FD_DAEMON" -p "$PORT" -d "$T/shim" -m close \
        -t 10 -a "$dead"
    printf '%s\n' "$output" >&2
    [ "$status" -eq 0 ]
    grep -qx 'async socket pair' <<< "$output" # the placeholder, inherited by the child
    [ "$(grep -c '^fd[3-8] ok$' <<< "$output")" -eq 6 ]
    grep -qx 'files intact' <<< "$output"
}

@test "two processes sharing the metrics port after a fork: requests are answered, and both exit at once" {
    start_redis
    local T=$BATS_TEST_TMPDIR mport
    mport=$(ck_free_port)
    # (they live 4 s: the 20 scrapes below must fit in that, also when a
    # loaded machine makes each take 100 ms or more)
    CACHEKIT_METRICS_LISTEN="127.0.0.1:$mport" LD_PRELOAD="$SHIM" "$FD_DAEMON" -p "$PORT" -d "$T" -m share -t 4000 \
        > "$T/out" &
    BACKGROUND_PID=$!
    local i answered=0
    for i in $(seq 1 20); do
        [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/metrics")" = 200 ] &&
            answered=$((answered + 1))
        sleep 0.02
    done
    [ "$answered" -ge 18 ]
    # no exporter thread is left waiting in accept4 (syscall 288 on
    # x86_64) for a connection the other process took
    sleep 0.2
    local blocked=0 task
    for task in /proc/"$BACKGROUND_PID"/task/* /proc/"$(pgrep -P "$BACKGROUND_PID")"/task/*; do
        [ "$(cut -d' ' -f1 "$task/syscall" 2>/dev/null)" = 288 ] && blocked=$((blocked + 1))
    done
    [ "$blocked" -eq 0 ]
    # both exit within 3 s of the end of their 4 s (no exporter left
    # blocked in accept, holding exit in pthread_join)
    for i in $(seq 1 60); do kill -0 "$BACKGROUND_PID" 2>/dev/null || break; sleep 0.1; done
    local alive=0
    kill -0 "$BACKGROUND_PID" 2>/dev/null && alive=1
    pkill -9 -P "$BACKGROUND_PID" 2>/dev/null || true # (a process left hanging)
    kill -9 "$BACKGROUND_PID" 2>/dev/null || true
    wait "$BACKGROUND_PID" || true
    BACKGROUND_PID=
    [ "$alive" -eq 0 ]
    grep -qx 'child exit 0' "$T/out"
}

@test "fd 2 closed and its number reused by the program: no shim line is written into the program's file" {
    start_redis
    local T=$BATS_TEST_TMPDIR
    cat > "$T/script" <<SCRIPT
connect
reuse-stderr $T/own-file
sh $REDISCTL kill $REDIS_DIR
cmd GET a
cmd GET a
SCRIPT
    CACHEKIT_METRICS_FILE="$T/m.prom" THRESHOLD=1 run client_under_shim < "$T/script"
    [ "$status" -eq 0 ]
    grep -qx 'reuse-stderr ok' <<< "$output"
    # the circuit opened (the log line it would have written is counted)
    [ ! -s "$T/own-file" ]
    awk '/^cachekit_log_lines_dropped_total/ {n += $NF} END {exit !(n >= 1)}' "$T/m.prom"
    grep -q 'cachekit_circuit_breaker_opens_total{.*} 1' "$T/m.prom"
}

@test "audit: the program closes the exporter's descriptors in its own process and reuses the numbers: its files untouched, also at exit; no spin; exit status 0" {
    start_redis
    local T=$BATS_TEST_TMPDIR mport
    mport=$(ck_free_port)
    CACHEKIT_METRICS_FILE="$T/m.prom" CACHEKIT_METRICS_INTERVAL=0.1 CACHEKIT_METRICS_LISTEN="127.0.0.1:$mport" \
        LD_PRELOAD="$SHIM" run timeout 60 "$FD_DAEMON" -p "$PORT" -d "$T" -m same -t 1000
    printf '%s\n' "$output" >&2
    [ "$status" -eq 0 ] # (not killed by SIGPIPE at exit)
    [ "$(grep -c '^fd[3-8] ok$' <<< "$output")" -eq 6 ]
    [ "$(sed -n 's/^cpu_ms //p' <<< "$output")" -lt 200 ]
    # after exit too: nothing of the shim's in the program's files
    local n
    printf "the child's own line\n" > "$T/expected"
    for n in 3 4 5 6 7 8; do cmp "$T/expected" "$T/own$n"; done
    # the HTTP port is gone with the socket the program closed, and nobody
    # answers in the program's name
    run port_answers "$mport"
    [ "$status" -ne 0 ]
}

@test "audit: CACHEKIT_METRICS_FILE with %e of an empty or long program name, and a program name cut at a character boundary" {
    start_redis
    local T=$BATS_TEST_TMPDIR long
    long=$(printf 'n%.0s' $(seq 1 240))
    mkdir -p "$T/names" "$T/mf"
    ln -s "$CLIENT" "$T/names/$long"
    printf 'connect\ncmd PING\n' | CACHEKIT_METRICS_FILE="$T/mf/%e.prom" LD_PRELOAD="$SHIM" "$T/names/$long" -p "$PORT" \
        > /dev/null 2> "$T/stderr"
    [ -s "$T/mf/$long.prom" ]
    printf 'connect\ncmd PING\n' | CACHEKIT_METRICS_FILE="$T/mf/[%e].prom" LD_PRELOAD="$SHIM" \
        bash -c 'exec -a "" "$0" -p "$1"' "$CLIENT" "$PORT" > /dev/null 2>> "$T/stderr"
    [ -s "$T/mf/[].prom" ]
    local utf8; utf8="ab$(printf 'é%.0s' $(seq 1 100))"
    ln -s "$CLIENT" "$T/names/$utf8"
    printf 'connect\ncmd PING\n' | CACHEKIT_METRICS_FILE="$T/mf/u.prom" LD_PRELOAD="$SHIM" "$T/names/$utf8" -p "$PORT" \
        > /dev/null 2>> "$T/stderr"
    iconv -f UTF-8 -t UTF-8 "$T/mf/u.prom" > /dev/null
}

@test "audit: a child that closes fds wholesale and keeps an async placeholder it inherited: the deadline thread never shuts down the child's own sockets" {
    start_redis
    local T=$BATS_TEST_TMPDIR dead
    dead=$(ck_free_port)
    CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=1 CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=0.5 \
        CACHEKIT_SOCKET_TIMEOUT=0.5 LD_PRELOAD="$SHIM" run timeout 60 "$FD_DAEMON" -p "$PORT" -d "$T" -m close -s -k -t 800 \
        -a "$dead"
    printf '%s\n' "$output" >&2
    grep -qx 'async socket pair' <<< "$output"
    [ "$(grep -c '^fd[0-9]* ok$' <<< "$output")" -eq 16 ]
    grep -qx 'pairs intact' <<< "$output"
    [ "$status" -eq 0 ]
}
