/* Connecting in place: a placeholder once the circuit lets a call through,
 * a context whose connection broke, and the program's own redisReconnect;
 * each time the session the program built (AUTH, HELLO, SELECT, CLIENT
 * SETNAME) is replayed on the fresh connection. */
#ifndef CACHEKIT_HEAL_H
#define CACHEKIT_HEAL_H

#include "context.h"
#include "hiredis_types.h"

typedef enum {
    CK_CONNECTED,
    CK_CONNECT_FAILED,  /* the server was not reached (or memory ran out): the context carries the error */
    CK_SESSION_REFUSED, /* reached, but it refused the SELECT or HELLO replayed: the context carries that */
} ck_connect_outcome;

/* Connects a placeholder for real, in place, and replays the session the
 * program set up on it meanwhile. The caller tells the breaker: a failed
 * connect by the replies it costs, a success by the reply of the command
 * that follows; a refused session says nothing of the server's health. */
ck_connect_outcome ck_heal_placeholder(redisContext *c, ck_context_state *st);

/* Reconnects a context whose connection broke, in place, and replays the
 * session. As above for the outcome. */
ck_connect_outcome ck_heal_context(redisContext *c, ck_context_state *st);

/* redisReconnect of a context the shim tracks: gated by the breaker (while
 * open a lazy placeholder stays a usable placeholder, anything else gets
 * the circuit's error), a placeholder connected in place. */
int ck_heal_reconnect(redisContext *c, ck_context_state *st);

#endif
