/* The shim's policy for one command (see call.h): what the breaker says,
 * what the L1 keeps or serves, what is owed to the program and in which
 * order, and what each real reply tells the breaker. */
#include "call.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "abi.h"
#include "async.h"
#include "cache.h"
#include "clock.h"
#include "command.h"
#include "connect.h"
#include "format.h"
#include "log.h"
#include "real.h"
#include "reply.h"
#include "timeouts.h"

static int real_append(redisContext *c, const ck_call *call) {
    if (call->is_async)
        return ck_async_real_append((redisAsyncContext *)c, call);
    switch (call->form) {
    case CK_BY_FORMAT: return CK_REAL_CALL(ck_real.redisvAppendCommand(c, call->format, *call->ap));
    case CK_BY_ARGV: return CK_REAL_CALL(ck_real.redisAppendCommandArgv(c, call->argc, call->argv, call->argvlen));
    case CK_BY_FORMATTED: return CK_REAL_CALL(ck_real.redisAppendFormattedCommand(c, call->cmd, call->len));
    }
    return REDIS_ERR;
}

/* A format whose first word is interpolated ("%s %s") is expanded once
 * here; the expansion then replaces the format (*expanded is set, for the
 * caller to free). */
__attribute__((noinline)) static bool expand_format(ck_call *call, char **expanded, const char **name,
                                                    size_t *len) {
    va_list copy;
    va_copy(copy, *call->ap);
    long n = call->local != NULL ? ck_format_command(call->local, call->local_cap, call->format, copy) : -1;
    va_end(copy);
    if (n >= 0) {
        call->form = CK_BY_FORMATTED;
        call->cmd = call->local;
        call->len = (size_t)n;
        return ck_command_name_from_resp(call->cmd, call->len, name, len);
    }
    va_copy(copy, *call->ap);
    n = ck_real.redisvFormatCommand(expanded, call->format, copy);
    va_end(copy);
    if (n < 0)
        return false; /* the real append will report the bad format */
    call->form = CK_BY_FORMATTED;
    call->cmd = *expanded;
    call->len = (size_t)n;
    return ck_command_name_from_resp(call->cmd, call->len, name, len);
}

/* argv[0] of the call. */
static inline bool command_name(ck_call *call, char **expanded, const char **name, size_t *len) {
    switch (call->form) {
    case CK_BY_FORMAT:
        return ck_command_name_from_format(call->format, name, len) || expand_format(call, expanded, name, len);
    case CK_BY_ARGV:
        if (call->argc < 1 || call->argv == NULL || call->argv[0] == NULL)
            return false;
        *name = call->argv[0];
        *len = call->argvlen != NULL ? call->argvlen[0] : strlen(call->argv[0]);
        return true;
    case CK_BY_FORMATTED: return ck_command_name_from_resp(call->cmd, call->len, name, len);
    }
    return false;
}

/* The RESP bytes of the call, formatting it if it was not yet; the call
 * then carries them (*expanded is set, for the caller to free). */
static bool as_resp(ck_call *call, char **expanded) {
    int n;
    switch (call->form) {
    case CK_BY_FORMATTED: return true;
    case CK_BY_FORMAT:
        if (*expanded == NULL) {
            const char *name;
            size_t len;
            return expand_format(call, expanded, &name, &len);
        }
        return true;
    case CK_BY_ARGV:
        n = ck_real.redisFormatCommandArgv(expanded, call->argc, call->argv, call->argvlen);
        if (n < 0)
            return false;
        call->form = CK_BY_FORMATTED;
        call->cmd = *expanded;
        call->len = (size_t)n;
        return true;
    }
    return false;
}

static void enter_session_mode(redisContext *c, ck_context_state *st, ck_command_class cls) {
    if (cls == CK_CMD_TXN_BEGIN) {
        st->in_transaction = true;
    } else if (cls == CK_CMD_TXN_END) {
        st->in_transaction = false;
    } else if (cls == CK_CMD_SUBSCRIBE) {
        st->passthrough = true;
        if (!st->is_async)
            ck_timeouts_lift_for_good(c, st); /* it now waits for messages */
    }
}

/* A command sent on a placeholder while the circuit is open: connection
 * set-up and transactions are never faked, so they fail, saying why. */
