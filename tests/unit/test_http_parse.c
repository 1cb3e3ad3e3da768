/* The metrics endpoint's HTTP: the listen address, when a request is whole
 * (or refused at once), and what it asks for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "http_parse.h"

static bool split(const char *spec, char *host, char *port) {
    return ck_http_split_listen(spec, host, 64, port, 8);
}

static void listen_addresses(void **state) {
    (void)state;
    char host[64], port[8];
    assert_true(split("9100", host, port));
    assert_string_equal(host, "127.0.0.1");
    assert_string_equal(port, "9100");
    assert_true(split("0.0.0.0:9100", host, port));
    assert_string_equal(host, "0.0.0.0");
    assert_true(split("[::1]:9100", host, port));
    assert_string_equal(host, "::1");
    assert_string_equal(port, "9100");
    assert_true(split("localhost:65535", host, port));
    const char *bad[] = {"", ":", ":9100", "host:", "host:65536", "host:99999999", "host:12a", "host:-1",
                         "[::1]9100", "[::1:9100", "[]:9100", "::1:9100x", "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (split(bad[i], host, port))
            fail_msg("accepted \"%s\"", bad[i]);
    }
    char long_host[100];
    memset(long_host, 'h', 80);
    strcpy(long_host + 80, ":80");
    assert_false(split(long_host, host, port)); /* the host does not fit: refused, not cut */
}

static ck_http_request_state state_of(const char *text) { return ck_http_request_state_of(text, strlen(text), 4096); }

static void when_a_request_is_whole(void **state) {
    (void)state;
    assert_int_equal(state_of(""), CK_HTTP_PARTIAL);
    assert_int_equal(state_of("GET /metrics HTTP/1.1\r\n"), CK_HTTP_PARTIAL);
    assert_int_equal(state_of("GET /metrics HTTP/1.1\r\nHost: a\r\n\r"), CK_HTTP_PARTIAL);
    assert_int_equal(state_of("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n"), CK_HTTP_COMPLETE);
    assert_int_equal(state_of("GET /metrics HTTP/1.1\r\n\r\n"), CK_HTTP_COMPLETE);
    /* refused at once, not left to the deadline */
    assert_int_equal(state_of("GET /metrics HTTP/1.0\n\n"), CK_HTTP_MALFORMED);
    assert_int_equal(state_of("GET /metrics HTTP/1.0\n"), CK_HTTP_MALFORMED);
    assert_int_equal(state_of("GET /metrics HTTP/1.1\r\nHost: a\n"), CK_HTTP_MALFORMED);
    assert_int_equal(state_of("\n"), CK_HTTP_MALFORMED);
    assert_int_equal(ck_http_request_state_of("GET /\0x HTTP/1.1\r\n\r\n", 20, 4096), CK_HTTP_MALFORMED);
    assert_int_equal(ck_http_request_state_of("GE\0", 3, 4096), CK_HTTP_MALFORMED);
}

static void size_limit(void **state) {
    (void)state;
    static char request[4096];
    memset(request, 'a', sizeof request);
    assert_int_equal(ck_http_request_state_of(request, 4095, 4096), CK_HTTP_PARTIAL);
    assert_int_equal(ck_http_request_state_of(request, 4096, 4096), CK_HTTP_TOO_LARGE);
    memcpy(request + 4092, "\r\n\r\n", 4); /* exactly the limit, whole: served */
    assert_int_equal(ck_http_request_state_of(request, 4096, 4096), CK_HTTP_COMPLETE);
}

static ck_http_target target(const char *request) { return ck_http_target_of(request, strlen(request)); }

static void what_is_asked(void **state) {
    (void)state;
    assert_int_equal(target("GET /metrics HTTP/1.1\r\n\r\n").route, CK_HTTP_METRICS);
    assert_false(target("GET /metrics HTTP/1.1\r\n\r\n").head_only);
    assert_int_equal(target("GET /metrics?name[]=x HTTP/1.1\r\n\r\n").route, CK_HTTP_METRICS);
    assert_int_equal(target("HEAD /health HTTP/1.1\r\n\r\n").route, CK_HTTP_HEALTH);
    assert_true(target("HEAD /health HTTP/1.1\r\n\r\n").head_only);
    assert_int_equal(target("GET /metricsx HTTP/1.1\r\n\r\n").route, CK_HTTP_NOT_FOUND);
    assert_int_equal(target("GET /metric HTTP/1.1\r\n\r\n").route, CK_HTTP_NOT_FOUND);
    assert_int_equal(target("GET / HTTP/1.1\r\n\r\n").route, CK_HTTP_NOT_FOUND);
    assert_int_equal(target("GET /health\r\n\r\n").route, CK_HTTP_HEALTH); /* HTTP/0.9 style: no version */
    assert_int_equal(target("POST /metrics HTTP/1.1\r\n\r\n").route, CK_HTTP_BAD_METHOD);
    assert_int_equal(target("GETS /metrics HTTP/1.1\r\n\r\n").route, CK_HTTP_BAD_METHOD);
    assert_int_equal(target("get /metrics HTTP/1.1\r\n\r\n").route, CK_HTTP_BAD_METHOD); /* methods are case-sensitive */
    assert_int_equal(target("GET\r\n\r\n").route, CK_HTTP_BAD_REQUEST);
    assert_int_equal(target("\r\n\r\n").route, CK_HTTP_BAD_REQUEST);
    assert_int_equal(target("GET \r\nHost: /metrics\r\n\r\n").route, CK_HTTP_BAD_REQUEST); /* no target on the line */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(listen_addresses),
        cmocka_unit_test(when_a_request_is_whole),
        cmocka_unit_test(size_limit),
        cmocka_unit_test(what_is_asked),
    };
    return cmocka_run_group_tests_name("http_parse", tests, NULL, NULL);
}
