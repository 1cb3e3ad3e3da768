/* The async API as the program sees it: commands, the event handlers its
 * loop calls, and connects (the policy is in policy/async.c). */
#include <stdarg.h>

#include "api.h"
#include "async.h"

static int command_v(redisAsyncContext *ac, redisCallbackFn *fn, void *privdata, const char *format, va_list ap) {
    va_list copy;
    va_copy(copy, ap);
    ck_call call = {.form = CK_BY_FORMAT, .format = format, .ap = &copy, .fn = fn, .privdata = privdata};
    int rc = ck_async_command(ac, &call);
    va_end(copy);
    return rc;
}

CK_EXPORT int redisvAsyncCommand(redisAsyncContext *ac, redisCallbackFn *fn, void *privdata, const char *format,
                                 va_list ap) {
    CK_ENTRY(redisvAsyncCommand, ac, REDIS_ERR);
    return command_v(ac, fn, privdata, format, ap);
}

CK_EXPORT int redisAsyncCommand(redisAsyncContext *ac, redisCallbackFn *fn, void *privdata, const char *format, ...) {
    CK_ENTRY(redisAsyncCommand, ac, REDIS_ERR);
    va_list ap;
    va_start(ap, format);
    int rc = command_v(ac, fn, privdata, format, ap);
    va_end(ap);
    return rc;
}

CK_EXPORT int redisAsyncCommandArgv(redisAsyncContext *ac, redisCallbackFn *fn, void *privdata, int argc,
                                    const char **argv, const size_t *argvlen) {
    CK_ENTRY(redisAsyncCommandArgv, ac, REDIS_ERR);
    ck_call call = {.form = CK_BY_ARGV, .argc = argc, .argv = argv, .argvlen = argvlen, .fn = fn, .privdata = privdata};
    return ck_async_command(ac, &call);
}

CK_EXPORT int redisAsyncFormattedCommand(redisAsyncContext *ac, redisCallbackFn *fn, void *privdata, const char *cmd,
                                         size_t len) {
    CK_ENTRY(redisAsyncFormattedCommand, ac, REDIS_ERR);
    ck_call call = {.form = CK_BY_FORMATTED, .cmd = cmd, .len = len, .fn = fn, .privdata = privdata};
    return ck_async_command(ac, &call);
}

CK_EXPORT void redisAsyncHandleRead(redisAsyncContext *ac) {
    CK_ENTRY(redisAsyncHandleRead, ac, );
    ck_async_handle_event(ac, ck_real.redisAsyncHandleRead);
}

CK_EXPORT void redisAsyncHandleWrite(redisAsyncContext *ac) {
    CK_ENTRY(redisAsyncHandleWrite, ac, );
    ck_async_handle_event(ac, ck_real.redisAsyncHandleWrite);
}

/* hiredis 1.x: the handlers' I/O halves, public in async.h (a program may
 * write with redisAsyncWrite right after its command: audit, its deadline
 * waited for ever on the write it never saw). hiredis's own table of
 * connection functions names them too, so its handlers reach these through
 * it: ck_async_handle_event then runs nested, once for the handler and
 * once for its half, which is harmless (every step after hiredis returns
 * may run twice; a context freed inside marks every frame). */
CK_EXPORT void redisAsyncRead(redisAsyncContext *ac) {
    CK_ENTRY(redisAsyncRead, ac, );
    ck_async_handle_event(ac, ck_real.redisAsyncRead);
}

CK_EXPORT void redisAsyncWrite(redisAsyncContext *ac) {
    CK_ENTRY(redisAsyncWrite, ac, );
    ck_async_handle_event(ac, ck_real.redisAsyncWrite);
}

CK_EXPORT redisAsyncContext *redisAsyncConnect(const char *ip, int port) {
    CK_ENTRY(redisAsyncConnect, CK_NO_CONTEXT, NULL);
    return ck_async_connect(&(ck_async_target){.form = CK_ASYNC_TCP, .recipe = {.address = (char *)ip, .port = port}});
}

CK_EXPORT redisAsyncContext *redisAsyncConnectBind(const char *ip, int port, const char *source) {
    CK_ENTRY(redisAsyncConnectBind, CK_NO_CONTEXT, NULL);
    return ck_async_connect(&(ck_async_target){
        .form = CK_ASYNC_TCP_BIND, .recipe = {.address = (char *)ip, .port = port}, .source = source});
}

CK_EXPORT redisAsyncContext *redisAsyncConnectBindWithReuse(const char *ip, int port, const char *source) {
    CK_ENTRY(redisAsyncConnectBindWithReuse, CK_NO_CONTEXT, NULL);
    return ck_async_connect(&(ck_async_target){
        .form = CK_ASYNC_TCP_BIND_REUSE, .recipe = {.address = (char *)ip, .port = port}, .source = source});
}

CK_EXPORT redisAsyncContext *redisAsyncConnectUnix(const char *path) {
    CK_ENTRY(redisAsyncConnectUnix, CK_NO_CONTEXT, NULL);
    return ck_async_connect(
        &(ck_async_target){.form = CK_ASYNC_UNIX, .recipe = {.is_unix = true, .address = (char *)path}});
}

/* 1.x: the other connects build their async context through this one,
 * which the program may also call itself; such connects are tracked, not
 * gated (the options are opaque to the shim). */
CK_EXPORT redisAsyncContext *redisAsyncConnectWithOptions(const void *options) {
    CK_ENTRY(redisAsyncConnectWithOptions, CK_NO_CONTEXT, NULL);
    redisAsyncContext *ac = CK_REAL_CALL(redisAsyncConnectWithOptions, options);
    return ck_from_program() ? ck_async_adopt(ac) : ac;
}

/* 1.x: a connect's readiness check. */
CK_EXPORT int redisCheckConnectDone(redisContext *c, int *completed) {
    CK_ENTRY(redisCheckConnectDone, c, REDIS_ERR);
    return ck_async_check_connect_done(c, completed);
}
