/* CACHEKIT_* parsing: good values land, bad ones fall back to the default
 * with one diagnostic naming the variable, the value and the default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"

#define SEC 1000000000ull

static const char *env_names[8];
static const char *env_values[8];
static int env_count;
static char reports[8][400];
static int report_count;

static const char *fake_getenv(const char *name) {
    for (int i = 0; i < env_count; i++)
        if (strcmp(env_names[i], name) == 0)
            return env_values[i];
    return NULL;
}

static void capture(const char *line) {
    if (report_count < 8)
        snprintf(reports[report_count++], sizeof reports[0], "%s", line);
}

static void set_env(const char *name, const char *value) {
    env_names[env_count] = name;
    env_values[env_count++] = value;
}

static int setup(void **state) {
    (void)state;
    env_count = 0;
    report_count = 0;
    return 0;
}

static void defaults_when_nothing_is_set(void **state) {
    (void)state;
    ck_config cfg;
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 0);
    assert_true(cfg.breaker_enabled);
    assert_int_equal(cfg.failure_threshold, 5);
    assert_int_equal(cfg.recovery_timeout_ns, 30 * SEC);
    assert_int_equal(cfg.log_level, CK_LOG_INFO);
    assert_true(cfg.lazy_connect);
    assert_int_equal(cfg.recovery_timeout_max_ns, 300 * SEC);
    assert_int_equal(cfg.connect_timeout_ns, 2 * SEC);
    assert_int_equal(cfg.socket_timeout_ns, 5 * SEC);
    assert_int_equal(cfg.slow_call_ns, 0);
    assert_false(cfg.adaptive_timeout);
    assert_int_equal(report_count, 0);
}

static void timeouts_and_their_zero(void **state) {
    (void)state;
    set_env("CACHEKIT_SOCKET_TIMEOUT", "0");
    set_env("CACHEKIT_SOCKET_CONNECT_TIMEOUT", "0.25");
    set_env("CACHEKIT_SLOW_CALL_THRESHOLD", "0.05");
    set_env("CACHEKIT_ADAPTIVE_TIMEOUT", "yes");
    ck_config cfg;
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 0);
    assert_int_equal(cfg.socket_timeout_ns, 0);
    assert_int_equal(cfg.connect_timeout_ns, SEC / 4);
    assert_int_equal(cfg.slow_call_ns, SEC / 20);
    assert_true(cfg.adaptive_timeout);
}

static void cooldown_cap_below_the_cooldown(void **state) {
    (void)state;
    ck_config cfg;
    /* the default cap rises silently with a long cooldown */
    set_env("CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT", "600");
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 0);
    assert_int_equal(cfg.recovery_timeout_max_ns, 600 * SEC);
    /* an explicit cap below it is reported */
    set_env("CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT_MAX", "60");
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 1);
    assert_int_equal(cfg.recovery_timeout_max_ns, 600 * SEC);
    assert_non_null(strstr(reports[0], "CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT_MAX=60 is below"));
}

static void health_check_interval(void **state) {
    (void)state;
    ck_config cfg;
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 0);
    assert_int_equal(cfg.health_check_interval_ns, 1 * SEC); /* the default */
    set_env("CACHEKIT_HEALTH_CHECK_INTERVAL", "0");
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 0);
    assert_int_equal(cfg.health_check_interval_ns, 0); /* off */
    env_count = 0;
    set_env("CACHEKIT_HEALTH_CHECK_INTERVAL", "2.5");
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 0);
    assert_int_equal(cfg.health_check_interval_ns, 2500000000ull);
    /* audit: a microsecond made a connection storm */
    env_count = 0;
    set_env("CACHEKIT_HEALTH_CHECK_INTERVAL", "0.000001");
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 1);
    assert_int_equal(cfg.health_check_interval_ns, CK_HEALTH_CHECK_INTERVAL_MIN_NS);
    assert_non_null(strstr(reports[0], "CACHEKIT_HEALTH_CHECK_INTERVAL=1e-06 is below 0.1 s; using 0.1"));
}

static void good_values(void **state) {
    (void)state;
    set_env("CACHEKIT_CIRCUIT_BREAKER_ENABLED", "false");
    set_env("CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD", "12");
    set_env("CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT", "0.25");
    set_env("CACHEKIT_LOG_LEVEL", "DEBUG");
    set_env("CACHEKIT_LAZY_CONNECT", "off");
    ck_config cfg;
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 0);
    assert_false(cfg.lazy_connect);
    assert_false(cfg.breaker_enabled);
    assert_int_equal(cfg.failure_threshold, 12);
    assert_int_equal(cfg.recovery_timeout_ns, SEC / 4);
    assert_int_equal(cfg.log_level, CK_LOG_DEBUG);
}

