/* The real hiredis functions, found with dlsym(RTLD_NEXT) once: every
 * function the shim exports (so that each wrapper can check that its real
 * one is there, api.h) and every one it calls. The list below is the
 * single source of truth: it generates the table of function pointers and
 * the resolver. */
#ifndef CACHEKIT_REAL_H
#define CACHEKIT_REAL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "hiredis_types.h"

/* X(return type, name, parameter list, required, hiredis calls it itself)
 * The last column says whether hiredis 0.14 or 1.x calls the function
 * through its own PLT (objdump -d libhiredis.so | grep @plt): only such a
 * wrapper can be reached by hiredis's code; any other is always the
 * program's (guard.h). */
#define CK_REAL_SYMBOLS(X)                                                                                             \
    X(redisContext *, redisConnect, (const char *ip, int port), true, false)                                           \
    X(redisContext *, redisConnectWithTimeout, (const char *ip, int port, const struct timeval tv), true, false)       \
    X(redisContext *, redisConnectNonBlock, (const char *ip, int port), true, true)                                    \
    X(redisContext *, redisConnectBindNonBlock, (const char *ip, int port, const char *src), true, true)               \
    X(redisContext *, redisConnectBindNonBlockWithReuse, (const char *ip, int port, const char *src), false, true)     \
    X(redisContext *, redisConnectUnix, (const char *path), true, false)                                               \
    X(redisContext *, redisConnectUnixWithTimeout, (const char *path, const struct timeval tv), true, false)           \
    X(redisContext *, redisConnectUnixNonBlock, (const char *path), true, true)                                        \
    X(redisContext *, redisConnectFd, (int fd), true, false)                                                           \
    X(redisContext *, redisConnectWithOptions, (const void *options), false, true)                                     \
    X(int, redisReconnect, (redisContext * c), true, false)                                                            \
    X(int, redisSetTimeout, (redisContext * c, const struct timeval tv), true, false)                                  \
    X(int, redisEnableKeepAlive, (redisContext * c), true, false)                                                      \
    X(void, redisFree, (redisContext * c), true, true)                                                                 \
    X(void *, redisCommand, (redisContext * c, const char *format, ...), true, false)                                  \
    X(void *, redisvCommand, (redisContext * c, const char *format, va_list ap), true, true)                           \
    X(void *, redisCommandArgv, (redisContext * c, int argc, const char **argv, const size_t *argvlen), true, false)   \
    X(int, redisAppendCommand, (redisContext * c, const char *format, ...), true, false)                               \
    X(int, redisvAppendCommand, (redisContext * c, const char *format, va_list ap), true, true)                        \
    X(int, redisAppendCommandArgv, (redisContext * c, int argc, const char **argv, const size_t *argvlen), true, true) \
    X(int, redisAppendFormattedCommand, (redisContext * c, const char *cmd, size_t len), true, false)                  \
    X(int, redisGetReply, (redisContext * c, void **reply), true, true)                                                \
    X(int, redisBufferWrite, (redisContext * c, int *done), true, true)                                                \
    X(int, redisBufferRead, (redisContext * c), true, true)                                                            \
    X(int, redisGetReplyFromReader, (redisContext * c, void **reply), true, true)                                      \
    X(int, redisvFormatCommand, (char **target, const char *format, va_list ap), true, false)                          \
    X(int, redisFormatCommandArgv, (char **target, int argc, const char **argv, const size_t *argvlen), true, false)   \
    X(void, redisFreeCommand, (char *cmd), true, false)                                                                \
    X(void, __redisSetError, (redisContext * c, int type, const char *str), true, false)                               \
    X(redisReader *, redisReaderCreate, (void), true, false)                                                           \
    X(int, redisReaderFeed, (redisReader * r, const char *buf, size_t len), true, false)                               \
    X(int, redisReaderGetReply, (redisReader * r, void **reply), true, false)                                          \
    X(void, redisReaderFree, (redisReader * r), true, false)                                                           \
    X(void, freeReplyObject, (void *reply), true, false)                                                               \
    X(redisAsyncContext *, redisAsyncConnect, (const char *ip, int port), true, false)                                 \
    X(redisAsyncContext *, redisAsyncConnectBind, (const char *ip, int port, const char *src), true, false)            \
    X(redisAsyncContext *, redisAsyncConnectBindWithReuse, (const char *ip, int port, const char *src), false, false)  \
    X(redisAsyncContext *, redisAsyncConnectUnix, (const char *path), true, false)                                     \
    X(redisAsyncContext *, redisAsyncConnectWithOptions, (const void *options), false, true)                           \
    X(int, redisAsyncCommand, (redisAsyncContext * ac, redisCallbackFn * fn, void *privdata, const char *format, ...), \
      true, false)                                                                                                     \
    X(int, redisvAsyncCommand,                                                                                         \
      (redisAsyncContext * ac, redisCallbackFn * fn, void *privdata, const char *format, va_list ap), true, true)      \
    X(int, redisAsyncCommandArgv,                                                                                      \
      (redisAsyncContext * ac, redisCallbackFn * fn, void *privdata, int argc, const char **argv,                      \
       const size_t *argvlen),                                                                                         \
      true, false)                                                                                                     \
    X(int, redisAsyncFormattedCommand,                                                                                 \
      (redisAsyncContext * ac, redisCallbackFn * fn, void *privdata, const char *cmd, size_t len), true, false)        \
    X(void, redisAsyncHandleRead, (redisAsyncContext * ac), true, false)                                               \
    X(void, redisAsyncHandleWrite, (redisAsyncContext * ac), true, false)                                              \
    X(void, redisAsyncRead, (redisAsyncContext * ac), false, false)                                                    \
    X(void, redisAsyncWrite, (redisAsyncContext * ac), false, false)                                                   \
    X(void, redisProcessCallbacks, (redisAsyncContext * ac), true, false)                                              \
    X(int, redisCheckConnectDone, (redisContext * c, int *completed), false, true)

