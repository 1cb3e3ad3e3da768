/* Reading a context's error (see errors.h). hiredis words I/O errors with
 * strerror, in the program's locale, so they are compared with strerror's
 * text rather than with English. */
#include "errors.h"

#include <errno.h>
#include <string.h>

#include "abi.h"

const char *ck_ctx_cause(const redisContext *c) {
    if (ck_ctx_err(c) == REDIS_ERR_TIMEOUT || strcmp(ck_ctx_errstr(c), strerror(EAGAIN)) == 0)
        return "timed out";
    return ck_ctx_errstr(c);
}

bool ck_ctx_unavailable(const redisContext *c, bool is_unix) {
    static const int unavailable[] = {ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, ECONNRESET, ECONNABORTED};
    if (ck_ctx_err(c) == REDIS_ERR_TIMEOUT)
        return true;
    if (ck_ctx_err(c) != REDIS_ERR_IO)
        return false;
    for (size_t i = 0; i < sizeof unavailable / sizeof unavailable[0]; i++)
        if (strstr(ck_ctx_errstr(c), strerror(unavailable[i])) != NULL)
            return true;
    return is_unix && strstr(ck_ctx_errstr(c), strerror(ENOENT)) != NULL;
}
