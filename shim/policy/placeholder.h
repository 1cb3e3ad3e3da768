/* Placeholders: the contexts the shim hands out, without touching the
 * network, while a circuit is open. A sync placeholder is a hiredis
 * context on no socket that the shim connects later by swapping a fresh
 * connection into it (the program holds it by address); an async one is a
 * hiredis async context built on one end of a socket pair of the shim's. */
#ifndef CACHEKIT_PLACEHOLDER_H
#define CACHEKIT_PLACEHOLDER_H

#include <stdbool.h>

#include "config.h"
#include "context.h"
#include "endpoint.h"
#include "hiredis_types.h"

void ck_placeholder_configure(const ck_config *cfg);
/* CACHEKIT_LAZY_CONNECT: a placeholder looks connected (else it carries
 * a connect error until redisReconnect) */
bool ck_placeholder_lazy(void);

/* Connects as the recipe says; a connect the program asked without a
 * timeout gets CACHEKIT_SOCKET_CONNECT_TIMEOUT. */
redisContext *ck_placeholder_connect(const ck_connect_recipe *r);
/* A sync placeholder for the recipe: usable (lazy), or carrying the
 * circuit's error. NULL when memory is short. */
redisContext *ck_placeholder_make(const ck_connect_recipe *r, ck_endpoint *ep, bool usable);
/* "cachekit: circuit open for ENDPOINT, WHAT" as the context's error. */
void ck_placeholder_set_open_error(redisContext *c, const ck_endpoint *ep, const char *what);
/* Moves the fresh connection into the program's context object and the
 * placeholder's insides into `fresh`, for freeing; fields the program set
 * on its own context (1.x privdata, push callback) stay. */
void ck_placeholder_swap_in(redisContext *mine, redisContext *fresh);

/* The async substitution: hiredis's async connects build their context
 * with one of the connect forms the shim exports (api/connect.c). The
 * async policy offers one end of a socket pair, then makes the connect;
 * the connect form, seeing the offer, builds the context on it instead of
 * connecting, and the offer is taken. */
void ck_placeholder_async_offer(int fd);
bool ck_placeholder_async_offered(void);
redisContext *ck_placeholder_async_substitute(void);
/* After the connect: whether the offer was taken (it is withdrawn). */
bool ck_placeholder_async_taken(void);

#endif
