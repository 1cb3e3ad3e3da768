/* An endpoint is named as the program wrote it: "HOST:PORT" ("[V6]:PORT")
 * or "unix:PATH", from the connect's arguments or from the context. */
#ifndef CACHEKIT_NAMING_H
#define CACHEKIT_NAMING_H

#include "context.h"
#include "endpoint.h"
#include "hiredis_types.h"

/* The endpoint a connect asks for, or the one a context reached; NULL
 * when it cannot be named or memory is short. */
ck_endpoint *ck_endpoint_of_recipe(const ck_connect_recipe *r);
ck_endpoint *ck_endpoint_of_context(const redisContext *c);

#endif
