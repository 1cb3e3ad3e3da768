/* The circuit breaker state machine of one endpoint.
 *
 *   CLOSED --threshold consecutive failures--> OPEN
 *   OPEN --cooldown elapsed, next caller wins the probe permit--> HALF_OPEN
 *   HALF_OPEN --probe succeeds--> CLOSED      --probe fails--> OPEN
 *
 * The first cooldown is the recovery timeout; each failed probe in a row
 * doubles it, with "equal jitter" (a uniform pick in the upper half) so
 * that many processes do not probe a recovering server in step, capped by
 * the maximum; a recovery resets it.
 *
 * The probe is a permit with a ticket and an expiry: exactly one holder
 * settles it (with the outcome of its call) or releases it (no outcome);
 * a holder that does neither within the probe timeout (an idle
 * connection that won it, a call that never returns) loses it to the next
 * caller, and its late word is ignored.
 *
 * A health check (ops/health_check.c) may take over the probing: while
 * it covers the breaker (a lease: ck_breaker_take_cover), an open circuit lets no
 * program call probe, and the check's word closes it (ck_breaker_check_up).
 * A circuit that opens again within one recovery timeout of a check closing
 * it, before any call succeeded since (the server answers PING but fails the
 * program's calls), waits out the growing cooldown before the next check may
 * close it, so such a server is not hammered once per check; a new outage
 * after calls succeeded, or later, is a fresh start. The mark of "no success yet" is a bit of the failure count
 * (CK_BREAKER_UNCONFIRMED), so the healthy path still reads one word.
 *
 * Pure and lock-free: the state lives in atomics, the clock is injected and
 * read only where a decision needs it (never on the CLOSED path). */
#ifndef CACHEKIT_BREAKER_H
#define CACHEKIT_BREAKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "clock.h"

typedef enum { CK_CLOSED = 0, CK_OPEN = 1, CK_HALF_OPEN = 2 } ck_breaker_state;

/* What a caller may do. ALLOW and PROBE reach the network; the outcome of
 * each must be given back with ck_breaker_record, a PROBE's always. */
typedef enum { CK_ALLOW = 0, CK_PROBE = 1, CK_REJECT = 2 } ck_gate;

/* A caller's permit: the gate, and for a probe the ticket that settles or
 * releases it (0 otherwise). */
typedef struct {
    ck_gate gate;
    uint32_t ticket;
} ck_permit;

#define CK_PERMIT_ALLOW ((ck_permit){CK_ALLOW, 0})
#define CK_PERMIT_REJECT ((ck_permit){CK_REJECT, 0})

/* In consecutive_failures: a check closed the circuit and no call has
 * succeeded since. A success clears it with the count; failures count
 * below it. */
#define CK_BREAKER_UNCONFIRMED 0x80000000u

/* The words that make the decisions. They live in the breaker itself, or,
 * with shared state (state/shared_state.c), in a slot of a file that every
 * process of the user maps: lock-free atomics are address-free, so the same
 * code serves both, and a process that dies mid-change leaves words that
 * each other process still reads as a whole (a stale ticket or cover ends
 * with its expiry; impossible values are repaired on the slow path). The
 * layout is part of the file's version: change it, bump the version. */
typedef struct {
    _Atomic uint32_t state;
    _Atomic uint32_t consecutive_failures; /* and CK_BREAKER_UNCONFIRMED */
    _Atomic uint64_t probe_after_ns;       /* while OPEN: when the next call may probe */
    _Atomic uint32_t probe_failures;       /* failed probes in a row */
    _Atomic uint32_t probe_ticket;         /* the outstanding probe's ticket, 0: none */
    _Atomic uint32_t tickets_issued;
    _Atomic uint32_t check_holder;         /* the pid of the process whose check holds the lease (shared words) */
    _Atomic uint64_t probe_expires_ns;     /* while HALF_OPEN: when the probe may be taken over */
    _Atomic uint64_t checked_until_ns;     /* a health check's lease: it covers the breaker until then; 0: none */
    _Atomic uint64_t check_close_after_ns; /* while OPEN: a health check may close it from then on */
    _Atomic uint64_t check_closed_ns;      /* when a health check last closed it */
    _Atomic uint64_t check_due_ns;         /* when the next health check is due, whoever holds the lease */
} ck_breaker_words;

