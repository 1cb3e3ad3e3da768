/* The shim's policy for one command (see call.h): what the breaker says,
 * what the L1 keeps or serves, what is owed to the program and in which
 * order, and what each real reply tells the breaker. A probe permit has
 * one owner at a time and leaves by exactly one of two exits: recorded
 * with an outcome (the reply of the slot it went with, or a failed
 * connect), or released (not sent, its context reset or freed). */
#include "call.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "abi.h"
#include "cache.h"
#include "clock.h"
#include "command.h"
#include "decide.h"
#include "errors.h"
#include "format.h"
#include "get_reply.h"
#include "guard.h"
#include "heal.h"
#include "log.h"
#include "real.h"
#include "reply.h"
#include "timeouts.h"

/* The site of a format call (call_site.h): what its format says,
 * remembered from the last call made with it; NULL when not remembered. */
static inline __attribute__((always_inline)) const ck_call_site *call_site(ck_call *call) {
    if (!call->site_looked_up) {
        call->site = ck_call_site_of(call->format);
        call->site_looked_up = true;
    }
    return call->site;
}

/* A format whose first word is interpolated ("%s %s") is expanded once
 * here; the expansion then replaces the format (*expanded is set, for the
 * caller to free). The name is read from it only when asked (name not
 * NULL). */
__attribute__((noinline)) static bool expand_format(ck_call *call, char **expanded, const char **name, size_t *len) {
    va_list copy;
    va_copy(copy, *call->ap);
    const ck_call_site *site = call_site(call);
    long n = call->local == NULL                   ? -1
             : site == NULL || call->spans == NULL ? ck_format_command(call->local, call->local_cap, call->format, copy)
             : site->plain ? ck_call_site_format(site, call->local, call->local_cap, copy, call->spans)
                           : -1;
    va_end(copy);
    call->spans_filled = site != NULL && call->spans != NULL && n >= 0;
    if (n >= 0) {
        call->form = CK_BY_FORMATTED;
        call->cmd = call->local;
        call->len = (size_t)n;
        return name == NULL || ck_command_name_from_resp(call->cmd, call->len, name, len);
    }
    va_copy(copy, *call->ap);
    n = CK_REAL_CALL(redisvFormatCommand, expanded, call->format, copy);
    va_end(copy);
    if (n < 0) {
        call->format_error = (int)n; /* -2: an invalid format; the real append reports it */
        return false;
    }
    call->form = CK_BY_FORMATTED;
    call->cmd = *expanded;
    call->len = (size_t)n;
    return name == NULL || ck_command_name_from_resp(call->cmd, call->len, name, len);
}

/* argv[0] of the call. */
static inline bool argv_name(const ck_call *call, const char **name, size_t *len) {
    if (call->argc < 1 || call->argv == NULL || call->argv[0] == NULL)
        return false;
    *name = call->argv[0];
    *len = call->argvlen != NULL ? call->argvlen[0] : strlen(call->argv[0]);
    return true;
}

static inline bool command_name(ck_call *call, char **expanded, const char **name, size_t *len) {
    switch (call->form) {
    case CK_BY_FORMAT:
        /* the site pays for itself with the L1 (the command's RESP and
         * keys); without it, reading the name is cheaper than the lookup */
        if (ck_cache_on && call_site(call) != NULL && call->site->name_len != 0) {
            *name = call->format; /* (the site's bytes are the format's) */
            *len = call->site->name_len;
            return true;
        }
        return (call->site == NULL && ck_command_name_from_format(call->format, name, len)) ||
               expand_format(call, expanded, name, len);
    case CK_BY_ARGV: return argv_name(call, name, len);
    case CK_BY_FORMATTED: return ck_command_name_from_resp(call->cmd, call->len, name, len);
    }
    return false;
}

/* A format of %s, %b and %% only, which hiredis accepts whatever the
 * arguments (any other is formatted once to learn whether it does). */
static inline bool format_is_plain(ck_call *call) {
    if (call_site(call) != NULL)
        return call->site->plain;
    for (const char *p = strchr(call->format, '%'); p != NULL; p = strchr(p + 2, '%'))
        if (p[1] != 's' && p[1] != 'b' && p[1] != '%')
            return false;
    return true;
}

/* The RESP bytes of the call, formatting it if it was not yet; the call
 * then carries them (*expanded is set, for the caller to free). */
static bool as_resp(ck_call *call, char **expanded) {
    int n;
    switch (call->form) {
    case CK_BY_FORMATTED: return true;
    case CK_BY_FORMAT: return *expanded != NULL || expand_format(call, expanded, NULL, NULL);
    case CK_BY_ARGV:
        n = CK_REAL_CALL(redisFormatCommandArgv, expanded, call->argc, call->argv, call->argvlen);
        if (n < 0)
            return false;
        call->form = CK_BY_FORMATTED;
        call->cmd = *expanded;
        call->len = (size_t)n;
        return true;
    }
    return false;
}

/* What a slot's reply means for the context besides its value. */
enum {
    SLOT_TXN_BEGIN = 32, /* MULTI: an error reply means no transaction... */
    SLOT_NESTED = 64,    /* ...unless it came inside one ("MULTI calls can not be nested") */
};

static void enter_session_mode(redisContext *c, ck_context_state *st, ck_command_class cls, const ck_call *call) {
    if (cls == CK_CMD_TXN_BEGIN) {
        st->in_transaction = true;
    } else if (cls == CK_CMD_TXN_END) {
        st->in_transaction = false;
    } else if (cls == CK_CMD_SUBSCRIBE) {
        st->passthrough = st->subscribed = true;
        if (call->transport->reads_block)
            ck_timeouts_lift_for_good(c, st); /* it now waits for messages */
    }
}

bool ck_open_writes_refused = true;

void ck_call_configure(const ck_config *cfg) { ck_open_writes_refused = cfg->open_writes == CK_OPEN_WRITES_ERROR; }

/* The command's name, and its table entry, looked up once, when first
 * needed (the write check and the L1 both read it). */
typedef struct {
    const char *name;
    size_t len;
    const ck_command_spec *spec;
    bool looked_up;
    const ck_call_site *site; /* the entry came from it */
} command_entry;

/* The entry of the name command_name or plain_call_name gave: the
 * site's when the name is its format's. */
static inline command_entry entry_of(const ck_call *call, const char *name, size_t len) {
    bool from_site = call->site != NULL && name == call->format;
    return (command_entry){name, len, from_site ? call->site->spec : NULL, from_site, from_site ? call->site : NULL};
}

static inline const ck_command_spec *entry_spec(command_entry *e) {
    if (!e->looked_up) {
        e->spec = ck_command_spec_of(e->name, e->len);
        e->looked_up = true;
    }
    return e->spec;
}

