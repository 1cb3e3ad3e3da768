/* Connects a program makes, gated by the breaker or tracked, and the
 * socket settings and free of a tracked context (see connect.c). */
#ifndef CACHEKIT_CONNECT_H
#define CACHEKIT_CONNECT_H

#include <sys/time.h>

#include "breaker.h"
#include "context.h"
#include "hiredis_types.h"

/* The endpoint a connect asks for, or the one a context reached (NULL when
 * it cannot be named or memory is short); the first of a process starts
 * its exporter. */
ck_endpoint *ck_connect_endpoint_of_recipe(const ck_connect_recipe *r);
ck_endpoint *ck_connect_endpoint_of_context(const redisContext *c);

/* A connect that won the probe passes it to the context's next command. */
void ck_connect_hold_probe(ck_context_state *st, ck_endpoint *ep, ck_permit permit);

/* redisConnect and its timeout, Unix-socket, non-blocking and options
 * forms: a placeholder while the circuit is open (or when lazy and the
 * server is down). */
redisContext *ck_connect_gated(const ck_connect_recipe *r);
/* hiredis 1.x's redisConnectWithOptions: the recipe of the options, when
 * a placeholder can stand for them (a TCP or Unix endpoint by name, no
 * source address, no option the shim does not know); false otherwise. */
bool ck_connect_options_recipe(const void *options, ck_connect_recipe *r);
/* The forms that connect as hiredis does: the context is tracked under
 * the endpoint it reached; only a failure is told to the breaker. */
redisContext *ck_connect_adopt(redisContext *c);

/* redisSetTimeout and redisEnableKeepAlive: on a placeholder, kept for its
 * connect; the program's timeout wins from then on. */
int ck_connect_set_timeout(redisContext *c, const struct timeval tv);
int ck_connect_enable_keepalive(redisContext *c);
/* Before redisFree: the context is forgotten (another thread may get a
 * new one at the same address once it is freed). */
void ck_connect_forget(redisContext *c);

#endif
