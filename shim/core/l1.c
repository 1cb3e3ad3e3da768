/* Stale-value store; see l1.h for the design. */
#include "l1.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SHARDS 64
#define GENERATIONS (1u << 16)
#define MALLOC_OVERHEAD 16 /* what glibc adds to each chunk, counted against the bound */

typedef struct entry {
    struct entry *chain;         /* next in the bucket */
    struct entry *newer, *older; /* LRU list */
    ck_hash128 hash;
    uint64_t snapshot, epoch, stored_at;
    size_t cmd_len; /* the command's bytes, then the reply's */
    size_t len;
    char bytes[];
} entry;

static const char *reply_of(const entry *e) { return e->bytes + e->cmd_len; }

typedef struct {
    pthread_mutex_t lock;
    entry **buckets;
    size_t nbuckets, count, bytes;
    entry *newest, *oldest;
    uint64_t hits, misses, evictions, stores;
} shard;

static shard shards[SHARDS];
static _Atomic uint64_t generations[GENERATIONS];
static _Atomic uint64_t epoch;
static ck_l1_settings settings = {64u << 20, 256u << 10, 300000000000ull, ck_clock_monotonic_ns};
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void lock_all(void) {
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_lock(&shards[i].lock);
}
static void unlock_all(void) {
    for (int i = SHARDS - 1; i >= 0; i--)
        pthread_mutex_unlock(&shards[i].lock);
}
static void init_shards(void) {
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_init(&shards[i].lock, NULL);
    pthread_atfork(lock_all, unlock_all, unlock_all);
}

void ck_l1_configure(const ck_l1_settings *s) {
    pthread_once(&init_once, init_shards);
    settings = *s;
}

static uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* The last len (< 8) bytes as memcpy would put them in a zeroed word (a
 * variable-length memcpy is a call per hash). */
static inline uint64_t tail_word(const char *p, size_t len) {
    if (len >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + len - 4, 4);
        return lo | (uint64_t)hi << (8 * (len - 4));
    }
    if (len == 0)
        return 0;
    return (uint64_t)(uint8_t)p[0] | (uint64_t)(uint8_t)p[len / 2] << (8 * (len / 2)) |
           (uint64_t)(uint8_t)p[len - 1] << (8 * (len - 1));
}

static uint64_t hash_bytes(uint64_t seed, const char *p, size_t len) {
    uint64_t h = seed ^ (len * 0x9E3779B97F4A7C15ull);
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix(h ^ w) * 0x100000001b3ull;
    }
    uint64_t tail = tail_word(p, len);
    return mix(h ^ tail ^ (uint64_t)len << 56);
}

/* Two 64-bit lanes in one pass over the bytes. */
ck_hash128 ck_l1_hash(uint64_t endpoint_id, uint32_t db, const char *p, size_t len) {
    uint64_t seed = mix(endpoint_id) ^ db;
    uint64_t a = seed ^ (len * 0x9E3779B97F4A7C15ull), b = ~seed ^ len;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        a = (a ^ w) * 0x100000001b3ull;
        b = (b ^ w) * 0xff51afd7ed558ccdull;
        a ^= a >> 29;
        b ^= b >> 31;
    }
    uint64_t tail = tail_word(p, len);
    return (ck_hash128){mix(a ^ tail ^ (uint64_t)len << 56), mix(b ^ tail ^ (uint64_t)len << 48)};
}

uint32_t ck_l1_generation_slot(uint64_t endpoint_id, uint32_t db, const char *key, size_t len) {
    return (uint32_t)hash_bytes(mix(endpoint_id) + db, key, len) & (GENERATIONS - 1);
}
uint64_t ck_l1_generation(uint32_t slot) { return atomic_load_explicit(&generations[slot], memory_order_acquire); }
void ck_l1_bump_generation(uint32_t slot) { atomic_fetch_add_explicit(&generations[slot], 1, memory_order_acq_rel); }
uint64_t ck_l1_epoch(void) { return atomic_load_explicit(&epoch, memory_order_acquire); }
void ck_l1_bump_epoch(void) { atomic_fetch_add_explicit(&epoch, 1, memory_order_acq_rel); }

static shard *shard_of(ck_hash128 h) {
    pthread_once(&init_once, init_shards);
    return &shards[h.hi % SHARDS];
}

/* Entries are allocated in 32-byte classes: their sizes vary with the
 * key's length, and chunks of one class are reused by the next entry
 * where exact sizes would fragment the heap past the bound. */
static size_t allocation(size_t cmd_len, size_t len) { return (sizeof(entry) + cmd_len + len + 31) & ~(size_t)31; }
static size_t cost(const entry *e) { return allocation(e->cmd_len, e->len) + MALLOC_OVERHEAD; }

static bool same_hash(const entry *e, ck_hash128 h) { return e->hash.lo == h.lo && e->hash.hi == h.hi; }

/* The link to the entry of `key` (its hash and its bytes), or to the end
 * of the chain. */
static entry **find(shard *s, const ck_l1_key *key) {
    if (s->nbuckets == 0)
        return NULL;
    entry **link = &s->buckets[key->hash.lo & (s->nbuckets - 1)];
    while (*link != NULL && !(same_hash(*link, key->hash) && (*link)->cmd_len == key->len &&
                              memcmp((*link)->bytes, key->bytes, key->len) == 0))
        link = &(*link)->chain;
    return link;
}

/* The link to this very entry. */
static entry **link_of(shard *s, const entry *target) {
    entry **link = &s->buckets[target->hash.lo & (s->nbuckets - 1)];
    while (*link != target)
        link = &(*link)->chain;
    return link;
}