/* Whether a command the shim does not send would have written
 * (ck_command_would_write); a call site knows it already. */
static bool command_may_write(command_entry *e) {
    if (e->looked_up && e->site != NULL)
        return e->site->would_write;
    return ck_command_would_write(entry_spec(e), e->name, e->len);
}

static void note_batch_write(const char *cmd, size_t len, bool is_inline, void *arg) {
    bool *writes = arg;
    char resp[512];
    const char *name;
    size_t name_len;
    if (*writes)
        return;
    if (is_inline) {
        long n = ck_format_inline(resp, sizeof resp, cmd, len);
        cmd = n > 0 ? resp : NULL;
        len = n > 0 ? (size_t)n : 0;
    }
    if (cmd == NULL || !ck_command_name_from_resp(cmd, len, &name, &name_len)) {
        *writes = true;
        return;
    }
    command_entry entry = {name, name_len, NULL, false, NULL};
    *writes = command_may_write(&entry);
}

/* Whether any command of a preformatted buffer of several may write. */
static bool batch_may_write(const ck_call *call) {
    size_t count;
    bool all_data, writes = false;
    return !ck_command_batch(call->cmd, call->len, &count, &all_data, note_batch_write, &writes) || writes;
}

/* Owes, for each reply of the command, the error of a server that is down
 * (answer_refused): the program learns that it was not done. `what` is
 * "write" or the command's name, for the message. */
static int owe_refusal(redisContext *c, ck_context_state *st, const ck_call *call, const char *what, size_t what_len,
                       uint32_t replies) {
    bool owed = false;
    int rc = call->transport->file_unsent(c, call, true, &owed);
    ck_slot_cache named = {.nkeys = 0};
    named.cmd_len = what_len < 21 ? what_len : 21; /* 20 shown, "..." beyond */
    memcpy(named.inline_cmd, what, named.cmd_len);
    for (uint32_t i = 0; rc == REDIS_OK && owed && i < replies; i++)
        if (ck_pending_reserve(&st->pending))
            ck_pending_push_cached(&st->pending, CK_SLOT_REFUSED, CK_PERMIT_REJECT, 0, &named);
    return rc;
}

/* What Redis answers a HELLO that succeeds: the server's description, as
 * a map (RESP3) or a flat array (RESP2). The shim does not know the
 * server: it names none (version 0.0.0, id 0). */
static int hello_reply(char *buf, size_t cap, uint8_t protocol) {
    return snprintf(buf, cap,
                    "%s$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n0.0.0\r\n$5\r\nproto\r\n:%u\r\n"
                    "$2\r\nid\r\n:0\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
                    "$7\r\nmodules\r\n%s0\r\n",
                    protocol == 3 ? "%7\r\n" : "*14\r\n", (unsigned)protocol, protocol == 3 ? "~" : "*");
}

/* A placeholder's AUTH, HELLO, SELECT or CLIENT SETNAME while the circuit
 * is open: kept in the session (replayed in order when the placeholder
 * connects for real) and answered as Redis answers a successful one. */
static int remember_session(redisContext *c, ck_context_state *st, const ck_call *call, ck_session_kind kind) {
    if (ck_session_propose(&st->session, kind, call->cmd, call->len))
        ck_session_settle(&st->session, true);
    st->db = st->db_appended = ck_session_db(&st->session);
    st->protocol = st->protocol_appended = ck_session_protocol(&st->session);
    bool owed = false;
    int rc = call->transport->file_unsent(c, call, false, &owed);
    if (rc != REDIS_OK || !owed)
        return rc;
    char reply[256];
    int n = kind == CK_SESSION_HELLO ? hello_reply(reply, sizeof reply, st->protocol)
                                     : snprintf(reply, sizeof reply, "+OK\r\n");
    ck_slot_cache answer = {.nkeys = 0};
    answer.stale = malloc((size_t)n);
    if (answer.stale == NULL) { /* the answer cannot be kept: owed as a nil */
        ck_pending_push(&st->pending, CK_SLOT_SYNTH_NIL, CK_PERMIT_REJECT, 0);
        return REDIS_OK;
    }
    memcpy(answer.stale, reply, (size_t)n);
    answer.stale_len = (size_t)n;
    ck_pending_push_cached(&st->pending, CK_SLOT_SYNTH_SESSION, CK_PERMIT_REJECT, 0, &answer);
    return REDIS_OK;
}

/* Whether hiredis would accept the call's format (a command the shim does
 * not send is never formatted by hiredis): formats of %s, %b and %% only
 * are read as they are; any other is formatted once. False, with hiredis's
 * error on the context, when it would not. */
static bool format_accepted(redisContext *c, ck_call *call, char **expanded) {
    if (call->form != CK_BY_FORMAT || format_is_plain(call) || as_resp(call, expanded))
        return true;
    if (call->format_error == -2)
        call->transport->bad_format(c);
    else
        call->transport->no_memory(c);
    return false;
}

/* A command appended while a connect is owed waits, as RESP bytes, until
 * the connect is made (ck_call_get_reply); it fails only as hiredis's own
 * append would (an invalid format, no memory). */
static int defer_append(redisContext *c, ck_context_state *st, const ck_call *call, char **expanded) {
    ck_call *mutable_call = (ck_call *)call;
    if (!format_accepted(c, mutable_call, expanded))
        return REDIS_ERR;
    if (!as_resp(mutable_call, expanded)) {
        call->transport->no_memory(c);
        return REDIS_ERR;
    }
    if (!ck_buf_put(&st->deferred, call->cmd, call->len, SIZE_MAX)) {
        call->transport->no_memory(c);
        return REDIS_ERR;
    }
    return REDIS_OK;
}

/* What the L1 does with this command: keep a read, invalidate a write
 * (also inside MULTI, where only invalidation applies: the replies are
 * QUEUED, and EXEC's reply invalidates everything the transaction may have
 * touched). Returns the slot's L1 flags and fills `cache`. */
