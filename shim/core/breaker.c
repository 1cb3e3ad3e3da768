/* Lock-free circuit breaker. Why atomics and not a mutex: every hiredis call
 * of every thread passes through here, and in the CLOSED state a call must
 * cost a couple of loads. Only the rare transitions use compare-and-swap;
 * the CAS on OPEN->HALF_OPEN is the probe permit, so exactly one caller in
 * the whole process (or, with shared state, in every process that shares
 * the words) probes a recovering endpoint. */
#include "breaker.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static void note(ck_transition *t, ck_breaker_state from, ck_breaker_state to, const char *reason) {
    if (t != NULL) {
        t->happened = true;
        t->from = from;
        t->to = to;
        t->reason = reason;
    }
}

void ck_breaker_init(ck_breaker *b, const ck_breaker_settings *s) {
    memset(&b->own, 0, sizeof b->own); /* all zero: CLOSED, nothing counted, no probe, no lease */
    b->w = &b->own;
    atomic_init(&b->failures_total, 0);
    atomic_init(&b->recoveries_total, 0);
    atomic_init(&b->opens_total, 0);
    atomic_init(&b->rejected_total, 0);
    b->probe_timeout_ns = s->probe_timeout_ns != 0 ? s->probe_timeout_ns : s->cooldown_ns;
    b->threshold = s->threshold == 0 ? 1 : s->threshold;
    b->cooldown_ns = s->cooldown_ns;
    b->cooldown_max_ns = s->cooldown_max_ns < s->cooldown_ns ? s->cooldown_ns : s->cooldown_max_ns;
    b->cover_max_ns = s->cover_max_ns != 0 ? s->cover_max_ns : b->probe_timeout_ns;
    b->farthest_ns = b->cooldown_max_ns + b->probe_timeout_ns + b->cover_max_ns;
    b->random = s->random;
    b->enabled = s->enabled;
}

/* Shared words outlive processes and may be written by another version's
 * settings or by a stray writer: a value no decision of this code would
 * make (an unknown state, a cooldown, probe or lease beyond what any
 * setting allows) would stall the circuit for ever. The slow path checks
 * the words it reads anyway and brings such a one back to what a fresh
 * start would decide: at worst one probe too early. */
static bool beyond_any_setting(const ck_breaker *b, uint64_t deadline_ns, uint64_t now_ns) {
    return deadline_ns > now_ns && deadline_ns - now_ns > b->farthest_ns;
}
static void repair_deadline(_Atomic uint64_t *word, uint64_t seen, uint64_t now_ns) {
    atomic_compare_exchange_strong_explicit(word, &seen, now_ns, memory_order_relaxed, memory_order_relaxed);
}

uint64_t ck_breaker_cooldown(const ck_breaker *b, uint32_t probe_failures) {
    uint64_t d = b->cooldown_ns;
    for (uint32_t i = 0; i < probe_failures && d < b->cooldown_max_ns; i++)
        d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
    if (d > b->cooldown_max_ns)
        d = b->cooldown_max_ns;
    if (probe_failures == 0 || b->random == NULL)
        return d;
    /* uniform in [max(first cooldown, d/2), d]: never below what the
     * operator configured */
    uint64_t low = d - d / 2 < b->cooldown_ns ? b->cooldown_ns : d - d / 2;
    return low + b->random() % (d - low + 1);
}

/* A fresh ticket (never 0). */
static uint32_t new_ticket(ck_breaker *b) {
    uint32_t ticket;
    do
        ticket = atomic_fetch_add_explicit(&b->w->tickets_issued, 1, memory_order_relaxed) + 1;
    while (ticket == 0);
    return ticket;
}

