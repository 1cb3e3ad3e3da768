/* The time source. Pure modules take a ck_clock_fn so tests can inject a
 * fake one; the shim passes ck_clock_monotonic_ns. */
#ifndef CACHEKIT_CLOCK_H
#define CACHEKIT_CLOCK_H

#include <stdint.h>

typedef uint64_t (*ck_clock_fn)(void);

uint64_t ck_clock_monotonic_ns(void);
/* Cheaper, a few milliseconds coarse: for ages, not for timeouts. */
uint64_t ck_clock_coarse_ns(void);

#endif
