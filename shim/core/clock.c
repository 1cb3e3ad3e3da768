/* CLOCK_MONOTONIC: cooldowns must not jump when an operator or NTP moves the
 * wall clock. Read through the vDSO, so no syscall. */
#include "clock.h"

#include <time.h>
#include <unistd.h>

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

uint64_t ck_clock_jitter(void) {
    static __thread uint64_t state;
    if (state == 0)
        state = (ck_clock_monotonic_ns() ^ ((uint64_t)(uintptr_t)&state << 16) ^ ((uint64_t)getpid() << 32)) | 1;
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1Dull;
}
