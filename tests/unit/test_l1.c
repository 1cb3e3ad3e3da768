/* The L1 store with a fake clock: TTL, coherence through generations and
 * the epoch, LRU eviction, the byte bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "l1.h"

#define SEC 1000000000ull

static uint64_t fake_now = 1000 * SEC;
static uint64_t fake_clock(void) { return fake_now; }

static int setup(void **state) {
    (void)state;
    ck_l1_settings s = {64u << 20, 1u << 20, 10 * SEC, fake_clock};
    ck_l1_configure(&s);
    ck_l1_clear();
    return 0;
}

/* The L1 key of a command on endpoint 1, database 0. */
#define key_hash(cmd) (&(ck_l1_key){ck_l1_hash(1, 0, (cmd), strlen(cmd)), (cmd), strlen(cmd)})

static void assert_fetch(const char *cmd, uint64_t snapshot, const char *expected) {
    size_t len = 0;
    char *got = ck_l1_fetch(key_hash(cmd), snapshot, &len);
    if (expected == NULL) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_int_equal(len, strlen(expected));
    assert_memory_equal(got, expected, len);
    free(got);
}

static void stores_and_serves_until_the_ttl(void **state) {
    (void)state;
    ck_l1_store(key_hash("GET a"), 0, ck_l1_epoch(), "$1\r\n1\r\n", 7);
    assert_fetch("GET a", 0, "$1\r\n1\r\n");
    assert_fetch("GET b", 0, NULL);
    fake_now += 10 * SEC;
    assert_fetch("GET a", 0, "$1\r\n1\r\n");
    fake_now += 1;
    assert_fetch("GET a", 0, NULL);
}

static void writes_invalidate_through_generations_and_epoch(void **state) {
    (void)state;
    uint32_t slot = ck_l1_generation_slot(1, 0, "a", 1);
    uint64_t before = ck_l1_generation(slot);
    ck_l1_store(key_hash("GET a"), before, ck_l1_epoch(), "$1\r\n1\r\n", 7);
    ck_l1_bump_generation(slot);
    assert_fetch("GET a", ck_l1_generation(slot), NULL); /* the key moved */
    ck_l1_store(key_hash("GET a"), ck_l1_generation(slot), ck_l1_epoch(), "$1\r\n2\r\n", 7);
    assert_fetch("GET a", ck_l1_generation(slot), "$1\r\n2\r\n");
    ck_l1_bump_epoch(); /* FLUSHDB */
    assert_fetch("GET a", ck_l1_generation(slot), NULL);
    /* a different database or endpoint is a different entry and key */
    assert_true(ck_l1_hash(1, 0, "GET a", 5).lo != ck_l1_hash(1, 1, "GET a", 5).lo);
    assert_true(ck_l1_hash(1, 0, "GET a", 5).lo != ck_l1_hash(2, 0, "GET a", 5).lo);
}

static void same_value_refreshes_different_value_replaces(void **state) {
    (void)state;
    ck_l1_store(key_hash("GET a"), 0, ck_l1_epoch(), "$1\r\n1\r\n", 7);
    fake_now += 8 * SEC;
    ck_l1_store(key_hash("GET a"), 0, ck_l1_epoch(), "$1\r\n1\r\n", 7);
    fake_now += 8 * SEC;
    assert_fetch("GET a", 0, "$1\r\n1\r\n"); /* refreshed 8 s ago */
    ck_l1_store(key_hash("GET a"), 0, ck_l1_epoch(), "$2\r\n22\r\n", 8);
    assert_fetch("GET a", 0, "$2\r\n22\r\n");
    ck_l1_stats st;
    ck_l1_stats_get(&st);
    assert_int_equal(st.entries, 1);
}

static void byte_bound_and_lru(void **state) {
    (void)state;
    ck_l1_settings s = {64u * 4096, 1u << 20, 10 * SEC, fake_clock}; /* 4 KB per shard */
    ck_l1_configure(&s);
    char value[600], cmd[32];
    memset(value, 'x', sizeof value);
    for (int i = 0; i < 20000; i++) {
        snprintf(cmd, sizeof cmd, "GET key:%d", i);
        ck_l1_store(key_hash(cmd), 0, ck_l1_epoch(), value, sizeof value);
    }
    ck_l1_stats st;
    ck_l1_stats_get(&st);
    assert_true(st.bytes <= 64u * 4096);
    assert_true(st.evictions > 19000);
    assert_true(st.entries > 0);
    /* the newest survive, the oldest are gone */
    size_t len;
    char *newest = ck_l1_fetch(key_hash("GET key:19999"), 0, &len);
    assert_non_null(newest);
    free(newest);
    assert_null(ck_l1_fetch(key_hash("GET key:0"), 0, &len));
    /* a reply larger than a shard's budget is not kept */
    char *big = calloc(1, 8192);
    ck_l1_store(key_hash("GET big"), 0, ck_l1_epoch(), big, 8192);
    assert_null(ck_l1_fetch(key_hash("GET big"), 0, &len));
    free(big);
}

static void entry_limit(void **state) {
    (void)state;
    ck_l1_settings s = {64u << 20, 100, 10 * SEC, fake_clock};
    ck_l1_configure(&s);
    char value[101] = {0};
    ck_l1_store(key_hash("GET a"), 0, ck_l1_epoch(), value, 101);
    assert_fetch("GET a", 0, NULL);
    ck_l1_store(key_hash("GET a"), 0, ck_l1_epoch(), value, 100);
    size_t len;
    char *got = ck_l1_fetch(key_hash("GET a"), 0, &len);
    assert_non_null(got);
    assert_int_equal(len, 100);
    free(got);
}

/* Two commands whose hashes collide (as crafted key names could make
 * them) never share an entry: the command bytes are compared. */
static void colliding_hashes_never_share_an_entry(void **state) {
    (void)state;
    ck_hash128 same = ck_l1_hash(1, 0, "GET a", 5);
    ck_l1_key a = {same, "GET a", 5}, b = {same, "GET b", 5};
    ck_l1_store(&a, 0, ck_l1_epoch(), "$1\r\nA\r\n", 7);
    size_t len;
    assert_null(ck_l1_fetch(&b, 0, &len));
    ck_l1_store(&b, 0, ck_l1_epoch(), "$1\r\nB\r\n", 7);
    char *got = ck_l1_fetch(&a, 0, &len);
    assert_non_null(got);
    assert_memory_equal(got, "$1\r\nA\r\n", 7);
    free(got);
    got = ck_l1_fetch(&b, 0, &len);
    assert_non_null(got);
    assert_memory_equal(got, "$1\r\nB\r\n", 7);
    free(got);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(stores_and_serves_until_the_ttl, setup),
        cmocka_unit_test_setup(colliding_hashes_never_share_an_entry, setup),
        cmocka_unit_test_setup(writes_invalidate_through_generations_and_epoch, setup),
        cmocka_unit_test_setup(same_value_refreshes_different_value_replaces, setup),
        cmocka_unit_test_setup(byte_bound_and_lru, setup),
        cmocka_unit_test_setup(entry_limit, setup),
    };
    int failed = cmocka_run_group_tests_name("l1", tests, NULL, NULL);
    ck_l1_clear();
    return failed;
}
