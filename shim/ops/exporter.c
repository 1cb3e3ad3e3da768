/* The exporter thread (see exporter.h). It must not disturb the host
 * program: it blocks every signal, never writes to stdout, holds no lock
 * the program's calls need (endpoints are read without the registry lock,
 * the L1 statistics under the L1's own fork-safe locks), renders into one
 * buffer kept for its whole life (after the first document it does not
 * allocate for a usual document: a fork while it works cannot leave an
 * allocator lock held in the child, whatever allocator the program runs
 * on), serves HTTP without ever blocking (http_server.c), and is stopped
 * and joined at exit, within STOP_CHECK_MS of the request whatever clients
 * do.
 *
 * The metrics file is written to a fresh temporary file in the same
 * directory (O_EXCL | O_NOFOLLOW) and renamed over the target, so a reader
 * never sees a partial file and no symbolic link is ever followed; a target
 * that is a symbolic link (or anything but a regular file) is refused with
 * a diagnostic, since whoever planted it wants the write to land
 * elsewhere. */
#include "exporter.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "exposition.h"
#include "write_all.h"
#include "http_parse.h"
#include "http_server.h"
#include "log.h"
#include "thread.h"
#include "metrics.h"
#include "owned_fd.h"

static char metrics_pattern[1024]; /* as configured: %p and %e expand per process */
static char metrics_file[4096];
static char listen_spec[128];
static uint64_t interval_ns;
static bool configured;
static ck_owned_fd listener = {.fd = -1};
static ck_owned_fd wake[2] = {{.fd = -1}, {.fd = -1}}; /* a byte on wake[1] stops the thread */
static pthread_t thread;
static bool running;             /* the thread runs in this process */
static _Atomic pid_t started_in; /* the process whose exporter was started (0: none yet) */
static _Atomic bool stop_requested;
#define STOP_CHECK_MS 100 /* the longest the thread sleeps without looking at stop_requested */
#define DOCUMENT_ROOM (256u << 10)
#define JOIN_WAIT_S 1   /* at exit: the longest the program waits for the thread */
static ck_buf document; /* the thread's, reused for every document */

/* ------------------------------------------------------------------ file */

static void write_file(void) {
    struct stat st;
    if (lstat(metrics_file, &st) == 0 && !S_ISREG(st.st_mode)) {
        CK_LOG_ONCE(CK_LOG_ERROR,
                    "CACHEKIT_METRICS_FILE=\"%s\" is a symbolic link or not a regular file; refusing to write "
                    "through or over it (no metrics file)",
                    metrics_file);
        return;
    }
    char tmp[sizeof metrics_file + 48];
    static unsigned serial;
    const char *slash = strrchr(metrics_file, '/');
    int dir_len = slash == NULL ? 0 : (int)(slash - metrics_file + 1);
    /* short: the target's own name may already be at the file system's limit */
    snprintf(tmp, sizeof tmp, "%.*s.cachekit.%ld.%u.tmp", dir_len, metrics_file, (long)getpid(), serial++);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        CK_LOG_ONCE(CK_LOG_ERROR, "CACHEKIT_METRICS_FILE=\"%s\": cannot create %s (%s); metrics file not written",
                    metrics_file, tmp, strerror(errno));
        return;
    }
    document.len = 0;
    bool ok = ck_exposition_metrics(&document);
    int e = ok ? ck_write_all(fd, document.bytes, document.len) : 0;
    if (e != 0)
        errno = e;
    ok = close(fd) == 0 && ok && e == 0;
    if (!ok || rename(tmp, metrics_file) != 0) {
        CK_LOG_ONCE(CK_LOG_ERROR, "CACHEKIT_METRICS_FILE=\"%s\": cannot write it (%s)", metrics_file, strerror(errno));
        unlink(tmp);
    }
}

/* ------------------------------------------------------------------ HTTP */

