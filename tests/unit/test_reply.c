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

#include "buf.h"
#include "call_site.h"
#include "command.h"
#include "format.h"
#include "real.h"
#include "reply.h"

/* The shim finds hiredis with dlsym: make sure the linker keeps it. */
redisReader *(*const keep_hiredis_linked)(void) = redisReaderCreate;

static void round_trip(const char *resp, const char *expected) {
    void *reply = ck_reply_from_resp(NULL, resp, strlen(resp));
    assert_non_null(reply);
    char small[8]; /* starts on the stack, moves to the heap for longer values */
    ck_buf buf = CK_BUF_ON(small);
    assert_true(ck_reply_encode(reply, &buf, 1u << 20));
    assert_int_equal(buf.len, strlen(expected));
    assert_memory_equal(buf.bytes, expected, buf.len);
    ck_buf_release(&buf);
    ck_real.freeReplyObject(reply);
}

static void values_round_trip(void **state) {
    (void)state;
    assert_true(ck_real_ready());
    static const char *const same[] = {
        "$5\r\nhello\r\n",
        "$0\r\n\r\n",
        "$-1\r\n",
        ":42\r\n",
        ":-7\r\n",
        "+OK\r\n",
        "-ERR nope\r\n",
        "*0\r\n",
        "*3\r\n$1\r\na\r\n$-1\r\n:1\r\n",
        "*2\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n*1\r\n*1\r\n$4\r\ndeep\r\n",
        "$6\r\nbin\r\n\0!\r\n",
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0] - 1; i++)
        round_trip(same[i], same[i]);
    round_trip("*-1\r\n", "$-1\r\n"); /* a nil array is a nil reply to the program */
}

/* hiredis 1.x reads RESP3: the reply of a program that said HELLO 3 comes
 * back as the same bytes (pushes and attributes are not kept). */
