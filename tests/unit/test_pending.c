/* The per-context queue of owed replies keeps append order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pending.h"

static void push(ck_pending *q, ck_slot_kind kind, ck_gate gate) {
    assert_true(ck_pending_reserve(q));
    ck_pending_push(q, kind, (ck_permit){gate, gate == CK_PROBE ? 7u : 0u}, 0);
}

static ck_slot_kind pop(ck_pending *q, ck_gate *gate) {
    const ck_slot *s = ck_pending_front(q);
    assert_non_null(s);
    ck_slot_kind kind = (ck_slot_kind)s->kind;
    if (gate != NULL)
        *gate = (ck_gate)s->gate;
    ck_pending_pop(q);
    return kind;
}

static void keeps_order_across_kinds(void **state) {
    (void)state;
    ck_pending q;
    ck_pending_init(&q);
    assert_true(ck_pending_empty(&q));
    push(&q, CK_SLOT_REAL, CK_ALLOW);
    push(&q, CK_SLOT_REAL, CK_ALLOW);
    push(&q, CK_SLOT_SYNTH_NIL, CK_REJECT);
    push(&q, CK_SLOT_REAL, CK_PROBE);
    push(&q, CK_SLOT_REAL, CK_ALLOW);
    push(&q, CK_SLOT_SYNTH_NIL, CK_REJECT);
    ck_gate g;
    assert_int_equal(pop(&q, NULL), CK_SLOT_REAL);
    assert_int_equal(pop(&q, NULL), CK_SLOT_REAL);
    assert_int_equal(pop(&q, NULL), CK_SLOT_SYNTH_NIL);
    assert_int_equal(pop(&q, &g), CK_SLOT_REAL);
    assert_int_equal(g, CK_PROBE);
    assert_int_equal(pop(&q, &g), CK_SLOT_REAL);
    assert_int_equal(g, CK_ALLOW);
    assert_int_equal(pop(&q, NULL), CK_SLOT_SYNTH_NIL);
    assert_true(ck_pending_empty(&q));
    ck_pending_free(&q);
}

static void runs_are_counted_not_stored(void **state) {
    (void)state;
    ck_pending q;
    ck_pending_init(&q);
    for (int i = 0; i < 10000; i++)
        push(&q, CK_SLOT_REAL, CK_ALLOW);
    assert_int_equal(q.len, 1);
    assert_int_equal(q.cap, 8);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(pop(&q, NULL), CK_SLOT_REAL);
    assert_true(ck_pending_empty(&q));
    ck_pending_free(&q);
}

static void grows_and_wraps(void **state) {
    (void)state;
    ck_pending q;
    ck_pending_init(&q);
    /* alternate kinds so every push is a slot of its own; pop some in
     * between so the ring wraps before it grows */
    int pushed = 0, popped = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 7; i++, pushed++)
            push(&q, pushed % 2 ? CK_SLOT_SYNTH_NIL : CK_SLOT_REAL, pushed % 2 ? CK_REJECT : CK_PROBE);
        for (int i = 0; i < 5; i++, popped++)
            assert_int_equal(pop(&q, NULL), popped % 2 ? CK_SLOT_SYNTH_NIL : CK_SLOT_REAL);
    }
    while (!ck_pending_empty(&q)) {
        assert_int_equal(pop(&q, NULL), popped % 2 ? CK_SLOT_SYNTH_NIL : CK_SLOT_REAL);
        popped++;
    }
    assert_int_equal(popped, pushed);
    ck_pending_free(&q);
}

