/* Table-driven parsing of CACHEKIT_* variables. Each variable is one row:
 * its name, its kind, where it lands in ck_config, its default and its
 * range, so adding a variable is adding a row, and every variable gets the
 * same strict parsing and the same diagnostic. Pure: the environment and
 * the diagnostic sink are injected, which is what the unit tests drive. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { KIND_BOOL, KIND_UINT, KIND_SECONDS, KIND_LOG_LEVEL, KIND_TEXT } value_kind;

typedef struct {
    const char *name;
    value_kind kind;
    size_t offset;
    double min, max; /* for KIND_UINT and KIND_SECONDS */
} config_row;

static const config_row rows[] = {
    {"CACHEKIT_CIRCUIT_BREAKER_ENABLED", KIND_BOOL, offsetof(ck_config, breaker_enabled), 0, 0},
    {"CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD", KIND_UINT, offsetof(ck_config, failure_threshold), 1,
     1000000},
    {"CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT", KIND_SECONDS, offsetof(ck_config, recovery_timeout_ns),
     0.001, 86400},
    {"CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT_MAX", KIND_SECONDS,
     offsetof(ck_config, recovery_timeout_max_ns), 0.001, 86400},
    {"CACHEKIT_SOCKET_CONNECT_TIMEOUT", KIND_SECONDS, offsetof(ck_config, connect_timeout_ns), 0, 3600},
    {"CACHEKIT_SOCKET_TIMEOUT", KIND_SECONDS, offsetof(ck_config, socket_timeout_ns), 0, 3600},
    {"CACHEKIT_SLOW_CALL_THRESHOLD", KIND_SECONDS, offsetof(ck_config, slow_call_ns), 0, 3600},
    {"CACHEKIT_ADAPTIVE_TIMEOUT", KIND_BOOL, offsetof(ck_config, adaptive_timeout), 0, 0},
    {"CACHEKIT_LAZY_CONNECT", KIND_BOOL, offsetof(ck_config, lazy_connect), 0, 0},
    {"CACHEKIT_L1_ENABLED", KIND_BOOL, offsetof(ck_config, l1_enabled), 0, 0},
    {"CACHEKIT_L1_MAX_SIZE_MB", KIND_UINT, offsetof(ck_config, l1_max_size_mb), 1, 65536},
    {"CACHEKIT_L1_MAX_ENTRY_BYTES", KIND_UINT, offsetof(ck_config, l1_max_entry_bytes), 16, 1u << 30},
    {"CACHEKIT_DEFAULT_TTL", KIND_SECONDS, offsetof(ck_config, l1_ttl_ns), 0.001, 31536000},
    {"CACHEKIT_L1_STALE_IF_ERROR", KIND_BOOL, offsetof(ck_config, l1_stale_if_error), 0, 0},
    {"CACHEKIT_L1_KEYS", KIND_TEXT, offsetof(ck_config, l1_keys), 0, sizeof(((ck_config *)0)->l1_keys) - 1},
    {"CACHEKIT_LOG_LEVEL", KIND_LOG_LEVEL, offsetof(ck_config, log_level), 0, 0},
};

static const char *const level_names[] = {"off", "error", "warn", "info", "debug"};

void ck_config_defaults(ck_config *cfg) {
    cfg->breaker_enabled = true;
    cfg->failure_threshold = 5;
    cfg->recovery_timeout_ns = 30ull * 1000000000ull;
    cfg->recovery_timeout_max_ns = 300ull * 1000000000ull;
    cfg->connect_timeout_ns = 2ull * 1000000000ull;
    cfg->socket_timeout_ns = 5ull * 1000000000ull;
    cfg->slow_call_ns = 0;
    cfg->adaptive_timeout = false;
    cfg->lazy_connect = true;
    cfg->l1_enabled = true;
    cfg->l1_max_size_mb = 32;
    cfg->l1_max_entry_bytes = 256u << 10;
    cfg->l1_ttl_ns = 300ull * 1000000000ull;
    cfg->l1_stale_if_error = true;
    cfg->l1_keys[0] = '\0';
    cfg->log_level = CK_LOG_INFO;
}

