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
static uint64_t fake_random_value;
static uint64_t fake_random(void) { return fake_random_value; }

static void init_breaker(bool enabled, uint32_t threshold, uint64_t cooldown, uint64_t cooldown_max) {
    ck_breaker_settings s = {enabled, threshold, cooldown, cooldown_max, fake_random, 0, 200 * SEC};
    ck_breaker_init(&b, &s);
}

static int setup(void **state) {
    (void)state;
    fake_now = 1000 * SEC;
    clock_reads = 0;
    fake_random_value = 0;
    init_breaker(true, 3, 30 * SEC, 30 * SEC);
    return 0;
}

static void fail_n(int n) {
    for (int i = 0; i < n; i++) {
        ck_permit g = ck_breaker_acquire(&b, fake_clock, NULL);
        assert_int_equal(g.gate, CK_ALLOW);
        ck_breaker_record(&b, g, false, fake_clock, NULL);
    }
}

static void closed_allows_without_reading_the_clock(void **state) {
    (void)state;
    for (int i = 0; i < 100; i++) {
        ck_permit g = ck_breaker_acquire(&b, fake_clock, NULL);
        assert_int_equal(g.gate, CK_ALLOW);
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
    ck_permit g = ck_breaker_acquire(&b, fake_clock, &t);
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
    init_breaker(true, 1, SEC, SEC);
    fail_n(1);
    assert_int_equal(ck_breaker_state_of(&b), CK_OPEN);
}

static void open_rejects_until_cooldown(void **state) {
    (void)state;
    fail_n(3);
    fake_now += 30 * SEC - 1;
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_REJECT);
    assert_int_equal(atomic_load(&b.rejected_total), 1);
    fake_now += 1;
    ck_transition t;
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, &t).gate, CK_PROBE);
    assert_true(t.happened);
    assert_int_equal(t.from, CK_OPEN);
    assert_int_equal(t.to, CK_HALF_OPEN);
    /* everyone else is still rejected while the probe is out, until the
     * probe timeout (here the first cooldown) takes it from its holder */
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_REJECT);
    fake_now += 30 * SEC - 1;
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_REJECT);
    fake_now += 1;
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_PROBE);
}

static void due_says_when_a_call_would_be_let_through(void **state) {
    (void)state;
    assert_true(ck_breaker_due(&b, fake_now));
    fail_n(3);
    assert_false(ck_breaker_due(&b, fake_now + 30 * SEC - 1));
    assert_true(ck_breaker_due(&b, fake_now + 30 * SEC));
    assert_int_equal(ck_breaker_state_of(&b), CK_OPEN);
    assert_int_equal(atomic_load(&b.rejected_total), 0);
    fake_now += 30 * SEC;
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_PROBE);
    assert_false(ck_breaker_due(&b, fake_now + 3600 * SEC)); /* the probe is out */
    init_breaker(false, 3, 30 * SEC, 30 * SEC);
    fail_n(5);
    assert_true(ck_breaker_due(&b, fake_now));
}

static void probe_success_closes(void **state) {
    (void)state;
    fail_n(3);
    fake_now += 30 * SEC;
    ck_permit g = ck_breaker_acquire(&b, fake_clock, NULL);
    assert_int_equal(g.gate, CK_PROBE);
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
    ck_permit g = ck_breaker_acquire(&b, fake_clock, NULL);
    assert_int_equal(g.gate, CK_PROBE);
    fake_now += 5 * SEC; /* the probe took a while */
    ck_transition t;
    ck_breaker_record(&b, g, false, fake_clock, &t);
    assert_int_equal(t.to, CK_OPEN);
    fake_now += 30 * SEC - 1;
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_REJECT);
    fake_now += 1;
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_PROBE);
    assert_int_equal(atomic_load(&b.opens_total), 2);
}

