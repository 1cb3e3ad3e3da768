/* Endpoints: one per Redis server the program talks to ("host:port" as the
 * program wrote it, or "unix:/path"), each owning the breaker that every
 * context and thread of the process shares for that server (and, with
 * shared state, whose decisions every process of the user shares: see
 * state/shared_state.h). */
#ifndef CACHEKIT_ENDPOINT_H
#define CACHEKIT_ENDPOINT_H

#include <stdatomic.h>
#include <stdbool.h>

#include "adaptive.h"
#include "breaker.h"
#include "buf.h"
#include "config.h"
#include "metrics.h"

/* Where the endpoint is, as hiredis is asked to connect: what the health
 * check connects to. A NULL address: not known (the check skips it). */
typedef struct {
    bool is_unix;
    int port;
    const char *address; /* host, or socket path */
} ck_endpoint_target;

/* What the health checks of an endpoint found (state/health_check.c). */
typedef enum { CK_CHECK_NONE = 0, CK_CHECK_UP, CK_CHECK_DOWN, CK_CHECK_UNUSABLE } ck_check_result;

typedef struct ck_endpoint {
    struct ck_endpoint *next;
    ck_breaker breaker;
    ck_adaptive adaptive; /* used with CACHEKIT_ADAPTIVE_TIMEOUT */
    ck_metrics metrics;
    /* A program threw away a context after the shim told it the server
     * was down (a refused write): while the circuit stays open, the next
     * connect fails too, as on a dead server, so that a program that backs
     * off on a failed connect (rsyslog) does, instead of spinning through
     * connect, write, fail. Taken by that connect (the one after gets a
     * placeholder again, whose reads are served), or cleared by a connect
     * let through. */
    atomic_bool program_gave_up;
    ck_endpoint_target target; /* its address is owned */
    ck_buf auth;               /* the kept AUTH, under endpoint.c's lock */
    /* health checks: counts and last result (exposition), and the check
     * thread's own schedule */
    _Atomic uint64_t checks_up, checks_down, checks_unusable;
    _Atomic uint32_t check_last;  /* ck_check_result */
    _Atomic uint64_t check_lease; /* the check thread's lease on the breaker's cover (0: none) */
    atomic_bool check_awaited;    /* a call was refused: placeholders may wait for the check thread */
    bool check_unusable;          /* the check thread's: it cannot talk to this endpoint (TLS...) */
    bool check_logged_down;       /* the check thread's: this outage's first "down" was logged */
    char name[];
} ck_endpoint;

/* Settings every new endpoint's breaker starts with. */
void ck_endpoint_configure(const ck_config *cfg);

/* The endpoint of that name, created on first use (at `target`, which may
 * be NULL: unknown); NULL when memory is short (the caller then passes the
 * call through unprotected). Endpoints live as long as the process:
 * contexts keep plain pointers to them. */
ck_endpoint *ck_endpoint_get(const char *name, const ck_endpoint_target *target);

/* The program's AUTH (its RESP bytes) that a real server accepted: kept in
 * memory only, for the health check to authenticate as the program does. */
void ck_endpoint_keep_auth(ck_endpoint *ep, const char *resp, size_t len);
/* A copy of the kept AUTH into `out` (empty: none); false when memory is
 * short. */
bool ck_endpoint_copy_auth(ck_endpoint *ep, ck_buf *out);

/* Told when a circuit opens (`opened`), and when a call is refused (the
 * circuit may have been opened by another process, or before a fork whose
 * child has no check thread yet): the health check's way in. One
 * listener; it must be cheap when its thread runs already. */
typedef void (*ck_endpoint_listener)(ck_endpoint *ep, bool opened);
void ck_endpoint_listen(ck_endpoint_listener fn);

/* Logs a transition the health check made. */
void ck_endpoint_log_transition(ck_endpoint *ep, const ck_transition *t, const char *cause);

/* The newest endpoint; older ones follow through `next`. Endpoints are
 * never freed and a published one never changes its `next`, so a reader
 * (the exporter) walks the list without the lock. */
ck_endpoint *ck_endpoint_list(void);

ck_permit ck_endpoint_acquire_slow(ck_endpoint *ep);
void ck_endpoint_record_slow(ck_endpoint *ep, ck_permit p, bool success, const char *cause);

/* The breaker's decision for one call, with any transition logged. */
static inline ck_permit ck_endpoint_acquire(ck_endpoint *ep) {
    return ck_breaker_closed(&ep->breaker) ? CK_PERMIT_ALLOW : ck_endpoint_acquire_slow(ep);
}

/* The outcome of a call that was let through; `cause` says why it failed.
 * This is one of a probe's two exits. */
static inline void ck_endpoint_record(ck_endpoint *ep, ck_permit p, bool success, const char *cause) {
    ck_metrics_count(success ? &ep->metrics.passed : &ep->metrics.failed);
    if (!success || ck_breaker_success_is_news(&ep->breaker, p))
        ck_endpoint_record_slow(ep, p, success, cause);
}
/* The other exit: a probe whose call never completed (not sent, its
 * context gone) goes to the next caller. A no-op for any other permit. */
void ck_endpoint_release(ck_endpoint *ep, ck_permit p);

#endif
