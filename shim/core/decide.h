/* The shim's decision for one command, as a pure function of what is
 * known when the program appends it: the command's class, the state of
 * the context's connection, whether the context is in a transaction or
 * still owes replies of a dead connection, and the breaker's permit. The
 * act step (policy/call.c) carries the action out through the transport's
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
    bool in_transaction; /* between MULTI and EXEC/DISCARD on this connection */
    bool owes_dead;      /* replies that end the connection for the program are still owed: a dead
                           * connection's, or a refusal (a dead server's error while open) */
    bool breaker_enabled;
    bool can_connect;   /* the transport connects in place (sync); async programs reconnect themselves */
    bool writes;        /* the command may write (or is unknown, or a script) */
    bool refuse_writes; /* CACHEKIT_OPEN_WRITES=error: a write while open fails as on a dead server */
    bool session;       /* AUTH, HELLO, SELECT, CLIENT SETNAME: a placeholder remembers them */
    bool lost_for_good; /* dead, and only the program can connect it again (made from its descriptor) */
    bool waited_on;     /* live and non-blocking: its program may wait for the descriptor to be readable
                         * before it asks for a reply, and only Redis can make it so */
} ck_situation;

typedef enum {
    CK_ACT_SEND,         /* append for real on the connection */
    CK_ACT_CONNECT_SEND, /* owe a connect (or heal) at the next read, then send there */
    CK_ACT_ANSWER,       /* not sent: owe the stale value or nil */
    CK_ACT_FAIL_DEAD,    /* not sent: owe what hiredis answers on a dead connection (its error) */
    CK_ACT_REFUSE,       /* not sent: owe the error of a server that is down, naming the open circuit */
    CK_ACT_REMEMBER,     /* not sent: a placeholder's session set-up, answered as a success, replayed on connect */
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
    if ((s->conn == CK_CONN_PLACEHOLDER && !s->can_connect) || s->lost_for_good)
        return false; /* connected to nothing: it only answers or refuses */
    if (s->waited_on && s->conn == CK_CONN_LIVE)
        return false; /* the shim's own answers would never wake its program: sent, bounded by the deadline */
    return ck_decide_gated(s) || ck_decide_must_connect(s);
}

/* A gated command that is not sent: a read gets the stale value or nil; a
 * write fails as on a dead server unless the operator chose nil. */
static inline ck_action ck_decide_unsent(const ck_situation *s) {
    return s->writes && s->refuse_writes ? CK_ACT_REFUSE : CK_ACT_ANSWER;
}

/* Inline: it runs on every command, and folds into the caller. */
static inline ck_action ck_decide(const ck_situation *s, ck_gate gate) {
    bool gated = ck_decide_gated(s);
    bool open = gate == CK_REJECT;
    /* the program must learn that its connection is gone, as from hiredis,
     * to make it again: made-up answers would hide that for good */
    if (s->lost_for_good)
        return CK_ACT_FAIL_DEAD;
    /* an open circuit answers a read the same on every context */
    if (gated && open)
        return ck_decide_unsent(s);
    /* behind a reply that ends the connection for the program nothing is
     * sent: a reply of a new connection must never answer a command of
     * the old one, and a command sent after a refusal the program will
     * read first would be reported not sent */
    if (s->owes_dead)
        return CK_ACT_FAIL_DEAD;
    switch (s->conn) {
    case CK_CONN_PLACEHOLDER:
        if (!ck_decide_must_connect(s) || open)
            return gated ? ck_decide_unsent(s) : s->session ? CK_ACT_REMEMBER : CK_ACT_REFUSE;
        return CK_ACT_CONNECT_SEND;
    case CK_CONN_DEAD:
        if (!ck_decide_must_connect(s) || open)
            return CK_ACT_FAIL_DEAD;
        return CK_ACT_CONNECT_SEND;
    case CK_CONN_LIVE: break;
    }
    return CK_ACT_SEND;
}

const char *ck_action_name(ck_action a);

#endif
