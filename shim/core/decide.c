/* The decision step of the call path is inline in decide.h; its names. */
#include "decide.h"

const char *ck_action_name(ck_action a) {
    switch (a) {
    case CK_ACT_SEND: return "send";
    case CK_ACT_CONNECT_SEND: return "connect and send";
    case CK_ACT_ANSWER: return "answer";
    case CK_ACT_FAIL_DEAD: return "fail as dead";
    case CK_ACT_REFUSE: return "refuse";
    case CK_ACT_REMEMBER: return "remember";
    }
    return "?";
}