static ck_permit acquire(ck_breaker *b, ck_clock_fn now, ck_transition *t, bool repaired) {
    uint32_t s = atomic_load_explicit(&b->w->state, memory_order_acquire);
    if (s == CK_CLOSED || !b->enabled)
        return CK_PERMIT_ALLOW;
    uint64_t now_ns = now();
    if (s > CK_HALF_OPEN) {
        /* not a state (shared words): a fresh start */
        atomic_compare_exchange_strong_explicit(&b->w->state, &s, CK_CLOSED, memory_order_acq_rel,
                                                memory_order_relaxed);
        return CK_PERMIT_ALLOW;
    }
    if (s == CK_OPEN) {
        uint64_t after = atomic_load_explicit(&b->w->probe_after_ns, memory_order_relaxed);
        uint64_t covered = atomic_load_explicit(&b->w->checked_until_ns, memory_order_relaxed);
        if (now_ns >= after && now_ns >= covered) {
            /* The expiry before the state: whoever sees HALF_OPEN sees this
             * probe's, not the last one's, which has passed and would let
             * it take the permit over at once (two probes; shared words
             * made that window reachable). */
            atomic_store_explicit(&b->w->probe_expires_ns, now_ns + b->probe_timeout_ns, memory_order_relaxed);
            uint32_t expected = CK_OPEN;
            if (atomic_compare_exchange_strong_explicit(&b->w->state, &expected, CK_HALF_OPEN, memory_order_acq_rel,
                                                        memory_order_acquire)) {
                uint32_t ticket = new_ticket(b);
                /* from what is there (0, or a stray word): a taker that
                 * found this probe expired before it was even published
                 * keeps the permit */
                uint32_t held = atomic_load_explicit(&b->w->probe_ticket, memory_order_acquire);
                if (atomic_compare_exchange_strong_explicit(&b->w->probe_ticket, &held, ticket, memory_order_acq_rel,
                                                            memory_order_acquire)) {
                    note(t, CK_OPEN, CK_HALF_OPEN, "cooldown elapsed, one call probes");
                    return (ck_permit){CK_PROBE, ticket};
                }
            }
        } else {
            bool bad_after = beyond_any_setting(b, after, now_ns), bad_cover = beyond_any_setting(b, covered, now_ns);
            if (bad_after)
                repair_deadline(&b->w->probe_after_ns, after, now_ns);
            if (bad_cover)
                repair_deadline(&b->w->checked_until_ns, covered, now_ns);
            if ((bad_after || bad_cover) &&
                !repaired) /* decide again on the repaired words (once: a writer may go on) */
                return acquire(b, now, t, true);
        }
    } else if (s == CK_HALF_OPEN) {
        /* A probe nobody settled in time is taken over: its holder hangs,
         * went away, or (shared words) died, also in the instant between
         * taking the permit and storing its ticket, or between settling
         * it and storing the outcome (no ticket held then). */
        uint32_t held = atomic_load_explicit(&b->w->probe_ticket, memory_order_acquire);
        uint64_t expires = atomic_load_explicit(&b->w->probe_expires_ns, memory_order_relaxed);
        if (now_ns >= expires) {
            uint32_t ticket = new_ticket(b);
            /* the expiry first: a reader that sees the ticket sees its expiry */
            atomic_store_explicit(&b->w->probe_expires_ns, now_ns + b->probe_timeout_ns, memory_order_relaxed);
            if (atomic_compare_exchange_strong_explicit(&b->w->probe_ticket, &held, ticket, memory_order_acq_rel,
                                                        memory_order_acquire)) {
                note(t, CK_HALF_OPEN, CK_HALF_OPEN, "probe not settled in time, another call probes");
                return (ck_permit){CK_PROBE, ticket};
            }
        } else if (beyond_any_setting(b, expires, now_ns)) {
            repair_deadline(&b->w->probe_expires_ns, expires, now_ns);
            if (!repaired)
                return acquire(b, now, t, true);
        }
    }
    ck_breaker_count_rejected(b);
    return CK_PERMIT_REJECT;
}

ck_permit ck_breaker_acquire(ck_breaker *b, ck_clock_fn now, ck_transition *t) {
    if (t != NULL)
        t->happened = false;
    return acquire(b, now, t, false);
}

/* Takes the outstanding probe back from its holder: true for the holder
 * of the current ticket, once. */
static bool settle_ticket(ck_breaker *b, uint32_t ticket) {
    uint32_t expected = ticket;
    return ticket != 0 && atomic_compare_exchange_strong_explicit(&b->w->probe_ticket, &expected, 0,
                                                                  memory_order_acq_rel, memory_order_relaxed);
}

static void open_circuit(ck_breaker *b, ck_clock_fn now, uint32_t probe_failures) {
    atomic_store_explicit(&b->w->probe_after_ns, now() + ck_breaker_cooldown(b, probe_failures), memory_order_relaxed);
}

