/* A growable byte buffer. It may start in the caller's storage (CK_BUF_ON:
 * no allocation for small contents) and moves to the heap when it outgrows
 * it; every append is bounded by a limit the caller gives, so no input can
 * make it grow without bound. Pure. */
#ifndef CACHEKIT_BUF_H
#define CACHEKIT_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *bytes;
    size_t len, cap;
    bool on_heap;
} ck_buf;

#define CK_BUF_ON(storage) ((ck_buf){.bytes = (storage), .cap = sizeof(storage)})
#define CK_BUF_EMPTY ((ck_buf){0})

/* Frees only what the buffer allocated. */
void ck_buf_release(ck_buf *b);

/* Room for `cap` bytes in all, allocated now (false when memory is short). */
bool ck_buf_reserve(ck_buf *b, size_t cap);

/* Appends; false (and nothing appended) when memory is short or the
 * contents would pass `limit` bytes. */
bool ck_buf_put(ck_buf *b, const void *bytes, size_t len, size_t limit);
bool ck_buf_printf(ck_buf *b, size_t limit, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
