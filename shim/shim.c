/* The shim's constructor and destructor: read the configuration, hand it
 * to each part, resolve hiredis; at exit stop the health check and the exporter. Nothing here
 * may call into hiredis before it is resolved, nor print to stdout. */
#include <errno.h>
#include <stdlib.h>

#include "cache.h"
#include "call.h"
#include "config.h"
#include "endpoint.h"
#include "exporter.h"
#include "exposition.h"
#include "health_check.h"
#include "guard.h"
#include "log.h"
#include "placeholder.h"
#include "real.h"
#include "reply.h"
#include "timeouts.h"

static void report_config_problem(const char *line) { ck_log(CK_LOG_WARN, "%s", line); }

static const char *read_env(const char *name) { return getenv(name); }

__attribute__((constructor)) static void cachekit_init(void) {
    ck_config cfg;
    ck_config_load(&cfg, read_env, NULL); /* first pass: the log level itself */
    ck_log_set_level(cfg.log_level);
    ck_exposition_set_program(program_invocation_short_name);
    ck_log_configure(cfg.log_to, cfg.log_rate_limit);
    ck_config_load(&cfg, read_env, report_config_problem);
    if (!ck_config_program_selected(program_invocation_short_name, cfg.only_cmds, cfg.skip_cmds)) {
        /* LD_PRELOAD is inherited by every child: this one is left alone */
        ck_shim_active = false;
        ck_log(CK_LOG_DEBUG, "inactive in %s (CACHEKIT_ONLY_CMDS / CACHEKIT_SKIP_CMDS): pure pass-through",
               program_invocation_short_name);
        return;
    }
    ck_endpoint_configure(&cfg);
    ck_placeholder_configure(&cfg);
    ck_call_configure(&cfg);
    ck_timeouts_configure(&cfg);
    ck_cache_configure(&cfg);
    ck_exporter_configure(&cfg);
    ck_health_check_configure(&cfg);
    ck_log(CK_LOG_DEBUG, "loaded: breaker %s, failure threshold %u, recovery timeout %.3fs",
           cfg.breaker_enabled ? "enabled" : "disabled", (unsigned)cfg.failure_threshold,
           (double)cfg.recovery_timeout_ns / 1e9);
    /* hiredis may not be loaded yet (a Perl or Ruby program dlopens it
     * later): the wrappers retry until it is. */
    ck_real_ready();
}

__attribute__((destructor)) static void cachekit_fini(void) {
    ck_health_check_stop();
    ck_exporter_stop();
    if (ck_real_ready())
        ck_reply_thread_cleanup();
}
