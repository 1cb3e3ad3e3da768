/* The breaker state machine, driven by a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <cmocka.h>

#include "breaker.h"

#define SEC 1000000000ull

static uint64_t fake_now = 1000 * SEC;
static _Atomic int clock_reads;
static uint64_t fake_clock(void) {
    clock_reads++;
    return fake_now;
}

static ck_breaker b;

static int setup(void **state) {
    (void)state;
    fake_now = 1000 * SEC;
    clock_reads = 0;
    ck_breaker_init(&b, true, 3, 30 * SEC);
    return 0;
}

static void fail_n(int n) {
    for (int i = 0; i < n; i++) {
        ck_gate g = ck_breaker_acquire(&b, fake_clock, NULL);
        assert_int_equal(g, CK_ALLOW);
        ck_breaker_record(&b, g, false, fake_clock, NULL);
    }
}

static void closed_allows_without_reading_the_clock(void **state) {
    (void)state;
    for (int i = 0; i < 100; i++) {
        ck_gate g = ck_breaker_acquire(&b, fake_clock, NULL);
        assert_int_equal(g, CK_ALLOW);
        ck_breaker_record(&b, g, true, fake_clock, NULL);
    }
    assert_int_equal(clock_reads, 0);
    assert_int_equal(ck_breaker_state_of(&b), CK_CLOSED);
}

static void opens_exactly_at_threshold(void **state) {
    (void)state;
    fail_n(2);
    assert_int_equal(ck_breaker_state_of(&b), CK_CLOSED);
    ck_transition t;
    ck_gate g = ck_breaker_acquire(&b, fake_clock, &t);
    assert_false(t.happened);
    ck_breaker_record(&b, g, false, fake_clock, &t);
    assert_true(t.happened);
    assert_int_equal(t.from, CK_CLOSED);
    assert_int_equal(t.to, CK_OPEN);
    assert_int_equal(ck_breaker_state_of(&b), CK_OPEN);
    assert_int_equal(atomic_load(&b.opens_total), 1);
    assert_int_equal(atomic_load(&b.failures_total), 3);
}

static void success_resets_the_count(void **state) {
    (void)state;
    fail_n(2);
    ck_breaker_record(&b, ck_breaker_acquire(&b, fake_clock, NULL), true, fake_clock, NULL);
    fail_n(2);
    assert_int_equal(ck_breaker_state_of(&b), CK_CLOSED);
    fail_n(1);
    assert_int_equal(ck_breaker_state_of(&b), CK_OPEN);
}

static void threshold_of_one_opens_on_first_failure(void **state) {
    (void)state;
    ck_breaker_init(&b, true, 1, SEC);
    fail_n(1);
    assert_int_equal(ck_breaker_state_of(&b), CK_OPEN);
}

static void open_rejects_until_cooldown(void **state) {
    (void)state;
    fail_n(3);
    fake_now += 30 * SEC - 1;
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL), CK_REJECT);
    assert_int_equal(atomic_load(&b.rejected_total), 1);
    fake_now += 1;
    ck_transition t;
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, &t), CK_PROBE);
    assert_true(t.happened);
    assert_int_equal(t.from, CK_OPEN);
    assert_int_equal(t.to, CK_HALF_OPEN);
    /* everyone else is still rejected while the probe is out */
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL), CK_REJECT);
    fake_now += 3600 * SEC;
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL), CK_REJECT);
}

static void probe_success_closes(void **state) {
    (void)state;
    fail_n(3);
    fake_now += 30 * SEC;
    ck_gate g = ck_breaker_acquire(&b, fake_clock, NULL);
    assert_int_equal(g, CK_PROBE);
    ck_transition t;
    ck_breaker_record(&b, g, true, fake_clock, &t);
    assert_int_equal(t.from, CK_HALF_OPEN);
    assert_int_equal(t.to, CK_CLOSED);
    assert_int_equal(ck_breaker_state_of(&b), CK_CLOSED);
    assert_int_equal(atomic_load(&b.recoveries_total), 1);
    /* the count starts from zero again */
    fail_n(2);
    assert_int_equal(ck_breaker_state_of(&b), CK_CLOSED);
}

