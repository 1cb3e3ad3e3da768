/* The generated command table: classification and key extraction for the
 * commands the L1 covers and the writes that invalidate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cmdtable.h"

static void cacheable_reads(void **state) {
    (void)state;
    static const char *const covered[] = {"GET", "MGET", "HGET", "HMGET", "HGETALL", "EXISTS", "STRLEN",
                                          "GETRANGE", "LRANGE", "LINDEX", "LLEN", "SMEMBERS", "SISMEMBER",
                                          "SCARD", "ZRANGE", "ZRANGEBYSCORE", "ZSCORE", "ZCARD", "get"};
    for (size_t i = 0; i < sizeof covered / sizeof covered[0]; i++) {
        const ck_command_spec *spec = ck_command_spec_of(covered[i], strlen(covered[i]));
        assert_non_null(spec);
        assert_true(spec->flags & CK_CMD_F_CACHEABLE);
        assert_false(ck_command_may_write(spec));
    }
    static const char *const not_cached[] = {"TTL", "PTTL", "SRANDMEMBER", "RANDOMKEY", "SCAN", "SET", "XREAD",
                                             "SORT_RO", "PING", "TIME", "OBJECT"};
    for (size_t i = 0; i < sizeof not_cached / sizeof not_cached[0]; i++) {
        const ck_command_spec *spec = ck_command_spec_of(not_cached[i], strlen(not_cached[i]));
        assert_non_null(spec);
        assert_false(spec->flags & CK_CMD_F_CACHEABLE);
    }
    assert_null(ck_command_spec_of("NOSUCHCOMMAND", 13));
    assert_null(ck_command_spec_of("GE", 2));
    assert_null(ck_command_spec_of("GETX", 4));
}

static void writes(void **state) {
    (void)state;
    static const char *const keyed[] = {"SET", "DEL", "UNLINK", "EXPIRE", "RENAME", "INCR", "HSET", "LPUSH",
                                        "SADD", "ZADD", "MSET", "GETSET", "APPEND", "BLPOP"};
    for (size_t i = 0; i < sizeof keyed / sizeof keyed[0]; i++) {
        const ck_command_spec *spec = ck_command_spec_of(keyed[i], strlen(keyed[i]));
        assert_non_null(spec);
        assert_true(ck_command_may_write(spec));
        assert_true(ck_command_keys_known(spec));
    }
    static const char *const unknown_keys[] = {"FLUSHDB", "FLUSHALL", "EVAL", "FCALL", "SWAPDB", "ZUNIONSTORE"};
    for (size_t i = 0; i < sizeof unknown_keys / sizeof unknown_keys[0]; i++) {
        const ck_command_spec *spec = ck_command_spec_of(unknown_keys[i], strlen(unknown_keys[i]));
        assert_non_null(spec);
        assert_true(ck_command_may_write(spec));
        assert_false(ck_command_keys_known(spec));
    }
    /* not writes: keyless reads and connection chatter */
    assert_false(ck_command_may_write(ck_command_spec_of("PING", 4)));
    assert_false(ck_command_may_write(ck_command_spec_of("PUBLISH", 7)));
}

static char keys_seen[256];
static void note_key(const char *key, size_t len, void *arg) {
    (void)arg;
    strncat(keys_seen, key, len);
    strcat(keys_seen, ",");
}

static const char *keys_of(const char *name, const char *resp) {
    keys_seen[0] = '\0';
    assert_true(ck_command_each_key(ck_command_spec_of(name, strlen(name)), resp, strlen(resp), note_key, NULL));
    return keys_seen;
}

static void key_extraction(void **state) {
    (void)state;
    assert_string_equal(keys_of("GET", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), "k,");
    assert_string_equal(keys_of("MGET", "*4\r\n$4\r\nMGET\r\n$1\r\na\r\n$2\r\nbb\r\n$0\r\n\r\n"), "a,bb,,");
    assert_string_equal(keys_of("MSET", "*5\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"), "a,b,");
    assert_string_equal(keys_of("RENAME", "*3\r\n$6\r\nRENAME\r\n$3\r\nold\r\n$3\r\nnew\r\n"), "old,new,");
    assert_string_equal(keys_of("HGET", "*3\r\n$4\r\nHGET\r\n$1\r\nh\r\n$1\r\nf\r\n"), "h,");
    assert_string_equal(keys_of("ZRANGE", "*4\r\n$6\r\nZRANGE\r\n$1\r\nz\r\n$1\r\n0\r\n$2\r\n-1\r\n"), "z,");
    assert_string_equal(keys_of("BLPOP", "*4\r\n$5\r\nBLPOP\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\n0\r\n"), "a,b,");
    assert_false(ck_command_each_key(ck_command_spec_of("GET", 3), "*2\r\n$3\r\nGET\r\n$9\r\nk\r\n", 19, note_key,
                                     NULL));
}

/* RESP of a command given as words. */
static const char *resp_of(const char *const *words, size_t n) {
    static char out[512];
    int len = snprintf(out, sizeof out, "*%zu\r\n", n);
    for (size_t i = 0; i < n; i++)
        len += snprintf(out + len, sizeof out - (size_t)len, "$%zu\r\n%s\r\n", strlen(words[i]), words[i]);
    return out;
}
#define RESP(...) resp_of((const char *const[]){__VA_ARGS__}, sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *))