static bool parse_bool(const char *s, bool *out) {
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool parse_uint(const char *s, double min, double max, uint32_t *out) {
    if (!isdigit((unsigned char)s[0]))
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || (double)v < min || (double)v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool parse_seconds(const char *s, double min, double max, uint64_t *out_ns) {
    if (!isdigit((unsigned char)s[0]) && s[0] != '.')
        return false;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v) || v < min || v > max)
        return false;
    *out_ns = (uint64_t)llround(v * 1e9);
    return true;
}

static bool parse_log_level(const char *s, ck_log_level *out) {
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (ck_log_level)i;
            return true;
        }
    }
    return false;
}

static bool parse_text(const char *s, double max, char *out) {
    size_t len = strlen(s);
    if (len > (size_t)max)
        return false;
    memcpy(out, s, len + 1);
    return true;
}

static bool parse_row(const config_row *row, const char *value, ck_config *cfg) {
    void *field = (char *)cfg + row->offset;
    switch (row->kind) {
    case KIND_BOOL: return parse_bool(value, field);
    case KIND_UINT: return parse_uint(value, row->min, row->max, field);
    case KIND_SECONDS: return parse_seconds(value, row->min, row->max, field);
    case KIND_LOG_LEVEL: return parse_log_level(value, field);
    case KIND_TEXT: return parse_text(value, row->max, field);
    }
    return false;
}

static void describe_default(const config_row *row, const ck_config *defaults, char *buf, size_t len) {
    const void *field = (const char *)defaults + row->offset;
    switch (row->kind) {
    case KIND_BOOL: snprintf(buf, len, "%s", *(const bool *)field ? "true" : "false"); break;
    case KIND_UINT: snprintf(buf, len, "%u", (unsigned)*(const uint32_t *)field); break;
    case KIND_SECONDS: snprintf(buf, len, "%g", (double)*(const uint64_t *)field / 1e9); break;
    case KIND_LOG_LEVEL: snprintf(buf, len, "%s", level_names[*(const ck_log_level *)field]); break;
    case KIND_TEXT: snprintf(buf, len, "\"%.20s\"", (const char *)field); break;
    }
}

static const char *expected(const config_row *row, char *buf, size_t len) {
    switch (row->kind) {
    case KIND_BOOL: return "true/false, yes/no, on/off or 1/0";
    case KIND_UINT: snprintf(buf, len, "a whole number from %g to %g", row->min, row->max); return buf;
    case KIND_SECONDS: snprintf(buf, len, "seconds from %g to %g", row->min, row->max); return buf;
    case KIND_LOG_LEVEL: return "off, error, warn, info or debug";
    case KIND_TEXT: snprintf(buf, len, "at most %g characters", row->max); return buf;
    }
    return "?";
}

int ck_config_load(ck_config *cfg, ck_getenv_fn getenv_fn, ck_config_report_fn report) {
    ck_config defaults;
    ck_config_defaults(&defaults);
    *cfg = defaults;
    int problems = 0;
    bool max_set = false;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *value = getenv_fn(rows[i].name);
        if (value == NULL || value[0] == '\0')
            continue;
        if (parse_row(&rows[i], value, cfg)) {
            max_set |= rows[i].offset == offsetof(ck_config, recovery_timeout_max_ns);
            continue;
        }
        /* parse_* write only on success, so the field still holds its default */
        problems++;
        if (report != NULL) {
            char def[32], range[64], line[400];
            describe_default(&rows[i], &defaults, def, sizeof def);
            snprintf(line, sizeof line, "%s=\"%.80s\" is not valid (expected %s); using the default %s",
                     rows[i].name, value, expected(&rows[i], range, sizeof range), def);
            report(line);
        }
    }
    /* the cap of the growing cooldown cannot be below the cooldown itself */
    if (cfg->recovery_timeout_max_ns < cfg->recovery_timeout_ns) {
        if (max_set) {
            problems++;
            if (report != NULL) {
                char line[400];
                snprintf(line, sizeof line,
                         "CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT_MAX=%g is below "
                         "CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=%g; using %g (no growth)",
                         (double)cfg->recovery_timeout_max_ns / 1e9, (double)cfg->recovery_timeout_ns / 1e9,
                         (double)cfg->recovery_timeout_ns / 1e9);
                report(line);
            }
        }
        cfg->recovery_timeout_max_ns = cfg->recovery_timeout_ns;
    }
    return problems;
}
