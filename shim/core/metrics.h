/* What the shim did, per endpoint: the counters behind the Prometheus
 * metrics (exposition.c). Counted only while an output is configured
 * (CACHEKIT_METRICS_FILE or CACHEKIT_METRICS_LISTEN, both off by default),
 * so the healthy path of a program that exports nothing pays one load of
 * a flag. Relaxed atomic adds: exact totals, no order between them. The
 * breaker keeps its own counters (failures, recoveries, opens, rejected
 * calls). Pure. */
#ifndef CACHEKIT_METRICS_H
#define CACHEKIT_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Upper bounds of the call-latency histogram, in seconds; one more bucket,
 * +Inf, follows. */
#define CK_LATENCY_BOUNDS 13
extern const double ck_latency_bounds_s[CK_LATENCY_BOUNDS];

typedef struct {
    _Atomic uint64_t passed;        /* calls that reached Redis and succeeded */
    _Atomic uint64_t failed;        /* calls (and connects) that reached for Redis and failed */
    _Atomic uint64_t synth_nil;     /* replies made up by the shim: nil */
    _Atomic uint64_t synth_stale;   /* replies made up by the shim: the L1's last good value */
    _Atomic uint64_t writes_unsent; /* writes answered by the shim, never sent */
    _Atomic uint64_t reconnects;    /* connections the shim made for the program (healing, placeholders) */
    _Atomic uint64_t latency_bucket[CK_LATENCY_BOUNDS + 1]; /* not cumulative */
    _Atomic uint64_t latency_sum_ns;
    _Atomic uint64_t transition_ns; /* monotonic time of the last state change (or of creation) */
} ck_metrics;

extern bool ck_metrics_on;

static inline void ck_metrics_count(_Atomic uint64_t *counter) {
    if (ck_metrics_on)
        atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

/* One call's latency (sync calls: the reply's round trip). */
void ck_metrics_observe(ck_metrics *m, uint64_t ns);

#endif
