/* redisGetReply on the real functions; see get_reply.h. It follows
 * hiredis 0.14.1 and 1.2.0 (hiredis.c: redisGetReply,
 * redisNextInBandReplyFromReader, redisHandledPushReply) step for step. */
#include "get_reply.h"

#include "abi.h"
#include "guard.h"

/* The next reply parsed, past any push the context's callback takes
 * (1.x: a push is out of band, owed to no command). */
static int next_in_band(redisContext *c, void **reply) {
    for (;;) {
        if (CK_REAL_CALL(redisGetReplyFromReader, c, reply) == REDIS_ERR)
            return REDIS_ERR;
        ck_push_fn *push = *reply != NULL ? ck_ctx_push_cb(c) : NULL;
        if (push == NULL || ck_reply_type(*reply) != REDIS_REPLY_PUSH)
            return REDIS_OK;
        push(ck_ctx_privdata(c), *reply); /* the program's callback, as the program's */
    }
}

int ck_real_get_reply(redisContext *c, void **reply) {
    void *aux = NULL;
    if (next_in_band(c, &aux) == REDIS_ERR)
        return REDIS_ERR;
    if (aux == NULL && (ck_ctx_flags(c) & REDIS_BLOCK)) {
        int done = 0;
        do {
            if (CK_REAL_CALL(redisBufferWrite, c, &done) == REDIS_ERR)
                return REDIS_ERR;
        } while (!done);
        do {
            if (CK_REAL_CALL(redisBufferRead, c) == REDIS_ERR || next_in_band(c, &aux) == REDIS_ERR)
                return REDIS_ERR;
        } while (aux == NULL);
    }
    if (reply != NULL)
        *reply = aux;
    else
        CK_REAL_CALL(freeReplyObject, aux);
    return REDIS_OK;
}
