/* What a command is, from its name: the shim's policy depends on the class.
 * Pure: works on bytes, knows nothing of hiredis contexts. */
#ifndef CACHEKIT_COMMAND_H
#define CACHEKIT_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    CK_CMD_DATA = 0,   /* everything else: gated by the breaker, nil while open */
    CK_CMD_CONNECTION, /* AUTH, SELECT, HELLO, CLIENT...: never faked, never gated */
    CK_CMD_TXN_BEGIN,  /* MULTI: the context passes through until EXEC/DISCARD */
    CK_CMD_TXN_END,    /* EXEC, DISCARD */
    CK_CMD_TXN_WATCH,  /* WATCH, UNWATCH: part of a transaction, never faked */
    CK_CMD_SUBSCRIBE,  /* SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, MONITOR: pass-through for good */
    CK_CMD_BLOCKING,   /* BLPOP, XREAD, WAIT...: data, but may wait as long as they ask */
} ck_command_class;

/* argv[0] of a hiredis format string when it can be read without
 * formatting: a leading run of characters up to a space or the end, with no
 * '%' in it. Returns false when the format must be expanded to know. */
static inline bool ck_command_name_from_format(const char *fmt, const char **name, size_t *len) {
    if (fmt == NULL)
        return false;
    size_t n = 0;
    while (fmt[n] != '\0' && fmt[n] != ' ') {
        if (fmt[n] == '%')
            return false;
        n++;
    }
    *name = fmt;
    *len = n;
    return n > 0;
}

/* argv[index] of a RESP-encoded command ("*N\r\n$L\r\nNAME\r\n..."). */
bool ck_command_arg_from_resp(const char *buf, size_t buflen, unsigned index, const char **arg, size_t *len);
static inline bool ck_command_name_from_resp(const char *buf, size_t buflen, const char **name, size_t *len) {
    return ck_command_arg_from_resp(buf, buflen, 0, name, len);
}

/* Calls fn(index, bytes, len, arg) for each argument of a RESP-encoded
 * command; false when the bytes are not exactly one well-formed command.
 * Every length is bounded before it is used. */
typedef void (*ck_arg_fn)(size_t index, const char *bytes, size_t len, void *arg);
bool ck_command_each_resp_arg(const char *resp, size_t len, ck_arg_fn fn, void *arg);

/* The whole commands in a buffer a program formatted itself (RESP
 * multibulks, or inline commands one per line): how many owe a reply, and
 * whether all of them are data commands; `each` (may be NULL) is called
 * with each whole command once the buffer is known good. False when the buffer holds an
 * incomplete or malformed command, or none. */
typedef void (*ck_batch_fn)(const char *cmd, size_t len, bool is_inline, void *arg);
bool ck_command_batch(const char *buf, size_t len, size_t *count, bool *all_data, ck_batch_fn each, void *arg);

/* Lengths and first letters that some special (non-data) command has:
 * most data commands (GET, SET, HGET...) fail one of these two bit tests
 * and are classified without a string comparison. */
#define CK_SPECIAL_LENGTHS 0x7f0u /* 4 to 10 */
#define CK_SPECIAL_LETTERS                                                                                             \
    ((1u << ('A' - 'A')) | (1u << ('B' - 'A')) | (1u << ('C' - 'A')) | (1u << ('D' - 'A')) | (1u << ('E' - 'A')) |     \
     (1u << ('H' - 'A')) | (1u << ('M' - 'A')) | (1u << ('P' - 'A')) | (1u << ('Q' - 'A')) | (1u << ('R' - 'A')) |     \
     (1u << ('S' - 'A')) | (1u << ('U' - 'A')) | (1u << ('W' - 'A')) | (1u << ('X' - 'A')))

ck_command_class ck_command_classify_special(const char *name, size_t len);

static inline ck_command_class ck_command_classify(const char *name, size_t len) {
    if (len > 10 || !(CK_SPECIAL_LENGTHS & (1u << len)))
        return CK_CMD_DATA;
    unsigned letter = (unsigned)(name[0] & ~0x20) - 'A'; /* upper case */
    if (letter >= 26 || !(CK_SPECIAL_LETTERS & (1u << letter)))
        return CK_CMD_DATA;
    return ck_command_classify_special(name, len);
}

/* True for an error reply that says the server cannot serve now (LOADING,
 * BUSY, MASTERDOWN...), as opposed to an error of the application's own
 * command (WRONGTYPE, ERR syntax...). `str` is the error text. */
bool ck_error_is_availability(const char *str, size_t len);

#endif