/* A write the shim answered instead of sending (commands Redis does not
 * list count as writes, as for the L1). */
static void count_unsent_write(ck_context_state *st, const char *name, size_t name_len) {
    const ck_command_spec *spec = ck_command_spec_of(name, name_len);
    if (spec == NULL || ck_command_may_write(spec))
        ck_metrics_count(&st->endpoint->metrics.writes_unsent);
}

static int refuse_unsent(redisContext *c, ck_context_state *st, const char *name, size_t name_len) {
    if (st->is_async)
        return REDIS_ERR; /* as hiredis refuses a command on a closing context: no callback, no error */
    char msg[128];
    snprintf(msg, sizeof msg, "cachekit: circuit open for %.60s; %.*s was not sent", st->endpoint->name,
             (int)(name_len > 20 ? 20 : name_len), name);
    ck_real.__redisSetError(c, REDIS_ERR_IO, msg);
    return REDIS_ERR;
}

/* What the L1 does with this command: keep a read, invalidate a write
 * (also inside MULTI, where only invalidation applies: the replies are
 * QUEUED, and EXEC's reply invalidates everything the transaction may have
 * touched). Returns the slot's L1 flags and fills `cache`. */
static uint8_t prepare_l1(ck_context_state *st, ck_command_class cls, ck_call *call, char **expanded,
                          const char *name, size_t name_len, ck_slot_cache *cache) {
    uint8_t l1 = 0;
    if (cls == CK_CMD_DATA || cls == CK_CMD_BLOCKING) {
        bool needs_resp;
        const ck_command_spec *spec = ck_cache_spec(name, name_len, &needs_resp);
        if (spec == NULL || (needs_resp && as_resp(call, expanded)))
            l1 = ck_cache_prepare(st, spec, call->cmd, call->len, cache);
        if (st->in_transaction) {
            st->transaction_wrote |= (l1 & CK_SLOT_L1_WRITE) != 0 || spec == NULL;
            l1 = 0;
        }
    } else if (cls == CK_CMD_TXN_END && st->transaction_wrote) {
        memset(cache, 0, sizeof *cache);
        cache->nkeys = CK_SLOT_ALL_KEYS;
        l1 = CK_SLOT_L1_WRITE;
        st->transaction_wrote = false;
    }
    return l1;
}

/* Owes the program the L1's value of a read, if the L1 has a good one. */
static bool owe_stale(ck_context_state *st, uint8_t l1, ck_slot_cache *cache) {
    size_t len = 0;
    char *stale = (l1 & CK_SLOT_L1_READ) ? ck_cache_stale(cache, &len) : NULL;
    if (stale == NULL)
        return false;
    cache->stale = stale;
    cache->stale_len = len;
    ck_pending_push_cached(&st->pending, CK_SLOT_SYNTH_STALE, CK_REJECT, 0, cache);
    return true;
}