static void boolean_spellings(void **state) {
    (void)state;
    static const char *const yes[] = {"1", "true", "TRUE", "yes", "On"};
    static const char *const no[] = {"0", "false", "No", "off"};
    ck_config cfg;
    for (size_t i = 0; i < 5; i++) {
        env_count = 0;
        set_env("CACHEKIT_CIRCUIT_BREAKER_ENABLED", yes[i]);
        ck_config_load(&cfg, fake_getenv, capture);
        assert_true(cfg.breaker_enabled);
    }
    for (size_t i = 0; i < 4; i++) {
        env_count = 0;
        set_env("CACHEKIT_CIRCUIT_BREAKER_ENABLED", no[i]);
        ck_config_load(&cfg, fake_getenv, capture);
        assert_false(cfg.breaker_enabled);
    }
    assert_int_equal(report_count, 0);
}

static void range_edges(void **state) {
    (void)state;
    ck_config cfg;
    set_env("CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD", "1");
    set_env("CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT", "86400");
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 0);
    assert_int_equal(cfg.failure_threshold, 1);
    assert_int_equal(cfg.recovery_timeout_ns, 86400 * SEC);
    env_count = 0;
    set_env("CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD", "0");
    set_env("CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT", "86400.5");
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 2);
    assert_int_equal(cfg.failure_threshold, 5);
    assert_int_equal(cfg.recovery_timeout_ns, 30 * SEC);
}

static void each_bad_value_is_reported_with_its_default(void **state) {
    (void)state;
    static const char *const bad_thresholds[] = {"abc", "-3", "5x", " 5", "1e3", "99999999999999999999"};
    ck_config cfg;
    for (size_t i = 0; i < sizeof bad_thresholds / sizeof bad_thresholds[0]; i++) {
        env_count = 0;
        report_count = 0;
        set_env("CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD", bad_thresholds[i]);
        assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 1);
        assert_int_equal(cfg.failure_threshold, 5);
        assert_int_equal(report_count, 1);
        assert_non_null(strstr(reports[0], "CACHEKIT_CIRCUIT_BREAKER_FAILURE_THRESHOLD"));
        assert_non_null(strstr(reports[0], bad_thresholds[i]));
        assert_non_null(strstr(reports[0], "using the default 5"));
    }
}

static void bad_seconds_bool_and_level(void **state) {
    (void)state;
    set_env("CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT", "nan");
    set_env("CACHEKIT_CIRCUIT_BREAKER_ENABLED", "maybe");
    set_env("CACHEKIT_LOG_LEVEL", "loud");
    ck_config cfg;
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 3);
    assert_int_equal(cfg.recovery_timeout_ns, 30 * SEC);
    assert_true(cfg.breaker_enabled);
    assert_int_equal(cfg.log_level, CK_LOG_INFO);
    assert_int_equal(report_count, 3);
    assert_non_null(strstr(reports[0], "using the default true"));
    assert_non_null(strstr(reports[1], "using the default 30"));
    assert_non_null(strstr(reports[2], "using the default info"));
    static const char *const bad_seconds[] = {"-1", "inf", "30s", "0", ""};
    for (size_t i = 0; i < 4; i++) {
        env_count = 0;
        set_env("CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT", bad_seconds[i]);
        assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 1);
        assert_int_equal(cfg.recovery_timeout_ns, 30 * SEC);
    }
    /* an empty value means "not set" */
    env_count = 0;
    set_env("CACHEKIT_CIRCUIT_BREAKER_RECOVERY_TIMEOUT", bad_seconds[4]);
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 0);
}

