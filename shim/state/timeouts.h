/* Bounded waits. A program that set no timeout of its own gets the shim's
 * (CACHEKIT_SOCKET_CONNECT_TIMEOUT for connects, CACHEKIT_SOCKET_TIMEOUT on
 * the socket of a connected blocking context), so a hung Redis turns into
 * failed calls the breaker can count instead of a hung program. A timeout
 * the program set always wins; blocking commands and pub/sub reads are read
 * without the shim's timeout. */
#ifndef CACHEKIT_TIMEOUTS_H
#define CACHEKIT_TIMEOUTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>

#include "config.h"
#include "context.h"
#include "hiredis_types.h"

void ck_timeouts_configure(const ck_config *cfg);

/* The connect timeout for a connect the program asked without one;
 * false when none is to be added. */
bool ck_timeouts_connect_default(struct timeval *tv);

/* A timeval of zero is no timeout at all (hiredis's meaning): a program
 * that "sets" it has set none. */
static inline bool ck_timeouts_is_set(const struct timeval *tv) {
    return tv != NULL && (tv->tv_sec != 0 || tv->tv_usec != 0);
}

/* CACHEKIT_SOCKET_TIMEOUT_MAX applied to a timeout (the program's own
 * included); a zero timeout (none) becomes the cap. */
struct timeval ck_timeouts_capped(struct timeval tv);

/* The program set (or cleared) its own timeout on a connected context. */
void ck_timeouts_program_set(redisContext *c, ck_context_state *st, struct timeval tv);

/* After the context connected (or reconnected): put the shim's socket
 * timeout on it unless the program set its own. */
void ck_timeouts_after_connect(redisContext *c, ck_context_state *st);

/* Around the read of a reply that may legitimately take long: lift the
 * shim's timeout, then put it back. */
void ck_timeouts_lift(redisContext *c, ck_context_state *st);
void ck_timeouts_restore(redisContext *c, ck_context_state *st);

/* The context entered pub/sub or MONITOR: its reads wait for messages. */
void ck_timeouts_lift_for_good(redisContext *c, ck_context_state *st);

/* The shim's timeouts in nanoseconds, 0 for none: the deadline thread
 * bounds async connects and replies with them. */
uint64_t ck_timeouts_connect_ns(void);
uint64_t ck_timeouts_socket_ns(void);

/* How long a reply awaited without a socket timeout (async, or a
 * non-blocking context's) may take: the endpoint's adaptive timeout when
 * CACHEKIT_ADAPTIVE_TIMEOUT is on and it has learnt one, else
 * CACHEKIT_SOCKET_TIMEOUT. */
uint64_t ck_timeouts_reply_deadline_ns(const ck_context_state *st);

/* A non-blocking sync context has no socket timeout that works: its
 * program waits on the descriptor itself, for ever if it set no timeout
 * of its own (Ruby's driver by default). Its awaited replies get a
 * deadline with no progress (ck_timeouts_reply_deadline_ns), enforced by
 * the deadline thread, which shuts the socket's reading side down: the
 * program's wait ends and its read meets EOF, the front call's failure.
 * Called when the commands were written, bytes came, or a reply was
 * taken: arms, re-arms or clears it. */
void ck_timeouts_await_replies(redisContext *c, ck_context_state *st);
/* Around a non-blocking context's read (the program's redisBufferRead,
 * or redisGetReply's): before it, the program is taking what Redis sent.
 * After a read that brought bytes it still is, until it asks its reader
 * (not scanned there: a program that reads until EAGAIN would have the
 * buffer scanned again at each read, audit). After it asked, it still is
 * while a whole reply waits in its reader that it has not asked for yet
 * (a program that waits for readability first: the deadline must not end
 * a connection whose reply is in), not while the reader holds only the
 * start of one (Redis stalled mid-reply: cut). */
static inline void ck_timeouts_taking(ck_context_state *st, bool taking) {
    if (st->watch.listed)
        ck_watch_taking(&st->watch, taking);
}
/* After the program asked its reader for a reply; `partial`: none came. */
void ck_timeouts_taken(redisContext *c, ck_context_state *st, bool partial);

/* Whether calls must be timed (slow-call detection or adaptive timeout). */
bool ck_timeouts_time_calls(void);

/* Before a call's reply is read: bring the shim's socket timeout up to
 * date with the endpoint's adaptive timeout. */
void ck_timeouts_before_read(redisContext *c, ck_context_state *st);

/* A call that succeeded took elapsed_ns: feeds the adaptive timeout, and
 * says whether it was slow (CACHEKIT_SLOW_CALL_THRESHOLD). */
bool ck_timeouts_after_success(ck_context_state *st, uint64_t elapsed_ns);

#endif
