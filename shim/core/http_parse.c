/* HTTP for the metrics endpoint (see http_parse.h): strict and small. A
 * request must end its lines in CRLF: a bare LF or a NUL is answered 400 at
 * once rather than left to wait for a deadline. */
#include "http_parse.h"

#include <stdlib.h>
#include <string.h>

/* Copies len bytes of src as a string; false when they do not fit. */
static bool copy_part(char *dst, size_t cap, const char *src, size_t len) {
    if (len >= cap)
        return false;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return true;
}

bool ck_http_split_listen(const char *spec, char *host, size_t host_cap, char *port, size_t port_cap) {
    const char *colon = strrchr(spec, ':');
    const char *port_text = colon == NULL ? spec : colon + 1;
    bool ok;
    if (colon == NULL) {
        ok = copy_part(host, host_cap, "127.0.0.1", 9);
    } else if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        ok = close != NULL && close + 1 == colon && copy_part(host, host_cap, spec + 1, (size_t)(close - spec - 1));
    } else {
        ok = copy_part(host, host_cap, spec, (size_t)(colon - spec));
    }
    if (!ok || !copy_part(port, port_cap, port_text, strlen(port_text)))
        return false;
    if (port[0] == '\0' || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 || atoi(port) > 65535)
        return false;
    return host[0] != '\0';
}

ck_http_request_state ck_http_request_state_of(const char *bytes, size_t len, size_t max) {
    if (memchr(bytes, '\0', len) != NULL)
        return CK_HTTP_MALFORMED;
    for (size_t i = 0; i < len; i++) {
        if (bytes[i] != '\n')
            continue;
        if (i == 0 || bytes[i - 1] != '\r')
            return CK_HTTP_MALFORMED;
        if (i >= 3 && bytes[i - 2] == '\n' && bytes[i - 3] == '\r')
            return CK_HTTP_COMPLETE;
    }
    return len >= max ? CK_HTTP_TOO_LARGE : CK_HTTP_PARTIAL;
}

/* The next space-delimited word of the request line, and where it ends. */
static size_t word(const char *line, size_t len, size_t from, size_t *start) {
    while (from < len && line[from] == ' ')
        from++;
    *start = from;
    while (from < len && line[from] != ' ')
        from++;
    return from;
}

ck_http_target ck_http_target_of(const char *request, size_t len) {
    const char *eol = memchr(request, '\r', len);
    size_t line_len = eol == NULL ? len : (size_t)(eol - request);
    size_t method_at, path_at;
    size_t method_end = word(request, line_len, 0, &method_at);
    size_t path_end = word(request, line_len, method_end, &path_at);
    ck_http_target t = {.route = CK_HTTP_BAD_REQUEST};
    if (method_end == method_at || path_end == path_at)
        return t;
    const char *method = request + method_at;
    size_t method_len = method_end - method_at;
    t.head_only = method_len == 4 && memcmp(method, "HEAD", 4) == 0;
    if (!t.head_only && !(method_len == 3 && memcmp(method, "GET", 3) == 0)) {
        t.route = CK_HTTP_BAD_METHOD;
        return t;
    }
    const char *path = request + path_at;
    const char *query = memchr(path, '?', path_end - path_at);
    size_t path_len = query == NULL ? path_end - path_at : (size_t)(query - path);
    if (path_len == 8 && memcmp(path, "/metrics", 8) == 0)
        t.route = CK_HTTP_METRICS;
    else if (path_len == 7 && memcmp(path, "/health", 7) == 0)
        t.route = CK_HTTP_HEALTH;
    else
        t.route = CK_HTTP_NOT_FOUND;
    return t;
}
