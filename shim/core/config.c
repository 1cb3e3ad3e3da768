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

typedef enum { KIND_BOOL, KIND_UINT, KIND_SECONDS, KIND_CHOICE, KIND_TEXT } value_kind;

static const char *const level_names[] = {"off", "error", "warn", "info", "debug", NULL};
static const char *const destination_names[] = {"stderr", "syslog", NULL};
static const char *const open_writes_names[] = {"error", "nil", NULL};

typedef struct {
    const char *name;
    value_kind kind;
    size_t offset;
    double min, max;            /* KIND_UINT, KIND_SECONDS; KIND_TEXT: max length */
    const char *const *choices; /* KIND_CHOICE: the names, in enum order */
} config_row;

#define TEXT_MAX(field) (sizeof(((ck_config *)0)->field) - 1)

#define ROW(name, kind, field, min, max)                                                                               \
    { name, kind, offsetof(ck_config, field), min, max, NULL }
#define CHOICE_ROW(name, field, choices)                                                                               \
    { name, KIND_CHOICE, offsetof(ck_config, field), 0, 0, choices }
#define TEXT_ROW(name, field)                                                                                          \
    { name, KIND_TEXT, offsetof(ck_config, field), 0, TEXT_MAX(field), NULL }

static const config_row rows[] = {
    ROW("CACHEKIT_CIRCUIT_BREAKER_ENABLED", KIND_BOOL, breaker_enabled, 0, 0),
    ROW("CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD", KIND_UINT, failure_threshold, 1, 1000000),
    ROW("CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT", KIND_SECONDS, recovery_timeout_ns, 0.001, 86400),
    ROW("CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT_MAX", KIND_SECONDS, recovery_timeout_max_ns, 0.001, 86400),
    ROW("CACHEKIT_SOCKET_CONNECT_TIMEOUT", KIND_SECONDS, connect_timeout_ns, 0, 3600),
    ROW("CACHEKIT_SOCKET_TIMEOUT", KIND_SECONDS, socket_timeout_ns, 0, 3600),
    ROW("CACHEKIT_SOCKET_TIMEOUT_MAX", KIND_SECONDS, socket_timeout_max_ns, 0, 3600),
    ROW("CACHEKIT_HEALTH_CHECK_INTERVAL", KIND_SECONDS, health_check_interval_ns, 0, 3600),
    ROW("CACHEKIT_SLOW_CALL_THRESHOLD", KIND_SECONDS, slow_call_ns, 0, 3600),
    ROW("CACHEKIT_ADAPTIVE_TIMEOUT", KIND_BOOL, adaptive_timeout, 0, 0),
    ROW("CACHEKIT_LAZY_CONNECT", KIND_BOOL, lazy_connect, 0, 0),
    CHOICE_ROW("CACHEKIT_OPEN_WRITES", open_writes, open_writes_names),
    ROW("CACHEKIT_L1_ENABLED", KIND_BOOL, l1_enabled, 0, 0),
    ROW("CACHEKIT_L1_MAX_SIZE_MB", KIND_UINT, l1_max_size_mb, 1, 65536),
    ROW("CACHEKIT_L1_MAX_ENTRY_BYTES", KIND_UINT, l1_max_entry_bytes, 16, 1u << 30),
    ROW("CACHEKIT_DEFAULT_TTL", KIND_SECONDS, l1_ttl_ns, 0.001, 31536000),
    ROW("CACHEKIT_L1_STALE_IF_ERROR", KIND_BOOL, l1_stale_if_error, 0, 0),
    TEXT_ROW("CACHEKIT_L1_KEYS", l1_keys),
    CHOICE_ROW("CACHEKIT_LOG_LEVEL", log_level, level_names),
    CHOICE_ROW("CACHEKIT_LOG", log_to, destination_names),
    ROW("CACHEKIT_LOG_RATE_LIMIT", KIND_UINT, log_rate_limit, 0, 1000000),
    TEXT_ROW("CACHEKIT_METRICS_FILE", metrics_file),
    TEXT_ROW("CACHEKIT_METRICS_LISTEN", metrics_listen),
    ROW("CACHEKIT_METRICS_INTERVAL", KIND_SECONDS, metrics_interval_ns, 0.1, 86400),
    TEXT_ROW("CACHEKIT_ONLY_CMDS", only_cmds),
    TEXT_ROW("CACHEKIT_SKIP_CMDS", skip_cmds),
    TEXT_ROW("CACHEKIT_SHARED_STATE", shared_state),
};

