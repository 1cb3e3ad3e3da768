/* The offsets the shim uses (shim/hiredis/abi.c) against the hiredis headers this
 * build found. Built in every build directory, so each hiredis version the
 * tests use checks its own layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>

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
    assert_int_equal(ck_abi.reply_size, sizeof(redisReply));
#if HIREDIS_MAJOR >= 1
    assert_int_equal(ck_abi.ctx_command_timeout, offsetof(redisContext, command_timeout));
    assert_int_equal(ck_abi.reply_vtype, offsetof(redisReply, vtype));
    assert_int_equal(sizeof(ck_redis_options), sizeof(redisOptions));
    assert_int_equal(offsetof(ck_redis_options, options), offsetof(redisOptions, options));
    assert_int_equal(offsetof(ck_redis_options, connect_timeout), offsetof(redisOptions, connect_timeout));
    assert_int_equal(offsetof(ck_redis_options, command_timeout), offsetof(redisOptions, command_timeout));
    assert_int_equal(offsetof(ck_redis_options, endpoint.tcp.source_addr),
                     offsetof(redisOptions, endpoint.tcp.source_addr));
    assert_int_equal(offsetof(ck_redis_options, endpoint.tcp.ip), offsetof(redisOptions, endpoint.tcp.ip));
    assert_int_equal(offsetof(ck_redis_options, endpoint.tcp.port), offsetof(redisOptions, endpoint.tcp.port));
    assert_int_equal(offsetof(ck_redis_options, endpoint.unix_socket), offsetof(redisOptions, endpoint.unix_socket));
    assert_int_equal(offsetof(ck_redis_options, privdata), offsetof(redisOptions, privdata));
    assert_int_equal(offsetof(ck_redis_options, free_privdata), offsetof(redisOptions, free_privdata));
    assert_int_equal(offsetof(ck_redis_options, push_cb), offsetof(redisOptions, push_cb));
    assert_int_equal(CK_REDIS_OPT_NONBLOCK, REDIS_OPT_NONBLOCK);
    assert_int_equal(CK_REDIS_OPT_REUSEADDR, REDIS_OPT_REUSEADDR);
    assert_int_equal(CK_REDIS_OPT_NOAUTOFREE, REDIS_OPT_NOAUTOFREE);
    assert_int_equal(CK_REDIS_OPT_NO_PUSH_AUTOFREE, REDIS_OPT_NO_PUSH_AUTOFREE);
    assert_int_equal(CK_REDIS_OPT_NOAUTOFREEREPLIES, REDIS_OPT_NOAUTOFREEREPLIES);
    assert_int_equal(CK_REDIS_OPT_PREFER_IPV4, REDIS_OPT_PREFER_IPV4);
    assert_int_equal(CK_REDIS_OPT_PREFER_IPV6, REDIS_OPT_PREFER_IPV6);
#endif
    assert_int_equal(ck_abi.ctx_reader, offsetof(redisContext, reader));
    assert_int_equal(ck_abi.ctx_obuf, offsetof(redisContext, obuf));
    assert_int_equal(ck_abi.reader_buf, offsetof(redisReader, buf));
    assert_int_equal(ck_abi.reader_pos, offsetof(redisReader, pos));
    assert_int_equal(ck_abi.reader_len, offsetof(redisReader, len));
    assert_int_equal(ck_abi.reader_ridx, offsetof(redisReader, ridx));
    assert_int_equal(ck_abi.reader_fn, offsetof(redisReader, fn));
    assert_int_equal(ck_abi.reader_privdata, offsetof(redisReader, privdata));
    assert_int_equal(ck_abi.fns_free_object, offsetof(redisReplyObjectFunctions, freeObject));
    assert_int_equal(0, offsetof(redisReply, type));
    /* every (redisContext *)ac cast of the shim relies on it */
    assert_int_equal(0, offsetof(redisAsyncContext, c));
}

/* Commands appended and not written are seen through the output buffer's
 * sds header, whichever header size its length needed. */
