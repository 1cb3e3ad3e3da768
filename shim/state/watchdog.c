/* The deadline thread (see watchdog.h). It only ever calls shutdown(2) on
 * a descriptor that is still listed, and unlisting takes the same lock, so
 * a descriptor closed and reused by the program is never touched; in a
 * forked child, whose watches are inherited from the parent, a descriptor
 * is shut down only while it is still the socket it was (fstat identity):
 * a child that closed its descriptors wholesale keeps its own. It
 * blocks every signal (the program's handlers never run on it), sleeps on
 * a condition variable while nothing is watched, and is restarted lazily in
 * a forked child. */
#include "watchdog.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "thread.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;
static ck_watch *watched;
static bool started;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Under the lock. */
static void unlist(ck_watch *w) {
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        watched = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    w->listed = false;
}

static void before_fork(void) { pthread_mutex_lock(&lock); }
static void after_fork_parent(void) { pthread_mutex_unlock(&lock); }
static void after_fork_child(void) {
    /* A quiet watch belongs to a thread of the shim (a health check in
     * flight), which did not come along: its struct lies on that thread's
     * stack, which the child's threads may be given (review: the list
     * would then loop), and its socket is the parent's. Unlisted here,
     * the socket closed on this side. */
    for (ck_watch *w = watched, *next; w != NULL; w = next) {
        next = w->next;
        if (!w->quiet)
            continue;
        unlist(w);
        ck_let_go(&w->sock);
    }
    pthread_mutex_unlock(&lock);
    started = false; /* threads do not survive fork: the next watch starts one */
    /* the parent's thread may have been waiting on it: glibc counts that
     * waiter, who does not exist here, and a signal would wait for it for
     * ever (audit) */
    ck_cond_init_monotonic(&wake);
}

static void init_once(void) {
    ck_cond_init_monotonic(&wake);
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

/* A socket whose connect is done (getpeername fails while it is under
 * way, or failed). */
static bool connected(int fd) {
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    return getpeername(fd, (struct sockaddr *)&peer, &len) == 0;
}

/* The bytes the kernel has received on a TCP socket (0 where it does not
 * count them: a Unix socket, a kernel before 4.1). */
static uint64_t bytes_received(int fd) {
    struct tcp_info info;
    socklen_t len = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received)
        return 0;
    return info.tcpi_bytes_received;
}

/* A reply deadline that came with bytes received since it was first seen
 * (the program's loop took them, but no whole reply yet) runs again from
 * now, as a read timeout restarts on bytes. */
static bool restarted_by_bytes(ck_watch *w, uint64_t d, uint64_t now, uint64_t *earliest) {
    uint64_t span = atomic_load_explicit(&w->span_ns, memory_order_relaxed);
    if (span == 0 || !w->read_side)
        return false;
    uint64_t bytes = bytes_received(w->sock.fd);
    if (bytes <= w->seen_bytes)
        return false;
    uint64_t later = now + span;
    if (atomic_compare_exchange_strong_explicit(&w->deadline_ns, &d, later, memory_order_relaxed,
                                                memory_order_relaxed)) {
        w->seen_deadline_ns = later;
        w->seen_bytes = bytes;
        *earliest = later < *earliest ? later : *earliest;
    }
    return true; /* (re-armed by the owner meanwhile otherwise) */
}

