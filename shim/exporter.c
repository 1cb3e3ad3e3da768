/* The exporter thread (see exporter.h). It must not disturb the host
 * program: it blocks every signal, never writes to stdout, holds no lock
 * the program's calls need (endpoints are read without the registry lock,
 * the L1 statistics under the L1's own fork-safe locks), renders into one
 * buffer kept for its whole life (after the first document it does not
 * allocate: a fork while it works cannot leave an allocator lock held in
 * the child, whatever allocator the program runs on), serves one request
 * at a time with a 2 s deadline and a bounded request and response, sends
 * with MSG_NOSIGNAL, and is stopped and joined at exit.
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
#include <signal.h>
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
#include "log.h"
#include "metrics.h"

#define CK_EXPORT __attribute__((visibility("default")))
#define REQUEST_MAX 4096
#define CLIENT_DEADLINE_MS 2000

/* A descriptor the exporter made, with what it was then: after a fork
 * the program may have closed the number and reused it for one of its own
 * (varnish does), so an inherited descriptor is used or closed only while
 * it is still the same file. */
typedef struct {
    int fd;
    dev_t dev;
    ino_t ino;
} owned_fd;

static char metrics_pattern[1024]; /* as configured: %p and %e expand per process */
static char metrics_file[4096];
static char listen_spec[128];
static uint64_t interval_ns;
static bool configured;
static owned_fd listener = {.fd = -1};
static owned_fd wake[2] = {{.fd = -1}, {.fd = -1}}; /* a byte on wake[1] stops the thread */
static pthread_t thread;
static bool running;             /* the thread runs in this process */
static _Atomic pid_t started_in; /* the process whose exporter was started (0: none yet) */
static _Atomic bool stop_requested;
#define STOP_CHECK_MS 100 /* the longest the thread sleeps without looking at stop_requested */
#define DOCUMENT_ROOM (256u << 10)
#define JOIN_WAIT_S 1 /* at exit: the longest the program waits for the thread */
static ck_buf document;          /* the thread's, reused for every document */

static owned_fd own(int fd) {
    owned_fd o = {.fd = fd};
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0) {
        o.dev = st.st_dev;
        o.ino = st.st_ino;
    }
    return o;
}

/* Still the file the exporter made (not closed, nor its number reused). */
static bool still_owned(const owned_fd *o) {
    struct stat st;
    return o->fd >= 0 && fstat(o->fd, &st) == 0 && st.st_dev == o->dev && st.st_ino == o->ino;
}

/* Closes it if it is still the exporter's; forgets it either way. */
static void let_go(owned_fd *o) {
    if (still_owned(o))
        close(o->fd);
    o->fd = -1;
}

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
    for (size_t done = 0; ok && done < document.len;) {
        ssize_t n = write(fd, document.bytes + done, document.len - done);
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        done += n > 0 ? (size_t)n : 0;
    }
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, metrics_file) != 0) {
        CK_LOG_ONCE(CK_LOG_ERROR, "CACHEKIT_METRICS_FILE=\"%s\": cannot write it (%s)", metrics_file, strerror(errno));
        unlink(tmp);
    }
}

/* ------------------------------------------------------------------ HTTP */

/* Copies len bytes of src as a string; false when they do not fit. */
static bool copy_part(char *dst, size_t cap, const char *src, size_t len) {
    if (len >= cap)
        return false;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return true;
}

/* "PORT" (loopback), "HOST:PORT" or "[V6]:PORT"; false when malformed. */
static bool split_listen(const char *spec, char *host, size_t host_cap, char *port, size_t port_cap) {
    const char *colon = strrchr(spec, ':');
    const char *port_text = colon == NULL ? spec : colon + 1;
    bool ok;
    if (colon == NULL) {
        ok = copy_part(host, host_cap, "127.0.0.1", 9);
    } else if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        ok = close != NULL && close + 1 == colon && copy_part(host, host_cap, spec + 1, (size_t)(close - spec - 1));
    } else {
        ok = copy_part(host, host_cap, spec, (size_t)(colon - spec));
    }
    if (!ok || !copy_part(port, port_cap, port_text, strlen(port_text)))
        return false;
    if (port[0] == '\0' || strspn(port, "0123456789") != strlen(port) || atoi(port) > 65535)
        return false;
    return host[0] != '\0';
}

static int open_listener(const char *spec) {
    char host[128], port[16];
    if (!split_listen(spec, host, sizeof host, port, sizeof port)) {
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
        bind(fd, found->ai_addr, found->ai_addrlen) != 0 || listen(fd, 16) != 0) {
        ck_log(CK_LOG_ERROR, "CACHEKIT_METRICS_LISTEN=\"%s\": cannot listen (%s); no metrics over HTTP, the program "
                             "runs on",
               spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(found);
    return fd;
}

static void send_all(int fd, const char *bytes, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, bytes, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        bytes += n;
        len -= (size_t)n;
    }
}

static void respond(int fd, const char *status, const char *type, const ck_buf *body, bool head_only) {
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status,
                     type, body->len);
    send_all(fd, head, (size_t)n);
    if (!head_only)
        send_all(fd, body->bytes, body->len);
}

