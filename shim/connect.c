/* Connection life cycle: the redisConnect* family, redisReconnect and
 * redisFree. The blocking connects a program uses to reach a server by
 * name (redisConnect, redisConnectWithTimeout and their Unix-socket twins)
 * are gated by the breaker: while the circuit is open they return at once,
 * without touching the network, a placeholder context that the shim knows
 * how to connect later. With CACHEKIT_LAZY_CONNECT (the default) the
 * placeholder looks connected: the program's commands get the open-circuit
 * replies, and the first command the breaker lets through connects it in
 * place. Without it, the placeholder carries a connect error, as a refused
 * connect would, until the program calls redisReconnect on it. The other
 * forms (non-blocking, bind, fd, options) connect as hiredis does and are
 * then tracked under the endpoint they reached. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <unistd.h>

#include "abi.h"
#include "async.h"
#include "connect.h"
#include "context.h"
#include "guard.h"
#include "log.h"
#include "real.h"
#include "timeouts.h"

#define CK_EXPORT __attribute__((visibility("default")))
#define ENDPOINT_NAME_MAX 300

static bool lazy_connect = true;

void ck_connect_configure(const ck_config *cfg) { lazy_connect = cfg->lazy_connect; }

static void name_tcp(char *buf, const char *host, int port) {
    bool v6 = strchr(host, ':') != NULL;
    snprintf(buf, ENDPOINT_NAME_MAX, "%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

static void name_unix(char *buf, const char *path) { snprintf(buf, ENDPOINT_NAME_MAX, "unix:%s", path); }

static bool name_peer(char *buf, int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN];
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        return false;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        name_tcp(buf, inet_ntop(AF_INET, &in->sin_addr, host, sizeof host), ntohs(in->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        name_tcp(buf, inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host), ntohs(in6->sin6_port));
    } else if (ss.ss_family == AF_UNIX) {
        name_unix(buf, ((const struct sockaddr_un *)&ss)->sun_path);
    } else {
        return false;
    }
    return true;
}

/* The endpoint a context reached, read from the context itself. */
static bool name_of_context(char *buf, const redisContext *c) {
    int type = ck_ctx_connection_type(c);
    if (type == REDIS_CONN_TCP && ck_ctx_tcp_host(c) != NULL)
        name_tcp(buf, ck_ctx_tcp_host(c), ck_ctx_tcp_port(c));
    else if (type == REDIS_CONN_UNIX && ck_ctx_unix_path(c) != NULL)
        name_unix(buf, ck_ctx_unix_path(c));
    else
        return name_peer(buf, ck_ctx_fd(c));
    return true;
}

ck_endpoint *ck_connect_endpoint_of_context(const redisContext *c) {
    char name[ENDPOINT_NAME_MAX];
    return name_of_context(name, c) ? ck_endpoint_get(name) : NULL;
}

ck_endpoint *ck_connect_endpoint_of_recipe(const ck_connect_recipe *r) {
    char name[ENDPOINT_NAME_MAX];
    if (r->is_unix)
        name_unix(name, r->address);
    else
        name_tcp(name, r->address, r->port);
    return ck_endpoint_get(name);
}

/* Connects as the recipe says; a connect the program asked without a
 * timeout gets CACHEKIT_SOCKET_CONNECT_TIMEOUT. */
static redisContext *connect_real(const ck_connect_recipe *r) {
    struct timeval tv = r->timeout;
    bool timed = r->has_timeout || ck_timeouts_connect_default(&tv);
    if (r->has_timeout)
        tv = ck_timeouts_capped(tv); /* CACHEKIT_SOCKET_TIMEOUT_MAX caps the program's own */
    if (r->is_unix)
        return timed ? CK_REAL_CALL(ck_real.redisConnectUnixWithTimeout(r->address, tv))
                     : CK_REAL_CALL(ck_real.redisConnectUnix(r->address));
    return timed ? CK_REAL_CALL(ck_real.redisConnectWithTimeout(r->address, r->port, tv))
                 : CK_REAL_CALL(ck_real.redisConnect(r->address, r->port));
}

static void set_circuit_open_error(redisContext *c, const ck_endpoint *ep, const char *what) {
    char msg[128];
    snprintf(msg, sizeof msg, "cachekit: circuit open for %.60s, %s", ep->name, what);
    ck_real.__redisSetError(c, REDIS_ERR_IO, msg);
}

