/* One RESP value's extent (resp_scan.h): a count of the values still owed
 * instead of recursion, so a reply nested however deep costs no stack, and
 * counts no reply could honour in the bytes there are end the scan. */
#include "resp_scan.h"

#include <stdint.h>
#include <string.h>

/* The CR of the first CRLF at or after p, as hiredis's reader finds line
 * ends (a bare LF ends no line); NULL when none is complete yet. */
static const char *line_end(const char *p, const char *end) {
    while (p < end) {
        const char *cr = memchr(p, '\r', (size_t)(end - p));
        if (cr == NULL || cr + 1 == end)
            return NULL;
        if (cr[1] == '\n')
            return cr;
        p = cr + 1;
    }
    return NULL;
}

/* The length in a header line ("-1" for none); false if it is no number
 * (or one of more digits than a reader takes). */
static bool header_number(const char *p, const char *line_end, long long *n) {
    bool negative = p < line_end && *p == '-';
    p += negative;
    if (p == line_end || line_end - p > 18)
        return false;
    long long v = 0;
    for (; p < line_end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    *n = negative ? -v : v;
    return true;
}

bool ck_resp_starts_whole(const char *buf, size_t len) {
    const char *p = buf, *end = buf + len;
    uint64_t owed = 1;
    while (owed > 0) {
        if (p == end)
            return false;
        const char *cr = line_end(p, end);
        if (cr == NULL)
            return false;
        const char *next = cr + 2;
        char type = *p;
        long long n = 0;
        owed--;
        switch (type) {
        case '+':
        case '-':
        case ':':
        case '_':
        case ',':
        case '#':
        case '(': break; /* a line */
        case '$':
        case '!':
        case '=': /* a length, then as many bytes and CRLF */
            if (!header_number(p + 1, cr, &n))
                return false;
            if (n >= 0) {
                if ((uint64_t)(end - next) < (uint64_t)n + 2)
                    return false;
                next += n + 2;
            }
            break;
        case '*':
        case '~':
        case '>':
        case '%':
        case '|': /* a count, then as many values */
            if (!header_number(p + 1, cr, &n))
                return false;
            if (n > 0) {
                uint64_t values = (type == '%' || type == '|') ? 2 * (uint64_t)n : (uint64_t)n;
                if (values > (uint64_t)(end - next) / 3) /* each value takes 3 bytes at least */
                    return false;
                owed += values;
            }
            if (type == '|')
                owed++; /* an attribute comes before the value it describes */
            break;
        default: return false; /* no RESP: the program's reader reports it when asked */
        }
        p = next;
    }
    return true;
}