typedef struct {
    ck_breaker_words *w; /* &own, or a shared slot */
    ck_breaker_words own;
    /* this process's counts (metrics), and its settings */
    _Atomic uint64_t failures_total;
    _Atomic uint64_t recoveries_total;
    _Atomic uint64_t opens_total;
    _Atomic uint64_t rejected_total;
    uint64_t probe_timeout_ns;
    uint32_t threshold;
    uint64_t cooldown_ns;
    uint64_t cooldown_max_ns;
    uint64_t cover_max_ns; /* the longest lease a health check takes: a longer one is a dead process's garbage */
    uint64_t farthest_ns;  /* no deadline this code sets lies further ahead: a word beyond is garbage */
    uint64_t (*random)(void);
    bool enabled;
} ck_breaker;

typedef struct {
    bool enabled;
    uint32_t threshold;        /* consecutive failures that open the circuit */
    uint64_t cooldown_ns;      /* first cooldown */
    uint64_t cooldown_max_ns;  /* cap of the growing cooldown (>= cooldown_ns) */
    uint64_t (*random)(void);  /* jitter source; NULL: no jitter */
    uint64_t probe_timeout_ns; /* a probe not settled by then is taken over; 0: the first cooldown */
    uint64_t cover_max_ns;     /* the longest health check lease; 0: the probe timeout */
} ck_breaker_settings;

/* A state change caused by a call, for the caller to log. */
typedef struct {
    bool happened;
    ck_breaker_state from, to;
    const char *reason;
} ck_transition;

void ck_breaker_init(ck_breaker *b, const ck_breaker_settings *s);
/* The cooldown after `probe_failures` failed probes in a row, jitter drawn. */
uint64_t ck_breaker_cooldown(const ck_breaker *b, uint32_t probe_failures);
ck_permit ck_breaker_acquire(ck_breaker *b, ck_clock_fn now, ck_transition *t);
/* The outcome of a call made under `p`. A probe's ticket settles it, once;
 * a ticket that expired meanwhile changes nothing. */
void ck_breaker_record(ck_breaker *b, ck_permit p, bool success, ck_clock_fn now, ck_transition *t);

/* The healthy path, inline: a closed circuit allows, and a success that
 * follows a success changes nothing. Both are a load or two. */
static inline bool ck_breaker_closed(const ck_breaker *b) {
    return atomic_load_explicit(&b->w->state, memory_order_acquire) == CK_CLOSED;
}
static inline bool ck_breaker_success_is_news(const ck_breaker *b, ck_permit p) {
    return p.gate == CK_PROBE || atomic_load_explicit(&b->w->consecutive_failures, memory_order_relaxed) != 0;
}
/* The probe holder gives the permit back without an outcome (its call was
 * never sent, or its context went away before the reply): the circuit goes
 * back to OPEN with the cooldown already elapsed, so the next call probes. */
void ck_breaker_release_probe(ck_breaker *b, uint32_t ticket, ck_transition *t);

/* Whether a call would be let through at now_ns (closed, or open with its
 * cooldown over), without taking a permit: for a caller that cannot make
 * the call itself (an async placeholder) and only makes way for one that
 * can. */
static inline bool ck_breaker_due(const ck_breaker *b, uint64_t now_ns) {
    uint32_t s = atomic_load_explicit(&b->w->state, memory_order_acquire);
    return !b->enabled || s == CK_CLOSED ||
           (s == CK_OPEN && now_ns >= atomic_load_explicit(&b->w->probe_after_ns, memory_order_relaxed) &&
            now_ns >= atomic_load_explicit(&b->w->checked_until_ns, memory_order_relaxed));
}

/* Whether `ticket` is still the outstanding probe's (not expired and
 * taken over, not settled). */
static inline bool ck_breaker_holds(const ck_breaker *b, uint32_t ticket) {
    return ticket != 0 && atomic_load_explicit(&b->w->probe_ticket, memory_order_acquire) == ticket;
}

/* When a call may next be let through (0: now): for a placeholder that
 * cannot connect itself and must end in time for its program to
 * reconnect. UINT64_MAX while a health check watches the endpoint: the
 * check ends the placeholders itself when it closes the circuit. */
static inline uint64_t ck_breaker_next_chance_ns(const ck_breaker *b, uint64_t now_ns) {
    uint32_t s = atomic_load_explicit(&b->w->state, memory_order_acquire);
    if (!b->enabled || s == CK_CLOSED)
        return 0;
    if (atomic_load_explicit(&b->w->checked_until_ns, memory_order_relaxed) > now_ns)
        return UINT64_MAX;
    uint64_t at =
        atomic_load_explicit(s == CK_OPEN ? &b->w->probe_after_ns : &b->w->probe_expires_ns, memory_order_relaxed);
    /* a (shared) word beyond any setting is garbage the next call repairs */
    return at > now_ns && at - now_ns > b->farthest_ns ? now_ns : at;
}

