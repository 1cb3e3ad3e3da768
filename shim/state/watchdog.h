/* Deadlines for async contexts. hiredis 0.14 has no timeout for async
 * contexts, and 1.x only when the program sets one and its event-loop
 * adapter has timers: against a frozen Redis the callbacks stay pending for
 * ever and the breaker never learns anything. A thread of the shim watches
 * the deadlines of async contexts and, when one passes, shuts the socket
 * down. The program's own event loop then meets the failure as it meets
 * any broken connection (hiredis reads EOF, calls every pending callback
 * with a NULL reply, then the disconnect callback), so nothing of the
 * program ever runs on the shim's thread. */
#ifndef CACHEKIT_WATCHDOG_H
#define CACHEKIT_WATCHDOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "owned_fd.h"

typedef struct ck_watch {
    struct ck_watch *prev, *next; /* the watchdog's list, under its lock */
    ck_owned_fd sock;             /* shut down only while still this socket (a forked child may reuse the number) */
    bool listed;
    _Atomic uint64_t deadline_ns; /* monotonic; 0: nothing awaited */
    _Atomic bool fired;           /* the watchdog shut the socket down */
    const char *what;             /* for the log line: the endpoint */
    bool placeholder;             /* an async placeholder, ended when Redis may be back */
    bool quiet;                   /* shut down without a log line (a health check's own connection) */
    /* a program's socket (sync or async): only its reading side is shut
     * down (its program may write again: no SIGPIPE), and not while a
     * reply waits unread on it (the program is slow, not Redis) */
    bool read_side;
    /* the deadline is a connect's: a socket found connected when it comes
     * is let be (its program has not looked yet: no timeout of Redis's) */
    _Atomic bool connect_wait;
    /* its program is taking a reply Redis sent: reading it from the
     * socket (the bytes are no longer seen unread, and the deadline its
     * reply re-arms is not set yet: a program descheduled there was cut,
     * in CI), or holding bytes in its reader that it has not asked for */
    _Atomic bool taking;
    /* a reply deadline's length: bytes coming in restart it, as they
     * restart a read timeout (0: none, a connect's or a placeholder's) */
    _Atomic uint64_t span_ns;
    /* the deadline thread's own: the bytes the kernel had received on the
     * socket when it first saw this deadline (TCP only) */
    uint64_t seen_deadline_ns, seen_bytes;
} ck_watch;

/* Starts watching fd (the thread starts with the first watch). */
void ck_watchdog_add(ck_watch *w, int fd, const char *what);
/* Stops watching; must come before the fd is closed. */
void ck_watchdog_remove(ck_watch *w);

/* Owner thread: set or clear (0) the deadline. One relaxed store: the
 * watchdog wakes at least every CK_WATCHDOG_TICK_NS to see new ones. */
static inline void ck_watch_arm(ck_watch *w, uint64_t deadline_ns) {
    atomic_store_explicit(&w->span_ns, 0, memory_order_relaxed);
    atomic_store_explicit(&w->deadline_ns, deadline_ns, memory_order_relaxed);
}
/* The same for awaited replies, span_ns from now: a reply that trickles in
 * is not cut while its bytes keep coming (within about a span of each
 * other), where the kernel counts them (TCP; a Unix socket's deadline
 * restarts only on whole replies). */
static inline void ck_watch_arm_replies(ck_watch *w, uint64_t now_ns, uint64_t span_ns) {
    atomic_store_explicit(&w->span_ns, span_ns, memory_order_relaxed);
    atomic_store_explicit(&w->deadline_ns, now_ns + span_ns, memory_order_relaxed);
}
/* Owner thread: set before its program reads from a watched socket, and
 * after, whether the program's reader still holds input (timeouts.h). The
 * watchdog leaves the socket alone while it is set; a deadline overdue
 * when it is cleared is met at the next tick. */
static inline void ck_watch_taking(ck_watch *w, bool taking) {
    atomic_store_explicit(&w->taking, taking, memory_order_seq_cst);
}
static inline bool ck_watch_armed(const ck_watch *w) {
    return atomic_load_explicit(&w->deadline_ns, memory_order_relaxed) != 0;
}

/* Redis is back at `what` (an endpoint's name, the pointer given to
 * ck_watchdog_add): its async placeholders end now, so that programs that
 * only wait reconnect at once. */
void ck_watchdog_end_placeholders(const char *what);

#define CK_WATCHDOG_TICK_NS 50000000ull

#endif
