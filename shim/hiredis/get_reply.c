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
        if (ck_real.redisGetReplyFromReader(c, reply) == REDIS_ERR)
            return REDIS_ERR;
        ck_push_fn *push = *reply != NULL ? ck_ctx_push_cb(c) : NULL;
        if (push == NULL || ck_reply_type(*reply) != REDIS_REPLY_PUSH)
            return REDIS_OK;
        push(ck_ctx_privdata(c), *reply); /* (a program call from it is told apart by its caller, guard.h) */
    }
}

static int get_reply(redisContext *c, void **reply) {
    void *aux = NULL;
    if (next_in_band(c, &aux) == REDIS_ERR)
        return REDIS_ERR;
    if (aux == NULL && (ck_ctx_flags(c) & REDIS_BLOCK)) {
        int done = 0;
        do {
            if (ck_real.redisBufferWrite(c, &done) == REDIS_ERR)
                return REDIS_ERR;
        } while (!done);
        do {
            if (ck_real.redisBufferRead(c) == REDIS_ERR || next_in_band(c, &aux) == REDIS_ERR)
                return REDIS_ERR;
        } while (aux == NULL);
    }
    if (reply != NULL)
        *reply = aux;
    else
        ck_real.freeReplyObject(aux);
    return REDIS_OK;
}

/* One real call, as hiredis's own redisGetReply was: the guard is held
 * for the whole of it (push callback included, as before). */
int ck_real_get_reply(redisContext *c, void **reply) {
    __attribute__((cleanup(ck_guard_leave))) unsigned entered = ck_guard_enter();
    (void)entered;
    return get_reply(c, reply);
}
