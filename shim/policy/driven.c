/* Programs that drive the I/O themselves (see driven.h): the three calls
 * hiredis's redisGetReply is made of, each doing its part of
 * ck_call_get_reply (call.h) on the same queue of owed replies, so that a
 * program may mix both styles on one context. */
#include "driven.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "abi.h"
#include "clock.h"
#include "log.h"
#include "reply.h"
#include "timeouts.h"

/* -------------------------------------------------------- shadow reader */

/* The program's reader makes objects of its own: the shim reads the
 * replies from a reader of its own fed the same bytes. It starts only
 * where the program's reader has no reply under way, so both see the same
 * replies from there on; if they may have parted, the shim stops reading
 * (the replies then pass unread: no L1, no availability errors). */
static void lose_shadow(ck_context_state *st) {
    if (st->shadow != NULL)
        CK_REAL_CALL(redisReaderFree, st->shadow);
    st->shadow = NULL;
    st->shadow_lost = true;
    CK_LOG_ONCE(CK_LOG_INFO,
                "a program's own reply objects on %s can no longer be followed: its replies pass "
                "unread (no L1 values) on that connection (reported once)",
                st->endpoint->name);
}

/* Before the program's read: the reader's length, where the new bytes will
 * start. */
static size_t before_read(redisContext *c, ck_context_state *st) {
    void *reader = ck_ctx_reader(c);
    if (reader == NULL || !ck_reply_foreign(c) || st->shadow_lost)
        return 0;
    if (st->shadow == NULL) {
        if (!ck_reader_idle(reader))
            return 0; /* a reply under way: wait for a clean start */
        st->shadow = CK_REAL_CALL(redisReaderCreate);
        if (st->shadow == NULL)
            return 0;
    }
    return ck_reader_len(reader);
}

static void feed_shadow(redisContext *c, ck_context_state *st, size_t before) {
    void *reader = ck_ctx_reader(c);
    if (st->shadow == NULL || reader == NULL || ck_reader_len(reader) <= before)
        return;
    if (CK_REAL_CALL(redisReaderFeed, st->shadow, ck_reader_buf(reader) + before, ck_reader_len(reader) - before) !=
        REDIS_OK)
        lose_shadow(st);
}

/* The shadow's copy of the reply the program's reader just made, or NULL
 * (then the reply passes unread). */
static void *shadow_reply(ck_context_state *st) {
    void *seen = NULL;
    if (st->shadow == NULL)
        return NULL;
    if (CK_REAL_CALL(redisReaderGetReply, st->shadow, &seen) != REDIS_OK || seen == NULL) {
        lose_shadow(st);
        return NULL;
    }
    return seen;
}

/* ------------------------------------------------------------- signals */

/* A program may wait for its descriptor to be readable before it asks for
 * a reply. A non-blocking placeholder is one end of the shim's socket
 * pair: while an answer of the shim's is owed, one byte waits on it, so
 * the program's wait ends and its read comes for the answer (the read
 * takes the byte; the next owed answer puts one back). */
static bool owes_own_answer(const ck_context_state *st) {
    const ck_slot *front = ck_pending_front(&st->pending);
    return front != NULL && front->kind != CK_SLOT_REAL;
}

