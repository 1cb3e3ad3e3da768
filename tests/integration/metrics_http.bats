#!/usr/bin/env bats
# The metrics endpoint under clients that trickle, idle, send garbage or
# too much (issue 12): one slow client costs the others nothing, bad
# requests are answered at once, and the program's exit never waits for a
# client.

load helpers

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# start_exporting [SCRIPT LINES...]: the client under the shim, connected
# and serving metrics on $MPORT, in the background until it has slept 8 s
# (or the test ends it); returns once the port answers.
start_exporting() {
    start_redis
    MPORT=$(ck_free_port)
    printf 'connect\ncmd SET k v\nsleep 8000\n' > "$BATS_TEST_TMPDIR/script"
    env CACHEKIT_METRICS_LISTEN="127.0.0.1:$MPORT" LD_PRELOAD="$SHIM" "$CLIENT" -p "$PORT" \
        < "$BATS_TEST_TMPDIR/script" > /dev/null 2> "$BATS_TEST_TMPDIR/stderr" &
    BACKGROUND_PID=$!
    endpoint_answers
}

# endpoint_answers: waits (5 s at most) until $MPORT serves /health.
endpoint_answers() { eventually 5 curl -s -m 1 -o /dev/null "http://127.0.0.1:$MPORT/health"; }

# raw_request BYTES: sends them (printf format) and prints the answer's
# status line; 3 s at most.
raw_request() {
    timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; printf "$2" >&3; head -n 1 <&3' _ "$MPORT" "$1" | tr -d '\r'
}

# send_requests N: N clients that each send a whole request and do not
# read yet; their descriptors are appended to the array fds.
send_requests() {
    local i fd
    for ((i = 0; i < $1; i++)); do
        exec {fd}<> "/dev/tcp/127.0.0.1/$MPORT"
        printf 'GET /health HTTP/1.1\r\n\r\n' >&"$fd"
        fds+=("$fd")
    done
}

# trickle SECONDS: a client that sends one byte of a request every 100 ms
# and never finishes it, in the background ($TRICKLER, stopped by teardown).
trickle() {
    bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; for ((i = 0; i < $2 * 10; i++)); do printf G >&3 || exit 0; sleep 0.1; done' \
        _ "$MPORT" "$1" 2> /dev/null &
    TRICKLER=$!
}

@test "a client trickling its request costs a scrape nothing" {
    start_exporting
    trickle 5
    sleep 0.3 # it holds its connection
    local before after code
    before=$(now_ms)
    code=$(curl -s -m 5 -o "$BATS_TEST_TMPDIR/scrape" -w '%{http_code}' "http://127.0.0.1:$MPORT/metrics")
    after=$(now_ms)
    echo "scrape: $code in $((after - before)) ms" >&2
    [ "$code" = 200 ]
    grep -q '^cachekit_calls_total{' "$BATS_TEST_TMPDIR/scrape"
    [ $((after - before)) -lt 1000 ] # one connection at a time: ~1.7 s (the trickler's 2 s deadline)
}

@test "50 idle sockets: scrapes are answered at once, the oldest idle ones are let go" {
    start_exporting
    local i fds=()
    for ((i = 0; i < 50; i++)); do
        exec {fd}<> "/dev/tcp/127.0.0.1/$MPORT"
        fds+=("$fd")
    done
    sleep 0.2
    local before after code
    for i in 1 2 3; do
        before=$(now_ms)
        code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/metrics")
        after=$(now_ms)
        echo "scrape $i: $code in $((after - before)) ms" >&2
        [ "$code" = 200 ]
        [ $((after - before)) -lt 1000 ]
    done
    # the idle sockets beyond the endpoint's 32 connections were closed
    # by it (read gives end of file at once), the newest are still held
    local closed=0
    for fd in "${fds[@]}"; do
        if timeout 0.2 cat <&"$fd" > /dev/null; then closed=$((closed + 1)); fi
        exec {fd}<&-
    done
    echo "closed by the endpoint: $closed of 50" >&2
    [ "$closed" -ge 18 ]
    [ "$closed" -lt 50 ]
}

