/* The sync command API as the program sees it: every form of sending a
 * command becomes one ck_call (call.h), appended and then, for a blocking
 * context, answered, exactly as hiredis composes redisCommand out of
 * redisAppendCommand and redisGetReply; pipelines and single calls share one
 * path. */
#include <stdarg.h>

#include "abi.h"
#include "call.h"
#include "real.h"

#define CK_EXPORT __attribute__((visibility("default")))

/* ------------------------------------------------- the sync transport */

static int sync_append(redisContext *c, const ck_call *call) {
    switch (call->form) {
    case CK_BY_FORMAT: return CK_REAL_CALL(ck_real.redisvAppendCommand(c, call->format, *call->ap));
    case CK_BY_ARGV: return CK_REAL_CALL(ck_real.redisAppendCommandArgv(c, call->argc, call->argv, call->argvlen));
    case CK_BY_FORMATTED: return CK_REAL_CALL(ck_real.redisAppendFormattedCommand(c, call->cmd, call->len));
    }
    return REDIS_ERR;
}

/* The reply will be read with redisGetReply like any other. */
static int sync_file_unsent(redisContext *c, const ck_call *call, bool failing, bool *owed) {
    (void)c, (void)call, (void)failing;
    *owed = true;
    return REDIS_OK;
}

static void sync_no_memory(redisContext *c) { ck_real.__redisSetError(c, REDIS_ERR_OOM, "Out of memory"); }
static void sync_bad_format(redisContext *c) { ck_real.__redisSetError(c, REDIS_ERR_OTHER, "Invalid format string"); }

const ck_transport ck_sync_transport = {
    .can_connect = true,
    .reads_block = true,
    .append = sync_append,
    .file_unsent = sync_file_unsent,
    .no_memory = sync_no_memory,
    .bad_format = sync_bad_format,
};

/* ------------------------------------------------------ the wrappers */

static void *run_command(redisContext *c, ck_call *call) {
    ck_context_state *st = ck_call_state(c);
    ck_call_before_command(c, st);
    if (ck_call_append(c, st, call) != REDIS_OK)
        return NULL;
    /* as hiredis: only a blocking context waits for the reply */
    if (!(ck_ctx_flags(c) & REDIS_BLOCK))
        return NULL;
    void *reply = NULL;
    return ck_call_get_reply(c, st, &reply) == REDIS_OK ? reply : NULL;
}

/* The variadic and va_list forms share these; an exported function calling
 * another exported one would go through the PLT. */
static void *command_v(redisContext *c, const char *format, va_list ap, const char *function) {
    if (!ck_call_usable(c, function))
        return NULL;
    va_list copy;
    va_copy(copy, ap);
    ck_call call = {.form = CK_BY_FORMAT, .format = format, .ap = &copy, .transport = &ck_sync_transport};
    void *reply = run_command(c, &call);
    va_end(copy);
    return reply;
}

static int append_v(redisContext *c, const char *format, va_list ap, const char *function) {
    if (!ck_call_usable(c, function))
        return REDIS_ERR;
    va_list copy;
    va_copy(copy, ap);
    ck_call call = {.form = CK_BY_FORMAT, .format = format, .ap = &copy, .transport = &ck_sync_transport};
    int rc = ck_call_append(c, ck_call_state(c), &call);
    va_end(copy);
    return rc;
}

CK_EXPORT void *redisvCommand(redisContext *c, const char *format, va_list ap) {
    return command_v(c, format, ap, __func__);
}

CK_EXPORT void *redisCommand(redisContext *c, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    void *reply = command_v(c, format, ap, __func__);
    va_end(ap);
    return reply;
}

CK_EXPORT void *redisCommandArgv(redisContext *c, int argc, const char **argv, const size_t *argvlen) {
    if (!ck_call_usable(c, __func__))
        return NULL;
    ck_call call = {.form = CK_BY_ARGV, .argc = argc, .argv = argv, .argvlen = argvlen, .transport = &ck_sync_transport};
    return run_command(c, &call);
}

CK_EXPORT int redisvAppendCommand(redisContext *c, const char *format, va_list ap) {
    return append_v(c, format, ap, __func__);
}

CK_EXPORT int redisAppendCommand(redisContext *c, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    int rc = append_v(c, format, ap, __func__);
    va_end(ap);
    return rc;
}

CK_EXPORT int redisAppendCommandArgv(redisContext *c, int argc, const char **argv, const size_t *argvlen) {
    if (!ck_call_usable(c, __func__))
        return REDIS_ERR;
    ck_call call = {.form = CK_BY_ARGV, .argc = argc, .argv = argv, .argvlen = argvlen, .transport = &ck_sync_transport};
    return ck_call_append(c, ck_call_state(c), &call);
}

CK_EXPORT int redisAppendFormattedCommand(redisContext *c, const char *cmd, size_t len) {
    if (!ck_call_usable(c, __func__))
        return REDIS_ERR;
    ck_call call = {.form = CK_BY_FORMATTED, .cmd = cmd, .len = len, .transport = &ck_sync_transport};
    return ck_call_append(c, ck_call_state(c), &call);
}

CK_EXPORT int redisGetReply(redisContext *c, void **reply) {
    if (!ck_call_usable(c, __func__))
        return REDIS_ERR;
    return ck_call_get_reply(c, ck_call_state(c), reply);
}
