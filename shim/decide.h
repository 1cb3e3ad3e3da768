/* The shim's decision for one command, as a pure function of what is
 * known when the program appends it: the command's class, the state of
 * the context's connection, whether the context is in a transaction or
 * still owes replies of a dead connection, and the breaker's permit. The
 * act step (call.c) carries the action out through the transport's
 * operations (sync or async); this step knows nothing of hiredis, so its
 * whole state space is unit-tested (tests/unit/test_decide.c).
 *
 *   needs_permit: ask the breaker at all? (a context that holds a probe
 *                 permit, or an async placeholder, does not)
 *   decide:       with that permit, what happens to the command. */
#ifndef CACHEKIT_DECIDE_H
#define CACHEKIT_DECIDE_H

#include <stdbool.h>

#include "breaker.h"
#include "command.h"

typedef enum {
    CK_CONN_LIVE,        /* connected, no error */
    CK_CONN_DEAD,        /* the connection broke: hiredis keeps the error for good */
    CK_CONN_PLACEHOLDER, /* never connected: made while the circuit was open */
} ck_conn_state;

typedef struct {
    ck_command_class cls;
    ck_conn_state conn;
    bool in_transaction;  /* between MULTI and EXEC/DISCARD on this connection */
    bool owes_dead;       /* replies of the dead connection are still owed to the program */
    bool breaker_enabled;
    bool can_connect;     /* the transport connects in place (sync); async programs reconnect themselves */
} ck_situation;

typedef enum {
    CK_ACT_SEND,         /* append for real on the connection */
    CK_ACT_CONNECT_SEND, /* connect the placeholder or heal the dead connection, then send */
    CK_ACT_ANSWER,       /* not sent: owe the stale value or nil */
    CK_ACT_FAIL_DEAD,    /* not sent: owe what hiredis answers on a dead connection (its error) */
    CK_ACT_REFUSE,       /* not sent: the append fails, saying the circuit is open */
} ck_action;

/* Data commands outside a transaction are the ones the breaker gates and
 * the shim may answer itself. */
static inline bool ck_decide_gated(const ck_situation *s) {
    return (s->cls == CK_CMD_DATA || s->cls == CK_CMD_BLOCKING) && !s->in_transaction;
}

/* The connection must be (re)made before anything can be sent on it. */
static inline bool ck_decide_must_connect(const ck_situation *s) {
    return s->can_connect && s->breaker_enabled && !s->in_transaction && !s->owes_dead &&
           (s->conn == CK_CONN_PLACEHOLDER || s->conn == CK_CONN_DEAD);
}

static inline bool ck_decide_needs_permit(const ck_situation *s) {
    if (s->conn == CK_CONN_PLACEHOLDER && !s->can_connect)
        return false; /* connected to nothing: it only answers or refuses */
    return ck_decide_gated(s) || ck_decide_must_connect(s);
}

/* Inline: it runs on every command, and folds into the caller. */
static inline ck_action ck_decide(const ck_situation *s, ck_gate gate) {
    bool gated = ck_decide_gated(s);
    bool open = gate == CK_REJECT;
    switch (s->conn) {
    case CK_CONN_PLACEHOLDER:
        if (!ck_decide_must_connect(s) || open)
            return gated ? CK_ACT_ANSWER : CK_ACT_REFUSE;
        return CK_ACT_CONNECT_SEND;
    case CK_CONN_DEAD:
        /* an open circuit answers a read the same on every context */
        if (gated && open)
            return CK_ACT_ANSWER;
        /* a dead connection is healed only once it owes the program
         * nothing: a reply of the new one must never answer a command
         * sent on the old one */
        if (!ck_decide_must_connect(s) || open)
            return CK_ACT_FAIL_DEAD;
        return CK_ACT_CONNECT_SEND;
    case CK_CONN_LIVE:
        break;
    }
    return gated && open ? CK_ACT_ANSWER : CK_ACT_SEND;
}


const char *ck_action_name(ck_action a);

#endif
