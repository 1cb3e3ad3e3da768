/* Same splitting rules as hiredis: spaces in the format separate
 * arguments, interpolated text is never split, and an argument exists once
 * anything (even an empty %s) was put in it. */
#include "format.h"

#include <stdbool.h>
#include <stdio.h>
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

long ck_format_command(char *out, size_t cap, const char *fmt, va_list ap) {
    char scratch[1024];
    builder b = {.scratch = scratch, .cap = sizeof scratch};
    if (fmt == NULL)
        return -1;
    for (const char *c = fmt; *c != '\0' && !b.overflow; c++) {
        if (*c == ' ') {
            finish_arg(&b);
        } else if (*c != '%') {
            add(&b, c, 1);
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
    size_t used = 0;
    int n = snprintf(out, cap, "*%d\r\n", b.argc);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    used = (size_t)n;
    for (int i = 0; i < b.argc; i++) {
        size_t len = b.starts[i + 1] - b.starts[i];
        n = snprintf(out + used, cap - used, "$%zu\r\n", len);
        if (n < 0 || used + (size_t)n + len + 2 > cap)
            return -1;
        used += (size_t)n;
        memcpy(out + used, scratch + b.starts[i], len);
        used += len;
        memcpy(out + used, "\r\n", 2);
        used += 2;
    }
    return (long)used;
}
