#!/usr/bin/env bats
# Call-path correctness: replies, probes, the guard, timeouts and the L1
# never go out of step (issue 10). Each test runs the same script without
# the shim too, where the comparison says something.

load helpers

plain_client() { LD_PRELOAD= "$CLIENT" -p "$PORT" "$@" 2>/dev/null; }

restart_redis() { "$REDISCTL" kill "$REDIS_DIR" && "$REDISCTL" start "$REDIS_DIR" "$PORT"; }

# Case 1: a pipeline cut by a dead server, then single commands: after the
# heal every reply is the reply of its own command.
@test "replies owed by a dead connection never answer the commands of the healed one" {
    start_redis
    local seed="redis-cli -p $PORT mset k7 v7 k9 v9 k11 v11 >/dev/null"
    eval "$seed"
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
append GET k7
append GET k9
append GET k11
sh $REDISCTL kill $REDIS_DIR
get
sh $REDISCTL start $REDIS_DIR $PORT && $seed
sleep 1100
cmd GET k9
cmd SET k1 written
cmd INCR counter
cmd GET k11
SCRIPT
    THRESHOLD=1 COOLDOWN=1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    output=$(sed 's/^NULL .*/NULL/' <<<"$output")
    assert_output_is "$(printf '%s\n' "connect ok" "append ok" "append ok" "append ok" NULL \
        "str v9" "status OK" "int 1" "str v11")"
    [ "$(rcli get k1)" = written ]
    # plain hiredis: the dead context fails every call (never a wrong reply)
    "$REDISCTL" kill "$REDIS_DIR"; "$REDISCTL" start "$REDIS_DIR" "$PORT"; eval "$seed"
    run plain_client < "$BATS_TEST_TMPDIR/script"
    [ "$(grep -c '^NULL' <<<"$output")" -eq 5 ]
}

# The same with the pipeline's replies still read after a new command was
# appended: each dead reply is an error, in its place, exactly once.
@test "a pipeline read after its connection died gets one error per owed reply, then heals" {
    start_redis
    rcli mset a A b B >/dev/null
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
append GET a
append GET b
sh $REDISCTL kill $REDIS_DIR
get
append GET a
get
get
sh $REDISCTL start $REDIS_DIR $PORT && redis-cli -p $PORT mset a A b B >/dev/null
append GET b
append GET a
get
get
SCRIPT
    THRESHOLD=5 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    output=$(sed 's/^NULL .*/NULL/' <<<"$output")
    assert_output_is "$(printf '%s\n' "connect ok" "append ok" "append ok" NULL "append ok" NULL NULL \
        "append ok" "append ok" "str B" "str A")"
}

# Case 2: MULTI on a broken context while the circuit is open, and RESET
# inside MULTI, never leave the context a pass-through.
@test "a MULTI that was not sent, or a RESET inside MULTI, leaves no transaction behind" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd SET a 1
sh $REDISCTL kill $REDIS_DIR
cmd GET a
cmd MULTI
sh $REDISCTL start $REDIS_DIR $PORT && redis-cli -p $PORT set a 1 >/dev/null
sleep 1100
cmd GET a
cmd MULTI
cmd SET a 2
cmd EXEC
cmd GET a
cmd MULTI
cmd RESET
sh $REDISCTL kill $REDIS_DIR && $REDISCTL start $REDIS_DIR $PORT && redis-cli -p $PORT set a 3 >/dev/null
cmd GET a
sleep 1100
cmd GET a
SCRIPT
    THRESHOLD=1 COOLDOWN=1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    output=$(sed 's/^NULL .*/NULL/' <<<"$output")
    assert_output_is "$(printf '%s\n' "connect ok" "status OK" NULL NULL "str 1" "status OK" "status QUEUED" \
        "array 1" "str 2" "status OK" "status RESET" "str 2" "str 3")"
}

