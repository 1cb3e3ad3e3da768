#!/usr/bin/env bats
# Write safety (issue 11): a program always learns that its write was not
# done. An append only buffers, as in hiredis: the connect or heal it needs
# happens at the next read, and fails there as a dead connection does.
# While the circuit is open a write fails as on a dead server (NULL reply,
# the context's error naming the circuit), at once and without traffic,
# unless CACHEKIT_OPEN_WRITES=nil; reads keep the stale value or nil. A
# placeholder remembers AUTH/SELECT and replays them when it connects.

load helpers

# The first `n` lines of the output.
head_of() { head -n "$1" <<< "$output"; }

# A server holding a=cached; the script's first lines read it on a context
# with a 300 ms timeout, then freeze the server. The test appends the rest.
script_frozen_after_a_read() {
    start_redis
    rcli set a cached > /dev/null
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
timeout 300
cmd GET a
sh $REDISCTL freeze $REDIS_DIR
SCRIPT
}

@test "appends never fail for I/O: on a broken context and on a placeholder the append buffers, the read reports the dead connection (control: plain hiredis)" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd SET a 1
sh $REDISCTL kill $REDIS_DIR
cmd GET a
appendfmt SET a 2
append GET a
get
get
SCRIPT
    run "$CLIENT" -p "$PORT" < "$BATS_TEST_TMPDIR/script"
    local control=$output
    "$REDISCTL" start "$REDIS_DIR" "$PORT"
    # the same lines as long as the circuit stays closed (threshold 100):
    # the shim adds only the heal at the read, whose error is the one a
    # connect gives ("Connection refused") where plain hiredis keeps the
    # old socket's
    THRESHOLD=100 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    diff <(sed 's/^NULL .*/NULL/' <<< "$control") <(sed 's/^NULL .*/NULL/' <<< "$output")
    [ "$(grep -c '^append ok' <<< "$output")" -eq 2 ]
    [ "$(tail -n 2 <<< "$output" | grep -c '^NULL')" -eq 2 ]
    # a placeholder (the circuit was open at connect time): its appends
    # buffer too, and its read reports the refused connect
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
sleep 200
appendfmt SET a 2
appendfmt INCR n
get
get
SCRIPT
    THRESHOLD=1 COOLDOWN=0.1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [ "$(head_of 3)" = "$(printf '%s\n' "connect ok" "append ok" "append ok")" ]
    # the first is the probe, the second goes with it: the connect made at
    # the read is refused, and both replies report it
    [ "$(tail -n 2 <<< "$output")" = "$(printf '%s\n' "NULL Connection refused" "NULL Connection refused")" ]
}

@test "a deferred connect: appended on a placeholder, sent once the circuit lets it through, in order, with the reply of each command" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
sh $REDISCTL kill $REDIS_DIR
connect
cmd GET a
sh $REDISCTL start $REDIS_DIR $PORT
sleep 300
appendfmt SET a 1
appendfmt INCR n
appendfmt GET a
get
get
get
SCRIPT
    THRESHOLD=1 COOLDOWN=0.2 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    assert_output_is "$(printf '%s\n' "connect ok" nil "append ok" "append ok" "append ok" "status OK" "int 1" "str 1")"
    [ "$(rcli get n)" = 1 ]
}

@test "a legacy program that checks only c->err sees every write while open as failed, at once and without traffic; reads keep the stale value (control: plain hiredis)" {
    script_frozen_after_a_read
    cat >> "$BATS_TEST_TMPDIR/script" <<SCRIPT
cmd GET a
cmd SET a x
cmd INCR n
cmd EVAL return 1 0
cmd NOSUCHCOMMAND x
cmd PUBLISH ch hello
cmd GET a
SCRIPT
    run "$CLIENT" -T -p "$PORT" < "$BATS_TEST_TMPDIR/script"
    "$REDISCTL" thaw "$REDIS_DIR"
    local control=$output
    local calls_before; calls_before=$(calls_of set)
    THRESHOLD=1 run client_under_shim -T < "$BATS_TEST_TMPDIR/script"
    "$REDISCTL" thaw "$REDIS_DIR"
    [ "$status" -eq 0 ]
    local writes; writes=$(sed -n '5,9p' <<< "$output")
    # without the shim every command after the freeze fails
    [ "$(sed -n '4,10p' <<< "$control" | grep -c '^NULL')" -eq 7 ]
    # under it: the GET that timed out, then five writes refused...
    [ "$(grep -c '^NULL cachekit: circuit open for 127.0.0.1:'"$PORT"', write not sent' <<< "$writes")" -eq 5 ]
    # ...each at once
    local line
    while IFS= read -r line; do took "$line" 0 50; done <<< "$writes"
    # and the read after them still gets the last good value
    [ "$(reply_of "$(sed -n 10p <<< "$output")")" = "str cached" ]
    # nothing of it reached Redis
    [ "$(calls_of set)" = "$calls_before" ]
    [ "$(calls_of incr)" = 0 ]
    [ "$(rcli get a)" = cached ]
}

