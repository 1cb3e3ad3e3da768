/* Socket timeouts the shim imposes, applied with setsockopt on the
 * context's descriptor rather than through redisSetTimeout: hiredis then
 * keeps no record of them (1.x would re-apply a recorded one on every
 * reconnect, and a program reading c->command_timeout would see the
 * shim's value as its own). The shim re-applies its timeout itself after
 * every connect it makes or sees. */
#include "timeouts.h"

#include "clock.h"
#include "resp_scan.h"

#include <sys/socket.h>

#include "abi.h"
#include "log.h"

static uint64_t connect_timeout_ns;
static uint64_t socket_timeout_ns;
static uint64_t socket_timeout_max_ns; /* 0: no cap */
static uint64_t slow_call_ns;
static bool adaptive; /* only on top of a socket timeout */

void ck_timeouts_configure(const ck_config *cfg) {
    connect_timeout_ns = cfg->connect_timeout_ns;
    socket_timeout_ns = cfg->socket_timeout_ns;
    socket_timeout_max_ns = cfg->socket_timeout_max_ns;
    if (socket_timeout_max_ns != 0 && (socket_timeout_ns == 0 || socket_timeout_ns > socket_timeout_max_ns))
        socket_timeout_ns = socket_timeout_max_ns;
    if (socket_timeout_max_ns != 0 && (connect_timeout_ns == 0 || connect_timeout_ns > socket_timeout_max_ns))
        connect_timeout_ns = socket_timeout_max_ns;
    slow_call_ns = cfg->slow_call_ns;
    adaptive = cfg->adaptive_timeout && cfg->socket_timeout_ns != 0;
    if (cfg->adaptive_timeout && !adaptive)
        ck_log(CK_LOG_WARN, "CACHEKIT_ADAPTIVE_TIMEOUT needs CACHEKIT_SOCKET_TIMEOUT above 0; adaptive timeout off");
}

struct timeval ck_timeouts_capped(struct timeval tv) {
    if (socket_timeout_max_ns == 0)
        return tv;
    uint64_t ns = (uint64_t)tv.tv_sec * 1000000000u + (uint64_t)tv.tv_usec * 1000u;
    return ns == 0 || ns > socket_timeout_max_ns || tv.tv_sec < 0 ? ck_timeval_of_ns(socket_timeout_max_ns) : tv;
}

bool ck_timeouts_connect_default(struct timeval *tv) {
    if (connect_timeout_ns == 0)
        return false;
    *tv = ck_timeval_of_ns(connect_timeout_ns);
    return true;
}

uint64_t ck_timeouts_connect_ns(void) { return connect_timeout_ns; }
uint64_t ck_timeouts_socket_ns(void) { return socket_timeout_ns; }

uint64_t ck_timeouts_reply_deadline_ns(const ck_context_state *st) {
    uint64_t t = adaptive ? ck_adaptive_timeout_ns(&st->endpoint->adaptive) : 0;
    return t != 0 ? t : socket_timeout_ns;
}

static bool reply_deadline_applies(redisContext *c, const ck_context_state *st) {
    const ck_slot *front = ck_pending_front(&st->pending);
    /* (not while commands wait unwritten: their replies cannot come yet,
     * audit; the flush that writes them arms it. Unless a reply is under
     * way in the reader: its command went out, and Redis may stall in it) */
    const void *reader = ck_ctx_reader(c);
    return !(ck_ctx_flags(c) & REDIS_BLOCK) && !st->program_timeout && !st->passthrough && socket_timeout_ns != 0 &&
           front != NULL && !(front->kind == CK_SLOT_REAL && (front->flags & CK_SLOT_UNBOUNDED)) &&
           ck_pending_awaits_real(&st->pending) && (!ck_ctx_unsent(c) || (reader != NULL && !ck_reader_idle(reader)));
}

void ck_timeouts_await_replies(redisContext *c, ck_context_state *st) {
    if (!reply_deadline_applies(c, st)) {
        if (st->watch.listed)
            ck_watch_arm(&st->watch, 0);
        return;
    }
    int fd = ck_ctx_fd(c);
    if (st->watch.listed && st->watch.sock.fd != fd)
        ck_watchdog_remove(&st->watch); /* the connection was made anew */
    if (!st->watch.listed) {
        st->watch.read_side = true; /* the program may still write: no SIGPIPE */
        ck_watchdog_add(&st->watch, fd, st->endpoint->name);
    }
    ck_watch_arm_replies(&st->watch, ck_clock_coarse_ns(), ck_timeouts_reply_deadline_ns(st));
}

