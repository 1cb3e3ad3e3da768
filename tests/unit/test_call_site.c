/* Call sites (core/call_site.h): what a format says is read once and kept
 * only while it stays true: a buffer the program writes another format
 * into is read again, two formats that share a slot do not read each
 * other out, and each thread has its own table. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "call_site.h"

/* The site of a format met for the first time: its slot may be held by
 * a site read before (another test's), which gives way after a few calls. */
static const ck_call_site *remembered(const char *format) {
    const ck_call_site *site = NULL;
    for (int i = 0; i < 10 && site == NULL; i++)
        site = ck_call_site_of(format);
    return site;
}

static void a_site_says_what_its_format_says(void **state) {
    (void)state;
    ck_call_site site;
    assert_true(ck_call_site_read(&site, "GET %s"));
    assert_true(site.plain);
    assert_int_equal(site.name_len, 3);
    assert_int_equal(site.cls, CK_CMD_DATA);
    assert_non_null(site.spec);
    assert_int_equal(site.key_count, 1);
    assert_int_equal(site.key_args[0], 1);

    assert_true(ck_call_site_read(&site, "HGET h:%s %s")); /* a key interpolated mid-word */
    assert_int_equal(site.key_count, 1);
    assert_int_equal(site.key_args[0], 1);

    assert_true(ck_call_site_read(&site, "MGET a %s b")); /* keys in the prefix and after it */
    assert_int_equal(site.prefix_args, 2);
    assert_int_equal(site.key_count, 3);

    assert_true(ck_call_site_read(&site, "INCRBY %s %d")); /* printf conversions: hiredis formats it */
    assert_false(site.plain);
    assert_int_equal(site.name_len, 6);
    assert_int_equal(site.key_count, CK_SITE_KEYS_UNKNOWN);

    assert_true(ck_call_site_read(&site, "%s %s")); /* the name interpolated */
    assert_int_equal(site.name_len, 0);
    assert_null(site.spec);
    assert_int_equal(site.key_count, CK_SITE_KEYS_UNKNOWN);

    assert_true(ck_call_site_read(&site, "ZUNION 2 %s %s")); /* keys that move: parsed */
    assert_int_equal(site.key_count, CK_SITE_KEYS_UNKNOWN);

    assert_true(ck_call_site_read(&site, "NOSUCHCOMMAND %s"));
    assert_null(site.spec);
    assert_int_equal(site.key_count, CK_SITE_KEYS_UNKNOWN);

    assert_true(ck_call_site_read(&site, "MULTI"));
    assert_int_equal(site.cls, CK_CMD_TXN_BEGIN);

    char longest[CK_SITE_FORMAT_ROOM + 1];
    memset(longest, 'k', sizeof longest - 1);
    memcpy(longest, "GET ", 4);
    longest[sizeof longest - 1] = '\0';
    assert_false(ck_call_site_read(&site, longest)); /* too long to keep */
    longest[CK_SITE_FORMAT_ROOM - 1] = '\0';
    assert_true(ck_call_site_read(&site, longest));
}

static void a_reused_buffer_is_read_again(void **state) {
    (void)state;
    char buffer[32];
    strcpy(buffer, "GET %s");
    const ck_call_site *site = remembered(buffer);
    assert_non_null(site);
    assert_int_equal(site->name_len, 3);
    assert_ptr_equal(ck_call_site_of(buffer), site);
    strcpy(buffer, "SET %s %s");
    site = ck_call_site_of(buffer);
    assert_non_null(site);
    assert_memory_equal(site->bytes, "SET %s %s", 10);
    assert_int_equal(site->argc, 3);
    strcpy(buffer, "SET %s %b"); /* the same length, one byte other */
    site = ck_call_site_of(buffer);
    assert_non_null(site);
    assert_int_equal(site->steps[2].kind, CK_STEP_BINARY);
    assert_null(ck_call_site_of(NULL));
}

static void a_literal_is_compared_too(void **state) {
    (void)state;
    static const char *const literal = "LLEN %s";
    const ck_call_site *site = remembered(literal);
    assert_non_null(site);
    assert_ptr_equal(ck_call_site_of(literal), site);
    /* the same bytes elsewhere are another site; other bytes at a
     * remembered address (an image unloaded, another loaded there) are
     * read again: tests/integration/call_path.bats, dl_formats */
    static char writable[] = "LLEN %s";
    const ck_call_site *other = remembered(writable);
    assert_non_null(other);
    assert_ptr_not_equal(other, site);
}

/* Two addresses of one array that fall in the same slot. */
static char area[4096];
static void two_in_one_slot(char **a, char **b) {
    for (size_t i = 0; i < 64; i++)
        for (size_t j = i + 64; j < sizeof area - 16; j++)
            if (ck_call_site_slot(area + i) == ck_call_site_slot(area + j)) {
                *a = area + i;
                *b = area + j;
                return;
            }
    fail_msg("no two addresses share a slot");
}

static void formats_sharing_a_slot_leave_one_remembered(void **state) {
    (void)state;
    char *a, *b;
    two_in_one_slot(&a, &b);
    strcpy(a, "GET %s");
    strcpy(b, "SET %s %s");
    const ck_call_site *held = remembered(a);
    assert_non_null(held);
    for (int round = 0; round < 50; round++) { /* alternating: a stays, b is read each time */
        assert_ptr_equal(ck_call_site_of(a), held);
        assert_null(ck_call_site_of(b));
    }
    /* b alone, called again and again: it takes the slot */
    const ck_call_site *site = NULL;
    for (int i = 0; i < 20 && site == NULL; i++)
        site = ck_call_site_of(b);
    assert_non_null(site);
    assert_memory_equal(site->bytes, "SET %s %s", 10);
}

static void *site_in_thread(void *arg) {
    const ck_call_site *site = ck_call_site_of(arg);
    return (void *)site;
}

static void each_thread_has_its_table(void **state) {
    (void)state;
    static const char *const format = "STRLEN %s";
    const ck_call_site *mine = remembered(format);
    pthread_t t;
    void *theirs = NULL;
    assert_int_equal(pthread_create(&t, NULL, site_in_thread, (void *)format), 0);
    assert_int_equal(pthread_join(t, &theirs), 0);
    assert_non_null(mine);
    assert_non_null(theirs);
    assert_ptr_not_equal(mine, theirs); /* (its table was freed when it ended) */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_site_says_what_its_format_says),
        cmocka_unit_test(a_reused_buffer_is_read_again),
        cmocka_unit_test(a_literal_is_compared_too),
        cmocka_unit_test(formats_sharing_a_slot_leave_one_remembered),
        cmocka_unit_test(each_thread_has_its_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
