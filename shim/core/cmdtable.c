/* Lookup in the generated command table: an open-addressing index over
 * the upper-cased name, built once, so a lookup is one hash and usually
 * one comparison. */
#include "cmdtable.h"

#include "command.h"

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
static uint8_t name_lengths[TABLE_LEN];
static pthread_once_t index_once = PTHREAD_ONCE_INIT;
static _Atomic int index_ready;

/* Letters to upper case, anything else as it is. */
static uint8_t upper_of[256];

/* The hash of a name in any case: its length and three of its letters,
 * in constant time (a lookup per command, on the open path); names that
 * share them are told apart by the comparison. */
static inline uint32_t name_hash(const char *name, size_t len) {
    if (len == 0)
        return 0;
    uint32_t first = upper_of[(uint8_t)name[0]], middle = upper_of[(uint8_t)name[len / 2]],
             last = upper_of[(uint8_t)name[len - 1]];
    return ((uint32_t)len * 2654435761u) ^ (first * 40503u) ^ (middle * 2246822519u) ^ (last * 3266489917u);
}

/* The table's upper-case name against the program's, in any case (not
 * strncasecmp: a call per command). */
static inline bool same_name(const char *upper, const char *name, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (upper_of[(uint8_t)name[i]] != (uint8_t)upper[i])
            return false;
    return true;
}

static void build_index(void) {
    for (int ch = 0; ch < 256; ch++)
        upper_of[ch] = (uint8_t)(ch >= 'a' && ch <= 'z' ? ch - ('a' - 'A') : ch);
    for (size_t i = 0; i < TABLE_LEN; i++) {
        name_lengths[i] = (uint8_t)strlen(table[i].name);
        uint32_t h = name_hash(table[i].name, name_lengths[i]);
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
        /* the length first: a name holding a NUL must not compare equal */
        if (name_lengths[slot - 1] == len && same_name(spec->name, name, len))
            return spec;
    }
}

size_t ck_command_table_size(void) { return TABLE_LEN; }
const ck_command_spec *ck_command_table_at(size_t i) { return i < TABLE_LEN ? &table[i] : NULL; }

bool ck_command_would_write(const ck_command_spec *spec, const char *name, size_t len) {
    if (spec == NULL || ck_command_may_write(spec))
        return true;
    return (len == 7 && strncasecmp(name, "PUBLISH", 7) == 0) || (len == 8 && strncasecmp(name, "SPUBLISH", 8) == 0);
}
