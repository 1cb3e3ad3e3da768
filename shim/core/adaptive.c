/* Adaptive timeout: see adaptive.h for the rule and why. */
#include "adaptive.h"

#include <stdlib.h>

void ck_adaptive_init(ck_adaptive *a, uint64_t max_ns) {
    for (int i = 0; i < CK_ADAPTIVE_WINDOW; i++)
        atomic_init(&a->samples_us[i], 0);
    atomic_init(&a->recorded, 0);
    atomic_init(&a->timeout_ns, 0);
    a->max_ns = max_ns;
}

static int by_value(const void *x, const void *y) {
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return (a > b) - (a < b);
}

uint64_t ck_adaptive_compute(uint32_t *samples_us, uint32_t n, uint64_t max_ns) {
    if (n == 0)
        return 0;
    qsort(samples_us, n, sizeof *samples_us, by_value);
    uint32_t rank = (n * 99 + 99) / 100; /* nearest-rank 99th percentile, 1-based */
    uint64_t p99_ns = (uint64_t)samples_us[rank - 1] * 1000u;
    uint64_t t = p99_ns * CK_ADAPTIVE_FACTOR;
    t = (t + 999999u) / 1000000u * 1000000u; /* whole milliseconds */
    if (t < CK_ADAPTIVE_MIN_NS)
        t = CK_ADAPTIVE_MIN_NS;
    if (max_ns != 0 && t > max_ns)
        t = max_ns;
    return t;
}

void ck_adaptive_record(ck_adaptive *a, uint64_t latency_ns) {
    uint64_t us = latency_ns / 1000u;
    uint64_t n = atomic_fetch_add_explicit(&a->recorded, 1, memory_order_relaxed);
    atomic_store_explicit(&a->samples_us[n % CK_ADAPTIVE_WINDOW], us > UINT32_MAX ? UINT32_MAX : (uint32_t)us,
                          memory_order_relaxed);
    if ((n + 1) % CK_ADAPTIVE_EVERY != 0)
        return;
    uint32_t window[CK_ADAPTIVE_WINDOW];
    uint32_t count = n + 1 < CK_ADAPTIVE_WINDOW ? (uint32_t)(n + 1) : CK_ADAPTIVE_WINDOW;
    for (uint32_t i = 0; i < count; i++)
        window[i] = atomic_load_explicit(&a->samples_us[i], memory_order_relaxed);
    atomic_store_explicit(&a->timeout_ns, ck_adaptive_compute(window, count, a->max_ns), memory_order_relaxed);
}