static uint8_t prepare_l1(ck_context_state *st, ck_command_class cls, ck_call *call, char **expanded,
                          command_entry *entry, ck_slot_cache *cache) {
    uint8_t l1 = 0;
    if (cls == CK_CMD_DATA || cls == CK_CMD_BLOCKING) {
        bool needs_resp;
        const ck_command_spec *spec = ck_cache_spec(entry_spec(entry), entry->name, entry->len, &needs_resp);
        if (spec == NULL || (needs_resp && as_resp(call, expanded))) {
            ck_key keys[CK_SITE_MAX_KEYS];
            ck_found_keys found = {keys, -1};
            if (call->spans_filled && spec != NULL)
                found.count = ck_call_site_keys(call->site, call->cmd, call->spans, keys);
            l1 = ck_cache_prepare(st, spec, call->cmd, call->len, found.count >= 0 ? &found : NULL, cache);
        }
        if (st->in_transaction) {
            st->transaction_wrote |= (l1 & CK_SLOT_L1_WRITE) != 0 || spec == NULL;
            if (l1 != 0) /* (a write of many keys has their slots on the heap) */
                ck_slot_cache_release(cache);
            l1 = 0;
        }
    } else if (cls == CK_CMD_TXN_END && st->transaction_wrote) {
        cache->nkeys = CK_SLOT_ALL_KEYS;
        cache->stale = NULL;
        cache->cmd_heap = NULL;
        l1 = CK_SLOT_L1_WRITE;
        st->transaction_wrote = false;
    }
    return l1;
}

/* Owes the program the L1's value of a read, if the L1 has a good one. */
static bool owe_stale_now(ck_context_state *st, ck_slot_cache *cache) {
    size_t len = 0;
    char *stale = ck_cache_stale(cache, &len);
    if (stale == NULL)
        return false;
    cache->stale = stale;
    cache->stale_len = len;
    ck_pending_push_cached(&st->pending, CK_SLOT_SYNTH_STALE, CK_PERMIT_REJECT, 0, cache);
    cache->stale = NULL; /* the slot owns the bytes now */
    cache->cmd_heap = NULL;
    return true;
}

static inline bool owe_stale(ck_context_state *st, uint8_t l1, ck_slot_cache *cache) {
    return (l1 & CK_SLOT_L1_READ) && owe_stale_now(st, cache);
}

/* The connection as the decision sees it. A dead one first turns what it
 * owed into DEAD replies. */
static ck_conn_state connection_state(redisContext *c, ck_context_state *st, const ck_transport *tr) {
    if (st->connect_owed)
        return CK_CONN_LIVE; /* its commands wait for the connect owed at the next read */
    if (st->placeholder)
        return CK_CONN_PLACEHOLDER;
    if (!tr->can_connect || ck_ctx_err(c) == 0)
        return CK_CONN_LIVE; /* async: hiredis frees a context whose connection broke */
    ck_context_connection_died(st, c);
    return CK_CONN_DEAD;
}

/* A preformatted buffer the program built itself may hold several
 * commands, or inline ones: each owes one reply. Data commands only are
 * handled (as writes of unknown keys); a buffer holding anything else
 * makes the context a pass-through, since its modes can no longer be
 * followed. Returns the number of replies, 0 for pass-through. */
static uint32_t replies_of_buffer(ck_context_state *st, const ck_call *call, ck_command_class *cls, bool *opaque) {
    size_t count;
    bool all_data;
    if (!ck_command_batch(call->cmd, call->len, &count, &all_data, NULL, NULL)) {
        /* incomplete (the rest may follow in another buffer) or malformed
         * (Redis answers a protocol error and closes): the commands can no
         * longer be counted */
        CK_LOG_ONCE(CK_LOG_WARN,
                    "a preformatted buffer that is not whole commands was sent to %s: that context "
                    "passes through unprotected from now on (reported once)",
                    st->endpoint->name);
        st->passthrough = true;
        return 0;
    }
    if (count == 1 && call->cmd[0] == '*')
        return 1; /* one command, as hiredis formats them */
    *opaque = true;
    if (!all_data || count > UINT32_MAX / 2) {
        CK_LOG_ONCE(CK_LOG_WARN,
                    "a preformatted buffer of several commands, not all of them data commands, was "
                    "sent to %s: that context passes through unprotected from now on (reported once)",
                    st->endpoint->name);
        st->passthrough = true;
        return 0;
    }
    *cls = CK_CMD_DATA;
    return (uint32_t)count;
}

/* SELECT, HELLO or RESET sent: what is appended after it runs there. */
static void follow_db_change(ck_context_state *st, ck_session_kind kind, const ck_call *call) {
    st->db_changes_in_flight++;
    if (st->in_transaction)
        return; /* queued: takes effect at EXEC (db_uncertain covers SELECT) */
    if (kind == CK_SESSION_SELECT)
        st->db_appended = ck_session_db_of(call->cmd, call->len);
    else if (kind == CK_SESSION_HELLO)
        st->protocol_appended = ck_session_protocol_of(call->cmd, call->len, st->protocol_appended);
    else if (kind == CK_SESSION_RESET)
        st->db_appended = 0, st->protocol_appended = 2;
}

/* Pushes the REAL slots of a command that was sent: the permit goes with
 * the first, and with it the duty to settle a probe. */
/* One command of a buffer of several, sent: its own slot, with its own
 * L1 bookkeeping (an inline command's keys are unknown: a write of
 * everything). */
typedef struct {
    ck_context_state *st;
    ck_permit permit; /* for the first slot */
    bool out_of_memory;
} batch_walk;

static void owe_batch_command(const char *cmd, size_t len, bool is_inline, void *arg) {
    batch_walk *w = arg;
    if (w->out_of_memory || !ck_pending_reserve(&w->st->pending)) {
        w->out_of_memory = true; /* fewer slots: the replies left over pass through */
        return;
    }
    ck_permit p = w->permit;
    w->permit = CK_PERMIT_ALLOW;
    ck_slot_cache cache;
    uint8_t l1 = 0;
    const char *name;
    size_t name_len;
    bool needs_resp;
    char resp[512];
    if (is_inline) { /* its RESP form, for the L1's keys */
        long n = ck_format_inline(resp, sizeof resp, cmd, len);
        cmd = n > 0 ? resp : NULL;
        len = n > 0 ? (size_t)n : 0;
    }
    if (!ck_cache_on) {
        l1 = 0;
    } else if (cmd == NULL || !ck_command_name_from_resp(cmd, len, &name, &name_len)) {
        ck_l1_bump_epoch();
        cache.nkeys = CK_SLOT_ALL_KEYS;
        cache.stale = NULL;
        cache.cmd_heap = NULL;
        l1 = CK_SLOT_L1_WRITE;
    } else {
        const ck_command_spec *spec = ck_cache_spec(ck_command_spec_of(name, name_len), name, name_len, &needs_resp);
        l1 = ck_cache_prepare(w->st, spec, cmd, len, NULL, &cache);
    }
    if (w->st->in_transaction && l1 != 0) { /* replies are QUEUED: only invalidation applies, at EXEC */
        w->st->transaction_wrote |= (l1 & CK_SLOT_L1_WRITE) != 0;
        ck_slot_cache_release(&cache);
        l1 = 0;
    }
    if (l1 != 0)
        ck_pending_push_cached(&w->st->pending, CK_SLOT_REAL, p, l1, &cache);
    else
        ck_pending_push(&w->st->pending, CK_SLOT_REAL, p, 0);
}

