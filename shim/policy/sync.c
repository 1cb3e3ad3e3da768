/* The sync transport (call.h): a blocking or non-blocking context whose
 * replies the program reads with redisGetReply; the shim can connect and
 * heal it in place. */
#include "abi.h"
#include "call.h"
#include "guard.h"

static int sync_append(redisContext *c, const ck_call *call) {
    switch (call->form) {
    case CK_BY_FORMAT: return CK_REAL_CALL(redisvAppendCommand, c, call->format, *call->ap);
    case CK_BY_ARGV: return CK_REAL_CALL(redisAppendCommandArgv, c, call->argc, call->argv, call->argvlen);
    case CK_BY_FORMATTED: return CK_REAL_CALL(redisAppendFormattedCommand, c, call->cmd, call->len);
    }
    return REDIS_ERR;
}

/* The reply will be read with redisGetReply like any other. */
static int sync_file_unsent(redisContext *c, const ck_call *call, bool failing, bool *owed) {
    (void)c, (void)call, (void)failing;
    *owed = true;
    return REDIS_OK;
}

static void sync_no_memory(redisContext *c) { CK_REAL_CALL(__redisSetError, c, REDIS_ERR_OOM, "Out of memory"); }
static void sync_bad_format(redisContext *c) {
    CK_REAL_CALL(__redisSetError, c, REDIS_ERR_OTHER, "Invalid format string");
}

const ck_transport ck_sync_transport = {
    .can_connect = true,
    .reads_block = true,
    .append = sync_append,
    .file_unsent = sync_file_unsent,
    .no_memory = sync_no_memory,
    .bad_format = sync_bad_format,
};
