/* Field access into hiredis's structs for the version actually loaded.
 * The offsets are those of x86_64 (LP64) builds of 0.14.x and 1.x; the
 * tests check them against both versions' headers with offsetof. */
#ifndef CACHEKIT_ABI_H
#define CACHEKIT_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hiredis_types.h"

typedef struct {
    const char *name;
    bool reads_resp3; /* 1.x: its reader parses RESP3 (maps, sets, ...) */
    size_t ctx_err, ctx_errstr, ctx_fd, ctx_flags, ctx_connection_type;
    size_t ctx_tcp_host, ctx_tcp_port, ctx_unix_path, ctx_size;
    size_t ctx_command_timeout; /* 1.x only; CK_NO_FIELD in 0.14 */
    /* fields a program may set on its own context (1.x): kept in place when
     * the shim swaps a fresh connection into the program's context */
    size_t ctx_app_fields[3];
    size_t ctx_app_field_count;
    size_t reply_integer, reply_len, reply_str, reply_elements, reply_element;
    size_t reply_vtype; /* 1.x only (a verbatim string's type); CK_NO_FIELD in 0.14 */
    size_t reply_size;  /* sizeof(redisReply): what hiredis allocates for one */
    /* the context's reader, and in it: its input (the same in every
     * version) and the reply functions a program may replace (Ruby's
     * driver builds Ruby objects) */
    size_t ctx_reader, reader_buf, reader_pos, reader_len, reader_ridx, reader_fn, reader_privdata;
    size_t ctx_obuf;        /* the commands appended and not written yet (an sds) */
    size_t fns_free_object; /* redisReplyObjectFunctions: offset of freeObject */
} ck_abi_layout;

extern ck_abi_layout ck_abi;

void ck_abi_select(bool v1);

#define CK_FIELD(ptr, off, type) (*(type *)((char *)(ptr) + (off)))
#define CK_NO_FIELD ((size_t)-1)

static inline int ck_ctx_err(const redisContext *c) { return CK_FIELD(c, ck_abi.ctx_err, int); }
static inline const char *ck_ctx_errstr(const redisContext *c) { return (const char *)c + ck_abi.ctx_errstr; }
/* A context that exists and carries no error (connected, or connecting). */
static inline bool ck_ctx_connected(const redisContext *c) { return c != NULL && ck_ctx_err(c) == 0; }
static inline int ck_ctx_fd(const redisContext *c) { return CK_FIELD(c, ck_abi.ctx_fd, int); }
/* hiredis then closes no descriptor when the context is freed */
static inline void ck_ctx_forget_fd(redisContext *c) { CK_FIELD(c, ck_abi.ctx_fd, int) = -1; }
static inline int ck_ctx_flags(const redisContext *c) { return CK_FIELD(c, ck_abi.ctx_flags, int); }
static inline void ck_ctx_clear_flags(redisContext *c, int flags) { CK_FIELD(c, ck_abi.ctx_flags, int) &= ~flags; }
static inline void ck_ctx_clear_error(redisContext *c) {
    CK_FIELD(c, ck_abi.ctx_err, int) = 0;
    *((char *)c + ck_abi.ctx_errstr) = '\0';
}
static inline int ck_ctx_connection_type(const redisContext *c) { return CK_FIELD(c, ck_abi.ctx_connection_type, int); }
static inline void ck_ctx_set_connection_type(redisContext *c, int type) {
    CK_FIELD(c, ck_abi.ctx_connection_type, int) = type;
}
static inline const char *ck_ctx_tcp_host(const redisContext *c) { return CK_FIELD(c, ck_abi.ctx_tcp_host, char *); }
/* The command timeout the program gave hiredis 1.x (options or
 * redisSetTimeout), or NULL. */
static inline const struct timeval *ck_ctx_command_timeout(const redisContext *c) {
    return ck_abi.ctx_command_timeout == CK_NO_FIELD ? NULL : CK_FIELD(c, ck_abi.ctx_command_timeout, struct timeval *);
}
static inline int ck_ctx_tcp_port(const redisContext *c) { return CK_FIELD(c, ck_abi.ctx_tcp_port, int); }
static inline const char *ck_ctx_unix_path(const redisContext *c) { return CK_FIELD(c, ck_abi.ctx_unix_path, char *); }
/* Whether redisReconnect can make the connection again: not for one made
 * from a descriptor (redisConnectFd: 0.14 leaves it TCP without a host,
 * 1.x marks it USERFD), which only its program can make anew. */
static inline bool ck_ctx_reconnectable(const redisContext *c) {
    int type = ck_ctx_connection_type(c);
    return (type == REDIS_CONN_TCP && ck_ctx_tcp_host(c) != NULL) ||
           (type == REDIS_CONN_UNIX && ck_ctx_unix_path(c) != NULL && ck_ctx_unix_path(c)[0] != '\0');
}

/* 1.x's push callback and its argument (privdata): redisGetReply hands
 * it each RESP3 push it reads. NULL with 0.14. */