/* Pushes the REAL slots of a command that was sent: the permit goes with
 * the first, and with it the duty to settle a probe. */
static void owe_real(ck_context_state *st, ck_permit permit, uint8_t flags, uint8_t l1, ck_slot_cache *cache,
                     const ck_call *call, bool opaque) {
    if (opaque) {
        size_t count;
        bool all_data;
        batch_walk w = {st, permit, false};
        if (!ck_command_batch(call->cmd, call->len, &count, &all_data, owe_batch_command, &w))
            owe_batch_command(call->cmd, call->len, true, &w); /* malformed: one reply, an error */
        return;
    }
    if (l1 != 0)
        ck_pending_push_cached(&st->pending, CK_SLOT_REAL, permit, flags | l1, cache);
    else
        ck_pending_push(&st->pending, CK_SLOT_REAL, permit, flags);
}

/* A context the shim does not follow command by command: a subscriber, or
 * one that sent a buffer the shim could not split. What it sends may
 * write (except from a RESP2 subscriber, which can only subscribe): every
 * L1 entry goes. */
static int append_unfollowed(redisContext *c, const ck_context_state *st, const ck_call *call) {
    if (!(st->subscribed && st->protocol_appended != 3))
        ck_l1_bump_epoch();
    return call->transport->append(c, call);
}

/* A heal the program left by a non-local exit (an alarm's siglongjmp)
 * leaves a connection in an unknown state (a replayed command's reply
 * unread): it is marked broken, and healed again when allowed. */
static void heal_abandoned(redisContext *c, ck_context_state *st) {
    st->healing = false;
    ck_buf_release(&st->deferred); /* what waited for it is owed by a dead connection now */
    CK_REAL_CALL(__redisSetError, c, REDIS_ERR_IO, "cachekit: a reconnect was interrupted");
}

/* The probe this context's connect won, for this command to settle,
 * unless it expired and another call took it over meanwhile (this one
 * then asks the breaker anew). */
static ck_permit take_held_probe(ck_context_state *st) {
    ck_permit held = st->held_probe;
    if (held.gate != CK_PROBE)
        return CK_PERMIT_ALLOW;
    st->held_probe = CK_PERMIT_ALLOW;
    return ck_breaker_holds(&st->endpoint->breaker, held.ticket) ? held : CK_PERMIT_ALLOW;
}

/* The shim owes its own answer to a command it did not send (`unsent_write`:
 * a write, which the metrics count). */
static void answered(ck_context_state *st, const ck_transport *tr, bool unsent_write) {
    if (unsent_write && ck_metrics_on)
        ck_metrics_count(&st->endpoint->metrics.writes_unsent);
    if (tr->answered != NULL)
        tr->answered(st);
}

/* Commands appended behind the probe, on the connection that carries it,
 * go with it: they cost the server no more than the probe's round trip,
 * and the program no more wait (a frozen server fails them all at the
 * probe's timeout). Refusing them would make a program that pipelines a
 * batch (rsyslog) send the whole batch again, the probe's write twice. */
static inline bool rides_with_probe(ck_context_state *st) {
    if (__builtin_expect(st->probe_sent == 0, 1))
        return false;
    if (ck_breaker_holds(&st->endpoint->breaker, st->probe_sent))
        return true;
    st->probe_sent = 0; /* settled (or taken over): nothing rides on it any more */
    return false;
}

/* A reply the shim made, or NULL with hiredis's out-of-memory error on
 * the context when it could not be built. */
static void *made_or_no_memory(redisContext *c, void *made) {
    if (made == NULL)
        CK_REAL_CALL(__redisSetError, c, REDIS_ERR_OOM, "Out of memory");
    return made;
}

/* A reply the shim makes up: the RESP bytes given (a stale value, a
 * session command's success), or nil (NULL bytes). */
static void *made_up_reply(redisContext *c, const char *bytes, size_t len) {
    return made_or_no_memory(c, bytes != NULL ? ck_reply_from_resp(c, bytes, len) : ck_reply_nil(c));
}

/* The shim's own answer to a blocking call with nothing owed before it:
 * the L1's value, or nil, built and handed over at once (what
 * answer_synthesized gives from the queue). */
static int answer_now(redisContext *c, ck_context_state *st, uint8_t l1, const ck_slot_cache *cache, void **reply) {
    bool from_l1 = false;
    void *stale = (l1 & CK_SLOT_L1_READ) ? ck_cache_stale_reply(cache, c, &from_l1) : NULL;
    *reply = from_l1 ? made_or_no_memory(c, stale) : made_up_reply(c, NULL, 0);
    if (*reply == NULL)
        return REDIS_ERR;
    ck_metrics_count(from_l1 ? &st->endpoint->metrics.synth_stale : &st->endpoint->metrics.synth_nil);
    return REDIS_OK;
}

/* The open path (call.h): what it takes for ck_call_append's decision to
 * be ANSWER, with nothing owed before the call so that the answer is
 * handed over at once. A read outside a transaction that the breaker
 * rejects is answered on any connection (decide.h: "an open circuit
 * answers a read the same on every context") but one lost for good (made
 * from the program's descriptor: only the program can make it again). A
 * dead connection owes nothing any more: ck_call_before_command gave up
 * what it owed. */
static inline bool open_path_applies(const redisContext *c, const ck_context_state *st) {
    return !st->passthrough && !st->healing && !st->connect_owed && !st->in_transaction && !st->is_async &&
           st->refused_session == 0 && st->held_probe.gate != CK_PROBE && st->probe_sent == 0 &&
           ck_pending_empty(&st->pending) && st->endpoint->breaker.enabled &&
           (st->placeholder || ck_ctx_err(c) == 0 || ck_ctx_reconnectable(c));
}

/* The name of a call whose format needs no formatting by hiredis (only
 * %s, %b and %%, the name not interpolated), or of an argv call. */
static inline bool plain_call_name(ck_call *call, const char **name, size_t *len) {
    switch (call->form) {
    case CK_BY_FORMAT:
        if (call_site(call) != NULL) {
            *name = call->format;
            *len = call->site->name_len;
            return call->site->plain && *len != 0;
        }
        return format_is_plain(call) && ck_command_name_from_format(call->format, name, len);
    case CK_BY_ARGV: return argv_name(call, name, len);
    case CK_BY_FORMATTED: return false;
    }
    return false;
}