# Case 3: a connection that won the probe and is never used gives it up
# when the probe timeout (connect + socket timeout) passes.
@test "an idle connection that won the probe does not shut other contexts out" {
    start_redis
    rcli set k v >/dev/null
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd GET k
sh $REDISCTL kill $REDIS_DIR
cmd GET k
sh $REDISCTL start $REDIS_DIR $PORT && redis-cli -p $PORT set k v2 >/dev/null
sleep 1100
ctx 1
connect
echo probe-won
ctx 0
loop 40 100 cmd GET k
SCRIPT
    THRESHOLD=1 COOLDOWN=1 CACHEKIT_SOCKET_TIMEOUT=1 CACHEKIT_SOCKET_CONNECT_TIMEOUT=0.5 \
        run client_under_shim -A < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    # live again within the probe timeout (1.5 s) of the idle connect, plus slack
    local won live
    won=$(grep -m1 '^probe-won' <<<"$output" | sed 's/.*@//')
    live=$(grep -m1 '^str v2' <<<"$output" | sed 's/.*@//')
    [ -n "$won" ] && [ -n "$live" ]
    awk -v a="$won" -v b="$live" 'BEGIN {exit !(b - a < 3000)}'
    # and every GET after it is live
    [ "$(sed -n '/^str v2/,$p' <<<"$output" | grep -vc '^str v2')" -eq 0 ]
    grep -q "probe not settled in time" "$BATS_TEST_TMPDIR/stderr"
}

# Case 4: a program that leaves a hiredis call with siglongjmp (alarm
# timeout) keeps the shim: the breaker still opens and the L1 still serves.
@test "the shim survives a siglongjmp out of a hiredis call" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd SET k v
cmd GET k
sh $REDISCTL freeze $REDIS_DIR
alarm-jmp 300 cmd GET k
sh $REDISCTL thaw $REDIS_DIR
connect
cmd GET k
sh $REDISCTL kill $REDIS_DIR
cmd GET k
cmd GET k
SCRIPT
    THRESHOLD=1 CACHEKIT_SOCKET_TIMEOUT=5 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    output=$(sed 's/^NULL .*/NULL/' <<<"$output")
    # the last GET is answered from the L1 while the circuit is open: only
    # a shim that is still on does that (plain hiredis: NULL)
    assert_output_is "$(printf '%s\n' "connect ok" "status OK" "str v" interrupted "connect ok" "str v" \
        "str v" "str v")"
}

# Case 5: hiredis 0.14 forgets the program's timeout on reconnect; a
# socket the shim re-creates carries it.
@test "a healed context keeps the program's own timeout against a frozen server" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
timeout 1000
cmd SET k v
sh $REDISCTL kill $REDIS_DIR && $REDISCTL start $REDIS_DIR $PORT
cmd GET k
cmd GET k
sh $REDISCTL freeze $REDIS_DIR
cmd GET k
SCRIPT
    THRESHOLD=5 run timeout 20 env CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=5 LD_PRELOAD="$SHIM" \
        "$CLIENT" -p "$PORT" -T < "$BATS_TEST_TMPDIR/script"
    "$REDISCTL" thaw "$REDIS_DIR"
    [ "$status" -eq 0 ]
    # bounded by the program's 1 s (answered NULL, or nil from the L1:
    # stale-if-error), where it would otherwise wait for ever
    local last
    last=$(tail -1 <<<"$output")
    [[ "$last" == NULL* || "$last" == nil* ]]
    took "$last" 800 3000
}

# Case 6: a malformed bulk length from a program that formats its own
# commands is Redis's to refuse, not the shim's to crash on.
@test "a bulk length of 20 digits is passed to Redis, which refuses it, as without the shim" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<'SCRIPT'
connect
raw *2\r\n$3\r\nGET\r\n$18446744073709551614\r\nab\r\n
get
raw *2\r\n$3\r\nGET\r\n$4294967297\r\nab\r\n
get
SCRIPT
    run plain_client < "$BATS_TEST_TMPDIR/script"
    local control
    control=$(sed 's/^NULL .*/NULL/' <<<"$output") # (reset or closed: a race of Redis's close)
    [[ "$control" == *"Protocol error"* ]]
    run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    output=$(sed 's/^NULL .*/NULL/' <<<"$output")
    assert_output_is "$control"
}

# Case 7: the L1 never serves what it must not.
@test "L1: commands pipelined behind SELECT are kept under the database they run in" {
    start_redis
    rcli set k db0 >/dev/null
    rcli -n 1 set k db1 >/dev/null
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd GET k
append SELECT 1
append GET k
get
get
cmd SELECT 0
ctx 1
connect
cmd SELECT 1
cmd GET k
ctx 0
append SELECT 1
append SET k new1
append SELECT 0
get
get
get
sh $REDISCTL kill $REDIS_DIR
cmd GET k
cmd GET k
ctx 1
cmd GET k
SCRIPT
    THRESHOLD=1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    output=$(sed 's/^NULL .*/NULL/' <<<"$output")
    # db 0's k answers db0 (never db 1's value); db 1's k was rewritten by
    # the process (pipelined behind SELECT 1), so its old value is never
    # served again
    assert_output_is "$(printf '%s\n' "connect ok" "str db0" "append ok" "append ok" "status OK" "str db1" \
        "status OK" "connect ok" "status OK" "str db1" "append ok" "append ok" "append ok" "status OK" \
        "status OK" "status OK" "str db0" "str db0" nil)"
}