static void late_outcomes_of_calls_let_through_earlier_are_ignored(void **state) {
    (void)state;
    fail_n(3);
    /* a call allowed before the circuit opened fails or succeeds now */
    ck_transition t;
    ck_breaker_record(&b, CK_PERMIT_ALLOW, false, fake_clock, &t);
    assert_false(t.happened);
    ck_breaker_record(&b, CK_PERMIT_ALLOW, true, fake_clock, &t);
    assert_false(t.happened);
    assert_int_equal(ck_breaker_state_of(&b), CK_OPEN);
    fake_now += 30 * SEC;
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_PROBE);
    ck_breaker_record(&b, CK_PERMIT_ALLOW, true, fake_clock, NULL);
    assert_int_equal(ck_breaker_state_of(&b), CK_HALF_OPEN);
}

static void released_probe_lets_the_next_call_probe(void **state) {
    (void)state;
    fail_n(3);
    fake_now += 30 * SEC;
    ck_permit p = ck_breaker_acquire(&b, fake_clock, NULL);
    assert_int_equal(p.gate, CK_PROBE);
    assert_int_not_equal(p.ticket, 0);
    ck_transition t;
    ck_breaker_release_probe(&b, p.ticket, &t);
    assert_true(t.happened);
    assert_int_equal(t.to, CK_OPEN);
    /* the same ticket again: it was used up, nothing happens */
    ck_breaker_release_probe(&b, p.ticket, &t);
    assert_false(t.happened);
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_PROBE);
}

/* A probe nobody settles (an idle connection won it) is taken over once
 * the probe timeout passes, and the first holder's late word is ignored. */
static void unsettled_probe_expires_and_is_taken_over(void **state) {
    (void)state;
    ck_breaker_settings s = {true, 3, 30 * SEC, 30 * SEC, fake_random, 7 * SEC, 200 * SEC};
    ck_breaker_init(&b, &s);
    fail_n(3);
    fake_now += 30 * SEC;
    ck_permit first = ck_breaker_acquire(&b, fake_clock, NULL);
    assert_int_equal(first.gate, CK_PROBE);
    fake_now += 7 * SEC - 1;
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_REJECT);
    fake_now += 1;
    ck_transition t;
    ck_permit second = ck_breaker_acquire(&b, fake_clock, &t);
    assert_int_equal(second.gate, CK_PROBE);
    assert_int_not_equal(second.ticket, first.ticket);
    assert_true(t.happened);
    assert_false(ck_breaker_holds(&b, first.ticket));
    assert_true(ck_breaker_holds(&b, second.ticket));
    /* the first holder fails late: ignored, the circuit stays half open */
    ck_breaker_record(&b, first, false, fake_clock, &t);
    assert_false(t.happened);
    assert_int_equal(ck_breaker_state_of(&b), CK_HALF_OPEN);
    ck_breaker_release_probe(&b, first.ticket, &t);
    assert_false(t.happened);
    assert_int_equal(ck_breaker_state_of(&b), CK_HALF_OPEN);
    /* the second settles it */
    ck_breaker_record(&b, second, true, fake_clock, &t);
    assert_true(t.happened);
    assert_int_equal(ck_breaker_state_of(&b), CK_CLOSED);
    /* and its ticket cannot settle anything twice */
    ck_breaker_record(&b, second, false, fake_clock, &t);
    assert_false(t.happened);
}

static void disabled_breaker_always_allows(void **state) {
    (void)state;
    init_breaker(false, 1, SEC, SEC);
    for (int i = 0; i < 10; i++) {
        ck_permit g = ck_breaker_acquire(&b, fake_clock, NULL);
        assert_int_equal(g.gate, CK_ALLOW);
        ck_breaker_record(&b, g, false, fake_clock, NULL);
    }
    assert_int_equal(ck_breaker_state_of(&b), CK_CLOSED);
}

static void fail_probe(void) {
    ck_permit g = ck_breaker_acquire(&b, fake_clock, NULL);
    assert_int_equal(g.gate, CK_PROBE);
    ck_breaker_record(&b, g, false, fake_clock, NULL);
}

