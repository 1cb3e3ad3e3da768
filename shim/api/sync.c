/* The sync command API as the program sees it: every form of sending a
 * command becomes one ck_call (policy/call.h), appended and then, for a
 * blocking context, answered, exactly as hiredis composes redisCommand out
 * of redisAppendCommand and redisGetReply; pipelines and single calls
 * share one path. */
#include <stdarg.h>

#include "abi.h"
#include "api.h"
#include "call.h"
#include "driven.h"

static void *run_command(redisContext *c, ck_call *call) {
    ck_context_state *st = ck_call_state(c);
    ck_call_before_command(c, st);
    /* as hiredis: only a blocking context waits for the reply */
    bool blocking = ck_ctx_flags(c) & REDIS_BLOCK;
    void *reply = NULL;
    if (blocking && ck_call_answer_open(c, st, call, &reply))
        return reply;
    call->answer_now = blocking ? &reply : NULL;
    if (ck_call_append(c, st, call) != REDIS_OK || !blocking)
        return NULL;
    if (reply != NULL)
        return reply; /* the shim's own answer */
    return ck_call_get_reply(c, st, &reply) == REDIS_OK ? reply : NULL;
}

/* The variadic and va_list forms share these; an exported function calling
 * another exported one would go through the PLT. */
static void *command_v(redisContext *c, const char *format, va_list ap) {
    va_list copy;
    va_copy(copy, ap);
    ck_call call = {.form = CK_BY_FORMAT, .format = format, .ap = &copy, .transport = &ck_sync_transport};
    void *reply = run_command(c, &call);
    va_end(copy);
    return reply;
}

static int append_v(redisContext *c, const char *format, va_list ap) {
    va_list copy;
    va_copy(copy, ap);
    ck_call call = {.form = CK_BY_FORMAT, .format = format, .ap = &copy, .transport = &ck_sync_transport};
    int rc = ck_call_append(c, ck_call_state(c), &call);
    va_end(copy);
    return rc;
}

static ck_call by_argv(int argc, const char **argv, const size_t *argvlen) {
    return (ck_call){
        .form = CK_BY_ARGV, .argc = argc, .argv = argv, .argvlen = argvlen, .transport = &ck_sync_transport};
}

CK_EXPORT void *redisvCommand(redisContext *c, const char *format, va_list ap) {
    CK_ENTRY(redisvCommand, c, NULL);
    return command_v(c, format, ap);
}

CK_EXPORT void *redisCommand(redisContext *c, const char *format, ...) {
    CK_ENTRY(redisCommand, c, NULL);
    va_list ap;
    va_start(ap, format);
    void *reply = command_v(c, format, ap);
    va_end(ap);
    return reply;
}

CK_EXPORT void *redisCommandArgv(redisContext *c, int argc, const char **argv, const size_t *argvlen) {
    CK_ENTRY(redisCommandArgv, c, NULL);
    ck_call call = by_argv(argc, argv, argvlen);
    return run_command(c, &call);
}

CK_EXPORT int redisvAppendCommand(redisContext *c, const char *format, va_list ap) {
    CK_ENTRY(redisvAppendCommand, c, REDIS_ERR);
    return append_v(c, format, ap);
}

CK_EXPORT int redisAppendCommand(redisContext *c, const char *format, ...) {
    CK_ENTRY(redisAppendCommand, c, REDIS_ERR);
    va_list ap;
    va_start(ap, format);
    int rc = append_v(c, format, ap);
    va_end(ap);
    return rc;
}

CK_EXPORT int redisAppendCommandArgv(redisContext *c, int argc, const char **argv, const size_t *argvlen) {
    CK_ENTRY(redisAppendCommandArgv, c, REDIS_ERR);
    ck_call call = by_argv(argc, argv, argvlen);
    return ck_call_append(c, ck_call_state(c), &call);
}

CK_EXPORT int redisAppendFormattedCommand(redisContext *c, const char *cmd, size_t len) {
    CK_ENTRY(redisAppendFormattedCommand, c, REDIS_ERR);
    ck_call call = {.form = CK_BY_FORMATTED, .cmd = cmd, .len = len, .transport = &ck_sync_transport};
    return ck_call_append(c, ck_call_state(c), &call);
}

CK_EXPORT int redisGetReply(redisContext *c, void **reply) {
    CK_ENTRY(redisGetReply, c, REDIS_ERR);
    return ck_call_get_reply(c, ck_call_state(c), reply);
}

/* The calls redisGetReply is made of, for programs that drive the I/O
 * themselves (policy/driven.h). hiredis's own redisGetReply makes them
 * through its PLT on every sync call: those go straight to the real
 * function, before any of CK_ENTRY's bookkeeping (inside a real call,
 * hiredis is resolved). */
#define CK_HIREDIS_OWN_CALL(fn, ...)                                                                                   \
    if (__builtin_expect(ck_guard.depth != 0, 1) && ck_real_owns_code(__builtin_return_address(0)))                    \
    return ck_real.fn(__VA_ARGS__)

CK_EXPORT int redisBufferWrite(redisContext *c, int *done) {
    CK_HIREDIS_OWN_CALL(redisBufferWrite, c, done);
    CK_ENTRY(redisBufferWrite, c, REDIS_ERR);
    ck_context_state *st = ck_driven_state(c);
    return st != NULL ? ck_driven_flush(c, st, done) : CK_REAL_CALL(redisBufferWrite, c, done);
}

CK_EXPORT int redisBufferRead(redisContext *c) {
    CK_HIREDIS_OWN_CALL(redisBufferRead, c);
    CK_ENTRY(redisBufferRead, c, REDIS_ERR);
    ck_context_state *st = ck_driven_state(c);
    return st != NULL ? ck_driven_fill(c, st) : CK_REAL_CALL(redisBufferRead, c);
}

CK_EXPORT int redisGetReplyFromReader(redisContext *c, void **reply) {
    CK_HIREDIS_OWN_CALL(redisGetReplyFromReader, c, reply);
    CK_ENTRY(redisGetReplyFromReader, c, REDIS_ERR);
    ck_context_state *st = ck_driven_state(c);
    return st != NULL ? ck_driven_take_reply(c, st, reply) : CK_REAL_CALL(redisGetReplyFromReader, c, reply);
}
