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

/* From redisFree, before the context's state is forgotten: a connection
 * that died with replies awaited, or never connected, is a failure. */
void ck_async_on_free(redisContext *c);

#endif
