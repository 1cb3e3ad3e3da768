/* See buf.h. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ck_buf_release(ck_buf *b) {
    if (b->on_heap)
        free(b->bytes);
    *b = CK_BUF_EMPTY;
}

static bool reserve(ck_buf *b, size_t more, size_t limit) {
    if (b->len + more > limit)
        return false;
    if (b->len + more <= b->cap)
        return true;
    size_t cap = b->cap == 0 ? 64 : b->cap;
    while (cap < b->len + more)
        cap *= 2;
    char *grown = b->on_heap ? realloc(b->bytes, cap) : malloc(cap);
    if (grown == NULL)
        return false;
    if (!b->on_heap && b->len > 0)
        memcpy(grown, b->bytes, b->len);
    b->bytes = grown;
    b->cap = cap;
    b->on_heap = true;
    return true;
}

bool ck_buf_reserve(ck_buf *b, size_t cap) { return cap <= b->len || reserve(b, cap - b->len, cap); }

bool ck_buf_put(ck_buf *b, const void *bytes, size_t len, size_t limit) {
    if (!reserve(b, len, limit))
        return false;
    memcpy(b->bytes + b->len, bytes, len);
    b->len += len;
    return true;
}

/* Formatted straight into the buffer's free room; a line longer than that
 * room grows the buffer (no fixed line length: names may be long). */
bool ck_buf_printf(ck_buf *b, size_t limit, const char *fmt, ...) {
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    size_t room = b->cap - b->len;
    int n = vsnprintf(room > 0 ? b->bytes + b->len : NULL, room, fmt, ap);
    va_end(ap);
    bool ok = n >= 0;
    if (ok && (size_t)n >= room) {
        ok = reserve(b, (size_t)n + 1, limit + 1); /* +1: the terminating NUL is not content */
        if (ok)
            vsnprintf(b->bytes + b->len, (size_t)n + 1, fmt, again);
    }
    va_end(again);
    if (!ok || b->len + (size_t)n > limit)
        return false;
    b->len += (size_t)n;
    return true;
}
