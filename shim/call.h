/* One command of the program on its way through the shim, whatever API it
 * came by: sync or async, format string, argv or preformatted bytes. Two
 * functions carry the whole policy, for both APIs:
 *
 *   ck_call_append:    classify, ask the breaker, then either send for real
 *                      (a REAL slot) or owe a synthesized reply (a SYNTH
 *                      slot: the stale value or nil);
 *   ck_call_get_reply: pay what the front slot says: a real reply, whose
 *                      outcome goes back to the breaker and the L1, or the
 *                      synthesized one.
 *
 * The sync API (sync.c) is append + get_reply, as hiredis composes it. The
 * async API (async.c) appends the same way; hiredis's own callback loop
 * then takes every reply through redisGetReply, so the same get_reply
 * hands each callback its reply in order. */
#ifndef CACHEKIT_CALL_H
#define CACHEKIT_CALL_H

#include <stdarg.h>
#include <stdbool.h>

#include "context.h"
#include "guard.h"
#include "hiredis_types.h"

typedef enum { CK_BY_FORMAT, CK_BY_ARGV, CK_BY_FORMATTED } ck_call_form;

typedef struct {
    ck_call_form form;
    const char *format;
    va_list *ap;
    int argc;
    const char **argv;
    const size_t *argvlen;
    const char *cmd;
    size_t len;
    /* async calls: the callback and its argument; is_async false for sync */
    bool is_async;
    redisCallbackFn *fn;
    void *privdata;
    char *local; /* room for formatting the command without allocating */
    size_t local_cap;
} ck_call;

int ck_call_append(redisContext *c, ck_context_state *st, ck_call *call);
int ck_call_get_reply(redisContext *c, ck_context_state *st, void **reply);

/* The state that applies to a call: NULL (plain hiredis behaviour) for
 * calls hiredis makes to itself and for contexts the shim does not manage. */
static inline ck_context_state *ck_call_state(const redisContext *c) {
    return ck_guard_depth == 0 ? ck_context_lookup(c) : NULL;
}

bool ck_call_unusable(const void *c, const char *function);

/* hiredis is there and the context is not NULL (else one diagnostic). */
static inline bool ck_call_usable(const void *c, const char *function) {
    return __builtin_expect(ck_real_ready() && c != NULL, 1) || !ck_call_unusable(c, function);
}

#endif
