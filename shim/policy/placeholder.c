/* Placeholders (see placeholder.h): made without network traffic,
 * connected in place later. */
#include "placeholder.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "abi.h"
#include "guard.h"
#include "timeouts.h"

static bool lazy_connect = true;

void ck_placeholder_configure(const ck_config *cfg) { lazy_connect = cfg->lazy_connect; }

bool ck_placeholder_lazy(void) { return lazy_connect; }

/* hiredis 1.x's options, as the program gave them, but for the fields
 * that belong to the program's context (set on whichever context it gets,
 * connect.c): a connection made for a placeholder is freed once swapped,
 * and must not free the program's data then. */
static redisContext *connect_by_options(const ck_connect_recipe *r, const struct timeval *connect_timeout) {
    ck_redis_options o = {
        .type = r->is_unix ? REDIS_CONN_UNIX : REDIS_CONN_TCP,
        .options = r->nonblock ? r->option_bits | CK_REDIS_OPT_NONBLOCK : r->option_bits & ~CK_REDIS_OPT_NONBLOCK,
        .connect_timeout = connect_timeout,
        .command_timeout = r->has_command_timeout ? &r->command_timeout : NULL,
    };
    if (r->is_unix)
        o.endpoint.unix_socket = r->address;
    else
        o.endpoint.tcp.ip = r->address, o.endpoint.tcp.port = r->port;
    return CK_REAL_CALL(redisConnectWithOptions, &o);
}

redisContext *ck_placeholder_connect(const ck_connect_recipe *r) {
    if (r->by_options && r->nonblock)
        return connect_by_options(r, NULL);
    if (r->nonblock)
        return r->is_unix ? CK_REAL_CALL(redisConnectUnixNonBlock, r->address)
                          : CK_REAL_CALL(redisConnectNonBlock, r->address, r->port);
    struct timeval tv = r->timeout;
    bool timed = r->has_timeout || ck_timeouts_connect_default(&tv);
    if (r->has_timeout)
        tv = ck_timeouts_capped(tv); /* CACHEKIT_SOCKET_TIMEOUT_MAX caps the program's own */
    if (r->by_options)
        return connect_by_options(r, timed ? &tv : NULL);
    if (r->is_unix)
        return timed ? CK_REAL_CALL(redisConnectUnixWithTimeout, r->address, tv)
                     : CK_REAL_CALL(redisConnectUnix, r->address);
    return timed ? CK_REAL_CALL(redisConnectWithTimeout, r->address, r->port, tv)
                 : CK_REAL_CALL(redisConnect, r->address, r->port);
}

void ck_placeholder_set_open_error(redisContext *c, const ck_endpoint *ep, const char *what) {
    char msg[128];
    snprintf(msg, sizeof msg, "cachekit: circuit open for %.60s, %s", ep->name, what);
    CK_REAL_CALL(__redisSetError, c, REDIS_ERR_IO, msg);
    errno = ECONNREFUSED; /* an I/O error with no system call behind it (a program may raise errno: Ruby does) */
}

/* A program that connected without blocking waits on the descriptor for
 * the connect to complete (Ruby's driver selects it, then reads SO_ERROR):
 * its placeholder is on one end of a socket pair, writable at once, with
 * no error, where nothing ever arrives. */
static redisContext *nonblocking_shell(ck_owned_fd *own, ck_owned_fd *peer) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) != 0)
        return CK_REAL_CALL(redisConnectFd, -1);
    redisContext *c = CK_REAL_CALL(redisConnectFd, pair[0]);
    if (c == NULL) {
        close(pair[0]);
        close(pair[1]);
        return NULL;
    }
    ck_ctx_clear_flags(c, REDIS_BLOCK);
    ck_ctx_set_connection_type(c, REDIS_CONN_USERFD); /* 1.x would set TCP options on it */
    *own = ck_own(pair[0]);
    *peer = ck_own(pair[1]);
    return c;
}

redisContext *ck_placeholder_make(const ck_connect_recipe *r, ck_endpoint *ep, bool usable) {
    ck_owned_fd own = {.fd = -1}, peer = {.fd = -1};
    redisContext *c = r->nonblock ? nonblocking_shell(&own, &peer) : CK_REAL_CALL(redisConnectFd, -1);
    if (c == NULL)
        return NULL;
    ck_context_state *st = ck_context_register(c, ep);
    if (st != NULL) {
        st->own_end = own;
        st->peer = peer;
    } else {
        ck_let_go(&peer);
    }
    char *address = st != NULL ? strdup(r->address) : NULL;
    if (address == NULL) {
        /* cannot connect it later: it can only be a failed context */
        ck_placeholder_set_open_error(c, ep, "not connecting");
        return c;
    }
    st->placeholder = true;
    st->recipe = *r;
    st->recipe.address = address;
    if (!lazy_connect || !usable)
        ck_placeholder_set_open_error(c, ep, "not connecting");
    return c;
}

void ck_placeholder_swap_in(redisContext *mine, redisContext *fresh) {
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

/* -------------------------------------------------- async substitution */

static __thread int offered_fd __attribute__((tls_model("initial-exec"))) = -1;

void ck_placeholder_async_offer(int fd) { offered_fd = fd; }

bool ck_placeholder_async_offered(void) { return offered_fd >= 0; }

/* The context, non-blocking as the async API needs, on the offered end. */
redisContext *ck_placeholder_async_substitute(void) {
    int fd = offered_fd;
    offered_fd = -1;
    redisContext *c = CK_REAL_CALL(redisConnectFd, fd);
    if (c == NULL)
        close(fd);
    else {
        ck_ctx_clear_flags(c, REDIS_BLOCK);
        /* 1.x leaves it TCP and would set TCP_NODELAY on the socket pair */
        ck_ctx_set_connection_type(c, REDIS_CONN_USERFD);
    }
    return c;
}

bool ck_placeholder_async_taken(void) {
    bool taken = offered_fd < 0;
    offered_fd = -1;
    return taken;
}
