/* The adaptive timeout rule: window, percentile, factor, clamps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adaptive.h"

#define MS 1000000ull
#define SEC 1000000000ull

static ck_adaptive a;

static void record_n(int n, uint64_t latency_ns) {
    for (int i = 0; i < n; i++)
        ck_adaptive_record(&a, latency_ns);
}

static void nothing_until_enough_calls(void **state) {
    (void)state;
    ck_adaptive_init(&a, 5 * SEC);
    record_n(CK_ADAPTIVE_EVERY - 1, 200 * MS);
    assert_int_equal(ck_adaptive_timeout_ns(&a), 0);
    record_n(1, 200 * MS);
    assert_int_equal(ck_adaptive_timeout_ns(&a), 800 * MS);
}

static void fast_server_gets_the_minimum(void **state) {
    (void)state;
    ck_adaptive_init(&a, 5 * SEC);
    record_n(256, 150000); /* 0.15 ms */
    assert_int_equal(ck_adaptive_timeout_ns(&a), CK_ADAPTIVE_MIN_NS);
}

static void slow_server_is_capped_by_the_socket_timeout(void **state) {
    (void)state;
    ck_adaptive_init(&a, 5 * SEC);
    record_n(256, 2 * SEC);
    assert_int_equal(ck_adaptive_timeout_ns(&a), 5 * SEC);
}

static void follows_the_99th_percentile_not_the_outlier(void **state) {
    (void)state;
    uint32_t samples[256];
    for (int i = 0; i < 256; i++)
        samples[i] = 10000; /* 10 ms */
    samples[17] = 3000000;  /* one 3 s outlier: beyond the 99th percentile */
    assert_int_equal(ck_adaptive_compute(samples, 256, 5 * SEC), 100 * MS);
    for (int i = 0; i < 256; i++)
        samples[i] = i < 250 ? 10000 : 60000; /* 6 of 256 calls at 60 ms: within the top 1% ... */
    /* nearest rank 254 of 256 is 60 ms: 4 x 60 = 240 ms */
    assert_int_equal(ck_adaptive_compute(samples, 256, 5 * SEC), 240 * MS);
}

static void the_window_forgets_old_latencies(void **state) {
    (void)state;
    ck_adaptive_init(&a, 5 * SEC);
    record_n(256, 400 * MS);
    assert_int_equal(ck_adaptive_timeout_ns(&a), 1600 * MS);
    record_n(256, 30 * MS); /* a whole window of faster calls */
    assert_int_equal(ck_adaptive_timeout_ns(&a), 120 * MS);
}

static void rounds_up_to_milliseconds(void **state) {
    (void)state;
    uint32_t samples[1] = {50001}; /* 50.001 ms: x4 = 200.004 ms */
    assert_int_equal(ck_adaptive_compute(samples, 1, 5 * SEC), 201 * MS);
    assert_int_equal(ck_adaptive_compute(samples, 0, 5 * SEC), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nothing_until_enough_calls),
        cmocka_unit_test(fast_server_gets_the_minimum),
        cmocka_unit_test(slow_server_is_capped_by_the_socket_timeout),
        cmocka_unit_test(follows_the_99th_percentile_not_the_outlier),
        cmocka_unit_test(the_window_forgets_old_latencies),
        cmocka_unit_test(rounds_up_to_milliseconds),
    };
    return cmocka_run_group_tests_name("adaptive", tests, NULL, NULL);
}