@test "CACHEKIT_OPEN_WRITES=nil keeps the nil answer for writes; a malformed value is named and the default (error) used" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
sh $REDISCTL kill $REDIS_DIR
cmd SET a 1
cmd SET a 2
cmd GET a
SCRIPT
    CACHEKIT_OPEN_WRITES=nil THRESHOLD=1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [ "$(sed -n 3,4p <<< "$output")" = "$(printf '%s\n' nil nil)" ]
    CACHEKIT_OPEN_WRITES=maybe THRESHOLD=1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [[ "$(sed -n 3p <<< "$output")" == "NULL cachekit: circuit open for"*"write not sent" ]]
    grep -q 'CACHEKIT_OPEN_WRITES.*maybe.*error' "$BATS_TEST_TMPDIR/stderr"
}

@test "a pipeline mixing reads and writes across OPEN: each reply once, in order; the writes fail, the reads get stale or nil" {
    script_frozen_after_a_read
    cat >> "$BATS_TEST_TMPDIR/script" <<SCRIPT
cmd GET a
append GET a
append SET b 1
append GET c
append INCR d
append GET a
get
get
get
get
get
get
SCRIPT
    THRESHOLD=1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    "$REDISCTL" thaw "$REDIS_DIR"
    [ "$status" -eq 0 ]
    local refused="NULL cachekit: circuit open for 127.0.0.1:$PORT, write not sent"
    assert_output_is "$(printf '%s\n' "connect ok" "timeout ok" "str cached" "str cached" "append ok" "append ok" \
        "append ok" "append ok" "append ok" "str cached" "$refused" nil "$refused" "str cached" "$refused")"
    # (the last get: nothing owed any more, the context is dead, as after
    # any I/O error)
    [ "$(rcli exists b d)" = 0 ]
}

@test "after a refused write: a program that keeps its context and one that reconnects (-r) both recover when Redis is back" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
sh $REDISCTL kill $REDIS_DIR
cmd SET a 1
cmd SET a 2
sh $REDISCTL start $REDIS_DIR $PORT
sleep 300
cmd SET a 3
cmd GET a
SCRIPT
    THRESHOLD=1 COOLDOWN=0.2 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [[ "$(sed -n 3p <<< "$output")" == "NULL cachekit: circuit open for"* ]]
    [ "$(tail -n 2 <<< "$output")" = "$(printf '%s\n' "status OK" "str 3")" ]
    THRESHOLD=1 COOLDOWN=0.2 run client_under_shim -r < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [ "$(tail -n 2 <<< "$output")" = "$(printf '%s\n' "status OK" "str 3")" ]
}

# A server with a password, killed; the program connects (a placeholder),
# authenticates and selects database 3 while the circuit is open, reads;
# the server comes back; the next read connects for real, replaying.
placeholder_session() {
    local password=$1; shift
    start_redis --requirepass secret
    "$REDISCTL" kill "$REDIS_DIR"
    {
        cat <<SCRIPT
connect
cmd AUTH $password
cmd SELECT 3
cmd GET k
sh $REDISCTL start $REDIS_DIR $PORT --requirepass secret
sh redis-cli -p $PORT -a secret --no-auth-warning -n 3 set k in-db-3 > /dev/null
sleep 300
cmd GET k
SCRIPT
        printf '%s\n' "$@"
    } > "$BATS_TEST_TMPDIR/script"
    THRESHOLD=1 COOLDOWN=0.2 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
}

@test "AUTH and SELECT on a placeholder while open are answered OK, then replayed in order on the real connect (right password)" {
    placeholder_session secret
    [ "$(head_of 4)" = "$(printf '%s\n' "connect ok" "status OK" "status OK" nil)" ]
    [ "$(tail -n 1 <<< "$output")" = "str in-db-3" ]
}

@test "AUTH with a wrong password on a placeholder: logged, and the SELECT it voids fails the context until the program selects again; never the wrong database" {
    placeholder_session wrong "cmd AUTH secret" "cmd SET x 1" "cmd SELECT 3" "cmd AUTH secret" "cmd SELECT 3" \
        "cmd SET x 1"
    [ "$(head_of 4)" = "$(printf '%s\n' "connect ok" "status OK" "status OK" nil)" ]
    grep -q 'AUTH failed when replayed on connecting to 127.0.0.1:'"$PORT" "$BATS_TEST_TMPDIR/stderr"
    local refused="NULL cachekit: SELECT failed when replayed on connecting to 127.0.0.1:$PORT: NOAUTH Authentication required."
    # the read, the program's AUTH and SET: the context reports the voided
    # SELECT (nothing sent); its own SELECT goes to Redis, which answers
    # NOAUTH; then it authenticates, selects and writes in database 3
    [ "$(tail -n 7 <<< "$output")" = "$(printf '%s\n' "$refused" "$refused" "$refused" "err NOAUTH Authentication required." \
        "status OK" "status OK" "status OK")" ]
    [ "$(rcli -a secret --no-auth-warning -n 0 exists x)" = 0 ]
    [ "$(rcli -a secret --no-auth-warning -n 3 get x)" = 1 ]
}

