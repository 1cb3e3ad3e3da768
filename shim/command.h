/* What a command is, from its name: the shim's policy depends on the class.
 * Pure: works on bytes, knows nothing of hiredis contexts. */
#ifndef CACHEKIT_COMMAND_H
#define CACHEKIT_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    CK_CMD_DATA = 0,     /* everything else: gated by the breaker, nil while open */
    CK_CMD_CONNECTION,   /* AUTH, SELECT, HELLO, CLIENT...: never faked, never gated */
    CK_CMD_TXN_BEGIN,    /* MULTI: the context passes through until EXEC/DISCARD */
    CK_CMD_TXN_END,      /* EXEC, DISCARD */
    CK_CMD_TXN_WATCH,    /* WATCH, UNWATCH: part of a transaction, never faked */
    CK_CMD_SUBSCRIBE,    /* SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, MONITOR: pass-through for good */
} ck_command_class;

/* argv[0] of a hiredis format string when it can be read without
 * formatting: a leading run of characters up to a space or the end, with no
 * '%' in it. Returns false when the format must be expanded to know. */
bool ck_command_name_from_format(const char *fmt, const char **name, size_t *len);

/* argv[0] of a RESP-encoded command ("*N\r\n$L\r\nNAME\r\n..."). */
bool ck_command_name_from_resp(const char *buf, size_t buflen, const char **name, size_t *len);

ck_command_class ck_command_classify(const char *name, size_t len);

/* True for an error reply that says the server cannot serve now (LOADING,
 * BUSY, MASTERDOWN...), as opposed to an error of the application's own
 * command (WRONGTYPE, ERR syntax...). `str` is the error text. */
bool ck_error_is_availability(const char *str, size_t len);

#endif
