/* The connect family, redisReconnect, the socket settings and redisFree,
 * as the program sees them (the policy is in policy/connect.c, heal.c and
 * placeholder.c). */
#include <errno.h>

#include "api.h"
#include "async.h"
#include "call.h"
#include "connect.h"
#include "heal.h"
#include "placeholder.h"

CK_EXPORT redisContext *redisConnect(const char *ip, int port) {
    CK_ENTRY(redisConnect, CK_NO_CONTEXT, NULL);
    return ck_connect_gated(&(ck_connect_recipe){.address = (char *)ip, .port = port});
}

CK_EXPORT redisContext *redisConnectWithTimeout(const char *ip, int port, const struct timeval tv) {
    CK_ENTRY(redisConnectWithTimeout, CK_NO_CONTEXT, NULL);
    return ck_connect_gated(
        &(ck_connect_recipe){.address = (char *)ip, .port = port, .has_timeout = true, .timeout = tv});
}

CK_EXPORT redisContext *redisConnectUnix(const char *path) {
    CK_ENTRY(redisConnectUnix, CK_NO_CONTEXT, NULL);
    return ck_connect_gated(&(ck_connect_recipe){.is_unix = true, .address = (char *)path});
}

CK_EXPORT redisContext *redisConnectUnixWithTimeout(const char *path, const struct timeval tv) {
    CK_ENTRY(redisConnectUnixWithTimeout, CK_NO_CONTEXT, NULL);
    return ck_connect_gated(
        &(ck_connect_recipe){.is_unix = true, .address = (char *)path, .has_timeout = true, .timeout = tv});
}

/* The forms that connect as hiredis does, then tracked. hiredis's async
 * connects build their context with one of them: while the async policy
 * offers a placeholder's socket-pair end, the context is built on it
 * instead (policy/placeholder.h). */
#define ADOPTED(fn, ...)                                                                                               \
    (ck_placeholder_async_offered() ? ck_placeholder_async_substitute()                                                \
                                    : ck_connect_adopt(CK_REAL_CALL(fn, __VA_ARGS__)))

/* The non-blocking forms by name are gated too, unless they build an
 * async context. */
#define GATED_NONBLOCK(...)                                                                                            \
    (ck_placeholder_async_offered() ? ck_placeholder_async_substitute()                                                \
                                    : ck_connect_gated(&(ck_connect_recipe){.nonblock = true, __VA_ARGS__}))

CK_EXPORT redisContext *redisConnectNonBlock(const char *ip, int port) {
    CK_ENTRY(redisConnectNonBlock, CK_NO_CONTEXT, NULL);
    return GATED_NONBLOCK(.address = (char *)ip, .port = port);
}

CK_EXPORT redisContext *redisConnectBindNonBlock(const char *ip, int port, const char *src) {
    CK_ENTRY(redisConnectBindNonBlock, CK_NO_CONTEXT, NULL);
    return ADOPTED(redisConnectBindNonBlock, ip, port, src);
}

CK_EXPORT redisContext *redisConnectBindNonBlockWithReuse(const char *ip, int port, const char *src) {
    CK_ENTRY(redisConnectBindNonBlockWithReuse, CK_NO_CONTEXT, NULL);
    return ADOPTED(redisConnectBindNonBlockWithReuse, ip, port, src);
}

CK_EXPORT redisContext *redisConnectUnixNonBlock(const char *path) {
    CK_ENTRY(redisConnectUnixNonBlock, CK_NO_CONTEXT, NULL);
    return GATED_NONBLOCK(.is_unix = true, .address = (char *)path);
}

CK_EXPORT redisContext *redisConnectFd(int fd) {
    CK_ENTRY(redisConnectFd, CK_NO_CONTEXT, NULL);
    return ADOPTED(redisConnectFd, fd);
}

/* hiredis 1.x builds its other connects (and async ones) on this one:
 * those calls pass through. */
CK_EXPORT redisContext *redisConnectWithOptions(const void *options) {
    CK_ENTRY(redisConnectWithOptions, CK_NO_CONTEXT, NULL);
    ck_connect_recipe recipe;
    if (ck_placeholder_async_offered() || !ck_from_program() || !ck_connect_options_recipe(options, &recipe))
        return ADOPTED(redisConnectWithOptions, options);
    return ck_connect_gated(&recipe);
}

CK_EXPORT int redisReconnect(redisContext *c) {
    CK_ENTRY(redisReconnect, c, REDIS_ERR);
    ck_context_state *st = ck_call_state(c);
    return st != NULL ? ck_heal_reconnect(c, st) : CK_REAL_CALL(redisReconnect, c);
}

CK_EXPORT int redisSetTimeout(redisContext *c, const struct timeval tv) {
    CK_ENTRY(redisSetTimeout, c, REDIS_ERR);
    return ck_connect_set_timeout(c, tv);
}

CK_EXPORT int redisEnableKeepAlive(redisContext *c) {
    CK_ENTRY(redisEnableKeepAlive, c, REDIS_ERR);
    return ck_connect_enable_keepalive(c);
}

CK_EXPORT void redisFree(redisContext *c) {
    CK_ENTRY(redisFree, CK_NO_CONTEXT, );
    /* forgotten before it is freed: once freed, another thread may get a
     * new context at the same address and register it */
    int saved_errno = errno; /* a program may report the error it freed the context for (Ruby's driver does) */
    if (c != NULL) {
        ck_async_on_free(c);
        ck_connect_forget(c);
    }
    CK_REAL_CALL(redisFree, c);
    errno = saved_errno;
}