int ck_call_append(redisContext *c, ck_context_state *st, ck_call *call) {
    if (st == NULL || st->passthrough)
        return real_append(c, call);
    char *expanded = NULL;
    char local[512];
    call->local = local;
    call->local_cap = sizeof local;
    const char *name;
    size_t name_len;
    if (!command_name(call, &expanded, &name, &name_len))
        return real_append(c, call);

    ck_command_class cls = ck_command_classify(name, name_len);
    /* Transactions, connection set-up and pub/sub are never faked: only
     * data commands outside MULTI are answered by the shim while open. A
     * context that must connect first (a placeholder, or a broken one the
     * shim can heal) asks the breaker for that connect whatever the
     * command. */
    bool gated = (cls == CK_CMD_DATA || cls == CK_CMD_BLOCKING) && !st->in_transaction;
    bool must_connect = !call->is_async && !st->in_transaction && st->endpoint->breaker.enabled &&
                        (st->placeholder || (ck_ctx_err(c) != 0 && !ck_pending_awaits_real(&st->pending)));
    ck_gate gate = CK_ALLOW;
    if (st->holds_probe) { /* the probe this context's connect won: this command settles it */
        st->holds_probe = false;
        gate = CK_PROBE;
    } else if (call->is_async && st->placeholder) { /* connected to nothing: it only answers or refuses */
        gate = ck_async_placeholder_gate(st, gated);
    } else if (gated || must_connect) {
        gate = ck_endpoint_acquire(st->endpoint);
    }

    uint8_t flags = cls == CK_CMD_BLOCKING ? CK_SLOT_UNBOUNDED : 0;
    ck_slot_cache cache;
    uint8_t l1 = ck_cache_on ? prepare_l1(st, cls, call, &expanded, name, name_len, &cache) : 0;
    ck_session_kind session_kind = CK_SESSION_AUTH;
    if (cls == CK_CMD_CONNECTION && !st->in_transaction && as_resp(call, &expanded) &&
        ck_session_kind_of(call->cmd, call->len, &session_kind))
        flags |= CK_SLOT_SESSION;

    int rc;
    if (!ck_pending_reserve(&st->pending)) {
        if (!call->is_async)
            ck_real.__redisSetError(c, 5 /* REDIS_ERR_OOM */, "Out of memory");
        rc = REDIS_ERR;
    } else if (gate == CK_REJECT && gated) {
        /* an async reply is owed only to a callback, which hiredis must
         * know of (in order with the others) for the reply to reach it */
        rc = call->is_async ? ck_async_expect_unsent((redisAsyncContext *)c, call)
                            : REDIS_OK;
        if (rc == REDIS_OK && (!call->is_async || call->fn != NULL) && !owe_stale(st, l1, &cache))
            ck_pending_push(&st->pending, CK_SLOT_SYNTH_NIL, gate, 0);
        if (rc == REDIS_OK && ck_metrics_on)
            count_unsent_write(st, name, name_len);
        if (call->is_async)
            ck_async_settle_placeholder(st);
    } else if (gate == CK_REJECT && st->placeholder) {
        rc = refuse_unsent(c, st, name, name_len);
    } else {
        if (must_connect && gate != CK_REJECT) {
            /* a failed connect is the call's outcome; once connected, the
             * command's own outcome is */
            rc = st->placeholder ? ck_connect_placeholder(c, st, gate) : ck_context_heal(c, st, gate);
            if (rc != REDIS_OK) {
                gate = CK_ALLOW; /* settled */
                if (ck_cache_stale_if_error && owe_stale(st, l1, &cache))
                    rc = REDIS_OK; /* stale-if-error: the connect failed, the last good value answers */
                goto done;
            }
        }
        if ((flags & CK_SLOT_SESSION) && !ck_session_propose(&st->session, session_kind, call->cmd, call->len))
            flags &= (uint8_t)~CK_SLOT_SESSION;
        rc = real_append(c, call);
        if (rc == REDIS_OK) {
            if (l1 != 0)
                ck_pending_push_cached(&st->pending, CK_SLOT_REAL, gate, flags | l1, &cache);
            else
                ck_pending_push(&st->pending, CK_SLOT_REAL, gate, flags);
            enter_session_mode(c, st, cls);
            if (call->is_async)
                ck_async_sent(st, flags);
        } else if (flags & CK_SLOT_SESSION) {
            ck_session_drop_proposed(&st->session);
        }
    }
done:
    if (rc != REDIS_OK && gate == CK_PROBE)
        ck_endpoint_release_probe(st->endpoint);
    if (expanded != NULL)
        ck_real.redisFreeCommand(expanded);
    return rc;
}

static void hand_over(void *made, void **reply) {
    if (reply != NULL)
        *reply = made;
    else if (made != NULL)
        ck_real.freeReplyObject(made);
}

