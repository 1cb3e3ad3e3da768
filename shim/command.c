/* Command names and classes. The table is small on purpose: only the
 * commands whose policy differs from "gate it, answer nil while open" are
 * listed; everything else is data. */
#include "command.h"

#include <string.h>
#include <strings.h>

typedef struct {
    const char *name;
    size_t len;
    ck_command_class cls;
} class_row;

#define ROW(n, c) {n, sizeof(n) - 1, c}
static const class_row class_rows[] = {
    ROW("AUTH", CK_CMD_CONNECTION),     ROW("SELECT", CK_CMD_CONNECTION),
    ROW("HELLO", CK_CMD_CONNECTION),    ROW("CLIENT", CK_CMD_CONNECTION),
    ROW("READONLY", CK_CMD_CONNECTION), ROW("READWRITE", CK_CMD_CONNECTION),
    ROW("RESET", CK_CMD_CONNECTION),    ROW("QUIT", CK_CMD_CONNECTION),
    ROW("ASKING", CK_CMD_CONNECTION),   ROW("MULTI", CK_CMD_TXN_BEGIN),
    ROW("EXEC", CK_CMD_TXN_END),        ROW("DISCARD", CK_CMD_TXN_END),
    ROW("WATCH", CK_CMD_TXN_WATCH),     ROW("UNWATCH", CK_CMD_TXN_WATCH),
    ROW("SUBSCRIBE", CK_CMD_SUBSCRIBE), ROW("PSUBSCRIBE", CK_CMD_SUBSCRIBE),
    ROW("SSUBSCRIBE", CK_CMD_SUBSCRIBE), ROW("MONITOR", CK_CMD_SUBSCRIBE),
    ROW("BLPOP", CK_CMD_BLOCKING),      ROW("BRPOP", CK_CMD_BLOCKING),
    ROW("BRPOPLPUSH", CK_CMD_BLOCKING), ROW("BLMOVE", CK_CMD_BLOCKING),
    ROW("BLMPOP", CK_CMD_BLOCKING),     ROW("BZPOPMIN", CK_CMD_BLOCKING),
    ROW("BZPOPMAX", CK_CMD_BLOCKING),   ROW("BZMPOP", CK_CMD_BLOCKING),
    ROW("XREAD", CK_CMD_BLOCKING),      ROW("XREADGROUP", CK_CMD_BLOCKING),
    ROW("WAIT", CK_CMD_BLOCKING),       ROW("WAITAOF", CK_CMD_BLOCKING),
};

static const class_row availability_rows[] = {
    ROW("LOADING", 0),  ROW("BUSY", 0),     ROW("MASTERDOWN", 0), ROW("CLUSTERDOWN", 0),
    ROW("TRYAGAIN", 0), ROW("MISCONF", 0),  ROW("NOREPLICAS", 0),
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

bool ck_command_arg_from_resp(const char *buf, size_t buflen, unsigned index, const char **arg, size_t *len) {
    if (buf == NULL || buflen < 4 || buf[0] != '*')
        return false;
    const char *end = buf + buflen;
    const char *p = memchr(buf, '\n', buflen);
    if (p == NULL)
        return false;
    p++;
    for (unsigned i = 0;; i++) {
        if (p >= end || *p != '$')
            return false;
        size_t n = 0;
        const char *after = p + 1;
        while (after < end && *after >= '0' && *after <= '9' && n < (1u << 30))
            n = n * 10 + (size_t)(*after++ - '0');
        if (after == p + 1 || end - after < 2 || after[0] != '\r' || after[1] != '\n')
            return false;
        p = after + 2;
        if (n > (size_t)(end - p))
            return false;
        if (i == index) {
            if (n == 0 && index == 0)
                return false;
            *arg = p;
            *len = n;
            return true;
        }
        if ((size_t)(end - p) < n + 2)
            return false;
        p += n + 2;
    }
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
