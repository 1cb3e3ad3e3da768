/* Reply synthesis: the simple values (nil, strings, integers: the open
 * path's answers) built directly as hiredis builds them, the rest through
 * a per-thread hiredis reader. Creating a reader per reply costs several
 * allocations; one reader per thread, fed a complete RESP value each time,
 * turns a synthesized reply into one parse and the reply's own
 * allocation. The reader is freed when its thread ends (pthread key
 * destructor) or at process exit.
 *
 * The reader's functions are called without the guard (CK_REAL_CALL): they
 * call nothing the shim wraps, and they are on the open path, where every
 * instruction counts. */
#include "reply.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "command.h"
#include "log.h"
#include "real.h"

static pthread_key_t reader_key;
static pthread_once_t reader_key_once = PTHREAD_ONCE_INIT;
static __thread redisReader *thread_reader;

static void free_reader(void *reader) {
    if (reader != NULL)
        ck_real.redisReaderFree(reader);
}

static void make_key(void) { pthread_key_create(&reader_key, free_reader); }

static redisReader *reader_for_thread(void) {
    if (thread_reader == NULL) {
        pthread_once(&reader_key_once, make_key);
        thread_reader = ck_real.redisReaderCreate();
        if (thread_reader != NULL)
            pthread_setspecific(reader_key, thread_reader);
    }
    return thread_reader;
}

void ck_reply_thread_cleanup(void) {
    if (thread_reader != NULL) {
        pthread_setspecific(reader_key, NULL);
        ck_real.redisReaderFree(thread_reader);
        thread_reader = NULL;
    }
}

/* hiredis's own reply functions, as every new reader has them: learnt
 * from this thread's reader the first time a reader's functions differ
 * from what is known (a plain pointer: every thread learns the same
 * address, so a racing store writes the same value). */
const void *ck_reply_hiredis_functions;

static const void *hiredis_functions(void) {
    const void *fn = __atomic_load_n(&ck_reply_hiredis_functions, __ATOMIC_RELAXED);
    if (fn == NULL) {
        redisReader *r = reader_for_thread();
        fn = r != NULL ? ck_reader_functions_of(r).fn : NULL;
        __atomic_store_n(&ck_reply_hiredis_functions, fn, __ATOMIC_RELAXED);
    }
    return fn;
}

bool ck_reply_foreign_slow(const redisContext *c) {
    const void *fn = ck_reader_functions_of(ck_ctx_reader(c)).fn;
    const void *hiredis = hiredis_functions();
    return hiredis != NULL && fn != hiredis;
}

/* The reply is built with the reply functions of `c`'s reader, so that it
 * is the kind of object the program gets from its hiredis there. */
static void *build(const redisContext *c, const char *resp, size_t len) {
    redisReader *r = reader_for_thread();
    void *reply = NULL;
    ck_reader_functions own = {NULL, NULL};
    if (r != NULL && c != NULL && ck_reply_foreign(c)) {
        own = ck_reader_functions_of(r);
        ck_reader_set_functions(r, ck_reader_functions_of(ck_ctx_reader(c)));
    }
    bool built = r != NULL && ck_real.redisReaderFeed(r, resp, len) == REDIS_OK &&
                 ck_real.redisReaderGetReply(r, &reply) == REDIS_OK && reply != NULL;
    ck_reader_set_functions(r, own); /* (nothing when own.fn is NULL) */
    if (!built) {
        /* A reader in an error state cannot be reused: drop it. */
        ck_reply_thread_cleanup();
        ck_log(CK_LOG_ERROR, "could not build a reply (out of memory?); the program gets an error instead");
        return NULL;
    }
    return reply;
}

/* ------------------------------------------------ replies built directly
 * A nil, a string, a status, an error or an integer is built as hiredis's
 * reader builds it (createReplyObject, createStringObject,
 * createIntegerObject): one zeroed redisReply of the loaded version, and
 * for a string its bytes with a NUL after them, through hiredis's own
 * allocators, so that freeReplyObject frees it as one of its own. The
 * open path's answers are these; anything else goes through the reader. */

