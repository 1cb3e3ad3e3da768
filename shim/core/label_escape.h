/* Text that goes into a Prometheus label value or a JSON string: '\\', '"'
 * and line feeds escaped as both formats require, other control
 * characters made spaces (JSON would need \u escapes), cut to fit. */
#ifndef CACHEKIT_LABEL_ESCAPE_H
#define CACHEKIT_LABEL_ESCAPE_H

#include <stddef.h>

/* Writes at most cap - 1 bytes and a NUL; an escape is never cut in half. */
void ck_label_escape(char *out, size_t cap, const char *s);

#endif
