/* The health check thread (see health_check.h). One thread for the
 * process, started by the first circuit that opens and asleep on a
 * condition variable while every circuit is closed. It walks the endpoints
 * (a lock-free list), renews its cover of each open breaker, and checks
 * each one whose time has come, one at a time, bounded by the connect and
 * socket timeouts; so with several endpoints down at once a check can come
 * later than its interval (and a cover that lapses lets program calls
 * probe again, as with the check off). It calls hiredis only through the
 * guard, never touches a context of the program, blocks every signal, and
 * is started again lazily in a forked child (threads do not survive fork). */
#include "health_check.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "abi.h"
#include "clock.h"
#include "command.h"
#include "endpoint.h"
#include "guard.h"
#include "log.h"
#include "real.h"
#include "thread.h"
#include "watchdog.h"

#define PING_RESP "*1\r\n$4\r\nPING\r\n"

static uint64_t interval_ns;      /* 0: off */
static uint64_t connect_bound_ns; /* how long a check may take to connect, and to read each reply */
static uint64_t reply_bound_ns;
static uint64_t lease_ns; /* how long one lease on a circuit's cover lasts */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_bool running;  /* this process has the thread */
static bool start_failed;    /* under the lock */
static bool woken;           /* under the lock: a circuit opened since the thread last looked */
static atomic_bool quitting; /* the process exits: no check starts, no lease is taken any more */
static atomic_bool asleep;   /* the thread waits with no time set: every circuit it knew was closed */

/* The interval, drawn uniformly within +-20%: processes that opened
 * together do not check in step. */
static uint64_t jittered_interval(void) {
    uint64_t spread = interval_ns / 5;
    return interval_ns - spread + (spread != 0 ? ck_clock_jitter() % (2 * spread + 1) : 0);
}

/* The error's first word is `word` (as the availability list matches). */
static bool error_is(const void *reply, const char *word) {
    size_t n = strlen(word), len = ck_reply_len(reply);
    return len >= n && strncasecmp(ck_reply_str(reply), word, n) == 0 && (len == n || ck_reply_str(reply)[n] == ' ');
}

/* What PING's answer (or its absence) says. `why` gets a short cause. */
static ck_check_result judge(redisContext *c, int rc, void *reply, char *why, size_t cap) {
    if (rc != REDIS_OK || reply == NULL) {
        snprintf(why, cap, "%s", ck_ctx_errstr(c));
        return ck_ctx_err(c) == REDIS_ERR_PROTOCOL ? CK_CHECK_UNUSABLE : CK_CHECK_DOWN;
    }
    int type = ck_reply_type(reply);
    if (type == REDIS_REPLY_STATUS && ck_reply_len(reply) == 4 && memcmp(ck_reply_str(reply), "PONG", 4) == 0)
        return CK_CHECK_UP;
    if (type == REDIS_REPLY_ERROR) {
        ck_log_data(why, ck_reply_str(reply), ck_reply_len(reply), CK_LOG_DATA_MAX); /* why has CK_LOG_DATA_ROOM */
        /* Down: Redis cannot serve now (LOADING, BUSY, MASTERDOWN...), as
         * the breaker counts it for a program's call. Up: any other
         * error, for Redis is there and refuses PING for reasons of its
         * own, the program's calls then decide: the credentials (NOAUTH,
         * WRONGPASS: changed, or never given), an ACL user without +ping
         * (NOPERM), a renamed PING; and MISCONF, which Redis answers PING
         * while its writes fail but its reads are served (audit: a check
         * that waited for PONG kept those circuits open for good, where
         * the cooldown's probe would have closed them). */
        return ck_error_is_availability(ck_reply_str(reply), ck_reply_len(reply)) && !error_is(reply, "MISCONF")
                   ? CK_CHECK_DOWN
                   : CK_CHECK_UP;
    }
    snprintf(why, cap, "PING answered with a reply of type %d", type);
    return CK_CHECK_UNUSABLE;
}

