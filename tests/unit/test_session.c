/* Session capture: which commands are session commands, what is kept,
 * what a failed or reset command does. Plain bytes, no Redis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "session.h"

#define RESP(s) s, sizeof(s) - 1

static const char auth[] = "*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n";
static const char select3[] = "*2\r\n$6\r\nselect\r\n$1\r\n3\r\n";
static const char select5[] = "*2\r\n$6\r\nSELECT\r\n$1\r\n5\r\n";
static const char setname[] = "*3\r\n$6\r\nCLIENT\r\n$7\r\nsetname\r\n$3\r\napp\r\n";
static const char getname[] = "*2\r\n$6\r\nCLIENT\r\n$7\r\nGETNAME\r\n";
static const char hello[] = "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n";
static const char reset[] = "*1\r\n$5\r\nRESET\r\n";
static const char get[] = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";

static void kinds(void **state) {
    (void)state;
    ck_session_kind k;
    assert_true(ck_session_kind_of(RESP(auth), &k));
    assert_int_equal(k, CK_SESSION_AUTH);
    assert_true(ck_session_kind_of(RESP(select3), &k));
    assert_int_equal(k, CK_SESSION_SELECT);
    assert_true(ck_session_kind_of(RESP(setname), &k));
    assert_int_equal(k, CK_SESSION_SETNAME);
    assert_true(ck_session_kind_of(RESP(hello), &k));
    assert_int_equal(k, CK_SESSION_HELLO);
    assert_true(ck_session_kind_of(RESP(reset), &k));
    assert_int_equal(k, CK_SESSION_RESET);
    /* a HELLO without a version changes no protocol: not kept (audit) */
    assert_false(ck_session_kind_of("*1\r\n$5\r\nHELLO\r\n", 15, &k));
    assert_false(ck_session_kind_of(RESP(getname), &k));
    assert_false(ck_session_kind_of(RESP(get), &k));
    assert_false(ck_session_kind_of("*1\r\n$6\r\nCLIENT\r\n", 18, &k));
    assert_false(ck_session_kind_of("garbage", 7, &k));
}

static void keeps_the_last_success_of_each_kind(void **state) {
    (void)state;
    ck_session s = {0};
    assert_true(ck_session_propose(&s, CK_SESSION_AUTH, RESP(auth)));
    assert_true(ck_session_propose(&s, CK_SESSION_SELECT, RESP(select3)));
    assert_true(ck_session_propose(&s, CK_SESSION_SELECT, RESP(select5)));
    ck_session_settle(&s, true);  /* AUTH ok */
    ck_session_settle(&s, true);  /* SELECT 3 ok */
    ck_session_settle(&s, false); /* SELECT 5 failed: SELECT 3 stays */
    assert_memory_equal(s.kept[CK_SESSION_AUTH].bytes, auth, sizeof auth - 1);
    assert_int_equal(s.kept[CK_SESSION_SELECT].len, sizeof select3 - 1);
    assert_memory_equal(s.kept[CK_SESSION_SELECT].bytes, select3, sizeof select3 - 1);
    assert_null(s.kept[CK_SESSION_SETNAME].bytes);
    char names[64];
    ck_session_describe(&s, names, sizeof names);
    assert_string_equal(names, "AUTH SELECT");
    ck_session_free(&s);
}

static void reset_forgets_everything_and_clear_too(void **state) {
    (void)state;
    ck_session s = {0};
    ck_session_propose(&s, CK_SESSION_SETNAME, RESP(setname));
    ck_session_propose(&s, CK_SESSION_RESET, RESP(reset));
    ck_session_settle(&s, true);
    assert_non_null(s.kept[CK_SESSION_SETNAME].bytes);
    ck_session_settle(&s, true);
    assert_null(s.kept[CK_SESSION_SETNAME].bytes);
    ck_session_propose(&s, CK_SESSION_AUTH, RESP(auth));
    ck_session_settle(&s, true);
    ck_session_propose(&s, CK_SESSION_SELECT, RESP(select3));
    ck_session_clear(&s); /* a proposal and a kept command, both gone */
    assert_null(s.kept[CK_SESSION_AUTH].bytes);
    assert_int_equal(s.proposed_len, 0);
    ck_session_settle(&s, true); /* nothing proposed: nothing happens */
    assert_null(s.kept[CK_SESSION_SELECT].bytes);
    ck_session_free(&s);
}

static void dropped_proposals_are_never_kept(void **state) {
    (void)state;
    ck_session s = {0};
    for (int i = 0; i < 20; i++)
        assert_true(ck_session_propose(&s, CK_SESSION_SELECT, RESP(select3)));
    ck_session_drop_proposed(&s);
    ck_session_settle(&s, true);
    assert_null(s.kept[CK_SESSION_SELECT].bytes);
    ck_session_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kinds),
        cmocka_unit_test(keeps_the_last_success_of_each_kind),
        cmocka_unit_test(reset_forgets_everything_and_clear_too),
        cmocka_unit_test(dropped_proposals_are_never_kept),
    };
    return cmocka_run_group_tests_name("session", tests, NULL, NULL);
}
