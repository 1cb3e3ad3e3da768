/* L1 policy; see cache.h. */
#include "cache.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "l1.h"
#include "log.h"
#include "reply.h"

bool ck_cache_on;
bool ck_cache_stale_if_error;
static size_t max_entry_bytes;
static char key_patterns[512];  /* CACHEKIT_L1_KEYS, commas turned into NULs */
static size_t key_patterns_len; /* 0: every key */

/* Writes whose effects reach keys the table cannot name: another
 * database (COPY ... DB n, MOVE), or a key a subcommand creates (XGROUP
 * CREATE ... MKSTREAM), or the whole data set (DEBUG RELOAD). */
static const char *const beyond_names[] = {"COPY", "MOVE", "XGROUP", "DEBUG", "MIGRATE", "RESTORE-ASKING"};
#define BEYOND_COUNT (sizeof beyond_names / sizeof beyond_names[0])
static const ck_command_spec *beyond_specs[BEYOND_COUNT]; /* looked up once: compared by address */

static bool writes_beyond_its_keys(const ck_command_spec *spec) {
    switch (spec->name[0]) { /* most commands are told by one look */
    case 'C':
    case 'M':
    case 'X':
    case 'D':
    case 'R': break;
    default: return false;
    }
    for (size_t i = 0; i < BEYOND_COUNT; i++)
        if (spec == beyond_specs[i])
            return true;
    return false;
}

void ck_cache_configure(const ck_config *cfg) {
    ck_cache_on = cfg->l1_enabled;
    ck_cache_stale_if_error = cfg->l1_stale_if_error;
    max_entry_bytes = cfg->l1_max_entry_bytes;
    ck_l1_settings s = {(size_t)cfg->l1_max_size_mb << 20, cfg->l1_max_entry_bytes, cfg->l1_ttl_ns, ck_clock_coarse_ns};
    ck_l1_configure(&s);
    for (size_t i = 0; i < BEYOND_COUNT; i++)
        beyond_specs[i] = ck_command_spec_of(beyond_names[i], strlen(beyond_names[i]));
    key_patterns_len = strlen(cfg->l1_keys);
    memcpy(key_patterns, cfg->l1_keys, key_patterns_len + 1);
    for (size_t i = 0; i < key_patterns_len; i++)
        if (key_patterns[i] == ',')
            key_patterns[i] = '\0';
}

static bool key_wanted(const char *key, size_t len) {
    if (key_patterns_len == 0)
        return true;
    char name[512];
    if (len >= sizeof name)
        return false;
    memcpy(name, key, len);
    name[len] = '\0';
    for (size_t i = 0; i < key_patterns_len; i += strlen(key_patterns + i) + 1)
        if (key_patterns[i] != '\0' && fnmatch(key_patterns + i, name, 0) == 0)
            return true;
    return false;
}

const ck_command_spec *ck_cache_spec(const ck_command_spec *spec, const char *name, size_t len, bool *needs_resp) {
    if (spec == NULL) {
        char quoted[CK_LOG_DATA_ROOM];
        CK_LOG_ONCE(CK_LOG_WARN,
                    "unknown command \"%s\" (reported once): treated as a write of unknown keys, "
                    "every L1 entry is invalidated",
                    ck_log_data(quoted, name, len, 24));
        ck_l1_bump_epoch();
        *needs_resp = false;
        return NULL;
    }
    *needs_resp = ck_command_cacheable(spec) || ck_command_may_write(spec);
    return spec;
}

typedef struct {
    uint64_t endpoint_id;
    uint32_t db;
    ck_slot_cache *cache;
    uint16_t *slots; /* where the generation slots go */
    uint32_t count;  /* keys seen */
    uint32_t room;   /* slots there is room for */
    bool unwanted;
} key_walk;

static void collect_key(const char *key, size_t len, void *arg) {
    key_walk *w = arg;
    if (w->count < w->room)
        w->slots[w->count] = (uint16_t)ck_l1_generation_slot(w->endpoint_id, w->db, key, len);
    w->count++;
    w->unwanted |= !key_wanted(key, len);
}

/* Finds the command's keys (given, or parsed from the RESP): up to
 * CK_SLOT_MAX_KEYS in the slot; more (MGET of 100 keys, a DEL of many) in
 * cmd_heap, where a read's bytes go too (keep_bytes). False when the
 * command cannot be parsed. */
static bool collect_keys(const ck_command_spec *spec, const char *resp, size_t len, const ck_found_keys *found,
                         key_walk *w, bool keep_bytes) {
    w->slots = w->cache->generation_slots;
    w->room = CK_SLOT_MAX_KEYS;
    if (found != NULL && found->count <= CK_SLOT_MAX_KEYS) {
        for (int i = 0; i < found->count; i++)
            collect_key(found->keys[i].bytes, found->keys[i].len, w);
        w->cache->nkeys = (uint16_t)w->count;
        return true;
    }
    if (!ck_command_each_key(spec, resp, len, collect_key, w))
        return false;
    if (w->count <= CK_SLOT_MAX_KEYS) {
        w->cache->nkeys = (uint16_t)w->count;
        return true;
    }
    size_t at = ck_slot_cache_slots_at(keep_bytes ? len : 0);
    char *heap = w->count <= CK_SLOT_MOST_KEYS ? malloc(at + w->count * sizeof(uint16_t)) : NULL;
    if (heap == NULL) {
        w->cache->nkeys = CK_SLOT_ALL_KEYS; /* too many to follow: as unknown keys */
        return true;
    }
    if (keep_bytes)
        memcpy(heap, resp, len);
    w->cache->cmd_heap = heap;
    w->cache->cmd_len = keep_bytes ? len : 0;
    w->slots = (uint16_t *)(void *)(heap + at);
    w->room = w->count;
    w->count = 0;
    w->unwanted = false;
    ck_command_each_key(spec, resp, len, collect_key, w); /* (it parsed once) */
    w->cache->nkeys = (uint16_t)w->count;
    return true;
}