/* One check of ep, on a connection of its own. */
static ck_check_result check(ck_endpoint *ep, char *why, size_t cap) {
    const ck_endpoint_target *to = &ep->target;
    struct timeval connect_tv = ck_timeval_of_ns(connect_bound_ns);
    redisContext *c = to->is_unix ? CK_REAL_CALL(redisConnectUnixWithTimeout, to->address, connect_tv)
                                  : CK_REAL_CALL(redisConnectWithTimeout, to->address, to->port, connect_tv);
    if (c == NULL) {
        snprintf(why, cap, "out of memory");
        return CK_CHECK_NONE;
    }
    ck_check_result result = CK_CHECK_DOWN;
    if (ck_ctx_err(c) != 0) {
        snprintf(why, cap, "%s", ck_ctx_errstr(c));
        CK_REAL_CALL(redisFree, c);
        return result;
    }
    CK_REAL_CALL(redisSetTimeout, c, ck_timeval_of_ns(reply_bound_ns));
    /* hiredis's timeout bounds each read: a server that trickles its
     * answer a byte at a time would hold the check (and every other
     * endpoint's) for ever. The deadline thread bounds the whole exchange
     * (audit), and the socket is not inherited by what the program execs. */
    fcntl(ck_ctx_fd(c), F_SETFD, FD_CLOEXEC);
    ck_watch deadline = {.quiet = true};
    ck_watchdog_add(&deadline, ck_ctx_fd(c), ep->name);
    ck_watch_arm(&deadline, ck_clock_monotonic_ns() + 2 * reply_bound_ns);
    ck_buf auth = CK_BUF_EMPTY;
    bool authenticate = ck_endpoint_copy_auth(ep, &auth) && auth.len > 0;
    int rc = REDIS_OK;
    if (authenticate)
        rc = CK_REAL_CALL(redisAppendFormattedCommand, c, auth.bytes, auth.len);
    if (auth.bytes != NULL)
        explicit_bzero(auth.bytes, auth.cap);
    ck_buf_release(&auth);
    if (rc == REDIS_OK)
        rc = CK_REAL_CALL(redisAppendFormattedCommand, c, PING_RESP, sizeof PING_RESP - 1);
    void *reply = NULL;
    if (rc == REDIS_OK && authenticate) {
        /* whatever AUTH gets, PING's answer tells (a refused AUTH leaves
         * PING a NOAUTH, which means up) */
        rc = CK_REAL_CALL(redisGetReply, c, &reply);
        if (reply != NULL)
            CK_REAL_CALL(freeReplyObject, reply);
        reply = NULL;
    }
    if (rc == REDIS_OK)
        rc = CK_REAL_CALL(redisGetReply, c, &reply);
    result = judge(c, rc, reply, why, cap);
    if (atomic_load_explicit(&deadline.fired, memory_order_relaxed))
        snprintf(why, cap, "no answer within %.1f s", (double)(2 * reply_bound_ns) / 1e9);
    if (reply != NULL)
        CK_REAL_CALL(freeReplyObject, reply);
    ck_watchdog_remove(&deadline);
    CK_REAL_CALL(redisFree, c);
    return result;
}

static void count(ck_endpoint *ep, ck_check_result r) {
    _Atomic uint64_t *counter = r == CK_CHECK_UP     ? &ep->checks_up
                                : r == CK_CHECK_DOWN ? &ep->checks_down
                                                     : &ep->checks_unusable;
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
    atomic_store_explicit(&ep->check_last, (uint32_t)r, memory_order_relaxed);
}

/* Placeholders of this process that wait for a check (made after a call
 * was refused: the listener marked the endpoint) end now that the circuit
 * closed, by whichever check or probe of whichever process, or that the
 * check gave it up. The fence before the mark is read pairs with the one
 * in policy/async.c, track(), between a placeholder's arm and its second
 * read of the breaker: either this sees the mark (and the armed watch),
 * or the placeholder sees the change. */
static void end_awaiting_placeholders(ck_endpoint *ep) {
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_exchange_explicit(&ep->check_awaited, false, memory_order_relaxed))
        ck_watchdog_end_placeholders(ep->name);
}

static void check_and_act(ck_endpoint *ep) {
    char why[CK_LOG_DATA_ROOM] = "";
    ck_check_result r = check(ep, why, sizeof why);
    if (r == CK_CHECK_NONE)
        return; /* the check itself could not be made: nothing learnt */
    count(ep, r);
    if (r == CK_CHECK_UP) {
        ck_transition t;
        if (ck_breaker_check_up(&ep->breaker, ck_clock_monotonic_ns, &t)) {
            ck_endpoint_log_transition(ep, &t, NULL);
            end_awaiting_placeholders(ep);
        }
    } else if (r == CK_CHECK_UNUSABLE) {
        ep->check_unusable = true;
        ck_breaker_drop_cover(&ep->breaker, &ep->check_lease);
        /* placeholders waiting for the check: made anew, they wait for the
         * cooldown */
        end_awaiting_placeholders(ep);
        ck_log(CK_LOG_WARN, "health check of %s cannot talk to it (%s); the circuit's cooldown probes it instead",
               ep->name, why);
    } else if (!ep->check_logged_down) {
        ep->check_logged_down = true;
        /* once a streak: a line a second would be noise (and each line a
         * moment inside syslog, where a fork of the program would leave
         * the child's syslog locked: audit) */
        ck_log(CK_LOG_DEBUG, "health check of %s: down (%s)", ep->name, why);
    }
}

