/* Ring buffer of run-length slots; see pending.h for why. */
#include "pending.h"

#include <stdlib.h>
#include <string.h>

void ck_pending_init(ck_pending *q) { memset(q, 0, sizeof *q); }

static ck_slot *at(const ck_pending *q, uint32_t i) { return &q->ring[(q->head + i) % q->cap]; }

bool ck_pending_reserve(ck_pending *q) {
    if (q->len < q->cap)
        return true;
    uint32_t cap = q->cap == 0 ? 8 : q->cap * 2;
    if (cap < q->cap)
        return false;
    ck_slot *ring = malloc((size_t)cap * sizeof *ring);
    if (ring == NULL)
        return false;
    for (uint32_t i = 0; i < q->len; i++)
        ring[i] = *at(q, i);
    free(q->ring);
    q->ring = ring;
    q->cap = cap;
    q->head = 0;
    return true;
}

void ck_pending_push(ck_pending *q, ck_slot_kind kind, ck_gate gate) {
    if (q->len > 0) {
        ck_slot *tail = at(q, q->len - 1);
        if (tail->kind == kind && tail->gate != CK_PROBE && gate != CK_PROBE && tail->count < UINT32_MAX) {
            tail->count++;
            return;
        }
    }
    *at(q, q->len) = (ck_slot){.kind = (uint8_t)kind, .gate = (uint8_t)gate, .count = 1};
    q->len++;
}

bool ck_pending_empty(const ck_pending *q) { return q->len == 0; }

const ck_slot *ck_pending_front(const ck_pending *q) { return q->len == 0 ? NULL : at(q, 0); }

void ck_pending_pop(ck_pending *q) {
    if (q->len == 0)
        return;
    ck_slot *front = at(q, 0);
    if (--front->count == 0) {
        q->head = (q->head + 1) % q->cap;
        q->len--;
    }
}

bool ck_pending_clear(ck_pending *q) {
    bool had_probe = false;
    for (uint32_t i = 0; i < q->len; i++)
        had_probe |= at(q, i)->gate == CK_PROBE;
    q->head = 0;
    q->len = 0;
    return had_probe;
}

void ck_pending_free(ck_pending *q) {
    free(q->ring);
    ck_pending_init(q);
}
