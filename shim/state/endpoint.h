/* Endpoints: one per Redis server the program talks to ("host:port" as the
 * program wrote it, or "unix:/path"), each owning the breaker that every
 * context and thread of the process shares for that server. */
#ifndef CACHEKIT_ENDPOINT_H
#define CACHEKIT_ENDPOINT_H

#include <stdatomic.h>
#include <stdbool.h>

#include "adaptive.h"
#include "breaker.h"
#include "config.h"
#include "metrics.h"

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
    char name[];
} ck_endpoint;

/* Settings every new endpoint's breaker starts with. */
void ck_endpoint_configure(const ck_config *cfg);

/* The endpoint of that name, created on first use; NULL when memory is
 * short (the caller then passes the call through unprotected). Endpoints
 * live as long as the process: contexts keep plain pointers to them. */
ck_endpoint *ck_endpoint_get(const char *name);

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