static void lru_unlink(shard *s, entry *e) {
    if (e->newer)
        e->newer->older = e->older;
    else
        s->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        s->oldest = e->newer;
}

static void lru_push(shard *s, entry *e) {
    e->newer = NULL;
    e->older = s->newest;
    if (s->newest)
        s->newest->newer = e;
    else
        s->oldest = e;
    s->newest = e;
}

static void drop(shard *s, entry **link) {
    entry *e = *link;
    *link = e->chain;
    lru_unlink(s, e);
    s->count--;
    s->bytes -= cost(e);
    free(e);
}

static void grow(shard *s) {
    size_t n = s->nbuckets == 0 ? 64 : s->nbuckets * 2;
    entry **b = calloc(n, sizeof *b);
    if (b == NULL)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < s->nbuckets; i++) {
        entry *e = s->buckets[i];
        while (e != NULL) {
            entry *next = e->chain;
            e->chain = b[e->hash.lo & (n - 1)];
            b[e->hash.lo & (n - 1)] = e;
            e = next;
        }
    }
    s->bytes = s->bytes - s->nbuckets * sizeof *b + n * sizeof *b;
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

static void evict_to(shard *s, size_t budget) {
    while (s->bytes > budget && s->oldest != NULL) {
        drop(s, link_of(s, s->oldest));
        s->evictions++;
    }
}

void ck_l1_store(const ck_l1_key *key, uint64_t snapshot, uint64_t ep, const char *resp, size_t len) {
    if (len > settings.max_entry_bytes)
        return;
    shard *s = shard_of(key->hash);
    size_t budget = settings.max_bytes / SHARDS;
    if (sizeof(entry) + key->len + len + MALLOC_OVERHEAD > budget)
        return;
    uint64_t now = settings.clock();
    pthread_mutex_lock(&s->lock);
    s->stores++;
    entry **link = find(s, key);
    if (link != NULL && *link != NULL) {
        entry *e = *link;
        if (e->len == len && memcmp(reply_of(e), resp, len) == 0) { /* same value read again: refresh it */
            e->snapshot = snapshot;
            e->epoch = ep;
            e->stored_at = now;
            lru_unlink(s, e);
            lru_push(s, e);
            pthread_mutex_unlock(&s->lock);
            return;
        }
        drop(s, link);
    }
    entry *e = malloc(allocation(key->len, len));
    if (e != NULL) {
        if (s->count >= s->nbuckets)
            grow(s);
        if (s->nbuckets == 0) {
            free(e);
            pthread_mutex_unlock(&s->lock);
            return;
        }
        memcpy(e->bytes, key->bytes, key->len);
        memcpy(e->bytes + key->len, resp, len);
        e->cmd_len = key->len;
        e->len = len;
        e->hash = key->hash;
        e->snapshot = snapshot;
        e->epoch = ep;
        e->stored_at = now;
        entry **head = &s->buckets[key->hash.lo & (s->nbuckets - 1)];
        e->chain = *head;
        *head = e;
        lru_push(s, e);
        s->count++;
        s->bytes += cost(e);
        evict_to(s, budget);
    }
    pthread_mutex_unlock(&s->lock);
}

void *ck_l1_fetch_with(const ck_l1_key *key, uint64_t snapshot, ck_l1_use_fn use, void *arg, bool *found) {
    shard *s = shard_of(key->hash);
    uint64_t now = settings.clock();
    void *made = NULL;
    *found = false;
    pthread_mutex_lock(&s->lock);
    entry **link = find(s, key);
    entry *e = link != NULL ? *link : NULL;
    if (e != NULL && (e->snapshot != snapshot || e->epoch != ck_l1_epoch())) {
        drop(s, link); /* a write made it wrong: it can never be served again */
        e = NULL;
    }
    if (e != NULL && now - e->stored_at <= settings.ttl_ns) {
        *found = true;
        made = use(reply_of(e), e->len, arg);
        s->hits++;
    } else {
        s->misses++;
    }
    pthread_mutex_unlock(&s->lock);
    return made;
}

static void *copy_of(const char *bytes, size_t len, void *arg) {
    char *copy = malloc(len ? len : 1);
    if (copy != NULL) {
        memcpy(copy, bytes, len);
        *(size_t *)arg = len;
    }
    return copy;
}

char *ck_l1_fetch(const ck_l1_key *key, uint64_t snapshot, size_t *len) {
    bool found;
    return ck_l1_fetch_with(key, snapshot, copy_of, len, &found);
}

void ck_l1_stats_get(ck_l1_stats *out) {
    pthread_once(&init_once, init_shards);
    *out = (ck_l1_stats){0};
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_lock(&shards[i].lock);
        out->entries += shards[i].count;
        out->bytes += shards[i].bytes;
        out->hits += shards[i].hits;
        out->misses += shards[i].misses;
        out->evictions += shards[i].evictions;
        out->stores += shards[i].stores;
        pthread_mutex_unlock(&shards[i].lock);
    }
}

void ck_l1_clear(void) {
    pthread_once(&init_once, init_shards);
    for (int i = 0; i < SHARDS; i++) {
        shard *s = &shards[i];
        pthread_mutex_lock(&s->lock);
        while (s->oldest != NULL)
            drop(s, link_of(s, s->oldest));
        free(s->buckets);
        s->buckets = NULL;
        s->nbuckets = 0;
        s->bytes = 0;
        pthread_mutex_unlock(&s->lock);
    }
}