int ck_call_get_reply(redisContext *c, ck_context_state *st, void **reply) {
    const ck_slot *front = st != NULL ? ck_pending_front(&st->pending) : NULL;
    if (front == NULL)
        return CK_REAL_CALL(ck_real.redisGetReply(c, reply));

    if (front->kind != CK_SLOT_REAL) { /* the shim's own answer: nil, or the stale value */
        ck_slot *owed = ck_pending_at(&st->pending, 0);
        void *made = NULL;
        if (reply != NULL) {
            made = owed->kind == CK_SLOT_SYNTH_STALE ? ck_reply_from_resp(owed->cache.stale, owed->cache.stale_len)
                                                      : ck_reply_nil();
            if (made == NULL)
                return REDIS_ERR;
        }
        ck_metrics_count(owed->kind == CK_SLOT_SYNTH_STALE ? &st->endpoint->metrics.synth_stale
                                                           : &st->endpoint->metrics.synth_nil);
        free(owed->cache.stale);
        owed->cache.stale = NULL;
        ck_pending_pop(&st->pending);
        hand_over(made, reply);
        return REDIS_OK;
    }

    ck_gate gate = (ck_gate)front->gate;
    uint8_t flags = front->flags;
    ck_slot_cache cache;
    if (flags & (CK_SLOT_L1_READ | CK_SLOT_L1_WRITE))
        cache = front->cache; /* the slot is gone once popped */
    /* blocking commands are neither timed nor bounded; async replies are
     * read from memory (the deadline thread bounds their wait) */
    bool sync = !st->is_async;
    bool timed = sync && !(flags & CK_SLOT_UNBOUNDED) && ck_timeouts_time_calls();
    bool measured = timed || (sync && !(flags & CK_SLOT_UNBOUNDED) && ck_metrics_on);
    uint64_t started = measured ? ck_clock_monotonic_ns() : 0;
    void *made = NULL;
    if (sync && (flags & CK_SLOT_UNBOUNDED))
        ck_timeouts_lift(c, st);
    else if (timed)
        ck_timeouts_before_read(c, st);
    int rc = CK_REAL_CALL(ck_real.redisGetReply(c, &made));
    /* the call's latency: the read alone, not the shim's bookkeeping below */
    uint64_t elapsed = measured ? ck_clock_monotonic_ns() - started : 0;
    if (sync && (flags & CK_SLOT_UNBOUNDED))
        ck_timeouts_restore(c, st);
    if (rc == REDIS_OK && made == NULL) { /* non-blocking context: nothing read yet */
        hand_over(NULL, reply);
        return rc;
    }
    ck_pending_pop(&st->pending);
    if (!sync)
        ck_async_replied(st, flags, rc == REDIS_OK);
    if (flags & CK_SLOT_SESSION) {
        int kind = ck_session_settle(&st->session, rc == REDIS_OK && ck_reply_type(made) != REDIS_REPLY_ERROR);
        if (kind == CK_SESSION_SELECT || kind == CK_SESSION_RESET)
            st->db = ck_session_db(&st->session); /* L1 entries are per database */
    }
    bool answered = rc == REDIS_OK && !ck_reply_is_unavailable(made);
    if (measured && ck_metrics_on)
        ck_metrics_observe(&st->endpoint->metrics, elapsed);
    void *stale = NULL;
    if (flags & (CK_SLOT_L1_READ | CK_SLOT_L1_WRITE)) {
        size_t stale_len;
        char *bytes = !answered && ck_cache_stale_if_error && (flags & CK_SLOT_L1_READ)
                          ? ck_cache_stale(&cache, &stale_len)
                          : NULL;
        if (bytes != NULL) /* stale-if-error: the last good value instead of the error */
            stale = ck_reply_from_resp(bytes, stale_len);
        free(bytes);
        ck_cache_settle(flags, &cache, made, answered);
    }
    bool slow = answered && timed && ck_timeouts_after_success(st, elapsed);
    if (answered && !slow) {
        ck_endpoint_record(st->endpoint, gate, true, NULL); /* no system call: errno is intact */
    } else {
        int saved_errno = errno;
        char slow_cause[48];
        const char *cause = rc != REDIS_OK ? ck_ctx_errstr(c) : ck_reply_str(made);
        if (slow) {
            snprintf(slow_cause, sizeof slow_cause, "slow call: %.1f ms", (double)elapsed / 1e6);
            cause = slow_cause;
        }
        ck_endpoint_record(st->endpoint, gate, false, cause);
        errno = saved_errno;
    }
    if (stale != NULL) {
        ck_metrics_count(&st->endpoint->metrics.synth_stale);
        if (made != NULL)
            ck_real.freeReplyObject(made);
        hand_over(stale, reply);
        return REDIS_OK;
    }
    if (rc == REDIS_OK)
        hand_over(made, reply);
    return rc;
}

__attribute__((noinline, cold)) bool ck_call_unusable(const void *c, const char *function) {
    if (!ck_real_ready())
        return ck_hiredis_missing(function);
    if (c == NULL)
        CK_LOG_ONCE(CK_LOG_WARN, "%s called with a NULL context; returning an error instead of crashing (reported once)",
                    function);
    return c == NULL;
}
