/* Command names and classes. The table is small on purpose: only the
 * commands whose policy differs from "gate it, answer nil while open" are
 * listed; everything else is data. */
#include "command.h"

#include "cmdtable.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *name;
    size_t len;
    ck_command_class cls;
} class_row;

#define ROW(n, c)                                                                                                      \
    { n, sizeof(n) - 1, c }
static const class_row class_rows[] = {
    ROW("AUTH", CK_CMD_CONNECTION),      ROW("SELECT", CK_CMD_CONNECTION),    ROW("HELLO", CK_CMD_CONNECTION),
    ROW("CLIENT", CK_CMD_CONNECTION),    ROW("READONLY", CK_CMD_CONNECTION),  ROW("READWRITE", CK_CMD_CONNECTION),
    ROW("RESET", CK_CMD_CONNECTION),     ROW("QUIT", CK_CMD_CONNECTION),      ROW("ASKING", CK_CMD_CONNECTION),
    ROW("MULTI", CK_CMD_TXN_BEGIN),      ROW("EXEC", CK_CMD_TXN_END),         ROW("DISCARD", CK_CMD_TXN_END),
    ROW("WATCH", CK_CMD_TXN_WATCH),      ROW("UNWATCH", CK_CMD_TXN_WATCH),    ROW("SUBSCRIBE", CK_CMD_SUBSCRIBE),
    ROW("PSUBSCRIBE", CK_CMD_SUBSCRIBE), ROW("SSUBSCRIBE", CK_CMD_SUBSCRIBE), ROW("MONITOR", CK_CMD_SUBSCRIBE),
    ROW("BLPOP", CK_CMD_BLOCKING),       ROW("BRPOP", CK_CMD_BLOCKING),       ROW("BRPOPLPUSH", CK_CMD_BLOCKING),
    ROW("BLMOVE", CK_CMD_BLOCKING),      ROW("BLMPOP", CK_CMD_BLOCKING),      ROW("BZPOPMIN", CK_CMD_BLOCKING),
    ROW("BZPOPMAX", CK_CMD_BLOCKING),    ROW("BZMPOP", CK_CMD_BLOCKING),      ROW("XREAD", CK_CMD_BLOCKING),
    ROW("XREADGROUP", CK_CMD_BLOCKING),  ROW("WAIT", CK_CMD_BLOCKING),        ROW("WAITAOF", CK_CMD_BLOCKING),
};

static const class_row availability_rows[] = {
    ROW("LOADING", 0),  ROW("BUSY", 0),    ROW("MASTERDOWN", 0), ROW("CLUSTERDOWN", 0),
    ROW("TRYAGAIN", 0), ROW("MISCONF", 0), ROW("NOREPLICAS", 0),
};
#undef ROW

static bool find(const class_row *rows, size_t n, const char *name, size_t len, ck_command_class *cls) {
    for (size_t i = 0; i < n; i++) {
        if (rows[i].len == len && strncasecmp(rows[i].name, name, len) == 0) {
            if (cls != NULL)
                *cls = rows[i].cls;
            return true;
        }
    }
    return false;
}

/* Lengths in a RESP command are bounded before any arithmetic: Redis
 * itself refuses bulk strings over 512 MB and multibulks over 1M
 * arguments (by default), and a length of 20 digits would wrap. */
#define MAX_BULK_LEN ((size_t)1 << 32)
#define MAX_ARGS ((size_t)1 << 24)

/* Reads "<digits>\r\n" at *p (before end) into *n, at most `max`; false
 * when malformed or too large. At most 10 digits are read, so the value
 * cannot wrap before it is compared. */
static inline __attribute__((always_inline)) bool read_length(const char **p, const char *end, size_t max, size_t *n) {
    const char *q = *p;
    unsigned digit;
    if (end - q >= 3 && (digit = (unsigned)(unsigned char)*q - '0') <= 9 && q[1] == '\r' &&
        q[2] == '\n') { /* one digit: most lengths */
        *n = digit;
        *p = q + 3;
        return digit <= max;
    }
    size_t v = 0;
    while (q < end && (digit = (unsigned)(unsigned char)*q - '0') <= 9) {
        v = v * 10 + digit;
        if (++q - *p > 10)
            return false; /* 11 digits: too large, and the next one could wrap */
    }
    if (q == *p || v > max || end - q < 2 || q[0] != '\r' || q[1] != '\n')
        return false;
    *n = v;
    *p = q + 2;
    return true;
}

