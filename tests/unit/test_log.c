/* Text the shim writes out: data quoted in log lines (short, escaped, one
 * line whatever the bytes), the log's rate limit (injected time), and
 * Prometheus label values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "label_escape.h"
#include "log.h"
#include "rate_limit.h"

static void printable_text_is_kept(void **state) {
    (void)state;
    char out[CK_LOG_DATA_ROOM];
    assert_string_equal(ck_log_data(out, "GET", 3, 20), "GET");
    assert_string_equal(ck_log_data(out, "", 0, 20), "");
    assert_string_equal(ck_log_data(out, "Connection refused", 18, CK_LOG_DATA_MAX), "Connection refused");
}

static void other_bytes_are_escaped(void **state) {
    (void)state;
    char out[CK_LOG_DATA_ROOM];
    assert_string_equal(ck_log_data(out, "A\nB\r\x1b[31m\"\\\x7f\xff", 13, 20), "A\\x0aB\\x0d\\x1b[31m\\x22\\x5c\\x7f\\xff");
    assert_string_equal(ck_log_data(out, "a\0b", 3, 20), "a\\x00b");
}

static void long_data_is_cut(void **state) {
    (void)state;
    char out[CK_LOG_DATA_ROOM];
    assert_string_equal(ck_log_data(out, "abcdefghij", 10, 4), "abcd...");
    assert_string_equal(ck_log_data(out, "abcd", 4, 4), "abcd");
    /* the worst case fills the room exactly: every byte escaped, then "..." */
    char bytes[200];
    memset(bytes, '\n', sizeof bytes);
    ck_log_data(out, bytes, sizeof bytes, 1000); /* max above CK_LOG_DATA_MAX is CK_LOG_DATA_MAX */
    assert_int_equal(strlen(out), CK_LOG_DATA_MAX * 4 + 3);
    assert_memory_equal(out + CK_LOG_DATA_MAX * 4, "...", 4);
}

#define SEC 1000000000ull

static int admitted_in(ck_rate_limit *r, uint64_t from_ns, uint64_t to_ns, uint64_t step_ns) {
    int n = 0;
    for (uint64_t t = from_ns; t < to_ns; t += step_ns)
        n += ck_rate_limit_admit(r, t);
    return n;
}

static void rate_limit_bursts_then_paces(void **state) {
    (void)state;
    ck_rate_limit r;
    ck_rate_limit_init(&r, 60); /* one a second on average, bursts of 60 */
    uint64_t t0 = 1000 * SEC;
    /* a storm of 1000 events in one instant: the burst passes, no more */
    int burst = 0;
    for (int i = 0; i < 1000; i++)
        burst += ck_rate_limit_admit(&r, t0);
    assert_int_equal(burst, 60);
    /* then one a second, whatever the storm's rate */
    assert_int_equal(admitted_in(&r, t0 + SEC / 2, t0 + 10 * SEC + SEC / 2, SEC / 100), 10);
    /* quiet for a minute: the whole burst again */
    burst = 0;
    for (int i = 0; i < 100; i++)
        burst += ck_rate_limit_admit(&r, t0 + 200 * SEC);
    assert_int_equal(burst, 60);
}

static void rate_limit_edges(void **state) {
    (void)state;
    ck_rate_limit r;
    ck_rate_limit_init(&r, 0); /* no limit */
    assert_int_equal(admitted_in(&r, 0, 10000, 1), 10000);
    ck_rate_limit_init(&r, 1); /* one a minute, no burst beyond it */
    assert_true(ck_rate_limit_admit(&r, 5 * SEC));
    assert_false(ck_rate_limit_admit(&r, 5 * SEC));
    assert_false(ck_rate_limit_admit(&r, 64 * SEC));
    assert_true(ck_rate_limit_admit(&r, 65 * SEC));
    ck_rate_limit_init(&r, 1000000); /* the highest setting */
    assert_int_equal(admitted_in(&r, SEC, SEC + 60, 1), 60);
}

static void label_values_are_escaped(void **state) {
    (void)state;
    char out[64];
    ck_label_escape(out, sizeof out, "127.0.0.1:6379");
    assert_string_equal(out, "127.0.0.1:6379");
    ck_label_escape(out, sizeof out, "a\\b\"c\nd\re\tf");
    assert_string_equal(out, "a\\\\b\\\"c\\nd e f");
    ck_label_escape(out, sizeof out, "");
    assert_string_equal(out, "");
    /* cut to fit, never in the middle of an escape */
    char small[6];
    ck_label_escape(small, sizeof small, "ab\"cd");
    assert_string_equal(small, "ab\\\"");
    ck_label_escape(small, sizeof small, "abcdefgh");
    assert_string_equal(small, "abc");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(printable_text_is_kept),
        cmocka_unit_test(other_bytes_are_escaped),
        cmocka_unit_test(long_data_is_cut),
        cmocka_unit_test(rate_limit_bursts_then_paces),
        cmocka_unit_test(rate_limit_edges),
        cmocka_unit_test(label_values_are_escaped),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
