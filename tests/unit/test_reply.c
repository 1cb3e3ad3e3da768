/* RESP2 encoding of replies built by the real hiredis reader: every value
 * the L1 keeps must come back as the same reply. Links the system hiredis
 * (or the one this build directory was configured with). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "real.h"
#include "reply.h"

/* The shim finds hiredis with dlsym: make sure the linker keeps it. */
redisReader *(*const keep_hiredis_linked)(void) = redisReaderCreate;

static void round_trip(const char *resp, const char *expected) {
    void *reply = ck_reply_from_resp(resp, strlen(resp));
    assert_non_null(reply);
    ck_buf buf = {0};
    assert_true(ck_reply_encode(reply, &buf, 1u << 20));
    assert_int_equal(buf.len, strlen(expected));
    assert_memory_equal(buf.bytes, expected, buf.len);
    free(buf.bytes);
    ck_real.freeReplyObject(reply);
}

static void values_round_trip(void **state) {
    (void)state;
    assert_true(ck_real_ready());
    static const char *const same[] = {
        "$5\r\nhello\r\n", "$0\r\n\r\n", "$-1\r\n", ":42\r\n", ":-7\r\n", "+OK\r\n", "-ERR nope\r\n", "*0\r\n",
        "*3\r\n$1\r\na\r\n$-1\r\n:1\r\n",
        "*2\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n*1\r\n*1\r\n$4\r\ndeep\r\n",
        "$6\r\nbin\r\n\0!\r\n",
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0] - 1; i++)
        round_trip(same[i], same[i]);
    round_trip("*-1\r\n", "$-1\r\n"); /* a nil array is a nil reply to the program */
}

static void binary_and_limits(void **state) {
    (void)state;
    const char bin[] = "$6\r\nab\0\r\nc\r\n";
    void *reply = ck_reply_from_resp(bin, sizeof bin - 1);
    assert_non_null(reply);
    ck_buf buf = {0};
    assert_true(ck_reply_encode(reply, &buf, 1u << 20));
    assert_int_equal(buf.len, sizeof bin - 1);
    assert_memory_equal(buf.bytes, bin, buf.len);
    free(buf.bytes);
    ck_buf small = {0};
    assert_false(ck_reply_encode(reply, &small, 8)); /* over the limit: not kept */
    free(small.bytes);
    ck_real.freeReplyObject(reply);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_round_trip),
        cmocka_unit_test(binary_and_limits),
    };
    int failed = cmocka_run_group_tests_name("reply encoding", tests, NULL, NULL);
    ck_reply_thread_cleanup();
    return failed;
}