@test "L1: COPY into another database, MOVE and XGROUP ... MKSTREAM invalidate what they change" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd SET src A
cmd SELECT 1
cmd SET dst OLD
cmd GET dst
cmd EXISTS s
cmd SELECT 0
cmd COPY src dst DB 1 REPLACE
cmd SELECT 1
cmd XGROUP CREATE s g \$ MKSTREAM
sh $REDISCTL kill $REDIS_DIR
cmd GET dst
cmd GET dst
cmd EXISTS s
SCRIPT
    THRESHOLD=1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    output=$(sed 's/^NULL .*/NULL/' <<<"$output")
    assert_output_is "$(printf '%s\n' "connect ok" "status OK" "status OK" "status OK" "str OLD" "int 0" \
        "status OK" "int 1" "status OK" "status OK" NULL nil nil)"
}

@test "L1: a preformatted buffer of two commands, or an inline command, owes one reply per command" {
    start_redis
    rcli mset b B c C >/dev/null
    cat > "$BATS_TEST_TMPDIR/script" <<'SCRIPT'
connect
raw *2\r\n$3\r\nGET\r\n$1\r\nb\r\n*2\r\n$3\r\nGET\r\n$1\r\nc\r\n
get
get
append GET b
raw GET c\r\n
append GET b
get
get
get
cmd PING
SCRIPT
    run plain_client < "$BATS_TEST_TMPDIR/script"
    local control=$output
    run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    assert_output_is "$control"
    assert_output_is "$(printf '%s\n' "connect ok" "append ok" "str B" "str C" "append ok" "append ok" "append ok" \
        "str B" "str C" "str B" "status PONG")"
    # through an outage: GET b was never keyed to C's reply, and the batch
    # is answered once per command
    cat >> "$BATS_TEST_TMPDIR/script" <<SCRIPT
sh $REDISCTL kill $REDIS_DIR
cmd GET b
cmd GET b
raw *2\r\n\$3\r\nGET\r\n\$1\r\nb\r\n*2\r\n\$3\r\nGET\r\n\$1\r\nc\r\n
get
get
cmd GET b
SCRIPT
    THRESHOLD=1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [ "$(tail -6 <<<"$output")" = "$(printf '%s\n' "str B" "str B" "append ok" nil nil "str B")" ]
}

@test "L1 (hiredis 1.x): RESP3 pushes owe no reply, and a RESP3 context (HELLO 3, also inside MULTI) never gets a RESP2 entry" {
    start_redis
    run plain_client <<<"push-nocb"
    [[ "$output" == *unsupported* ]] && skip "needs hiredis 1.x"
    rcli hset h f v >/dev/null
    rcli set k v >/dev/null
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
push-nocb
cmd HELLO 3
cmd CLIENT TRACKING ON
cmd GET k
sh redis-cli -p $PORT set k changed >/dev/null
cmd PING
get
cmd GET k
SCRIPT
    run plain_client < "$BATS_TEST_TMPDIR/script"
    local control=$output
    rcli set k v >/dev/null
    run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    assert_output_is "$control"
    [ "$(sed -n 6p <<<"$output")" = "type 12 elements 2" ] # the push, then PING's own reply
    # ctx 1 says HELLO 3 itself, ctx 2 inside MULTI (found by the audit):
    # both read maps, and neither is ever answered with ctx 0's RESP2 array
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd HGETALL h
ctx 1
connect
cmd HELLO 3
cmd HGETALL h
ctx 2
connect
cmd MULTI
cmd HELLO 3
cmd EXEC
cmd HGETALL h
sh $REDISCTL kill $REDIS_DIR
cmd HGETALL h
cmd HGETALL h
ctx 1
cmd HGETALL h
SCRIPT
    THRESHOLD=1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    output=$(sed 's/^NULL .*/NULL/' <<<"$output")
    [ "$(sed -n 2p <<<"$output")" = "array 2" ]
    # ctx 2 (its protocol unknown after MULTI) keeps nothing; ctx 1 gets
    # its own RESP3 value back (the L1 keeps RESP3 apart), never the array
    [ "$(tail -3 <<<"$output")" = "$(printf '%s\n' NULL nil "type 9 elements 2")" ]
}

