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

bool ck_buf_put(ck_buf *b, const void *bytes, size_t len, size_t limit) {
    if (!reserve(b, len, limit))
        return false;
    memcpy(b->bytes + b->len, bytes, len);
    b->len += len;
    return true;
}

bool ck_buf_printf(ck_buf *b, size_t limit, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line)
        return false;
    return ck_buf_put(b, line, (size_t)n, limit);
}
