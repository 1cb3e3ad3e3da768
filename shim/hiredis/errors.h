/* What a context's error says: why a connect failed, and how a call's
 * failure is worded in a log line. */
#ifndef CACHEKIT_ERRORS_H
#define CACHEKIT_ERRORS_H

#include <stdbool.h>

#include "hiredis_types.h"

/* The context's error for a log line: a read or write that ran out of time
 * says "timed out" (hiredis reports the socket timeout's EAGAIN as
 * "Resource temporarily unavailable", 1.x some as REDIS_ERR_TIMEOUT);
 * anything else as hiredis put it. */
const char *ck_ctx_cause(const redisContext *c);

/* The connect failed because the server is not there (refused, timed out,
 * unreachable, its socket file gone), not through the program's mistake
 * (an invalid timeout, a name that does not resolve): only the former
 * says anything about the endpoint. */
bool ck_ctx_unavailable(const redisContext *c, bool is_unix);

#endif
