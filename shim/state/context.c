/* Context table: open addressing over a fixed array of atomic keys.
 * Insert claims a free or deleted slot with compare-and-swap (through a
 * RESERVED marker, so the value is in place before the key is visible),
 * lookup reads keys until it meets the context or an empty slot, delete
 * leaves a tombstone. No lock anywhere, so a thread that forks or is
 * interrupted never leaves the table unusable. Lookups of contexts the
 * shim never saw stop after the longest probe sequence any insert needed. */
#include "context.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "errors.h"
#include "guard.h"
#include "log.h"

#ifndef CK_CONTEXT_TABLE_BITS /* the unit test builds a small table to fill it */
#define CK_CONTEXT_TABLE_BITS 16
#endif
#define TABLE_BITS CK_CONTEXT_TABLE_BITS
#define TABLE_SIZE (1u << TABLE_BITS)
#define KEY_EMPTY ((uintptr_t)0)
#define KEY_DELETED ((uintptr_t)1)
#define KEY_RESERVED ((uintptr_t)2)

typedef struct {
    _Atomic uintptr_t key;
    ck_context_state *state;
} table_slot;

static table_slot table[TABLE_SIZE];
static _Atomic uint32_t longest_probe;

static uint32_t home_slot(const redisContext *c) {
    uint64_t h = (uint64_t)(uintptr_t)c * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> (64 - TABLE_BITS));
}

static table_slot *find_slot(const redisContext *c) {
    uint32_t home = home_slot(c);
    uint32_t limit = atomic_load_explicit(&longest_probe, memory_order_acquire);
    for (uint32_t i = 0; i <= limit; i++) {
        table_slot *s = &table[(home + i) & (TABLE_SIZE - 1)];
        uintptr_t k = atomic_load_explicit(&s->key, memory_order_acquire);
        if (k == (uintptr_t)c)
            return s;
        if (k == KEY_EMPTY)
            return NULL;
    }
    return NULL;
}

ck_context_state *ck_context_lookup(const redisContext *c) {
    table_slot *s = find_slot(c);
    return s == NULL ? NULL : s->state;
}

ck_context_state *ck_context_register(const redisContext *c, ck_endpoint *ep) {
    ck_context_state *st = calloc(1, sizeof *st);
    if (st == NULL || !ck_pending_reserve(&st->pending)) {
        free(st);
        ck_log(CK_LOG_ERROR, "out of memory tracking a context of %s; it passes through unprotected", ep->name);
        return NULL;
    }
    st->endpoint = ep;
    st->protocol = st->protocol_appended = 2;
    uint32_t home = home_slot(c);
    for (uint32_t i = 0; i < TABLE_SIZE; i++) {
        table_slot *s = &table[(home + i) & (TABLE_SIZE - 1)];
        uintptr_t k = atomic_load_explicit(&s->key, memory_order_relaxed);
        if ((k == KEY_EMPTY || k == KEY_DELETED) &&
            atomic_compare_exchange_strong_explicit(&s->key, &k, KEY_RESERVED, memory_order_acquire,
                                                    memory_order_relaxed)) {
            uint32_t longest = atomic_load_explicit(&longest_probe, memory_order_relaxed);
            while (i > longest && !atomic_compare_exchange_weak_explicit(&longest_probe, &longest, i,
                                                                         memory_order_release, memory_order_relaxed)) {
            }
            s->state = st;
            atomic_store_explicit(&s->key, (uintptr_t)c, memory_order_release);
            return st;
        }
    }
    ck_pending_free(&st->pending);
    free(st);
    ck_log(CK_LOG_ERROR, "more than %u live contexts; a context of %s passes through unprotected", TABLE_SIZE,
           ep->name);
    return NULL;
}

void ck_context_release_probe(ck_context_state *st) {
    ck_endpoint_release(st->endpoint, st->held_probe);
    st->held_probe = CK_PERMIT_ALLOW;
}

static void forget_connection_modes(ck_context_state *st) {
    ck_session_drop_proposed(&st->session);
    st->transaction_wrote = false;
    st->db_changes_in_flight = 0;
    st->db_appended = st->db;
    st->protocol_appended = st->protocol;
}

