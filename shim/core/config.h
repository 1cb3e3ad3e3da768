/* CACHEKIT_* configuration: read once at load time, validated, defaulted. */
#ifndef CACHEKIT_CONFIG_H
#define CACHEKIT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "log.h"

/* What a write gets while its circuit is open (CACHEKIT_OPEN_WRITES). */
typedef enum {
    CK_OPEN_WRITES_ERROR = 0, /* the error a dead server gives: the program knows it was not done */
    CK_OPEN_WRITES_NIL = 1,   /* a nil reply, as a read gets: for caches, where a lost write is harmless */
} ck_open_writes;

typedef struct {
    bool breaker_enabled;              /* CACHEKIT_CIRCUIT_BREAKER_ENABLED */
    uint32_t failure_threshold;        /* CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD */
    uint64_t recovery_timeout_ns;      /* CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT (seconds) */
    uint64_t recovery_timeout_max_ns;  /* CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT_MAX */
    uint64_t connect_timeout_ns;       /* CACHEKIT_SOCKET_CONNECT_TIMEOUT, 0: none added */
    uint64_t socket_timeout_ns;        /* CACHEKIT_SOCKET_TIMEOUT, 0: none added */
    uint64_t socket_timeout_max_ns;    /* CACHEKIT_SOCKET_TIMEOUT_MAX: caps every timeout, the program's too; 0: off */
    uint64_t health_check_interval_ns; /* CACHEKIT_HEALTH_CHECK_INTERVAL: while open, 0: off (program calls probe) */
    uint64_t slow_call_ns;             /* CACHEKIT_SLOW_CALL_THRESHOLD, 0: off */
    bool adaptive_timeout;             /* CACHEKIT_ADAPTIVE_TIMEOUT */
    bool lazy_connect;                 /* CACHEKIT_LAZY_CONNECT */
    ck_open_writes open_writes;        /* CACHEKIT_OPEN_WRITES */
    bool l1_enabled;                   /* CACHEKIT_L1_ENABLED */
    uint32_t l1_max_size_mb;           /* CACHEKIT_L1_MAX_SIZE_MB */
    uint32_t l1_max_entry_bytes;       /* CACHEKIT_L1_MAX_ENTRY_BYTES */
    uint64_t l1_ttl_ns;                /* CACHEKIT_DEFAULT_TTL: maximum staleness served */
    bool l1_stale_if_error;            /* CACHEKIT_L1_STALE_IF_ERROR */
    char l1_keys[512];                 /* CACHEKIT_L1_KEYS: comma-separated globs, empty: all keys */
    ck_log_level log_level;            /* CACHEKIT_LOG_LEVEL */
    ck_log_destination log_to;         /* CACHEKIT_LOG: stderr or syslog */
    uint32_t log_rate_limit;           /* CACHEKIT_LOG_RATE_LIMIT: lines per minute, 0: unlimited */
    char metrics_file[1024];           /* CACHEKIT_METRICS_FILE, empty: off */
    char metrics_listen[128];          /* CACHEKIT_METRICS_LISTEN: [HOST:]PORT, empty: off */
    uint64_t metrics_interval_ns;      /* CACHEKIT_METRICS_INTERVAL: seconds between file writes */
    char only_cmds[1024];              /* CACHEKIT_ONLY_CMDS: programs the shim is active in, empty: all */
    char skip_cmds[1024];              /* CACHEKIT_SKIP_CMDS: programs it stays out of */
    char shared_state[256];            /* CACHEKIT_SHARED_STATE: on, off, or the file's absolute path */
} ck_config;

/* The shortest health check interval (0 aside: off). */
#define CK_HEALTH_CHECK_INTERVAL_MIN_NS 100000000ull

/* A boolean as every CACHEKIT_* variable spells it: 1/0, true/false,
 * yes/no, on/off (any case). false when s is none of them. */
bool ck_config_parse_bool(const char *s, bool *out);

/* How long a health check may take to connect, and to read each reply:
 * bounded even when the shim adds no timeout to the program's calls. */
uint64_t ck_config_check_connect_bound_ns(const ck_config *cfg);
uint64_t ck_config_check_reply_bound_ns(const ck_config *cfg);
/* How long one lease of a health check on a circuit lasts: it outlives a
 * check thread's longest gap between two renewals (a sleep of at most
 * 1.2 intervals, and a check of at most a connect and two reply bounds,
 * with room for a slow scheduler). */
uint64_t ck_config_check_lease_ns(const ck_config *cfg);

typedef const char *(*ck_getenv_fn)(const char *name);
/* Receives one finished diagnostic line (no newline) per bad variable. */
typedef void (*ck_config_report_fn)(const char *line);

void ck_config_defaults(ck_config *cfg);
/* Fills cfg from the environment. Every malformed or out-of-range value is
 * reported once, naming the variable, the value and the default used;
 * returns the number of such problems. */
int ck_config_load(ck_config *cfg, ck_getenv_fn getenv_fn, ck_config_report_fn report);

/* Whether the shim is active in the program of that name (its basename):
 * listed in `only` (comma-separated names) when that is not empty, and not
 * listed in `skip`. */
bool ck_config_program_selected(const char *program, const char *only, const char *skip);

#endif
