/* The time source. Pure modules take a ck_clock_fn so tests can inject a
 * fake one; the shim passes ck_clock_monotonic_ns. */
#ifndef CACHEKIT_CLOCK_H
#define CACHEKIT_CLOCK_H

#include <stdint.h>
#include <sys/time.h>

typedef uint64_t (*ck_clock_fn)(void);

uint64_t ck_clock_monotonic_ns(void);
/* Cheaper, a few milliseconds coarse: for ages, not for timeouts. */
uint64_t ck_clock_coarse_ns(void);

/* A duration in ns as hiredis takes timeouts. */
static inline struct timeval ck_timeval_of_ns(uint64_t ns) {
    return (struct timeval){.tv_sec = (time_t)(ns / 1000000000u), .tv_usec = (suseconds_t)(ns % 1000000000u / 1000u)};
}

/* Jitter (xorshift64*): one state per thread, seeded from the clock, the
 * thread and the process, so that processes started together do not draw
 * the same sequence. Not for anything secret. */
uint64_t ck_clock_jitter(void);

#endif
