/* The offsets the shim uses (shim/abi.c) against the hiredis headers this
 * build found. Built in every build directory, so each hiredis version the
 * tests use checks its own layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "abi.h"

static void layout_matches_the_headers(void **state) {
    (void)state;
#if HIREDIS_MAJOR >= 1
    ck_abi_select(true);
    assert_int_equal(ck_abi.ctx_app_fields[0], offsetof(redisContext, privdata));
    assert_int_equal(ck_abi.ctx_app_fields[1], offsetof(redisContext, free_privdata));
    assert_int_equal(ck_abi.ctx_app_fields[2], offsetof(redisContext, push_cb));
#else
    ck_abi_select(false);
#endif
    assert_int_equal(ck_abi.ctx_err, offsetof(redisContext, err));
    assert_int_equal(ck_abi.ctx_errstr, offsetof(redisContext, errstr));
    assert_int_equal(ck_abi.ctx_fd, offsetof(redisContext, fd));
    assert_int_equal(ck_abi.ctx_flags, offsetof(redisContext, flags));
    assert_int_equal(ck_abi.ctx_connection_type, offsetof(redisContext, connection_type));
    assert_int_equal(ck_abi.ctx_tcp_host, offsetof(redisContext, tcp.host));
    assert_int_equal(ck_abi.ctx_tcp_port, offsetof(redisContext, tcp.port));
    assert_int_equal(ck_abi.ctx_unix_path, offsetof(redisContext, unix_sock.path));
    assert_int_equal(ck_abi.ctx_size, sizeof(redisContext));
    assert_int_equal(ck_abi.reply_len, offsetof(redisReply, len));
    assert_int_equal(ck_abi.reply_str, offsetof(redisReply, str));
    assert_int_equal(ck_abi.reply_integer, offsetof(redisReply, integer));
    assert_int_equal(ck_abi.reply_elements, offsetof(redisReply, elements));
    assert_int_equal(ck_abi.reply_element, offsetof(redisReply, element));
#if HIREDIS_MAJOR >= 1
    assert_int_equal(ck_abi.ctx_command_timeout, offsetof(redisContext, command_timeout));
#endif
    assert_int_equal(0, offsetof(redisReply, type));
    assert_int_equal(REDIS_REPLY_NIL, 4);
    assert_int_equal(REDIS_REPLY_ERROR, 6);
    assert_int_equal(REDIS_BLOCK, 0x1);
    assert_int_equal(REDIS_CONN_TCP, 0);
    assert_int_equal(REDIS_CONN_UNIX, 1);
}

#define STR_(x) #x
#define STR(x) STR_(x)

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(layout_matches_the_headers)};
    return cmocka_run_group_tests_name("abi layout (hiredis " STR(HIREDIS_MAJOR) "." STR(HIREDIS_MINOR) "." STR(HIREDIS_PATCH) ")", tests, NULL, NULL);
}
