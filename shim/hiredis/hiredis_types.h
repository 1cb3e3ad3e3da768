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

/* hiredis's constants as the shim knows them, under names of the shim's
 * own so that the ABI test can compare each with hiredis's headers. */
#define CK_REDIS_OK 0
#define CK_REDIS_ERR -1
#define CK_REDIS_ERR_IO 1
#define CK_REDIS_ERR_OTHER 2
#define CK_REDIS_ERR_EOF 3
#define CK_REDIS_ERR_PROTOCOL 4
#define CK_REDIS_ERR_OOM 5
#define CK_REDIS_ERR_TIMEOUT 6 /* 1.x only */
#define CK_REDIS_BLOCK 0x1
#define CK_REDIS_CONNECTED 0x2
#define CK_REDIS_IN_CALLBACK 0x10
#define CK_REDIS_REPLY_STRING 1
#define CK_REDIS_REPLY_ARRAY 2
#define CK_REDIS_REPLY_INTEGER 3
#define CK_REDIS_REPLY_NIL 4
#define CK_REDIS_REPLY_STATUS 5
#define CK_REDIS_REPLY_ERROR 6
#define CK_REDIS_REPLY_PUSH 12 /* 1.x, RESP3: out of band, owed to no command */
/* 1.x, RESP3 replies to commands */
#define CK_REDIS_REPLY_DOUBLE 7
#define CK_REDIS_REPLY_BOOL 8
#define CK_REDIS_REPLY_MAP 9
#define CK_REDIS_REPLY_SET 10
#define CK_REDIS_REPLY_ATTR 11
#define CK_REDIS_REPLY_BIGNUM 13
#define CK_REDIS_REPLY_VERB 14
#define CK_REDIS_CONN_TCP 0
#define CK_REDIS_CONN_UNIX 1
#define CK_REDIS_CONN_USERFD 2 /* 1.x; 0.14 has no such value and never reads it for async contexts */

#ifndef __HIREDIS_H /* hiredis.h itself is included only by the ABI test */
typedef struct redisContext redisContext;
typedef struct redisReader redisReader;

#define REDIS_OK CK_REDIS_OK
#define REDIS_ERR CK_REDIS_ERR
#define REDIS_ERR_IO CK_REDIS_ERR_IO
#define REDIS_ERR_OTHER CK_REDIS_ERR_OTHER
#define REDIS_ERR_EOF CK_REDIS_ERR_EOF
#define REDIS_ERR_PROTOCOL CK_REDIS_ERR_PROTOCOL
#define REDIS_ERR_OOM CK_REDIS_ERR_OOM
#define REDIS_ERR_TIMEOUT CK_REDIS_ERR_TIMEOUT
#define REDIS_BLOCK CK_REDIS_BLOCK
#define REDIS_CONNECTED CK_REDIS_CONNECTED
#define REDIS_IN_CALLBACK CK_REDIS_IN_CALLBACK
#define REDIS_REPLY_STRING CK_REDIS_REPLY_STRING
#define REDIS_REPLY_ARRAY CK_REDIS_REPLY_ARRAY
#define REDIS_REPLY_INTEGER CK_REDIS_REPLY_INTEGER
#define REDIS_REPLY_NIL CK_REDIS_REPLY_NIL
#define REDIS_REPLY_STATUS CK_REDIS_REPLY_STATUS
#define REDIS_REPLY_ERROR CK_REDIS_REPLY_ERROR
#define REDIS_REPLY_PUSH CK_REDIS_REPLY_PUSH
#define REDIS_CONN_TCP CK_REDIS_CONN_TCP
#define REDIS_CONN_UNIX CK_REDIS_CONN_UNIX
#define REDIS_CONN_USERFD CK_REDIS_CONN_USERFD
#endif
#ifndef REDIS_ERR_TIMEOUT
#define REDIS_ERR_TIMEOUT CK_REDIS_ERR_TIMEOUT /* 0.14's headers (seen by the ABI test) lack it */
#endif

/* hiredis 1.x's redisOptions, as redisConnectWithOptions reads it
 * (checked against the 1.x headers by the ABI test). */
typedef struct {
    int type;
    int options;
    const struct timeval *connect_timeout;
    const struct timeval *command_timeout;
    union {
        struct {
            const char *source_addr;
            const char *ip;
            int port;
        } tcp;
        const char *unix_socket;
        int fd;
    } endpoint;
    void *privdata;
    void (*free_privdata)(void *);
    void *push_cb;
    void *async_push_cb;
} ck_redis_options;

enum { /* REDIS_OPT_* */
       CK_REDIS_OPT_NONBLOCK = 0x01,
       CK_REDIS_OPT_REUSEADDR = 0x02,
       CK_REDIS_OPT_NOAUTOFREE = 0x04,
       CK_REDIS_OPT_NO_PUSH_AUTOFREE = 0x08,
       CK_REDIS_OPT_NOAUTOFREEREPLIES = 0x10,
       CK_REDIS_OPT_PREFER_IPV4 = 0x20,
       CK_REDIS_OPT_PREFER_IPV6 = 0x40,
};

#ifndef __HIREDIS_ASYNC_H
typedef struct redisAsyncContext redisAsyncContext;
typedef void(redisCallbackFn)(struct redisAsyncContext *, void *, void *);
#endif

#endif
