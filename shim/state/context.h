/* What the shim knows of each redisContext of the program: its endpoint,
 * the replies it owes (pending.h), the session modes that turn the shim
 * into a pass-through (transaction, pub/sub), and how to connect it for
 * real when the shim handed out a placeholder while the circuit was open.
 *
 * Found from the context pointer through a lock-free table, because the
 * lookup is on every call's path and contexts of different threads must
 * not contend. */
#ifndef CACHEKIT_CONTEXT_H
#define CACHEKIT_CONTEXT_H

#include <stdbool.h>
#include <sys/time.h>

#include "buf.h"
#include "endpoint.h"
#include "hiredis_types.h"
#include "owned_fd.h"
#include "pending.h"
#include "session.h"
#include "stamps.h"
#include "watchdog.h"

/* How a context was asked to connect, enough to do it again. */
typedef struct {
    bool is_unix;
    char *address; /* host, or socket path */
    int port;
    bool has_timeout;
    struct timeval timeout;
    /* asked of a placeholder, applied once it is connected */
    bool has_command_timeout;
    struct timeval command_timeout;
    bool keepalive;
    /* a non-blocking connect (redisConnectNonBlock): its placeholder is a
     * socket pair's end the program can wait on, and its connection is
     * made with a bound, then made non-blocking */
    bool nonblock;
    /* hiredis 1.x's redisConnectWithOptions: the options it was given (a
     * copy; the endpoint and timeouts above), and the fields the program
     * gets on its context whichever is made (privdata, its destructor, the
     * push callback) */
    bool by_options;
    int option_bits;
    void *privdata;
    void (*free_privdata)(void *);
    void *push_cb;
} ck_connect_recipe;

typedef struct {
    ck_endpoint *endpoint;
    ck_pending pending;
    ck_session session;   /* AUTH, SELECT... to replay after the shim reconnects */
    bool in_transaction;  /* between MULTI and EXEC/DISCARD */
    bool passthrough;     /* subscribed or monitoring: replies are not one per command */
    bool placeholder;     /* not connected yet: made while the circuit was open */
    bool program_timeout; /* the program set its own command timeout */
    ck_permit held_probe; /* connected as the probe: the next command settles it */
    uint32_t probe_sent;  /* ticket of the probe this connection carries: what follows it rides along */
    bool told_down;       /* the program was refused a command: it was told the server is down */
    /* A SELECT or HELLO the program was answered OK on a placeholder was
     * refused when replayed (kind + 1): every command fails with that
     * error, without reconnecting, until the program sends that kind of
     * command itself or reconnects, so nothing runs in a database or
     * protocol the program did not choose. */
    uint8_t refused_session;
    /* The L1 keys a command by the database and protocol it will run in:
     * those of the commands appended before it, SELECT, HELLO and RESET
     * included, not yet those of the replies read. */
    uint32_t db;          /* the database SELECTed on the connection (replies read) */
    uint8_t protocol;     /* 2, or 3 after a HELLO 3 (replies read) */
    uint32_t db_appended; /* the same as of the commands appended */
    uint8_t protocol_appended;
    uint32_t db_changes_in_flight; /* SELECT/RESET/HELLO sent, not answered */
    bool db_uncertain;             /* a SELECT inside MULTI: the database is not known */
    bool protocol_uncertain;       /* a HELLO inside MULTI: the protocol is not known */
    bool subscribed;               /* pub/sub or MONITOR: what it sends writes nothing (RESP2) */
    bool healing;           /* inside ck_context_heal: still set at the next call if the program left it by longjmp */
    bool transaction_wrote; /* a write was queued in the current MULTI */
    uint64_t imposed_timeout_ns; /* the shim's socket timeout now on the fd, 0: none */
    ck_connect_recipe recipe;    /* set for placeholders */
    /* The placeholder must be connected (or the dead connection healed)
     * before what was appended since can be sent: that happens where
     * hiredis does I/O (redisGetReply), never in an append; the commands
     * wait here meanwhile, as RESP bytes. */
    bool connect_owed;
    ck_buf deferred;
    /* programs that drive the I/O themselves (policy/driven.c) */
    uint64_t flushed_ns;   /* when the commands awaited were last written out */
    bool connect_unproven; /* a non-blocking connect no reply has proven yet */
    /* The program's reader builds objects of its own (reply.h,
     * ck_reply_foreign): the shim reads each reply from a reader of its
     * own fed the same bytes, or, once they may have parted, not at all. */
    redisReader *shadow;
    bool shadow_lost;
    bool signalled; /* non-blocking placeholder: a byte waits on its socket pair (an answer is owed) */
    /* async contexts (policy/async.c) */
    bool is_async;
    const struct ck_transport *transport; /* how its replies are read (policy/call.h); NULL: sync */
    bool connecting;                      /* its connect is not seen to complete yet */
    bool unsent;                          /* async: commands queued that its loop has not written yet */
    bool condemned;                       /* placeholder to close once it owes nothing */
    bool failure_recorded;                /* the breaker has heard of this connection's failure */
    uint32_t awaited;                     /* replies awaited from the connection */
    uint32_t unbounded;                   /* blocking commands among them: no deadline meanwhile */
    ck_owned_fd peer;                     /* placeholder (async or non-blocking): the other end of its socket pair */
    ck_owned_fd own_end;                  /* placeholder: hiredis's end of the pair, as made */
    ck_watch watch;    /* deadline of the oldest awaited reply or the connect (async, or a non-blocking sync context) */
    ck_stamps sent_at; /* async: when each awaited reply's command was sent (its latency) */
    uint64_t read_at;  /* async: when the read event that brings the replies now taken began */
} ck_context_state;

/* The state of a context, or NULL for a context the shim does not manage. */
ck_context_state *ck_context_lookup(const redisContext *c);
/* Starts managing a context; NULL when memory or table space is short
 * (the context then passes through unprotected). */
ck_context_state *ck_context_register(const redisContext *c, ck_endpoint *ep);
/* Stops managing a context and frees its state; gives back a probe permit
 * that a reply still owed would have settled. */
void ck_context_forget(const redisContext *c);
/* The program reset the connection: everything owed is gone. */
void ck_context_reset(ck_context_state *st);
/* The connection of `c` broke: the replies it owed become DEAD
 * (pending.h), and whatever the connection held (a transaction, database
 * changes in flight, session commands awaiting their reply) is gone with
 * it. Each reply lost counts as a failed call, its cause the context's
 * error (read only then: a dead context's next calls come here too, on
 * the open path). */
void ck_context_connection_died(ck_context_state *st, const redisContext *c);
/* The program now sees the context dead although the server did not fail:
 * the shim refused a command (the circuit was open), or Redis refused a
 * SELECT or HELLO the shim replayed (`server_answered`: a probe among the
 * replies is then a success). The replies the connection still owed are
 * given up as DEAD too, without counting any failure. */
void ck_context_connection_abandoned(ck_context_state *st, bool server_answered);
/* The shadow reader (driven.c) stops; it starts again where the
 * program's reader is idle. */
void ck_context_drop_shadow(ck_context_state *st);
/* The held probe permit, if any, is given back. */
void ck_context_release_probe(ck_context_state *st);

#endif