@test "a request with a bare LF line end or a NUL is answered 400 at once" {
    start_exporting
    local before after
    before=$(now_ms)
    run raw_request 'GET /metrics HTTP/1.0\n\n'
    after=$(now_ms)
    [ "$output" = "HTTP/1.1 400 Bad Request" ]
    [ $((after - before)) -lt 1000 ] # not left to the 2 s deadline
    before=$(now_ms)
    run raw_request 'GET /metrics\0 HTTP/1.1\r\n\r\n'
    after=$(now_ms)
    [ "$output" = "HTTP/1.1 400 Bad Request" ]
    [ $((after - before)) -lt 1000 ]
    run raw_request 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n' # the well-formed one still works
    [ "$output" = "HTTP/1.1 200 OK" ]
    run raw_request 'BREW /metrics HTTP/1.1\r\n\r\n'
    [ "$output" = "HTTP/1.1 405 Method Not Allowed" ]
    run raw_request '\r\n\r\n'
    [ "$output" = "HTTP/1.1 400 Bad Request" ]
}

@test "a request over 4 KiB gets a 431 the client can read (no reset), then the endpoint serves on" {
    start_exporting
    local big code
    big=$(head -c 6000 /dev/zero | tr '\0' a)
    # curl sends it all before it reads: a close with unread bytes would
    # reset the connection and lose the answer (curl: exit 56)
    run curl -s -m 5 -o /dev/null -w '%{http_code}' -H "X-Big: $big" "http://127.0.0.1:$MPORT/metrics"
    echo "curl: status $status, $output" >&2
    [ "$status" -eq 0 ]
    [ "$output" = 431 ]
    # a 64 KiB request that keeps coming after the answer, read by a client that then reads the answer
    big=$(head -c 65536 /dev/zero | tr '\0' a)
    run curl -s -m 5 -o /dev/null -w '%{http_code}' -H "X-Big: $big" "http://127.0.0.1:$MPORT/metrics"
    [ "$status" -eq 0 ]
    [ "$output" = 431 ]
    code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/metrics")
    [ "$code" = 200 ]
}

@test "the program's exit is not held by a client trickling bytes" {
    start_redis
    local T=$BATS_TEST_TMPDIR mport
    mport=$(ck_free_port)
    MPORT=$mport
    {
        echo connect
        echo "cmd SET k v"
        echo "sh curl -s -m 2 -o /dev/null http://127.0.0.1:$mport/health"
        echo "sh env -u LD_PRELOAD bash -c 'exec 3<>/dev/tcp/127.0.0.1/$mport; for ((i = 0; i < 50; i++)); do printf G >&3 || exit 0; sleep 0.1; done' > /dev/null 2>&1 & echo \$! > $T/trickler"
        echo "sleep 300"
        echo "sh date +%s%N > $T/last"
    } > "$T/script"
    PORT=$PORT CACHEKIT_METRICS_LISTEN="127.0.0.1:$mport" run client_under_shim < "$T/script"
    local exited
    exited=$(date +%s%N)
    TRICKLER=$(cat "$T/trickler")
    cat "$T/stderr" >&2
    [ "$status" -eq 0 ]
    local delay_ms=$(((exited - $(cat "$T/last")) / 1000000))
    echo "exit took $delay_ms ms after the program's last step" >&2
    none grep 'did not stop' "$T/stderr"
    [ "$delay_ms" -lt 500 ] # the stop is seen within 100 ms; the rest is process exit
}

