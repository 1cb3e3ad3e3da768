/* A small formatter for hiredis format strings ("GET %s", "SET key:%s %b"),
 * producing the same RESP bytes as hiredis's redisvFormatCommand for the
 * conversions programs use most (%s, %b, %%), into the caller's buffer:
 * no allocation and no printf machinery. Anything else (%d, %lld...), or a
 * command longer than the buffer, is left to hiredis. Pure. */
#ifndef CACHEKIT_FORMAT_H
#define CACHEKIT_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

/* The RESP length written to out, or -1 when hiredis must format it (ap
 * is then in an unspecified state: pass a copy). */
long ck_format_command(char *out, size_t cap, const char *fmt, va_list ap);

/* The RESP form of one inline command line (words separated by spaces or
 * tabs, ending in \n or \r\n), or -1 when it holds quotes or escapes
 * (Redis's own splitting would be needed) or does not fit. */
long ck_format_inline(char *out, size_t cap, const char *line, size_t len);

#endif