@test "L1: a buffer of several commands inside MULTI keeps no QUEUED reply as a value" {
    start_redis
    rcli set k v >/dev/null
    cat > "$BATS_TEST_TMPDIR/script" <<'SCRIPT'
connect
cmd GET k
cmd MULTI
raw *2\r\n$3\r\nGET\r\n$1\r\nk\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n
get
get
cmd EXEC
SCRIPT
    echo "sh $REDISCTL kill $REDIS_DIR" >> "$BATS_TEST_TMPDIR/script"
    echo "cmd GET k" >> "$BATS_TEST_TMPDIR/script"
    THRESHOLD=1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    assert_output_is "$(printf '%s\n' "connect ok" "str v" "status OK" "append ok" "status QUEUED" "status QUEUED" \
        "array 2" "str v")"
}

# Found by the audit of this call path (B1-B8).

@test "audit B1: the session replayed by a heal is bounded by the socket timeout (frozen server)" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd SELECT 1
sh redis-cli -p $PORT client kill type normal >/dev/null
cmd GET k
sh $REDISCTL freeze $REDIS_DIR
cmd GET k
SCRIPT
    run timeout 20 env CACHEKIT_SOCKET_TIMEOUT=1 LD_PRELOAD="$SHIM" "$CLIENT" -p "$PORT" -T < "$BATS_TEST_TMPDIR/script"
    "$REDISCTL" thaw "$REDIS_DIR"
    [ "$status" -eq 0 ]
    local last
    last=$(tail -1 <<<"$output")
    [[ "$last" == NULL* ]]
    took "$last" 800 3000
}

@test "audit B2: a heal left by siglongjmp is redone: no reply of the replay answers a command" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd SELECT 1
cmd SET k one
cmd SET j two
sh redis-cli -p $PORT client kill type normal >/dev/null
cmd GET k
sh $REDISCTL freeze $REDIS_DIR
alarm-jmp 500 cmd GET k
sh $REDISCTL thaw $REDIS_DIR
cmd GET k
cmd GET j
cmd GET k
SCRIPT
    THRESHOLD=5 CACHEKIT_SOCKET_TIMEOUT=5 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    output=$(sed 's/^NULL .*/NULL/' <<<"$output")
    [ "$(tail -4 <<<"$output" | head -1)" = interrupted ]
    # each GET gets its own value or fails, never the reply of another command
    local line
    while read -r line; do
        [[ "$line" == NULL || "$line" == "str one" || "$line" == "str two" ]]
    done < <(tail -3 <<<"$output")
    [ "$(tail -2 <<<"$output")" = "$(printf '%s\n' "str two" "str one")" ]
}

@test "audit B3: a MULTI whose reply was lost keeps the transaction's commands from running alone" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
timeout 1000
sh $REDISCTL freeze $REDIS_DIR; (sleep 1.5; $REDISCTL thaw $REDIS_DIR) >/dev/null 2>&1 &
cmd MULTI
sleep 700
cmd INCR a
cmd INCR b
cmd EXEC
cmd GET a
SCRIPT
    run plain_client < "$BATS_TEST_TMPDIR/script"
    sleep 1
    [ -z "$(rcli get a)" ] && [ -z "$(rcli get b)" ]
    THRESHOLD=10 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    output=$(sed 's/^NULL .*/NULL/' <<<"$output")
    assert_output_is "$(printf '%s\n' "connect ok" "timeout ok" NULL NULL NULL NULL nil)"
    # nothing of the transaction was written, as without the shim
    [ -z "$(rcli get a)" ] && [ -z "$(rcli get b)" ]
}

@test "audit B4: a single command on a dead context gives up the answers owed before it" {
    start_redis
    rcli mset a A b B >/dev/null
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd GET b
append GET a
sh $REDISCTL kill $REDIS_DIR
get
append GET b
cmd GET a
cmd GET a
SCRIPT
    THRESHOLD=1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    output=$(sed 's/^NULL .*/NULL/' <<<"$output")
    assert_output_is "$(printf '%s\n' "connect ok" "str B" "append ok" NULL "append ok" nil nil)"
}