static int open_listener(const char *spec) {
    char host[128], port[16];
    if (!ck_http_split_listen(spec, host, sizeof host, port, sizeof port)) {
        ck_log(CK_LOG_ERROR, "CACHEKIT_METRICS_LISTEN=\"%s\" is not PORT, HOST:PORT or [V6]:PORT; no metrics over HTTP",
               spec);
        return -1;
    }
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *found = NULL;
    int rc = getaddrinfo(host, port, &hints, &found);
    if (rc != 0) {
        ck_log(CK_LOG_ERROR, "CACHEKIT_METRICS_LISTEN=\"%s\": %s; no metrics over HTTP", spec, gai_strerror(rc));
        return -1;
    }
    /* non-blocking: a listener shared with a forked process may have its
     * connection taken by the other exporter between poll and accept */
    int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, found->ai_addr, found->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        ck_log(CK_LOG_ERROR,
               "CACHEKIT_METRICS_LISTEN=\"%s\": cannot listen (%s); no metrics over HTTP, the program "
               "runs on",
               spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(found);
    return fd;
}

/* ---------------------------------------------------------------- thread */

static void *run(void *unused) {
    (void)unused;
    uint64_t next_write = ck_clock_monotonic_ns();
    uint64_t listener_rests_until = 0;
    while (!atomic_load_explicit(&stop_requested, memory_order_acquire)) {
        uint64_t now = ck_clock_monotonic_ns();
        if (metrics_file[0] != '\0' && now >= next_write) {
            write_file();
            next_write = now + interval_ns;
        }
        /* at most STOP_CHECK_MS asleep: the stop is seen even if the
         * program took the wake descriptor */
        uint64_t wake_ns = now + STOP_CHECK_MS * 1000000ull;
        if (metrics_file[0] != '\0' && next_write < wake_ns)
            wake_ns = next_write;
        /* the program may have closed either descriptor (and reused the
         * number): then it is forgotten, never polled nor accepted on */
        if (wake[0].fd >= 0 && !ck_still_owned(&wake[0]))
            wake[0].fd = -1;
        if (listener.fd >= 0 && !ck_still_owned(&listener)) {
            CK_LOG_ONCE(CK_LOG_WARN, "the program closed the metrics listening socket; no metrics over HTTP");
            listener.fd = -1;
        }
        struct pollfd fds[2 + CK_HTTP_CONNECTIONS] = {
            {.fd = wake[0].fd, .events = POLLIN},
            {.fd = now >= listener_rests_until ? listener.fd : -1, .events = POLLIN},
        };
        int clients = ck_http_poll_set(fds + 2, &wake_ns);
        int timeout_ms = wake_ns > now ? (int)((wake_ns - now + 999999) / 1000000) : 0;
        int n = poll(fds, 2 + (nfds_t)clients, timeout_ms); /* (a negative fd is skipped) */
        if (n < 0 && errno != EINTR)
            break;
        if (n < 0)
            continue;
        if (fds[0].revents != 0) {
            if (atomic_load_explicit(&stop_requested, memory_order_acquire))
                break;
            /* end of file: the program closed the other end (its number is
             * the program's now); the stop flag alone is looked at from now */
            ck_let_go(&wake[0]);
        }
        now = ck_clock_monotonic_ns();
        ck_http_serve(fds + 2, clients, now, &document);
        if ((fds[1].revents & POLLIN) && ck_still_owned(&listener) && !ck_http_accept(listener.fd, now, &document))
            listener_rests_until = now + STOP_CHECK_MS * 1000000ull; /* cannot take more now: no spin */
    }
    ck_http_close_all();
    return NULL;
}

static void launch(void) {
    int fds[2];
    /* a socket pair, written with MSG_NOSIGNAL: no SIGPIPE at exit if the
     * program closed the other end */
    atomic_store_explicit(&stop_requested, false, memory_order_relaxed);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) != 0) {
        ck_log(CK_LOG_ERROR, "cannot start the metrics exporter (%s); no metrics", strerror(errno));
        return;
    }
    wake[0] = ck_own(fds[0]);
    wake[1] = ck_own(fds[1]);
    /* the document's room, taken here by the program's thread: the
     * exporter thread then does not allocate for a usual document, so a
     * fork while it works cannot leave it (or a child) waiting on an
     * allocator lock (ASan's allocator is not fork-safe) */
    ck_buf_reserve(&document, DOCUMENT_ROOM);
    int rc = ck_thread_start(&thread, run, false, 0);
    running = rc == 0;
    if (!running) {
        ck_log(CK_LOG_ERROR, "cannot start the metrics exporter thread (%s); no metrics", strerror(rc));
        ck_let_go(&wake[0]);
        ck_let_go(&wake[1]);
    }
}