/* the circuit probes exactly `after` ns from now, not a nanosecond before */
static void assert_next_probe_after(uint64_t after) {
    fake_now += after - 1;
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_REJECT);
    fake_now += 1;
}

static void cooldown_doubles_with_jitter_and_is_capped(void **state) {
    (void)state;
    init_breaker(true, 1, 10 * SEC, 50 * SEC);
    fake_random_value = 0; /* jitter picks the lowest: half of the doubled cooldown, plus nothing */
    fail_n(1);
    assert_next_probe_after(10 * SEC); /* the first cooldown is exact */
    fail_probe();
    assert_next_probe_after(10 * SEC); /* 20 s doubled, jitter in [10, 20] */
    fake_random_value = UINT64_MAX - 1; /* some value: the pick stays within the upper half */
    fail_probe();
    uint64_t c2 = ck_breaker_cooldown(&b, 2);
    assert_true(c2 >= 20 * SEC && c2 <= 40 * SEC);
    assert_next_probe_after(atomic_load(&b.w->probe_after_ns) - fake_now);
    fail_probe();
    for (uint32_t n = 3; n < 40; n++) { /* capped, never beyond the maximum */
        uint64_t c = ck_breaker_cooldown(&b, n);
        assert_true(c >= 25 * SEC && c <= 50 * SEC);
    }
    fake_random_value = 25 * SEC; /* the top of the range */
    assert_int_equal(ck_breaker_cooldown(&b, 3), 50 * SEC);
}

static void recovery_resets_the_backoff(void **state) {
    (void)state;
    init_breaker(true, 1, 10 * SEC, 80 * SEC);
    fake_random_value = 0;
    fail_n(1);
    fake_now += 10 * SEC;
    fail_probe();
    fake_now += 10 * SEC;
    fail_probe();
    fake_now += 20 * SEC;
    ck_permit g = ck_breaker_acquire(&b, fake_clock, NULL);
    assert_int_equal(g.gate, CK_PROBE);
    ck_breaker_record(&b, g, true, fake_clock, NULL);
    fail_n(1);
    assert_next_probe_after(10 * SEC);
    fail_probe();
    assert_next_probe_after(10 * SEC);
}

static void maximum_below_the_timeout_means_no_growth(void **state) {
    (void)state;
    init_breaker(true, 1, 10 * SEC, 1 * SEC);
    for (uint32_t n = 0; n < 5; n++)
        assert_int_equal(ck_breaker_cooldown(&b, n), 10 * SEC);
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
        ck_permit g = ck_breaker_acquire(&b, fake_clock, NULL);
        if (g.gate == CK_PROBE)
            atomic_fetch_add(&probes, 1);
        else if (g.gate == CK_REJECT)
            atomic_fetch_add(&rejects, 1);
    }
    return NULL;
}

static void exactly_one_probe_under_concurrency(void **state) {
    (void)state;
    for (int round = 0; round < 200; round++) {
        init_breaker(true, 1, 30 * SEC, 30 * SEC);
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

/* Health checks (state/health_check.c drives these). */

static _Atomic uint64_t lease; /* the check thread's */
static void cover(uint64_t until) {
    atomic_store(&lease, 0);
    assert_true(ck_breaker_take_cover(&b, &lease, until, fake_now, 1));
}

static void a_covered_open_circuit_lets_no_call_probe(void **state) {
    (void)state;
    fail_n(3);
    cover(fake_now + 100 * SEC);
    fake_now += 60 * SEC; /* the cooldown is long over */
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_REJECT);
    assert_false(ck_breaker_due(&b, fake_now));
    assert_int_equal(ck_breaker_next_chance_ns(&b, fake_now), UINT64_MAX);
    /* the cover lapses (the check thread is gone): calls probe again */
    fake_now += 41 * SEC;
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_PROBE);
}

