/* The call-latency histogram: Prometheus's default buckets, trimmed to
 * what a Redis call spans (0.5 ms to 5 s). */
#include "metrics.h"

bool ck_metrics_on;

const double ck_latency_bounds_s[CK_LATENCY_BOUNDS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                       0.1,    0.25,  0.5,    1,     2.5,  5};

static const uint64_t bounds_ns[CK_LATENCY_BOUNDS] = {500000,     1000000,    2500000,   5000000,   10000000,
                                                      25000000,   50000000,   100000000, 250000000, 500000000,
                                                      1000000000, 2500000000, 5000000000};

void ck_metrics_observe(ck_metrics *m, uint64_t ns) {
    unsigned i = 0;
    while (i < CK_LATENCY_BOUNDS && ns > bounds_ns[i])
        i++;
    atomic_fetch_add_explicit(&m->latency_bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_sum_ns, ns, memory_order_relaxed);
}
