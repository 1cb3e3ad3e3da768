/* Connecting in place (see heal.h). A context is healed from inside the
 * call that needs it, so the replay of the session is bounded by the
 * socket timeout from its first byte, and a reconnect left by a non-local
 * exit is noticed (context.h, healing). */
#include "heal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "abi.h"
#include "connect.h"
#include "errors.h"
#include "guard.h"
#include "log.h"
#include "placeholder.h"
#include "reply.h"
#include "timeouts.h"

static ck_connect_outcome replay_session(redisContext *c, ck_context_state *st);

ck_connect_outcome ck_heal_placeholder(redisContext *c, ck_context_state *st) {
    /* the reply functions the program put on its reader (Ruby's driver)
     * stay; the session is replayed with hiredis's own, which the shim reads */
    ck_reader_functions program = ck_reader_functions_of(ck_ctx_reader(c));
    /* connected with a bound, even when the program asked not to block:
     * its session is replayed before the program's commands */
    ck_connect_recipe how = st->recipe;
    how.nonblock = false;
    redisContext *fresh = ck_placeholder_connect(&how);
    if (fresh == NULL) {
        CK_REAL_CALL(__redisSetError, c, REDIS_ERR_OOM, "Out of memory");
        return CK_CONNECT_FAILED;
    }
    ck_placeholder_swap_in(c, fresh);
    if (st->own_end.fd >= 0 && !ck_still_owned(&st->own_end))
        ck_ctx_forget_fd(fresh); /* the number is another file now (a forked child closed it) */
    CK_REAL_CALL(redisFree, fresh);
    st->own_end = ck_own(-1);
    ck_let_go(&st->peer);
    st->placeholder = false;
    if (ck_ctx_connected(c) && st->recipe.has_command_timeout)
        CK_REAL_CALL(redisSetTimeout, c, st->recipe.command_timeout);
    if (ck_ctx_connected(c) && st->recipe.keepalive)
        CK_REAL_CALL(redisEnableKeepAlive, c);
    ck_timeouts_after_connect(c, st);
    ck_connect_outcome outcome = ck_ctx_connected(c) ? replay_session(c, st) : CK_CONNECT_FAILED;
    ck_reader_set_functions(ck_ctx_reader(c), program);
    if (st->recipe.nonblock && ck_ctx_connected(c)) { /* as the program asked, from now on */
        int fl = fcntl(ck_ctx_fd(c), F_GETFL);
        if (fl >= 0)
            fcntl(ck_ctx_fd(c), F_SETFL, fl | O_NONBLOCK);
        ck_ctx_clear_flags(c, REDIS_BLOCK);
    }
    if (outcome == CK_CONNECTED)
        ck_metrics_count(&st->endpoint->metrics.reconnects);
    return outcome;
}

int ck_heal_reconnect(redisContext *c, ck_context_state *st) {
    ck_context_reset(st); /* whatever was owed is dropped with the old connection */
    ck_permit permit = ck_endpoint_acquire(st->endpoint);
    if (permit.gate == CK_REJECT) {
        if (st->placeholder && ck_placeholder_lazy() &&
            !atomic_exchange_explicit(&st->endpoint->program_gave_up, false, memory_order_relaxed)) {
            ck_ctx_clear_error(c); /* one a refused command left */
            return REDIS_OK;       /* it stays a usable placeholder */
        }
        ck_placeholder_set_open_error(c, st->endpoint, "not reconnecting");
        return REDIS_ERR;
    }
    if (st->placeholder) {
        ck_connect_outcome outcome = ck_heal_placeholder(c, st);
        if (outcome == CK_CONNECTED)
            ck_connect_hold_probe(st, st->endpoint, permit);
        else if (outcome == CK_SESSION_REFUSED)
            ck_endpoint_release(st->endpoint, permit); /* the server answered: nothing for the breaker */
        else
            ck_endpoint_record(st->endpoint, permit, false, ck_ctx_cause(c));
        return outcome == CK_CONNECTED ? REDIS_OK : REDIS_ERR;
    }
    ck_session_clear(&st->session); /* the program rebuilds its session itself */
    st->db = st->db_appended = 0;
    st->protocol = st->protocol_appended = 2;
    int rc = CK_REAL_CALL(redisReconnect, c);
    int saved_errno = errno;
    if (st->program_timeout && !ck_timeouts_is_set(ck_ctx_command_timeout(c))) {
        /* hiredis 0.14 forgets the program's timeout when the program
         * reconnects (1.x puts it back): as without the shim, it is gone,
         * and the shim's own bounds the new socket instead */
        st->program_timeout = false;
        st->recipe.has_command_timeout = false;
    }
    if (rc == REDIS_OK && ck_ctx_connected(c))
        ck_connect_hold_probe(st, st->endpoint, permit);
    else
        ck_endpoint_record(st->endpoint, permit, false, ck_ctx_cause(c));
    ck_timeouts_after_connect(c, st);
    errno = saved_errno;
    return rc;
}

