/* The shape of every exported function: CK_EXPORT makes it visible (the
 * shim is built with -fvisibility=hidden), and its first line is
 * CK_ENTRY, which tells the program's calls from hiredis's own (guard.h),
 * and returns `failed` (with one diagnostic) while hiredis is not found or
 * this version lacks `fn`, or when the program passes a NULL context to a
 * function that needs one (commands, replies, event handlers: hiredis
 * would crash). The body then hands the call to the policy layer; no
 * decision is made here. */
#ifndef CACHEKIT_API_H
#define CACHEKIT_API_H

#include <stdbool.h>

#include "guard.h"
#include "real.h"

#define CK_EXPORT __attribute__((visibility("default")))

/* For CK_ENTRY's `context` when the function takes none, or takes NULL as
 * hiredis does (redisFree(NULL) frees nothing). A function hiredis would
 * crash in on NULL gets its context checked: an error instead. */
#define CK_NO_CONTEXT ((const void *)"")

/* The diagnostic; always true (the caller returns its error value). */
bool ck_api_refused(const char *function, bool hiredis_ready, bool has_function);

#define CK_ENTRY(fn, context, failed)                                                                                  \
    CK_GUARD_ENTRY(fn);                                                                                                \
    if (__builtin_expect(!ck_real_ready() || ck_real.fn == NULL || (context) == NULL, 0) &&                            \
        ck_api_refused(#fn, ck_real_ready(), ck_real_ready() && ck_real.fn != NULL))                                   \
    return failed

#endif