/* calloc's result, as malloc and a clearing: glibc's calloc takes no
 * chunk from the thread cache, its malloc does (the open path allocates
 * and the program frees one reply per call) */
static void *reply_zeroed(void) {
    const ck_hiredis_allocators *a = ck_real_allocators;
    size_t size = ck_abi.reply_size;
    void *r = a != NULL ? a->malloc_fn(size) : malloc(size);
    if (r == NULL)
        return NULL;
    if (size == 48) /* (the two layouts, as constants: a few stores) */
        memset(r, 0, 48);
    else if (size == 64)
        memset(r, 0, 64);
    else
        memset(r, 0, size);
    return r;
}

static void *reply_malloc(size_t n) {
    const ck_hiredis_allocators *a = ck_real_allocators;
    return a != NULL ? a->malloc_fn(n) : malloc(n);
}

static void reply_free(void *p) {
    const ck_hiredis_allocators *a = ck_real_allocators;
    if (a != NULL)
        a->free_fn(p);
    else
        free(p);
}

static void *new_reply(int type) {
    void *r = reply_zeroed();
    if (r != NULL)
        *(int *)r = type;
    return r;
}

static void *new_string_reply(int type, const char *str, size_t len) {
    char *bytes = reply_malloc(len + 1);
    void *r = bytes != NULL ? new_reply(type) : NULL;
    if (r == NULL) {
        if (bytes != NULL)
            reply_free(bytes);
        return NULL;
    }
    memcpy(bytes, str, len);
    bytes[len] = '\0';
    CK_FIELD(r, ck_abi.reply_str, char *) = bytes;
    CK_FIELD(r, ck_abi.reply_len, size_t) = len;
    return r;
}

/* The digits of a length or an integer up to the CRLF at `end`; false
 * for anything hiredis's reader would read otherwise (left to it). */
static bool read_integer(const char *p, const char *end, long long *out) {
    bool negative = p < end && *p == '-';
    p += negative;
    if (p == end || end - p > 18)
        return false; /* (no overflow below) */
    long long v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    *out = negative ? -v : v;
    return true;
}

/* One whole simple value, built; NULL with *simple false when the value
 * is of another kind or shape (the reader builds it). */
static void *build_simple(const char *resp, size_t len, bool *simple) {
    *simple = false;
    if (len < 3 || resp[len - 2] != '\r' || resp[len - 1] != '\n')
        return NULL;
    const char *line_end = memchr(resp, '\r', len);
    long long n;
    switch (resp[0]) {
    case '$':
        if (!read_integer(resp + 1, line_end, &n))
            return NULL;
        if (n == -1 && line_end + 2 == resp + len)
            return *simple = true, new_reply(REDIS_REPLY_NIL);
        if (n < 0 || (size_t)(line_end + 2 - resp) + (size_t)n + 2 != len)
            return NULL;
        return *simple = true, new_string_reply(REDIS_REPLY_STRING, line_end + 2, (size_t)n);
    case '+':
    case '-':
        if (line_end != resp + len - 2)
            return NULL;
        return *simple = true,
               new_string_reply(resp[0] == '+' ? REDIS_REPLY_STATUS : REDIS_REPLY_ERROR, resp + 1, len - 3);
    case ':': {
        if (line_end != resp + len - 2 || !read_integer(resp + 1, line_end, &n))
            return NULL;
        void *r = new_reply(REDIS_REPLY_INTEGER);
        if (r != NULL)
            CK_FIELD(r, ck_abi.reply_integer, long long) = n;
        return *simple = true, r;
    }
    default: return NULL;
    }
}

static void *out_of_memory(void) {
    ck_log(CK_LOG_ERROR, "could not build a reply (out of memory); the program gets an error instead");
    return NULL;
}

void *ck_reply_nil(const redisContext *c) {
    if (c != NULL && ck_reply_foreign(c))
        return build(c, "$-1\r\n", 5);
    void *r = new_reply(REDIS_REPLY_NIL);
    return r != NULL ? r : out_of_memory();
}