static uint64_t snapshot_of(const ck_slot_cache *cache) {
    uint64_t sum = 0;
    const uint16_t *slots = ck_slot_cache_slots(cache);
    for (uint32_t i = 0; i < cache->nkeys; i++)
        sum += ck_l1_generation(slots[i]);
    return sum;
}

static void invalidate(const ck_slot_cache *cache) {
    if (cache->nkeys == CK_SLOT_ALL_KEYS) {
        ck_l1_bump_epoch();
        return;
    }
    const uint16_t *slots = ck_slot_cache_slots(cache);
    for (uint32_t i = 0; i < cache->nkeys; i++)
        ck_l1_bump_generation(slots[i]);
}

/* The L1's key space of a context: its endpoint, database and protocol
 * (the same bytes answer differently under RESP3). */
static uint32_t keyspace_of(const ck_context_state *st) {
    return st->db_appended ^ (st->protocol_appended == 3 ? 0x80000000u : 0);
}

uint8_t ck_cache_prepare(const ck_context_state *st, const ck_command_spec *spec, const char *resp, size_t len,
                         const ck_found_keys *found, ck_slot_cache *cache) {
    cache->nkeys = 0;
    cache->stale = NULL;
    cache->cmd_heap = NULL;
    cache->cmd_len = 0;
    if (spec == NULL)
        return 0; /* unknown: the epoch was bumped already */
    /* after a SELECT inside MULTI the database is not followed: no read is
     * kept, a write invalidates everything */
    bool keys_certain = !st->db_uncertain && !st->protocol_uncertain;
    key_walk walk = {.endpoint_id = (uint64_t)(uintptr_t)st->endpoint, .db = st->db_appended, .cache = cache};
    bool beyond = writes_beyond_its_keys(spec);
    bool writes = beyond || ck_command_may_write(spec);
    bool parsed = keys_certain && ck_command_keys_known(spec) && (writes || ck_command_cacheable(spec)) &&
                  collect_keys(spec, resp, len, found, &walk, !writes);
    if (writes) {
        if (!parsed || beyond) {
            ck_slot_cache_release(cache); /* (slots of many keys) */
            cache->nkeys = CK_SLOT_ALL_KEYS;
        }
        invalidate(cache);
        return CK_SLOT_L1_WRITE;
    }
    if (!ck_command_cacheable(spec) || !parsed || walk.unwanted || cache->nkeys == CK_SLOT_ALL_KEYS ||
        cache->nkeys == 0) {
        ck_slot_cache_release(cache);
        return 0;
    }
    if (cache->cmd_heap != NULL) {
        /* its bytes are kept with its keys' slots */
    } else if (len <= sizeof cache->inline_cmd) {
        memcpy(cache->inline_cmd, resp, len);
    } else if ((cache->cmd_heap = malloc(len)) != NULL) {
        memcpy(cache->cmd_heap, resp, len);
    } else {
        return 0;
    }
    cache->cmd_len = len;
    cache->hash = ck_l1_hash((uint64_t)(uintptr_t)st->endpoint, keyspace_of(st), resp, len);
    cache->epoch = ck_l1_epoch();
    cache->snapshot = snapshot_of(cache);
    return CK_SLOT_L1_READ;
}

static ck_l1_key key_of(const ck_slot_cache *cache) {
    return (ck_l1_key){cache->hash, ck_slot_cache_cmd(cache), cache->cmd_len};
}

char *ck_cache_stale(const ck_slot_cache *cache, size_t *len) {
    if (cache->epoch != ck_l1_epoch())
        return NULL;
    ck_l1_key key = key_of(cache);
    return ck_l1_fetch(&key, snapshot_of(cache), len);
}

static void *reply_of_bytes(const char *bytes, size_t len, void *context) {
    return ck_reply_from_resp(context, bytes, len);
}

void *ck_cache_stale_reply(const ck_slot_cache *cache, redisContext *c, bool *found) {
    *found = false;
    if (cache->epoch != ck_l1_epoch())
        return NULL;
    if (ck_reply_foreign(c)) {
        /* the program's own reply functions are not called under the L1's
         * lock: from a copy */
        size_t len = 0;
        char *stale = ck_cache_stale(cache, &len);
        void *made = stale != NULL ? ck_reply_from_resp(c, stale, len) : NULL;
        *found = stale != NULL;
        free(stale);
        return made;
    }
    ck_l1_key key = key_of(cache);
    return ck_l1_fetch_with(&key, snapshot_of(cache), reply_of_bytes, c, found);
}

void ck_cache_settle(uint8_t flags, const ck_slot_cache *cache, const void *reply, bool answered) {
    if (flags & CK_SLOT_L1_WRITE) {
        invalidate(cache);
        return;
    }
    if ((flags & CK_SLOT_L1_READ) && answered && reply == NULL) {
        /* answered, but in objects of the program's the shim cannot read:
         * what the L1 holds for these keys may be older than what the
         * program has now seen */
        invalidate(cache);
        return;
    }
    if (!(flags & CK_SLOT_L1_READ) || !answered || reply == NULL || ck_reply_type(reply) == REDIS_REPLY_ERROR)
        return;
    char small[512]; /* most values: no allocation to encode them */
    ck_buf buf = CK_BUF_ON(small);
    ck_l1_key key = key_of(cache);
    if (ck_reply_encode(reply, &buf, max_entry_bytes))
        ck_l1_store(&key, cache->snapshot, cache->epoch, buf.bytes, buf.len);
    ck_buf_release(&buf);
}
