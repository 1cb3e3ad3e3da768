/* CLOCK_MONOTONIC: cooldowns must not jump when an operator or NTP moves the
 * wall clock. Read through the vDSO, so no syscall. */
#include "clock.h"

#include <time.h>

uint64_t ck_clock_coarse_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t ck_clock_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