@test "audit: a SELECT of a database Redis refuses, answered OK on a placeholder: the context reports it, without reconnecting per call, until the program selects again" {
    start_redis
    "$REDISCTL" kill "$REDIS_DIR"
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd SELECT 20
sh $REDISCTL start $REDIS_DIR $PORT
sh redis-cli -p $PORT set k db0 > /dev/null
sleep 300
cmd GET k
sh redis-cli -p $PORT info stats | grep total_connections_received > $BATS_TEST_TMPDIR/connections.before
cmd GET k
cmd GET k
sh redis-cli -p $PORT info stats | grep total_connections_received > $BATS_TEST_TMPDIR/connections.after
cmd SELECT 0
cmd GET k
SCRIPT
    THRESHOLD=1 COOLDOWN=0.2 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    local refused="NULL cachekit: SELECT failed when replayed on connecting to 127.0.0.1:$PORT: ERR DB index is out of range"
    [ "$(tail -n 5 <<< "$output")" = "$(printf '%s\n' "$refused" "$refused" "$refused" "status OK" "str db0")" ]
    # no connection per refused call (only redis-cli's own, between)
    local before after
    before=$(tr -dc 0-9 < "$BATS_TEST_TMPDIR/connections.before")
    after=$(tr -dc 0-9 < "$BATS_TEST_TMPDIR/connections.after")
    [ "$after" -eq $((before + 1)) ]
    # the probe met a server that answered: the circuit closed
    grep -q 'HALF_OPEN -> CLOSED' "$BATS_TEST_TMPDIR/stderr"
}

@test "AUTH to a server without a password (sent and ignored by some programs) changes nothing when replayed" {
    start_redis
    "$REDISCTL" kill "$REDIS_DIR"
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd AUTH anything
sh $REDISCTL start $REDIS_DIR $PORT
sh redis-cli -p $PORT set k v > /dev/null
sleep 300
cmd GET k
SCRIPT
    THRESHOLD=1 COOLDOWN=0.2 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf '%s\n' "connect ok" "status OK" "str v")" ]
}

@test "audit: a probe appended behind a refused write on the same connection is not sent (it would be applied and reported not sent)" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
timeout 200
append GET a
ctx 1
connect
timeout 200
sh $REDISCTL freeze $REDIS_DIR
cmd PING
sh $REDISCTL thaw $REDIS_DIR
ctx 0
append INCR ctr
sleep 400
append INCR probe
get
get
get
SCRIPT
    THRESHOLD=1 COOLDOWN=0.2 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    local refused="NULL cachekit: circuit open for 127.0.0.1:$PORT, write not sent"
    # GET a was sent before the circuit opened: its own reply; both INCRs
    # reported not sent...
    [ "$(tail -n 3 <<< "$output")" = "$(printf '%s\n' nil "$refused" "$refused")" ]
    # ...and not sent indeed
    [ "$(rcli exists ctr probe)" = 0 ]
    [ "$(calls_of incr)" = 0 ]
}

@test "audit: an invalid format while the circuit is open fails as hiredis's append does, not answered (control: plain hiredis)" {
    start_redis
    "$REDISCTL" kill "$REDIS_DIR"
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd GET %q
appendfmt SET k %q
SCRIPT
    run "$CLIENT" -p "$PORT" < "$BATS_TEST_TMPDIR/script"
    [ "$(tail -n 2 <<< "$output")" = "$(printf '%s\n' "NULL Invalid format string" "append failed")" ]
    local control; control=$(tail -n 2 <<< "$output")
    THRESHOLD=1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [ "$(tail -n 2 <<< "$output")" = "$control" ]
}

@test "audit (hiredis 0.14): HELLO 3 on a placeholder fails as on a dead server, is not replayed, and the context connects once Redis is back" {
    ldd "$CLIENT" | grep -q 'libhiredis\.so\.0\.14' || skip "hiredis 1.x reads RESP3"
    start_redis
    "$REDISCTL" kill "$REDIS_DIR"
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd HELLO 3
sh $REDISCTL start $REDIS_DIR $PORT
sleep 300
cmd PING
cmd PING
SCRIPT
    THRESHOLD=1 COOLDOWN=0.2 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [ "$(sed -n 2p <<< "$output")" = "NULL cachekit: circuit open for 127.0.0.1:$PORT, HELLO not sent" ]
    [ "$(tail -n 2 <<< "$output")" = "$(printf '%s\n' "status PONG" "status PONG")" ]
    none grep 'HALF_OPEN -> OPEN' "$BATS_TEST_TMPDIR/stderr"
}