void ck_config_defaults(ck_config *cfg) {
    cfg->breaker_enabled = true;
    cfg->failure_threshold = 5;
    cfg->recovery_timeout_ns = 30ull * 1000000000ull;
    cfg->recovery_timeout_max_ns = 300ull * 1000000000ull;
    cfg->connect_timeout_ns = 2ull * 1000000000ull;
    cfg->socket_timeout_ns = 5ull * 1000000000ull;
    cfg->socket_timeout_max_ns = 0;
    cfg->health_check_interval_ns = 1000000000ull;
    cfg->slow_call_ns = 0;
    cfg->adaptive_timeout = false;
    cfg->lazy_connect = true;
    cfg->open_writes = CK_OPEN_WRITES_ERROR;
    cfg->l1_enabled = true;
    cfg->l1_max_size_mb = 32;
    cfg->l1_max_entry_bytes = 256u << 10;
    cfg->l1_ttl_ns = 300ull * 1000000000ull;
    cfg->l1_stale_if_error = true;
    cfg->l1_keys[0] = '\0';
    cfg->log_level = CK_LOG_INFO;
    cfg->log_to = CK_LOG_TO_STDERR;
    cfg->log_rate_limit = 60;
    cfg->metrics_file[0] = '\0';
    cfg->metrics_listen[0] = '\0';
    cfg->metrics_interval_ns = 15ull * 1000000000ull;
    cfg->only_cmds[0] = '\0';
    cfg->skip_cmds[0] = '\0';
    snprintf(cfg->shared_state, sizeof cfg->shared_state, "on");
}

uint64_t ck_config_check_connect_bound_ns(const ck_config *cfg) {
    return cfg->connect_timeout_ns != 0 ? cfg->connect_timeout_ns : 2000000000ull;
}
uint64_t ck_config_check_reply_bound_ns(const ck_config *cfg) {
    return cfg->socket_timeout_ns != 0 ? cfg->socket_timeout_ns : 5000000000ull;
}
uint64_t ck_config_check_lease_ns(const ck_config *cfg) {
    return 3 * cfg->health_check_interval_ns +
           2 * (ck_config_check_connect_bound_ns(cfg) + 2 * ck_config_check_reply_bound_ns(cfg));
}

bool ck_config_parse_bool(const char *s, bool *out) {
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
    /* below a microsecond a timeout would become {0, 0}: none at all */
    if (errno != 0 || *end != '\0' || !isfinite(v) || v < min || v > max || (v > 0 && v < 1e-6))
        return false;
    *out_ns = (uint64_t)llround(v * 1e9);
    return true;
}

static bool parse_choice(const char *s, const char *const *choices, int *out) {
    for (int i = 0; choices[i] != NULL; i++) {
        if (strcasecmp(s, choices[i]) == 0) {
            *out = i;
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
    case KIND_BOOL: return ck_config_parse_bool(value, field);
    case KIND_UINT: return parse_uint(value, row->min, row->max, field);
    case KIND_SECONDS: return parse_seconds(value, row->min, row->max, field);
    case KIND_CHOICE: return parse_choice(value, row->choices, field);
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
    case KIND_CHOICE: snprintf(buf, len, "%s", row->choices[*(const int *)field]); break;
    case KIND_TEXT: snprintf(buf, len, "\"%.20s\"", (const char *)field); break;
    }
}

static const char *expected(const config_row *row, char *buf, size_t len) {
    switch (row->kind) {
    case KIND_BOOL: return "true/false, yes/no, on/off or 1/0";
    case KIND_UINT: snprintf(buf, len, "a whole number from %g to %g", row->min, row->max); return buf;
    case KIND_SECONDS: snprintf(buf, len, "seconds from %g to %g", row->min, row->max); return buf;
    case KIND_CHOICE: {
        size_t used = 0;
        for (int i = 0; row->choices[i] != NULL && used < len; i++)
            used += (size_t)snprintf(buf + used, len - used, "%s%s",
                                     i == 0                ? ""
                                     : row->choices[i + 1] ? ", "
                                                           : " or ",
                                     row->choices[i]);
        return buf;
    }
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
            char def[32], range[96], line[400];
            describe_default(&rows[i], &defaults, def, sizeof def);
            snprintf(line, sizeof line, "%s=\"%.80s\" is not valid (expected %s); using the default %s", rows[i].name,
                     value, expected(&rows[i], range, sizeof range), def);
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
    /* a check is a new connection: more than ten a second would be a
     * connection storm against a server that is struggling (audit) */
    if (cfg->health_check_interval_ns != 0 && cfg->health_check_interval_ns < CK_HEALTH_CHECK_INTERVAL_MIN_NS) {
        problems++;
        if (report != NULL) {
            char line[200];
            snprintf(line, sizeof line, "CACHEKIT_HEALTH_CHECK_INTERVAL=%g is below %g s; using %g",
                     (double)cfg->health_check_interval_ns / 1e9, CK_HEALTH_CHECK_INTERVAL_MIN_NS / 1e9,
                     CK_HEALTH_CHECK_INTERVAL_MIN_NS / 1e9);
            report(line);
        }
        cfg->health_check_interval_ns = CK_HEALTH_CHECK_INTERVAL_MIN_NS;
    }
    return problems;
}

/* Whether `name` is one of the comma-separated names in `list`. */
static bool listed(const char *name, const char *list) {
    size_t len = strlen(name);
    for (const char *p = list; *p != '\0';) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t n = strcspn(p, ", ");
        if (n == len && n > 0 && strncmp(p, name, n) == 0)
            return true;
        p += n;
    }
    return false;
}

bool ck_config_program_selected(const char *program, const char *only, const char *skip) {
    if (only[0] != '\0' && !listed(program, only))
        return false;
    return !listed(program, skip);
}