/* atfork, in the child: the thread stayed in the parent, and so do its
 * clients (their descriptors are closed on this side, nothing else runs
 * here yet) */
static void forked_child(void) {
    running = false;
    ck_http_forget_inherited();
}

/* The thread runs in this process (a child forked without the atfork
 * handlers, by a raw clone, must not stop or join the parent's). */
static bool running_here(void) {
    return running && atomic_load_explicit(&started_in, memory_order_relaxed) == getpid();
}

/* CACHEKIT_METRICS_FILE with %p (pid) and %e (program name) expanded, as
 * in core_pattern, so that processes of one program do not overwrite each
 * other's file. */
static bool expand_metrics_file(void) {
    size_t n = 0;
    bool fits = true;
    for (const char *p = metrics_pattern; *p != '\0' && fits; p++) {
        const char *part = NULL;
        char pid[24];
        if (p[0] == '%' && p[1] == 'p') {
            snprintf(pid, sizeof pid, "%ld", (long)getpid());
            part = pid;
        } else if (p[0] == '%' && p[1] == 'e') {
            part = program_invocation_short_name;
        } else if (p[0] == '%' && p[1] == '%') {
            part = "%";
        }
        if (part != NULL)
            p++;
        size_t len = part != NULL ? strlen(part) : 1;
        fits = n + len < sizeof metrics_file;
        if (fits)
            memcpy(metrics_file + n, part != NULL ? part : p, len);
        n += fits ? len : 0;
    }
    metrics_file[n] = '\0';
    if (!fits)
        ck_log(CK_LOG_ERROR, "CACHEKIT_METRICS_FILE=\"%.200s\" is longer than %zu bytes once expanded; no metrics file",
               metrics_pattern, sizeof metrics_file - 1);
    return fits;
}

void ck_exporter_configure(const ck_config *cfg) {
    snprintf(metrics_pattern, sizeof metrics_pattern, "%s", cfg->metrics_file);
    snprintf(listen_spec, sizeof listen_spec, "%s", cfg->metrics_listen);
    interval_ns = cfg->metrics_interval_ns;
    configured = metrics_pattern[0] != '\0' || listen_spec[0] != '\0';
    ck_metrics_on = configured;
}

void ck_exporter_on_connect(void) {
    if (!configured)
        return;
    pid_t me = getpid();
    pid_t before = atomic_load_explicit(&started_in, memory_order_acquire);
    if (before == me || !atomic_compare_exchange_strong(&started_in, &before, me))
        return; /* started in this process already (or by another thread just now) */
    if (before != 0) {
        /* a child of a process that exported: its thread stayed there. The
         * wake pipe is closed if the program did not already; the listener
         * is shared with the parent if it is still the one made there, else
         * forgotten (never closed: the number may be the program's now). */
        ck_let_go(&wake[0]);
        ck_let_go(&wake[1]);
        if (!ck_still_owned(&listener))
            listener.fd = -1;
    } else {
        pthread_atfork(NULL, NULL, forked_child);
    }
    if (listen_spec[0] != '\0' && listener.fd < 0)
        listener = ck_own(open_listener(listen_spec));
    metrics_file[0] = '\0';
    if (metrics_pattern[0] != '\0' && !expand_metrics_file())
        metrics_file[0] = '\0';
    if (metrics_file[0] != '\0' || listener.fd >= 0)
        launch();
}

void ck_exporter_stop(void) {
    if (!running_here())
        return;
    atomic_store_explicit(&stop_requested, true, memory_order_release);
    char byte = 0;
    if (ck_still_owned(&wake[1])) { /* else the thread sees the flag within STOP_CHECK_MS */
        ssize_t ignored = send(wake[1].fd, &byte, 1, MSG_NOSIGNAL);
        (void)ignored;
    }
    /* bounded: a thread stuck (on a lock a fork left held in an allocator
     * that is not fork-safe) must not hold the program's exit */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += JOIN_WAIT_S;
    bool joined = pthread_timedjoin_np(thread, NULL, &until) == 0;
    running = false;
    if (!joined) {
        ck_log(CK_LOG_WARN, "the metrics exporter did not stop within %d s; exiting without its last write",
               JOIN_WAIT_S);
        return;
    }
    if (metrics_file[0] != '\0')
        write_file(); /* the final counts, for a program that ends */
    ck_buf_release(&document);
}
