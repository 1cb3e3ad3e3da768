/* The shim's background threads (the async deadline thread, the exporter,
 * the health check) start one way: with every signal blocked, so that no
 * handler of the program ever runs on a thread of the shim, and they sleep
 * on condition variables of the monotonic clock, which a change of the
 * wall clock cannot stretch. */
#ifndef CACHEKIT_THREAD_H
#define CACHEKIT_THREAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* pthread_create's result. `stack_size` 0: the default. */
int ck_thread_start(pthread_t *thread, void *(*fn)(void *), bool detached, size_t stack_size);

void ck_cond_init_monotonic(pthread_cond_t *cond);

/* A monotonic time in ns as pthread_cond_timedwait takes it. */
static inline struct timespec ck_timespec_of_ns(uint64_t ns) {
    return (struct timespec){.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)};
}

#endif
