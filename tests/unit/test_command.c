/* Command names from formats and RESP, classes, availability errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "command.h"
#include "format.h"

#define assert_name(call, expected)                                                                   \
    do {                                                                                              \
        assert_true(call);                                                                            \
        assert_int_equal(len, strlen(expected));                                                      \
        assert_memory_equal(name, expected, len);                                                     \
    } while (0)

static void names_from_formats(void **state) {
    (void)state;
    const char *name = NULL;
    size_t len = 0;
    assert_name(ck_command_name_from_format("GET %s", &name, &len), "GET");
    assert_name(ck_command_name_from_format("PING", &name, &len), "PING");
    assert_name(ck_command_name_from_format("hset %b %b %b", &name, &len), "hset");
    /* the name itself is interpolated: only formatting can tell */
    assert_false(ck_command_name_from_format("%s %s", &name, &len));
    assert_false(ck_command_name_from_format("GE%s k", &name, &len));
    assert_false(ck_command_name_from_format("", &name, &len));
    assert_false(ck_command_name_from_format(" GET k", &name, &len));
    assert_false(ck_command_name_from_format(NULL, &name, &len));
}

static void names_from_resp(void **state) {
    (void)state;
    const char *name = NULL;
    size_t len = 0;
    const char ok[] = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
    assert_name(ck_command_name_from_resp(ok, sizeof ok - 1, &name, &len), "GET");
    const char truncated[] = "*2\r\n$30\r\nGET\r\n";
    assert_false(ck_command_name_from_resp(truncated, sizeof truncated - 1, &name, &len));
    const char no_digits[] = "*2\r\n$\r\nGET\r\n";
    assert_false(ck_command_name_from_resp(no_digits, sizeof no_digits - 1, &name, &len));
    const char cut_in_length[] = "*1\r\n$12";
    assert_false(ck_command_name_from_resp(cut_in_length, sizeof cut_in_length - 1, &name, &len));
    assert_false(ck_command_name_from_resp("PING\r\n", 6, &name, &len));
    assert_false(ck_command_name_from_resp(NULL, 0, &name, &len));
}

static void args_from_resp(void **state) {
    (void)state;
    const char cmd[] = "*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$0\r\n\r\n";
    const char *arg = NULL;
    size_t len = 0;
    assert_true(ck_command_arg_from_resp(cmd, sizeof cmd - 1, 1, &arg, &len));
    assert_int_equal(len, 7);
    assert_memory_equal(arg, "SETNAME", 7);
    assert_true(ck_command_arg_from_resp(cmd, sizeof cmd - 1, 2, &arg, &len)); /* empty argument */
    assert_int_equal(len, 0);
    assert_false(ck_command_arg_from_resp(cmd, sizeof cmd - 1, 3, &arg, &len));
    assert_false(ck_command_arg_from_resp(cmd, 20, 1, &arg, &len)); /* cut inside argv[1] */
}