bool ck_call_answer_open_slow(redisContext *c, ck_context_state *st, ck_call *call, void **reply) {
    const char *name;
    size_t name_len;
    if (!open_path_applies(c, st) || !plain_call_name(call, &name, &name_len))
        return false;
    command_entry entry = entry_of(call, name, name_len);
    ck_command_class cls = entry.looked_up ? call->site->cls : ck_command_classify(name, name_len);
    if (cls != CK_CMD_DATA || command_may_write(&entry))
        return false;
    ck_permit permit = ck_endpoint_acquire(st->endpoint);
    if (permit.gate != CK_REJECT) {
        /* the breaker lets it through after all: the general path sends
         * it, with the probe this call won (take_held_probe) */
        if (permit.gate == CK_PROBE)
            st->held_probe = permit;
        return false;
    }
    ck_slot_cache cache;
    uint8_t l1 = 0;
    char *expanded = NULL;
    char local[512];
    ck_arg_span spans[CK_SITE_STEPS];
    if (ck_cache_on) {
        call->local = local;
        call->local_cap = sizeof local;
        call->spans = spans;
        l1 = prepare_l1(st, CK_CMD_DATA, call, &expanded, &entry, &cache);
    }
    if (answer_now(c, st, l1, &cache, reply) != REDIS_OK)
        *reply = NULL;
    if (l1 != 0)
        ck_slot_cache_release(&cache);
    if (expanded != NULL)
        CK_REAL_CALL(redisFreeCommand, expanded);
    return true;
}

/* A live non-blocking connection (not a placeholder, not broken) is one
 * its program may wait on (decide.h: waited_on): its commands go to Redis
 * whatever the circuit says, bounded by the deadline (driven.h); a
 * connection that fails ends, and the program's reconnect meets the
 * breaker (a placeholder while the circuit is open). */
static inline bool waited_on_by_program(const redisContext *c, const ck_context_state *st, const ck_transport *tr) {
    return __builtin_expect(!(ck_ctx_flags(c) & REDIS_BLOCK), 0) && tr->can_connect && !st->connect_owed;
}

/* The healthy path: a data command on a live connection with the circuit
 * closed and nothing in the way is sent (what ck_decide says there, with
 * permit ALLOW), without the rest of the situation being gathered. */
static inline bool healthy_send(const redisContext *c, const ck_context_state *st, const ck_transport *tr,
                                ck_command_class cls, bool opaque) {
    return __builtin_expect(cls == CK_CMD_DATA && !opaque, 1) && ck_breaker_closed(&st->endpoint->breaker) &&
           !st->connect_owed && !st->placeholder && (!tr->can_connect || ck_ctx_err(c) == 0) &&
           st->refused_session == 0 && st->held_probe.gate != CK_PROBE && st->probe_sent == 0 &&
           !ck_pending_owes_refusal(&st->pending);
}