void ck_breaker_record(ck_breaker *b, ck_permit p, bool success, ck_clock_fn now, ck_transition *t) {
    if (t != NULL)
        t->happened = false;
    if (!b->enabled || p.gate == CK_REJECT)
        return;
    if (!success)
        atomic_fetch_add_explicit(&b->failures_total, 1, memory_order_relaxed);

    if (p.gate == CK_PROBE) {
        /* an expired ticket: another call probes now, and its word counts */
        if (!settle_ticket(b, p.ticket))
            return;
        if (success) {
            atomic_store_explicit(&b->w->consecutive_failures, 0, memory_order_relaxed);
            atomic_store_explicit(&b->w->probe_failures, 0, memory_order_relaxed);
            /* from HALF_OPEN only: a check that closed it meanwhile (the
             * probe expired) decided already */
            uint32_t expected = CK_HALF_OPEN;
            if (atomic_compare_exchange_strong_explicit(&b->w->state, &expected, CK_CLOSED, memory_order_acq_rel,
                                                        memory_order_relaxed)) {
                atomic_fetch_add_explicit(&b->recoveries_total, 1, memory_order_relaxed);
                note(t, CK_HALF_OPEN, CK_CLOSED, "probe succeeded");
            }
        } else {
            uint32_t n = atomic_fetch_add_explicit(&b->w->probe_failures, 1, memory_order_relaxed) + 1;
            open_circuit(b, now, n);
            uint32_t expected = CK_HALF_OPEN;
            if (atomic_compare_exchange_strong_explicit(&b->w->state, &expected, CK_OPEN, memory_order_acq_rel,
                                                        memory_order_relaxed)) {
                atomic_fetch_add_explicit(&b->opens_total, 1, memory_order_relaxed);
                note(t, CK_HALF_OPEN, CK_OPEN, "probe failed");
            }
        }
        return;
    }

    if (success) {
        /* Load first: a store on every success would bounce the cache line
         * between threads on the healthy path. */
        if (atomic_load_explicit(&b->w->consecutive_failures, memory_order_relaxed) != 0)
            atomic_store_explicit(&b->w->consecutive_failures, 0, memory_order_relaxed);
        return;
    }
    /* Failures of calls let through before the circuit opened say nothing
     * new: only the CLOSED state counts them. */
    if (atomic_load_explicit(&b->w->state, memory_order_acquire) != CK_CLOSED)
        return;
    uint32_t before = atomic_fetch_add_explicit(&b->w->consecutive_failures, 1, memory_order_relaxed);
    uint32_t n = (before & ~CK_BREAKER_UNCONFIRMED) + 1;
    if (n < b->threshold)
        return;
    /* Opening again with no call succeeded since a health check closed
     * it: the server answers PING but not the program's calls; back off
     * as after a failed probe. Otherwise a fresh start (without checks
     * this is always the case: only a probe closes the circuit, and it
     * resets). Every caller that reaches the threshold stores the same
     * cooldown (but for its jitter) before the state says OPEN, so that
     * no caller sees OPEN with the last outage's; only the one that opens
     * it keeps the count. */
    uint64_t now_ns = now();
    bool unconfirmed = (before & CK_BREAKER_UNCONFIRMED) != 0 &&
                       now_ns - atomic_load_explicit(&b->w->check_closed_ns, memory_order_relaxed) < b->cooldown_ns;
    uint32_t backoff = unconfirmed ? atomic_load_explicit(&b->w->probe_failures, memory_order_relaxed) + 1 : 0;
    uint64_t probe_after = now_ns + ck_breaker_cooldown(b, backoff);
    if (atomic_load_explicit(&b->w->state, memory_order_acquire) != CK_CLOSED)
        return; /* opened meanwhile by another caller */
    atomic_store_explicit(&b->w->probe_after_ns, probe_after, memory_order_relaxed);
    atomic_store_explicit(&b->w->check_close_after_ns, unconfirmed ? probe_after : 0, memory_order_relaxed);
    uint32_t expected = CK_CLOSED;
    if (atomic_compare_exchange_strong_explicit(&b->w->state, &expected, CK_OPEN, memory_order_acq_rel,
                                                memory_order_relaxed)) {
        atomic_store_explicit(&b->w->probe_failures, backoff, memory_order_relaxed);
        atomic_store_explicit(&b->w->check_due_ns, 0, memory_order_relaxed);
        atomic_fetch_and_explicit(&b->w->consecutive_failures, ~CK_BREAKER_UNCONFIRMED, memory_order_relaxed);
        atomic_fetch_add_explicit(&b->opens_total, 1, memory_order_relaxed);
        note(t, CK_CLOSED, CK_OPEN, "consecutive failures reached the threshold");
    }
}