static void a_check_that_finds_redis_up_closes_the_circuit(void **state) {
    (void)state;
    fail_n(3);
    cover(fake_now + 10 * SEC);
    fake_now += 1 * SEC; /* well within the cooldown */
    ck_transition t;
    assert_true(ck_breaker_check_up(&b, fake_clock, &t));
    assert_true(t.happened);
    assert_int_equal(t.from, CK_OPEN);
    assert_int_equal(t.to, CK_CLOSED);
    assert_int_equal(ck_breaker_state_of(&b), CK_CLOSED);
    assert_int_equal(atomic_load(&b.recoveries_total), 1);
    assert_int_equal(atomic_load(&b.w->checked_until_ns), 0);
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_ALLOW);
    /* closed already: nothing more */
    assert_false(ck_breaker_check_up(&b, fake_clock, &t));
    assert_false(t.happened);
}

static void a_check_overtakes_a_program_probe_in_flight(void **state) {
    (void)state;
    fail_n(3);
    fake_now += 31 * SEC;
    ck_permit probe = ck_breaker_acquire(&b, fake_clock, NULL);
    assert_int_equal(probe.gate, CK_PROBE);
    assert_true(ck_breaker_check_up(&b, fake_clock, NULL));
    assert_int_equal(ck_breaker_state_of(&b), CK_CLOSED);
    /* the probe's late failure is an expired ticket's: ignored */
    ck_breaker_record(&b, probe, false, fake_clock, NULL);
    assert_int_equal(ck_breaker_state_of(&b), CK_CLOSED);
    assert_int_equal(ck_breaker_failures_in_a_row(&b), 0);
}

/* PING answers but the program's calls fail: each reopening with no call
 * succeeded since a check closed the circuit waits out a growing
 * cooldown; a new outage after a success is a fresh start (audit: a second
 * real outage soon after the first waited out a cooldown). */
static void reopening_before_any_success_backs_off(void **state) {
    (void)state;
    init_breaker(true, 3, 2 * SEC, 60 * SEC);
    fail_n(3);
    assert_true(ck_breaker_check_up(&b, fake_clock, NULL));
    assert_int_equal(ck_breaker_failures_in_a_row(&b), 0);
    fake_now += 1 * SEC;
    fail_n(3); /* no success in between */
    assert_int_equal(ck_breaker_state_of(&b), CK_OPEN);
    assert_int_equal(atomic_load(&b.w->probe_failures), 1);
    assert_false(ck_breaker_check_up(&b, fake_clock, NULL)); /* too soon */
    fake_now += 4 * SEC;                                    /* the doubled cooldown, jitter 0: 2..4 s */
    assert_true(ck_breaker_check_up(&b, fake_clock, NULL));
    /* calls succeed, then Redis goes again a moment later: a fresh start,
     * a check may close it at once */
    ck_permit p = ck_breaker_acquire(&b, fake_clock, NULL);
    ck_breaker_record(&b, p, true, fake_clock, NULL);
    fake_now += 1 * SEC;
    fail_n(3);
    assert_int_equal(ck_breaker_state_of(&b), CK_OPEN);
    assert_int_equal(atomic_load(&b.w->probe_failures), 0);
    assert_true(ck_breaker_check_up(&b, fake_clock, NULL));
    /* an idle program (no call at all) whose next outage comes later than
     * one recovery timeout: a fresh start too (review) */
    fake_now += 3 * SEC;
    fail_n(3);
    assert_int_equal(atomic_load(&b.w->probe_failures), 0);
    assert_true(ck_breaker_check_up(&b, fake_clock, NULL));
}

static void a_disabled_breaker_ignores_checks(void **state) {
    (void)state;
    init_breaker(false, 3, 30 * SEC, 30 * SEC);
    assert_false(ck_breaker_check_up(&b, fake_clock, NULL));
    assert_int_equal(ck_breaker_state_of(&b), CK_CLOSED);
}

/* Shared state: two breakers on the same words stand for two processes
 * (each its own settings and counts, the decisions shared). */

static ck_breaker other;
static void attach_other(void) {
    ck_breaker_settings s = {true, 3, 30 * SEC, 30 * SEC, fake_random, 0, 200 * SEC};
    ck_breaker_init(&other, &s);
    ck_breaker_attach(&other, b.w);
}