static void unsent_commands_seen_in_the_output_buffer(void **state) {
    (void)state;
    ck_abi_select(HIREDIS_MAJOR >= 1);
    static char value[200000];
    const size_t sizes[] = {0, 100, 300, 70000, sizeof value};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        redisContext *c = redisConnectUnixNonBlock("/nonexistent/cachekit-abi-test");
        assert_non_null(c);
        assert_false(ck_ctx_unsent((const void *)c));
        assert_int_equal(redisAppendCommand(c, "SET k %b", value, sizes[i]), REDIS_OK);
        assert_true(ck_ctx_unsent((const void *)c));
        assert_int_equal(ck_ctx_unsent_bytes((const void *)c), sdslen(c->obuf));
        redisFree(c);
    }
}

/* The constants the shim declares itself (hiredis_types.h) are hiredis's. */
static void constants_match_the_headers(void **state) {
    (void)state;
    assert_int_equal(CK_REDIS_OK, REDIS_OK);
    assert_int_equal(CK_REDIS_ERR, REDIS_ERR);
    assert_int_equal(CK_REDIS_ERR_IO, REDIS_ERR_IO);
    assert_int_equal(CK_REDIS_ERR_OTHER, REDIS_ERR_OTHER);
    assert_int_equal(CK_REDIS_ERR_EOF, REDIS_ERR_EOF);
    assert_int_equal(CK_REDIS_ERR_PROTOCOL, REDIS_ERR_PROTOCOL);
    assert_int_equal(CK_REDIS_ERR_OOM, REDIS_ERR_OOM);
    assert_int_equal(CK_REDIS_BLOCK, REDIS_BLOCK);
    assert_int_equal(CK_REDIS_CONNECTED, REDIS_CONNECTED);
    assert_int_equal(CK_REDIS_IN_CALLBACK, REDIS_IN_CALLBACK);
    assert_int_equal(CK_REDIS_REPLY_STRING, REDIS_REPLY_STRING);
    assert_int_equal(CK_REDIS_REPLY_ARRAY, REDIS_REPLY_ARRAY);
    assert_int_equal(CK_REDIS_REPLY_INTEGER, REDIS_REPLY_INTEGER);
    assert_int_equal(CK_REDIS_REPLY_NIL, REDIS_REPLY_NIL);
    assert_int_equal(CK_REDIS_REPLY_STATUS, REDIS_REPLY_STATUS);
    assert_int_equal(CK_REDIS_REPLY_ERROR, REDIS_REPLY_ERROR);
    assert_int_equal(CK_REDIS_CONN_TCP, REDIS_CONN_TCP);
    assert_int_equal(CK_REDIS_CONN_UNIX, REDIS_CONN_UNIX);
#if HIREDIS_MAJOR >= 1
    assert_int_equal(CK_REDIS_ERR_TIMEOUT, REDIS_ERR_TIMEOUT);
    assert_int_equal(CK_REDIS_REPLY_PUSH, REDIS_REPLY_PUSH);
    assert_int_equal(CK_REDIS_REPLY_DOUBLE, REDIS_REPLY_DOUBLE);
    assert_int_equal(CK_REDIS_REPLY_BOOL, REDIS_REPLY_BOOL);
    assert_int_equal(CK_REDIS_REPLY_MAP, REDIS_REPLY_MAP);
    assert_int_equal(CK_REDIS_REPLY_SET, REDIS_REPLY_SET);
    assert_int_equal(CK_REDIS_REPLY_ATTR, REDIS_REPLY_ATTR);
    assert_int_equal(CK_REDIS_REPLY_BIGNUM, REDIS_REPLY_BIGNUM);
    assert_int_equal(CK_REDIS_REPLY_VERB, REDIS_REPLY_VERB);
    assert_int_equal(CK_REDIS_CONN_USERFD, REDIS_CONN_USERFD);
#endif
}

#define STR_(x) #x
#define STR(x) STR_(x)

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layout_matches_the_headers),
        cmocka_unit_test(constants_match_the_headers),
        cmocka_unit_test(unsent_commands_seen_in_the_output_buffer),
    };
    return cmocka_run_group_tests_name(
        "abi layout (hiredis " STR(HIREDIS_MAJOR) "." STR(HIREDIS_MINOR) "." STR(HIREDIS_PATCH) ")", tests, NULL, NULL);
}
