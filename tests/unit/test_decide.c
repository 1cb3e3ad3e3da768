/* The decision step over its whole state space: every class, connection
 * state, transaction flag, dead replies owed, breaker on or off, transport
 * and gate. Each combination is checked against the rules in words
 * (decide.h), and a few against the bugs they prevent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "decide.h"

static const ck_command_class classes[] = {CK_CMD_DATA,      CK_CMD_CONNECTION, CK_CMD_TXN_BEGIN, CK_CMD_TXN_END,
                                           CK_CMD_TXN_WATCH, CK_CMD_SUBSCRIBE,  CK_CMD_BLOCKING};
static const ck_conn_state conns[] = {CK_CONN_LIVE, CK_CONN_DEAD, CK_CONN_PLACEHOLDER};
static const ck_gate gates[] = {CK_ALLOW, CK_PROBE, CK_REJECT};

static void every_state_follows_the_rules(void **state) {
    (void)state;
    unsigned checked = 0;
    for (size_t c = 0; c < sizeof classes / sizeof classes[0]; c++)
        for (size_t k = 0; k < sizeof conns / sizeof conns[0]; k++)
            for (int bits = 0; bits < 128; bits++)
                for (size_t g = 0; g < sizeof gates / sizeof gates[0]; g++) {
                    ck_situation s = {
                        classes[c],      conns[k],         bits & 1,         (bits & 2) != 0,  (bits & 4) != 0,
                        (bits & 8) != 0, (bits & 16) != 0, (bits & 32) != 0, (bits & 64) != 0, false, false};
                    ck_gate gate = gates[g];
                    ck_action a = ck_decide(&s, gate);
                    bool gated = (s.cls == CK_CMD_DATA || s.cls == CK_CMD_BLOCKING) && !s.in_transaction;
                    /* only data outside a transaction is ever answered by the shim */
                    if (a == CK_ACT_ANSWER)
                        assert_true(gated);
                    /* a write is never answered as done while open, unless the operator chose nil */
                    if (a == CK_ACT_ANSWER && s.writes)
                        assert_false(s.refuse_writes);
                    /* an open circuit never lets anything it was asked about reach the network */
                    if (gate == CK_REJECT && ck_decide_needs_permit(&s))
                        assert_true(a == CK_ACT_ANSWER || a == CK_ACT_FAIL_DEAD || a == CK_ACT_REFUSE ||
                                    a == CK_ACT_REMEMBER);
                    /* ...and an open circuit answers data the same on every connection */
                    if (gate == CK_REJECT && gated)
                        assert_int_equal(a, s.writes && s.refuse_writes ? CK_ACT_REFUSE : CK_ACT_ANSWER);
                    /* only a placeholder's session set-up is answered as done */
                    if (a == CK_ACT_REMEMBER)
                        assert_true(s.session && s.conn == CK_CONN_PLACEHOLDER && !gated);
                    /* nothing is sent on a connection that is not there */
                    if (s.conn != CK_CONN_LIVE)
                        assert_int_not_equal(a, CK_ACT_SEND);
                    /* a new connection never answers for a dead one */
                    if (s.owes_dead)
                        assert_int_not_equal(a, CK_ACT_CONNECT_SEND);
                    /* only a transport that can connects in place */
                    if (a == CK_ACT_CONNECT_SEND)
                        assert_true(s.can_connect && s.breaker_enabled && !s.in_transaction);
                    /* a live connection sends whatever the circuit allows... */
                    if (s.conn == CK_CONN_LIVE && gate != CK_REJECT && !s.owes_dead)
                        assert_int_equal(a, CK_ACT_SEND);
                    /* ...but nothing is sent behind a reply that ends the connection for
                     * the program (a dead one's, or a refusal): it would be reported not sent */
                    if (s.owes_dead)
                        assert_true(a != CK_ACT_SEND && a != CK_ACT_CONNECT_SEND);
                    /* a dead connection fails what it cannot heal for, as hiredis does */
                    if (s.conn == CK_CONN_DEAD && !gated && (s.owes_dead || gate == CK_REJECT))
                        assert_int_equal(a, CK_ACT_FAIL_DEAD);
                    /* a placeholder that cannot connect asks no permit */
                    if (s.conn == CK_CONN_PLACEHOLDER && !s.can_connect)
                        assert_false(ck_decide_needs_permit(&s));
                    /* whatever must connect asks the breaker first */
                    if (ck_decide_must_connect(&s))
                        assert_true(ck_decide_needs_permit(&s));
                    assert_non_null(ck_action_name(a));
                    checked++;
                }
    assert_int_equal(checked, 7 * 3 * 128 * 3);
}

