/* The async API: redisAsync* commands and connects, and the read/write
 * event handlers the program's event loop calls.
 *
 * Commands take the shared call path (call.c). While the circuit is open a
 * data command is not written: hiredis is handed the callback with nothing
 * to send, so the callback keeps its place among the others, and asks the
 * event loop for a write event as for any command. When that event comes
 * (redisAsyncHandleWrite below), the shim runs hiredis's own callback loop,
 * whose redisGetReply then yields the made-up reply in its turn. So a
 * callback is called exactly once, in order, from the event loop, never
 * from inside redisAsyncCommand, and the reply is freed by hiredis as any
 * other (REDIS_NO_AUTO_FREE_REPLIES included). A program that runs its own
 * loop while hiredis's callback list is not empty (Redis::Fast) is served
 * the same way, and never after it stopped waiting.
 *
 * Connects made while the circuit is open get a placeholder: an async
 * context on a socket pair of the shim's, which looks connected (its
 * connect callback says so) and answers every data command with the stale
 * value or nil. When the breaker would let a call through again, the
 * placeholder answers that call too, then closes its other end: the
 * program's loop reads EOF as from a server that went away, and the
 * program reconnects (every async program must: hiredis frees an async
 * context on any error), this time for real.
 *
 * Outcomes: replies go through the shared get_reply; a connection that
 * dies with replies awaited, or never connects, is one failure (seen when
 * hiredis frees it); the deadline thread (watchdog.c) turns a connect or a
 * reply that never comes into such a failure. */
#include "async.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "abi.h"
#include "clock.h"
#include "command.h"
#include "connect.h"
#include "errors.h"
#include "health_check.h"
#include "log.h"
#include "placeholder.h"
#include "real.h"
#include "timeouts.h"

/* ---------------------------------------------------------------- calls */

static int async_append(redisContext *c, const ck_call *call) {
    redisAsyncContext *ac = (redisAsyncContext *)c;
    switch (call->form) {
    case CK_BY_FORMAT: return CK_REAL_CALL(redisvAsyncCommand, ac, call->fn, call->privdata, call->format, *call->ap);
    case CK_BY_ARGV:
        return CK_REAL_CALL(redisAsyncCommandArgv, ac, call->fn, call->privdata, call->argc, call->argv, call->argvlen);
    case CK_BY_FORMATTED:
        return CK_REAL_CALL(redisAsyncFormattedCommand, ac, call->fn, call->privdata, call->cmd, call->len);
    }
    return REDIS_ERR;
}

/* hiredis reads a command's name to choose the list its callback joins
 * (pub/sub commands have their own), then appends `len` bytes. Any data
 * command's name with a length of 0 files the callback among the regular
 * replies and sends nothing. */
static const char unsent_command[] = "*1\r\n$3\r\nGET\r\n";

static int async_file_unsent(redisContext *c, const ck_call *call, bool failing, bool *owed) {
    /* an async reply is owed only to a callback; an error ends the
     * connection whoever waits for it */
    *owed = call->fn != NULL || failing;
    if (!*owed)
        return REDIS_OK;
    return CK_REAL_CALL(redisAsyncFormattedCommand, (redisAsyncContext *)c, call->fn, call->privdata, unsent_command,
                        0);
}

/* The confirmation Redis sends for each channel of a (P|S)SUBSCRIBE:
 * ["subscribe", channel, count], written to the placeholder's other end. */
typedef struct {
    int fd;
    const char *kind; /* "subscribe", "psubscribe", "ssubscribe" */
} confirmation;