@test "audit B5: what a context the shim no longer follows writes is never followed by an older value" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<'SCRIPT'
connect
ctx 1
connect
ctx 0
cmd SET k old
cmd GET k
ctx 1
raw PING\r\nSET k new\r\nMULTI\r\nEXEC\r\n
get
get
get
get
cmd SET k newer
SCRIPT
    printf 'sh %s kill %s\nctx 0\ncmd GET k\ncmd GET k\n' "$REDISCTL" "$REDIS_DIR" >> "$BATS_TEST_TMPDIR/script"
    THRESHOLD=1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    output=$(sed 's/^NULL .*/NULL/' <<<"$output")
    [ "$(tail -2 <<<"$output")" = "$(printf '%s\n' NULL nil)" ]
}

@test "audit B7: a command split over two preformatted buffers never shifts replies" {
    start_redis
    rcli mset x X y Y k K >/dev/null
    cat > "$BATS_TEST_TMPDIR/script" <<'SCRIPT'
connect
raw *2\r\n$3\r\nGET\r\n
raw $1\r\nk\r\n
get
cmd GET x
cmd GET y
SCRIPT
    run plain_client < "$BATS_TEST_TMPDIR/script"
    local control=$output
    printf 'sh %s kill %s\ncmd GET y\ncmd GET x\ncmd GET y\n' "$REDISCTL" "$REDIS_DIR" >> "$BATS_TEST_TMPDIR/script"
    THRESHOLD=1 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [ "$(head -6 <<<"$output")" = "$control" ]
    # the context passes through from the split on (one warning): through
    # the outage it fails as without the shim, and never answers another
    # command's value
    output=$(sed 's/^NULL .*/NULL/' <<<"$output")
    [ "$(tail -3 <<<"$output")" = "$(printf '%s\n' NULL NULL NULL)" ]
    grep -q "not whole commands" "$BATS_TEST_TMPDIR/stderr"
}

@test "audit B8: a non-blocking context doing its own I/O gets the open circuit's answer, never waits for one" {
    start_redis --enable-debug-command yes
    rcli set k v >/dev/null
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd DEBUG SLEEP 0.6
ctx 1
connect-nb
append GET k
nb-get
SCRIPT
    THRESHOLD=1 CACHEKIT_SOCKET_TIMEOUT=0.2 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    grep -q "CLOSED -> OPEN" "$BATS_TEST_TMPDIR/stderr"
    # connected while the circuit is open: a placeholder it can wait on
    # (writable at once), whose read is answered as any read while open
    # (nil: k was never read), not "no reply" after its 2 s wait
    [ "$(tail -3 <<<"$output")" = "$(printf '%s\n' "connect ok" "append ok" nil)" ]
}

@test "audit: after a siglongjmp out of a hiredis call, calls from deeper frames are still the program's" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
cmd SET a 1
cmd GET a
alarm-jmp 100 cmd BLPOP q 1
sleep 1100
sh env -u LD_PRELOAD $REDISCTL kill $REDIS_DIR
repeat 4 repeat 1 cmd GET a
SCRIPT
    # SIGPIPE ignored, as hiredis programs do: the writes to the killed
    # server fail instead of killing the program. Control: plain hiredis.
    run bash -c 'trap "" PIPE; exec "$@"' _ "$CLIENT" -p "$PORT" < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    local plain=$output
    [ "$(tail -n 3 <<< "$plain" | grep -c '^NULL ')" -eq 3 ] # the dead server's errors
    start_redis # the same directory: the script's kill line stands
    run bash -c 'trap "" PIPE; err=$1; shift; exec "$@" 2> "$err"' _ "$BATS_TEST_TMPDIR/stderr" \
        env CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=2 LD_PRELOAD="$SHIM" "$CLIENT" -p "$PORT" \
        < "$BATS_TEST_TMPDIR/script"
    cat "$BATS_TEST_TMPDIR/stderr" >&2
    echo "$output" >&2
    [ "$status" -eq 0 ]
    # until Redis goes, the program sees what it sees without the shim
    [ "$(head -n 5 <<< "$output")" = "$(head -n 5 <<< "$plain")" ]
    # the GETs, two levels of the script deeper than the interrupted call,
    # reach the breaker, which opens, and get the stale value (the first
    # reads BLPOP's late reply, as without the shim)
    grep -q 'CLOSED -> OPEN' "$BATS_TEST_TMPDIR/stderr"
    [ "$(tail -n 3 <<< "$output" | grep -c '^str 1$')" -eq 3 ]
}

