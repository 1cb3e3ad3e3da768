/* Registry of endpoints. Lookups happen at connect time only (a context
 * caches its endpoint), so a mutex-protected list is enough; the lock is
 * held across fork by pthread_atfork so a child never inherits it locked. */
#include "endpoint.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "shared_state.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static ck_endpoint *_Atomic endpoints;
static ck_config settings;
static pthread_mutex_t auth_lock = PTHREAD_MUTEX_INITIALIZER; /* the kept AUTH of every endpoint */
static _Atomic ck_endpoint_listener listener;

static void lock_registry(void) {
    pthread_mutex_lock(&registry_lock);
    pthread_mutex_lock(&auth_lock);
}
static void unlock_registry(void) {
    pthread_mutex_unlock(&auth_lock);
    pthread_mutex_unlock(&registry_lock);
}
static void install_atfork(void) { pthread_atfork(lock_registry, unlock_registry, unlock_registry); }

void ck_endpoint_configure(const ck_config *cfg) {
    pthread_once(&atfork_once, install_atfork);
    settings = *cfg;
    ck_shared_state_configure(cfg->shared_state);
}

ck_endpoint *ck_endpoint_get(const char *name, const ck_endpoint_target *target) {
    pthread_once(&atfork_once, install_atfork);
    lock_registry();
    ck_endpoint *ep = atomic_load_explicit(&endpoints, memory_order_relaxed);
    while (ep != NULL && strcmp(ep->name, name) != 0)
        ep = ep->next;
    if (ep == NULL) {
        size_t len = strlen(name);
        ep = calloc(1, sizeof *ep + len + 1);
        if (ep != NULL && target != NULL && target->address != NULL) {
            ep->target = *target;
            ep->target.address = strdup(target->address); /* NULL when short: no checks, nothing else lost */
        }
        if (ep != NULL) {
            memcpy(ep->name, name, len + 1);
            ck_breaker_settings s = {settings.breaker_enabled,
                                     settings.failure_threshold,
                                     settings.recovery_timeout_ns,
                                     settings.recovery_timeout_max_ns,
                                     ck_clock_jitter,
                                     settings.connect_timeout_ns + settings.socket_timeout_ns,
                                     ck_config_check_lease_ns(&settings)};
            ck_breaker_init(&ep->breaker, &s);
            ck_breaker_words *shared = settings.breaker_enabled ? ck_shared_state_words(name) : NULL;
            if (shared != NULL)
                ck_breaker_attach(&ep->breaker, shared);
            ck_adaptive_init(&ep->adaptive, settings.socket_timeout_ns);
            atomic_store_explicit(&ep->metrics.transition_ns, ck_clock_monotonic_ns(), memory_order_relaxed);
            ep->next = atomic_load_explicit(&endpoints, memory_order_relaxed);
            atomic_store_explicit(&endpoints, ep, memory_order_release);
        } else {
            ck_log(CK_LOG_ERROR, "out of memory registering endpoint %s; its calls pass through unprotected", name);
        }
    }
    unlock_registry();
    return ep;
}

ck_endpoint *ck_endpoint_list(void) { return atomic_load_explicit(&endpoints, memory_order_acquire); }

void ck_endpoint_log_transition(ck_endpoint *ep, const ck_transition *t, const char *cause) {
    if (!t->happened)
        return;
    atomic_store_explicit(&ep->metrics.transition_ns, ck_clock_monotonic_ns(), memory_order_relaxed);
    char reason[96];
    if (t->from == CK_CLOSED)
        snprintf(reason, sizeof reason, "%u consecutive failures", (unsigned)ep->breaker.threshold);
    else
        snprintf(reason, sizeof reason, "%s", t->reason);
    char quoted[CK_LOG_DATA_ROOM] = ""; /* a server's error text may quote the program's data */
    if (cause != NULL)
        ck_log_data(quoted, cause, strlen(cause), CK_LOG_DATA_MAX);
    ck_log(CK_LOG_INFO, "circuit %s: %s -> %s (%s%s%s)", ep->name, ck_breaker_state_name(t->from),
           ck_breaker_state_name(t->to), reason, cause != NULL ? "; last error: " : "", quoted);
}

void ck_endpoint_listen(ck_endpoint_listener fn) { atomic_store_explicit(&listener, fn, memory_order_release); }

ck_permit ck_endpoint_acquire_slow(ck_endpoint *ep) {
    ck_transition t;
    ck_permit p = ck_breaker_acquire(&ep->breaker, ck_clock_monotonic_ns, &t);
    ck_endpoint_log_transition(ep, &t, NULL);
    if (p.gate == CK_REJECT) {
        /* the listener, not the breaker, knows whether this process's
         * check thread runs: another process's may cover the circuit
         * (shared state), and this one's placeholders still need one of
         * their own to end them */
        ck_endpoint_listener fn = atomic_load_explicit(&listener, memory_order_acquire);
        if (fn != NULL)
            fn(ep, false);
    }
    return p;
}

void ck_endpoint_record_slow(ck_endpoint *ep, ck_permit p, bool success, const char *cause) {
    ck_transition t;
    ck_breaker_record(&ep->breaker, p, success, ck_clock_monotonic_ns, &t);
    ck_endpoint_log_transition(ep, &t, success ? NULL : cause);
    if (t.happened && t.to == CK_OPEN) {
        ck_endpoint_listener fn = atomic_load_explicit(&listener, memory_order_acquire);
        if (fn != NULL)
            fn(ep, true);
    }
}

void ck_endpoint_keep_auth(ck_endpoint *ep, const char *resp, size_t len) {
    pthread_mutex_lock(&auth_lock);
    bool same = ep->auth.len == len && (len == 0 || memcmp(ep->auth.bytes, resp, len) == 0);
    if (!same) {
        if (ep->auth.bytes != NULL)
            explicit_bzero(ep->auth.bytes, ep->auth.cap);
        ep->auth.len = 0;
        if (!ck_buf_put(&ep->auth, resp, len, SIZE_MAX))
            ep->auth.len = 0; /* short of memory: the check goes without */
    }
    pthread_mutex_unlock(&auth_lock);
}

bool ck_endpoint_copy_auth(ck_endpoint *ep, ck_buf *out) {
    pthread_mutex_lock(&auth_lock);
    out->len = 0;
    bool ok = ep->auth.len == 0 || ck_buf_put(out, ep->auth.bytes, ep->auth.len, SIZE_MAX);
    pthread_mutex_unlock(&auth_lock);
    return ok;
}

void ck_endpoint_release(ck_endpoint *ep, ck_permit p) {
    if (p.gate != CK_PROBE)
        return;
    ck_transition t;
    ck_breaker_release_probe(&ep->breaker, p.ticket, &t);
    ck_endpoint_log_transition(ep, &t, NULL);
}