static void signal_owed_answer(redisContext *c, ck_context_state *st) {
    (void)c;
    if (!st->placeholder || st->peer.fd < 0 || st->signalled || !owes_own_answer(st) || !ck_still_owned(&st->peer))
        return;
    st->signalled = send(st->peer.fd, "!", 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1;
}

static void take_signal(redisContext *c, ck_context_state *st) {
    if (!st->signalled || !ck_still_owned(&st->own_end) || ck_ctx_fd(c) != st->own_end.fd)
        return;
    char byte[8];
    int saved_errno = errno;
    while (recv(st->own_end.fd, byte, sizeof byte, MSG_DONTWAIT) > 0) {
    }
    errno = saved_errno;
    st->signalled = false;
}

/* ---------------------------------------------------------------- calls */

/* The read or write failed: the front call failed, as its read in
 * redisGetReply would have (the program may never ask its reader again). */
static void io_failed(redisContext *c, ck_context_state *st) {
    const ck_slot *front = ck_pending_front(&st->pending);
    if (front != NULL && front->kind == CK_SLOT_REAL)
        ck_call_settle_real(c, st, REDIS_ERR, NULL, NULL, (ck_call_timing){0, false, false}, NULL);
}

int ck_driven_flush(redisContext *c, ck_context_state *st, int *done) {
    ck_call_before_io(c, st);
    int all_out = 0;
    int rc = CK_REAL_CALL(redisBufferWrite, c, &all_out);
    if (done != NULL)
        *done = all_out;
    if (rc != REDIS_OK) {
        io_failed(c, st);
        return rc;
    }
    if (all_out && ck_pending_awaits_real(&st->pending)) {
        st->flushed_ns = ck_clock_monotonic_ns();
        ck_timeouts_await_replies(c, st);
    }
    signal_owed_answer(c, st);
    return rc;
}

int ck_driven_fill(redisContext *c, ck_context_state *st) {
    ck_call_before_io(c, st);
    const ck_slot *front = ck_pending_front(&st->pending);
    if (front == NULL)
        return CK_REAL_CALL(redisBufferRead, c);
    if (front->kind != CK_SLOT_REAL) {
        take_signal(c, st);
        return REDIS_OK; /* the shim's answer is next: nothing to read for it */
    }
    bool blocking = ck_ctx_flags(c) & REDIS_BLOCK;
    bool unbounded = front->flags & CK_SLOT_UNBOUNDED;
    if (blocking && unbounded)
        ck_timeouts_lift(c, st);
    else if (blocking && ck_timeouts_time_calls())
        ck_timeouts_before_read(c, st);
    size_t before = before_read(c, st);
    /* (what the program's reader held says whether bytes came) */
    const void *reader = ck_ctx_reader(c);
    size_t held = reader != NULL ? ck_reader_len(reader) : 0;
    bool was_taking = st->watch.listed && atomic_load_explicit(&st->watch.taking, memory_order_relaxed);
    ck_timeouts_taking(st, true);
    int rc = CK_REAL_CALL(redisBufferRead, c);
    if (blocking && unbounded)
        ck_timeouts_restore(c, st);
    bool came = rc == REDIS_OK && reader != NULL && ck_reader_len(reader) > held;
    if (rc != REDIS_OK) {
        io_failed(c, st);
    } else {
        feed_shadow(c, st, before);
        /* bytes came: progress (a read that found none is none: audit, a
         * program that polls briefly and reads at each wake-up was never
         * cut off a frozen Redis) */
        if (came && st->watch.listed)
            ck_timeouts_await_replies(c, st);
    }
    /* bytes came: the program asks its reader next; none: as it was (a
     * reply found partial stays so) */
    ck_timeouts_taking(st, came || was_taking);
    return rc;
}

int ck_driven_take_reply(redisContext *c, ck_context_state *st, void **reply) {
    const ck_slot *front = ck_pending_front(&st->pending);
    if (front == NULL)
        return CK_REAL_CALL(redisGetReplyFromReader, c, reply);
    if (st->connect_owed) { /* nothing was sent yet: the next write connects */
        if (reply != NULL)
            *reply = NULL;
        return REDIS_OK;
    }
    if (front->kind != CK_SLOT_REAL) {
        int answered = ck_call_answer_owed(c, st, front, reply);
        signal_owed_answer(c, st);
        return answered;
    }
    bool unbounded = front->flags & CK_SLOT_UNBOUNDED;
    void *made = NULL;
    int rc = CK_REAL_CALL(redisGetReplyFromReader, c, &made);
    if (rc == REDIS_OK && made == NULL) {
        ck_timeouts_taken(c, st, true); /* what it holds is no whole reply */
        if (reply != NULL)
            *reply = NULL;
        return REDIS_OK;
    }
    void *shadow = rc == REDIS_OK && ck_reply_foreign(c) ? shadow_reply(st) : NULL;
    const void *seen = ck_reply_foreign(c) ? shadow : made;
    /* the latency: from the write that sent it to the reply's arrival in
     * the program's hands */
    bool timed = !unbounded && ck_timeouts_time_calls() && st->flushed_ns != 0;
    bool measured = timed || (!unbounded && ck_metrics_on && st->flushed_ns != 0);
    ck_call_timing timing = {measured ? ck_clock_monotonic_ns() - st->flushed_ns : 0, measured, timed};
    rc = ck_call_settle_real(c, st, rc, made, seen, timing, reply);
    if (shadow != NULL)
        CK_REAL_CALL(freeReplyObject, shadow);
    if (st->watch.listed) {
        ck_timeouts_await_replies(c, st); /* a reply is progress: the next one has its own time */
        ck_timeouts_taken(c, st, rc != REDIS_OK);
    }
    signal_owed_answer(c, st);
    return rc;
}