static void flagged_slots_stand_alone(void **state) {
    (void)state;
    ck_pending q;
    ck_pending_init(&q);
    assert_true(ck_pending_reserve(&q));
    ck_pending_push(&q, CK_SLOT_REAL, CK_PERMIT_ALLOW, 0);
    assert_true(ck_pending_reserve(&q));
    ck_pending_push(&q, CK_SLOT_REAL, CK_PERMIT_ALLOW, CK_SLOT_UNBOUNDED);
    assert_true(ck_pending_reserve(&q));
    ck_pending_push(&q, CK_SLOT_REAL, CK_PERMIT_ALLOW, 0);
    assert_true(ck_pending_reserve(&q));
    ck_pending_push(&q, CK_SLOT_REAL, CK_PERMIT_ALLOW, CK_SLOT_SESSION);
    assert_int_equal(q.len, 4);
    assert_int_equal(ck_pending_front(&q)->flags, 0);
    ck_pending_pop(&q);
    assert_int_equal(ck_pending_front(&q)->flags, CK_SLOT_UNBOUNDED);
    ck_pending_pop(&q);
    assert_int_equal(ck_pending_front(&q)->flags, 0);
    ck_pending_pop(&q);
    assert_int_equal(ck_pending_front(&q)->flags, CK_SLOT_SESSION);
    ck_pending_pop(&q);
    assert_true(ck_pending_empty(&q));
    ck_pending_free(&q);
}

static void clear_reports_an_owed_probe(void **state) {
    (void)state;
    ck_pending q;
    ck_pending_init(&q);
    push(&q, CK_SLOT_REAL, CK_ALLOW);
    assert_int_equal(ck_pending_clear(&q).gate, CK_ALLOW);
    push(&q, CK_SLOT_SYNTH_NIL, CK_REJECT);
    push(&q, CK_SLOT_REAL, CK_PROBE);
    ck_permit p = ck_pending_clear(&q);
    assert_int_equal(p.gate, CK_PROBE);
    assert_int_equal(p.ticket, 7);
    assert_true(ck_pending_empty(&q));
    assert_null(ck_pending_front(&q));
    ck_pending_free(&q);
}

/* The connection died: what it owed is answered as on a dead connection,
 * in its place; the made-up answers keep theirs. */
static void a_dead_connection_turns_its_replies_dead(void **state) {
    (void)state;
    ck_pending q;
    ck_pending_init(&q);
    push(&q, CK_SLOT_REAL, CK_PROBE);
    push(&q, CK_SLOT_SYNTH_NIL, CK_REJECT);
    push(&q, CK_SLOT_REAL, CK_ALLOW);
    push(&q, CK_SLOT_REAL, CK_ALLOW);
    assert_false(ck_pending_owes_dead(&q));
    uint32_t killed;
    ck_permit p = ck_pending_kill_real(&q, &killed);
    assert_int_equal(p.gate, CK_PROBE);
    assert_int_equal(killed, 3);
    assert_true(ck_pending_owes_dead(&q));
    assert_false(ck_pending_awaits_real(&q));
    assert_int_equal(pop(&q, NULL), CK_SLOT_DEAD);
    assert_int_equal(pop(&q, NULL), CK_SLOT_SYNTH_NIL);
    assert_int_equal(pop(&q, NULL), CK_SLOT_DEAD);
    assert_int_equal(pop(&q, NULL), CK_SLOT_DEAD);
    assert_true(ck_pending_empty(&q));
    /* a second death finds nothing more to kill */
    push(&q, CK_SLOT_SYNTH_NIL, CK_REJECT);
    ck_pending_kill_real(&q, &killed);
    assert_int_equal(killed, 0);
    assert_int_equal(pop(&q, NULL), CK_SLOT_SYNTH_NIL);
    ck_pending_free(&q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keeps_order_across_kinds),
        cmocka_unit_test(runs_are_counted_not_stored),
        cmocka_unit_test(grows_and_wraps),
        cmocka_unit_test(clear_reports_an_owed_probe),
        cmocka_unit_test(a_dead_connection_turns_its_replies_dead),
        cmocka_unit_test(flagged_slots_stand_alone),
    };
    return cmocka_run_group_tests_name("pending", tests, NULL, NULL);
}
