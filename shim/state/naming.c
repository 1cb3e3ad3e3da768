/* Endpoint names (see naming.h). A context made by a form the shim does
 * not see the arguments of (a file descriptor, 1.x options) is named from
 * its own fields, or from its socket's peer. */
#include "naming.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "abi.h"
#include "log.h"

#define ENDPOINT_NAME_MAX 300

static void name_tcp(char *buf, const char *host, int port) {
    char safe[ENDPOINT_NAME_MAX];
    ck_escape(safe, sizeof safe - 16, host, strlen(host), false);
    bool v6 = strchr(host, ':') != NULL;
    snprintf(buf, ENDPOINT_NAME_MAX, "%s%s%s:%d", v6 ? "[" : "", safe, v6 ? "]" : "", port);
}

static void name_unix(char *buf, const char *path) {
    char safe[ENDPOINT_NAME_MAX];
    ck_escape(safe, sizeof safe - 8, path, strlen(path), false);
    snprintf(buf, ENDPOINT_NAME_MAX, "unix:%s", safe);
}

static ck_endpoint *endpoint_tcp(const char *host, int port) {
    char name[ENDPOINT_NAME_MAX];
    name_tcp(name, host, port);
    ck_endpoint_target target = {false, port, host};
    return ck_endpoint_get(name, &target);
}

static ck_endpoint *endpoint_unix(const char *path) {
    char name[ENDPOINT_NAME_MAX];
    name_unix(name, path);
    /* an abstract or unnamed socket (a descriptor the program connected
     * itself) has no path to connect the health check to (audit) */
    ck_endpoint_target target = {true, 0, path};
    return ck_endpoint_get(name, path[0] != '\0' ? &target : NULL);
}

static ck_endpoint *endpoint_of_peer(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN];
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        return NULL;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        return inet_ntop(AF_INET, &in->sin_addr, host, sizeof host) ? endpoint_tcp(host, ntohs(in->sin_port)) : NULL;
    }
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        return inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host) ? endpoint_tcp(host, ntohs(in6->sin6_port))
                                                                       : NULL;
    }
    if (ss.ss_family == AF_UNIX) {
        /* sun_path need not end in a NUL when it is full */
        char path[sizeof((struct sockaddr_un *)0)->sun_path + 1];
        memcpy(path, ((const struct sockaddr_un *)&ss)->sun_path, sizeof path - 1);
        path[sizeof path - 1] = '\0';
        return endpoint_unix(path);
    }
    return NULL;
}

/* The endpoint a context reached, read from the context itself. */
ck_endpoint *ck_endpoint_of_context(const redisContext *c) {
    int type = ck_ctx_connection_type(c);
    if (type == REDIS_CONN_TCP && ck_ctx_tcp_host(c) != NULL)
        return endpoint_tcp(ck_ctx_tcp_host(c), ck_ctx_tcp_port(c));
    if (type == REDIS_CONN_UNIX && ck_ctx_unix_path(c) != NULL)
        return endpoint_unix(ck_ctx_unix_path(c));
    return endpoint_of_peer(ck_ctx_fd(c));
}

ck_endpoint *ck_endpoint_of_recipe(const ck_connect_recipe *r) {
    return r->is_unix ? endpoint_unix(r->address) : endpoint_tcp(r->address, r->port);
}
