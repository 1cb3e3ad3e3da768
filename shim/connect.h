/* Connecting the placeholder contexts that the shim hands out while a
 * circuit is open (see connect.c). */
#ifndef CACHEKIT_CONNECT_H
#define CACHEKIT_CONNECT_H

#include "breaker.h"
#include "config.h"
#include "context.h"
#include "hiredis_types.h"

void ck_connect_configure(const ck_config *cfg);

/* The endpoint a connect asks for, or the one a context reached; NULL
 * when it cannot be named or memory is short. */
ck_endpoint *ck_connect_endpoint_of_recipe(const ck_connect_recipe *r);
ck_endpoint *ck_connect_endpoint_of_context(const redisContext *c);

/* The connect failed because the server is not there (refused, timed out,
 * unreachable, its socket file gone), not through the program's mistake. */
bool ck_connect_failed_for_unavailability(const redisContext *c, bool is_unix);

/* A connect that won the probe passes it to the context's next command. */
void ck_connect_hold_probe(ck_context_state *st, ck_endpoint *ep, ck_permit permit);

/* Set by the async connects around hiredis's own connect, which then
 * builds an async placeholder on this descriptor (-1: connect for real). */
extern __thread int ck_async_placeholder_fd __attribute__((tls_model("initial-exec")));

typedef enum {
    CK_CONNECTED,
    CK_CONNECT_FAILED,  /* the server was not reached (or memory ran out): the context carries the error */
    CK_SESSION_REFUSED, /* reached, but it refused the SELECT or HELLO replayed: the context carries that */
} ck_connect_outcome;

/* Connects a placeholder for real, in place, and replays the session the
 * program set up on it meanwhile. The caller tells the breaker: a failed
 * connect by the replies it costs, a success by the reply of the command
 * that follows; a refused session says nothing of the server's health. */
ck_connect_outcome ck_connect_placeholder(redisContext *c, ck_context_state *st);

/* Reconnects a context whose connection broke, in place, and replays the
 * session the program had built on it (AUTH, HELLO, SELECT, CLIENT
 * SETNAME). As above for the outcome. */
ck_connect_outcome ck_context_heal(redisContext *c, ck_context_state *st);

#endif
