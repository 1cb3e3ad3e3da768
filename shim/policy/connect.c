/* Connection life cycle: the connects a program makes, gated or tracked,
 * and the socket settings and free of a tracked context. The blocking
 * connects a program uses to reach a server by name (redisConnect,
 * redisConnectWithTimeout and their Unix-socket twins) are gated by the
 * breaker: while the circuit is open they return at once, without touching
 * the network, a placeholder context (placeholder.h). With
 * CACHEKIT_LAZY_CONNECT (the default) the placeholder looks connected: the
 * program's commands get the open-circuit replies, and the first command
 * the breaker lets through connects it in place. Without it, the
 * placeholder carries a connect error, as a refused connect would, until
 * the program calls redisReconnect on it. The other forms (non-blocking,
 * bind, fd, options) connect as hiredis does and are then tracked under
 * the endpoint they reached. */
#include "connect.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>

#include "abi.h"
#include "errors.h"
#include "exporter.h"
#include "guard.h"
#include "naming.h"
#include "placeholder.h"
#include "timeouts.h"

/* The first connect of a process starts its exporter. */
ck_endpoint *ck_connect_endpoint_of_recipe(const ck_connect_recipe *r) {
    ck_exporter_on_connect();
    return ck_endpoint_of_recipe(r);
}

ck_endpoint *ck_connect_endpoint_of_context(const redisContext *c) {
    ck_exporter_on_connect();
    return ck_endpoint_of_context(c);
}

/* A connect that succeeded proves little (a frozen server's kernel still
 * accepts connections), so it is not counted as a success: a probe permit
 * it used passes to the context's next command, whose reply settles it. */
void ck_connect_hold_probe(ck_context_state *st, ck_endpoint *ep, ck_permit permit) {
    if (permit.gate != CK_PROBE)
        return;
    if (st != NULL) {
        ck_context_release_probe(st); /* an older one it held, if any */
        st->held_probe = permit;
    } else {
        ck_endpoint_release(ep, permit);
    }
}

bool ck_connect_options_recipe(const void *options, ck_connect_recipe *r) {
    const ck_redis_options *o = options;
    /* the options a placeholder can stand for: a TCP or Unix endpoint by
     * name, without a source address (async-only and address-family bits
     * are kept and passed on) */
    const int known = CK_REDIS_OPT_NONBLOCK | CK_REDIS_OPT_NO_PUSH_AUTOFREE | CK_REDIS_OPT_PREFER_IPV4 |
                      CK_REDIS_OPT_PREFER_IPV6 | CK_REDIS_OPT_REUSEADDR;
    if (o == NULL || (o->options & ~known) != 0)
        return false;
    *r = (ck_connect_recipe){.by_options = true,
                             .option_bits = o->options & ~CK_REDIS_OPT_NONBLOCK,
                             .nonblock = (o->options & CK_REDIS_OPT_NONBLOCK) != 0,
                             .privdata = o->privdata,
                             .free_privdata = o->free_privdata,
                             .push_cb = o->push_cb};
    if (o->type == REDIS_CONN_TCP && o->endpoint.tcp.source_addr == NULL && o->endpoint.tcp.ip != NULL) {
        r->address = (char *)o->endpoint.tcp.ip;
        r->port = o->endpoint.tcp.port;
    } else if (o->type == REDIS_CONN_UNIX && o->endpoint.unix_socket != NULL) {
        r->is_unix = true;
        r->address = (char *)o->endpoint.unix_socket;
    } else {
        return false;
    }
    if (o->connect_timeout != NULL) {
        r->has_timeout = true;
        r->timeout = *o->connect_timeout;
    }
    if (o->command_timeout != NULL) {
        r->has_command_timeout = true;
        r->command_timeout = *o->command_timeout;
    }
    return true;
}

/* What redisConnectWithOptions puts on the context from the options: the
 * program's data, its destructor and its push callback. */
static void apply_program_fields(redisContext *c, const ck_connect_recipe *r) {
    if (c == NULL || !r->by_options || ck_abi.ctx_app_field_count < 3)
        return;
    memcpy((char *)c + ck_abi.ctx_app_fields[0], &r->privdata, sizeof r->privdata);
    memcpy((char *)c + ck_abi.ctx_app_fields[1], &r->free_privdata, sizeof r->free_privdata);
    if (r->push_cb != NULL || (r->option_bits & CK_REDIS_OPT_NO_PUSH_AUTOFREE))
        memcpy((char *)c + ck_abi.ctx_app_fields[2], &r->push_cb, sizeof r->push_cb);
}

