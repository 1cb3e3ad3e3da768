#!/usr/bin/env bats
# Self-healing: programs that never reconnect, programs that start while
# Redis is down.

load helpers

# A program in the style of collectd's write_redis: one context for ever,
# never reconnected, with AUTH, SELECT and CLIENT SETNAME done once.
@test "a context that is never reconnected heals after kill -9 and restart, with AUTH, SELECT and the client name restored" {
    start_redis --requirepass s3cret
    local restart="$REDISCTL kill $REDIS_DIR && $REDISCTL start $REDIS_DIR $PORT --requirepass s3cret && redis-cli -p $PORT -a s3cret --no-auth-warning -n 3 set k after-restart >/dev/null"
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd AUTH s3cret
cmd SELECT 3
cmd CLIENT SETNAME collector
cmd SET k before
sh $restart
cmd GET k
sleep 1100
cmd GET k
cmd CLIENT GETNAME
cmd SET k written-after
SCRIPT
    THRESHOLD=1 COOLDOWN=1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    cat "$BATS_TEST_TMPDIR/stderr" >&2
    [ "$status" -eq 0 ]
    output=$(sed 's/^NULL .*/NULL/' <<<"$output")
    assert_output_is "$(printf '%s\n' "connect ok" "status OK" "status OK" "status OK" "status OK" \
        NULL "str after-restart" "str collector" "status OK")"
    # the write after healing landed in database 3, not 0
    [ "$(redis-cli -p "$PORT" -a s3cret --no-auth-warning -n 3 get k)" = "written-after" ]
    [ -z "$(redis-cli -p "$PORT" -a s3cret --no-auth-warning -n 0 get k)" ]
    grep -q "reconnected a broken context of 127.0.0.1:$PORT; restored AUTH SELECT CLIENT SETNAME" \
        "$BATS_TEST_TMPDIR/stderr"
}

@test "a session command that failed is not replayed (a wrong SELECT, a wrong password)" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd SELECT 2
cmd SELECT 99999
cmd AUTH wrong
sh $REDISCTL kill $REDIS_DIR && $REDISCTL start $REDIS_DIR $PORT && redis-cli -p $PORT -n 2 set k in-db-2 >/dev/null
cmd GET k
cmd GET k
SCRIPT
    THRESHOLD=5 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    output=$(sed -e 's/^NULL .*/NULL/' -e 's/^err .*/err/' <<<"$output")
    assert_output_is "$(printf '%s\n' "connect ok" "status OK" err err NULL "str in-db-2")"
    grep -q "restored SELECT" "$BATS_TEST_TMPDIR/stderr"
    none grep "restored AUTH" "$BATS_TEST_TMPDIR/stderr"
}

@test "a transaction is never healed behind the program's back" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd MULTI
cmd SET k inside
sh $REDISCTL kill $REDIS_DIR && $REDISCTL start $REDIS_DIR $PORT
cmd SET k2 inside
cmd EXEC
SCRIPT
    THRESHOLD=10 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [ "${lines[1]}" = "status OK" ]
    [ "${lines[2]}" = "status QUEUED" ]
    [[ "${lines[3]}" =~ ^NULL ]]
    [[ "${lines[4]}" =~ ^NULL ]]
    [ -z "$(redis-cli -p "$PORT" get k2)" ]
}

@test "a program that connects at start-up starts while Redis is down and uses Redis once it is up" {
    REDIS_DIR=$BATS_TEST_TMPDIR/redis
    PORT=$(ck_free_port) # nothing listens there yet
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
repeat 4 cmd GET k
sh $REDISCTL start $REDIS_DIR $PORT && redis-cli -p $PORT set k up >/dev/null
sleep 1100
cmd GET k
cmd GET k
SCRIPT
    THRESHOLD=2 COOLDOWN=1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    cat "$BATS_TEST_TMPDIR/stderr" >&2
    [ "$status" -eq 0 ]
    output=$(sed 's/^NULL .*/NULL/' <<<"$output")
    # the refused connect at start-up counts as the first failure
    assert_output_is "$(printf '%s\n' "connect ok" NULL nil nil nil "str up" "str up")"
}

@test "with CACHEKIT_LAZY_CONNECT=false a refused connect at start-up is an error, as without the shim" {
    PORT=$(ck_free_port)
    printf 'connect\n' > "$BATS_TEST_TMPDIR/script"
    CACHEKIT_LAZY_CONNECT=false run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$output" = "connect failed: Connection refused" ]
}
