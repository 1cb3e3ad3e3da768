/* Replies the shim makes up. They are built by the program's own hiredis
 * (its reader, fed RESP2 bytes), so the program frees them with
 * freeReplyObject as usual, whatever the version and allocator. */
#ifndef CACHEKIT_REPLY_H
#define CACHEKIT_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "abi.h"
#include "buf.h"
#include "command.h"

/* A fresh nil reply, or NULL when memory is short. */
void *ck_reply_nil(void);

/* A fresh reply decoded from one complete RESP2 value, or NULL. */
void *ck_reply_from_resp(const char *resp, size_t len);

/* Appends the RESP2 encoding of a reply; false when the reply holds a
 * RESP3-only type (it cannot be replayed as it was), or memory is short,
 * or the encoding would pass `limit` bytes. */
bool ck_reply_encode(const void *reply, ck_buf *out, size_t limit);

/* True when the reply tells that the server could not serve the command
 * now (an availability error such as -LOADING), which the breaker counts
 * as a failure although the transport worked. */
static inline bool ck_reply_is_unavailable(const void *reply) {
    return reply != NULL && ck_reply_type(reply) == REDIS_REPLY_ERROR &&
           ck_error_is_availability(ck_reply_str(reply), ck_reply_len(reply));
}

/* Frees this thread's reader (thread exit, process exit). */
void ck_reply_thread_cleanup(void);

#endif
