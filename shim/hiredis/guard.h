/* Reentrancy guard. hiredis calls its own exported functions through the
 * PLT (redisCommand -> redisvCommand -> redisGetReply), and with the shim
 * preloaded those calls land in the shim's wrappers again. While the shim
 * is inside a real hiredis call, this thread's depth is non-zero and every
 * wrapper called from hiredis's own code passes straight through, so each
 * call of the program counts once. */
#ifndef CACHEKIT_GUARD_H
#define CACHEKIT_GUARD_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "real.h"

/* How many real hiredis calls of the shim this thread is inside. */
typedef struct {
    unsigned depth;
} ck_guard_state;

extern __thread ck_guard_state ck_guard __attribute__((tls_model("initial-exec")));

/* True while this thread is inside a real hiredis call made by the shim
 * (and the call being handled is hiredis's own, see CK_GUARD_ENTRY). */
#define ck_in_real_call() (__builtin_expect(ck_guard.depth != 0, 0))

/* False in a program that CACHEKIT_ONLY_CMDS / CACHEKIT_SKIP_CMDS leave
 * out: the shim then manages no context at all, and every call passes
 * straight through. */
extern bool ck_shim_active;

/* True when this call comes from the program (not from hiredis itself),
 * the shim is active in it, and the real library is known: the shim's
 * policy applies. */
#define ck_from_program() (!ck_in_real_call() && ck_shim_active && ck_real_ready())

static inline unsigned ck_guard_enter(void) { return ck_guard.depth++; }
static inline void ck_guard_leave(unsigned *entered_at) {
    (void)entered_at;
    ck_guard.depth--;
}

/* A program may leave a hiredis call without returning (alarm +
 * siglongjmp, a C++ exception through a callback), and its callbacks may
 * run inside a real call (an async context freed under the guard calls
 * them): the depth is then up while the program calls again. So every
 * exported function looks at who called it: hiredis's own code (its PLT
 * calls into the shim's wrappers, for the functions it calls itself)
 * passes straight through; anyone else is the program, whose call is handled as one with the depth at 0 for its
 * duration, and put back when it returns. Free while the depth is 0. */
#define CK_GUARD_INTERNAL UINT_MAX

unsigned ck_guard_program_call(const void *caller, bool hiredis_calls_it);

static inline unsigned ck_guard_entry(const void *caller, bool hiredis_calls_it) {
    return __builtin_expect(ck_guard.depth == 0, 1) ? 0 : ck_guard_program_call(caller, hiredis_calls_it);
}

static inline void ck_guard_exit(unsigned *depth_before) {
    if (__builtin_expect(*depth_before != 0, 0) && *depth_before != CK_GUARD_INTERNAL)
        ck_guard.depth = *depth_before;
}

/* The first line of every exported function (api.h's CK_ENTRY). A function
 * hiredis never calls itself is always the program's: a program callback
 * that ends in a hiredis call may jump to it (a tail call) with hiredis's
 * code as the return address. */
#define CK_GUARD_ENTRY(fn)                                                                                             \
    __attribute__((cleanup(ck_guard_exit))) unsigned ck_depth_before_ =                                                \
        ck_guard_entry(__builtin_return_address(0), CK_HIREDIS_CALLS_##fn);                                            \
    (void)ck_depth_before_

/* The one way the shim calls hiredis: CK_REAL_CALL(fn, args...) calls the
 * real `fn` with the guard held and gives its value (or none, for a void
 * function). Every call into hiredis goes through it, with two
 * exceptions: the async event handlers (policy/async.c) run hiredis's
 * handler and callback loop without the guard, because the program's
 * callbacks run inside them and the commands they send are the program's
 * own; and the reply reader's functions (hiredis/reply.c) skip it, since
 * they call nothing the shim wraps and sit on the open path. */
#define CK_REAL_CALL(fn, ...)                                                                                          \
    ({                                                                                                                 \
        __attribute__((cleanup(ck_guard_leave))) unsigned ck_entered_at_ = ck_guard_enter();                           \
        (void)ck_entered_at_;                                                                                          \
        ck_real.fn(__VA_ARGS__);                                                                                       \
    })

/* For a program call made before hiredis could be found: one diagnostic,
 * and the caller returns its error value. */
bool ck_hiredis_missing(const char *function);

#endif
