/* The replies a context owes its program, in the order the commands were
 * appended: some will come from Redis (REAL), some are made up by the shim
 * because the circuit was open when the command was appended (SYNTH_NIL,
 * SYNTH_STALE, SYNTH_SESSION; REFUSED: the error of a server that is
 * down), some were owed by a connection that died (DEAD): hiredis
 * answers those with the connection's error, and so does the shim, each
 * once, in its turn, so that a reply of a new connection can never be
 * taken for the answer to a command of the old one.
 * redisGetReply pops from the front, which keeps real and synthesized
 * replies in append order whatever the circuit does meanwhile.
 * Runs of the same kind are counted, not stored one by one, so a healthy
 * pipeline costs an increment and a decrement. Pure; one owner thread. */
#ifndef CACHEKIT_PENDING_H
#define CACHEKIT_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "breaker.h"
#include "l1.h"

typedef enum {
    CK_SLOT_REAL = 0,
    CK_SLOT_SYNTH_NIL = 1,
    CK_SLOT_SYNTH_STALE = 2,
    CK_SLOT_DEAD = 3,
    CK_SLOT_SYNTH_SESSION = 4, /* a placeholder's AUTH, SELECT...: the success reply is in cache.stale */
    CK_SLOT_REFUSED = 5,       /* not sent, circuit open: answered as a dead server; its command name in inline_cmd */
} ck_slot_kind;

/* What the reply of a REAL slot needs besides being read. */
enum {
    CK_SLOT_UNBOUNDED = 1,  /* a blocking command: read it without the shim's socket timeout */
    CK_SLOT_SESSION = 2,    /* AUTH, SELECT...: on success the session to replay changes */
    CK_SLOT_L1_READ = 4,    /* a read the L1 keeps: store its reply, or serve stale on failure */
    CK_SLOT_L1_WRITE = 8,   /* a write: invalidate its keys again when it completes */
    CK_SLOT_DB_CHANGE = 16, /* SELECT, RESET, HELLO: the keys of what follows are uncertain until it is answered */
};

/* The command bytes of a read, kept with its L1 entry so that entries are
 * matched on the bytes, not on the hash alone. Short commands inline. */
#define CK_SLOT_INLINE_CMD 64

#define CK_SLOT_MAX_KEYS 8      /* kept in the slot; more in cmd_heap, after the command's bytes */
#define CK_SLOT_MOST_KEYS 4096  /* beyond: as unknown */
#define CK_SLOT_ALL_KEYS 0xFFFF /* keys unknown or too many: the whole L1 epoch */

/* What the L1 needs to know of a read or write in flight, or the stale
 * value a SYNTH_STALE slot owes. */
typedef struct {
    ck_hash128 hash;   /* reads: the entry */
    uint64_t snapshot; /* reads: sum of the keys' generations when sent */
    uint64_t epoch;    /* reads: the epoch when sent */
    uint16_t generation_slots[CK_SLOT_MAX_KEYS];
    uint16_t nkeys; /* or CK_SLOT_ALL_KEYS */
    char *stale;    /* SYNTH_STALE: RESP bytes, owned by the slot */
    size_t stale_len;
    /* reads: the command's bytes when longer than inline_cmd, or when it
     * has more than CK_SLOT_MAX_KEYS keys; then, after them (aligned),
     * the keys' generation slots (reads and writes). malloc'd. */
    char *cmd_heap;
    size_t cmd_len;
    char inline_cmd[CK_SLOT_INLINE_CMD];
} ck_slot_cache;

static inline const char *ck_slot_cache_cmd(const ck_slot_cache *c) {
    return c->cmd_heap != NULL ? c->cmd_heap : c->inline_cmd;
}

/* Where the generation slots of more than CK_SLOT_MAX_KEYS keys start in
 * cmd_heap: after the command's bytes, aligned. */
static inline size_t ck_slot_cache_slots_at(size_t cmd_len) { return (cmd_len + 1) & ~(size_t)1; }

/* The generation slots of the keys (nkeys of them). */
static inline const uint16_t *ck_slot_cache_slots(const ck_slot_cache *c) {
    return c->nkeys <= CK_SLOT_MAX_KEYS ? c->generation_slots
                                        : (const uint16_t *)(void *)(c->cmd_heap + ck_slot_cache_slots_at(c->cmd_len));
}

