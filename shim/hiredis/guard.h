/* Reentrancy guard. hiredis calls its own exported functions through the
 * PLT (redisCommand -> redisvCommand -> redisGetReply), and with the shim
 * preloaded those calls land in the shim's wrappers again. While the shim
 * is inside a real hiredis call, this thread's depth is non-zero and every
 * wrapper passes straight through, so each call of the program counts once. */
#ifndef CACHEKIT_GUARD_H
#define CACHEKIT_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "real.h"

/* The outermost real call in progress on this thread: the frame it was
 * made from and a mark on the stack that holds `token` while it runs. */
typedef struct {
    unsigned depth;
    uintptr_t frame;
    volatile uintptr_t *mark;
    uintptr_t token;
} ck_guard_state;

extern __thread ck_guard_state ck_guard __attribute__((tls_model("initial-exec")));

/* A program may leave a hiredis call without returning (alarm +
 * siglongjmp, a C++ exception through a callback): the depth then stays
 * up. So a non-zero depth is believed only while the call it counts is
 * still on the stack: below the frame asking (the stack grows down) and
 * with its mark intact. Otherwise the guard is stale, and reset. */
bool ck_guard_held(uintptr_t asking_frame);

/* True while this thread is inside a real hiredis call made by the shim. */
#define ck_in_real_call()                                                                                              \
    (__builtin_expect(ck_guard.depth != 0, 0) && ck_guard_held((uintptr_t)__builtin_frame_address(0)))

/* False in a program that CACHEKIT_ONLY_CMDS / CACHEKIT_SKIP_CMDS leave
 * out: the shim then manages no context at all, and every call passes
 * straight through. */
extern bool ck_shim_active;

/* True when this call comes from the program (not from hiredis itself),
 * the shim is active in it, and the real library is known: the shim's
 * policy applies. */
#define ck_from_program() (!ck_in_real_call() && ck_shim_active && ck_real_ready())

/* The mark holds the frame's address as its token: a frame left behind
 * by a non-local exit is overwritten by whatever runs there next. (frame
 * and mark are stale once depth is back to 0, and never read then.) */
static inline bool ck_guard_enter(volatile uintptr_t *mark, uintptr_t frame) {
    if (ck_guard.depth++ != 0)
        return false;
    ck_guard.frame = frame;
    ck_guard.mark = mark;
    ck_guard.token = frame;
    *mark = frame;
    return true;
}

static inline void ck_guard_leave(bool outermost, volatile uintptr_t *mark) {
    ck_guard.depth--;
    if (outermost)
        *mark = 0;
}

/* Held for the scope of one real call: left when the scope ends, however
 * the call's value is used (a non-local exit skips it; ck_guard_held then
 * finds the guard stale). */
typedef struct {
    bool outermost;
    volatile uintptr_t *mark;
} ck_guard_scope;

static inline void ck_guard_scope_end(ck_guard_scope *s) { ck_guard_leave(s->outermost, s->mark); }

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
        volatile uintptr_t ck_mark_ = 0;                                                                               \
        __attribute__((cleanup(ck_guard_scope_end)))                                                                   \
        ck_guard_scope ck_scope_ = {ck_guard_enter(&ck_mark_, (uintptr_t)__builtin_frame_address(0)), &ck_mark_};      \
        (void)ck_scope_;                                                                                               \
        ck_real.fn(__VA_ARGS__);                                                                                       \
    })

/* For a program call made before hiredis could be found: one diagnostic,
 * and the caller returns its error value. */
bool ck_hiredis_missing(const char *function);

#endif
