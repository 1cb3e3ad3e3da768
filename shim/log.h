/* Diagnostics of the shim. The host program owns stdout; the shim only ever
 * writes single lines to stderr, prefixed so an operator can grep for them. */
#ifndef CACHEKIT_LOG_H
#define CACHEKIT_LOG_H

typedef enum {
    CK_LOG_OFF = 0,
    CK_LOG_ERROR = 1,
    CK_LOG_WARN = 2,
    CK_LOG_INFO = 3,
    CK_LOG_DEBUG = 4,
} ck_log_level;

void ck_log_set_level(ck_log_level level);
int ck_log_enabled(ck_log_level level);
void ck_log(ck_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