typedef void ck_push_fn(void *privdata, void *reply);
static inline ck_push_fn *ck_ctx_push_cb(const redisContext *c) {
    return ck_abi.ctx_app_field_count == 3 ? CK_FIELD(c, ck_abi.ctx_app_fields[2], ck_push_fn *) : NULL;
}
static inline void *ck_ctx_privdata(const redisContext *c) {
    return ck_abi.ctx_app_field_count == 3 ? CK_FIELD(c, ck_abi.ctx_app_fields[0], void *) : NULL;
}

/* The reply functions of a context's reader: replaced by a program that
 * wants objects of its own (NULL fn: no reader). */
typedef struct {
    const void *fn;
    void *privdata;
} ck_reader_functions;

static inline void *ck_ctx_reader(const redisContext *c) { return CK_FIELD(c, ck_abi.ctx_reader, void *); }
static inline ck_reader_functions ck_reader_functions_of(const void *reader) {
    return reader == NULL ? (ck_reader_functions){NULL, NULL}
                          : (ck_reader_functions){CK_FIELD(reader, ck_abi.reader_fn, const void *),
                                                  CK_FIELD(reader, ck_abi.reader_privdata, void *)};
}
static inline void ck_reader_set_functions(void *reader, ck_reader_functions f) {
    if (reader == NULL || f.fn == NULL)
        return;
    CK_FIELD(reader, ck_abi.reader_fn, const void *) = f.fn;
    CK_FIELD(reader, ck_abi.reader_privdata, void *) = f.privdata;
}
/* Frees a reply object as the reader that made it would (its functions'
 * freeObject; none: nothing to free). */
typedef void ck_free_object_fn(void *);
static inline void ck_reader_free_object(ck_reader_functions f, void *obj) {
    ck_free_object_fn *free_object = f.fn != NULL ? CK_FIELD(f.fn, ck_abi.fns_free_object, ck_free_object_fn *) : NULL;
    if (free_object != NULL && obj != NULL)
        free_object(obj);
}

/* The reader's input: every byte fed (len) and those parsed (pos); a
 * reply under way when ridx >= 0. */
static inline const char *ck_reader_buf(const void *reader) { return CK_FIELD(reader, ck_abi.reader_buf, char *); }
static inline size_t ck_reader_len(const void *reader) { return CK_FIELD(reader, ck_abi.reader_len, size_t); }
/* The bytes of commands appended and not written yet, from the output
 * buffer's sds header (the same layouts in 0.14 and 1.x: len, alloc,
 * flags, packed, of 1 to 8 bytes each). */
static inline size_t ck_ctx_unsent_bytes(const redisContext *c) {
    const unsigned char *obuf = CK_FIELD(c, ck_abi.ctx_obuf, const unsigned char *);
    if (obuf == NULL)
        return 0;
    unsigned char flags = obuf[-1];
    switch (flags & 7) {
    case 0: return flags >> 3; /* sdshdr5: the length in the flags */
    case 1: return obuf[-3];
    case 2: {
        uint16_t len;
        memcpy(&len, obuf - 5, sizeof len);
        return len;
    }
    case 3: {
        uint32_t len;
        memcpy(&len, obuf - 9, sizeof len);
        return len;
    }
    case 4: {
        uint64_t len;
        memcpy(&len, obuf - 17, sizeof len);
        return (size_t)len;
    }
    default: return SIZE_MAX; /* (no sds type: taken for unsent, the safe side) */
    }
}
static inline bool ck_ctx_unsent(const redisContext *c) { return ck_ctx_unsent_bytes(c) != 0; }

/* Every byte fed is parsed (none waits in the reader). */
static inline bool ck_reader_drained(const void *reader) {
    return CK_FIELD(reader, ck_abi.reader_pos, size_t) == ck_reader_len(reader);
}
/* The bytes fed and not parsed yet. */
static inline const char *ck_reader_unparsed(const void *reader, size_t *n) {
    size_t pos = CK_FIELD(reader, ck_abi.reader_pos, size_t);
    *n = ck_reader_len(reader) - pos;
    return ck_reader_buf(reader) + pos;
}
/* No reply under way: the unparsed bytes, if any, start one. */
static inline bool ck_reader_between_replies(const void *reader) {
    return CK_FIELD(reader, ck_abi.reader_ridx, int) == -1;
}
static inline bool ck_reader_idle(const void *reader) {
    return ck_reader_drained(reader) && ck_reader_between_replies(reader);
}

/* redisReply: type is the first int in every version. */
static inline int ck_reply_type(const void *r) { return *(const int *)r; }
static inline const char *ck_reply_str(const void *r) { return CK_FIELD(r, ck_abi.reply_str, char *); }
static inline size_t ck_reply_len(const void *r) { return CK_FIELD(r, ck_abi.reply_len, size_t); }
static inline long long ck_reply_integer(const void *r) { return CK_FIELD(r, ck_abi.reply_integer, long long); }
static inline size_t ck_reply_elements(const void *r) { return CK_FIELD(r, ck_abi.reply_elements, size_t); }
static inline void *ck_reply_element(const void *r, size_t i) { return CK_FIELD(r, ck_abi.reply_element, void **)[i]; }
static inline const char *ck_reply_vtype(const void *r) { return (const char *)r + ck_abi.reply_vtype; }

#endif
