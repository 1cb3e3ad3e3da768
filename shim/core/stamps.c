/* Send times (see stamps.h). */
#include "stamps.h"

#include <stdlib.h>

static bool grow(ck_stamps *s) {
    uint32_t cap = s->cap != 0 ? s->cap * 2 : 8;
    if (cap < s->cap)
        return false;
    uint64_t *ring = malloc((size_t)cap * sizeof *ring);
    if (ring == NULL)
        return false;
    for (uint32_t i = 0; i < s->len; i++)
        ring[i] = s->ring[(s->head + i) & (s->cap - 1)];
    free(s->ring);
    s->ring = ring;
    s->cap = cap;
    s->head = 0;
    return true;
}

void ck_stamps_push(ck_stamps *s, uint64_t t) {
    if (s->len == s->cap && !grow(s)) {
        /* every reply awaited until now becomes unknown (they are older
         * than any pushed later, which pop after them) */
        s->unknown += s->len + 1;
        s->len = 0;
        return;
    }
    s->ring[(s->head + s->len) & (s->cap - 1)] = t;
    s->len++;
}

uint64_t ck_stamps_pop(ck_stamps *s) {
    if (s->unknown > 0) {
        s->unknown--;
        return 0;
    }
    if (s->len == 0)
        return 0;
    uint64_t t = s->ring[s->head];
    s->head = (s->head + 1) & (s->cap - 1);
    s->len--;
    return t;
}

void ck_stamps_clear(ck_stamps *s) { s->len = s->unknown = 0; }

void ck_stamps_free(ck_stamps *s) {
    free(s->ring);
    *s = (ck_stamps){0};
}
