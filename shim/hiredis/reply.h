/* Replies the shim makes up. They are built as the program's own hiredis
 * builds its replies: simple values directly, in the loaded version's
 * layout and through its allocators; the rest by its reader (fed RESP
 * bytes); and for a program with reply functions of its own, always with
 * those. So the program frees them as usual, whatever the version,
 * allocator or reply objects. */
#ifndef CACHEKIT_REPLY_H
#define CACHEKIT_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "abi.h"
#include "buf.h"
#include "command.h"

/* A fresh nil reply, or NULL when memory is short. Built as `c`'s reader
 * builds its replies: with the program's own reply functions if it
 * replaced hiredis's (NULL: hiredis's). */
void *ck_reply_nil(const redisContext *c);

/* A fresh reply decoded from one complete RESP2 value, or NULL. */
void *ck_reply_from_resp(const redisContext *c, const char *resp, size_t len);

/* The program replaced the reply functions of c's reader (Ruby's driver
 * builds Ruby objects): its replies are not hiredis's redisReply, and the
 * shim must not read them. */
bool ck_reply_foreign_slow(const redisContext *c);
extern const void *ck_reply_hiredis_functions; /* once known (reply.c) */
static inline bool ck_reply_foreign(const redisContext *c) {
    const void *reader = ck_ctx_reader(c);
    if (reader == NULL ||
        __builtin_expect(
            ck_reader_functions_of(reader).fn == __atomic_load_n(&ck_reply_hiredis_functions, __ATOMIC_RELAXED), 1))
        return false;
    return ck_reply_foreign_slow(c);
}

/* Appends the RESP encoding of a reply, as Redis sent it (RESP3 types with
 * hiredis 1.x, whose reader parses them); false when the reply holds a
 * push or an attribute (owed to no command), or memory is short, or the
 * encoding would pass `limit` bytes. */
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
