/* The reentrancy guard's state and its slow path (guard.h), and the
 * diagnostic for a hiredis that cannot be found. */
#include "guard.h"

#include "log.h"

__thread ck_guard_state ck_guard __attribute__((tls_model("initial-exec")));
bool ck_shim_active = true;

bool ck_hiredis_missing(const char *function) {
    CK_LOG_ONCE(CK_LOG_ERROR, "%s: the real hiredis library was not found below the shim; failing the call", function);
    return true;
}

unsigned ck_guard_program_call(const void *caller, bool hiredis_calls_it) {
    if (hiredis_calls_it && ck_real_owns_code(caller))
        return CK_GUARD_INTERNAL; /* hiredis calling itself through its PLT */
    CK_LOG_ONCE(CK_LOG_DEBUG, "a program call while inside hiredis (a callback run by hiredis, or a call left by "
                              "longjmp): handled as the program's");
    unsigned depth = ck_guard.depth;
    ck_guard.depth = 0;
    return depth;
}