/* Shuts down what is overdue; returns the earliest deadline still ahead. */
static uint64_t expire(uint64_t now) {
    uint64_t earliest = UINT64_MAX;
    for (ck_watch *w = watched; w != NULL; w = w->next) {
        uint64_t d = atomic_load_explicit(&w->deadline_ns, memory_order_relaxed);
        if (d == 0)
            continue;
        if (d != w->seen_deadline_ns && atomic_load_explicit(&w->span_ns, memory_order_relaxed) != 0) {
            /* a new reply deadline: what had come before it is no progress
             * (seen within a tick of its arming) */
            w->seen_deadline_ns = d;
            w->seen_bytes = bytes_received(w->sock.fd);
        }
        if (d > now) {
            earliest = d < earliest ? d : earliest;
            continue;
        }
        /* the owner may have re-armed it meanwhile: only an unchanged
         * deadline is overdue */
        int unread = 0;
        if (w->read_side && ((ioctl(w->sock.fd, FIONREAD, &unread) == 0 && unread > 0) ||
                             atomic_load_explicit(&w->taking, memory_order_seq_cst))) {
            /* Redis answered; the program has not read it yet, or is
             * taking it (loaded after the ioctl: bytes the ioctl no longer
             * saw were taken by a read the flag was set before) */
            uint64_t later = now + CK_WATCHDOG_TICK_NS;
            if (atomic_compare_exchange_strong_explicit(&w->deadline_ns, &d, later, memory_order_relaxed,
                                                        memory_order_relaxed))
                w->seen_deadline_ns = later; /* the same deadline, put off: bytes since still count (audit) */
            earliest = later < earliest ? later : earliest;
            continue;
        }
        if (restarted_by_bytes(w, d, now, &earliest))
            continue;
        if (atomic_load_explicit(&w->connect_wait, memory_order_relaxed) && connected(w->sock.fd)) {
            atomic_compare_exchange_strong_explicit(&w->deadline_ns, &d, 0, memory_order_relaxed, memory_order_relaxed);
            continue;
        }
        if (atomic_compare_exchange_strong_explicit(&w->deadline_ns, &d, 0, memory_order_relaxed,
                                                    memory_order_relaxed) &&
            ck_still_owned(&w->sock)) {
            if (w->placeholder)
                ck_log(CK_LOG_DEBUG,
                       "%s may be reachable again: closing an async placeholder so the program "
                       "reconnects",
                       w->what);
            else if (!w->quiet)
                ck_log(CK_LOG_WARN,
                       "%s: no reply within the deadline (CACHEKIT_SOCKET_TIMEOUT); shutting the connection down",
                       w->what);
            atomic_store_explicit(&w->fired, true, memory_order_relaxed);
            shutdown(w->sock.fd, w->read_side ? SHUT_RD : SHUT_RDWR);
        }
    }
    return earliest;
}

static void *run(void *unused) {
    (void)unused;
    pthread_mutex_lock(&lock);
    for (;;) {
        uint64_t now = ck_clock_monotonic_ns();
        uint64_t earliest = expire(now);
        if (watched == NULL) {
            pthread_cond_wait(&wake, &lock);
            continue;
        }
        uint64_t until = now + CK_WATCHDOG_TICK_NS;
        if (earliest < until)
            until = earliest;
        struct timespec ts = ck_timespec_of_ns(until);
        pthread_cond_timedwait(&wake, &lock, &ts);
    }
    return NULL;
}

/* Under the lock. */
static void start(void) {
    pthread_t thread;
    started = ck_thread_start(&thread, run, true, 64 * 1024) == 0;
    if (!started)
        CK_LOG_ONCE(CK_LOG_ERROR, "could not start the deadline thread; async calls are not bounded in time");
}

void ck_watchdog_add(ck_watch *w, int fd, const char *what) {
    pthread_once(&once, init_once);
    ck_owned_fd sock = ck_own(fd);
    pthread_mutex_lock(&lock);
    w->sock = sock;
    w->what = what;
    atomic_store_explicit(&w->taking, false, memory_order_relaxed); /* (a new socket) */
    w->seen_deadline_ns = 0;
    w->prev = NULL;
    w->next = watched;
    if (watched != NULL)
        watched->prev = w;
    watched = w;
    w->listed = true;
    if (!started)
        start();
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}

void ck_watchdog_remove(ck_watch *w) {
    if (!w->listed)
        return;
    pthread_mutex_lock(&lock);
    unlist(w);
    pthread_mutex_unlock(&lock);
}

void ck_watchdog_end_placeholders(const char *what) {
    pthread_once(&once, init_once);
    pthread_mutex_lock(&lock);
    bool any = false;
    for (ck_watch *w = watched; w != NULL; w = w->next) {
        if (w->placeholder && w->what == what && atomic_load_explicit(&w->deadline_ns, memory_order_relaxed) != 0) {
            atomic_store_explicit(&w->deadline_ns, 1, memory_order_relaxed); /* overdue */
            any = true;
        }
    }
    if (any)
        pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}