/* The health check's lease on the breaker (its cover). With shared state
 * one process's check covers every process's calls; the lease makes it
 * one check per host: a thread takes a lease that lapsed (its holder died,
 * or stopped), renews its own, and knows it by the expiry it last wrote
 * (`*mine`, atomic for a process's exit to give it back while its
 * thread runs; 0: it holds none). Returns whether it holds the lease now;
 * an expiry no check would write (beyond cover_max_ns) counts as lapsed. */
bool ck_breaker_take_cover(ck_breaker *b, _Atomic uint64_t *mine, uint64_t until_ns, uint64_t now_ns, uint32_t holder);
/* The lease as it stands, and its holder (0: unknown), read so that a
 * caller who found the holder gone can take it over from exactly that
 * lease (ck_breaker_take_cover_from): another taker in between wins. */
static inline uint64_t ck_breaker_cover_of(const ck_breaker *b, uint32_t *holder) {
    uint64_t until = atomic_load_explicit(&b->w->checked_until_ns, memory_order_acquire);
    *holder = atomic_load_explicit(&b->w->check_holder, memory_order_acquire);
    if (atomic_load_explicit(&b->w->checked_until_ns, memory_order_acquire) != until)
        *holder = 0; /* changed hands meanwhile */
    return until;
}
bool ck_breaker_take_cover_from(ck_breaker *b, _Atomic uint64_t *mine, uint64_t seen_ns, uint64_t until_ns,
                                uint32_t holder);
/* Gives the lease back, if still held: program calls probe after the
 * cooldown again, or another process's check takes it. */
void ck_breaker_drop_cover(ck_breaker *b, _Atomic uint64_t *mine);
/* The lease holder's turn to check: the due time lives with the breaker,
 * so a new holder does not check again at once, nor a short-lived one wait
 * out an interval of its own before its first check. A circuit that has
 * just opened is scheduled (`first_ns`) rather than checked (the failures
 * that opened it are that fresh). The holder schedules the next check
 * only once a check has ended: one cut short by its process's exit leaves
 * the check due for the next holder. */
bool ck_breaker_check_due(ck_breaker *b, uint64_t now_ns, uint64_t first_ns);
static inline void ck_breaker_schedule_check(ck_breaker *b, uint64_t next_ns) {
    atomic_store_explicit(&b->w->check_due_ns, next_ns, memory_order_relaxed);
}
/* When the next check is due (0: not scheduled yet). */
static inline uint64_t ck_breaker_next_check_ns(const ck_breaker *b) {
    return atomic_load_explicit(&b->w->check_due_ns, memory_order_relaxed);
}
/* Whether a health check covers the breaker at now_ns. */
static inline bool ck_breaker_covered(const ck_breaker *b, uint64_t now_ns) {
    return atomic_load_explicit(&b->w->checked_until_ns, memory_order_relaxed) > now_ns;
}
/* Shares the decisions with other processes: `words` (a slot of the
 * shared file) replaces the breaker's own, as they are (the state the
 * other processes made). Before the breaker is published. */
static inline void ck_breaker_attach(ck_breaker *b, ck_breaker_words *words) { b->w = words; }
static inline bool ck_breaker_is_shared(const ck_breaker *b) { return b->w != &b->own; }
/* The health check found the server up: an open circuit closes (unless it
 * must still wait out a cooldown, see above); a program probe in flight is
 * overtaken (its word is then ignored). Returns whether it closed. */
bool ck_breaker_check_up(ck_breaker *b, ck_clock_fn now, ck_transition *t);

/* A call answered without reaching the server. */
static inline void ck_breaker_count_rejected(ck_breaker *b) {
    atomic_fetch_add_explicit(&b->rejected_total, 1, memory_order_relaxed);
}
ck_breaker_state ck_breaker_state_of(const ck_breaker *b);
/* Failures in a row counted toward opening. */
static inline uint32_t ck_breaker_failures_in_a_row(const ck_breaker *b) {
    return atomic_load_explicit(&b->w->consecutive_failures, memory_order_relaxed) & ~CK_BREAKER_UNCONFIRMED;
}
const char *ck_breaker_state_name(ck_breaker_state s);

#endif
