/* A small formatter for hiredis format strings ("GET %s", "SET key:%s %b"),
 * producing the same RESP bytes as hiredis's redisvFormatCommand for the
 * conversions programs use most (%s, %b, %%), into the caller's buffer:
 * no allocation and no printf machinery. Anything else (%d, %lld...), or a
 * command longer than the buffer, is left to hiredis. Pure. */
#ifndef CACHEKIT_FORMAT_H
#define CACHEKIT_FORMAT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CK_FORMAT_MAX_STEPS 64 /* more: hiredis formats it */

/* The RESP length written to out, or -1 when hiredis must format it (ap
 * is then in an unspecified state: pass a copy). */
long ck_format_command(char *out, size_t cap, const char *fmt, va_list ap);

/* A format read once: its steps, in order (text of the format, or an
 * argument to interpolate), each marked where its argument ends. Reading
 * the format and writing a call's RESP are apart so that a format read
 * once serves every call made with it (core/call_site.h). */
typedef enum { CK_STEP_TEXT, CK_STEP_STRING /* %s */, CK_STEP_BINARY /* %b */ } ck_format_step_kind;
typedef struct {
    uint16_t at, len; /* CK_STEP_TEXT: the text's place in the format */
    uint8_t kind;     /* ck_format_step_kind */
    bool ends_arg;    /* the last step of its argument */
} ck_format_step;

/* Reads fmt into at most `max` steps: their count, and *argc, the
 * command's argument count; -1 when hiredis must format it (a conversion
 * other than %s, %b, %%; no argument; too many steps). */
int ck_format_compile(const char *fmt, ck_format_step *steps, int max, int *argc);

/* Writes the RESP of one call of a compiled format (fmt: its bytes, for
 * the text steps) with the call's arguments: the length, or -1 when it
 * does not fit (ap is then in an unspecified state: pass a copy). */
long ck_format_apply(char *out, size_t cap, const char *fmt, const ck_format_step *steps, int count, int argc,
                     va_list ap);

/* Where an argument's bytes are in a command's RESP. */
typedef struct {
    uint32_t at, len;
} ck_arg_span;

/* The part of every call's RESP that a compiled format fixes: the count
 * header and the leading arguments that are text only (the command's
 * name, a literal subcommand), written to out (*len bytes), and where
 * each of those arguments is (spans, when not NULL). Returns how many
 * steps it covers, or -1 when it does not fit. */
int ck_format_prefix(char *out, size_t cap, const char *fmt, const ck_format_step *steps, int count, int argc,
                     size_t *len, ck_arg_span *spans);

/* ck_format_apply for a format whose prefix was written once: the
 * prefix's bytes, then the arguments of the steps after it, and where
 * each of those is (spans, when not NULL: one per argument written). */
long ck_format_apply_after(char *out, size_t cap, const char *prefix, size_t prefix_len, const char *fmt,
                           const ck_format_step *steps, int count, va_list ap, ck_arg_span *spans);

/* The RESP form of one inline command line (words separated by spaces or
 * tabs, ending in \n or \r\n), or -1 when it holds quotes or escapes
 * (Redis's own splitting would be needed) or does not fit. */
long ck_format_inline(char *out, size_t cap, const char *line, size_t len);

#endif