static void classes(void **state) {
    (void)state;
    struct {
        const char *name;
        ck_command_class cls;
    } cases[] = {
        {"GET", CK_CMD_DATA},          {"set", CK_CMD_DATA},           {"PING", CK_CMD_DATA},
        {"auth", CK_CMD_CONNECTION},   {"SELECT", CK_CMD_CONNECTION},  {"HELLO", CK_CMD_CONNECTION},
        {"Client", CK_CMD_CONNECTION}, {"MULTI", CK_CMD_TXN_BEGIN},    {"exec", CK_CMD_TXN_END},
        {"DISCARD", CK_CMD_TXN_END},   {"WATCH", CK_CMD_TXN_WATCH},    {"SUBSCRIBE", CK_CMD_SUBSCRIBE},
        {"psubscribe", CK_CMD_SUBSCRIBE}, {"MONITOR", CK_CMD_SUBSCRIBE}, {"SELECTX", CK_CMD_DATA},
        {"AUT", CK_CMD_DATA},          {"READONLY", CK_CMD_CONNECTION}, {"readwrite", CK_CMD_CONNECTION},
        {"RESET", CK_CMD_CONNECTION},  {"QUIT", CK_CMD_CONNECTION},    {"ASKING", CK_CMD_CONNECTION},
        {"UNWATCH", CK_CMD_TXN_WATCH}, {"SSUBSCRIBE", CK_CMD_SUBSCRIBE}, {"hget", CK_CMD_DATA},
        {"LPUSH", CK_CMD_DATA},        {"SUBSCRIBEX", CK_CMD_DATA},     {"", CK_CMD_DATA},
        {"_MULTI", CK_CMD_DATA},       {"PSUBSCRIBE_", CK_CMD_DATA},
        {"BLPOP", CK_CMD_BLOCKING},    {"brpop", CK_CMD_BLOCKING},      {"BRPOPLPUSH", CK_CMD_BLOCKING},
        {"BLMOVE", CK_CMD_BLOCKING},   {"BLMPOP", CK_CMD_BLOCKING},     {"BZPOPMIN", CK_CMD_BLOCKING},
        {"BZPOPMAX", CK_CMD_BLOCKING}, {"BZMPOP", CK_CMD_BLOCKING},     {"XREAD", CK_CMD_BLOCKING},
        {"XREADGROUP", CK_CMD_BLOCKING}, {"WAIT", CK_CMD_BLOCKING},     {"WAITAOF", CK_CMD_BLOCKING},
        {"XRANGE", CK_CMD_DATA},       {"BITCOUNT", CK_CMD_DATA},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(ck_command_classify(cases[i].name, strlen(cases[i].name)), cases[i].cls);
    /* the length bounds the comparison: "GET" inside "GETSET" is not GET */
    assert_int_equal(ck_command_classify("EXECUTE", 4), CK_CMD_TXN_END);
}

static void availability_errors(void **state) {
    (void)state;
    static const char *const unavailable[] = {
        "LOADING Redis is loading the dataset in memory",
        "BUSY Redis is busy running a script.",
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        "CLUSTERDOWN The cluster is down",
        "TRYAGAIN Multiple keys request during rehashing of slot",
        "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.",
        "NOREPLICAS Not enough good replicas to write.",
        "LOADING",
    };
    static const char *const application[] = {
        "WRONGTYPE Operation against a key holding the wrong kind of value",
        "ERR syntax error",
        "BUSYKEY Target key name already exists.",
        "NOSCRIPT No matching script.",
        "ERR unknown command 'FOO'",
        "",
    };
    for (size_t i = 0; i < sizeof unavailable / sizeof unavailable[0]; i++)
        assert_true(ck_error_is_availability(unavailable[i], strlen(unavailable[i])));
    for (size_t i = 0; i < sizeof application / sizeof application[0]; i++)
        assert_false(ck_error_is_availability(application[i], strlen(application[i])));
    assert_false(ck_error_is_availability(NULL, 0));
}

/* Lengths are bounded before any arithmetic (a 20-digit length used to
 * wrap n + 2 to 0). */
static void lengths_are_bounded(void **state) {
    (void)state;
    const char *arg;
    size_t len;
    static const char wraps[] = "*2\r\n$3\r\nGET\r\n$18446744073709551614\r\nab\r\n";
    assert_true(ck_command_arg_from_resp(wraps, sizeof wraps - 1, 0, &arg, &len));
    assert_false(ck_command_arg_from_resp(wraps, sizeof wraps - 1, 1, &arg, &len));
    assert_false(ck_command_each_resp_arg(wraps, sizeof wraps - 1, NULL, NULL));
    static const char many[] = "*99999999999999999999\r\n$3\r\nGET\r\n";
    assert_false(ck_command_arg_from_resp(many, sizeof many - 1, 0, &arg, &len));
}

static void batches(void **state) {
    (void)state;
    size_t count;
    bool all_data;
    static const char two[] = "*2\r\n$3\r\nGET\r\n$1\r\nb\r\n*2\r\n$3\r\nGET\r\n$1\r\nc\r\n";
    assert_true(ck_command_batch(two, sizeof two - 1, &count, &all_data, NULL, NULL));
    assert_int_equal(count, 2);
    assert_true(all_data);
    assert_true(ck_command_batch("GET c\r\n\r\nMULTI\n", 15, &count, &all_data, NULL, NULL));
    assert_int_equal(count, 2); /* the empty line owes nothing */
    assert_false(all_data);
    assert_false(ck_command_batch("*2\r\n$3\r\nGET\r\n", 13, &count, &all_data, NULL, NULL)); /* incomplete */
    assert_false(ck_command_batch("GET c", 5, &count, &all_data, NULL, NULL));                    /* no newline */
    char resp[64];
    long n = ck_format_inline(resp, sizeof resp, "GET  c\r\n", 8);
    assert_int_equal(n, 20);
    assert_memory_equal(resp, "*2\r\n$3\r\nGET\r\n$1\r\nc\r\n", 20);
    assert_int_equal(ck_format_inline(resp, sizeof resp, "SET k \"a b\"\n", 12), -1);
    assert_int_equal(ck_format_inline(resp, 8, "GET c\n", 6), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_from_formats),
        cmocka_unit_test(names_from_resp),
        cmocka_unit_test(args_from_resp),
        cmocka_unit_test(classes),
        cmocka_unit_test(availability_errors),
        cmocka_unit_test(lengths_are_bounded),
        cmocka_unit_test(batches),
    };
    return cmocka_run_group_tests_name("command", tests, NULL, NULL);
}