typedef struct {
#define CK_REAL_FIELD(ret, name, params, required, self_called) ret(*name) params;
    CK_REAL_SYMBOLS(CK_REAL_FIELD)
#undef CK_REAL_FIELD
} ck_real_table;

extern ck_real_table ck_real;

/* CK_HIREDIS_CALLS_<name>: true when hiredis calls `name` itself. */
enum {
#define CK_REAL_SELF(ret, name, params, required, self_called) CK_HIREDIS_CALLS_##name = (self_called),
    CK_REAL_SYMBOLS(CK_REAL_SELF)
#undef CK_REAL_SELF
};

/* hiredis 1.x's allocators (its hiredisAllocFns, which a program may
 * replace with hiredisSetAllocators): every reply it makes is allocated
 * through them, and freeReplyObject frees through them. NULL with 0.14,
 * which calls malloc and free. */
typedef struct {
    void *(*malloc_fn)(size_t);
    void *(*calloc_fn)(size_t, size_t);
    void *(*realloc_fn)(void *, size_t);
    char *(*strdup_fn)(const char *);
    void (*free_fn)(void *);
} ck_hiredis_allocators;

extern const ck_hiredis_allocators *ck_real_allocators;

extern atomic_bool ck_real_resolved;
bool ck_real_resolve(void);

/* The address lies in the code of the hiredis the functions were found
 * in (its executable segments): a call from there is hiredis calling
 * itself. True for any address if those segments could not be found. */
bool ck_real_owns_code(const void *address);

/* True once every required symbol is known: one load after the first
 * success; retried while false, because a program (Perl, Ruby) may dlopen
 * hiredis after the shim was loaded. */
static inline bool ck_real_ready(void) {
    if (__builtin_expect(atomic_load_explicit(&ck_real_resolved, memory_order_acquire), 1))
        return true;
    return ck_real_resolve();
}

#endif
