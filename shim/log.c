/* One-line diagnostics to stderr. A line is formatted into a stack buffer and
 * written with a single write(2) so lines from several threads never
 * interleave, errno is preserved because the host program may be about to
 * read it, and nothing here allocates (it can run from the init path). */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static ck_log_level current_level = CK_LOG_INFO;

static const char *const level_names[] = {"off", "error", "warn", "info", "debug"};

void ck_log_set_level(ck_log_level level) { current_level = level; }

int ck_log_enabled(ck_log_level level) { return level != CK_LOG_OFF && level <= current_level; }

void ck_log(ck_log_level level, const char *fmt, ...) {
    if (!ck_log_enabled(level))
        return;
    int saved_errno = errno;
    char line[512];
    int n = snprintf(line, sizeof line, "cachekit[%ld]: %s: ", (long)getpid(), level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
    errno = saved_errno;
}
