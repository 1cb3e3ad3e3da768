/* The slice of hiredis's API the shim needs, declared here rather than
 * taken from <hiredis/hiredis.h>: one binary serves hiredis 0.14 and 1.x,
 * whose headers disagree on struct layouts, so every struct stays opaque
 * and field access goes through abi.h. Only C-level signatures matter for
 * interposition, and these are identical in both versions. */
#ifndef CACHEKIT_HIREDIS_TYPES_H
#define CACHEKIT_HIREDIS_TYPES_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/time.h>

#ifndef __HIREDIS_H /* hiredis.h itself is included only by the ABI test */
typedef struct redisContext redisContext;
typedef struct redisReader redisReader;

#define REDIS_OK 0
#define REDIS_ERR -1

#define REDIS_ERR_IO 1
#define REDIS_ERR_OTHER 2

#define REDIS_BLOCK 0x1
#define REDIS_CONNECTED 0x2
#define REDIS_IN_CALLBACK 0x10

#define REDIS_REPLY_STRING 1
#define REDIS_REPLY_ARRAY 2
#define REDIS_REPLY_INTEGER 3
#define REDIS_REPLY_NIL 4
#define REDIS_REPLY_STATUS 5
#define REDIS_REPLY_ERROR 6
#define REDIS_REPLY_PUSH 12 /* 1.x, RESP3: out of band, owed to no command */

#define REDIS_ERR_OOM 5

#define REDIS_CONN_TCP 0
#define REDIS_CONN_UNIX 1
#define REDIS_CONN_USERFD 2 /* 1.x; 0.14 has no such value and never reads it for async contexts */
#endif
#ifndef REDIS_ERR_TIMEOUT
#define REDIS_ERR_TIMEOUT 6 /* 1.x only: 0.14's headers (seen by the ABI test) lack it */
#endif

#ifndef __HIREDIS_ASYNC_H
typedef struct redisAsyncContext redisAsyncContext;
typedef void(redisCallbackFn)(struct redisAsyncContext *, void *, void *);
#endif

#endif