/* One bulk string "$<len>\r\n<bytes>\r\n" at *p: its bytes. */
static inline __attribute__((always_inline)) bool read_bulk(const char **p, const char *end, const char **arg,
                                                            size_t *len) {
    const char *q = *p;
    size_t n;
    if (q >= end || *q != '$')
        return false;
    q++;
    /* n + 2 cannot wrap: n is at most MAX_BULK_LEN */
    if (!read_length(&q, end, MAX_BULK_LEN, &n) || (size_t)(end - q) < n + 2 || q[n] != '\r' || q[n + 1] != '\n')
        return false;
    *arg = q;
    *len = n;
    *p = q + n + 2;
    return true;
}

bool ck_command_arg_from_resp(const char *buf, size_t buflen, unsigned index, const char **arg, size_t *len) {
    if (buf == NULL || buflen < 4 || buf[0] != '*')
        return false;
    const char *end = buf + buflen;
    const char *p = buf + 1;
    size_t argc;
    if (!read_length(&p, end, MAX_ARGS, &argc) || index >= argc)
        return false;
    for (unsigned i = 0;; i++) {
        const char *a;
        size_t n;
        if (!read_bulk(&p, end, &a, &n))
            return false;
        if (i == index) {
            if (n == 0 && index == 0)
                return false;
            *arg = a;
            *len = n;
            return true;
        }
    }
}

/* One multibulk ("*<n>\r\n" and n bulk strings) at *p: fn (may be NULL)
 * for each argument; *p moves past it. */
static bool read_multibulk(const char **p, const char *end, size_t *argc, ck_arg_fn fn, void *arg) {
    const char *q = *p;
    if (q >= end || *q != '*')
        return false;
    q++;
    if (!read_length(&q, end, MAX_ARGS, argc))
        return false;
    for (size_t i = 0; i < *argc; i++) {
        const char *a;
        size_t n;
        if (!read_bulk(&q, end, &a, &n))
            return false;
        if (fn != NULL)
            fn(i, a, n, arg);
    }
    *p = q;
    return true;
}

bool ck_command_each_resp_arg(const char *resp, size_t len, ck_arg_fn fn, void *arg) {
    const char *p = resp;
    size_t argc;
    return resp != NULL && len >= 4 && read_multibulk(&p, resp + len, &argc, fn, arg) && p == resp + len;
}

typedef struct {
    const char *name;
    size_t len;
} command_name;

static void note_name(size_t index, const char *bytes, size_t len, void *arg) {
    if (index == 0)
        *(command_name *)arg = (command_name){bytes, len};
}

/* ------------------------------------------------- movable-key reads */

typedef enum { FINDER_NONE, FINDER_NUMKEYS, FINDER_SORT_RO, FINDER_XREAD } key_finder;

static key_finder finder_of(const ck_command_spec *spec) {
    static const char *const numkeys[] = {"ZUNION", "ZINTER", "ZDIFF", "ZINTERCARD", "SINTERCARD"};
    if (!(spec->flags & CK_CMD_F_READONLY) || !(spec->flags & CK_CMD_F_MOVABLEKEYS))
        return FINDER_NONE;
    for (size_t i = 0; i < sizeof numkeys / sizeof numkeys[0]; i++)
        if (strcmp(spec->name, numkeys[i]) == 0)
            return FINDER_NUMKEYS;
    if (strcmp(spec->name, "SORT_RO") == 0)
        return FINDER_SORT_RO;
    if (strcmp(spec->name, "XREAD") == 0)
        return FINDER_XREAD;
    return FINDER_NONE;
}

bool ck_command_movable_read(const ck_command_spec *spec) { return finder_of(spec) != FINDER_NONE; }

static bool word_is(const char *a, size_t n, const char *word) {
    return n == strlen(word) && strncasecmp(a, word, n) == 0;
}

/* A count given as a decimal argument. */
static bool count_of(const char *a, size_t n, size_t *count) {
    size_t v = 0;
    if (n == 0 || n > 9)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (a[i] < '0' || a[i] > '9')
            return false;
        v = v * 10 + (size_t)(a[i] - '0');
    }
    *count = v;
    return true;
}

/* The keys of a movable-key read, as the finder reads its arguments
 * (after the name). False when they cannot be told. */
