/* Ring buffer of run-length slots; see pending.h for why. */
#include "pending.h"

#include <stdlib.h>
#include <string.h>

void ck_pending_init(ck_pending *q) { memset(q, 0, sizeof *q); }

/* The capacity stays a power of two, so positions wrap with a mask. */
bool ck_pending_grow(ck_pending *q) {
    uint32_t cap = q->cap == 0 ? 8 : q->cap * 2;
    if (cap < q->cap)
        return false;
    ck_slot *ring = malloc((size_t)cap * sizeof *ring);
    if (ring == NULL)
        return false;
    for (uint32_t i = 0; i < q->len; i++)
        ring[i] = *ck_pending_at(q, i);
    free(q->ring);
    q->ring = ring;
    q->cap = cap;
    q->head = 0;
    return true;
}

void ck_pending_push_slot(ck_pending *q, ck_slot_kind kind, ck_permit p, uint8_t flags, const ck_slot_cache *cache) {
    ck_slot *s = ck_pending_at(q, q->len);
    s->kind = (uint8_t)kind;
    s->gate = (uint8_t)p.gate;
    s->ticket = p.ticket;
    s->flags = flags;
    s->count = 1;
    q->refused += kind == CK_SLOT_REFUSED;
    if (cache != NULL) {
        s->cache = *cache;
    } else {
        s->cache.stale = NULL;
        s->cache.cmd_heap = NULL;
        s->cache.cmd_len = 0;
    }
    q->len++;
}

void ck_slot_cache_release(ck_slot_cache *cache) {
    if (cache->stale != NULL) { /* (free(NULL) is a call too, on every read) */
        free(cache->stale);
        cache->stale = NULL;
    }
    if (cache->cmd_heap != NULL) {
        free(cache->cmd_heap);
        cache->cmd_heap = NULL;
    }
}

void ck_pending_pop_slot(ck_pending *q) {
    if (q->len == 0)
        return;
    q->refused -= ck_pending_at(q, 0)->kind == CK_SLOT_REFUSED;
    q->head = (q->head + 1) & (q->cap - 1);
    q->len--;
}

ck_permit ck_pending_clear(ck_pending *q) {
    ck_permit probe = CK_PERMIT_ALLOW;
    for (uint32_t i = 0; i < q->len; i++) {
        ck_slot *s = ck_pending_at(q, i);
        if (s->gate == CK_PROBE && s->kind == CK_SLOT_REAL)
            probe = ck_slot_permit(s);
        ck_slot_cache_release(&s->cache);
    }
    q->head = 0;
    q->len = 0;
    q->refused = 0;
    return probe;
}

ck_permit ck_pending_kill_real(ck_pending *q, uint32_t *killed) {
    ck_permit probe = CK_PERMIT_ALLOW;
    *killed = 0;
    for (uint32_t i = 0; i < q->len; i++) {
        ck_slot *s = ck_pending_at(q, i);
        if (s->kind != CK_SLOT_REAL)
            continue;
        *killed += s->count;
        if (s->gate == CK_PROBE)
            probe = ck_slot_permit(s);
        s->kind = CK_SLOT_DEAD;
        s->gate = CK_ALLOW;
        s->ticket = 0;
        s->flags = 0;
        ck_slot_cache_release(&s->cache);
    }
    return probe;
}

bool ck_pending_owes_dead(const ck_pending *q) {
    for (uint32_t i = 0; i < q->len; i++)
        if (ck_pending_at(q, i)->kind == CK_SLOT_DEAD)
            return true;
    return false;
}

bool ck_pending_awaits_real(const ck_pending *q) {
    for (uint32_t i = 0; i < q->len; i++)
        if (ck_pending_at(q, i)->kind == CK_SLOT_REAL)
            return true;
    return false;
}

void ck_pending_free(ck_pending *q) {
    free(q->ring);
    ck_pending_init(q);
}
