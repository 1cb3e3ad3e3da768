/* Same splitting rules as hiredis: spaces in the format separate
 * arguments, interpolated text is never split, and an argument exists once
 * anything (even an empty %s) was put in it. */
#include "format.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

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

int ck_format_compile(const char *fmt, ck_format_step *steps, int max, int *argc) {
    int count = 0;
    bool touched = false; /* the argument under way exists (even empty) */
    *argc = 0;
    if (fmt == NULL)
        return -1;
    for (const char *c = fmt; *c != '\0'; c++) {
        if (*c == ' ') {
            if (touched) {
                steps[count - 1].ends_arg = true;
                (*argc)++;
                touched = false;
            }
            continue;
        }
        if (count == max || c - fmt > UINT16_MAX - 2)
            return -1;
        ck_format_step *s = &steps[count];
        uint16_t at = (uint16_t)(c - fmt);
        if (*c != '%') {
            while (c[1] != '\0' && c[1] != ' ' && c[1] != '%')
                c++;
            *s = (ck_format_step){at, (uint16_t)(c - fmt - at + 1), CK_STEP_TEXT, false};
        } else if (c[1] == 's' || c[1] == 'b') {
            *s = (ck_format_step){at, 0, c[1] == 's' ? CK_STEP_STRING : CK_STEP_BINARY, false};
            c++;
        } else if (c[1] == '%') {
            *s = (ck_format_step){at, 1, CK_STEP_TEXT, false};
            c++;
        } else {
            return -1; /* a printf conversion: hiredis's job */
        }
        count++;
        touched = true;
    }
    if (touched) {
        steps[count - 1].ends_arg = true;
        (*argc)++;
    }
    return *argc == 0 ? -1 : count;
}

/* The bytes of one step: text of the format, or the next argument of ap
 * (NULL only when every step is text). */
static inline piece resolve(const char *fmt, const ck_format_step *step, va_list *ap) {
    piece p = {NULL, step->len, step->ends_arg};
    if (step->kind == CK_STEP_TEXT) {
        p.bytes = fmt + step->at;
    } else if (step->kind == CK_STEP_STRING) {
        p.bytes = va_arg(*ap, const char *);
        p.len = strlen(p.bytes);
    } else {
        p.bytes = va_arg(*ap, const char *);
        p.len = va_arg(*ap, size_t);
    }
    return p;
}

/* Writes the arguments of `count` steps after `used` bytes: each one's
 * header, its pieces, CRLF; where each one's bytes went, in spans (when
 * not NULL). The new length, or -1 when it does not fit. */
static long write_args(char *out, size_t cap, size_t used, const char *fmt, const ck_format_step *steps, int count,
                       va_list *ap, ck_arg_span *spans) {
    piece pieces[CK_FORMAT_MAX_STEPS];
    for (int i = 0, arg = 0; i < count; arg++) {
        /* an argument's pieces, read in order (they consume ap in order) */
        int n = 0;
        size_t len = 0;
        do {
            pieces[n] = resolve(fmt, &steps[i++], ap);
            len += pieces[n].len;
        } while (!pieces[n++].ends_arg && i < count);
        used = put_header(out, cap, used, '$', len);
        if (used == 0 || len > cap || used + len + 2 > cap)
            return -1;
        if (spans != NULL)
            spans[arg] = (ck_arg_span){(uint32_t)used, (uint32_t)len};
        for (int k = 0; k < n; k++) {
            copy_short(out + used, pieces[k].bytes, pieces[k].len);
            used += pieces[k].len;
        }
        out[used++] = '\r';
        out[used++] = '\n';
    }
    return (long)used;
}

long ck_format_apply(char *out, size_t cap, const char *fmt, const ck_format_step *steps, int count, int argc,
                     va_list ap) {
    if (count > CK_FORMAT_MAX_STEPS)
        return -1;
    size_t used = put_header(out, cap, 0, '*', (size_t)argc);
    if (used == 0)
        return -1;
    va_list args;
    va_copy(args, ap);
    long n = write_args(out, cap, used, fmt, steps, count, &args, NULL);
    va_end(args);
    return n;
}

int ck_format_prefix(char *out, size_t cap, const char *fmt, const ck_format_step *steps, int count, int argc,
                     size_t *len, ck_arg_span *spans) {
    int literal = 0; /* steps of the leading arguments that are text only */
    for (int i = 0; i < count && steps[i].kind == CK_STEP_TEXT; i++)
        if (steps[i].ends_arg)
            literal = i + 1;
    size_t used = put_header(out, cap, 0, '*', (size_t)argc);
    long n = used == 0 ? -1 : write_args(out, cap, used, fmt, steps, literal, NULL, spans);
    *len = n < 0 ? 0 : (size_t)n;
    return n < 0 ? -1 : literal;
}

long ck_format_apply_after(char *out, size_t cap, const char *prefix, size_t prefix_len, const char *fmt,
                           const ck_format_step *steps, int count, va_list ap, ck_arg_span *spans) {
    if (prefix_len > cap)
        return -1;
    memcpy(out, prefix, prefix_len);
    va_list args;
    va_copy(args, ap);
    long n = write_args(out, cap, prefix_len, fmt, steps, count, &args, spans);
    va_end(args);
    return n;
}

/* The format read once into steps (nothing copied), then each argument
 * written once: its header, its pieces, CRLF. */
long ck_format_command(char *out, size_t cap, const char *fmt, va_list ap) {
    ck_format_step steps[CK_FORMAT_MAX_STEPS];
    int argc, count = ck_format_compile(fmt, steps, CK_FORMAT_MAX_STEPS, &argc);
    return count < 0 ? -1 : ck_format_apply(out, cap, fmt, steps, count, argc, ap);
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