/* A context that is not connected, made without any network traffic:
 * usable (lazy), or carrying a connect error until redisReconnect. */
static redisContext *placeholder(const ck_connect_recipe *r, ck_endpoint *ep, bool usable) {
    redisContext *c = CK_REAL_CALL(ck_real.redisConnectFd(-1));
    if (c == NULL)
        return NULL;
    ck_context_state *st = ck_context_register(c, ep);
    char *address = st != NULL ? strdup(r->address) : NULL;
    if (address == NULL) {
        /* cannot connect it later: it can only be a failed context */
        set_circuit_open_error(c, ep, "not connecting");
        return c;
    }
    st->placeholder = true;
    st->recipe = *r;
    st->recipe.address = address;
    if (!lazy_connect || !usable)
        set_circuit_open_error(c, ep, "not connecting");
    return c;
}

static bool connected(const redisContext *c) { return c != NULL && ck_ctx_err(c) == 0; }

/* A connect that failed because the server is not there (refused, timed
 * out, unreachable, its Unix socket gone), as opposed to the program's own
 * mistake (an invalid timeout, a name that does not resolve): only the
 * former says anything about the endpoint. */
bool ck_connect_failed_for_unavailability(const redisContext *c, bool is_unix) {
    static const int unavailable[] = {ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, ECONNRESET, ECONNABORTED};
    if (ck_ctx_err(c) == 6 /* REDIS_ERR_TIMEOUT, 1.x */)
        return true;
    if (ck_ctx_err(c) != REDIS_ERR_IO)
        return false;
    for (size_t i = 0; i < sizeof unavailable / sizeof unavailable[0]; i++)
        if (strstr(ck_ctx_errstr(c), strerror(unavailable[i])) != NULL)
            return true;
    return is_unix && strstr(ck_ctx_errstr(c), strerror(ENOENT)) != NULL;
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

static redisContext *connect_gated(const ck_connect_recipe *r) {
    if (!ck_from_program())
        return connect_real(r);
    ck_endpoint *ep = ck_connect_endpoint_of_recipe(r);
    if (ep == NULL)
        return connect_real(r);
    ck_permit permit = ck_endpoint_acquire(ep);
    if (permit.gate == CK_REJECT)
        return placeholder(r, ep, !atomic_exchange_explicit(&ep->program_gave_up, false, memory_order_relaxed));
    atomic_store_explicit(&ep->program_gave_up, false, memory_order_relaxed);
    redisContext *c = connect_real(r);
    int saved_errno = errno;
    bool unavailable = c != NULL && !connected(c) && ck_connect_failed_for_unavailability(c, r->is_unix);
    if (unavailable)
        ck_endpoint_record(ep, permit, false, ck_ctx_cause(c));
    else if (!connected(c))
        ck_endpoint_release(ep, permit); /* the program's mistake says nothing about the server */
    if (unavailable && lazy_connect && ep->breaker.enabled) {
        /* Lazy: the program gets a context that will connect when it can,
         * so a program that connects at start-up starts while Redis is
         * down. */
        CK_REAL_CALL_VOID(ck_real.redisFree(c));
        c = placeholder(r, ep, true);
    } else if (c != NULL) {
        ck_context_state *st = ck_context_register(c, ep);
        if (st != NULL)
            ck_timeouts_after_connect(c, st);
        if (connected(c))
            ck_connect_hold_probe(st, ep, permit);
    }
    errno = saved_errno;
    return c;
}

/* Tracks a context connected by a form the shim does not gate. A connect
 * still in progress (non-blocking) proves nothing, so only a failure is
 * reported to the breaker. */
static redisContext *adopt(redisContext *c) {
    char name[ENDPOINT_NAME_MAX];
    if (c == NULL || !ck_from_program() || !name_of_context(name, c))
        return c;
    int saved_errno = errno;
    ck_endpoint *ep = ck_endpoint_get(name);
    if (ep != NULL) {
        if (!connected(c) && ck_connect_failed_for_unavailability(c, ck_ctx_connection_type(c) == REDIS_CONN_UNIX))
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

CK_EXPORT redisContext *redisConnect(const char *ip, int port) {
    CK_REQUIRE_HIREDIS(redisConnect);
    return connect_gated(&(ck_connect_recipe){.address = (char *)ip, .port = port});
}

CK_EXPORT redisContext *redisConnectWithTimeout(const char *ip, int port, const struct timeval tv) {
    CK_REQUIRE_HIREDIS(redisConnectWithTimeout);
    return connect_gated(&(ck_connect_recipe){.address = (char *)ip, .port = port, .has_timeout = true, .timeout = tv});
}

CK_EXPORT redisContext *redisConnectUnix(const char *path) {
    CK_REQUIRE_HIREDIS(redisConnectUnix);
    return connect_gated(&(ck_connect_recipe){.is_unix = true, .address = (char *)path});
}

CK_EXPORT redisContext *redisConnectUnixWithTimeout(const char *path, const struct timeval tv) {
    CK_REQUIRE_HIREDIS(redisConnectUnixWithTimeout);
    return connect_gated(
        &(ck_connect_recipe){.is_unix = true, .address = (char *)path, .has_timeout = true, .timeout = tv});
}

__thread int ck_async_placeholder_fd = -1;

/* hiredis's async connects make their context with one of the forms below,
 * then turn it into an async context. For an async placeholder the shim
 * hands them, instead, a context on its own socket pair; the context is
 * non-blocking, as the async API needs. */
static redisContext *substitute_async_placeholder(void) {
    int fd = ck_async_placeholder_fd;
    ck_async_placeholder_fd = -1;
    redisContext *c = CK_REAL_CALL(ck_real.redisConnectFd(fd));
    if (c == NULL)
        close(fd);
    else {
        ck_ctx_clear_flags(c, REDIS_BLOCK);
        /* 1.x leaves it TCP and would set TCP_NODELAY on the socket pair */
        ck_ctx_set_connection_type(c, REDIS_CONN_USERFD);
    }
    return c;
}

/* Connect forms that are passed through, then tracked. */
#define ADOPTING_CONNECT(fn, params, args)                                                                 \
    CK_EXPORT redisContext *fn params {                                                                    \
        CK_REQUIRE_HIREDIS(fn);                                                                               \
        if (ck_async_placeholder_fd >= 0)                                                                  \
            return substitute_async_placeholder();                                                         \
        return adopt(CK_REAL_CALL(ck_real.fn args));                                                       \
    }

ADOPTING_CONNECT(redisConnectNonBlock, (const char *ip, int port), (ip, port))
ADOPTING_CONNECT(redisConnectBindNonBlock, (const char *ip, int port, const char *src), (ip, port, src))
ADOPTING_CONNECT(redisConnectBindNonBlockWithReuse, (const char *ip, int port, const char *src), (ip, port, src))
ADOPTING_CONNECT(redisConnectUnixNonBlock, (const char *path), (path))
ADOPTING_CONNECT(redisConnectFd, (int fd), (fd))
ADOPTING_CONNECT(redisConnectWithOptions, (const void *options), (options))

/* Moves a fresh connection into the program's context object, which the
 * program holds by address, and leaves the placeholder's insides in the
 * fresh object for freeing. Fields the program may have set on its own
 * context (1.x privdata, push callback) stay where they were. */
static void swap_in(redisContext *mine, redisContext *fresh) {
    unsigned char tmp[512];
    size_t size = ck_abi.ctx_size;
    memcpy(tmp, mine, size);
    memcpy(mine, fresh, size);
    memcpy(fresh, tmp, size);
    for (size_t i = 0; i < ck_abi.ctx_app_field_count; i++) {
        size_t off = ck_abi.ctx_app_fields[i];
        void *kept;
        memcpy(&kept, (char *)fresh + off, sizeof kept);
        memcpy((char *)fresh + off, (char *)mine + off, sizeof kept);
        memcpy((char *)mine + off, &kept, sizeof kept);
    }
}

static ck_connect_outcome replay_session(redisContext *c, ck_context_state *st);

ck_connect_outcome ck_connect_placeholder(redisContext *c, ck_context_state *st) {
    redisContext *fresh = connect_real(&st->recipe);
    if (fresh == NULL) {
        ck_real.__redisSetError(c, REDIS_ERR_OOM, "Out of memory");
        return CK_CONNECT_FAILED;
    }
    swap_in(c, fresh);
    CK_REAL_CALL_VOID(ck_real.redisFree(fresh));
    st->placeholder = false;
    if (connected(c) && st->recipe.has_command_timeout)
        CK_REAL_CALL(ck_real.redisSetTimeout(c, st->recipe.command_timeout));
    if (connected(c) && st->recipe.keepalive)
        CK_REAL_CALL(ck_real.redisEnableKeepAlive(c));
    ck_timeouts_after_connect(c, st);
    ck_connect_outcome outcome = connected(c) ? replay_session(c, st) : CK_CONNECT_FAILED;
    if (outcome == CK_CONNECTED)
        ck_metrics_count(&st->endpoint->metrics.reconnects);
    return outcome;
}

CK_EXPORT int redisReconnect(redisContext *c) {
    if (!ck_real_ready())
        return ck_hiredis_missing(__func__), REDIS_ERR;
    ck_context_state *st = c != NULL && !ck_in_real_call() ? ck_context_lookup(c) : NULL;
    if (st == NULL)
        return CK_REAL_CALL(ck_real.redisReconnect(c));
    ck_context_reset(st); /* whatever was owed is dropped with the old connection */
    ck_permit permit = ck_endpoint_acquire(st->endpoint);
    if (permit.gate == CK_REJECT) {
        if (st->placeholder && lazy_connect &&
            !atomic_exchange_explicit(&st->endpoint->program_gave_up, false, memory_order_relaxed)) {
            ck_ctx_clear_error(c); /* one a refused command left */
            return REDIS_OK;       /* it stays a usable placeholder */
        }
        set_circuit_open_error(c, st->endpoint, "not reconnecting");
        return REDIS_ERR;
    }
    if (st->placeholder) {
        ck_connect_outcome outcome = ck_connect_placeholder(c, st);
        if (outcome == CK_CONNECTED)
            ck_connect_hold_probe(st, st->endpoint, permit);
        else if (outcome == CK_SESSION_REFUSED)
            ck_endpoint_release(st->endpoint, permit); /* the server answered: nothing for the breaker */
        else
            ck_endpoint_record(st->endpoint, permit, false, ck_ctx_cause(c));
        return outcome == CK_CONNECTED ? REDIS_OK : REDIS_ERR;
    }
    ck_session_clear(&st->session); /* the program rebuilds its session itself */
    st->db = st->db_appended = 0;
    st->protocol = st->protocol_appended = 2;
    int rc = CK_REAL_CALL(ck_real.redisReconnect(c));
    int saved_errno = errno;
    if (st->program_timeout && !ck_timeouts_is_set(ck_ctx_command_timeout(c))) {
        /* hiredis 0.14 forgets the program's timeout when the program
         * reconnects (1.x puts it back): as without the shim, it is gone,
         * and the shim's own bounds the new socket instead */
        st->program_timeout = false;
        st->recipe.has_command_timeout = false;
    }
    if (rc == REDIS_OK && connected(c))
        ck_connect_hold_probe(st, st->endpoint, permit);
    else
        ck_endpoint_record(st->endpoint, permit, false, ck_ctx_cause(c));
    ck_timeouts_after_connect(c, st);
    errno = saved_errno;
    return rc;
}

/* Sends one stored session command on a fresh connection. A refused AUTH
 * or CLIENT SETNAME is logged and dropped from the session: nothing more
 * is made up, and Redis answers what follows as on a connection where
 * that command failed (NOAUTH, or nothing at all for an AUTH to a server
 * without a password). A refused SELECT or HELLO is different: what
 * follows would run in another database or protocol than the program
 * chose (also after the program authenticates again), so the context
 * reports the refusal as its error until the program chooses again
 * (context.h, refused_session). */
static ck_connect_outcome replay(redisContext *c, ck_context_state *st, ck_session_kind kind) {
    const ck_session_command *cmd = &st->session.kept[kind];
    void *reply = NULL;
    if (CK_REAL_CALL(ck_real.redisAppendFormattedCommand(c, cmd->bytes, cmd->len)) != REDIS_OK ||
        CK_REAL_CALL(ck_real.redisGetReply(c, &reply)) != REDIS_OK || reply == NULL)
        return CK_CONNECT_FAILED;
    ck_connect_outcome outcome = CK_CONNECTED;
    if (ck_reply_type(reply) == REDIS_REPLY_ERROR) {
        bool fatal = kind == CK_SESSION_SELECT || kind == CK_SESSION_HELLO;
        char msg[128], quoted[CK_LOG_DATA_ROOM];
        ck_log_data(quoted, ck_reply_str(reply), ck_reply_len(reply), 48);
        snprintf(msg, sizeof msg, "cachekit: %s failed when replayed on connecting to %.40s: %s",
                 ck_session_kind_name(kind), st->endpoint->name, quoted);
        ck_log(CK_LOG_WARN, "%s%s", msg + strlen("cachekit: "),
               fatal ? "; the context reports it as its error" : "; going on without it");
        ck_session_forget(&st->session, kind);
        if (fatal) {
            ck_real.__redisSetError(c, REDIS_ERR_OTHER, msg);
            st->refused_session = (uint8_t)(kind + 1);
            outcome = CK_SESSION_REFUSED;
        }
    }
    ck_real.freeReplyObject(reply);
    return outcome;
}

/* Puts back, on a fresh connection, the session the program built. */
static ck_connect_outcome replay_session(redisContext *c, ck_context_state *st) {
    for (int k = 0; k < CK_SESSION_KINDS; k++) {
        if (st->session.kept[k].bytes == NULL)
            continue;
        ck_connect_outcome outcome = replay(c, st, (ck_session_kind)k);
        if (outcome != CK_CONNECTED)
            return outcome;
    }
    return CK_CONNECTED;
}

ck_connect_outcome ck_context_heal(redisContext *c, ck_context_state *st) {
    st->healing = true;
    int rc = CK_REAL_CALL(ck_real.redisReconnect(c));
    /* bounded from the first byte: the replay must not wait for ever on a
     * server that accepted the connection and froze */
    ck_timeouts_after_connect(c, st);
    ck_connect_outcome outcome = rc == REDIS_OK ? replay_session(c, st) : CK_CONNECT_FAILED;
    st->healing = false;
    if (outcome != CK_CONNECTED)
        return outcome;
    ck_metrics_count(&st->endpoint->metrics.reconnects);
    char restored[64];
    ck_session_describe(&st->session, restored, sizeof restored);
    ck_log(CK_LOG_INFO, "reconnected a broken context of %s%s%s", st->endpoint->name,
           restored[0] ? "; restored " : "", restored);
    return CK_CONNECTED;
}

/* Socket settings asked of a placeholder wait until it is connected:
 * applied to its fd -1 they would leave a sticky error. */
static ck_context_state *placeholder_state(redisContext *c) {
    ck_context_state *st = c != NULL && !ck_in_real_call() ? ck_context_lookup(c) : NULL;
    return st != NULL && st->placeholder ? st : NULL;
}

CK_EXPORT int redisSetTimeout(redisContext *c, const struct timeval tv) {
    if (!ck_real_ready())
        return ck_hiredis_missing(__func__), REDIS_ERR;
    ck_context_state *st = c != NULL && !ck_in_real_call() ? ck_context_lookup(c) : NULL;
    int rc = st == NULL || !st->placeholder ? CK_REAL_CALL(ck_real.redisSetTimeout(c, tv)) : REDIS_OK;
    /* the program's own timeout wins from now on, capped by
     * CACHEKIT_SOCKET_TIMEOUT_MAX; a zero one is none: the shim's applies */
    if (st != NULL && rc == REDIS_OK)
        ck_timeouts_program_set(c, st, tv);
    return rc;
}

CK_EXPORT int redisEnableKeepAlive(redisContext *c) {
    if (!ck_real_ready())
        return ck_hiredis_missing(__func__), REDIS_ERR;
    ck_context_state *st = placeholder_state(c);
    if (st == NULL)
        return CK_REAL_CALL(ck_real.redisEnableKeepAlive(c));
    st->recipe.keepalive = true;
    return REDIS_OK;
}

CK_EXPORT void redisFree(redisContext *c) {
    if (!ck_real_ready()) {
        ck_hiredis_missing(__func__);
        return;
    }
    /* Forget before freeing: once freed, another thread may get a new
     * context at the same address and register it. */
    if (c != NULL) {
        ck_context_state *st = ck_context_lookup(c);
        if (st != NULL && st->told_down)
            atomic_store_explicit(&st->endpoint->program_gave_up, true, memory_order_relaxed);
        ck_async_on_free(c);
        ck_context_forget(c);
    }
    CK_REAL_CALL_VOID(ck_real.redisFree(c));
}