static void resp3_values_round_trip(void **state) {
    (void)state;
    assert_true(ck_real_ready());
#if HIREDIS_MAJOR >= 1
    static const char *const same[] = {
        ",3.14\r\n",
        ",inf\r\n",
        "#t\r\n",
        "#f\r\n",
        "(3492890328409238509324850943850943825024385\r\n",
        "=15\r\ntxt:Some string\r\n",
        "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n,2.5\r\n",
        "~2\r\n$1\r\nx\r\n$1\r\ny\r\n",
        "*2\r\n%1\r\n$1\r\nk\r\n~1\r\n#t\r\n$1\r\nz\r\n",
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        round_trip(same[i], same[i]);
    round_trip("_\r\n", "$-1\r\n"); /* a RESP3 null is hiredis's nil */
    const char *message = ">2\r\n$7\r\nmessage\r\n$1\r\nm\r\n";
    void *push = ck_reply_from_resp(NULL, message, strlen(message));
    assert_non_null(push);
    ck_buf buf = CK_BUF_EMPTY;
    assert_false(ck_reply_encode(push, &buf, 1u << 20));
    ck_buf_release(&buf);
    ck_real.freeReplyObject(push);
#endif
}

static void binary_and_limits(void **state) {
    (void)state;
    const char bin[] = "$6\r\nab\0\r\nc\r\n";
    void *reply = ck_reply_from_resp(NULL, bin, sizeof bin - 1);
    assert_non_null(reply);
    ck_buf buf = CK_BUF_EMPTY;
    assert_true(ck_reply_encode(reply, &buf, 1u << 20));
    assert_int_equal(buf.len, sizeof bin - 1);
    assert_memory_equal(buf.bytes, bin, buf.len);
    ck_buf_release(&buf);
    ck_buf small = CK_BUF_EMPTY;
    assert_false(ck_reply_encode(reply, &small, 8)); /* over the limit: not kept */
    ck_buf_release(&small);
    ck_real.freeReplyObject(reply);
}

/* ck_format_command writes what hiredis's own formatter writes. */
static long ours(char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    long n = ck_format_command(out, cap, fmt, ap);
    va_end(ap);
    return n;
}

/* The same through a call site read from the format (core/call_site.h):
 * the bytes, and the span it gives of each argument. */
static void check_arg_span(size_t index, const char *bytes, size_t len, void *arg) {
    const char *resp = ((const char **)arg)[0];
    const ck_arg_span *spans = ((const ck_arg_span **)arg)[1];
    assert_int_equal(spans[index].at, (size_t)(bytes - resp));
    assert_int_equal(spans[index].len, len);
}

static long through_site(char *out, size_t cap, const char *fmt, ...) {
    ck_call_site site;
    ck_arg_span spans[CK_SITE_STEPS];
    if (!ck_call_site_read(&site, fmt) || !site.plain)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    long n = ck_call_site_format(&site, out, cap, ap, spans);
    va_end(ap);
    const void *both[2] = {out, spans};
    if (n > 0)
        assert_true(ck_command_each_resp_arg(out, (size_t)n, check_arg_span, both));
    return n;
}

#define SAME_AS_HIREDIS(...)                                                                                           \
    do {                                                                                                               \
        char mine[512], by_site[512], *theirs = NULL;                                                                  \
        long n = ours(mine, sizeof mine, __VA_ARGS__);                                                                 \
        int m = redisFormatCommand(&theirs, __VA_ARGS__);                                                              \
        assert_int_equal(n, m);                                                                                        \
        assert_memory_equal(mine, theirs, (size_t)m);                                                                  \
        long k = through_site(by_site, sizeof by_site, __VA_ARGS__);                                                   \
        if (k >= 0) {                                                                                                  \
            assert_int_equal(k, m);                                                                                    \
            assert_memory_equal(by_site, theirs, (size_t)m);                                                           \
        }                                                                                                              \
        redisFreeCommand(theirs);                                                                                      \
    } while (0)

static void formats_like_hiredis(void **state) {
    (void)state;
    SAME_AS_HIREDIS("GET k");
    SAME_AS_HIREDIS("  GET   k  ");
    SAME_AS_HIREDIS("GET %s", "a key with spaces");
    SAME_AS_HIREDIS("SET key:%s %b", "x", "bin\0ary", (size_t)7);
    SAME_AS_HIREDIS("SET %s %s", "", "");
    SAME_AS_HIREDIS("SET k 100%%");
    SAME_AS_HIREDIS("HSET %s f%s v%s", "h", "1", "");
    SAME_AS_HIREDIS("%s", "PING");
    SAME_AS_HIREDIS("SET a%sb%%c%sd a-literal-longer-than-sixteen-bytes", "1", "2");
    SAME_AS_HIREDIS("MSET %s %b %s %b", "k1", "v\r\n1", (size_t)4, "k2", "", (size_t)0);
    SAME_AS_HIREDIS("SET %s %s", "a value of more than sixteen bytes, copied whole", "x");
    char out[64];
    char many[200] = "MGET";
    for (int i = 0; i < 70; i++)
        strcat(many, " k"); /* more pieces than the formatter follows: hiredis's */
    char room[1024];
    assert_int_equal(ours(room, sizeof room, many), -1);
    assert_int_equal(ours(out, sizeof out, "INCRBY k %d", 5), -1); /* printf conversions: hiredis's */
    assert_int_equal(ours(out, sizeof out, "GET %s", "a very long key that does not fit in sixty-four bytes of room"),
                     -1);
    assert_int_equal(ours(out, sizeof out, "   "), -1);    /* no argument at all */
    assert_int_equal(ours(out, sizeof out, "GET k%"), -1); /* a lone % at the end: hiredis's */
}

/* Issue 12, item 4: no fixed line length (a 299-character host and a
 * 127-character program name made a metrics line over 512 bytes, and the
 * whole document failed). */
static void printf_has_no_line_limit(void **state) {
    (void)state;
    char host[1500];
    memset(host, 'h', sizeof host - 1);
    host[sizeof host - 1] = '\0';
    char small[64];
    ck_buf buf = CK_BUF_ON(small);
    assert_true(ck_buf_printf(&buf, 1u << 20, "a{endpoint=\"%s\"} %d\n", host, 7));
    assert_true(ck_buf_printf(&buf, 1u << 20, "b %d\n", 8));
    assert_int_equal(buf.len, strlen("a{endpoint=\"\"} 7\n") + strlen(host) + strlen("b 8\n"));
    assert_memory_equal(buf.bytes + buf.len - 4, "b 8\n", 4);
    size_t before = buf.len;
    assert_false(ck_buf_printf(&buf, before + 10, "%s", host)); /* over the limit: nothing appended */
    assert_int_equal(buf.len, before);
    assert_true(ck_buf_printf(&buf, before + 3, "%s", "abc")); /* exactly at the limit */
    ck_buf_release(&buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_round_trip),        cmocka_unit_test(resp3_values_round_trip),
        cmocka_unit_test(printf_has_no_line_limit), cmocka_unit_test(binary_and_limits),
        cmocka_unit_test(formats_like_hiredis),
    };
    int failed = cmocka_run_group_tests_name("reply encoding", tests, NULL, NULL);
    ck_reply_thread_cleanup();
    return failed;
}
