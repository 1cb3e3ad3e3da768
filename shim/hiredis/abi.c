/* The two layouts, chosen once when the real symbols are resolved: 1.x is
 * recognised by redisConnectWithOptions, which 0.14 lacks. */
#include "abi.h"

/* a macro: the default of ck_abi below needs a constant expression */
#define LAYOUT_V014                                                                                                    \
    {                                                                                                                  \
        .name = "0.14", .ctx_err = 0, .ctx_errstr = 4, .ctx_fd = 132, .ctx_flags = 136, .ctx_connection_type = 160,    \
        .ctx_tcp_host = 176, .ctx_tcp_port = 192, .ctx_unix_path = 200, .ctx_size = 208,                               \
        .ctx_command_timeout = CK_NO_FIELD, .ctx_app_field_count = 0, .reply_integer = 8, .reply_len = 16,             \
        .reply_str = 24, .reply_elements = 32, .reply_element = 40, .reply_vtype = CK_NO_FIELD, .reply_size = 48,      \
        .ctx_reader = 152, .reader_buf = 136, .reader_pos = 144, .reader_len = 152, .reader_ridx = 528,                \
        .reader_fn = 544, .reader_privdata = 552, .fns_free_object = 32, .ctx_obuf = 144,                              \
    }

static const ck_abi_layout layout_v014 = LAYOUT_V014;

static const ck_abi_layout layout_v1 = {
    .name = "1.x",
    .reads_resp3 = true,
    .ctx_err = 8,
    .ctx_errstr = 12,
    .ctx_fd = 140,
    .ctx_flags = 144,
    .ctx_connection_type = 168,
    .ctx_tcp_host = 192,
    .ctx_tcp_port = 208,
    .ctx_unix_path = 216,
    .ctx_size = 272,
    .ctx_command_timeout = 184,
    .ctx_app_fields = {240 /* privdata */, 248 /* free_privdata */, 264 /* push_cb */},
    .ctx_app_field_count = 3,
    .reply_integer = 8,
    .reply_len = 24,
    .reply_str = 32,
    .reply_elements = 48,
    .reply_element = 56,
    .reply_vtype = 40,
    .reply_size = 64,
    .ctx_reader = 160,
    .reader_buf = 136,
    .reader_pos = 144,
    .reader_len = 152,
    .reader_ridx = 188,
    .reader_fn = 200,
    .reader_privdata = 208,
    .fns_free_object = 48,
    .ctx_obuf = 152,
};

ck_abi_layout ck_abi = LAYOUT_V014;

void ck_abi_select(bool v1) { ck_abi = v1 ? layout_v1 : layout_v014; }
