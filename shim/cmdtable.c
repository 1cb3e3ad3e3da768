/* Lookup in the generated command table: an open-addressing index over
 * the upper-cased name, built once, so a lookup is one hash and usually
 * one comparison. */
#include "cmdtable.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>

static const ck_command_spec table[] = {
#define CK_COMMAND(name, flags, first, last, step) {name, (flags), (first), (last), (step)},
#include "command_table.inc"
#undef CK_COMMAND
};

#define TABLE_LEN (sizeof table / sizeof table[0])
#define INDEX_SIZE 1024 /* power of two, well above twice the table */

static uint16_t index_slots[INDEX_SIZE]; /* position + 1, 0 = empty */
static pthread_once_t index_once = PTHREAD_ONCE_INIT;
static _Atomic int index_ready;

static uint32_t name_hash(const char *name, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)(name[i] & ~0x20)) * 16777619u; /* letters folded to upper case */
    return h;
}

static void build_index(void) {
    for (size_t i = 0; i < TABLE_LEN; i++) {
        uint32_t h = name_hash(table[i].name, strlen(table[i].name));
        while (index_slots[h & (INDEX_SIZE - 1)] != 0)
            h++;
        index_slots[h & (INDEX_SIZE - 1)] = (uint16_t)(i + 1);
    }
    atomic_store_explicit(&index_ready, 1, memory_order_release);
}

const ck_command_spec *ck_command_spec_of(const char *name, size_t len) {
    if (!atomic_load_explicit(&index_ready, memory_order_acquire))
        pthread_once(&index_once, build_index);
    for (uint32_t h = name_hash(name, len);; h++) {
        uint16_t slot = index_slots[h & (INDEX_SIZE - 1)];
        if (slot == 0)
            return NULL;
        const ck_command_spec *spec = &table[slot - 1];
        if (strncasecmp(spec->name, name, len) == 0 && spec->name[len] == '\0')
            return spec;
    }
}

bool ck_command_each_key(const ck_command_spec *spec, const char *resp, size_t len, ck_key_fn fn, void *arg) {
    const char *end = resp + len;
    if (len < 4 || resp[0] != '*')
        return false;
    long argc = 0;
    const char *p = resp + 1;
    while (p < end && *p >= '0' && *p <= '9')
        argc = argc * 10 + (*p++ - '0');
    if (end - p < 2 || p[0] != '\r')
        return false;
    p += 2;
    long last = spec->last_key < 0 ? argc + spec->last_key : spec->last_key;
    long step = spec->key_step > 0 ? spec->key_step : 1;
    for (long i = 0; i < argc; i++) {
        if (p >= end || *p != '$')
            return false;
        size_t n = 0;
        p++;
        while (p < end && *p >= '0' && *p <= '9')
            n = n * 10 + (size_t)(*p++ - '0');
        if (end - p < 2 || (size_t)(end - p - 2) < n + 2)
            return false;
        p += 2;
        if (spec->first_key > 0 && i >= spec->first_key && i <= last && (i - spec->first_key) % step == 0)
            fn(p, n, arg);
        p += n + 2;
    }
    return true;
}

size_t ck_command_table_size(void) { return TABLE_LEN; }
const ck_command_spec *ck_command_table_at(size_t i) { return i < TABLE_LEN ? &table[i] : NULL; }
