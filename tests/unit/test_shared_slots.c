/* The slot table of the shared breaker state, on plain memory: names find
 * their slot again (in every process: the tag is the same), different names
 * get different slots, a full table says so, threads racing to claim never
 * share a slot, and the header check tells a damaged, alien, foreign or
 * stale file from a good one. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "shared_slots.h"

static ck_shared_file file;

static int setup(void **state) {
    (void)state;
    memset(&file, 0, sizeof file);
    ck_shared_header_init(&file.header, "boot-a");
    return 0;
}

static void a_name_finds_its_slot_again(void **state) {
    (void)state;
    ck_breaker_words *a = ck_shared_slots_find(file.slot, CK_SHARED_SLOTS, "127.0.0.1:6379");
    ck_breaker_words *b = ck_shared_slots_find(file.slot, CK_SHARED_SLOTS, "unix:/run/redis.sock");
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    assert_ptr_equal(ck_shared_slots_find(file.slot, CK_SHARED_SLOTS, "127.0.0.1:6379"), a);
    /* a fresh slot is a closed circuit */
    assert_int_equal(atomic_load(&a->state), CK_CLOSED);
}

static void a_full_table_says_so(void **state) {
    (void)state;
    char name[32];
    for (unsigned i = 0; i < CK_SHARED_SLOTS; i++) {
        snprintf(name, sizeof name, "10.0.0.%u:6379", i);
        assert_non_null(ck_shared_slots_find(file.slot, CK_SHARED_SLOTS, name));
    }
    assert_null(ck_shared_slots_find(file.slot, CK_SHARED_SLOTS, "one.more:6379"));
    /* those in it are still found */
    assert_non_null(ck_shared_slots_find(file.slot, CK_SHARED_SLOTS, "10.0.0.7:6379"));
}

#define RACERS 4
#define NAMES 16
static ck_breaker_words *found[RACERS][NAMES];
static void *claim_all(void *arg) {
    int me = (int)(intptr_t)arg;
    char name[32];
    for (int i = 0; i < NAMES; i++) {
        snprintf(name, sizeof name, "host%d:6379", i);
        found[me][i] = ck_shared_slots_find(file.slot, CK_SHARED_SLOTS, name);
    }
    return NULL;
}

static void racing_claims_agree(void **state) {
    (void)state;
    pthread_t t[RACERS];
    for (int i = 0; i < RACERS; i++)
        pthread_create(&t[i], NULL, claim_all, (void *)(intptr_t)i);
    for (int i = 0; i < RACERS; i++)
        pthread_join(t[i], NULL);
    for (int n = 0; n < NAMES; n++) {
        assert_non_null(found[0][n]);
        for (int r = 1; r < RACERS; r++)
            assert_ptr_equal(found[r][n], found[0][n]);
        for (int m = 0; m < n; m++)
            assert_ptr_not_equal(found[0][m], found[0][n]);
    }
}

static void the_header_check_tells_each_case(void **state) {
    (void)state;
    const char *why;
    assert_int_equal(ck_shared_header_check(&file.header, sizeof file, "boot-a", &why), CK_SHARED_OK);
    /* short: truncated, replaced */
    assert_int_equal(ck_shared_header_check(&file.header, sizeof file - 1, "boot-a", &why), CK_SHARED_DAMAGED);
    assert_string_equal(why, "it is short");
    assert_int_equal(ck_shared_header_check(&file.header, 12, "boot-a", &why), CK_SHARED_DAMAGED);
    /* empty: the shim never leaves one, so some other program's (a lock file) */
    assert_int_equal(ck_shared_header_check(&file.header, 0, "boot-a", &why), CK_SHARED_ALIEN);
    assert_string_equal(why, "it is empty");
    /* made before the last boot: replaced; an unknown boot id on either
     * side is not compared (a process without /proc would replace the
     * file at every start) */
    assert_int_equal(ck_shared_header_check(&file.header, sizeof file, "boot-b", &why), CK_SHARED_STALE);
    assert_int_equal(ck_shared_header_check(&file.header, sizeof file, "", &why), CK_SHARED_OK);
    ck_shared_header_init(&file.header, "");
    assert_int_equal(ck_shared_header_check(&file.header, sizeof file, "boot-b", &why), CK_SHARED_OK);
    /* another version of the shim: left alone */
    file.header.version = CK_SHARED_VERSION + 1;
    assert_int_equal(ck_shared_header_check(&file.header, sizeof file, "boot-a", &why), CK_SHARED_FOREIGN);
    file.header.version = CK_SHARED_VERSION;
    /* not cachekit's (no magic: a setting naming some other file): left alone */
    file.header.magic ^= 1;
    assert_int_equal(ck_shared_header_check(&file.header, sizeof file, "boot-a", &why), CK_SHARED_ALIEN);
    assert_int_equal(ck_shared_header_check(&file.header, 5, "boot-a", &why), CK_SHARED_ALIEN);
    file.header.magic ^= 1;
    /* cachekit's, inconsistent: replaced */
    file.header.slots = 3;
    assert_int_equal(ck_shared_header_check(&file.header, sizeof file, "boot-a", &why), CK_SHARED_DAMAGED);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(a_name_finds_its_slot_again, setup),
        cmocka_unit_test_setup(a_full_table_says_so, setup),
        cmocka_unit_test_setup(racing_claims_agree, setup),
        cmocka_unit_test_setup(the_header_check_tells_each_case, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
