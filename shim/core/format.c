/* Same splitting rules as hiredis: spaces in the format separate
 * arguments, interpolated text is never split, and an argument exists once
 * anything (even an empty %s) was put in it. */
#include "format.h"

#include <stdbool.h>
#include <string.h>

#define MAX_ARGS 64

typedef struct {
    char *scratch;
    size_t cap, len;
    size_t starts[MAX_ARGS + 1];
    int argc;
    bool touched, overflow;
} builder;

static void add(builder *b, const char *bytes, size_t n) {
    if (b->overflow || b->len + n > b->cap) {
        b->overflow = true;
        return;
    }
    memcpy(b->scratch + b->len, bytes, n);
    b->len += n;
    b->touched = true;
}

static void finish_arg(builder *b) {
    if (!b->touched)
        return;
    if (b->argc == MAX_ARGS) {
        b->overflow = true;
        return;
    }
    b->starts[++b->argc] = b->len;
    b->touched = false;
}

/* Writes "<kind><n>\r\n" at out+used; the new length, 0 when it does not
 * fit. (snprintf would cost more than the rest of the formatting.) */
static size_t put_header(char *out, size_t cap, size_t used, char kind, size_t n) {
    if (n < 10 && used + 4 <= cap) { /* the common case: a short argument */
        out[used] = kind;
        out[used + 1] = (char)('0' + n);
        out[used + 2] = '\r';
        out[used + 3] = '\n';
        return used + 4;
    }
    char digits[24];
    size_t d = 0;
    do {
        digits[d++] = (char)('0' + n % 10);
        n /= 10;
    } while (n != 0);
    if (used + 1 + d + 2 > cap)
        return 0;
    out[used++] = kind;
    while (d > 0)
        out[used++] = digits[--d];
    out[used++] = '\r';
    out[used++] = '\n';
    return used;
}

long ck_format_command(char *out, size_t cap, const char *fmt, va_list ap) {
    char scratch[1024];
    builder b; /* not zero-initialised: starts[] is written as arguments end */
    b.scratch = scratch;
    b.cap = sizeof scratch;
    b.len = 0;
    b.starts[0] = 0;
    b.argc = 0;
    b.touched = false;
    b.overflow = false;
    if (fmt == NULL)
        return -1;
    for (const char *c = fmt; *c != '\0' && !b.overflow; c++) {
        if (*c == ' ') {
            finish_arg(&b);
        } else if (*c != '%') {
            size_t run = strcspn(c, " %"); /* literal text up to the next space or conversion */
            add(&b, c, run);
            c += run - 1;
        } else if (c[1] == 's') {
            const char *s = va_arg(ap, const char *);
            add(&b, s, strlen(s));
            b.touched = true;
            c++;
        } else if (c[1] == 'b') {
            const char *p = va_arg(ap, const char *);
            size_t n = va_arg(ap, size_t);
            add(&b, p, n);
            b.touched = true;
            c++;
        } else if (c[1] == '%') {
            add(&b, "%", 1);
            c++;
        } else {
            return -1; /* a printf conversion: hiredis's job */
        }
    }
    finish_arg(&b);
    if (b.overflow || b.argc == 0)
        return -1;
    size_t used = put_header(out, cap, 0, '*', (size_t)b.argc);
    for (int i = 0; i < b.argc && used != 0; i++) {
        size_t len = b.starts[i + 1] - b.starts[i];
        used = put_header(out, cap, used, '$', len);
        if (used == 0 || used + len + 2 > cap)
            return -1;
        memcpy(out + used, scratch + b.starts[i], len);
        used += len;
        memcpy(out + used, "\r\n", 2);
        used += 2;
    }
    return used == 0 ? -1 : (long)used;
}

/* Appends "$<n>\r\n<bytes>\r\n" (or the "*<n>\r\n" header when bytes
 * is NULL); false when it does not fit. */
static bool put_item(char *out, size_t cap, size_t *at, char kind, const char *bytes, size_t n) {
    char digits[24];
    int d = 0;
    size_t v = n;
    do
        digits[d++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    size_t need = 1 + (size_t)d + 2 + (bytes != NULL ? n + 2 : 0);
    if (cap - *at < need)
        return false;
    out[(*at)++] = kind;
    while (d > 0)
        out[(*at)++] = digits[--d];
    out[(*at)++] = '\r';
    out[(*at)++] = '\n';
    if (bytes != NULL) {
        memcpy(out + *at, bytes, n);
        *at += n;
        out[(*at)++] = '\r';
        out[(*at)++] = '\n';
    }
    return true;
}

long ck_format_inline(char *out, size_t cap, const char *line, size_t len) {
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    size_t words = 0;
    for (size_t i = 0; i < len; i++) {
        if (line[i] == '"' || line[i] == '\'' || line[i] == '\\' || line[i] == '\r' || line[i] == '\n')
            return -1;
        if (line[i] != ' ' && line[i] != '\t' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t'))
            words++;
    }
    size_t at = 0;
    if (words == 0 || !put_item(out, cap, &at, '*', NULL, words))
        return -1;
    for (size_t i = 0; i < len;) {
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        size_t start = i;
        while (i < len && line[i] != ' ' && line[i] != '\t')
            i++;
        if (i > start && !put_item(out, cap, &at, '$', line + start, i - start))
            return -1;
    }
    return (long)at;
}