/* Issue 15 (audit): a live non-blocking connection's program may wait on
 * its descriptor before it asks for a reply; the shim's own answers never
 * make it readable, so its commands are sent whatever the circuit says
 * (bounded by the deadline) and ask the breaker nothing. A placeholder or
 * a dead connection is not waited on: the breaker decides there. */
static void a_live_connection_its_program_waits_on_asks_no_permit(void **state) {
    (void)state;
    for (size_t c = 0; c < sizeof classes / sizeof classes[0]; c++) {
        ck_situation s = {classes[c], CK_CONN_LIVE, false, false, true, true, false, true, false, false, true};
        assert_false(ck_decide_needs_permit(&s));
        assert_int_equal(ck_decide(&s, CK_ALLOW), CK_ACT_SEND);
        s.waited_on = false;
        if (classes[c] == CK_CMD_DATA || classes[c] == CK_CMD_BLOCKING)
            assert_true(ck_decide_needs_permit(&s));
        s.waited_on = true;
        s.conn = CK_CONN_PLACEHOLDER;
        if (classes[c] == CK_CMD_DATA || classes[c] == CK_CMD_BLOCKING)
            assert_true(ck_decide_needs_permit(&s));
    }
}

/* Issue 10, case 2: MULTI on a broken context while the circuit is open
 * is not sent (so it cannot leave the context "in a transaction"). */
static void multi_on_a_dead_connection_while_open_is_not_sent(void **state) {
    (void)state;
    ck_situation s = {CK_CMD_TXN_BEGIN, CK_CONN_DEAD, false, false, true, true, false, true, false, false, false};
    assert_true(ck_decide_needs_permit(&s));
    assert_int_equal(ck_decide(&s, CK_REJECT), CK_ACT_FAIL_DEAD);
    assert_int_equal(ck_decide(&s, CK_ALLOW), CK_ACT_CONNECT_SEND);
}

/* Issue 10, case 1: a dead connection that still owes replies is not
 * healed under them. */
static void owed_dead_replies_come_before_any_heal(void **state) {
    (void)state;
    ck_situation s = {CK_CMD_DATA, CK_CONN_DEAD, false, true, true, true, false, true, false, false, false};
    assert_int_equal(ck_decide(&s, CK_ALLOW), CK_ACT_FAIL_DEAD);
    assert_int_equal(ck_decide(&s, CK_REJECT), CK_ACT_ANSWER);
    s.owes_dead = false;
    assert_int_equal(ck_decide(&s, CK_ALLOW), CK_ACT_CONNECT_SEND);
    assert_int_equal(ck_decide(&s, CK_PROBE), CK_ACT_CONNECT_SEND);
}

/* Audit (issue 14): a connection the program made from its own
 * descriptor cannot be healed; made-up answers would hide its death for
 * good, so every command fails as on the dead connection, open or not. */
static void a_connection_lost_for_good_always_fails_as_dead(void **state) {
    (void)state;
    ck_situation s = {CK_CMD_DATA, CK_CONN_DEAD, false, false, true, true, false, true, false, true, false};
    assert_false(ck_decide_needs_permit(&s));
    assert_int_equal(ck_decide(&s, CK_ALLOW), CK_ACT_FAIL_DEAD);
    assert_int_equal(ck_decide(&s, CK_REJECT), CK_ACT_FAIL_DEAD);
    s.writes = true;
    assert_int_equal(ck_decide(&s, CK_REJECT), CK_ACT_FAIL_DEAD);
}

