/* Session capture for replay after a reconnect: see session.h. */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "command.h"

static const char *const kind_names[] = {"AUTH", "HELLO", "SELECT", "CLIENT SETNAME", "RESET"};

const char *ck_session_kind_name(ck_session_kind kind) { return kind_names[kind]; }

static bool arg_is(const char *resp, size_t len, unsigned index, const char *word) {
    const char *arg;
    size_t arg_len;
    return ck_command_arg_from_resp(resp, len, index, &arg, &arg_len) && arg_len == strlen(word) &&
           strncasecmp(arg, word, arg_len) == 0;
}

bool ck_session_kind_of(const char *resp, size_t len, ck_session_kind *kind) {
    static const struct {
        const char *name;
        const char *sub;
        ck_session_kind kind;
    } kinds[] = {
        {"AUTH", NULL, CK_SESSION_AUTH},     {"HELLO", NULL, CK_SESSION_HELLO},
        {"SELECT", NULL, CK_SESSION_SELECT}, {"CLIENT", "SETNAME", CK_SESSION_SETNAME},
        {"RESET", NULL, CK_SESSION_RESET},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (arg_is(resp, len, 0, kinds[i].name) && (kinds[i].sub == NULL || arg_is(resp, len, 1, kinds[i].sub))) {
            *kind = kinds[i].kind;
            /* a HELLO without a version changes nothing (it describes
             * the server): kept, it would replace the HELLO 3 the
             * program chose, and be replayed as RESP2 (audit) */
            const char *version;
            size_t version_len;
            return kinds[i].kind != CK_SESSION_HELLO || ck_command_arg_from_resp(resp, len, 1, &version, &version_len);
        }
    }
    return false;
}

bool ck_session_propose(ck_session *s, ck_session_kind kind, const char *resp, size_t len) {
    if (s->proposed_len == s->proposed_cap) {
        uint32_t cap = s->proposed_cap == 0 ? 4 : s->proposed_cap * 2;
        void *grown = realloc(s->proposed, cap * sizeof *s->proposed);
        if (grown == NULL)
            return false;
        s->proposed = grown;
        s->proposed_cap = cap;
    }
    char *copy = malloc(len);
    if (copy == NULL)
        return false;
    memcpy(copy, resp, len);
    s->proposed[s->proposed_len].cmd = (ck_session_command){copy, len};
    s->proposed[s->proposed_len].kind = (uint8_t)kind;
    s->proposed_len++;
    return true;
}

static void forget(ck_session_command *c) {
    free(c->bytes);
    c->bytes = NULL;
    c->len = 0;
}

int ck_session_settle(ck_session *s, bool success) {
    if (s->proposed_len == 0)
        return -1;
    ck_session_command cmd = s->proposed[0].cmd;
    ck_session_kind kind = (ck_session_kind)s->proposed[0].kind;
    memmove(&s->proposed[0], &s->proposed[1], (s->proposed_len - 1) * sizeof *s->proposed);
    s->proposed_len--;
    if (!success) {
        forget(&cmd);
    } else if (kind == CK_SESSION_RESET) {
        forget(&cmd);
        for (int k = 0; k < CK_SESSION_KINDS; k++)
            forget(&s->kept[k]);
    } else {
        forget(&s->kept[kind]);
        s->kept[kind] = cmd;
    }
    return (int)kind;
}

uint32_t ck_session_db_of(const char *resp, size_t resp_len) {
    const char *arg;
    size_t len;
    if (resp == NULL || !ck_command_arg_from_resp(resp, resp_len, 1, &arg, &len))
        return 0;
    uint32_t db = 0;
    for (size_t i = 0; i < len && arg[i] >= '0' && arg[i] <= '9'; i++)
        db = db * 10 + (uint32_t)(arg[i] - '0');
    return db;
}

uint32_t ck_session_db(const ck_session *s) {
    const ck_session_command *select = &s->kept[CK_SESSION_SELECT];
    return ck_session_db_of(select->bytes, select->len);
}

uint8_t ck_session_protocol_of(const char *resp, size_t resp_len, uint8_t current) {
    const char *arg;
    size_t len;
    if (resp == NULL || !ck_command_arg_from_resp(resp, resp_len, 1, &arg, &len))
        return current; /* HELLO without a version keeps the protocol */
    return len == 1 && arg[0] == '3' ? 3 : 2;
}

uint8_t ck_session_protocol(const ck_session *s) {
    const ck_session_command *hello = &s->kept[CK_SESSION_HELLO];
    return ck_session_protocol_of(hello->bytes, hello->len, 2);
}

void ck_session_drop_proposed(ck_session *s) {
    for (uint32_t i = 0; i < s->proposed_len; i++)
        forget(&s->proposed[i].cmd);
    s->proposed_len = 0;
}

void ck_session_clear(ck_session *s) {
    ck_session_drop_proposed(s);
    for (int k = 0; k < CK_SESSION_KINDS; k++)
        forget(&s->kept[k]);
}

void ck_session_forget(ck_session *s, ck_session_kind kind) {
    if (kind < CK_SESSION_KINDS)
        forget(&s->kept[kind]);
}

void ck_session_free(ck_session *s) {
    ck_session_clear(s);
    free(s->proposed);
    memset(s, 0, sizeof *s);
}

void ck_session_describe(const ck_session *s, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < CK_SESSION_KINDS && used < len; k++)
        if (s->kept[k].bytes != NULL)
            used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? " " : "", kind_names[k]);
}