/* The byte stream of the connection ends: the shadow reader's copy of it,
 * and the deadline on its socket (async contexts have their own life
 * cycle, policy/async.c). */
void ck_context_drop_shadow(ck_context_state *st) {
    if (st->shadow != NULL)
        CK_REAL_CALL(redisReaderFree, st->shadow);
    st->shadow = NULL;
}

static void forget_stream(ck_context_state *st) {
    ck_context_drop_shadow(st);
    st->shadow_lost = false;
    ck_stamps_clear(&st->sent_at);
    if (!st->is_async) {
        ck_watchdog_remove(&st->watch);
        atomic_store_explicit(&st->watch.fired, false, memory_order_relaxed);
    }
}

static void forget_deferred(ck_context_state *st) {
    st->connect_owed = false;
    ck_buf_release(&st->deferred);
}

void ck_context_reset(ck_context_state *st) {
    ck_endpoint_release(st->endpoint, ck_pending_clear(&st->pending));
    forget_deferred(st);
    ck_context_release_probe(st);
    forget_connection_modes(st);
    forget_stream(st);
    st->refused_session = 0;
    st->in_transaction = false;
    st->passthrough = false;
    st->db_uncertain = st->protocol_uncertain = st->subscribed = false;
}

/* Whether a dead connection's death has been taken already: nothing
 * left that ck_context_connection_died would settle or forget (every
 * call on a dead context asks, so the answer is cheap). */
static bool death_taken(const ck_context_state *st) {
    return ck_pending_empty(&st->pending) && st->shadow == NULL && !st->shadow_lost && st->sent_at.len == 0 &&
           st->sent_at.unknown == 0 && st->session.proposed_len == 0 && !st->transaction_wrote &&
           st->db_changes_in_flight == 0 && st->db_appended == st->db && st->protocol_appended == st->protocol &&
           (st->is_async || (!st->watch.listed && !atomic_load_explicit(&st->watch.fired, memory_order_relaxed)));
}

void ck_context_connection_died(ck_context_state *st, const redisContext *c) {
    if (death_taken(st))
        return;
    /* Each command that was sent and lost with the connection is a failed
     * call, a probe among them a failed probe, as if its read had failed. */
    int saved_errno = errno; /* the program may read the failed call's */
    uint32_t killed;
    ck_permit probe = ck_pending_kill_real(&st->pending, &killed);
    const char *cause = killed > 0 ? ck_ctx_cause(c) : NULL;
    if (probe.gate == CK_PROBE) {
        ck_endpoint_record(st->endpoint, probe, false, cause);
        killed--;
    }
    for (uint32_t i = 0; i < killed; i++)
        ck_endpoint_record(st->endpoint, CK_PERMIT_ALLOW, false, cause);
    forget_connection_modes(st);
    forget_stream(st);
    /* A transaction dies with the connection, but the program may still
     * be inside it (even when MULTI's own reply was lost): its next
     * commands fail, as on the dead connection, and never run alone on a
     * healed one, until it ends the transaction (EXEC, DISCARD, RESET).
     * in_transaction stays as it was. */
    errno = saved_errno;
}

void ck_context_connection_abandoned(ck_context_state *st, bool server_answered) {
    uint32_t killed;
    ck_permit probe = ck_pending_kill_real(&st->pending, &killed);
    if (server_answered && probe.gate == CK_PROBE)
        ck_endpoint_record(st->endpoint, probe, true, NULL); /* Redis is there: what the probe asked */
    else
        ck_endpoint_release(st->endpoint, probe);
    forget_deferred(st);
    forget_connection_modes(st);
    forget_stream(st);
    st->failure_recorded = true; /* async: hiredis frees it; nothing for the breaker */
}

void ck_context_forget(const redisContext *c) {
    table_slot *s = find_slot(c);
    if (s == NULL)
        return;
    ck_context_state *st = s->state;
    atomic_store_explicit(&s->key, KEY_DELETED, memory_order_release);
    ck_context_reset(st);
    ck_let_go(&st->peer);
    ck_stamps_free(&st->sent_at);
    ck_pending_free(&st->pending);
    ck_session_free(&st->session);
    free(st->recipe.address);
    free(st);
}