static void placeholders(void **state) {
    (void)state;
    ck_situation s = {CK_CMD_DATA, CK_CONN_PLACEHOLDER, false, false, true, true, false, true, false, false, false};
    assert_int_equal(ck_decide(&s, CK_REJECT), CK_ACT_ANSWER);
    assert_int_equal(ck_decide(&s, CK_PROBE), CK_ACT_CONNECT_SEND);
    s.cls = CK_CMD_CONNECTION;
    assert_int_equal(ck_decide(&s, CK_REJECT), CK_ACT_REFUSE);
    s.session = true; /* AUTH, SELECT...: remembered, replayed when it connects */
    assert_int_equal(ck_decide(&s, CK_REJECT), CK_ACT_REMEMBER);
    assert_int_equal(ck_decide(&s, CK_PROBE), CK_ACT_CONNECT_SEND);
    s.can_connect = false; /* async */
    assert_int_equal(ck_decide(&s, CK_ALLOW), CK_ACT_REMEMBER);
    s.session = false;
    assert_int_equal(ck_decide(&s, CK_ALLOW), CK_ACT_REFUSE);
    s.cls = CK_CMD_DATA;
    assert_int_equal(ck_decide(&s, CK_ALLOW), CK_ACT_ANSWER);
}

/* Audit of issue 11: a probe appended behind a refused write on the same
 * connection was sent, applied by Redis, and reported "not sent". */
static void nothing_is_sent_behind_an_owed_refusal(void **state) {
    (void)state;
    ck_situation s = {CK_CMD_DATA, CK_CONN_LIVE, false, true, true, true, true, true, false, false, false};
    assert_int_equal(ck_decide(&s, CK_PROBE), CK_ACT_FAIL_DEAD);
    assert_int_equal(ck_decide(&s, CK_ALLOW), CK_ACT_FAIL_DEAD);
    assert_int_equal(ck_decide(&s, CK_REJECT), CK_ACT_REFUSE);
    s.conn = CK_CONN_PLACEHOLDER;
    assert_int_equal(ck_decide(&s, CK_PROBE), CK_ACT_FAIL_DEAD);
}

/* Issue 11: a write while open fails as on a dead server (the program
 * learns it was not done), on every kind of connection; with
 * CACHEKIT_OPEN_WRITES=nil it gets nil, as before. Reads keep nil/stale. */
static void writes_while_open_fail_unless_nil_was_chosen(void **state) {
    (void)state;
    for (size_t k = 0; k < sizeof conns / sizeof conns[0]; k++) {
        ck_situation s = {CK_CMD_DATA, conns[k], false, false, true, true, true, true, false, false, false};
        assert_int_equal(ck_decide(&s, CK_REJECT), CK_ACT_REFUSE);
        s.refuse_writes = false;
        assert_int_equal(ck_decide(&s, CK_REJECT), CK_ACT_ANSWER);
        s.writes = false;
        s.refuse_writes = true;
        assert_int_equal(ck_decide(&s, CK_REJECT), CK_ACT_ANSWER);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_state_follows_the_rules),
        cmocka_unit_test(a_live_connection_its_program_waits_on_asks_no_permit),
        cmocka_unit_test(multi_on_a_dead_connection_while_open_is_not_sent),
        cmocka_unit_test(owed_dead_replies_come_before_any_heal),
        cmocka_unit_test(a_connection_lost_for_good_always_fails_as_dead),
        cmocka_unit_test(placeholders),
        cmocka_unit_test(writes_while_open_fail_unless_nil_was_chosen),
        cmocka_unit_test(nothing_is_sent_behind_an_owed_refusal),
    };
    return cmocka_run_group_tests_name("decide", tests, NULL, NULL);
}
