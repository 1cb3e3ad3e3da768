/* The reentrancy guard's state (guard.h) and the diagnostic for a hiredis
 * that cannot be found. */
#include "guard.h"

#include "log.h"

__thread ck_guard_state ck_guard __attribute__((tls_model("initial-exec")));
bool ck_shim_active = true;

bool ck_hiredis_missing(const char *function) {
    CK_LOG_ONCE(CK_LOG_ERROR, "%s: the real hiredis library was not found below the shim; failing the call", function);
    return true;
}

/* Not instrumented: the mark may sit in a frame that a non-local exit
 * left behind, which a sanitizer would rightly call dead. */
__attribute__((noinline, no_sanitize_address)) bool ck_guard_held(uintptr_t asking_frame) {
    if (asking_frame < ck_guard.frame && ck_guard.mark != NULL && *ck_guard.mark == ck_guard.token)
        return true;
    CK_LOG_ONCE(CK_LOG_DEBUG, "a hiredis call was left without returning (longjmp?); the shim applies again");
    ck_guard.depth = 0;
    ck_guard.frame = 0;
    ck_guard.mark = NULL;
    return false;
}
