/* The send times of the replies a connection awaits, oldest first: an
 * async call's latency is its reply's arrival minus its send, and replies
 * come in the order the commands went. A ring that grows by doubling;
 * when memory is short it forgets what it held and says so (the calls
 * then in flight go unmeasured), never blocks or fails the call. */
#ifndef CACHEKIT_STAMPS_H
#define CACHEKIT_STAMPS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t *ring;
    uint32_t cap, head, len;
    uint32_t unknown; /* replies awaited whose send time was lost: they pop nothing */
} ck_stamps;

/* A command was sent at t. */
void ck_stamps_push(ck_stamps *s, uint64_t t);
/* The oldest reply came: its send time, or 0 when not known. */
uint64_t ck_stamps_pop(ck_stamps *s);
/* Nothing is awaited any more (the connection ended or was reset). */
void ck_stamps_clear(ck_stamps *s);
void ck_stamps_free(ck_stamps *s);

#endif
