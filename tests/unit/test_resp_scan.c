/* Whether bytes begin with a whole RESP value (core/resp_scan.c): every
 * type of RESP2 and RESP3, every cut short of the end, nesting deeper
 * than any stack, and counts the bytes cannot honour. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "resp_scan.h"

static const char *const whole_values[] = {
    "+OK\r\n",
    "-ERR wrong\r\n",
    ":42\r\n",
    "$5\r\nhello\r\n",
    "$0\r\n\r\n",
    "$-1\r\n",
    "$4\r\na\r\nb\r\n", /* CRLF inside a bulk string is data */
    "*-1\r\n",
    "*0\r\n",
    "*2\r\n$1\r\na\r\n:1\r\n",
    "*2\r\n*2\r\n+a\r\n+b\r\n*1\r\n$-1\r\n",
    "_\r\n",
    ",3.14\r\n",
    "#t\r\n",
    "(3492890328409238509324850943850943825024385\r\n",
    "!5\r\noops!\r\n",
    "=7\r\ntxt:abc\r\n",
    "%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n:2\r\n",
    "~2\r\n+a\r\n+b\r\n",
    ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n",
    "|1\r\n+ttl\r\n:5\r\n$3\r\nval\r\n", /* an attribute, then its value */
};

static void each_type_whole_and_every_cut_short(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof whole_values / sizeof *whole_values; i++) {
        const char *v = whole_values[i];
        size_t len = strlen(v);
        assert_true(ck_resp_starts_whole(v, len));
        for (size_t cut = 0; cut < len; cut++)
            if (ck_resp_starts_whole(v, cut))
                fail_msg("\"%s\" cut to %zu bytes taken for whole", v, cut);
    }
}

static void a_whole_value_then_the_start_of_the_next(void **state) {
    (void)state;
    const char *two = "$1\r\na\r\n$1000\r\nxyz";
    assert_true(ck_resp_starts_whole(two, strlen(two)));
    const char *cut = "$1000\r\nxyz$1\r\na\r\n"; /* (the first is the one asked for) */
    assert_false(ck_resp_starts_whole(cut, strlen(cut)));
}

static void nesting_deeper_than_any_stack(void **state) {
    (void)state;
    size_t depth = 100000, len = depth * 4 + 4;
    char *buf = malloc(len + 1);
    assert_non_null(buf);
    for (size_t i = 0; i < depth; i++)
        memcpy(buf + i * 4, "*1\r\n", 4);
    memcpy(buf + depth * 4, ":1\r\n", 4);
    assert_true(ck_resp_starts_whole(buf, len));
    assert_false(ck_resp_starts_whole(buf, len - 4));
    free(buf);
}

static void counts_the_bytes_cannot_honour(void **state) {
    (void)state;
    const char *many = "*1000000000000\r\n:1\r\n";
    assert_false(ck_resp_starts_whole(many, strlen(many)));
    const char *map = "%100000000000\r\n+a\r\n";
    assert_false(ck_resp_starts_whole(map, strlen(map)));
    const char *bulk = "$999999999999999999\r\nab";
    assert_false(ck_resp_starts_whole(bulk, strlen(bulk)));
}

static void bytes_that_are_no_resp_are_no_whole_reply(void **state) {
    (void)state;
    const char *const not_resp[] = {"hello\r\n", "$abc\r\n", "*1x\r\n",
                                    /* more digits than a reader takes */
                                    "*9223372036854775807\r\n", "$1000000000000000000\r\n"};
    for (size_t i = 0; i < sizeof not_resp / sizeof *not_resp; i++)
        assert_false(ck_resp_starts_whole(not_resp[i], strlen(not_resp[i])));
    assert_false(ck_resp_starts_whole("", 0));
}

/* hiredis ends a line at CRLF only (audit: a bare LF was taken for one) */
static void a_line_ends_at_crlf_only(void **state) {
    (void)state;
    assert_false(ck_resp_starts_whole("+OK\n", strlen("+OK\n")));
    assert_false(ck_resp_starts_whole("*2\r\n+a\n+b\r\n", strlen("*2\r\n+a\n+b\r\n")));
    assert_true(ck_resp_starts_whole("+a\rb\r\n", strlen("+a\rb\r\n"))); /* a CR alone is data */
    assert_false(ck_resp_starts_whole("+a\r", strlen("+a\r")));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_type_whole_and_every_cut_short),
        cmocka_unit_test(a_whole_value_then_the_start_of_the_next),
        cmocka_unit_test(nesting_deeper_than_any_stack),
        cmocka_unit_test(counts_the_bytes_cannot_honour),
        cmocka_unit_test(bytes_that_are_no_resp_are_no_whole_reply),
        cmocka_unit_test(a_line_ends_at_crlf_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