int ck_call_append(redisContext *c, ck_context_state *st, ck_call *call) {
    const ck_transport *tr = call->transport;
    if (st == NULL)
        return tr->append(c, call);
    if (st->passthrough)
        return append_unfollowed(c, st, call);
    if (__builtin_expect(st->healing, 0))
        heal_abandoned(c, st);
    char *expanded = NULL;
    char local[512];
    call->local = local;
    call->local_cap = sizeof local;
    const char *name = "";
    size_t name_len = 0;
    ck_command_class cls = CK_CMD_DATA;
    uint32_t replies = 1;
    bool opaque = false; /* a buffer of several or inline commands */
    if (call->form == CK_BY_FORMATTED) {
        replies = replies_of_buffer(st, call, &cls, &opaque);
        if (replies == 0)
            return append_unfollowed(c, st, call);
    }
    if (!opaque) {
        if (!command_name(call, &expanded, &name, &name_len)) {
            /* a command the shim cannot name: sent as it is (hiredis
             * refuses it or not, as it would), its reply owed in its place */
            if (expanded != NULL)
                CK_REAL_CALL(redisFreeCommand, expanded);
            int rc = ck_pending_reserve(&st->pending) ? tr->append(c, call) : (tr->no_memory(c), REDIS_ERR);
            if (rc == REDIS_OK)
                ck_pending_push(&st->pending, CK_SLOT_REAL, CK_PERMIT_ALLOW, 0);
            return rc;
        }
    }
    command_entry entry = entry_of(call, name, name_len);
    if (!opaque)
        cls = entry.looked_up ? call->site->cls : ck_command_classify(name, name_len);

    /* decide */
    ck_situation situation = {.cls = cls};
    ck_session_kind session_kind = CK_SESSION_AUTH;
    bool session = false;
    ck_permit permit = CK_PERMIT_ALLOW;
    ck_action action = CK_ACT_SEND;
    if (!healthy_send(c, st, tr, cls, opaque)) {
        situation = (ck_situation){cls,
                                   connection_state(c, st, tr),
                                   st->in_transaction,
                                   false,
                                   st->endpoint->breaker.enabled,
                                   tr->can_connect,
                                   false,
                                   ck_open_writes_refused,
                                   false,
                                   false,
                                   false};
        situation.owes_dead = ck_pending_owes_refusal(&st->pending) ||
                              (situation.conn == CK_CONN_DEAD && ck_pending_owes_dead(&st->pending));
        situation.lost_for_good = situation.conn == CK_CONN_DEAD && !ck_ctx_reconnectable(c);
        situation.waited_on = waited_on_by_program(c, st, tr);
        session = !opaque && cls == CK_CMD_CONNECTION && as_resp(call, &expanded) &&
                  ck_session_kind_of(call->cmd, call->len, &session_kind);
        situation.session = session && session_kind != CK_SESSION_RESET;
        bool chooses_again = false; /* the program sends the kind of command that was refused when replayed */
        if (__builtin_expect(st->refused_session != 0, 0)) {
            chooses_again = session && session_kind + 1 == st->refused_session;
            situation.owes_dead |= !chooses_again;
        }
        bool gated = ck_decide_gated(&situation);
        permit = take_held_probe(st);
        if (permit.gate == CK_PROBE)
            ; /* settled by this command */
        else if (situation.conn == CK_CONN_PLACEHOLDER && tr->placeholder_gate != NULL)
            permit.gate = tr->placeholder_gate(st, gated);
        else if (ck_decide_needs_permit(&situation))
            permit = rides_with_probe(st) ? CK_PERMIT_ALLOW : ck_endpoint_acquire(st->endpoint);
        if (permit.gate == CK_REJECT && gated)
            situation.writes = opaque ? batch_may_write(call) : command_may_write(&entry);
        action = ck_decide(&situation, permit.gate);
        if (chooses_again && (action == CK_ACT_SEND || action == CK_ACT_CONNECT_SEND))
            st->refused_session = 0; /* its own choice goes to Redis: the connection may be made anew */
    }

    /* act */
    uint8_t flags = cls == CK_CMD_BLOCKING ? CK_SLOT_UNBOUNDED : cls == CK_CMD_TXN_BEGIN ? SLOT_TXN_BEGIN : 0;
    if (cls == CK_CMD_TXN_BEGIN && st->in_transaction)
        flags |= SLOT_NESTED;
    int rc = REDIS_OK;
    if (action != CK_ACT_SEND && action != CK_ACT_CONNECT_SEND && !format_accepted(c, call, &expanded))
        rc = REDIS_ERR; /* not sent, so hiredis never saw it: its error as hiredis's append gives it */
    ck_slot_cache cache;
    uint8_t l1 = 0;
    ck_arg_span spans[CK_SITE_STEPS];
    if (ck_cache_on && !opaque && rc == REDIS_OK && action != CK_ACT_REFUSE && action != CK_ACT_FAIL_DEAD) {
        call->spans = spans; /* (the L1 is what uses them) */
        l1 = prepare_l1(st, cls, call, &expanded, &entry, &cache);
    }
    if (session && session_kind != CK_SESSION_AUTH && session_kind != CK_SESSION_SETNAME)
        flags |= CK_SLOT_DB_CHANGE;
    if (session && (!st->in_transaction || session_kind == CK_SESSION_RESET)) /* RESET is never queued */
        flags |= CK_SLOT_SESSION;

    bool permit_passed = permit.gate != CK_PROBE; /* a probe leaves by a slot, a record, or a release */
    if (rc == REDIS_OK && !ck_pending_reserve(&st->pending)) {
        tr->no_memory(c);
        rc = REDIS_ERR;
    }
    switch (rc == REDIS_OK ? action : CK_ACT_FAIL_DEAD) {
    case CK_ACT_ANSWER: {
        if (call->answer_now != NULL && replies == 1 && ck_pending_empty(&st->pending) && !st->connect_owed) {
            rc = answer_now(c, st, l1, &cache, call->answer_now);
            answered(st, tr, situation.writes && rc == REDIS_OK);
            break;
        }
        bool owed = false;
        rc = tr->file_unsent(c, call, false, &owed);
        for (uint32_t i = 0; rc == REDIS_OK && owed && i < replies; i++)
            if ((i > 0 || !owe_stale(st, l1, &cache)) && ck_pending_reserve(&st->pending))
                ck_pending_push(&st->pending, CK_SLOT_SYNTH_NIL, CK_PERMIT_REJECT, 0);
        answered(st, tr, situation.writes && rc == REDIS_OK);
        break;
    }
    case CK_ACT_FAIL_DEAD: {
        if (rc != REDIS_OK)
            break; /* out of memory */
        if (cls == CK_CMD_TXN_END || (session && session_kind == CK_SESSION_RESET))
            st->in_transaction = false; /* the broken transaction is over */
        bool owed = false;
        rc = tr->file_unsent(c, call, true, &owed);
        for (uint32_t i = 0; rc == REDIS_OK && owed && i < replies; i++)
            if (ck_pending_reserve(&st->pending))
                ck_pending_push(&st->pending, CK_SLOT_DEAD, CK_PERMIT_ALLOW, 0);
        break;
    }
    case CK_ACT_REFUSE:
        if (cls == CK_CMD_SUBSCRIBE)
            as_resp(call, &expanded);
        if (tr->refuse_otherwise != NULL && tr->refuse_otherwise(c, st, call, name, name_len, &rc))
            break;
        rc = owe_refusal(c, st, call, situation.writes ? "write" : name, situation.writes ? 5 : name_len, replies);
        answered(st, tr, situation.writes && rc == REDIS_OK);
        break;
    case CK_ACT_REMEMBER:
        if (session_kind == CK_SESSION_HELLO && !ck_abi.reads_resp3 &&
            ck_session_protocol_of(call->cmd, call->len, 2) == 3) {
            /* hiredis 0.14 cannot read what Redis answers a HELLO 3 */
            rc = owe_refusal(c, st, call, name, name_len, replies);
            answered(st, tr, false);
            break;
        }
        rc = remember_session(c, st, call, session_kind);
        answered(st, tr, false);
        break;
    case CK_ACT_CONNECT_SEND:
        /* the connect (or heal) happens where hiredis does I/O, at the next
         * read: an append only buffers, and fails only as hiredis's would */
        if (!st->connect_owed) {
            ck_buf_release(&st->deferred);
            st->connect_owed = true;
        }
        __attribute__((fallthrough));
    case CK_ACT_SEND:
        if ((flags & CK_SLOT_SESSION) && !ck_session_propose(&st->session, session_kind, call->cmd, call->len))
            flags &= (uint8_t)~CK_SLOT_SESSION;
        rc = st->connect_owed ? defer_append(c, st, call, &expanded) : tr->append(c, call);
        if (rc != REDIS_OK) {
            if (flags & CK_SLOT_SESSION)
                ck_session_drop_proposed(&st->session);
            if (action == CK_ACT_CONNECT_SEND && st->deferred.len == 0)
                st->connect_owed = false; /* nothing waits for it */
            break;
        }
        owe_real(st, permit, flags, l1, &cache, call, opaque);
        cache.cmd_heap = NULL; /* the slot owns the copy now */
        permit_passed = true;
        if (permit.gate == CK_PROBE)
            st->probe_sent = permit.ticket;
        if (session && session_kind == CK_SESSION_RESET)
            st->in_transaction = false; /* RESET is never queued: it ends one */
        if (session && session_kind == CK_SESSION_SELECT && st->in_transaction)
            st->db_uncertain = true; /* the database after EXEC is not followed */
        if (session && session_kind == CK_SESSION_HELLO && st->in_transaction)
            st->protocol_uncertain = true; /* nor the protocol */
        if (flags & CK_SLOT_DB_CHANGE)
            follow_db_change(st, session_kind, call);
        enter_session_mode(c, st, cls, call);
        /* one reply awaited per command (a buffer of several owes each) */
        for (uint32_t i = 0; tr->sent != NULL && i < (opaque ? replies : 1); i++)
            tr->sent(st, flags);
        break;
    }
    if (!permit_passed)
        ck_endpoint_release(st->endpoint, permit);
    if (l1 != 0)
        ck_slot_cache_release(&cache); /* what was not handed to a slot */
    if (expanded != NULL)
        CK_REAL_CALL(redisFreeCommand, expanded);
    return rc;
}

