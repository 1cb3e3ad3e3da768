#!/usr/bin/env bats
# The connect forms beyond redisConnect (shim/api/connect.c): hiredis 1.x's
# redisConnectWithOptions and the non-blocking forms are gated like
# redisConnect. A program that connects while Redis is down gets a
# placeholder that answers as any context while the circuit is open, and
# connects once Redis is back, keeping what the options put on the context
# (privdata and its destructor). Each run has a control without the shim.

load helpers

needs_options() {
    run "$CLIENT" -p 1 <<<"privdata"
    [ "$output" != "privdata unsupported" ] || skip "redisConnectWithOptions is hiredis 1.x (this build: 0.14)"
}

# options_script FORM: the program connects (FORM) while Redis is down,
# reads, then Redis starts holding k=v and the program reads again.
options_script() {
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
$1
privdata
cmd GET k
sh $REDISCTL start $REDIS_DIR $PORT && redis-cli -p $PORT set k v >/dev/null
sleep 400
cmd GET k
privdata
connect
SCRIPT
}

@test "redisConnectWithOptions while Redis is down: a placeholder, then connected in place, privdata kept and freed once" {
    needs_options
    start_redis
    "$REDISCTL" kill "$REDIS_DIR"
    options_script connect-opt
    run "$CLIENT" -p "$PORT" < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    # without the shim: the connect fails; the program's calls then fail
    [ "$(head -1 <<<"$output")" = "connect failed: Connection refused" ]
    "$REDISCTL" kill "$REDIS_DIR"
    THRESHOLD=1 COOLDOWN=0.3 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    assert_output_is "$(printf '%s\n' "connect ok" "privdata marker" nil "str v" "privdata marker" \
        "privdata freed: marker" "connect ok")"
}

@test "redisConnectWithOptions with REDIS_OPT_NONBLOCK while the circuit is open: a placeholder it can wait on, connected later" {
    needs_options
    start_redis
    "$REDISCTL" kill "$REDIS_DIR"
    # a non-blocking connect in progress proves nothing: its first use
    # fails as without the shim (and opens the circuit); the connect after
    # that gets the placeholder
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect-opt nb
drive GET k
connect-opt nb
drive GET k
sh $REDISCTL start $REDIS_DIR $PORT && redis-cli -p $PORT set k v >/dev/null
sleep 400
drive GET k
privdata
connect
SCRIPT
    run timeout 20 "$CLIENT" -p "$PORT" < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [ "$(sed -n 5p <<<"$output")" = "NULL Connection refused" ]
    "$REDISCTL" kill "$REDIS_DIR"
    THRESHOLD=1 COOLDOWN=0.3 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    assert_output_is "$(printf '%s\n' "connect ok" "NULL Connection refused" "privdata freed: marker" "connect ok" \
        nil "str v" "privdata marker" "privdata freed: marker" "connect ok")"
}