/* Whether process pid is gone: no such process, or a zombie (killed, and
 * not yet reaped by its parent). */
static bool gone(pid_t pid) {
    if (kill(pid, 0) != 0)
        return errno == ESRCH;
    char name[32], line[256];
    snprintf(name, sizeof name, "/proc/%ld/stat", (long)pid);
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, line, sizeof line - 1);
    close(fd);
    line[n > 0 ? n : 0] = '\0';
    const char *end = strrchr(line, ')'); /* "pid (comm) S ...": comm may hold spaces and parentheses */
    return end != NULL && end[1] == ' ' && end[2] == 'Z';
}

/* The lease's holder is a process that is gone (killed, exited without
 * giving it back: _exit, SIGTERM, exec of a program without the shim): its
 * lease is taken over now rather than when it lapses (27 s with the
 * default settings). So is a lease of this very pid that this process does
 * not hold (the program it was before an exec). A holder that exec'd a
 * program without the shim still looks alive, and a pid of another pid
 * namespace means nothing here: such leases lapse. */
static bool take_over_from_the_dead(ck_breaker *b, ck_endpoint *ep, uint64_t now) {
    uint32_t holder;
    uint64_t until = ck_breaker_cover_of(b, &holder);
    if (holder == 0 || until <= now)
        return false;
    /* this pid's own lease, which this process does not hold: left by the
     * program this process was before it exec'd */
    bool own_stale = holder == (uint32_t)getpid();
    if (!own_stale && !gone((pid_t)holder))
        return false;
    if (!ck_breaker_take_cover_from(b, &ep->check_lease, until, now + lease_ns, (uint32_t)getpid()))
        return false;
    ck_log(CK_LOG_DEBUG, "health check of %s: taken over from process %u, which is gone", ep->name, (unsigned)holder);
    return true;
}

/* One pass over the endpoints: hold the lease on each open one (unless
 * another process's check holds it) and check those due. Returns when to
 * look again (UINT64_MAX: none is open). */
static uint64_t pass(void) {
    uint64_t earliest = UINT64_MAX;
    for (ck_endpoint *ep = ck_endpoint_list(); ep != NULL; ep = ep->next) {
        ck_breaker *b = &ep->breaker;
        bool closed = ck_breaker_state_of(b) == CK_CLOSED;
        if (closed || !b->enabled || ep->target.address == NULL || ep->check_unusable) {
            if (closed) {
                ep->check_logged_down = false;
                ck_breaker_drop_cover(b, &ep->check_lease);
                end_awaiting_placeholders(ep);
            } else if (b->enabled && atomic_load_explicit(&ep->check_awaited, memory_order_relaxed)) {
                /* not checked here, but another process's check may cover
                 * it: look again, to end the placeholders when it closes */
                uint64_t again = ck_clock_monotonic_ns() + jittered_interval();
                earliest = again < earliest ? again : earliest;
            }
            continue;
        }
        if (atomic_load_explicit(&quitting, memory_order_relaxed))
            break;
        uint64_t now = ck_clock_monotonic_ns();
        uint32_t me = (uint32_t)getpid();
        if (!ck_breaker_take_cover(b, &ep->check_lease, now + lease_ns, now, me) &&
            !take_over_from_the_dead(b, ep, now)) {
            /* another process's check covers it: look again in an
             * interval (to see it closed, its holder gone, or its lease,
             * which lasts three, lapsed) */
            uint64_t again = now + jittered_interval();
            earliest = again < earliest ? again : earliest;
            continue;
        }
        if (atomic_load_explicit(&quitting, memory_order_relaxed)) {
            ck_breaker_drop_cover(b, &ep->check_lease); /* taken as the process exits: given back */
            break;
        }
        if (ck_breaker_check_due(b, now, now + jittered_interval())) {
            check_and_act(ep);
            ck_breaker_schedule_check(b, ck_clock_monotonic_ns() + jittered_interval());
        }
        if (ck_breaker_state_of(b) == CK_CLOSED) {
            end_awaiting_placeholders(ep); /* closed by the check, or meanwhile by a probe */
            continue;
        }
        uint64_t due = ck_breaker_next_check_ns(b);
        uint64_t latest = ck_clock_monotonic_ns() + interval_ns + interval_ns / 5;
        due = due == 0 || due > latest ? latest : due; /* never sleep past a renewal */
        earliest = due < earliest ? due : earliest;
    }
    return earliest;
}