static void operator_settings(void **state) {
    (void)state;
    ck_config cfg;
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 0);
    assert_int_equal(cfg.log_to, CK_LOG_TO_STDERR);
    assert_int_equal(cfg.log_rate_limit, 60);
    assert_int_equal(cfg.metrics_interval_ns, 15 * SEC);
    assert_string_equal(cfg.metrics_file, "");
    set_env("CACHEKIT_LOG", "SysLog");
    set_env("CACHEKIT_METRICS_INTERVAL", "0.5");
    set_env("CACHEKIT_METRICS_LISTEN", "127.0.0.1:9464");
    set_env("CACHEKIT_LOG_RATE_LIMIT", "0");
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 0);
    assert_int_equal(cfg.log_to, CK_LOG_TO_SYSLOG);
    assert_int_equal(cfg.metrics_interval_ns, SEC / 2);
    assert_string_equal(cfg.metrics_listen, "127.0.0.1:9464");
    assert_int_equal(cfg.log_rate_limit, 0);
    env_count = 0;
    set_env("CACHEKIT_LOG", "journald");
    set_env("CACHEKIT_METRICS_INTERVAL", "0.01");
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 2);
    assert_int_equal(cfg.log_to, CK_LOG_TO_STDERR);
    assert_non_null(strstr(reports[0], "expected stderr or syslog"));
    assert_non_null(strstr(reports[1], "CACHEKIT_METRICS_INTERVAL=\"0.01\""));
    assert_non_null(strstr(reports[1], "using the default 15"));
}

/* Issue 11: what a write gets while its circuit is open. */
static void open_writes(void **state) {
    (void)state;
    ck_config cfg;
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 0);
    assert_int_equal(cfg.open_writes, CK_OPEN_WRITES_ERROR);
    set_env("CACHEKIT_OPEN_WRITES", "NIL");
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 0);
    assert_int_equal(cfg.open_writes, CK_OPEN_WRITES_NIL);
    env_count = 0;
    set_env("CACHEKIT_OPEN_WRITES", "ignore");
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 1);
    assert_int_equal(cfg.open_writes, CK_OPEN_WRITES_ERROR);
    assert_non_null(strstr(reports[0], "CACHEKIT_OPEN_WRITES=\"ignore\""));
    assert_non_null(strstr(reports[0], "expected error or nil"));
}

/* Issue 12, item 6: the cap on every timeout, and no timeout below a
 * microsecond (it would become {0, 0}: none at all). */
static void timeout_cap_and_floor(void **state) {
    (void)state;
    ck_config cfg;
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 0);
    assert_int_equal(cfg.socket_timeout_max_ns, 0);
    set_env("CACHEKIT_SOCKET_TIMEOUT_MAX", "0.25");
    set_env("CACHEKIT_SOCKET_TIMEOUT", "0.000001");
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 0);
    assert_int_equal(cfg.socket_timeout_max_ns, SEC / 4);
    assert_int_equal(cfg.socket_timeout_ns, 1000);
    env_count = 0;
    set_env("CACHEKIT_SOCKET_TIMEOUT", "0.0000001");
    assert_int_equal(ck_config_load(&cfg, fake_getenv, capture), 1);
    assert_int_equal(cfg.socket_timeout_ns, 5 * SEC);
    assert_non_null(strstr(reports[0], "CACHEKIT_SOCKET_TIMEOUT=\"0.0000001\""));
}

static void program_selection(void **state) {
    (void)state;
    assert_true(ck_config_program_selected("webdis", "", ""));
    assert_true(ck_config_program_selected("webdis", "collectd,webdis", ""));
    assert_true(ck_config_program_selected("webdis", " collectd , webdis ", ""));
    assert_false(ck_config_program_selected("webdis", "collectd", ""));
    assert_false(ck_config_program_selected("web", "webdis", "")); /* whole names only */
    assert_false(ck_config_program_selected("webdis", "", "sh,webdis"));
    assert_true(ck_config_program_selected("bash", "", "sh"));
    assert_false(ck_config_program_selected("webdis", "webdis", "webdis")); /* skip wins */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(defaults_when_nothing_is_set, setup),
        cmocka_unit_test_setup(good_values, setup),
        cmocka_unit_test_setup(boolean_spellings, setup),
        cmocka_unit_test_setup(range_edges, setup),
        cmocka_unit_test_setup(each_bad_value_is_reported_with_its_default, setup),
        cmocka_unit_test_setup(bad_seconds_bool_and_level, setup),
        cmocka_unit_test_setup(timeouts_and_their_zero, setup),
        cmocka_unit_test_setup(cooldown_cap_below_the_cooldown, setup),
        cmocka_unit_test_setup(health_check_interval, setup),
        cmocka_unit_test_setup(operator_settings, setup),
        cmocka_unit_test_setup(open_writes, setup),
        cmocka_unit_test_setup(timeout_cap_and_floor, setup),
        cmocka_unit_test_setup(program_selection, setup),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
