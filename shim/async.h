/* The async API's part in the shared call path (call.c) and in the
 * context life cycle (connect.c); the exported wrappers are in async.c. */
#ifndef CACHEKIT_ASYNC_H
#define CACHEKIT_ASYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "breaker.h"
#include "call.h"
#include "context.h"
#include "hiredis_types.h"

/* Sends the call for real through hiredis's async API. */
int ck_async_real_append(redisAsyncContext *ac, const ck_call *call);

/* A reply the shim will make up (stale or nil): hiredis is given the
 * callback, in order with the others, but no bytes to send; the reply
 * reaches the callback from the program's event loop. A call without a
 * callback is simply not sent. */
int ck_async_expect_unsent(redisAsyncContext *ac, const ck_call *call);

/* A placeholder never sends: it answers data commands (CK_REJECT: a
 * made-up reply) and refuses the others. Once the breaker would let a call
 * through, it is condemned, so that the program reconnects for real. */
ck_gate ck_async_placeholder_gate(ck_context_state *st, bool gated);
/* Closes a condemned placeholder's other end once nothing is owed: the
 * program's loop then reads EOF, as from a server that went away. */
void ck_async_settle_placeholder(ck_context_state *st);

/* Deadline bookkeeping: a reply is now awaited / one arrived (ok false:
 * the read failed, and the breaker has heard of it). */
void ck_async_sent(ck_context_state *st, uint8_t slot_flags);
void ck_async_replied(ck_context_state *st, uint8_t slot_flags, bool ok);

/* From redisFree, before the context's state is forgotten: a connection
 * that died with replies awaited, or never connected, is a failure. */
void ck_async_on_free(redisContext *c);

#endif
