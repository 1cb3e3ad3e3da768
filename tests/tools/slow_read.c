/* A fault of the program's own thread, not of Redis: preloaded into a
 * program (after the shim), it holds the thread that called read() or
 * recv() for CK_SLOW_READ_MS milliseconds after each call that brought
 * bytes from a socket, as a program descheduled right after its read
 * would be (a loaded machine does that at random; this does it every
 * time); with CK_SLOW_READ_TIMES=N, only the first N such reads (a
 * program busy once). hiredis reads with read() (0.14) or recv() (1.x). The bytes are
 * then out of the socket but not yet a reply in the program's hands: the
 * shim's deadline must not take that for silence. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long delay_ms(void) {
    static long ms = -1;
    if (ms < 0) {
        const char *v = getenv("CK_SLOW_READ_MS");
        ms = v != NULL ? atol(v) : 0;
    }
    return ms;
}

/* Whether this read is one to hold (the first CK_SLOW_READ_TIMES, or all). */
static int take_turn(void) {
    static long left = -2; /* -1: every read */
    if (left == -2) {
        const char *v = getenv("CK_SLOW_READ_TIMES");
        left = v != NULL ? atol(v) : -1;
    }
    if (left < 0)
        return 1;
    if (__atomic_fetch_sub(&left, 1, __ATOMIC_RELAXED) > 0)
        return 1;
    __atomic_store_n(&left, 0, __ATOMIC_RELAXED); /* spent (never -1: every read) */
    return 0;
}

static void hold_if_socket(int fd, ssize_t got) {
    struct stat sb;
    if (got <= 0 || delay_ms() <= 0 || fstat(fd, &sb) != 0 || !S_ISSOCK(sb.st_mode) || !take_turn())
        return;
    int saved = errno;
    struct timespec ts = {delay_ms() / 1000, (delay_ms() % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    errno = saved;
}

ssize_t read(int fd, void *buf, size_t n) {
    static ssize_t (*real_read)(int, void *, size_t);
    if (real_read == NULL)
        real_read = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    ssize_t got = real_read(fd, buf, n);
    hold_if_socket(fd, got);
    return got;
}

ssize_t recv(int fd, void *buf, size_t n, int flags) {
    static ssize_t (*real_recv)(int, void *, size_t, int);
    if (real_recv == NULL)
        real_recv = (ssize_t(*)(int, void *, size_t, int))dlsym(RTLD_NEXT, "recv");
    ssize_t got = real_recv(fd, buf, n, flags);
    if (!(flags & MSG_PEEK))
        hold_if_socket(fd, got);
    return got;
}