static void *run(void *unused) {
    (void)unused;
    pthread_mutex_lock(&lock);
    while (!atomic_load_explicit(&quitting, memory_order_relaxed)) {
        woken = false;
        pthread_mutex_unlock(&lock);
        uint64_t next = ck_real_ready() ? pass() : ck_clock_monotonic_ns() + interval_ns;
        pthread_mutex_lock(&lock);
        if (atomic_load_explicit(&quitting, memory_order_relaxed) || woken)
            continue;
        if (next == UINT64_MAX) {
            atomic_store_explicit(&asleep, true, memory_order_relaxed);
            pthread_cond_wait(&wake, &lock);
            atomic_store_explicit(&asleep, false, memory_order_relaxed);
        } else {
            struct timespec ts = ck_timespec_of_ns(next);
            pthread_cond_timedwait(&wake, &lock, &ts);
        }
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* Under the lock. */
static void start(void) {
    pthread_t thread;
    if (ck_thread_start(&thread, run, true, 0) == 0) {
        atomic_store_explicit(&running, true, memory_order_release);
    } else {
        start_failed = true;
        ck_log(CK_LOG_ERROR, "could not start the health check thread; open circuits are probed by program calls");
    }
}

static void before_fork(void) { pthread_mutex_lock(&lock); }
static void after_fork_parent(void) { pthread_mutex_unlock(&lock); }
static void after_fork_child(void) {
    pthread_mutex_unlock(&lock);
    /* the parent's thread was waiting on it: glibc counts that waiter, who
     * does not exist here, and the child's first signal would wait for it
     * for ever (audit: a daemon hung in redisCommand and in exit) */
    ck_cond_init_monotonic(&wake);
    /* the thread did not come along. Its leases on shared circuits stay
     * the parent's, whose thread goes on checking for both; on this
     * process's own circuits they are void (program calls probe again)
     * until the child's first refused call starts its thread. */
    atomic_store_explicit(&running, false, memory_order_relaxed);
    woken = false;
    for (ck_endpoint *ep = ck_endpoint_list(); ep != NULL; ep = ep->next) {
        if (ck_breaker_is_shared(&ep->breaker))
            atomic_store_explicit(&ep->check_lease, 0, memory_order_relaxed);
        else
            ck_breaker_drop_cover(&ep->breaker, &ep->check_lease);
    }
}

static void init_once(void) {
    ck_cond_init_monotonic(&wake);
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

/* The endpoint listener: a circuit opened, or a call was refused (its
 * placeholders may wait for a check: this process's thread ends them). */
static void on_open(ck_endpoint *ep, bool opened) {
    bool news = false;
    if (!opened && !atomic_load_explicit(&ep->check_awaited, memory_order_relaxed)) {
        atomic_store_explicit(&ep->check_awaited, true, memory_order_relaxed);
        news = true;
    }
    /* A refused call is news to a thread that may not know the circuit is
     * open: another process opened it (shared state), and this thread,
     * which saw every circuit closed, sleeps with no time set (review: its
     * placeholders then waited for good). Otherwise the thread already
     * looks at this circuit every interval. */
    if (!opened && !news && !atomic_load_explicit(&asleep, memory_order_relaxed) &&
        atomic_load_explicit(&running, memory_order_acquire))
        return;
    pthread_once(&once, init_once);
    pthread_mutex_lock(&lock);
    if (!atomic_load_explicit(&quitting, memory_order_relaxed) &&
        (atomic_load_explicit(&running, memory_order_relaxed) || !start_failed)) {
        if (!atomic_load_explicit(&running, memory_order_relaxed))
            start();
        woken = true;
        pthread_cond_signal(&wake);
    }
    pthread_mutex_unlock(&lock);
}

void ck_health_check_configure(const ck_config *cfg) {
    interval_ns = cfg->health_check_interval_ns;
    connect_bound_ns = ck_config_check_connect_bound_ns(cfg);
    reply_bound_ns = ck_config_check_reply_bound_ns(cfg);
    lease_ns = ck_config_check_lease_ns(cfg);
    if (interval_ns != 0 && cfg->breaker_enabled)
        ck_endpoint_listen(on_open);
}

bool ck_health_check_running(void) { return atomic_load_explicit(&running, memory_order_acquire); }

void ck_health_check_stop(void) {
    if (interval_ns == 0)
        return;
    pthread_once(&once, init_once);
    pthread_mutex_lock(&lock);
    atomic_store_explicit(&quitting, true, memory_order_relaxed);
    /* A process that exits gives its leases back, so that the next
     * process's check need not wait for them to lapse (short-lived
     * programs, one per compile). Also mid-check: its connection dies with
     * the process, and the check, not scheduled again, is due for the next
     * holder at once. */
    for (ck_endpoint *ep = ck_endpoint_list(); ep != NULL; ep = ep->next)
        ck_breaker_drop_cover(&ep->breaker, &ep->check_lease);
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}
