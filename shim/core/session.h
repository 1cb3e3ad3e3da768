/* The session a program built on a connection (AUTH, HELLO, SELECT,
 * CLIENT SETNAME), kept as the RESP bytes of the last successful command
 * of each kind, so that a connection the shim reconnects behind the
 * program's back can be put back in the same state. Pure: bytes in, bytes
 * out; one owner thread (the context's). */
#ifndef CACHEKIT_SESSION_H
#define CACHEKIT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* In replay order: authenticate, choose the protocol, then the rest. */
typedef enum {
    CK_SESSION_AUTH = 0,
    CK_SESSION_HELLO,
    CK_SESSION_SELECT,
    CK_SESSION_SETNAME,
    CK_SESSION_KINDS,
    CK_SESSION_RESET = CK_SESSION_KINDS, /* RESET: forgets all of the above */
} ck_session_kind;

typedef struct {
    char *bytes;
    size_t len;
} ck_session_command;

typedef struct {
    ck_session_command kept[CK_SESSION_KINDS];
    /* commands sent but not yet answered, in the order they were sent */
    struct {
        ck_session_command cmd;
        uint8_t kind;
    } * proposed;
    uint32_t proposed_len, proposed_cap;
} ck_session;

/* Which session kind a RESP-encoded command is, if any. */
bool ck_session_kind_of(const char *resp, size_t len, ck_session_kind *kind);

/* A session command was sent: remember it until its reply comes (false
 * when memory is short: it is then simply not replayed). */
bool ck_session_propose(ck_session *s, ck_session_kind kind, const char *resp, size_t len);
/* The reply of the oldest proposed command: on success it becomes part of
 * the session. Returns the kind settled, -1 when none was proposed. */
int ck_session_settle(ck_session *s, bool success);

/* The database the kept SELECT chose, 0 without one. */
uint32_t ck_session_db(const ck_session *s);
/* The database a SELECT command chooses. */
uint32_t ck_session_db_of(const char *resp, size_t len);
/* The protocol a HELLO command chooses (`current` when it names none). */
uint8_t ck_session_protocol_of(const char *resp, size_t len, uint8_t current);
/* The protocol the kept HELLO chose: 3 after HELLO 3, else 2. */
uint8_t ck_session_protocol(const ck_session *s);
/* The connection was reset: proposals will never be answered. */
void ck_session_drop_proposed(ck_session *s);
/* The program reconnected by itself: it will rebuild its session. */
void ck_session_clear(ck_session *s);
/* One kind is no longer part of the session (its replay was refused). */
void ck_session_forget(ck_session *s, ck_session_kind kind);
void ck_session_free(ck_session *s);
/* Names of the kept kinds, for logs ("AUTH SELECT"). */
void ck_session_describe(const ck_session *s, char *buf, size_t len);
const char *ck_session_kind_name(ck_session_kind kind);

#endif
