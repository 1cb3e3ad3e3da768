/* What the metrics endpoint needs to understand of HTTP, as pure functions:
 * the listen address, whether the bytes a client sent so far make a whole
 * request (or one to refuse at once), and what it asks for. */
#ifndef CACHEKIT_HTTP_PARSE_H
#define CACHEKIT_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* CACHEKIT_METRICS_LISTEN: "PORT" (127.0.0.1), "HOST:PORT" or "[V6]:PORT";
 * false when malformed or a part does not fit. */
bool ck_http_split_listen(const char *spec, char *host, size_t host_cap, char *port, size_t port_cap);

typedef enum {
    CK_HTTP_PARTIAL,   /* no end of the headers yet: wait for more */
    CK_HTTP_COMPLETE,  /* request line and headers, ended by an empty CRLF line */
    CK_HTTP_MALFORMED, /* a NUL or a line ended by a bare LF: 400 at once */
    CK_HTTP_TOO_LARGE, /* max bytes and still no end: 431 */
} ck_http_request_state;

ck_http_request_state ck_http_request_state_of(const char *bytes, size_t len, size_t max);

typedef enum {
    CK_HTTP_METRICS,
    CK_HTTP_HEALTH,
    CK_HTTP_NOT_FOUND,
    CK_HTTP_BAD_METHOD,  /* not GET nor HEAD: 405 */
    CK_HTTP_BAD_REQUEST, /* no method or no target: 400 */
} ck_http_route;

typedef struct {
    ck_http_route route;
    bool head_only;
} ck_http_target;

/* The request line of a complete request (query strings are ignored). */
ck_http_target ck_http_target_of(const char *request, size_t len);

#endif