@test "audit: a push callback ending with a hiredis call (a tail call) is the program's: replies stay with their commands (hiredis 1.x)" {
    start_redis
    rcli mset keyA AAA keyB BBB keyX XXX > /dev/null
    # (the stop command runs without the preload: under ASan's runtime, ps
    # in redisctl can hang in a fresh process)
    local app=$CK_BUILD/tests/apps/push_callback stop="env -u LD_PRELOAD $REDISCTL kill $REDIS_DIR"
    run "$app" "$PORT" true
    [ "$output" != "no push callbacks" ] || skip "hiredis 0.14 has no push callbacks"
    echo "$output" >&2
    [ "$(head -n 3 <<< "$output")" = "$(printf '%s\n' 'pipelined -> AAA' 'pipelined -> XXX' 'pipelined -> BBB')" ]
    run bash -c 'trap "" PIPE; exec "$@"' _ env CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD=1 LD_PRELOAD="$SHIM" \
        "$app" "$PORT" "$stop"
    echo "$output" >&2
    [ "$status" -eq 0 ]
    [ "$(head -n 3 <<< "$output")" = "$(printf '%s\n' 'pipelined -> AAA' 'pipelined -> XXX' 'pipelined -> BBB')" ]
    # while Redis is down: keyB's last good value, never keyX's
    none grep 'GET keyB -> XXX' <<< "$output"
    [ "$(grep -c '^GET keyB -> BBB$' <<< "$output")" -eq 4 ]
}

# Call sites (core/call_site.h): the shim remembers what a format says by
# its address. A program that writes its formats into one buffer, and one
# whose formats come from a module it unloads, must each have every
# command sent (or refused, or answered) as its bytes say now.
@test "a format buffer reused for other commands: each call is the command its bytes say, healthy and with the circuit open" {
    start_redis
    cat > "$BATS_TEST_TMPDIR/script" <<SCRIPT
connect
reused SET k first
reused GET k
reused SET k second
reused GET k
reused DEL other
reused GET k
sh $REDISCTL kill $REDIS_DIR
reused GET k
reused SET k third
reused GET k
reused DEL k
reused GET k
reused INCR n
SCRIPT
    THRESHOLD=1 COOLDOWN=30 run client_under_shim < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    output=$(sed 's/^NULL .*/NULL/; s/^err .*/err/' <<<"$output")
    local shimmed=$output
    # healthy: as plain hiredis (below); after the kill: reads get the
    # L1's value (the first one, whose connection is lost, too), writes
    # fail (never "OK" or a count: they were not done)
    assert_output_is "$(printf '%s\n' "connect ok" "status OK" "str first" "status OK" "str second" "int 0" \
        "str second" "str second" NULL "str second" NULL "str second" NULL)"
    "$REDISCTL" start "$REDIS_DIR" "$PORT"
    run plain_client < "$BATS_TEST_TMPDIR/script"
    [ "$status" -eq 0 ]
    [ "$(head -7 <<<"$output")" = "$(head -7 <<<"$shimmed")" ]
}

@test "a format from a module unloaded and another loaded at its address: the new format's command is sent" {
    start_redis
    local apps=$CK_BUILD/tests/apps
    run env LD_PRELOAD="$SHIM" "$apps/dl_formats" -p "$PORT" "$apps/libformat_read.so" "$apps/libformat_write.so"
    [ "$status" -eq 0 ]
    # (the test means something only if the loader reused the address)
    assert_output_is "$(printf '%s\n' "array 2" "array 2" "same address" "status OK")"
    [ "$(rcli get k1)" = x ]
    rcli del k1 >/dev/null
    # A's format met first in A's destructor, while dlclose runs (audit)
    run env LD_PRELOAD="$SHIM" "$apps/dl_formats" -d -p "$PORT" "$apps/libformat_read.so" "$apps/libformat_write.so"
    [ "$status" -eq 0 ]
    assert_output_is "$(printf '%s\n' "same address" "status OK")"
    [ "$(rcli get k1)" = x ]
    rcli del k1 >/dev/null
    run env LD_PRELOAD= "$apps/dl_formats" -p "$PORT" "$apps/libformat_read.so" "$apps/libformat_write.so"
    [ "$status" -eq 0 ]
    assert_output_is "$(printf '%s\n' "array 2" "array 2" "same address" "status OK")"
    [ "$(rcli get k1)" = x ]
}