static void failures_of_every_process_open_the_circuit_for_all(void **state) {
    (void)state;
    attach_other();
    assert_true(ck_breaker_is_shared(&other));
    assert_false(ck_breaker_is_shared(&b));
    fail_n(2);
    ck_permit p = ck_breaker_acquire(&other, fake_clock, NULL);
    ck_transition t;
    ck_breaker_record(&other, p, false, fake_clock, &t);
    assert_true(t.happened); /* the third failure, in the other process, opens it */
    assert_int_equal(ck_breaker_state_of(&b), CK_OPEN);
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_REJECT);
    /* one probe for both */
    fake_now += 31 * SEC;
    ck_permit probe = ck_breaker_acquire(&other, fake_clock, NULL);
    assert_int_equal(probe.gate, CK_PROBE);
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_REJECT);
    ck_breaker_record(&other, probe, true, fake_clock, NULL);
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_ALLOW);
    /* the counts stay each process's own */
    assert_int_equal(atomic_load(&other.opens_total), 1);
    assert_int_equal(atomic_load(&b.opens_total), 0);
}

static void a_probe_holder_that_dies_loses_the_probe_to_the_next_process(void **state) {
    (void)state;
    attach_other();
    fail_n(3);
    fake_now += 31 * SEC;
    assert_int_equal(ck_breaker_acquire(&other, fake_clock, NULL).gate, CK_PROBE); /* and never settles it */
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_REJECT);
    fake_now += 30 * SEC; /* its probe timeout */
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_PROBE);
}

static void one_check_lease_per_host_and_a_lapsed_one_is_taken_over(void **state) {
    (void)state;
    attach_other();
    fail_n(3);
    _Atomic uint64_t mine = 0, theirs = 0;
    assert_true(ck_breaker_take_cover(&other, &theirs, fake_now + 10 * SEC, fake_now, 7));
    assert_false(ck_breaker_take_cover(&b, &mine, fake_now + 10 * SEC, fake_now, 7));
    assert_int_equal(atomic_load(&mine), 0);
    /* the holder renews its own */
    fake_now += 5 * SEC;
    assert_true(ck_breaker_take_cover(&other, &theirs, fake_now + 10 * SEC, fake_now, 7));
    fake_now += 9 * SEC;
    assert_false(ck_breaker_take_cover(&b, &mine, fake_now + 10 * SEC, fake_now, 7));
    /* the holder dies: its lease lapses, the other takes it; the dead
     * one's late word cannot renew it */
    fake_now += 2 * SEC;
    assert_true(ck_breaker_take_cover(&b, &mine, fake_now + 10 * SEC, fake_now, 7));
    assert_false(ck_breaker_take_cover(&other, &theirs, fake_now + 10 * SEC, fake_now, 7));
    /* given back: free at once */
    ck_breaker_drop_cover(&b, &mine);
    assert_false(ck_breaker_covered(&b, fake_now));
    assert_true(ck_breaker_take_cover(&other, &theirs, fake_now + 10 * SEC, fake_now, 7));
    /* its holder is known; one found gone is taken over from exactly that
     * lease, and a taker that saw an older one loses */
    uint32_t holder;
    uint64_t seen = ck_breaker_cover_of(&b, &holder);
    assert_int_equal(holder, 7);
    assert_int_equal(seen, fake_now + 10 * SEC);
    assert_true(ck_breaker_take_cover_from(&b, &mine, seen, fake_now + 11 * SEC, 9));
    assert_false(ck_breaker_take_cover_from(&other, &theirs, seen, fake_now + 11 * SEC, 8));
    assert_int_equal(atomic_load(&theirs), 0);
    /* (the loser left the holder unknown, never wrong; the holder's next
     * renewal names it again) */
    ck_breaker_cover_of(&b, &holder);
    assert_int_equal(holder, 0);
    assert_true(ck_breaker_take_cover(&b, &mine, fake_now + 12 * SEC, fake_now, 9));
    ck_breaker_cover_of(&b, &holder);
    assert_int_equal(holder, 9);
    /* a lease no check would take (beyond cover_max) is garbage: lapsed */
    atomic_store(&b.w->checked_until_ns, fake_now + 1000 * SEC);
    assert_true(ck_breaker_take_cover(&b, &mine, fake_now + 10 * SEC, fake_now, 7));
}