static bool each_movable_key(key_finder finder, const char *p, const char *end, size_t argc, ck_key_fn fn, void *arg) {
    size_t keys_left = 0, keys_from = SIZE_MAX;
    for (size_t i = 1; i < argc; i++) {
        const char *a;
        size_t n;
        if (!read_bulk(&p, end, &a, &n))
            return false;
        if (i >= keys_from && keys_left > 0) {
            fn(a, n, arg);
            keys_left--;
            continue;
        }
        switch (finder) {
        case FINDER_NUMKEYS: /* NAME numkeys key [key ...] ... */
            if (i == 1 && (!count_of(a, n, &keys_left) || keys_left == 0 || keys_left > argc - 2))
                return false;
            keys_from = 2;
            break;
        case FINDER_SORT_RO: /* SORT_RO key [BY pattern] [LIMIT o c] [GET pattern ...] [ASC|DESC] [ALPHA] */
            if (i == 1) {
                fn(a, n, arg);
                keys_from = 1;
            } else if (word_is(a, n, "BY") || word_is(a, n, "GET")) {
                return false; /* patterns read keys the shim cannot name */
            }
            break;
        case FINDER_XREAD: /* XREAD [COUNT c] [BLOCK ms] STREAMS key [key ...] id [id ...] */
            if (word_is(a, n, "BLOCK"))
                return false; /* its answer depends on what is added while it waits */
            if (word_is(a, n, "STREAMS")) {
                size_t rest = argc - i - 1;
                if (rest == 0 || rest % 2 != 0)
                    return false;
                keys_left = rest / 2;
                keys_from = i + 1;
            }
            break;
        case FINDER_NONE: return false;
        }
    }
    return keys_left == 0 && keys_from != SIZE_MAX;
}

bool ck_command_each_key(const ck_command_spec *spec, const char *resp, size_t len, ck_key_fn fn, void *arg) {
    if (resp == NULL || len < 4 || resp[0] != '*')
        return false;
    const char *p = resp + 1, *end = resp + len;
    size_t argc;
    if (!read_length(&p, end, MAX_ARGS, &argc))
        return false;
    if (__builtin_expect(spec->flags & CK_CMD_F_MOVABLEKEYS, 0)) {
        const char *name;
        size_t n;
        return argc > 1 && read_bulk(&p, end, &name, &n) && each_movable_key(finder_of(spec), p, end, argc, fn, arg);
    }
    ck_key_range keys = ck_command_key_range(spec, argc);
    long next = keys.first; /* the next argument that is a key */
    for (long i = 0; i < (long)argc; i++) {
        const char *a;
        size_t n;
        if (!read_bulk(&p, end, &a, &n))
            return false;
        if (i == next && i <= keys.last) {
            fn(a, n, arg);
            next += keys.step;
        }
    }
    return true;
}

/* Splits a buffer into whole commands: RESP multibulks, or inline lines. */
bool ck_command_batch(const char *buf, size_t len, size_t *count, bool *all_data, ck_batch_fn each, void *arg) {
    const char *p = buf, *end = buf + len;
    if (each != NULL && !ck_command_batch(buf, len, count, all_data, NULL, NULL))
        return false; /* checked whole first */
    *count = 0;
    *all_data = true;
    if (buf == NULL)
        return false;
    while (p < end) {
        const char *name = NULL;
        size_t name_len = 0;
        const char *start = p;
        bool is_inline = *p != '*';
        if (*p == '*') {
            size_t argc;
            command_name first = {NULL, 0};
            if (!read_multibulk(&p, end, &argc, note_name, &first))
                return false;
            name = first.name;
            name_len = first.len;
            if (argc == 0)
                continue; /* Redis answers nothing to an empty multibulk */
        } else {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (nl == NULL)
                return false;
            const char *word = p;
            while (word < nl && (*word == ' ' || *word == '\t' || *word == '\r'))
                word++;
            name = word;
            while (word < nl && *word != ' ' && *word != '\t' && *word != '\r')
                word++;
            name_len = (size_t)(word - name);
            p = nl + 1;
            if (name_len == 0)
                continue; /* an empty line: no reply */
        }
        (*count)++;
        if (name == NULL || name_len == 0 || ck_command_classify(name, name_len) != CK_CMD_DATA)
            *all_data = false;
        if (each != NULL)
            each(start, (size_t)(p - start), is_inline, arg);
    }
    return *count > 0;
}

/* Every row must pass the bit tests of ck_command_classify (command.h);
 * the unit tests check that each special command is found. */
ck_command_class ck_command_classify_special(const char *name, size_t len) {
    ck_command_class cls = CK_CMD_DATA;
    find(class_rows, sizeof class_rows / sizeof class_rows[0], name, len, &cls);
    return cls;
}

bool ck_error_is_availability(const char *str, size_t len) {
    if (str == NULL)
        return false;
    size_t word = 0;
    while (word < len && str[word] != ' ')
        word++;
    return find(availability_rows, sizeof availability_rows / sizeof availability_rows[0], str, word, NULL);
}
