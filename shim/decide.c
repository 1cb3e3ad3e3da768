/* The decision step of the call path; see decide.h. */
#include "decide.h"

ck_action ck_decide(const ck_situation *s, ck_gate gate) {
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

const char *ck_action_name(ck_action a) {
    switch (a) {
    case CK_ACT_SEND: return "send";
    case CK_ACT_CONNECT_SEND: return "connect and send";
    case CK_ACT_ANSWER: return "answer";
    case CK_ACT_FAIL_DEAD: return "fail as dead";
    case CK_ACT_REFUSE: return "refuse";
    }
    return "?";
}
