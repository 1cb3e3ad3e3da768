/* The send-time ring (core/stamps.c): order across growth and wrap, and
 * what is lost when memory is short. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "stamps.h"

static void replies_pop_their_sends_in_order_across_growth_and_wrap(void **state) {
    (void)state;
    ck_stamps s = {0};
    uint64_t next_push = 1, next_pop = 1;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < round % 13 + 1; i++)
            ck_stamps_push(&s, next_push++);
        for (int i = 0; i < round % 7 + 1 && next_pop < next_push; i++)
            assert_int_equal(ck_stamps_pop(&s), next_pop++);
    }
    while (next_pop < next_push)
        assert_int_equal(ck_stamps_pop(&s), next_pop++);
    assert_int_equal(ck_stamps_pop(&s), 0); /* nothing awaited: unknown */
    ck_stamps_free(&s);
}

static void cleared_when_the_connection_ends(void **state) {
    (void)state;
    ck_stamps s = {0};
    ck_stamps_push(&s, 5);
    ck_stamps_push(&s, 6);
    ck_stamps_clear(&s);
    ck_stamps_push(&s, 7);
    assert_int_equal(ck_stamps_pop(&s), 7);
    ck_stamps_free(&s);
}

static void unknown_sends_pop_before_the_later_known_ones(void **state) {
    (void)state;
    /* as after a failed growth: two awaited replies lost their times */
    ck_stamps s = {.unknown = 2};
    ck_stamps_push(&s, 9);
    assert_int_equal(ck_stamps_pop(&s), 0);
    assert_int_equal(ck_stamps_pop(&s), 0);
    assert_int_equal(ck_stamps_pop(&s), 9);
    ck_stamps_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replies_pop_their_sends_in_order_across_growth_and_wrap),
        cmocka_unit_test(cleared_when_the_connection_ends),
        cmocka_unit_test(unknown_sends_pop_before_the_later_known_ones),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