@test "audit: a connection's number closed and reused by the program: the exporter never reads, writes or shuts down the program's socket" {
    start_redis
    local T=$BATS_TEST_TMPDIR mport
    mport=$(ck_free_port)
    MPORT=$mport
    CACHEKIT_METRICS_LISTEN="127.0.0.1:$mport" LD_PRELOAD="$SHIM" timeout 60 "$CK_BUILD/tests/apps/fd_daemon" -p "$PORT" -d "$T" \
        -m same -s -w "$T/go" -t 300 > "$T/out" 2> "$T/stderr" &
    BACKGROUND_PID=$!
    endpoint_answers
    # a client whose request is not finished holds a slot (a low number)
    exec {held}<> "/dev/tcp/127.0.0.1/$mport"
    printf 'GET /metrics HTTP/1.1\r\n' >&"$held"
    sleep 0.2
    touch "$T/go" # the program closes fds 3-1023 and makes socket pairs on 3-8
    wait "$BACKGROUND_PID" || true
    BACKGROUND_PID=
    exec {held}<&-
    cat "$T/out" >&2
    grep -qx 'pairs intact' "$T/out"
    [ "$(grep -c '^fd[0-9]* ok$' "$T/out")" -eq 16 ]
}

@test "audit: the program closes the exporter's wake socket: the endpoint keeps serving" {
    start_redis
    local T=$BATS_TEST_TMPDIR
    MPORT=$(ck_free_port)
    printf 'connect\ncmd SET k v\nclose-last-unix-socket\nsleep 3000\n' > "$T/script"
    env CACHEKIT_METRICS_LISTEN="127.0.0.1:$MPORT" LD_PRELOAD="$SHIM" "$CLIENT" -p "$PORT" < "$T/script" \
        > "$T/out" 2> "$T/stderr" &
    BACKGROUND_PID=$!
    local i
    for ((i = 0; i < 40; i++)); do grep -q '^closed' "$T/out" && break; sleep 0.05; done
    grep -qx 'closed a unix socket' "$T/out"
    sleep 0.2
    run curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/health"
    [ "$output" = 200 ]
    run curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/metrics"
    [ "$output" = 200 ]
}

@test "audit: out of descriptors (ulimit -n 24) with 40 idle sockets: a scrape is answered within a second, the exporter does not spin" {
    start_redis
    local T=$BATS_TEST_TMPDIR
    MPORT=$(ck_free_port)
    printf 'connect\ncmd SET k v\nsleep 6000\n' > "$T/script"
    bash -c 'ulimit -n 24; exec "$@"' _ env CACHEKIT_METRICS_LISTEN="127.0.0.1:$MPORT" LD_PRELOAD="$SHIM" "$CLIENT" \
        -p "$PORT" < "$T/script" > /dev/null 2> "$T/stderr" &
    BACKGROUND_PID=$!
    endpoint_answers
    local i
    for ((i = 0; i < 40; i++)); do exec {fd}<> "/dev/tcp/127.0.0.1/$MPORT"; done
    sleep 0.3
    local before after code ticks_before ticks_after
    ticks_before=$(awk '{print $14 + $15}' "/proc/$BACKGROUND_PID/stat")
    before=$(now_ms)
    code=$(curl -s -m 8 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/metrics")
    after=$(now_ms)
    echo "scrape: $code in $((after - before)) ms" >&2
    [ "$code" = 200 ]
    [ $((after - before)) -lt 1000 ] # idle slots waited out their 2 s deadline before
    sleep 1
    ticks_after=$(awk '{print $14 + $15}' "/proc/$BACKGROUND_PID/stat")
    echo "CPU: $((ticks_after - ticks_before)) ticks in $((after - before + 1000)) ms" >&2
    [ $((ticks_after - ticks_before)) -lt 50 ] # not a busy loop (100 ticks a second)
}

@test "audit: a burst of clients while every slot holds an answered client: every request that arrived is answered, none dropped unread" {
    start_exporting
    fds=()
    # 32 clients get their answers and keep their sockets open: every slot
    # is draining (for up to 1 s)
    send_requests 32
    # 8 more arrive while the exporter is stopped: one turn takes them all
    kill -STOP "$BACKGROUND_PID"
    send_requests 8
    kill -CONT "$BACKGROUND_PID"
    sleep 0.3
    local answered=0 line
    for fd in "${fds[@]}"; do
        line=$(timeout 2 head -n 1 <&"$fd" | tr -d '\r' || true)
        [ "$line" = "HTTP/1.1 200 OK" ] && answered=$((answered + 1))
        exec {fd}<&-
    done
    echo "answered: $answered of 40" >&2
    [ "$answered" -eq 40 ]
}