static void the_check_is_due_once_per_interval_for_the_host(void **state) {
    (void)state;
    attach_other();
    fail_n(3);
    /* just opened: the first check is an interval away */
    assert_false(ck_breaker_check_due(&b, fake_now, fake_now + 1 * SEC));
    assert_false(ck_breaker_check_due(&other, fake_now, fake_now + 5 * SEC)); /* scheduled already */
    fake_now += 1 * SEC;
    assert_true(ck_breaker_check_due(&other, fake_now, 0));
    /* the holder checks, and schedules the next when its check ended */
    ck_breaker_schedule_check(&other, fake_now + 1 * SEC);
    assert_false(ck_breaker_check_due(&b, fake_now, 0));
    fake_now += 1 * SEC;
    /* a holder that died mid-check scheduled nothing: due for the next */
    assert_true(ck_breaker_check_due(&b, fake_now, 0));
    fake_now += 5 * SEC;
    assert_true(ck_breaker_check_due(&b, fake_now, 0));
    /* a due time beyond any interval is garbage: due now */
    ck_breaker_schedule_check(&b, fake_now + 1000 * SEC);
    assert_true(ck_breaker_check_due(&b, fake_now, 0));
    /* a new outage starts a fresh schedule */
    ck_breaker_schedule_check(&b, fake_now + 1 * SEC);
    fake_now += 30 * SEC; /* the cooldown */
    ck_permit p = ck_breaker_acquire(&b, fake_clock, NULL);
    assert_int_equal(p.gate, CK_PROBE);
    ck_breaker_record(&b, p, true, fake_clock, NULL);
    fail_n(3);
    assert_false(ck_breaker_check_due(&b, fake_now, fake_now + 1 * SEC));
}

static void a_probe_whose_holder_died_between_two_words_is_taken_over(void **state) {
    (void)state;
    fail_n(3);
    fake_now += 31 * SEC;
    ck_permit p = ck_breaker_acquire(&b, fake_clock, NULL);
    assert_int_equal(p.gate, CK_PROBE);
    /* its expiry was stored before the state said HALF_OPEN: a caller in
     * between (the ticket not yet published) finds a fresh one, never the
     * last probe's, and does not take the permit over */
    assert_int_equal(atomic_load(&b.w->probe_expires_ns), fake_now + 30 * SEC);
    /* the holder settled its ticket and died before storing the outcome:
     * HALF_OPEN with no ticket */
    atomic_store(&b.w->probe_ticket, 0);
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_REJECT);
    assert_false(ck_breaker_check_up(&b, fake_clock, NULL)); /* not expired: the outcome may be on its way */
    fake_now += 30 * SEC; /* the probe timeout */
    ck_permit next = ck_breaker_acquire(&b, fake_clock, NULL);
    assert_int_equal(next.gate, CK_PROBE);
    ck_breaker_record(&b, next, true, fake_clock, NULL);
    assert_int_equal(ck_breaker_state_of(&b), CK_CLOSED);
    /* a health check may close such a circuit too, once the probe expired */
    fail_n(3);
    fake_now += 31 * SEC;
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_PROBE);
    atomic_store(&b.w->probe_ticket, 0);
    fake_now += 30 * SEC;
    assert_true(ck_breaker_check_up(&b, fake_clock, NULL));
    assert_int_equal(ck_breaker_state_of(&b), CK_CLOSED);
    /* a probe expiry no setting allows: taken over now */
    fail_n(3);
    fake_now += 31 * SEC;
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_PROBE);
    atomic_store(&b.w->probe_expires_ns, fake_now + 365 * 86400 * SEC);
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_PROBE);
}

