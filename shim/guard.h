/* Reentrancy guard. hiredis calls its own exported functions through the
 * PLT (redisCommand -> redisvCommand -> redisGetReply), and with the shim
 * preloaded those calls land in the shim's wrappers again. While the shim
 * is inside a real hiredis call, this thread's depth is non-zero and every
 * wrapper passes straight through, so each call of the program counts once. */
#ifndef CACHEKIT_GUARD_H
#define CACHEKIT_GUARD_H

#include <stdbool.h>

#include "real.h"

extern __thread unsigned ck_guard_depth __attribute__((tls_model("initial-exec")));

/* False in a program that CACHEKIT_ONLY_CMDS / CACHEKIT_SKIP_CMDS leave
 * out: the shim then manages no context at all, and every call passes
 * straight through. */
extern bool ck_shim_active;

/* True when this call comes from the program (not from hiredis itself),
 * the shim is active in it, and the real library is known: the shim's
 * policy applies. */
static inline bool ck_from_program(void) { return ck_guard_depth == 0 && ck_shim_active && ck_real_ready(); }

static inline void ck_guard_enter(void) { ck_guard_depth++; }
static inline void ck_guard_leave(void) { ck_guard_depth--; }

/* Evaluates a real hiredis call (of a non-void function) with the guard held. */
#define CK_REAL_CALL(expr)                                                                           \
    ({                                                                                               \
        ck_guard_enter();                                                                            \
        __typeof__(expr) ck_value_ = (expr);                                                         \
        ck_guard_leave();                                                                            \
        ck_value_;                                                                                   \
    })

/* The same for a real call that returns nothing. */
#define CK_REAL_CALL_VOID(expr)                                                                      \
    do {                                                                                             \
        ck_guard_enter();                                                                            \
        expr;                                                                                        \
        ck_guard_leave();                                                                            \
    } while (0)

/* For a program call made before hiredis could be found: one diagnostic,
 * and the caller returns its error value. */
bool ck_hiredis_missing(const char *function);

/* First line of a wrapper that returns a pointer: NULL (with the
 * diagnostic) while the real `fn` is not known. */
#define CK_REQUIRE_HIREDIS(fn)                                                                       \
    if (!ck_real_ready() || ck_real.fn == NULL) {                                                    \
        ck_hiredis_missing(#fn);                                                                     \
        return NULL;                                                                                 \
    }

#endif