static bool movable_keys(const char *resp) {
    keys_seen[0] = '\0';
    const char *name = strchr(strchr(resp, '$'), '\n') + 1;
    size_t name_len = strcspn(name, "\r");
    const ck_command_spec *spec = ck_command_spec_of(name, name_len);
    return ck_command_keys_known(spec) && ck_command_cacheable(spec) &&
           ck_command_each_key(spec, resp, strlen(resp), note_key, NULL);
}

/* Movable-key reads whose keys the shim finds itself, and those it does
 * not keep (patterns, BLOCK, a count past the arguments). */
static void movable_key_reads(void **state) {
    (void)state;
    assert_true(movable_keys(RESP("ZUNION", "2", "a", "b", "WITHSCORES")));
    assert_string_equal(keys_seen, "a,b,");
    assert_true(movable_keys(RESP("zinter", "1", "z")));
    assert_string_equal(keys_seen, "z,");
    assert_true(movable_keys(RESP("SINTERCARD", "2", "s", "t", "LIMIT", "5")));
    assert_string_equal(keys_seen, "s,t,");
    assert_false(movable_keys(RESP("ZDIFF", "3", "a", "b")));
    assert_false(movable_keys(RESP("ZUNION", "x", "a")));
    assert_true(movable_keys(RESP("SORT_RO", "l", "LIMIT", "0", "2", "ALPHA", "DESC")));
    assert_string_equal(keys_seen, "l,");
    assert_false(movable_keys(RESP("SORT_RO", "l", "BY", "w_*")));
    assert_false(movable_keys(RESP("SORT_RO", "l", "get", "#")));
    assert_true(movable_keys(RESP("XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0")));
    assert_string_equal(keys_seen, "s1,s2,");
    assert_false(movable_keys(RESP("XREAD", "BLOCK", "0", "STREAMS", "s", "$")));
    assert_false(movable_keys(RESP("XREAD", "STREAMS", "s1", "s2", "0")));
    /* the writes among movable-key commands stay unknown */
    assert_false(ck_command_keys_known(ck_command_spec_of("ZUNIONSTORE", 11)));
    assert_false(ck_command_keys_known(ck_command_spec_of("SORT", 4)));
    assert_false(ck_command_keys_known(ck_command_spec_of("XREADGROUP", 10)));
}

static void table_is_sorted_and_upper_case(void **state) {
    (void)state;
    assert_true(ck_command_table_size() > 200);
    for (size_t i = 0; i < ck_command_table_size(); i++) {
        const ck_command_spec *spec = ck_command_table_at(i);
        for (const char *p = spec->name; *p; p++)
            assert_false(*p >= 'a' && *p <= 'z');
        if (i > 0)
            assert_true(strcmp(ck_command_table_at(i - 1)->name, spec->name) < 0);
        assert_ptr_equal(ck_command_spec_of(spec->name, strlen(spec->name)), spec);
    }
}

/* Every name is found in any case, and only a whole name: not a prefix,
 * not a longer word, not one with a NUL inside (lengths count, not C
 * strings). */
static void lookup_is_exact_in_any_case(void **state) {
    (void)state;
    for (size_t i = 0; i < ck_command_table_size(); i++) {
        const ck_command_spec *spec = ck_command_table_at(i);
        size_t len = strlen(spec->name);
        char lower[64], mixed[64], longer[66];
        assert_true(len < sizeof lower);
        for (size_t k = 0; k < len; k++) {
            char ch = spec->name[k];
            lower[k] = (char)(ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch);
            mixed[k] = k % 2 ? lower[k] : ch;
        }
        assert_ptr_equal(ck_command_spec_of(lower, len), spec);
        assert_ptr_equal(ck_command_spec_of(mixed, len), spec);
        memcpy(longer, spec->name, len);
        longer[len] = 'Q';
        const ck_command_spec *other = ck_command_spec_of(longer, len + 1);
        assert_true(other == NULL || strcmp(other->name, spec->name) != 0);
        longer[len] = '\0';
        assert_null(ck_command_spec_of(longer, len + 1));
        if (len > 1) {
            const ck_command_spec *prefix = ck_command_spec_of(spec->name, len - 1);
            assert_true(prefix == NULL || strlen(prefix->name) == len - 1);
        }
    }
    assert_null(ck_command_spec_of("", 0));
    assert_null(ck_command_spec_of("G\0T", 3));
    assert_null(ck_command_spec_of("NOSUCHCOMMAND", 13));
    assert_non_null(ck_command_spec_of("get", 3));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cacheable_reads),
        cmocka_unit_test(writes),
        cmocka_unit_test(movable_key_reads),
        cmocka_unit_test(key_extraction),
        cmocka_unit_test(table_is_sorted_and_upper_case),
        cmocka_unit_test(lookup_is_exact_in_any_case),
    };
    return cmocka_run_group_tests_name("command table", tests, NULL, NULL);
}