static void probe_failure_reopens_with_fresh_cooldown(void **state) {
    (void)state;
    fail_n(3);
    fake_now += 30 * SEC;
    ck_gate g = ck_breaker_acquire(&b, fake_clock, NULL);
    assert_int_equal(g, CK_PROBE);
    fake_now += 5 * SEC; /* the probe took a while */
    ck_transition t;
    ck_breaker_record(&b, g, false, fake_clock, &t);
    assert_int_equal(t.to, CK_OPEN);
    fake_now += 30 * SEC - 1;
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL), CK_REJECT);
    fake_now += 1;
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL), CK_PROBE);
    assert_int_equal(atomic_load(&b.opens_total), 2);
}

static void late_outcomes_of_calls_let_through_earlier_are_ignored(void **state) {
    (void)state;
    fail_n(3);
    /* a call allowed before the circuit opened fails or succeeds now */
    ck_transition t;
    ck_breaker_record(&b, CK_ALLOW, false, fake_clock, &t);
    assert_false(t.happened);
    ck_breaker_record(&b, CK_ALLOW, true, fake_clock, &t);
    assert_false(t.happened);
    assert_int_equal(ck_breaker_state_of(&b), CK_OPEN);
    fake_now += 30 * SEC;
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL), CK_PROBE);
    ck_breaker_record(&b, CK_ALLOW, true, fake_clock, NULL);
    assert_int_equal(ck_breaker_state_of(&b), CK_HALF_OPEN);
}

static void released_probe_lets_the_next_call_probe(void **state) {
    (void)state;
    fail_n(3);
    fake_now += 30 * SEC;
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL), CK_PROBE);
    ck_transition t;
    ck_breaker_release_probe(&b, &t);
    assert_true(t.happened);
    assert_int_equal(t.to, CK_OPEN);
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL), CK_PROBE);
}

static void disabled_breaker_always_allows(void **state) {
    (void)state;
    ck_breaker_init(&b, false, 1, SEC);
    for (int i = 0; i < 10; i++) {
        ck_gate g = ck_breaker_acquire(&b, fake_clock, NULL);
        assert_int_equal(g, CK_ALLOW);
        ck_breaker_record(&b, g, false, fake_clock, NULL);
    }
    assert_int_equal(ck_breaker_state_of(&b), CK_CLOSED);
}

/* Many threads hit an open breaker whose cooldown has elapsed: exactly one
 * of them may probe. Repeated to give the race many chances. */
#define RACERS 8
static pthread_barrier_t start_line;
static _Atomic int probes, rejects;

static void *racer(void *arg) {
    (void)arg;
    pthread_barrier_wait(&start_line);
    for (int i = 0; i < 50; i++) {
        ck_gate g = ck_breaker_acquire(&b, fake_clock, NULL);
        if (g == CK_PROBE)
            atomic_fetch_add(&probes, 1);
        else if (g == CK_REJECT)
            atomic_fetch_add(&rejects, 1);
    }
    return NULL;
}

static void exactly_one_probe_under_concurrency(void **state) {
    (void)state;
    for (int round = 0; round < 200; round++) {
        ck_breaker_init(&b, true, 1, 30 * SEC);
        fail_n(1);
        fake_now += 30 * SEC;
        atomic_store(&probes, 0);
        atomic_store(&rejects, 0);
        pthread_t threads[RACERS];
        pthread_barrier_init(&start_line, NULL, RACERS);
        for (int i = 0; i < RACERS; i++)
            pthread_create(&threads[i], NULL, racer, NULL);
        for (int i = 0; i < RACERS; i++)
            pthread_join(threads[i], NULL);
        pthread_barrier_destroy(&start_line);
        assert_int_equal(atomic_load(&probes), 1);
        assert_int_equal(atomic_load(&rejects), RACERS * 50 - 1);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(closed_allows_without_reading_the_clock, setup),
        cmocka_unit_test_setup(opens_exactly_at_threshold, setup),
        cmocka_unit_test_setup(success_resets_the_count, setup),
        cmocka_unit_test_setup(threshold_of_one_opens_on_first_failure, setup),
        cmocka_unit_test_setup(open_rejects_until_cooldown, setup),
        cmocka_unit_test_setup(probe_success_closes, setup),
        cmocka_unit_test_setup(probe_failure_reopens_with_fresh_cooldown, setup),
        cmocka_unit_test_setup(late_outcomes_of_calls_let_through_earlier_are_ignored, setup),
        cmocka_unit_test_setup(released_probe_lets_the_next_call_probe, setup),
        cmocka_unit_test_setup(disabled_breaker_always_allows, setup),
        cmocka_unit_test_setup(exactly_one_probe_under_concurrency, setup),
    };
    return cmocka_run_group_tests_name("breaker", tests, NULL, NULL);
}
