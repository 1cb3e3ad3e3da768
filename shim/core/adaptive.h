/* Adaptive command timeout of one endpoint (CACHEKIT_ADAPTIVE_TIMEOUT).
 *
 * Window: the latencies of the last 256 successful calls. Every 64 calls
 * the timeout becomes 4 x the 99th percentile of the window, rounded up
 * to a millisecond and clamped to [100 ms, CACHEKIT_SOCKET_TIMEOUT]. Until
 * 64 calls were seen it is 0, meaning "use the static timeout". Why these
 * numbers: the 99th percentile follows what the server really needs
 * without being moved by one outlier; 4 x leaves room for ordinary jitter
 * (a fork for BGSAVE, a busy host); 100 ms keeps a loopback server whose
 * p99 is 0.1 ms from timing out on its first hiccup.
 *
 * Pure: latencies in, a timeout out; threads record concurrently with
 * relaxed atomics (a recompute may see a sample being replaced, which
 * only moves a percentile by one sample). */
#ifndef CACHEKIT_ADAPTIVE_H
#define CACHEKIT_ADAPTIVE_H

#include <stdatomic.h>
#include <stdint.h>

#define CK_ADAPTIVE_WINDOW 256
#define CK_ADAPTIVE_EVERY 64
#define CK_ADAPTIVE_FACTOR 4
#define CK_ADAPTIVE_MIN_NS 100000000ull

typedef struct {
    _Atomic uint32_t samples_us[CK_ADAPTIVE_WINDOW];
    _Atomic uint64_t recorded;
    _Atomic uint64_t timeout_ns;
    uint64_t max_ns;
} ck_adaptive;

void ck_adaptive_init(ck_adaptive *a, uint64_t max_ns);
/* One successful call took latency_ns. */
void ck_adaptive_record(ck_adaptive *a, uint64_t latency_ns);
/* The timeout to use now, 0 while too few calls were seen. */
static inline uint64_t ck_adaptive_timeout_ns(ck_adaptive *a) {
    return atomic_load_explicit(&a->timeout_ns, memory_order_relaxed);
}
/* The rule itself, on a plain array (sorted in place). */
uint64_t ck_adaptive_compute(uint32_t *samples_us, uint32_t n, uint64_t max_ns);

#endif
