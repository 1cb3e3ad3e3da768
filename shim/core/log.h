/* Diagnostics of the shim. The host program owns stdout; the shim only ever
 * writes single lines to stderr, prefixed so an operator can grep for them. */
#ifndef CACHEKIT_LOG_H
#define CACHEKIT_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CK_LOG_OFF = 0,
    CK_LOG_ERROR = 1,
    CK_LOG_WARN = 2,
    CK_LOG_INFO = 3,
    CK_LOG_DEBUG = 4,
} ck_log_level;

typedef enum { CK_LOG_TO_STDERR = 0, CK_LOG_TO_SYSLOG = 1 } ck_log_destination;

void ck_log_set_level(ck_log_level level);
/* Where lines go, and at most how many per minute (0: no limit); lines over
 * the limit are counted, and the count is reported by the next line that
 * passes. */
void ck_log_configure(ck_log_destination to, unsigned lines_per_minute);
int ck_log_enabled(ck_log_level level);
/* Lines not written because fd 2 was no longer the stderr of load time
 * (closed, or its number reused by the program). */
extern _Atomic uint64_t ck_log_lines_dropped;
void ck_log(ck_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Bytes as one safe line of text: printable ASCII as is (but '\\', and
 * '"' when `quote`), anything else as \xNN, never an escape cut in half.
 * Writes at most cap - 1 characters and a NUL (cap > 0); returns how many
 * source bytes it took. For log lines (ck_log_data) and endpoint names,
 * which also go into errstr and metric labels. */
size_t ck_escape(char *dst, size_t cap, const void *src, size_t len, bool quote);

/* Program or server data quoted in a log line: at most `max` (at most
 * CK_LOG_DATA_MAX) bytes of it, printable ASCII as is (but '"' and '\\'), anything else as
 * \xNN, "..." when cut; so a line stays one short line whatever the data.
 * Returns dst, which needs CK_LOG_DATA_ROOM bytes. */
#define CK_LOG_DATA_MAX 64
#define CK_LOG_DATA_ROOM (CK_LOG_DATA_MAX * 4 + 4)
const char *ck_log_data(char *dst, const void *data, size_t len, size_t max);

/* Logs only the first time this call site is reached: for causes that
 * could repeat on every call of the program. */
#define CK_LOG_ONCE(level, ...)                                                                                        \
    do {                                                                                                               \
        static atomic_int ck_logged_;                                                                                  \
        if (!atomic_exchange_explicit(&ck_logged_, 1, memory_order_relaxed))                                           \
            ck_log(level, __VA_ARGS__);                                                                                \
    } while (0)

#endif