void ck_call_before_command(redisContext *c, ck_context_state *st) {
    /* hiredis's redisCommand reads the front reply; on a dead connection
     * that is an error for ever. A program that sends a command of its own
     * there has given up the replies it had not read (the dead
     * connection's, and answers the shim owed on it): they are dropped, so
     * that the healed connection answers this command, and only this one. */
    if (st != NULL && !st->passthrough && ck_ctx_err(c) != 0 && !st->placeholder && !st->connect_owed) {
        ck_context_connection_died(st, c);
        if (!ck_pending_empty(&st->pending) || ck_pending_owes_refusal(&st->pending))
            ck_endpoint_release(st->endpoint, ck_pending_clear(&st->pending));
    }
}

/* Frees a reply the program will not get, as c's reader would. */
static void discard_reply(redisContext *c, void *made) {
    if (made == NULL)
        return;
    if (ck_reply_foreign(c))
        ck_reader_free_object(ck_reader_functions_of(ck_ctx_reader(c)), made);
    else
        CK_REAL_CALL(freeReplyObject, made);
}

static void hand_over(redisContext *c, void *made, void **reply) {
    if (reply != NULL)
        *reply = made;
    else
        discard_reply(c, made);
}

/* The shim's own answer: nil, the stale value, or a session command's
 * success. */
static int answer_synthesized(redisContext *c, ck_context_state *st, void **reply) {
    ck_slot *owed = ck_pending_at(&st->pending, 0);
    void *made = NULL;
    if (reply != NULL) {
        made = made_up_reply(c, owed->kind != CK_SLOT_SYNTH_NIL ? owed->cache.stale : NULL, owed->cache.stale_len);
        if (made == NULL)
            return REDIS_ERR;
    }
    if (owed->kind != CK_SLOT_SYNTH_SESSION)
        ck_metrics_count(owed->kind == CK_SLOT_SYNTH_STALE ? &st->endpoint->metrics.synth_stale
                                                           : &st->endpoint->metrics.synth_nil);
    ck_slot_cache_release(&owed->cache);
    ck_pending_pop(&st->pending);
    hand_over(c, made, reply);
    return REDIS_OK;
}

/* A reply the dead connection owed: what hiredis answers there. */
static int answer_dead(redisContext *c, ck_context_state *st) {
    ck_pending_pop(&st->pending);
    if (errno == 0)
        errno = ECONNRESET; /* no system call failed here: what a lost connection says (Ruby's driver needs one) */
    if (ck_ctx_err(c) == 0) /* not expected: the connection is healed only once nothing dead is owed */
        CK_REAL_CALL(__redisSetError, c, REDIS_ERR_IO, "cachekit: the connection that owed this reply was lost");
    return REDIS_ERR;
}

/* A command not sent because the circuit was open: what hiredis answers
 * when the server is down (NULL, the context's error set), so that no
 * program takes it for done. The context is dead for the program from
 * then on, as after any I/O error: what the connection still owed is given
 * up, and its next use heals it (or the program reconnects it). */
static int answer_refused(redisContext *c, ck_context_state *st) {
    const ck_slot *owed = ck_pending_front(&st->pending);
    char msg[128], name[CK_LOG_DATA_ROOM]; /* the name of an unlisted command is the program's data */
    ck_log_data(name, owed->cache.inline_cmd, owed->cache.cmd_len, 20);
    snprintf(msg, sizeof msg, "cachekit: circuit open for %.60s, %s not sent", st->endpoint->name, name);
    ck_pending_pop(&st->pending);
    CK_REAL_CALL(__redisSetError, c, REDIS_ERR_IO, msg);
    ck_context_connection_abandoned(st, false);
    st->told_down = true;
    /* an I/O error with no system call behind it: the errno of a server
     * that refuses (a program may raise it: Ruby's driver does) */
    errno = ECONNREFUSED;
    return REDIS_ERR;
}

/* The connect (or heal) owed since a command was appended to a
 * placeholder or a dead connection: made here, where hiredis does its I/O,
 * then what waited is appended for real. On failure the context carries
 * the connect's error, and the read that follows reports it as hiredis
 * reports a dead connection, one failed call per command lost. */
static void connect_owed(redisContext *c, ck_context_state *st) {
    st->connect_owed = false;
    ck_connect_outcome outcome = st->placeholder ? ck_heal_placeholder(c, st) : ck_heal_context(c, st);
    if (outcome == CK_CONNECTED && st->deferred.len > 0 &&
        CK_REAL_CALL(redisAppendFormattedCommand, c, st->deferred.bytes, st->deferred.len) != REDIS_OK)
        outcome = CK_CONNECT_FAILED;
    ck_buf_release(&st->deferred);
    if (outcome != CK_CONNECTED && ck_ctx_err(c) == 0)
        CK_REAL_CALL(__redisSetError, c, REDIS_ERR_OOM, "Out of memory");
    if (outcome == CK_SESSION_REFUSED)
        ck_context_connection_abandoned(st, true); /* the server answered: its replies fail, counting nothing */
}

/* A real reply settles what its command started. */
static void settle_modes(ck_context_state *st, uint8_t flags, bool ok, const void *seen) {
    bool accepted = ok && (seen == NULL || ck_reply_type(seen) != REDIS_REPLY_ERROR);
    if ((flags & SLOT_TXN_BEGIN) && ok && !accepted && !(flags & SLOT_NESTED))
        st->in_transaction = false; /* MULTI refused (not nested): no transaction */
    if ((flags & CK_SLOT_DB_CHANGE) && st->db_changes_in_flight > 0) {
        st->db_changes_in_flight--;
        if (!accepted) {
            /* what was appended behind it was keyed under a database or
             * protocol the connection never entered */
            ck_l1_bump_epoch();
            if (st->db_changes_in_flight == 0) {
                st->db_appended = st->db;
                st->protocol_appended = st->protocol;
            }
        }
    }
    if (flags & CK_SLOT_SESSION) {
        int kind = ck_session_settle(&st->session, accepted);
        if (accepted && kind == CK_SESSION_AUTH) /* what the health check authenticates with */
            ck_endpoint_keep_auth(st->endpoint, st->session.kept[CK_SESSION_AUTH].bytes,
                                  st->session.kept[CK_SESSION_AUTH].len);
        if (accepted && (kind == CK_SESSION_SELECT || kind == CK_SESSION_RESET || kind == CK_SESSION_HELLO)) {
            st->db = ck_session_db(&st->session); /* L1 entries are per database and protocol */
            st->protocol = ck_session_protocol(&st->session);
            st->db_uncertain &= kind == CK_SESSION_HELLO;
            st->protocol_uncertain &= kind == CK_SESSION_SELECT;
        }
    }
}

void ck_call_io_owed(redisContext *c, ck_context_state *st) {
    if (st->healing)
        heal_abandoned(c, st);
    if (st->connect_owed)
        connect_owed(c, st);
}