static void confirm_channel(size_t index, const char *channel, size_t len, void *arg) {
    const confirmation *to = arg;
    if (index == 0)
        return; /* the command's name */
    char head[96];
    const char *kind = to->kind;
    int n = snprintf(head, sizeof head, "*3\r\n$%zu\r\n%s\r\n$%zu\r\n", strlen(kind), kind, len);
    char tail[32];
    int m = snprintf(tail, sizeof tail, "\r\n:%zu\r\n", index);
    struct iovec parts[3] = {{head, (size_t)n}, {(void *)channel, len}, {tail, (size_t)m}};
    /* (no SIGPIPE: the deadline thread may have shut the program's end) */
    struct msghdr msg = {.msg_iov = parts, .msg_iovlen = 3};
    if (sendmsg(to->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        CK_LOG_ONCE(CK_LOG_WARN, "could not confirm a subscription on an async placeholder: %s", strerror(errno));
}

/* Commands a placeholder can neither send nor answer fail as on a server
 * that is down: the callback gets NULL and hiredis drops the connection.
 * Subscriptions are the exception: a subscriber whose subscription fails
 * right after it reconnected (Redis::Fast) may give up for good, where
 * without the shim its reconnect would have failed and been retried. So a
 * placeholder confirms them: hiredis files the callbacks as usual, nothing
 * is published while Redis is down, and once a call may be let through
 * the placeholder ends (watchdog) and the program subscribes again on a
 * real connection. */
static bool async_refuse_otherwise(redisContext *c, const ck_context_state *st, const ck_call *call, const char *name,
                                   size_t name_len, int *rc) {
    if (!st->placeholder || !ck_still_owned(&st->peer) || call->fn == NULL || call->form != CK_BY_FORMATTED ||
        ck_command_classify(name, name_len) != CK_CMD_SUBSCRIBE ||
        (name_len == 7 && strncasecmp(name, "MONITOR", 7) == 0))
        return false;
    char kind[16];
    size_t k = name_len < sizeof kind - 1 ? name_len : sizeof kind - 1;
    for (size_t i = 0; i < k; i++)
        kind[i] = (char)(name[i] | 0x20); /* lower case, as Redis answers */
    kind[k] = '\0';
    *rc = async_append(c, call);
    if (*rc != REDIS_OK)
        return true;
    char sink[4096]; /* what hiredis wrote to the placeholder is read and dropped */
    while (read(st->peer.fd, sink, sizeof sink) > 0) {
    }
    confirmation to = {st->peer.fd, kind};
    ck_command_each_resp_arg(call->cmd, call->len, confirm_channel, &to);
    return true;
}

/* hiredis's async commands fail without an error on the context */
static void async_no_memory(redisContext *c) { (void)c; }

static ck_gate async_placeholder_gate(ck_context_state *st, bool gated) {
    if (!gated)
        return CK_REJECT; /* refused, not answered */
    ck_breaker_count_rejected(&st->endpoint->breaker);
    if (!st->condemned && ck_breaker_due(&st->endpoint->breaker, ck_clock_monotonic_ns())) {
        ck_log(CK_LOG_DEBUG, "%s may be reachable again: closing an async placeholder so the program reconnects",
               st->endpoint->name);
        st->condemned = true;
    }
    return CK_REJECT;
}

static void settle_placeholder(ck_context_state *st) {
    if (st->placeholder && st->condemned && st->peer.fd >= 0 && ck_pending_empty(&st->pending))
        ck_let_go(&st->peer);
}

/* ------------------------------------------------------------ deadlines */

/* Not while commands wait unwritten in hiredis's buffer (audit: a program
 * busy before its loop wrote them, or a large write under way, was cut):
 * their replies cannot come yet. */
static bool deadline_applies(const ck_context_state *st) {
    return st->watch.listed && !st->connecting && !st->unsent && st->awaited > 0 && st->unbounded == 0 &&
           !st->program_timeout && !st->passthrough && ck_timeouts_socket_ns() != 0;
}

/* The shim's socket timeout as a deadline with no progress: it runs from
 * the last reply (or the write of the first command awaited), like a read
 * timeout. */
static void rearm(ck_context_state *st) {
    atomic_store_explicit(&st->watch.connect_wait, false, memory_order_relaxed);
    if (deadline_applies(st))
        ck_watch_arm_replies(&st->watch, ck_clock_coarse_ns(), ck_timeouts_reply_deadline_ns(st));
    else
        ck_watch_arm(&st->watch, 0);
}

/* Only the metrics, slow-call detection and the adaptive timeout use an
 * async call's latency: without them no clock is read for it. (Settings
 * fixed at start: the ring of send times stays in step.) */
static inline bool async_timed(void) { return ck_metrics_on || ck_timeouts_time_calls(); }

static void async_sent(ck_context_state *st, uint8_t slot_flags) {
    st->awaited++;
    if (async_timed())
        ck_stamps_push(&st->sent_at, ck_clock_monotonic_ns());
    st->unsent = true; /* armed once the loop has written it (ck_async_handle_event) */
    if (slot_flags & CK_SLOT_UNBOUNDED) {
        st->unbounded++;
        ck_watch_arm(&st->watch, 0);
    }
}

static void async_replied(ck_context_state *st, uint8_t slot_flags, bool ok) {
    if (st->awaited > 0)
        st->awaited--;
    if ((slot_flags & CK_SLOT_UNBOUNDED) && st->unbounded > 0)
        st->unbounded--;
    if (!ok)
        st->failure_recorded = true;
    if (st->watch.listed)
        rearm(st);
}

/* From the send to the read event that brought the reply: not the time
 * the program's earlier callbacks took before hiredis handed it on
 * (audit: a pipeline whose callbacks work made a healthy Redis slow). */
static bool async_reply_latency(ck_context_state *st, uint64_t *elapsed_ns) {
    if (!async_timed())
        return false;
    uint64_t sent = ck_stamps_pop(&st->sent_at);
    if (sent == 0)
        return false;
    uint64_t arrived = st->read_at >= sent ? st->read_at : ck_clock_monotonic_ns();
    *elapsed_ns = arrived - sent;
    return true;
}

const ck_transport ck_async_transport = {
    .can_connect = false,
    .reads_block = false,
    .append = async_append,
    .file_unsent = async_file_unsent,
    .refuse_otherwise = async_refuse_otherwise,
    .placeholder_gate = async_placeholder_gate,
    .no_memory = async_no_memory,
    .bad_format = async_no_memory,
    .sent = async_sent,
    .replied = async_replied,
    .answered = settle_placeholder,
    .reply_latency = async_reply_latency,
};

/* ------------------------------------------------- event-loop handlers */

/* Contexts a handler of this thread is running hiredis on: hiredis may
 * free one from inside (a callback called redisAsyncFree, or the
 * connection broke), and the handler must not touch it afterwards. */
typedef struct frame {
    const void *ac;
    bool freed;
    struct frame *up;
} frame;
static __thread frame *frames;

/* Runs fn(ac); false when ac was freed meanwhile. */
static bool run_watching(redisAsyncContext *ac, void (*fn)(redisAsyncContext *)) {
    frame f = {.ac = ac, .up = frames};
    frames = &f;
    fn(ac);
    frames = f.up;
    return !f.freed;
}

void ck_async_handle_event(redisAsyncContext *ac, void (*real)(redisAsyncContext *)) {
    redisContext *c = (redisContext *)ac;
    ck_context_state *st = ck_call_state(c);
    if (st == NULL || !st->is_async) {
        real(ac);
        return;
    }
    bool reads = real == ck_real.redisAsyncHandleRead || real == ck_real.redisAsyncRead;
    if (reads && async_timed())
        st->read_at = ck_clock_monotonic_ns(); /* what this read brings arrived by now */
    if (reads && st->watch.listed)
        ck_watch_taking(&st->watch, true);
    /* not under the guard: the program's callbacks run inside, and their
     * commands are the program's */
    if (!run_watching(ac, real))
        return; /* (freed: its watch went with it) */
    if (reads && st->watch.listed)
        ck_watch_taking(&st->watch, false); /* hiredis took every whole reply */
    if (st->connecting && (ck_ctx_flags(c) & REDIS_CONNECTED)) {
        st->connecting = false;
        rearm(st);
    }
    if (st->unsent && !ck_ctx_unsent(c)) { /* the loop wrote what was queued */
        st->unsent = false;
        if (!ck_watch_armed(&st->watch))
            rearm(st);
    }
    const ck_slot *front = ck_pending_front(&st->pending);
    if (front != NULL && front->kind != CK_SLOT_REAL && (ck_ctx_flags(c) & REDIS_CONNECTED) &&
        !(ck_ctx_flags(c) & REDIS_IN_CALLBACK)) {
        /* replies the shim owes: hiredis's callback loop takes them in
         * turn through redisGetReply */
        if (!run_watching(ac, ck_real.redisProcessCallbacks))
            return;
    }
    settle_placeholder(st);
}

void ck_async_on_free(redisContext *c) {
    for (frame *f = frames; f != NULL; f = f->up)
        if (f->ac == c)
            f->freed = true;
    ck_context_state *st = ck_context_lookup(c);
    if (st == NULL || !st->is_async)
        return;
    ck_watchdog_remove(&st->watch); /* before hiredis closes the descriptor */
    if (st->placeholder) {
        /* both ends are closed by number only while still the pair's: a
         * forked child may have closed them and reused the numbers */
        ck_let_go(&st->peer);
        if (!ck_still_owned(&st->own_end))
            ck_ctx_forget_fd(c); /* else hiredis's free would close the program's file */
        return;
    }
    bool never_connected = !(ck_ctx_flags(c) & REDIS_CONNECTED);
    bool holds_probe = st->held_probe.gate == CK_PROBE;
    if (ck_ctx_err(c) == 0 || st->failure_recorded || !(st->awaited > 0 || never_connected || holds_probe))
        return; /* closed by the program, or idle when the server went (forgetting releases any probe) */
    int saved_errno = errno;
    ck_permit probe = ck_pending_clear(&st->pending);
    if (holds_probe) {
        probe = st->held_probe;
        st->held_probe = CK_PERMIT_ALLOW;
    }
    const char *cause = atomic_load_explicit(&st->watch.fired, memory_order_relaxed)
                            ? "no reply within CACHEKIT_SOCKET_TIMEOUT (async)"
                            : ck_ctx_cause(c);
    ck_endpoint_record(st->endpoint, probe, false, cause);
    errno = saved_errno;
}

/* ------------------------------------------------------------- commands */

int ck_async_command(redisAsyncContext *ac, ck_call *call) {
    call->transport = &ck_async_transport;
    return ck_call_append((redisContext *)ac, ck_call_state((redisContext *)ac), call);
}

/* ------------------------------------------------------------- connects */

static redisAsyncContext *connect_real(const ck_async_target *t) {
    const ck_connect_recipe *r = &t->recipe;
    switch (t->form) {
    case CK_ASYNC_TCP: return CK_REAL_CALL(redisAsyncConnect, r->address, r->port);
    case CK_ASYNC_TCP_BIND: return CK_REAL_CALL(redisAsyncConnectBind, r->address, r->port, t->source);
    case CK_ASYNC_TCP_BIND_REUSE: return CK_REAL_CALL(redisAsyncConnectBindWithReuse, r->address, r->port, t->source);
    case CK_ASYNC_UNIX: return CK_REAL_CALL(redisAsyncConnectUnix, r->address);
    }
    return NULL;
}

/* When a placeholder of ep should end by itself. While a health check
 * covers the circuit, never: the check thread ends it when the circuit
 * closes. But the check may be another process's (shared state) while this
 * process runs no thread (its checks are off, or the thread could not
 * start): then the placeholder looks again every second. */
#define PLACEHOLDER_RECHECK_NS 1000000000ull
static uint64_t placeholder_due(ck_endpoint *ep, uint64_t now) {
    uint64_t due = ck_breaker_next_chance_ns(&ep->breaker, now);
    if (due == UINT64_MAX && !ck_health_check_running())
        due = now + PLACEHOLDER_RECHECK_NS;
    return due;
}

/* Starts tracking a connected (or connecting) async context, or a
 * placeholder whose other end is peer_fd. */
static redisAsyncContext *track(redisAsyncContext *ac, ck_endpoint *ep, ck_permit permit, int peer_fd) {
    redisContext *c = (redisContext *)ac;
    ck_context_state *st = ck_context_register(c, ep);
    if (st == NULL) {
        if (peer_fd >= 0)
            close(peer_fd); /* a placeholder the shim cannot serve: the program sees it close */
        else
            ck_endpoint_release(ep, permit);
        return ac;
    }
    st->is_async = true;
    st->transport = &ck_async_transport;
    st->peer = ck_own(peer_fd);
    st->own_end = ck_own(peer_fd >= 0 ? ck_ctx_fd(c) : -1);
    if (peer_fd >= 0) {
        st->placeholder = true;
        /* A program that only waits (a subscriber whose SUBSCRIBE was
         * refused) sends nothing that would end the placeholder: the
         * deadline thread ends it once a call may be let through again,
         * and the program reconnects for real. Never sooner than 100 ms
         * from now, so a program that reconnects at once cannot spin. */
        uint64_t now = ck_clock_monotonic_ns();
        uint64_t due = placeholder_due(ep, now);
        st->watch.placeholder = true;
        st->watch.read_side = true; /* the program may still write to it: no SIGPIPE */
        ck_watchdog_add(&st->watch, ck_ctx_fd(c), ep->name);
        ck_watch_arm(&st->watch, due > now + 100000000u ? due : now + 100000000u);
        /* A health check that closed the circuit between the read of
         * `due` and the arm missed this watch (audit): read again once
         * armed. The check closes, then ends the armed placeholders; the
         * fences order this arm before that read, and that close before
         * its walk, so one of the two sees the other. */
        atomic_thread_fence(memory_order_seq_cst);
        uint64_t again = placeholder_due(ep, now);
        if (again < due)
            ck_watch_arm(&st->watch, again > now + 100000000u ? again : now + 100000000u);
        return ac;
    }
    st->program_timeout = ck_timeouts_is_set(ck_ctx_command_timeout(c));
    st->connecting = !(ck_ctx_flags(c) & REDIS_CONNECTED);
    ck_connect_hold_probe(st, ep, permit);
    if (ck_timeouts_socket_ns() != 0 || ck_timeouts_connect_ns() != 0) {
        /* Only the reading side is shut down: hiredis keeps a connected
         * context's reads armed, so its loop sees the end, and an event
         * loop that writes before it reads (it found the socket writable
         * first) gets no SIGPIPE. A connect under way ends either way. */
        st->watch.read_side = true;
        ck_watchdog_add(&st->watch, ck_ctx_fd(c), ep->name);
        if (st->connecting && ck_timeouts_connect_ns() != 0) {
            atomic_store_explicit(&st->watch.connect_wait, true, memory_order_relaxed);
            ck_watch_arm(&st->watch, ck_clock_coarse_ns() + ck_timeouts_connect_ns());
        }
    }
    return ac;
}

/* hiredis's connect builds the context; the shim has it built on one end
 * of a socket pair instead (placeholder.h). *peer_fd is the other end, or
 * -1 when that could not be done, and then the connect was a real one. */
static redisAsyncContext *connect_placeholder(const ck_async_target *t, int *peer_fd, bool *attempted) {
    int fds[2];
    *peer_fd = -1;
    *attempted = false;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
        CK_LOG_ONCE(CK_LOG_WARN, "no socket pair for an async placeholder (%s); connecting for real", strerror(errno));
        return NULL;
    }
    *attempted = true;
    ck_placeholder_async_offer(fds[0]);
    redisAsyncContext *ac = connect_real(t);
    if (!ck_placeholder_async_taken()) { /* this hiredis connected by itself */
        close(fds[0]);
        close(fds[1]);
        CK_LOG_ONCE(CK_LOG_WARN, "this hiredis builds async contexts without the shim; no async placeholders");
        return ac;
    }
    if (ac == NULL)
        close(fds[1]); /* hiredis freed (or never made) its end */
    else
        *peer_fd = fds[1];
    return ac;
}

redisAsyncContext *ck_async_connect(const ck_async_target *t) {
    if (!ck_from_program())
        return connect_real(t);
    ck_endpoint *ep = ck_connect_endpoint_of_recipe(&t->recipe);
    if (ep == NULL)
        return connect_real(t);
    ck_permit permit = ck_endpoint_acquire(ep);
    redisAsyncContext *ac = NULL;
    bool attempted = false;
    if (permit.gate == CK_REJECT) {
        int peer_fd;
        ac = connect_placeholder(t, &peer_fd, &attempted);
        if (peer_fd >= 0)
            return track(ac, ep, permit, peer_fd);
        permit = CK_PERMIT_ALLOW; /* a real connect was made, or must be */
    }
    if (!attempted)
        ac = connect_real(t);
    int saved_errno = errno;
    redisContext *c = (redisContext *)ac;
    if (ac != NULL && ck_ctx_err(c) == 0) {
        track(ac, ep, permit, -1);
    } else if (ac != NULL && ck_ctx_unavailable(c, t->form == CK_ASYNC_UNIX)) {
        ck_endpoint_record(ep, permit, false, ck_ctx_cause(c));
    } else {
        ck_endpoint_release(ep, permit); /* out of memory, or the program's mistake */
    }
    errno = saved_errno;
    return ac;
}

redisAsyncContext *ck_async_adopt(redisAsyncContext *ac) {
    redisContext *c = (redisContext *)ac;
    int saved_errno = errno;
    ck_endpoint *ep = ac != NULL ? ck_connect_endpoint_of_context(c) : NULL;
    if (ep != NULL && ck_ctx_err(c) == 0)
        track(ac, ep, CK_PERMIT_ALLOW, -1);
    else if (ep != NULL && ck_ctx_unavailable(c, ck_ctx_connection_type(c) == REDIS_CONN_UNIX))
        ck_endpoint_record(ep, CK_PERMIT_ALLOW, false, ck_ctx_cause(c));
    errno = saved_errno;
    return ac;
}

int ck_async_check_connect_done(redisContext *c, int *completed) {
    ck_context_state *st = c != NULL ? ck_context_lookup(c) : NULL;
    if (st != NULL && st->is_async && st->placeholder) {
        *completed = 1;
        return REDIS_OK;
    }
    return CK_REAL_CALL(redisCheckConnectDone, c, completed);
}
