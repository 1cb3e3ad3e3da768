/* The L1 policy (shim/state/cache.c) over the real L1 store and replies
 * from the hiredis reader of this build: which reads are kept and served
 * stale, which writes invalidate what (their keys, or everything), key
 * patterns (CACHEKIT_L1_KEYS), and a database changed inside MULTI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "abi.h"
#include "cache.h"

static const char *l1_keys = "";

static const char *fake_getenv(const char *name) {
    if (strcmp(name, "CACHEKIT_L1_KEYS") == 0)
        return l1_keys;
    return NULL;
}

static ck_context_state context;

static int setup(void **state) {
    (void)state;
    ck_abi_select(HIREDIS_MAJOR >= 1);
    ck_config cfg;
    ck_config_load(&cfg, fake_getenv, NULL);
    ck_cache_configure(&cfg);
    memset(&context, 0, sizeof context);
    context.endpoint = ck_endpoint_get("test:1", NULL);
    context.protocol = context.protocol_appended = 2;
    return 0;
}

/* RESP of a command given as words. */
static size_t resp(char *out, size_t cap, const char *words) {
    char copy[256], *argv[16];
    snprintf(copy, sizeof copy, "%s", words);
    int argc = 0;
    for (char *w = strtok(copy, " "); w != NULL && argc < 16; w = strtok(NULL, " "))
        argv[argc++] = w;
    size_t n = (size_t)snprintf(out, cap, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        n += (size_t)snprintf(out + n, cap - n, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    return n;
}

typedef struct {
    uint8_t flags;
    ck_slot_cache cache;
} prepared;

static prepared prepare(const char *words) {
    char bytes[512];
    size_t len = resp(bytes, sizeof bytes, words);
    bool needs_resp;
    const char *space = strchr(words, ' ');
    size_t name_len = space != NULL ? (size_t)(space - words) : strlen(words);
    const ck_command_spec *spec = ck_cache_spec(ck_command_spec_of(words, name_len), words, name_len, &needs_resp);
    prepared p;
    p.flags = ck_cache_prepare(&context, spec, bytes, len, NULL, &p.cache);
    return p;
}

/* The reply Redis would give, through hiredis's own reader. */
static void *reply_of(const char *resp_bytes) {
    redisReader *r = redisReaderCreate();
    void *reply = NULL;
    redisReaderFeed(r, resp_bytes, strlen(resp_bytes));
    assert_int_equal(redisReaderGetReply(r, &reply), REDIS_OK);
    redisReaderFree(r);
    return reply;
}

/* A read answered by the server: kept. */
static void read_answered(const char *words, const char *value) {
    prepared p = prepare(words);
    assert_int_equal(p.flags, CK_SLOT_L1_READ);
    char bulk[128];
    snprintf(bulk, sizeof bulk, "$%zu\r\n%s\r\n", strlen(value), value);
    void *reply = reply_of(bulk);
    ck_cache_settle(p.flags, &p.cache, reply, true);
    freeReplyObject(reply);
    free(p.cache.cmd_heap);
}

static void write_sent(const char *words) {
    prepared p = prepare(words);
    assert_int_equal(p.flags, CK_SLOT_L1_WRITE);
    ck_cache_settle(p.flags, &p.cache, NULL, true);
}

/* What the L1 would answer for this read now: its RESP bytes, or NULL. */
static char *stale(const char *words, size_t *len) {
    prepared p = prepare(words);
    if (p.flags != CK_SLOT_L1_READ)
        return NULL;
    char *bytes = ck_cache_stale(&p.cache, len);
    free(p.cache.cmd_heap);
    return bytes;
}

static void assert_stale(const char *words, const char *expected) {
    size_t len = 0;
    char *bytes = stale(words, &len);
    if (expected == NULL) {
        if (bytes != NULL)
            fail_msg("%s: served stale, expected nothing", words);
        return;
    }
    if (bytes == NULL)
        fail_msg("%s: nothing served, expected %s", words, expected);
    assert_non_null(memmem(bytes, len, expected, strlen(expected)));
    free(bytes);
}

static void reads_are_kept_and_writes_invalidate_their_keys(void **state) {
    (void)state;
    read_answered("GET user:1", "alice");
    read_answered("GET user:2", "bob");
    assert_stale("GET user:1", "alice");
    write_sent("SET user:1 carol");
    assert_stale("GET user:1", NULL);    /* its key changed */
    assert_stale("GET user:2", "bob");   /* another key did not */
    write_sent("DEL user:2 user:3");
    assert_stale("GET user:2", NULL);
}

static void all_keys_writes_invalidate_everything(void **state) {
    (void)state;
    read_answered("GET a", "1");
    read_answered("HGET h f", "2");
    write_sent("FLUSHALL");
    assert_stale("GET a", NULL);
    assert_stale("HGET h f", NULL);
    read_answered("GET a", "3");
    write_sent("MOVE a 1"); /* reaches another database: everything */
    assert_stale("GET a", NULL);
    read_answered("GET b", "4");
    prepared p = prepare("NOSUCHCOMMAND x"); /* unknown: may have written anything */
    assert_int_equal(p.flags, 0);
    assert_stale("GET b", NULL);
}

static void inside_multi_a_select_makes_the_database_uncertain(void **state) {
    (void)state;
    read_answered("GET k", "before");
    context.db_uncertain = true; /* SELECT appended inside MULTI, not yet answered */
    assert_int_equal(prepare("GET k").flags, 0); /* no read is kept: the database is unknown */
    write_sent("SET k after");                   /* a write of unknown database: everything */
    context.db_uncertain = false;
    assert_stale("GET k", NULL);
}

static void reads_are_kept_per_database(void **state) {
    (void)state;
    read_answered("GET k", "db0");
    context.db_appended = 1;
    assert_stale("GET k", NULL);
    read_answered("GET k", "db1");
    assert_stale("GET k", "db1");
    context.db_appended = 0;
    assert_stale("GET k", "db0");
}

static void key_patterns_limit_what_is_kept(void **state) {
    (void)state;
    l1_keys = "user:*,session:*";
    setup(NULL);
    read_answered("GET user:9", "kept");
    assert_stale("GET user:9", "kept");
    assert_int_equal(prepare("GET other").flags, 0);             /* not kept */
    assert_int_equal(prepare("MGET user:9 other").flags, 0);     /* one key outside: not kept */
    assert_int_equal(prepare("SET other x").flags, CK_SLOT_L1_WRITE); /* writes still invalidate */
    l1_keys = "";
    setup(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(reads_are_kept_and_writes_invalidate_their_keys, setup),
        cmocka_unit_test_setup(all_keys_writes_invalidate_everything, setup),
        cmocka_unit_test_setup(inside_multi_a_select_makes_the_database_uncertain, setup),
        cmocka_unit_test_setup(reads_are_kept_per_database, setup),
        cmocka_unit_test_setup(key_patterns_limit_what_is_kept, setup),
    };
    return cmocka_run_group_tests_name("cache policy", tests, NULL, NULL);
}
