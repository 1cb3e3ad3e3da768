/* The async API's policy (see async.c): commands through the shared call
 * path with the async transport, the event handlers, connects (gated, with
 * a socket-pair placeholder while the circuit is open, or tracked) and
 * what a freed context tells the breaker. */
#ifndef CACHEKIT_ASYNC_H
#define CACHEKIT_ASYNC_H

#include <stdbool.h>

#include "call.h"
#include "context.h"
#include "hiredis_types.h"

extern const ck_transport ck_async_transport;

int ck_async_command(redisAsyncContext *ac, ck_call *call);

/* redisAsyncHandleRead/Write: runs `real` (hiredis's handler), then the
 * callbacks of replies the shim owes. */
void ck_async_handle_event(redisAsyncContext *ac, void (*real)(redisAsyncContext *));

typedef enum { CK_ASYNC_TCP, CK_ASYNC_TCP_BIND, CK_ASYNC_TCP_BIND_REUSE, CK_ASYNC_UNIX } ck_async_form;

typedef struct {
    ck_async_form form;
    ck_connect_recipe recipe;
    const char *source; /* bind forms */
} ck_async_target;

/* The redisAsyncConnect family, gated by the breaker. */
redisAsyncContext *ck_async_connect(const ck_async_target *t);
/* A context connected by a form the shim does not gate (1.x options):
 * tracked, a failure told to the breaker. */
redisAsyncContext *ck_async_adopt(redisAsyncContext *ac);
/* 1.x: a placeholder's socket pair is connected from birth. */
int ck_async_check_connect_done(redisContext *c, int *completed);

/* From redisFree, before the context's state is forgotten: a connection
 * that died with replies awaited, or never connected, is a failure. */
void ck_async_on_free(redisContext *c);

#endif
