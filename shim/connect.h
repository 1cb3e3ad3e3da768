/* Connecting the placeholder contexts that the shim hands out while a
 * circuit is open (see connect.c). */
#ifndef CACHEKIT_CONNECT_H
#define CACHEKIT_CONNECT_H

#include "breaker.h"
#include "config.h"
#include "context.h"
#include "hiredis_types.h"

void ck_connect_configure(const ck_config *cfg);

/* Connects a placeholder for real, in place. A failure goes to the breaker
 * under `gate`; a success is settled by the command that follows.
 * REDIS_OK when the context is connected. */
int ck_connect_placeholder(redisContext *c, ck_context_state *st, ck_gate gate);

/* Reconnects a context whose connection broke, in place, and replays the
 * session the program had built on it (AUTH, HELLO, SELECT, CLIENT
 * SETNAME). A failure goes to the breaker under `gate`; on success the
 * command that follows settles the call. */
int ck_context_heal(redisContext *c, ck_context_state *st, ck_gate gate);

#endif
