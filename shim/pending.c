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

void ck_pending_push_slot(ck_pending *q, ck_slot_kind kind, ck_gate gate, uint8_t flags,
                          const ck_slot_cache *cache) {
    *ck_pending_at(q, q->len) = (ck_slot){.kind = (uint8_t)kind, .gate = (uint8_t)gate, .flags = flags, .count = 1};
    if (cache != NULL) {
        ck_pending_at(q, q->len)->cache = *cache;
        ck_pending_at(q, q->len)->count = 1;
    }
    q->len++;
}

void ck_pending_pop_slot(ck_pending *q) {
    if (q->len == 0)
        return;
    q->head = (q->head + 1) & (q->cap - 1);
    q->len--;
}

bool ck_pending_clear(ck_pending *q) {
    bool had_probe = false;
    for (uint32_t i = 0; i < q->len; i++) {
        had_probe |= ck_pending_at(q, i)->gate == CK_PROBE;
        free(ck_pending_at(q, i)->cache.stale);
        ck_pending_at(q, i)->cache.stale = NULL;
    }
    q->head = 0;
    q->len = 0;
    return had_probe;
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
