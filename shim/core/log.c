/* One-line diagnostics, to stderr or syslog (CACHEKIT_LOG). A line is
 * formatted into a stack buffer and written with a single write(2), so
 * lines from several threads never interleave; errno is preserved because
 * the host program may be about to read it; nothing here allocates or
 * locks (it runs from the init path and after fork).
 *
 * Rate limit: a generic cell-rate algorithm on one atomic word (the
 * theoretical arrival time of the next line), so an outage cannot flood a
 * log: CACHEKIT_LOG_RATE_LIMIT lines per minute on average, in bursts of as
 * many. Lines over the limit are counted and the count is reported by the
 * next line that passes. syslog(3) is called without openlog(3): the
 * program's own ident and facility stay as the program set them. A line
 * goes to stderr only while fd 2 is the file it was when the shim loaded
 * (else it is counted, not written). */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "clock.h"
#include "rate_limit.h"

static ck_log_level current_level = CK_LOG_INFO;
static ck_log_destination destination = CK_LOG_TO_STDERR;
static ck_rate_limit lines;
static _Atomic uint64_t suppressed;
/* What fd 2 was when the shim loaded: a daemon may close it and reuse the
 * number (a socket, even the Redis connection), and then a line written
 * there would land in the program's own data. */
static bool stderr_known;
static dev_t stderr_dev;
static ino_t stderr_ino;
_Atomic uint64_t ck_log_lines_dropped;

static const char *const level_names[] = {"off", "error", "warn", "info", "debug"};
static const int syslog_priorities[] = {LOG_ERR, LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

void ck_log_set_level(ck_log_level level) { current_level = level; }

void ck_log_configure(ck_log_destination to, unsigned lines_per_minute) {
    struct stat st;
    stderr_known = fstat(STDERR_FILENO, &st) == 0;
    stderr_dev = stderr_known ? st.st_dev : 0;
    stderr_ino = stderr_known ? st.st_ino : 0;
    destination = to;
    ck_rate_limit_init(&lines, lines_per_minute);
}

int ck_log_enabled(ck_log_level level) { return level != CK_LOG_OFF && level <= current_level; }

/* Takes a place for one line, or counts it as suppressed. */
static bool admitted(void) {
    if (lines.interval_ns == 0 || ck_rate_limit_admit(&lines, ck_clock_coarse_ns()))
        return true;
    atomic_fetch_add_explicit(&suppressed, 1, memory_order_relaxed);
    return false;
}

static void emit(ck_log_level level, const char *text, size_t len) {
    if (destination == CK_LOG_TO_SYSLOG) {
        syslog(syslog_priorities[level], "cachekit: %s: %.*s", level_names[level], (int)len, text);
        return;
    }
    char line[600];
    int n =
        snprintf(line, sizeof line, "cachekit[%ld]: %s: %.*s\n", (long)getpid(), level_names[level], (int)len, text);
    size_t total = n < 0 ? 0 : (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (total > 0 && line[total - 1] != '\n')
        line[total - 1] = '\n';
    struct stat st;
    if (!stderr_known || fstat(STDERR_FILENO, &st) != 0 || st.st_dev != stderr_dev || st.st_ino != stderr_ino) {
        atomic_fetch_add_explicit(&ck_log_lines_dropped, 1, memory_order_relaxed);
        return; /* fd 2 is no longer the stderr the program started with: not ours to write to */
    }
    ssize_t ignored = write(STDERR_FILENO, line, total);
    (void)ignored;
}

void ck_log(ck_log_level level, const char *fmt, ...) {
    if (!ck_log_enabled(level))
        return;
    int saved_errno = errno;
    if (admitted()) {
        uint64_t missed = atomic_exchange_explicit(&suppressed, 0, memory_order_relaxed);
        char text[512];
        if (missed > 0) {
            int m = snprintf(text, sizeof text, "%llu lines not logged (CACHEKIT_LOG_RATE_LIMIT)",
                             (unsigned long long)missed);
            emit(CK_LOG_WARN, text, m < 0 ? 0 : (size_t)m);
        }
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
        emit(level, text, m < 0 ? 0 : (size_t)m < sizeof text ? (size_t)m : sizeof text - 1);
    }
    errno = saved_errno;
}

size_t ck_escape(char *dst, size_t cap, const void *src, size_t len, bool quote) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *bytes = src;
    size_t n = 0, i = 0;
    for (; i < len; i++) {
        unsigned char b = bytes[i];
        bool plain = b >= 0x20 && b < 0x7f && b != '\\' && !(quote && b == '"');
        if (n + (plain ? 1 : 4) >= cap)
            break;
        if (plain) {
            dst[n++] = (char)b;
        } else {
            dst[n++] = '\\';
            dst[n++] = 'x';
            dst[n++] = hex[b >> 4];
            dst[n++] = hex[b & 15];
        }
    }
    dst[n] = '\0';
    return i;
}

const char *ck_log_data(char *dst, const void *data, size_t len, size_t max) {
    if (max > CK_LOG_DATA_MAX)
        max = CK_LOG_DATA_MAX;
    size_t shown = len > max ? max : len;
    /* room for every shown byte escaped, and "..." after */
    size_t taken = ck_escape(dst, CK_LOG_DATA_MAX * 4 + 1, data, shown, true);
    if (taken < len)
        strcat(dst, "...");
    return dst;
}
