/* Renders the metrics and the health document (see exposition.h). Every
 * series carries endpoint, program and pid labels, so the series of several
 * programs on one host (one textfile directory, one Prometheus) never
 * collide; label values are escaped as the format requires. */
#include "exposition.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "endpoint.h"
#include "l1.h"
#include "label_escape.h"
#include "log.h"

#define DOCUMENT_LIMIT (4u << 20) /* bounded memory whatever the number of endpoints */

static char program[128] = "unknown";

/* Cut, if it must be, at a character boundary: a label value must stay
 * valid UTF-8. */
void ck_exposition_set_program(const char *name) {
    size_t len = strlen(name);
    if (len >= sizeof program) {
        len = sizeof program - 1;
        while (len > 0 && ((unsigned char)name[len] & 0xC0) == 0x80)
            len--; /* name[len] is where the cut falls: not inside a character */
    }
    memcpy(program, name, len);
    program[len] = '\0';
}

static uint64_t load(_Atomic uint64_t *v) { return atomic_load_explicit(v, memory_order_relaxed); }
static uint32_t load32(_Atomic uint32_t *v) { return atomic_load_explicit(v, memory_order_relaxed); }

typedef struct {
    const char *name, *type, *help;
} family;

static bool header(ck_buf *out, const family *f) {
    return ck_buf_printf(out, DOCUMENT_LIMIT, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
}

/* One series per endpoint: `extra` is more labels (",outcome=\"passed\"")
 * and value() the number. */
typedef uint64_t (*value_fn)(ck_endpoint *ep);

static bool per_endpoint(ck_buf *out, const char *name, const char *extra, value_fn value, const char *labels) {
    bool ok = true;
    for (ck_endpoint *ep = ck_endpoint_list(); ep != NULL && ok; ep = ep->next) {
        char endpoint[600];
        ck_label_escape(endpoint, sizeof endpoint, ep->name);
        ok = ck_buf_printf(out, DOCUMENT_LIMIT, "%s{endpoint=\"%s\",%s%s} %llu\n", name, endpoint, labels, extra,
                           (unsigned long long)value(ep));
    }
    return ok;
}

static uint64_t state(ck_endpoint *ep) { return (uint64_t)ck_breaker_state_of(&ep->breaker); }
static uint64_t consecutive(ck_endpoint *ep) { return ck_breaker_failures_in_a_row(&ep->breaker); }
static uint64_t failures(ck_endpoint *ep) { return load(&ep->breaker.failures_total); }
static uint64_t recoveries(ck_endpoint *ep) { return load(&ep->breaker.recoveries_total); }
static uint64_t opens(ck_endpoint *ep) { return load(&ep->breaker.opens_total); }
static uint64_t passed(ck_endpoint *ep) { return load(&ep->metrics.passed); }
static uint64_t failed(ck_endpoint *ep) { return load(&ep->metrics.failed); }
static uint64_t rejected(ck_endpoint *ep) { return load(&ep->breaker.rejected_total); }
static uint64_t synth_nil(ck_endpoint *ep) { return load(&ep->metrics.synth_nil); }
static uint64_t synth_stale(ck_endpoint *ep) { return load(&ep->metrics.synth_stale); }
static uint64_t writes_unsent(ck_endpoint *ep) { return load(&ep->metrics.writes_unsent); }
static uint64_t reconnects(ck_endpoint *ep) { return load(&ep->metrics.reconnects); }
static uint64_t checks_up(ck_endpoint *ep) { return load(&ep->checks_up); }
static uint64_t checks_down(ck_endpoint *ep) { return load(&ep->checks_down); }
static uint64_t checks_unusable(ck_endpoint *ep) { return load(&ep->checks_unusable); }

static const char *const check_result_names[] = {"none", "up", "down", "unusable"};

static bool histogram(ck_buf *out, const char *labels) {
    static const family f = {"cachekit_call_duration_seconds", "histogram",
                             "Round trip of calls that reached Redis, sync and async (blocking commands excluded)."};
    bool ok = header(out, &f);
    for (ck_endpoint *ep = ck_endpoint_list(); ep != NULL && ok; ep = ep->next) {
        char endpoint[600];
        ck_label_escape(endpoint, sizeof endpoint, ep->name);
        uint64_t cumulative = 0;
        for (unsigned i = 0; i <= CK_LATENCY_BOUNDS && ok; i++) {
            cumulative += load(&ep->metrics.latency_bucket[i]);
            char le[32];
            if (i < CK_LATENCY_BOUNDS)
                snprintf(le, sizeof le, "%g", ck_latency_bounds_s[i]);
            else
                snprintf(le, sizeof le, "+Inf");
            ok = ck_buf_printf(out, DOCUMENT_LIMIT, "%s_bucket{endpoint=\"%s\",%s,le=\"%s\"} %llu\n", f.name, endpoint,
                               labels, le, (unsigned long long)cumulative);
        }
        ok = ok && ck_buf_printf(out, DOCUMENT_LIMIT, "%s_sum{endpoint=\"%s\",%s} %.9f\n", f.name, endpoint, labels,
                                 (double)load(&ep->metrics.latency_sum_ns) / 1e9);
        ok = ok && ck_buf_printf(out, DOCUMENT_LIMIT, "%s_count{endpoint=\"%s\",%s} %llu\n", f.name, endpoint, labels,
                                 (unsigned long long)cumulative);
    }
    return ok;
}

bool ck_exposition_metrics(ck_buf *out) {
    char name[300], labels[400];
    ck_label_escape(name, sizeof name, program);
    snprintf(labels, sizeof labels, "program=\"%s\",pid=\"%ld\"", name, (long)getpid());

    /* a row without help text adds series to the family of the row above */
    static const struct {
        family f;
        const char *extra;
        value_fn value;
    } series[] = {
        {{"cachekit_circuit_breaker_state", "gauge", "Circuit state: 0 CLOSED, 1 OPEN, 2 HALF_OPEN."}, "", state},
        {{"cachekit_circuit_breaker_consecutive_failures", "gauge", "Failures in a row counted toward opening."},
         "",
         consecutive},
        {{"cachekit_circuit_breaker_failures_total", "counter", "Failed calls and connects seen by the breaker."},
         "",
         failures},
        {{"cachekit_circuit_breaker_recoveries_total", "counter", "Probes and health checks that closed the circuit."},
         "",
         recoveries},
        {{"cachekit_circuit_breaker_opens_total", "counter", "Times the circuit opened."}, "", opens},
        {{"cachekit_calls_total", "counter",
          "Calls by outcome: passed and failed reached Redis, short_circuited were answered by the shim."},
         ",outcome=\"passed\"",
         passed},
        {{"cachekit_calls_total", NULL, NULL}, ",outcome=\"failed\"", failed},
        {{"cachekit_calls_total", NULL, NULL}, ",outcome=\"short_circuited\"", rejected},
        {{"cachekit_synthesized_replies_total", "counter", "Replies made up by the shim, by kind."},
         ",kind=\"nil\"",
         synth_nil},
        {{"cachekit_synthesized_replies_total", NULL, NULL}, ",kind=\"stale\"", synth_stale},
        {{"cachekit_writes_not_sent_total", "counter",
          "Writes not sent because the circuit was open (failed, or nil with CACHEKIT_OPEN_WRITES=nil)."},
         "",
         writes_unsent},
        {{"cachekit_reconnects_total", "counter", "Connections the shim made for the program (healing, placeholders)."},
         "",
         reconnects},
        {{"cachekit_health_checks_total", "counter",
          "Health checks of open circuits by result: up (PONG, NOAUTH or WRONGPASS), down, unusable (the check "
          "cannot talk to the server: left to the cooldown's probe)."},
         ",result=\"up\"",
         checks_up},
        {{"cachekit_health_checks_total", NULL, NULL}, ",result=\"down\"", checks_down},
        {{"cachekit_health_checks_total", NULL, NULL}, ",result=\"unusable\"", checks_unusable},
    };
    bool ok = true;
    for (size_t i = 0; i < sizeof series / sizeof series[0] && ok; i++)
        ok = (series[i].f.help == NULL || header(out, &series[i].f)) &&
             per_endpoint(out, series[i].f.name, series[i].extra, series[i].value, labels);
    ok = ok && histogram(out, labels);

    ck_l1_stats l1;
    ck_l1_stats_get(&l1);
    static const family l1_families[] = {
        {"cachekit_l1_entries", "gauge", "Values the stale-value L1 holds."},
        {"cachekit_l1_bytes", "gauge", "Bytes the L1 holds, overhead included."},
        {"cachekit_l1_hits_total", "counter", "Stale values served from the L1."},
        {"cachekit_l1_misses_total", "counter", "Stale values asked of the L1 and not there."},
        {"cachekit_l1_evictions_total", "counter", "Values evicted to stay within CACHEKIT_L1_MAX_SIZE_MB."},
    };
    const uint64_t l1_values[] = {l1.entries, l1.bytes, l1.hits, l1.misses, l1.evictions};
    static const family dropped = {"cachekit_log_lines_dropped_total", "counter",
                                   "Log lines not written: fd 2 was no longer the stderr the program started with."};
    ok = ok && header(out, &dropped) &&
         ck_buf_printf(out, DOCUMENT_LIMIT, "%s{%s} %llu\n", dropped.name, labels,
                       (unsigned long long)atomic_load_explicit(&ck_log_lines_dropped, memory_order_relaxed));
    for (size_t i = 0; i < sizeof l1_values / sizeof l1_values[0] && ok; i++)
        ok = header(out, &l1_families[i]) && ck_buf_printf(out, DOCUMENT_LIMIT, "%s{%s} %llu\n", l1_families[i].name,
                                                           labels, (unsigned long long)l1_values[i]);
    return ok;
}

bool ck_exposition_health(ck_buf *out) {
    char name[300];
    ck_label_escape(name, sizeof name, program);
    uint64_t now = ck_clock_monotonic_ns();
    bool ok =
        ck_buf_printf(out, DOCUMENT_LIMIT, "{\"program\":\"%s\",\"pid\":%ld,\"endpoints\":[", name, (long)getpid());
    for (ck_endpoint *ep = ck_endpoint_list(); ep != NULL && ok; ep = ep->next) {
        char endpoint[600];
        ck_label_escape(endpoint, sizeof endpoint, ep->name);
        ck_breaker_state s = ck_breaker_state_of(&ep->breaker);
        uint64_t changed = load(&ep->metrics.transition_ns);
        uint64_t probe_at = load(&ep->breaker.w->probe_after_ns);
        double until_probe = s == CK_OPEN && probe_at > now ? (double)(probe_at - now) / 1e9 : 0;
        /* while a health check covers the circuit, no program call probes */
        bool covered = s != CK_CLOSED && ck_breaker_covered(&ep->breaker, now);
        char until[32] = "null";
        if (!covered)
            snprintf(until, sizeof until, "%.3f", until_probe);
        ok = ck_buf_printf(out, DOCUMENT_LIMIT,
                           "%s{\"endpoint\":\"%s\",\"state\":\"%s\",\"consecutive_failures\":%u,"
                           "\"seconds_since_transition\":%.3f,\"seconds_until_probe\":%s,"
                           "\"failures_total\":%llu,\"opens_total\":%llu,\"recoveries_total\":%llu,"
                           "\"health_checks\":{\"up\":%llu,\"down\":%llu,\"unusable\":%llu,\"last\":\"%s\","
                           "\"covering\":%s},\"shared\":%s}",
                           ep == ck_endpoint_list() ? "" : ",", endpoint, ck_breaker_state_name(s),
                           (unsigned)consecutive(ep), now > changed ? (double)(now - changed) / 1e9 : 0, until,
                           (unsigned long long)failures(ep), (unsigned long long)opens(ep),
                           (unsigned long long)recoveries(ep), (unsigned long long)checks_up(ep),
                           (unsigned long long)checks_down(ep), (unsigned long long)checks_unusable(ep),
                           check_result_names[load32(&ep->check_last) & 3], covered ? "true" : "false",
                           ck_breaker_is_shared(&ep->breaker) ? "true" : "false");
    }
    ck_l1_stats l1;
    ck_l1_stats_get(&l1);
    return ok &&
           ck_buf_printf(out, DOCUMENT_LIMIT,
                         "],\"l1\":{\"entries\":%llu,\"bytes\":%llu,\"hits\":%llu,\"misses\":%llu,"
                         "\"evictions\":%llu}}\n",
                         (unsigned long long)l1.entries, (unsigned long long)l1.bytes, (unsigned long long)l1.hits,
                         (unsigned long long)l1.misses, (unsigned long long)l1.evictions);
}
