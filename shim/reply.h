/* Replies the shim makes up. They are built by the program's own hiredis
 * (its reader, fed RESP2 bytes), so the program frees them with
 * freeReplyObject as usual, whatever the version and allocator. */
#ifndef CACHEKIT_REPLY_H
#define CACHEKIT_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "abi.h"
#include "command.h"

/* A fresh nil reply, or NULL when memory is short. */
void *ck_reply_nil(void);

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
