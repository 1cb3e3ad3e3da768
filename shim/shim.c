/* Load-time set-up of the shim: read the configuration, resolve hiredis,
 * and the process-wide pieces every wrapper shares (the reentrancy guard,
 * the diagnostics for a hiredis that cannot be found). Nothing here may
 * call into hiredis before it is resolved, nor print to stdout. */
#include <stdlib.h>

#include "cache.h"
#include "config.h"
#include "connect.h"
#include "endpoint.h"
#include "guard.h"
#include "log.h"
#include "real.h"
#include "reply.h"
#include "timeouts.h"

__thread unsigned ck_guard_depth __attribute__((tls_model("initial-exec")));

static void report_config_problem(const char *line) { ck_log(CK_LOG_WARN, "%s", line); }

static const char *read_env(const char *name) { return getenv(name); }

__attribute__((constructor)) static void cachekit_init(void) {
    ck_config cfg;
    ck_config_load(&cfg, read_env, NULL); /* first pass: the log level itself */
    ck_log_set_level(cfg.log_level);
    ck_config_load(&cfg, read_env, report_config_problem);
    ck_endpoint_configure(&cfg);
    ck_connect_configure(&cfg);
    ck_timeouts_configure(&cfg);
    ck_cache_configure(&cfg);
    ck_log(CK_LOG_DEBUG, "loaded: breaker %s, failure threshold %u, recovery timeout %.3fs",
           cfg.breaker_enabled ? "enabled" : "disabled", (unsigned)cfg.failure_threshold,
           (double)cfg.recovery_timeout_ns / 1e9);
    /* hiredis may not be loaded yet (a Perl or Ruby program dlopens it
     * later): the wrappers retry until it is. */
    ck_real_ready();
}

__attribute__((destructor)) static void cachekit_fini(void) {
    if (ck_real_ready())
        ck_reply_thread_cleanup();
}

bool ck_hiredis_missing(const char *function) {
    CK_LOG_ONCE(CK_LOG_ERROR, "%s: the real hiredis library was not found below the shim; failing the call",
                function);
    return true;
}
