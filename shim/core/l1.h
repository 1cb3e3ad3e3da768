/* The stale-value L1: the last good reply of read commands, kept to be
 * served while Redis cannot answer.
 *
 * An entry is found by a 128-bit hash of (endpoint, database, protocol,
 * the exact command bytes), holds those command bytes and the reply's RESP2
 * bytes, and matches only a command with the same bytes: two commands
 * whose hashes collide (crafted key names) never share an entry. Coherence does not
 * walk entries: every key has a generation counter (in a fixed table,
 * indexed by a hash of endpoint, database and key), and a write bumps the
 * generations of its keys, or the global epoch when its keys are unknown
 * (FLUSHDB, EVAL, an unknown command). An entry remembers the sum of its
 * keys' generations and the epoch as they were when its read was sent;
 * when either moved since, the entry is dead. A collision in the
 * generation table only kills entries early.
 *
 * Bounded: CACHEKIT_L1_MAX_SIZE_MB over 64 shards, each with its own lock
 * and LRU list, entries counted with their overhead; fork-safe. */
#ifndef CACHEKIT_L1_H
#define CACHEKIT_L1_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"

typedef struct {
    uint64_t lo, hi;
} ck_hash128;

typedef struct {
    size_t max_bytes;       /* all shards together */
    size_t max_entry_bytes; /* a longer reply is not kept */
    uint64_t ttl_ns;        /* maximum staleness served */
    ck_clock_fn clock;
} ck_l1_settings;

typedef struct {
    uint64_t entries, bytes, hits, misses, evictions, stores;
} ck_l1_stats;

void ck_l1_configure(const ck_l1_settings *s);

ck_hash128 ck_l1_hash(uint64_t endpoint_id, uint32_t db, const char *resp, size_t len);

/* Generations. */
uint32_t ck_l1_generation_slot(uint64_t endpoint_id, uint32_t db, const char *key, size_t len);
uint64_t ck_l1_generation(uint32_t slot);
void ck_l1_bump_generation(uint32_t slot);
uint64_t ck_l1_epoch(void);
void ck_l1_bump_epoch(void);

/* The command an entry answers: its hash and its bytes. */
typedef struct {
    ck_hash128 hash;
    const char *bytes;
    size_t len;
} ck_l1_key;

/* Keeps a reply (replacing what the key had). `snapshot` and `epoch` are
 * as they were when the read was sent. */
void ck_l1_store(const ck_l1_key *key, uint64_t snapshot, uint64_t epoch, const char *resp, size_t len);

/* A copy (malloc'd, for the caller to free) of the entry's reply bytes
 * when it is younger than the TTL and still coherent with `snapshot` (the
 * sum of its keys' generations now) and the current epoch; NULL otherwise. */
char *ck_l1_fetch(const ck_l1_key *key, uint64_t snapshot, size_t *len);

/* The same entry's bytes handed to `use` under the entry's lock, without
 * a copy: use's result (use must not call into the L1). *found: there was
 * such an entry (use's NULL then means use failed). */
typedef void *(*ck_l1_use_fn)(const char *bytes, size_t len, void *arg);
void *ck_l1_fetch_with(const ck_l1_key *key, uint64_t snapshot, ck_l1_use_fn use, void *arg, bool *found);

void ck_l1_stats_get(ck_l1_stats *out);
/* Frees every entry (tests, process exit). */
void ck_l1_clear(void);

#endif