/* A whole reply waits in the reader for the program, after the one it
 * took (the start of one is Redis's to finish). Scanned once per reply
 * taken: only the next one, never the rest of a pipeline. */
static bool whole_reply_waits(redisContext *c) {
    const void *reader = ck_ctx_reader(c);
    if (reader == NULL || !ck_reader_between_replies(reader))
        return false;
    size_t n;
    const char *next = ck_reader_unparsed(reader, &n);
    return ck_resp_starts_whole(next, n);
}

void ck_timeouts_taken(redisContext *c, ck_context_state *st, bool partial) {
    if (st->watch.listed)
        ck_watch_taking(&st->watch, !partial && whole_reply_waits(c));
}

bool ck_timeouts_time_calls(void) { return slow_call_ns != 0 || adaptive; }

static void set_socket_timeout(redisContext *c, uint64_t ns) {
    struct timeval tv = ck_timeval_of_ns(ns);
    int fd = ck_ctx_fd(c);
    if (fd < 0)
        return;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
        CK_LOG_ONCE(CK_LOG_WARN, "could not set a socket timeout on fd %d; calls on it are not bounded", fd);
}

/* The program's own timeout, on a socket the shim (re)made: hiredis 0.14
 * does not carry it over a reconnect. */
static void apply_program_timeout(redisContext *c, const ck_context_state *st) {
    const struct timeval *set =
        st->recipe.has_command_timeout ? &st->recipe.command_timeout : ck_ctx_command_timeout(c);
    int fd = ck_ctx_fd(c);
    if (set == NULL || fd < 0)
        return;
    struct timeval tv = ck_timeouts_capped(*set);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
        CK_LOG_ONCE(CK_LOG_WARN, "could not put the program's timeout back on fd %d", fd);
}

void ck_timeouts_program_set(redisContext *c, ck_context_state *st, struct timeval tv) {
    st->program_timeout = ck_timeouts_is_set(&tv);
    st->imposed_timeout_ns = 0;
    /* kept for every socket the shim makes for this context later
     * (hiredis 0.14 forgets it when it reconnects) */
    st->recipe.has_command_timeout = st->program_timeout;
    st->recipe.command_timeout = tv;
    if (st->placeholder)
        return; /* applied when it connects */
    if (!st->program_timeout)
        ck_timeouts_after_connect(c, st); /* zero is none: the shim's own applies */
    else if (socket_timeout_max_ns != 0)
        apply_program_timeout(c, st); /* the program's, capped (hiredis just set it whole) */
}

void ck_timeouts_after_connect(redisContext *c, ck_context_state *st) {
    st->imposed_timeout_ns = 0;
    if (!(ck_ctx_flags(c) & REDIS_BLOCK) || ck_ctx_err(c) != 0 || ck_ctx_fd(c) < 0)
        return;
    if (st->program_timeout) {
        apply_program_timeout(c, st);
        return;
    }
    if (socket_timeout_ns == 0 || st->passthrough)
        return;
    set_socket_timeout(c, socket_timeout_ns);
    st->imposed_timeout_ns = socket_timeout_ns;
}

void ck_timeouts_before_read(redisContext *c, ck_context_state *st) {
    if (!adaptive || st->imposed_timeout_ns == 0)
        return;
    uint64_t t = ck_adaptive_timeout_ns(&st->endpoint->adaptive);
    if (t != 0 && t != st->imposed_timeout_ns) {
        set_socket_timeout(c, t);
        st->imposed_timeout_ns = t;
    }
}

bool ck_timeouts_after_success(ck_context_state *st, uint64_t elapsed_ns) {
    if (adaptive)
        ck_adaptive_record(&st->endpoint->adaptive, elapsed_ns);
    return slow_call_ns != 0 && elapsed_ns > slow_call_ns;
}

void ck_timeouts_lift(redisContext *c, ck_context_state *st) {
    if (st->imposed_timeout_ns != 0)
        set_socket_timeout(c, 0);
}

void ck_timeouts_restore(redisContext *c, ck_context_state *st) {
    if (st->imposed_timeout_ns != 0 && ck_ctx_err(c) == 0)
        set_socket_timeout(c, st->imposed_timeout_ns);
}

void ck_timeouts_lift_for_good(redisContext *c, ck_context_state *st) {
    ck_timeouts_lift(c, st);
    st->imposed_timeout_ns = 0;
}