void *ck_reply_from_resp(const redisContext *c, const char *resp, size_t len) {
    bool simple = false;
    void *r = c != NULL && ck_reply_foreign(c) ? NULL : build_simple(resp, len, &simple);
    if (!simple)
        return build(c, resp, len);
    return r != NULL ? r : out_of_memory();
}

static bool put_header(ck_buf *b, char kind, long long n, size_t limit) {
    char head[32];
    int len = snprintf(head, sizeof head, "%c%lld\r\n", kind, n);
    return ck_buf_put(b, head, (size_t)len, limit);
}

/* hiredis 1.x's RESP3 types, as Redis sent them: the reply of a program
 * that said HELLO 3 (its L1 entries are apart from RESP2 ones). Pushes and
 * attributes are owed to no command: never kept. */
static bool encode_resp3(const void *reply, ck_buf *out, size_t limit) {
    char head[32];
    int n;
    switch (ck_reply_type(reply)) {
    case CK_REDIS_REPLY_DOUBLE:
    case CK_REDIS_REPLY_BIGNUM:
        return ck_buf_put(out, ck_reply_type(reply) == CK_REDIS_REPLY_DOUBLE ? "," : "(", 1, limit) &&
               ck_buf_put(out, ck_reply_str(reply), ck_reply_len(reply), limit) && ck_buf_put(out, "\r\n", 2, limit);
    case CK_REDIS_REPLY_BOOL: return ck_buf_put(out, ck_reply_integer(reply) ? "#t\r\n" : "#f\r\n", 4, limit);
    case CK_REDIS_REPLY_VERB:
        n = snprintf(head, sizeof head, "=%zu\r\n%.3s:", ck_reply_len(reply) + 4, ck_reply_vtype(reply));
        return n == (int)strlen(head) && ck_buf_put(out, head, (size_t)n, limit) &&
               ck_buf_put(out, ck_reply_str(reply), ck_reply_len(reply), limit) && ck_buf_put(out, "\r\n", 2, limit);
    case CK_REDIS_REPLY_MAP:
    case CK_REDIS_REPLY_SET: {
        size_t count = ck_reply_elements(reply);
        bool map = ck_reply_type(reply) == CK_REDIS_REPLY_MAP;
        if ((map && count % 2 != 0) || !put_header(out, map ? '%' : '~', (long long)(map ? count / 2 : count), limit))
            return false;
        for (size_t i = 0; i < count; i++)
            if (!ck_reply_encode(ck_reply_element(reply, i), out, limit))
                return false;
        return true;
    }
    default: return false;
    }
}

bool ck_reply_encode(const void *reply, ck_buf *out, size_t limit) {
    switch (ck_reply_type(reply)) {
    case REDIS_REPLY_STRING:
        return put_header(out, '$', (long long)ck_reply_len(reply), limit) &&
               ck_buf_put(out, ck_reply_str(reply), ck_reply_len(reply), limit) && ck_buf_put(out, "\r\n", 2, limit);
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        return ck_buf_put(out, ck_reply_type(reply) == REDIS_REPLY_STATUS ? "+" : "-", 1, limit) &&
               ck_buf_put(out, ck_reply_str(reply), ck_reply_len(reply), limit) && ck_buf_put(out, "\r\n", 2, limit);
    case REDIS_REPLY_INTEGER: return put_header(out, ':', ck_reply_integer(reply), limit);
    case REDIS_REPLY_NIL: return ck_buf_put(out, "$-1\r\n", 5, limit);
    case REDIS_REPLY_ARRAY: {
        size_t n = ck_reply_elements(reply);
        if (!put_header(out, '*', (long long)n, limit))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!ck_reply_encode(ck_reply_element(reply, i), out, limit))
                return false;
        return true;
    }
    default: return ck_abi.reads_resp3 && encode_resp3(reply, out, limit);
    }
}
