/* Data quoted in log lines: short, escaped, one line whatever the bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"

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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(printable_text_is_kept),
        cmocka_unit_test(other_bytes_are_escaped),
        cmocka_unit_test(long_data_is_cut),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
