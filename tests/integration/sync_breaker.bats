#!/usr/bin/env bats
# The sync API through real outages (shared/FAULTS.md F1, F2, F9, F10):
# what the program sees, that nothing reaches Redis while the circuit is
# open, and recovery. These tests check the nil answers, with the L1 off
# where the key was read before (stale values: l1.bats).

load helpers

# gets OP N: the script lines for N GETs of key k through one API:
# cmd (redisCommand), fmt (redisCommand, format expanded), argv
# (redisCommandArgv) or pipe (N appends, then N redisGetReply).
gets() {
    local op=$1 n=$2 i
    if [ "$op" = pipe ]; then
        for i in $(seq "$n"); do echo "append GET k"; done
        for i in $(seq "$n"); do echo "get"; done
    else
        for i in $(seq "$n"); do echo "$op GET k"; done
    fi
}

# replies OP REPLY N: the output of `gets OP N` when each reply is REPLY.
replies() {
    local op=$1 reply=$2 n=$3 i
    [ "$op" = pipe ] && for i in $(seq "$n"); do echo "append ok"; done
    for i in $(seq "$n"); do echo "$reply"; done
}

# F1: Redis stopped. Threshold 3, cooldown 2 s. With LAZY=true (the
# default) a connect while the circuit is open hands out a placeholder that
# answers nil and connects in place once the breaker allows; with
# LAZY=false the connect fails at once.
f1_stopped() {
    local op=$1 lazy=${LAZY:-true}
    start_redis
    local open_msg="connect failed: cachekit: circuit open for 127.0.0.1:$PORT, not connecting"
    local conns=$BATS_TEST_TMPDIR/connections
    {
        echo "connect"
        echo "cmd SET k v1"
        gets "$op" 1
        echo "sh $REDISCTL kill $REDIS_DIR"
        gets "$op" 3
        gets "$op" 2
        echo "connect"
        echo "sh $REDISCTL start $REDIS_DIR $PORT && redis-cli -p $PORT set k v2 >/dev/null && redis-cli -p $PORT info stats | grep total_connections_received > $conns.before"
        echo "connect"
        echo "timeout 800"
        gets "$op" 2
        echo "reconnect"
        echo "sh redis-cli -p $PORT info stats | grep total_connections_received > $conns.after"
        echo "sleep 2100"
        [ "$lazy" = true ] || echo "reconnect"
        gets "$op" 1
    } > "$BATS_TEST_TMPDIR/script"
    CACHEKIT_L1_ENABLED=false CACHEKIT_LAZY_CONNECT=$lazy COOLDOWN=2 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    output=$(sed 's/^NULL .*/NULL/' <<<"$output")
    # what every variant sees until Redis is gone and the circuit is open
    local common
    common=$(
        echo "connect ok"
        echo "status OK"
        replies "$op" "str v1" 1
        replies "$op" NULL 3
        replies "$op" nil 2
    )
    if [ "$lazy" = true ]; then
        assert_output_is "$common
connect ok
connect ok
timeout ok
$(replies "$op" nil 2)
reconnect ok
$(replies "$op" "str v2" 1)"
    else
        assert_output_is "$common
$open_msg
$open_msg
timeout ok
$(replies "$op" nil 2)
reconnect failed: cachekit: circuit open for 127.0.0.1:$PORT, not reconnecting
reconnect ok
$(replies "$op" "str v2" 1)"
    fi
    # While the circuit was open the program made no connection: between
    # the two INFO calls only the second redis-cli itself connected.
    before=$(tr -dc 0-9 < "$conns.before")
    after=$(tr -dc 0-9 < "$conns.after")
    [ "$after" -eq $((before + 1)) ]
    # every transition logged once
    grep -q "circuit 127.0.0.1:$PORT: CLOSED -> OPEN" "$BATS_TEST_TMPDIR/stderr"
    grep -q "circuit 127.0.0.1:$PORT: OPEN -> HALF_OPEN" "$BATS_TEST_TMPDIR/stderr"
    grep -q "circuit 127.0.0.1:$PORT: HALF_OPEN -> CLOSED" "$BATS_TEST_TMPDIR/stderr"
    [ "$(grep -c 'CLOSED -> OPEN' "$BATS_TEST_TMPDIR/stderr")" -eq 1 ]
}

@test "F1 stopped: redisCommand gets errors up to the threshold, then nil, no connection, recovery" {
    f1_stopped cmd
}

@test "F1 stopped: redisCommand with an expanded format" {
    f1_stopped fmt
}

@test "F1 stopped: redisCommandArgv" {
    f1_stopped argv
}

@test "F1 stopped: pipeline of redisAppendCommandArgv + redisGetReply" {
    f1_stopped pipe
}

@test "F1 stopped, CACHEKIT_LAZY_CONNECT=false: connects fail at once while open, redisReconnect recovers" {
    LAZY=false f1_stopped cmd
}