/* One request: the request line and headers, read within the deadline. */
static void serve(int fd) {
    struct timeval deadline = {.tv_sec = CLIENT_DEADLINE_MS / 1000, .tv_usec = CLIENT_DEADLINE_MS % 1000 * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &deadline, sizeof deadline);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &deadline, sizeof deadline);
    char request[REQUEST_MAX + 1] = "";
    size_t len = 0;
    uint64_t give_up = ck_clock_monotonic_ns() + CLIENT_DEADLINE_MS * 1000000ull;
    while (len < REQUEST_MAX && strstr(request, "\r\n\r\n") == NULL && ck_clock_monotonic_ns() < give_up) {
        ssize_t n = recv(fd, request + len, REQUEST_MAX - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        request[len] = '\0';
    }
    request[len] = '\0';
    char method[8] = "", path[256] = "";
    sscanf(request, "%7s %255s", method, path);
    bool head_only = strcmp(method, "HEAD") == 0;
    char *query = strchr(path, '?');
    if (query != NULL)
        *query = '\0';
    ck_buf *body = &document;
    body->len = 0;
    if (strcmp(method, "GET") != 0 && !head_only) {
        ck_buf_printf(body, 256, "only GET and HEAD\n");
        respond(fd, "405 Method Not Allowed", "text/plain", body, false);
    } else if (strcmp(path, "/metrics") == 0 && ck_exposition_metrics(body)) {
        respond(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body, head_only);
    } else if (strcmp(path, "/health") == 0 && ck_exposition_health(body)) {
        respond(fd, "200 OK", "application/json", body, head_only);
    } else if (strcmp(path, "/metrics") == 0 || strcmp(path, "/health") == 0) {
        body->len = 0;
        ck_buf_printf(body, 256, "out of memory\n");
        respond(fd, "503 Service Unavailable", "text/plain", body, head_only);
    } else {
        ck_buf_printf(body, 256, "cachekit: /metrics or /health\n");
        respond(fd, "404 Not Found", "text/plain", body, head_only);
    }
}

/* ---------------------------------------------------------------- thread */

static void *run(void *unused) {
    (void)unused;
    uint64_t next_write = ck_clock_monotonic_ns();
    while (!atomic_load_explicit(&stop_requested, memory_order_acquire)) {
        /* at most STOP_CHECK_MS asleep: the stop is seen even if the
         * program took the wake descriptor */
        int timeout_ms = STOP_CHECK_MS;
        if (metrics_file[0] != '\0') {
            uint64_t now = ck_clock_monotonic_ns();
            if (now >= next_write) {
                write_file();
                next_write = now + interval_ns;
            }
            uint64_t until = (next_write - now + 999999) / 1000000;
            timeout_ms = until < STOP_CHECK_MS ? (int)until : STOP_CHECK_MS;
        }
        /* the program may have closed either descriptor (and reused the
         * number): then it is forgotten, never polled nor accepted on */
        if (wake[0].fd >= 0 && !still_owned(&wake[0]))
            wake[0].fd = -1;
        if (listener.fd >= 0 && !still_owned(&listener)) {
            CK_LOG_ONCE(CK_LOG_WARN, "the program closed the metrics listening socket; no metrics over HTTP");
            listener.fd = -1;
        }
        struct pollfd fds[2] = {{.fd = wake[0].fd, .events = POLLIN}, {.fd = listener.fd, .events = POLLIN}};
        int n = poll(fds, 2, timeout_ms); /* (a negative fd is skipped) */
        if (n < 0 && errno != EINTR)
            break;
        if (fds[0].revents & POLLIN)
            break;
        if (listener.fd >= 0 && (fds[1].revents & POLLIN) && still_owned(&listener)) {
            int client = accept4(listener.fd, NULL, NULL, SOCK_CLOEXEC);
            if (client >= 0) {
                serve(client);
                close(client);
            }
        }
    }
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
    wake[0] = own(fds[0]);
    wake[1] = own(fds[1]);
    /* the document's room, taken here by the program's thread: the
     * exporter thread then does not allocate for a usual document, so a
     * fork while it works cannot leave it (or a child) waiting on an
     * allocator lock (ASan's allocator is not fork-safe) */
    ck_buf_reserve(&document, DOCUMENT_ROOM);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread inherits the full mask */
    int rc = pthread_create(&thread, NULL, run, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    running = rc == 0;
    if (!running) {
        ck_log(CK_LOG_ERROR, "cannot start the metrics exporter thread (%s); no metrics", strerror(rc));
        let_go(&wake[0]);
        let_go(&wake[1]);
    }
}

static void forked_child(void) { running = false; /* the thread stayed in the parent */ }

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
        let_go(&wake[0]);
        let_go(&wake[1]);
        if (!still_owned(&listener))
            listener.fd = -1;
    } else {
        pthread_atfork(NULL, NULL, forked_child);
    }
    if (listen_spec[0] != '\0' && listener.fd < 0)
        listener = own(open_listener(listen_spec));
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
    if (still_owned(&wake[1])) { /* else the thread sees the flag within STOP_CHECK_MS */
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
        ck_log(CK_LOG_WARN, "the metrics exporter did not stop within %d s; exiting without its last write", JOIN_WAIT_S);
        return;
    }
    if (metrics_file[0] != '\0')
        write_file(); /* the final counts, for a program that ends */
    ck_buf_release(&document);
}

CK_EXPORT int cachekit_health(char *buf, size_t size) {
    ck_buf doc = CK_BUF_EMPTY;
    if (!ck_exposition_health(&doc)) {
        ck_buf_release(&doc);
        return -1;
    }
    if (buf != NULL && size > 0) {
        size_t n = doc.len < size - 1 ? doc.len : size - 1;
        memcpy(buf, doc.bytes, n);
        buf[n] = '\0';
    }
    int len = (int)doc.len;
    ck_buf_release(&doc);
    return len;
}
