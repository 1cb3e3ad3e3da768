/* The rate limit of rate_limit.h: a theoretical arrival time that each
 * admitted event pushes one interval ahead; an event is refused when that
 * time runs more than the burst ahead of now. */
#include "rate_limit.h"

void ck_rate_limit_init(ck_rate_limit *r, unsigned per_minute) {
    r->interval_ns = per_minute == 0 ? 0 : 60000000000ull / per_minute;
    r->burst_ns = r->interval_ns * (per_minute > 1 ? per_minute - 1 : 0);
    atomic_store_explicit(&r->next_arrival_ns, 0, memory_order_relaxed);
}

bool ck_rate_limit_admit(ck_rate_limit *r, uint64_t now_ns) {
    if (r->interval_ns == 0)
        return true;
    uint64_t arrival = atomic_load_explicit(&r->next_arrival_ns, memory_order_relaxed);
    for (;;) {
        uint64_t base = arrival > now_ns ? arrival : now_ns;
        if (base - now_ns > r->burst_ns)
            return false;
        if (atomic_compare_exchange_weak_explicit(&r->next_arrival_ns, &arrival, base + r->interval_ns,
                                                  memory_order_relaxed, memory_order_relaxed))
            return true;
    }
}