int ck_call_answer_owed(redisContext *c, ck_context_state *st, const ck_slot *front, void **reply) {
    if (front->kind == CK_SLOT_DEAD)
        return answer_dead(c, st);
    if (front->kind == CK_SLOT_REFUSED)
        return answer_refused(c, st);
    return answer_synthesized(c, st, reply);
}

int ck_call_get_reply(redisContext *c, ck_context_state *st, void **reply) {
    if (st != NULL)
        ck_call_before_io(c, st);
    const ck_slot *front = st != NULL ? ck_pending_front(&st->pending) : NULL;
    if (front == NULL)
        return CK_REAL_CALL(redisGetReply, c, reply);
    if (front->kind != CK_SLOT_REAL)
        return ck_call_answer_owed(c, st, front, reply);

    uint8_t flags = front->flags;
    /* blocking commands are neither timed nor bounded; async replies are
     * read from memory (the deadline thread bounds their wait) */
    const ck_transport *tr = st->transport != NULL ? st->transport : &ck_sync_transport;
    bool reads_block = tr->reads_block;
    bool timed = reads_block && !(flags & CK_SLOT_UNBOUNDED) && ck_timeouts_time_calls();
    bool measured = timed || (reads_block && !(flags & CK_SLOT_UNBOUNDED) && ck_metrics_on);
    uint64_t started = measured ? ck_clock_monotonic_ns() : 0;
    void *made = NULL;
    if (reads_block && (flags & CK_SLOT_UNBOUNDED))
        ck_timeouts_lift(c, st);
    else if (timed)
        ck_timeouts_before_read(c, st);
    /* a non-blocking sync context's read (watchdog.h); an async one's
     * reads are marked around the program's handler */
    bool watched = __builtin_expect(st->watch.listed, 0) && !st->is_async;
    if (watched)
        ck_timeouts_taking(st, true);
    int rc = ck_real_get_reply(c, &made);
    /* the call's latency: the read alone, not the shim's bookkeeping below */
    uint64_t elapsed = measured ? ck_clock_monotonic_ns() - started : 0;
    if (reads_block && (flags & CK_SLOT_UNBOUNDED))
        ck_timeouts_restore(c, st);
    const void *seen = made;
    if (__builtin_expect(ck_reply_foreign(c), 0)) {
        /* hiredis read the bytes itself: the shadow reader did not see
         * them; it starts again where the program's reader is idle */
        seen = NULL;
        ck_context_drop_shadow(st);
    }
    ck_call_timing timing = {.elapsed_ns = elapsed, .measured = measured, .timed = timed};
    bool none = rc == REDIS_OK && made == NULL; /* a non-blocking context's reader had no reply */
    rc = ck_call_settle_real(c, st, rc, made, seen, timing, reply);
    /* the next reply gets its own time, or none is awaited (nothing taken
     * is no progress: audit) */
    if (__builtin_expect(st->watch.listed, 0) && !st->is_async && !none)
        ck_timeouts_await_replies(c, st);
    if (watched)
        ck_timeouts_taken(c, st, none || rc != REDIS_OK);
    return rc;
}

int ck_call_settle_real(redisContext *c, ck_context_state *st, int rc, void *made, const void *seen,
                        ck_call_timing timing, void **reply) {
    if (rc == REDIS_OK && (made == NULL || (seen != NULL && ck_reply_type(seen) == REDIS_REPLY_PUSH))) {
        /* nothing read yet (non-blocking context), or a RESP3 push: owed
         * to no command */
        hand_over(c, made, reply);
        return rc;
    }
    const ck_slot *front = ck_pending_front(&st->pending);
    ck_permit permit = ck_slot_permit(front);
    uint8_t flags = front->flags;
    /* used in place after the pop below: a popped slot is overwritten only
     * by a push, and nothing here pushes */
    ck_slot_cache *cache = &ck_pending_at(&st->pending, 0)->cache;
    const ck_transport *tr = st->transport != NULL ? st->transport : &ck_sync_transport;
    ck_pending_pop(&st->pending);
    uint64_t latency;
    if (tr->reply_latency != NULL && tr->reply_latency(st, &latency) && !(flags & CK_SLOT_UNBOUNDED) &&
        (ck_metrics_on || ck_timeouts_time_calls()))
        timing = (ck_call_timing){latency, true, ck_timeouts_time_calls()}; /* blocking commands: not timed */
    if (tr->replied != NULL)
        tr->replied(st, flags, rc == REDIS_OK);
    st->connect_unproven = false; /* a call of its own told how the connect went */
    settle_modes(st, flags, rc == REDIS_OK, seen);
    bool answered = rc == REDIS_OK && !ck_reply_is_unavailable(seen);
    if (timing.measured && ck_metrics_on)
        ck_metrics_observe(&st->endpoint->metrics, timing.elapsed_ns);
    void *stale = NULL;
    if (flags & (CK_SLOT_L1_READ | CK_SLOT_L1_WRITE)) {
        bool found;
        /* stale-if-error: the last good value instead of the error (not
         * when the connection died for good: the program must see that,
         * to connect again; nor when it cannot be built) */
        if (!answered && ck_cache_stale_if_error && (flags & CK_SLOT_L1_READ) &&
            (rc == REDIS_OK || ck_ctx_reconnectable(c)))
            stale = ck_cache_stale_reply(cache, c, &found);
        ck_cache_settle(flags, cache, seen, answered);
        ck_slot_cache_release(cache);
    }
    bool slow = answered && timing.timed && ck_timeouts_after_success(st, timing.elapsed_ns);
    if (answered && !slow) {
        ck_endpoint_record(st->endpoint, permit, true, NULL); /* no system call: errno is intact */
    } else {
        int saved_errno = errno;
        char slow_cause[48];
        const char *cause = rc != REDIS_OK || seen == NULL ? ck_ctx_cause(c) : ck_reply_str(seen);
        if (slow) {
            snprintf(slow_cause, sizeof slow_cause, "slow call: %.1f ms", (double)timing.elapsed_ns / 1e6);
            cause = slow_cause;
        } else if (rc != REDIS_OK && atomic_load_explicit(&st->watch.fired, memory_order_relaxed) && !st->is_async) {
            cause = "no reply within CACHEKIT_SOCKET_TIMEOUT";
        }
        ck_endpoint_record(st->endpoint, permit, false, cause);
        errno = saved_errno;
    }
    if (rc != REDIS_OK)
        ck_context_connection_died(st, c); /* what it still owed is owed by a dead connection */
    if (stale != NULL) {
        ck_metrics_count(&st->endpoint->metrics.synth_stale);
        discard_reply(c, made);
        hand_over(c, stale, reply);
        return REDIS_OK;
    }
    if (rc == REDIS_OK)
        hand_over(c, made, reply);
    return rc;
}
