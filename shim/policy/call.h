/* One command of the program on its way through the shim, whatever API it
 * came by: sync or async, format string, argv or preformatted bytes. Two
 * functions carry the whole policy, for both APIs:
 *
 *   ck_call_append:    classify, take the decision (decide.h: a pure step
 *                      over class, connection state and breaker permit),
 *                      then act on it through the transport's operations:
 *                      send for real (a REAL slot), owe a made-up reply
 *                      (SYNTH: the stale value or nil), owe the dead
 *                      connection's error (DEAD), or refuse;
 *   ck_call_get_reply: pay what the front slot says: a real reply, whose
 *                      outcome goes back to the breaker and the L1, or the
 *                      shim's own answer.
 *
 * A transport (sync.c, async.c) is a small table of operations, so the
 * shared code has no sync/async branches of its own. The sync API is
 * append + get_reply, as hiredis composes it. The async API appends the
 * same way; hiredis's own callback loop then takes every reply through
 * redisGetReply, so the same get_reply hands each callback its reply in
 * order. */
#ifndef CACHEKIT_CALL_H
#define CACHEKIT_CALL_H

#include <stdarg.h>
#include <stdbool.h>

#include "config.h"
#include "call_site.h"
#include "context.h"
#include "endpoint.h"
#include "guard.h"
#include "hiredis_types.h"

typedef enum { CK_BY_FORMAT, CK_BY_ARGV, CK_BY_FORMATTED } ck_call_form;

typedef struct ck_call ck_call;

typedef struct ck_transport {
    bool can_connect; /* connects and heals a context in place (sync) */
    bool reads_block; /* replies are read from the socket by the caller: timed and bounded (sync) */
    /* sends the call for real */
    int (*append)(redisContext *c, const ck_call *call);
    /* the shim will make the reply up: lets the transport file whatever it
     * needs (async: the callback); *owed says whether a reply is owed
     * (`failing`: the reply is an error that ends the connection, owed even
     * to nobody) */
    int (*file_unsent)(redisContext *c, const ck_call *call, bool failing, bool *owed);
    /* optional: a command refused while the circuit is open that the
     * transport answers otherwise (async: a placeholder confirms
     * subscriptions); a subscription's call carries its RESP bytes (form
     * CK_BY_FORMATTED). True when it did; *rc is the append's result. */
    bool (*refuse_otherwise)(redisContext *c, const ck_context_state *st, const ck_call *call, const char *name,
                             size_t name_len, int *rc);
    /* a placeholder that cannot connect (async) decides alone; NULL: none */
    ck_gate (*placeholder_gate)(ck_context_state *st, bool gated);
    /* out of memory for the bookkeeping, or a format hiredis refuses: the
     * append fails, as hiredis's own would */
    void (*no_memory)(redisContext *c);
    void (*bad_format)(redisContext *c);
    /* optional: a reply is now awaited from the connection / one came */
    void (*sent)(ck_context_state *st, uint8_t slot_flags);
    void (*replied)(ck_context_state *st, uint8_t slot_flags, bool ok);
    /* optional: the shim owed an answer instead of sending */
    void (*answered)(ck_context_state *st);
    /* optional: the latency of the front reply, from its command's send
     * to its arrival, taken off (false: not known); for a transport whose
     * replies are read from memory, not timed by the read (async) */
    bool (*reply_latency)(ck_context_state *st, uint64_t *elapsed_ns);
} ck_transport;

extern const ck_transport ck_sync_transport;
extern bool ck_open_writes_refused; /* CACHEKIT_OPEN_WRITES=error */

void ck_call_configure(const ck_config *cfg);

struct ck_call {
    ck_call_form form;
    const char *format;
    const ck_call_site *site; /* the format's, once looked up (site_looked_up) */
    bool site_looked_up;
    va_list *ap;
    int argc;
    const char **argv;
    const size_t *argvlen;
    const char *cmd;
    size_t len;
    const ck_transport *transport;
    /* async calls: the callback and its argument */
    redisCallbackFn *fn;
    void *privdata;
    char *local; /* room for formatting the command without allocating */
    size_t local_cap;
    ck_arg_span *spans; /* room for where each argument is in `local` (CK_SITE_STEPS)... */
    bool spans_filled;  /* ...filled: a site formatted the command there */
    int format_error;   /* what hiredis's formatting said: -1 out of memory, -2 an invalid format */
    /* a blocking call whose reply is read right after the append
     * (redisCommand): the shim's own answer, when nothing is owed before
     * it, is handed over here at once, without the queue (the open path) */
    void **answer_now;
};

int ck_call_append(redisContext *c, ck_context_state *st, ck_call *call);
int ck_call_get_reply(redisContext *c, ck_context_state *st, void **reply);

/* The pieces of ck_call_get_reply that a program driving the I/O itself
 * (policy/driven.c) reaches one by one:
 *   ck_call_before_io:   a connect owed or a heal left by a jump, made
 *                        where hiredis does I/O;
 *   ck_call_answer_owed: the answer of a front slot that is not REAL
 *                        (the shim's own, or a dead connection's error);
 *   ck_call_settle_real: a real reply of the front slot (or its read's
 *                        failure, rc REDIS_ERR) settles what its command
 *                        started; `seen` is the reply as the shim may read
 *                        it (NULL: it may not, ck_reply_foreign). */
typedef struct {
    uint64_t elapsed_ns; /* the call's latency */
    bool measured;       /* elapsed_ns is known */
    bool timed;          /* counts toward slow calls and the adaptive timeout */
} ck_call_timing;

void ck_call_io_owed(redisContext *c, ck_context_state *st);
static inline void ck_call_before_io(redisContext *c, ck_context_state *st) {
    if (__builtin_expect(st->healing || st->connect_owed, 0))
        ck_call_io_owed(c, st);
}
int ck_call_answer_owed(redisContext *c, ck_context_state *st, const ck_slot *front, void **reply);
int ck_call_settle_real(redisContext *c, ck_context_state *st, int rc, void *made, const void *seen,
                        ck_call_timing timing, void **reply);

/* The open path of a blocking call (redisCommand...): a read, on a
 * context that owes nothing before it, while the circuit is open, is
 * answered at once with the L1's value or nil, as ck_call_append and
 * ck_call_get_reply would answer it, without their generality (the queue,
 * the transports, the sessions). False: not such a call, nothing done
 * (the caller takes the general path). Called after
 * ck_call_before_command, which took a dead connection's death. */
bool ck_call_answer_open_slow(redisContext *c, ck_context_state *st, ck_call *call, void **reply);
static inline bool ck_call_answer_open(redisContext *c, ck_context_state *st, ck_call *call, void **reply) {
    return st != NULL && __builtin_expect(!ck_breaker_closed(&st->endpoint->breaker), 0) &&
           ck_call_answer_open_slow(c, st, call, reply);
}

/* A blocking command of the sync API (redisCommand...) is about to be
 * appended and its reply read at once: replies a dead connection still
 * owed are given up (see call.c). */
void ck_call_before_command(redisContext *c, ck_context_state *st);

/* The state that applies to a call: NULL (plain hiredis behaviour) for
 * calls hiredis makes to itself and for contexts the shim does not manage. */
#define ck_call_state(c) (!ck_in_real_call() ? ck_context_lookup(c) : NULL)

#endif