/* Sends one stored session command on a fresh connection. A refused AUTH
 * or CLIENT SETNAME is logged and dropped from the session: nothing more
 * is made up, and Redis answers what follows as on a connection where
 * that command failed (NOAUTH, or nothing at all for an AUTH to a server
 * without a password). A refused SELECT or HELLO is different: what
 * follows would run in another database or protocol than the program
 * chose (also after the program authenticates again), so the context
 * reports the refusal as its error until the program chooses again
 * (context.h, refused_session). */
static ck_connect_outcome replay(redisContext *c, ck_context_state *st, ck_session_kind kind) {
    const ck_session_command *cmd = &st->session.kept[kind];
    void *reply = NULL;
    if (CK_REAL_CALL(redisAppendFormattedCommand, c, cmd->bytes, cmd->len) != REDIS_OK ||
        CK_REAL_CALL(redisGetReply, c, &reply) != REDIS_OK || reply == NULL)
        return CK_CONNECT_FAILED;
    ck_connect_outcome outcome = CK_CONNECTED;
    if (ck_reply_type(reply) == REDIS_REPLY_ERROR) {
        bool fatal = kind == CK_SESSION_SELECT || kind == CK_SESSION_HELLO;
        char msg[128], quoted[CK_LOG_DATA_ROOM];
        ck_log_data(quoted, ck_reply_str(reply), ck_reply_len(reply), 48);
        snprintf(msg, sizeof msg, "cachekit: %s failed when replayed on connecting to %.40s: %s",
                 ck_session_kind_name(kind), st->endpoint->name, quoted);
        ck_log(CK_LOG_WARN, "%s%s", msg + strlen("cachekit: "),
               fatal ? "; the context reports it as its error" : "; going on without it");
        ck_session_forget(&st->session, kind);
        if (fatal) {
            CK_REAL_CALL(__redisSetError, c, REDIS_ERR_OTHER, msg);
            st->refused_session = (uint8_t)(kind + 1);
            outcome = CK_SESSION_REFUSED;
        }
    }
    CK_REAL_CALL(freeReplyObject, reply);
    return outcome;
}

/* Puts back, on a fresh connection, the session the program built. */
static ck_connect_outcome replay_session(redisContext *c, ck_context_state *st) {
    for (int k = 0; k < CK_SESSION_KINDS; k++) {
        if (st->session.kept[k].bytes == NULL)
            continue;
        ck_connect_outcome outcome = replay(c, st, (ck_session_kind)k);
        if (outcome != CK_CONNECTED)
            return outcome;
    }
    return CK_CONNECTED;
}

ck_connect_outcome ck_heal_context(redisContext *c, ck_context_state *st) {
    st->healing = true;
    ck_reader_functions program = ck_reader_functions_of(ck_ctx_reader(c)); /* as in ck_heal_placeholder */
    int rc = CK_REAL_CALL(redisReconnect, c);
    /* bounded from the first byte: the replay must not wait for ever on a
     * server that accepted the connection and froze */
    ck_timeouts_after_connect(c, st);
    ck_connect_outcome outcome = rc == REDIS_OK ? replay_session(c, st) : CK_CONNECT_FAILED;
    ck_reader_set_functions(ck_ctx_reader(c), program);
    st->healing = false;
    if (outcome != CK_CONNECTED)
        return outcome;
    ck_metrics_count(&st->endpoint->metrics.reconnects);
    char restored[64];
    ck_session_describe(&st->session, restored, sizeof restored);
    ck_log(CK_LOG_INFO, "reconnected a broken context of %s%s%s", st->endpoint->name, restored[0] ? "; restored " : "",
           restored);
    return CK_CONNECTED;
}