typedef struct {
    uint8_t kind;    /* ck_slot_kind */
    uint8_t gate;    /* ck_gate of a REAL slot */
    uint8_t flags;   /* CK_SLOT_UNBOUNDED | CK_SLOT_SESSION | CK_SLOT_L1_* | CK_SLOT_DB_CHANGE */
    uint32_t ticket; /* a probe's ticket */
    uint32_t count;  /* how many replies of this kind in a row; probes, flagged and stale slots stand alone */
    ck_slot_cache cache;
} ck_slot;

typedef struct {
    ck_slot *ring;
    uint32_t cap, head, len;
    uint32_t refused; /* REFUSED slots owed: the program will see the context dead */
} ck_pending;

void ck_pending_init(ck_pending *q);
bool ck_pending_grow(ck_pending *q);
void ck_pending_push_slot(ck_pending *q, ck_slot_kind kind, ck_permit p, uint8_t flags, const ck_slot_cache *cache);
void ck_pending_pop_slot(ck_pending *q);

static inline ck_slot *ck_pending_at(const ck_pending *q, uint32_t i) { return &q->ring[(q->head + i) & (q->cap - 1)]; }

/* Makes room for one more push; false when memory is short. */
static inline bool ck_pending_reserve(ck_pending *q) { return q->len < q->cap || ck_pending_grow(q); }

/* Needs a prior successful ck_pending_reserve. A reply of the same kind
 * as the last one owed extends its run. */
static inline void ck_pending_push(ck_pending *q, ck_slot_kind kind, ck_permit p, uint8_t flags) {
    if (q->len > 0 && p.gate != CK_PROBE && flags == 0) {
        ck_slot *tail = ck_pending_at(q, q->len - 1);
        if (tail->kind == kind && tail->gate != CK_PROBE && tail->flags == 0 && tail->count < UINT32_MAX) {
            tail->count++;
            return;
        }
    }
    ck_pending_push_slot(q, kind, p, flags, NULL);
}

/* A slot with L1 bookkeeping, or a stale value (whose bytes it then owns,
 * as it owns a malloc'd command copy). */
static inline void ck_pending_push_cached(ck_pending *q, ck_slot_kind kind, ck_permit p, uint8_t flags,
                                          const ck_slot_cache *cache) {
    ck_pending_push_slot(q, kind, p, flags, cache);
}

/* The permit a slot was sent under. */
static inline ck_permit ck_slot_permit(const ck_slot *s) { return (ck_permit){(ck_gate)s->gate, s->ticket}; }

static inline bool ck_pending_empty(const ck_pending *q) { return q->len == 0; }

static inline const ck_slot *ck_pending_front(const ck_pending *q) { return q->len == 0 ? NULL : ck_pending_at(q, 0); }

/* Frees what a slot's L1 bookkeeping owns (a long command's copy, stale
 * bytes not taken). */
void ck_slot_cache_release(ck_slot_cache *cache);

/* Pops the front reply. A stale slot's bytes must have been taken. */
static inline void ck_pending_pop(ck_pending *q) {
    if (q->len > 0 && ck_pending_at(q, 0)->count > 1)
        ck_pending_at(q, 0)->count--;
    else
        ck_pending_pop_slot(q);
}
/* Forgets everything owed (the connection was reset or freed). Returns the
 * permit of a probe among them, whose outcome will never be known (for the
 * caller to release), or an ALLOW permit. */
ck_permit ck_pending_clear(ck_pending *q);
/* The connection died: every reply still owed by it becomes DEAD (answered
 * with the connection's error). Returns a probe's permit as above, and in
 * *killed how many replies died. */
ck_permit ck_pending_kill_real(ck_pending *q, uint32_t *killed);
/* True when a reply from the connection is still owed. */
bool ck_pending_awaits_real(const ck_pending *q);
/* True when a reply of a dead connection is still owed. */
bool ck_pending_owes_dead(const ck_pending *q);
/* True when a refusal (a dead server's error) is still owed: the context
 * dies for the program when it reads it, so nothing appended after it may
 * be sent. */
static inline bool ck_pending_owes_refusal(const ck_pending *q) { return q->refused > 0; }
void ck_pending_free(ck_pending *q);

#endif
