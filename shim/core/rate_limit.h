/* At most N events a minute on average, in bursts of up to N: a generic
 * cell-rate algorithm on one atomic word (no lock: fork-safe, and callable
 * from any thread). Pure: the caller gives the time. */
#ifndef CACHEKIT_RATE_LIMIT_H
#define CACHEKIT_RATE_LIMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t interval_ns; /* 0: no limit */
    uint64_t burst_ns;    /* how far ahead of now the next arrival may run */
    _Atomic uint64_t next_arrival_ns;
} ck_rate_limit;

/* per_minute 0: no limit. */
void ck_rate_limit_init(ck_rate_limit *r, unsigned per_minute);
/* Takes a place for one event at now_ns; false when over the limit. */
bool ck_rate_limit_admit(ck_rate_limit *r, uint64_t now_ns);

#endif
