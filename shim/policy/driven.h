/* Programs that drive the I/O themselves. They append commands, then call
 * redisBufferWrite, redisBufferRead and redisGetReplyFromReader in a loop
 * of their own (Ruby's hiredis driver; event loops built on a sync
 * context): the three calls hiredis's redisGetReply is made of. Each does
 * its part of the sync path, on the same queue of owed replies:
 *
 *   ck_driven_flush (redisBufferWrite): makes the connect a placeholder
 *       owes, then writes; once the output is out, the replies awaited on
 *       a non-blocking context get a deadline (the deadline thread shuts
 *       the socket down when it passes, as for async contexts);
 *   ck_driven_fill (redisBufferRead): reads nothing while the front
 *       answer is the shim's own; a read that fails is the front call's
 *       failure, counted by the breaker;
 *   ck_driven_take_reply (redisGetReplyFromReader): the shim's own
 *       answer when the front slot is one (stale value, nil, a refused
 *       write's error), else the reader's next reply, settled as any real
 *       reply (breaker, L1, metrics).
 *
 * hiredis's own calls to these functions (inside redisGetReply, or an
 * async handler) never come here. */
#ifndef CACHEKIT_DRIVEN_H
#define CACHEKIT_DRIVEN_H

#include "call.h"

int ck_driven_flush(redisContext *c, ck_context_state *st, int *done);
int ck_driven_fill(redisContext *c, ck_context_state *st);
int ck_driven_take_reply(redisContext *c, ck_context_state *st, void **reply);

/* The state that applies to a driven call: a sync context the shim
 * manages, called by the program. */
static inline ck_context_state *ck_driven_state(redisContext *c) {
    ck_context_state *st = ck_call_state(c);
    return st != NULL && !st->is_async ? st : NULL;
}

#endif