redisContext *ck_connect_gated(const ck_connect_recipe *r) {
    if (!ck_from_program())
        return ck_placeholder_connect(r);
    ck_endpoint *ep = ck_connect_endpoint_of_recipe(r);
    if (ep == NULL)
        return ck_placeholder_connect(r);
    ck_permit permit = ck_endpoint_acquire(ep);
    if (permit.gate == CK_REJECT) {
        redisContext *c =
            ck_placeholder_make(r, ep, !atomic_exchange_explicit(&ep->program_gave_up, false, memory_order_relaxed));
        apply_program_fields(c, r);
        return c;
    }
    atomic_store_explicit(&ep->program_gave_up, false, memory_order_relaxed);
    redisContext *c = ck_placeholder_connect(r);
    int saved_errno = errno;
    bool unavailable = c != NULL && !ck_ctx_connected(c) && ck_ctx_unavailable(c, r->is_unix);
    if (unavailable)
        ck_endpoint_record(ep, permit, false, ck_ctx_cause(c));
    else if (!ck_ctx_connected(c))
        ck_endpoint_release(ep, permit); /* the program's mistake says nothing about the server */
    if (unavailable && ck_placeholder_lazy() && ep->breaker.enabled) {
        /* Lazy: the program gets a context that will connect when it can,
         * so a program that connects at start-up starts while Redis is
         * down. */
        CK_REAL_CALL(redisFree, c);
        c = ck_placeholder_make(r, ep, true);
    } else if (c != NULL) {
        ck_context_state *st = ck_context_register(c, ep);
        if (st != NULL) {
            st->program_timeout = r->has_command_timeout;
            ck_timeouts_after_connect(c, st);
            st->connect_unproven = r->nonblock;
        }
        if (ck_ctx_connected(c))
            ck_connect_hold_probe(st, ep, permit);
    }
    apply_program_fields(c, r);
    errno = saved_errno;
    return c;
}

/* Tracks a context connected by a form the shim does not gate. A connect
 * still in progress (non-blocking) proves nothing, so only a failure is
 * reported to the breaker. */
redisContext *ck_connect_adopt(redisContext *c) {
    if (c == NULL || !ck_from_program())
        return c;
    int saved_errno = errno;
    ck_endpoint *ep = ck_connect_endpoint_of_context(c);
    if (ep != NULL) {
        if (!ck_ctx_connected(c) && ck_ctx_unavailable(c, ck_ctx_connection_type(c) == REDIS_CONN_UNIX))
            ck_endpoint_record(ep, CK_PERMIT_ALLOW, false, ck_ctx_cause(c));
        ck_context_state *st = ck_context_register(c, ep);
        if (st != NULL) {
            st->program_timeout = ck_timeouts_is_set(ck_ctx_command_timeout(c));
            ck_timeouts_after_connect(c, st);
        }
    }
    errno = saved_errno;
    return c;
}

/* Socket settings asked of a placeholder wait until it is connected:
 * applied to its fd -1 they would leave a sticky error. */
static ck_context_state *placeholder_state(redisContext *c) {
    ck_context_state *st = c != NULL && !ck_in_real_call() ? ck_context_lookup(c) : NULL;
    return st != NULL && st->placeholder ? st : NULL;
}

int ck_connect_set_timeout(redisContext *c, const struct timeval tv) {
    ck_context_state *st = c != NULL && !ck_in_real_call() ? ck_context_lookup(c) : NULL;
    int rc = st == NULL || !st->placeholder ? CK_REAL_CALL(redisSetTimeout, c, tv) : REDIS_OK;
    /* the program's own timeout wins from now on, capped by
     * CACHEKIT_SOCKET_TIMEOUT_MAX; a zero one is none: the shim's applies */
    if (st != NULL && rc == REDIS_OK)
        ck_timeouts_program_set(c, st, tv);
    return rc;
}

int ck_connect_enable_keepalive(redisContext *c) {
    ck_context_state *st = placeholder_state(c);
    if (st == NULL)
        return CK_REAL_CALL(redisEnableKeepAlive, c);
    st->recipe.keepalive = true;
    return REDIS_OK;
}

/* A non-blocking connect freed before any reply came: the program may
 * have given up on it because its socket said refused or never connected
 * (Ruby's driver waits for it, reads SO_ERROR, frees the context and
 * raises): that is a failed connect, which no call of the shim saw. */
static void judge_unproven_connect(redisContext *c, ck_context_state *st) {
    int fd = ck_ctx_fd(c), err = 0, saved_errno = errno;
    socklen_t len = sizeof err;
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return;
    /* (the program may have read SO_ERROR itself, which clears it) */
    bool unconnected = getpeername(fd, (struct sockaddr *)&peer, &peer_len) != 0 && errno == ENOTCONN;
    if (err != 0 || unconnected) {
        ck_permit permit = st->held_probe;
        st->held_probe = CK_PERMIT_ALLOW;
        ck_endpoint_record(st->endpoint, permit, false,
                           err != 0 ? strerror(err) : "a non-blocking connect that never completed");
    }
    errno = saved_errno;
}

void ck_connect_forget(redisContext *c) {
    ck_context_state *st = ck_context_lookup(c);
    if (st != NULL && st->told_down)
        atomic_store_explicit(&st->endpoint->program_gave_up, true, memory_order_relaxed);
    if (st != NULL && st->connect_unproven && !st->placeholder)
        judge_unproven_connect(c, st);
    ck_context_forget(c);
}
