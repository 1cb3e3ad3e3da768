/* Same splitting rules as hiredis: spaces in the format separate
 * arguments, interpolated text is never split, and an argument exists once
 * anything (even an empty %s) was put in it. */
#include "format.h"

#include <stdbool.h>
#include <string.h>

#define MAX_PIECES 64 /* more: hiredis formats it */

/* One stretch of an argument's bytes: literal text of the format, or an
 * interpolated value. An argument is one or more pieces in a row. */
typedef struct {
    const char *bytes;
    size_t len;
    bool ends_arg; /* the last piece of its argument */
} piece;

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

static inline void copy_short(char *to, const char *from, size_t n) {
    if (n <= 16) { /* most keys and words: no call */
        for (size_t i = 0; i < n; i++)
            to[i] = from[i];
    } else {
        memcpy(to, from, n);
    }
}

/* The format read once into pieces (nothing copied), then each argument
 * written once: its header, its pieces, CRLF. */
long ck_format_command(char *out, size_t cap, const char *fmt, va_list ap) {
    piece pieces[MAX_PIECES];
    int count = 0, argc = 0;
    bool touched = false; /* the argument under way exists (even empty) */
    if (fmt == NULL)
        return -1;
    for (const char *c = fmt; *c != '\0'; c++) {
        if (*c == ' ') {
            if (touched) {
                pieces[count - 1].ends_arg = true;
                argc++;
                touched = false;
            }
            continue;
        }
        if (count == MAX_PIECES)
            return -1;
        piece *p = &pieces[count];
        if (*c != '%') {
            const char *run = c;
            while (c[1] != '\0' && c[1] != ' ' && c[1] != '%')
                c++;
            *p = (piece){run, (size_t)(c - run) + 1, false};
        } else if (c[1] == 's') {
            const char *s = va_arg(ap, const char *);
            *p = (piece){s, strlen(s), false};
            c++;
        } else if (c[1] == 'b') {
            const char *b = va_arg(ap, const char *);
            size_t n = va_arg(ap, size_t);
            *p = (piece){b, n, false};
            c++;
        } else if (c[1] == '%') {
            *p = (piece){c, 1, false};
            c++;
        } else {
            return -1; /* a printf conversion: hiredis's job */
        }
        count++;
        touched = true;
    }
    if (touched) {
        pieces[count - 1].ends_arg = true;
        argc++;
    }
    if (argc == 0)
        return -1;
    size_t used = put_header(out, cap, 0, '*', (size_t)argc);
    for (int i = 0; i < count && used != 0;) {
        size_t len = 0;
        int last = i;
        while (!pieces[last].ends_arg)
            len += pieces[last++].len;
        len += pieces[last].len;
        used = put_header(out, cap, used, '$', len);
        if (used == 0 || len > cap || used + len + 2 > cap)
            return -1;
        for (; i <= last; i++) {
            copy_short(out + used, pieces[i].bytes, pieces[i].len);
            used += pieces[i].len;
        }
        out[used++] = '\r';
        out[used++] = '\n';
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