/* The look-ahead an async placeholder uses: no permit taken, no state
 * changed. */
static void impossible_shared_words_are_repaired_on_the_slow_path(void **state) {
    (void)state;
    atomic_store(&b.w->state, 7); /* not a state */
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_ALLOW);
    assert_int_equal(ck_breaker_state_of(&b), CK_CLOSED);
    /* an open circuit whose cooldown or cover ends in a year: probed now */
    fail_n(3);
    atomic_store(&b.w->probe_after_ns, fake_now + 365 * 86400 * SEC);
    atomic_store(&b.w->checked_until_ns, fake_now + 365 * 86400 * SEC);
    /* a placeholder, which never calls acquire, does not wait a year */
    atomic_store(&b.w->checked_until_ns, 0);
    assert_int_equal(ck_breaker_next_chance_ns(&b, fake_now), fake_now);
    atomic_store(&b.w->checked_until_ns, fake_now + 365 * 86400 * SEC);
    assert_int_equal(ck_breaker_acquire(&b, fake_clock, NULL).gate, CK_PROBE);
    /* a check may close a circuit whose "not before" is a year away */
    ck_breaker_record(&b, (ck_permit){CK_PROBE, atomic_load(&b.w->probe_ticket)}, false, fake_clock, NULL);
    atomic_store(&b.w->check_close_after_ns, fake_now + 365 * 86400 * SEC);
    assert_true(ck_breaker_check_up(&b, fake_clock, NULL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(closed_allows_without_reading_the_clock, setup),
        cmocka_unit_test_setup(opens_exactly_at_threshold, setup),
        cmocka_unit_test_setup(success_resets_the_count, setup),
        cmocka_unit_test_setup(threshold_of_one_opens_on_first_failure, setup),
        cmocka_unit_test_setup(open_rejects_until_cooldown, setup),
        cmocka_unit_test_setup(due_says_when_a_call_would_be_let_through, setup),
        cmocka_unit_test_setup(probe_success_closes, setup),
        cmocka_unit_test_setup(probe_failure_reopens_with_fresh_cooldown, setup),
        cmocka_unit_test_setup(late_outcomes_of_calls_let_through_earlier_are_ignored, setup),
        cmocka_unit_test_setup(released_probe_lets_the_next_call_probe, setup),
        cmocka_unit_test_setup(unsettled_probe_expires_and_is_taken_over, setup),
        cmocka_unit_test_setup(disabled_breaker_always_allows, setup),
        cmocka_unit_test_setup(exactly_one_probe_under_concurrency, setup),
        cmocka_unit_test_setup(cooldown_doubles_with_jitter_and_is_capped, setup),
        cmocka_unit_test_setup(recovery_resets_the_backoff, setup),
        cmocka_unit_test_setup(maximum_below_the_timeout_means_no_growth, setup),
        cmocka_unit_test_setup(a_covered_open_circuit_lets_no_call_probe, setup),
        cmocka_unit_test_setup(a_check_that_finds_redis_up_closes_the_circuit, setup),
        cmocka_unit_test_setup(a_check_overtakes_a_program_probe_in_flight, setup),
        cmocka_unit_test_setup(reopening_before_any_success_backs_off, setup),
        cmocka_unit_test_setup(a_disabled_breaker_ignores_checks, setup),
        cmocka_unit_test_setup(failures_of_every_process_open_the_circuit_for_all, setup),
        cmocka_unit_test_setup(a_probe_holder_that_dies_loses_the_probe_to_the_next_process, setup),
        cmocka_unit_test_setup(one_check_lease_per_host_and_a_lapsed_one_is_taken_over, setup),
        cmocka_unit_test_setup(the_check_is_due_once_per_interval_for_the_host, setup),
        cmocka_unit_test_setup(impossible_shared_words_are_repaired_on_the_slow_path, setup),
        cmocka_unit_test_setup(a_probe_whose_holder_died_between_two_words_is_taken_over, setup),
    };
    return cmocka_run_group_tests_name("breaker", tests, NULL, NULL);
}