# F2: kill -9 while a loop runs. The program sees its values, exactly
# `threshold` errors, then nil replies at once.
@test "F2 killed mid-stream: values, exactly threshold errors, then nil" {
    start_redis
    rcli set k v1 >/dev/null
    local out=$BATS_TEST_TMPDIR/out
    printf 'connect\nloop 1500 1 cmd GET k\n' > "$BATS_TEST_TMPDIR/script"
    CACHEKIT_L1_ENABLED=false client_under_shim < "$BATS_TEST_TMPDIR/script" > "$out" &
    BACKGROUND_PID=$!
    # kill once the loop is well under way (at most 10 s)
    for _ in $(seq 1 200); do
        [ "$(grep -c 'str v1' "$out" 2>/dev/null)" -ge 50 ] && break
        sleep 0.05
    done
    "$REDISCTL" kill "$REDIS_DIR"
    wait "$BACKGROUND_PID"
    run runs < <(sed 's/^NULL .*/NULL/' "$out")
    [ "${lines[0]}" = "connect ok x1" ]
    [[ "${lines[1]}" =~ ^"str v1 x"[0-9]+$ ]]
    [ "${lines[2]}" = "NULL x3" ]
    [[ "${lines[3]}" =~ ^"nil x"[0-9]+$ ]]
    [ "${#lines[@]}" -eq 4 ]
}

# F10: Redis goes down and up four times while the program loops; it
# never stops, and ends reading live values.
@test "F10 flapping: the program keeps running and ends on live values" {
    start_redis
    rcli set k v1 >/dev/null
    local out=$BATS_TEST_TMPDIR/out
    (
        for _ in 1 2 3 4; do
            sleep 0.4
            "$REDISCTL" kill "$REDIS_DIR"
            sleep 0.4
            "$REDISCTL" start "$REDIS_DIR" "$PORT"
            redis-cli -p "$PORT" set k v1 >/dev/null
        done
        touch "$BATS_TEST_TMPDIR/flapping-done"
    ) &
    BACKGROUND_PID=$!
    printf 'connect\nloop 1200 5 cmd GET k\n' > "$BATS_TEST_TMPDIR/script"
    # (the cooldown may grow to 0.4 s at most: the run after the last
    # restart, about 2.5 s, is then always long enough to close again)
    CACHEKIT_L1_ENABLED=false COOLDOWN=0.2 CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT_MAX=0.4 \
        run client_under_shim -r < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    printf "%s\n" "$output" | runs >&2; cat "$BATS_TEST_TMPDIR/stderr" >&2
    [ -f "$BATS_TEST_TMPDIR/flapping-done" ]
    # only the replies a program may see: values, nil, errors, reconnects
    none grep -vE '^(str v1|nil|NULL .*|connect ok|connect failed: .*)$' <<<"$output"
    grep -q '^nil$' <<<"$output"
    # the last 50 calls, after the last restart, read the live value
    [ "$(tail -n 50 <<<"$output" | grep -c '^str v1$')" -eq 50 ]
    # it opened (how often depends on where the growing cooldown falls
    # against the flaps) and it closed again
    grep -q 'CLOSED -> OPEN' "$BATS_TEST_TMPDIR/stderr"
    grep -q 'HALF_OPEN -> CLOSED' "$BATS_TEST_TMPDIR/stderr"
}

# F9 availability errors, and the order of replies when the circuit
# changes state in the middle of a pipeline.
@test "F9 MASTERDOWN opens the circuit; pipeline replies keep append order across OPEN -> HALF_OPEN -> CLOSED" {
    # a replica whose master (an unused loopback port) is down answers
    # data commands with -MASTERDOWN
    start_redis --replicaof 127.0.0.1 "$(ck_free_port)" --replica-serve-stale-data no
    local gets_before=$BATS_TEST_TMPDIR/gets
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd GET k
cmd GET k
cmd GET k
sh redis-cli -p $PORT info commandstats | grep -c cmdstat_get > $gets_before.count; redis-cli -p $PORT info commandstats | tr -d '\r' | grep '^cmdstat_get:' > $gets_before.before
cmd GET k
argv GET k
sh redis-cli -p $PORT replicaof no one >/dev/null; redis-cli -p $PORT set k live >/dev/null
sh redis-cli -p $PORT info commandstats | tr -d '\r' | grep '^cmdstat_get:' > $gets_before.after
append GET k
sleep 1100
append GET k
append GET k
get
get
get
append GET k
get
SCRIPT
    THRESHOLD=2 COOLDOWN=1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    output=$(sed 's/^err MASTERDOWN .*/err MASTERDOWN/' <<<"$output")
    assert_output_is "$(printf '%s\n' "connect ok" "err MASTERDOWN" "err MASTERDOWN" nil nil nil \
        "append ok" "append ok" "append ok" nil "str live" "str live" "append ok" "str live")"
    # (the third GET is pipelined behind the probe on its connection: it
    # goes with it)
    # the replies while open were never sent: GET's call count did not move
    [ "$(cat "$gets_before.before")" = "$(cat "$gets_before.after")" ]
}

@test "transactions, AUTH and SELECT pass through untouched while the circuit is open" {
    start_redis --replicaof 127.0.0.1 "$(ck_free_port)" --replica-serve-stale-data no
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd GET k
cmd GET k
cmd GET k
cmd GET k
cmd AUTH nosuchpassword
cmd SELECT 1
cmd MULTI
cmd GET k
cmd EXEC
SCRIPT
    run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    printf '%s\n' "${lines[@]}" >&2
    [ "${lines[4]}" = "nil" ]            # the circuit is open
    [[ "${lines[5]}" =~ ^err ]]          # AUTH: the server's own answer, not a fake OK
    [ "${lines[6]}" = "status OK" ]      # SELECT reached the server
    [ "${lines[7]}" = "status OK" ]      # MULTI reached the server
    [ "${lines[8]}" != "nil" ]           # a command inside MULTI is not faked
    [[ "${lines[9]}" =~ ^(err|array) ]]  # EXEC: the server's own answer
    [ "$(calls_of multi)" -eq 1 ]
    [ "$(calls_of select)" -eq 1 ]
}