bool ck_breaker_check_up(ck_breaker *b, ck_clock_fn now, ck_transition *t) {
    if (t != NULL)
        t->happened = false;
    if (!b->enabled)
        return false;
    uint32_t s = atomic_load_explicit(&b->w->state, memory_order_acquire);
    uint64_t now_ns = now();
    uint64_t close_after = atomic_load_explicit(&b->w->check_close_after_ns, memory_order_relaxed);
    if (beyond_any_setting(b, close_after, now_ns)) {
        repair_deadline(&b->w->check_close_after_ns, close_after, now_ns);
        close_after = now_ns;
    }
    if (s == CK_CLOSED || now_ns < close_after)
        return false;
    if (s == CK_HALF_OPEN) {
        /* a program call probes: its ticket is taken back, so its word,
         * when it comes, is ignored as an expired probe's */
        uint32_t held = atomic_load_explicit(&b->w->probe_ticket, memory_order_acquire);
        if (held == 0) {
            /* settled, its outcome about to be stored; or (shared words)
             * its holder died in between, and then the state is ours to
             * decide once the probe has expired */
            if (now_ns < atomic_load_explicit(&b->w->probe_expires_ns, memory_order_relaxed))
                return false;
        } else if (!settle_ticket(b, held)) {
            return false; /* settled meanwhile: the probe decided */
        }
    }
    /* the count first, as a probe's success does: a call that sees CLOSED
     * counts from it (the count is ignored while not CLOSED) */
    atomic_store_explicit(&b->w->consecutive_failures, CK_BREAKER_UNCONFIRMED, memory_order_relaxed);
    atomic_store_explicit(&b->w->check_closed_ns, now_ns, memory_order_relaxed);
    uint32_t expected = s;
    if (!atomic_compare_exchange_strong_explicit(&b->w->state, &expected, CK_CLOSED, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return false;
    atomic_store_explicit(&b->w->checked_until_ns, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->recoveries_total, 1, memory_order_relaxed);
    note(t, (ck_breaker_state)s, CK_CLOSED, "health check: Redis answers");
    return true;
}

bool ck_breaker_take_cover_from(ck_breaker *b, _Atomic uint64_t *mine, uint64_t seen_ns, uint64_t until_ns,
                                uint32_t holder) {
    /* the holder is unknown (0) while the lease changes hands: a reader
     * then never takes a fresh lease for a dead holder's */
    atomic_store_explicit(&b->w->check_holder, 0, memory_order_release);
    if (atomic_compare_exchange_strong_explicit(&b->w->checked_until_ns, &seen_ns, until_ns, memory_order_acq_rel,
                                                memory_order_relaxed)) {
        atomic_store_explicit(&b->w->check_holder, holder, memory_order_release);
        atomic_store_explicit(mine, until_ns, memory_order_relaxed);
        return true;
    }
    atomic_store_explicit(mine, 0, memory_order_relaxed);
    return false;
}

bool ck_breaker_take_cover(ck_breaker *b, _Atomic uint64_t *mine, uint64_t until_ns, uint64_t now_ns, uint32_t holder) {
    uint64_t v = atomic_load_explicit(&b->w->checked_until_ns, memory_order_relaxed);
    uint64_t held = atomic_load_explicit(mine, memory_order_relaxed);
    bool ours = held != 0 && v == held;
    /* (garbage beyond any setting counts as lapsed; the bound leaves room
     * for a holder that renewed after this caller read its clock) */
    bool lapsed = v <= now_ns || beyond_any_setting(b, v, now_ns);
    if (ours || lapsed)
        return ck_breaker_take_cover_from(b, mine, v, until_ns, holder);
    atomic_store_explicit(mine, 0, memory_order_relaxed);
    return false;
}

void ck_breaker_drop_cover(ck_breaker *b, _Atomic uint64_t *mine) {
    uint64_t held = atomic_exchange_explicit(mine, 0, memory_order_relaxed);
    if (held != 0)
        atomic_compare_exchange_strong_explicit(&b->w->checked_until_ns, &held, 0, memory_order_relaxed,
                                                memory_order_relaxed);
}

bool ck_breaker_check_due(ck_breaker *b, uint64_t now_ns, uint64_t first_ns) {
    uint64_t due = atomic_load_explicit(&b->w->check_due_ns, memory_order_relaxed);
    if (due == 0) {
        atomic_compare_exchange_strong_explicit(&b->w->check_due_ns, &due, first_ns, memory_order_relaxed,
                                                memory_order_relaxed);
        return false;
    }
    /* a due time beyond any setting is garbage: due now */
    return now_ns >= due || beyond_any_setting(b, due, now_ns);
}

void ck_breaker_release_probe(ck_breaker *b, uint32_t ticket, ck_transition *t) {
    if (t != NULL)
        t->happened = false;
    if (!settle_ticket(b, ticket))
        return; /* expired: taken over already */
    uint32_t expected = CK_HALF_OPEN;
    if (atomic_compare_exchange_strong_explicit(&b->w->state, &expected, CK_OPEN, memory_order_acq_rel,
                                                memory_order_relaxed))
        note(t, CK_HALF_OPEN, CK_OPEN, "probe abandoned, the next call probes");
}

ck_breaker_state ck_breaker_state_of(const ck_breaker *b) {
    return (ck_breaker_state)atomic_load_explicit(&b->w->state, memory_order_acquire);
}

const char *ck_breaker_state_name(ck_breaker_state s) {
    switch (s) {
    case CK_CLOSED: return "CLOSED";
    case CK_OPEN: return "OPEN";
    case CK_HALF_OPEN: return "HALF_OPEN";
    }
    return "?";
}
