/* The refusals of CK_ENTRY (api.h), out of the wrappers' hot path. */
#include "api.h"

#include "log.h"

__attribute__((noinline, cold)) bool ck_api_refused(const char *function, bool hiredis_ready, bool has_function) {
    if (!hiredis_ready)
        return ck_hiredis_missing(function);
    if (!has_function) {
        CK_LOG_ONCE(CK_LOG_ERROR, "%s: this hiredis has no such function (it came with hiredis 1.x); failing the call",
                    function);
        return true;
    }
    CK_LOG_ONCE(CK_LOG_WARN, "%s called with a NULL context; returning an error instead of crashing (reported once)",
                function);
    return true;
}
