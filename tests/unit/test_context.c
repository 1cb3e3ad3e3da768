/* The context table (shim/state/context.c), built here with 64 slots so
 * that it can be filled: lookups after deletions, a full table, and
 * threads inserting and deleting at once (run under ThreadSanitizer by
 * scripts/test). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "context.h"

#define SLOTS 64 /* CK_CONTEXT_TABLE_BITS=6 in tests/unit/meson.build */

/* Fake contexts: distinct addresses the table only hashes and compares. */
static char arena[1 << 20];
#define CTX(i) ((const redisContext *)(arena + 8 * (size_t)(i)))

static uint32_t home_of(const redisContext *c) { /* the table's own hash */
    uint64_t h = (uint64_t)(uintptr_t)c * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> (64 - 6));
}

static ck_endpoint *endpoint(void) { return ck_endpoint_get("test:1", NULL); }

static void forget_all(size_t n) {
    for (size_t i = 0; i < n; i++)
        ck_context_forget(CTX(i));
}

static void register_lookup_forget(void **state) {
    (void)state;
    ck_context_state *a = ck_context_register(CTX(1), endpoint());
    ck_context_state *b = ck_context_register(CTX(2), endpoint());
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_equal(ck_context_lookup(CTX(1)), a);
    assert_ptr_equal(ck_context_lookup(CTX(2)), b);
    assert_null(ck_context_lookup(CTX(3)));
    assert_ptr_equal(a->endpoint, endpoint());
    ck_context_forget(CTX(1));
    assert_null(ck_context_lookup(CTX(1)));
    assert_ptr_equal(ck_context_lookup(CTX(2)), b);
    ck_context_forget(CTX(1)); /* twice: nothing */
    ck_context_forget(CTX(2));
    assert_null(ck_context_lookup(CTX(2)));
}

/* Three contexts with the same home slot: deleting the first leaves a
 * tombstone that lookups of the others walk past, and that the next
 * insert reuses. */
static void deleted_slots_keep_later_keys_reachable(void **state) {
    (void)state;
    size_t same[3], found = 0;
    uint32_t home = home_of(CTX(100));
    for (size_t i = 100; i < sizeof arena / 8 && found < 3; i++)
        if (home_of(CTX(i)) == home)
            same[found++] = i;
    assert_int_equal(found, 3);
    ck_context_state *first = ck_context_register(CTX(same[0]), endpoint());
    ck_context_state *second = ck_context_register(CTX(same[1]), endpoint());
    assert_non_null(first);
    assert_non_null(second);
    ck_context_forget(CTX(same[0]));
    assert_ptr_equal(ck_context_lookup(CTX(same[1])), second); /* past the tombstone */
    assert_null(ck_context_lookup(CTX(same[2])));
    ck_context_state *third = ck_context_register(CTX(same[2]), endpoint());
    assert_non_null(third);
    assert_ptr_equal(ck_context_lookup(CTX(same[2])), third);
    assert_ptr_equal(ck_context_lookup(CTX(same[1])), second);
    ck_context_forget(CTX(same[1]));
    ck_context_forget(CTX(same[2]));
    assert_null(ck_context_lookup(CTX(same[1])));
    assert_null(ck_context_lookup(CTX(same[2])));
}

static void a_full_table_refuses_one_more(void **state) {
    (void)state;
    for (size_t i = 0; i < SLOTS; i++)
        assert_non_null(ck_context_register(CTX(i), endpoint()));
    assert_null(ck_context_register(CTX(SLOTS), endpoint())); /* passes through unprotected */
    for (size_t i = 0; i < SLOTS; i++)
        assert_non_null(ck_context_lookup(CTX(i)));
    assert_null(ck_context_lookup(CTX(SLOTS)));
    ck_context_forget(CTX(7));
    assert_non_null(ck_context_register(CTX(SLOTS), endpoint())); /* the freed slot */
    assert_non_null(ck_context_lookup(CTX(SLOTS)));
    forget_all(SLOTS + 1);
    for (size_t i = 0; i <= SLOTS; i++)
        assert_null(ck_context_lookup(CTX(i)));
}

#define THREADS 4
#define ROUNDS 2000

typedef struct {
    size_t first; /* each thread has its own contexts: 8 of them */
    int wrong;
} worker_args;

static void *worker(void *arg) {
    worker_args *w = arg;
    for (int round = 0; round < ROUNDS; round++) {
        ck_context_state *mine[8];
        for (size_t k = 0; k < 8; k++)
            mine[k] = ck_context_register(CTX(w->first + k), endpoint());
        for (size_t k = 0; k < 8; k++)
            w->wrong += mine[k] == NULL || ck_context_lookup(CTX(w->first + k)) != mine[k];
        for (size_t k = 0; k < 8; k++)
            ck_context_forget(CTX(w->first + k));
        for (size_t k = 0; k < 8; k++)
            w->wrong += ck_context_lookup(CTX(w->first + k)) != NULL;
    }
    return NULL;
}

static void threads_insert_and_delete_at_once(void **state) {
    (void)state;
    ck_endpoint *ep = endpoint(); /* made before the threads */
    assert_non_null(ep);
    pthread_t threads[THREADS];
    worker_args args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_args){.first = 1000 + 8 * (size_t)i};
        assert_int_equal(pthread_create(&threads[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(args[i].wrong, 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(register_lookup_forget),
        cmocka_unit_test(deleted_slots_keep_later_keys_reachable),
        cmocka_unit_test(a_full_table_refuses_one_more),
        cmocka_unit_test(threads_insert_and_delete_at_once),
    };
    return cmocka_run_group_tests_name("context table", tests, NULL, NULL);
}
