/* The refusals of CK_ENTRY (api.h), out of the wrappers' hot path. */
#include "api.h"

#include "log.h"

__attribute__((noinline, cold)) bool ck_api_refused(const char *function, bool hiredis_found) {
    if (!hiredis_found)
        return ck_hiredis_missing(function);
    CK_LOG_ONCE(CK_LOG_WARN, "%s called with a NULL context; returning an error instead of crashing (reported once)",
                function);
    return true;
}
