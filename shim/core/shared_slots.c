/* See shared_slots.h. Open addressing over a fixed table: endpoints are
 * few (a program talks to a handful of servers) and never removed, so a
 * linear probe from the name's hash finds a slot in a step or two, and a
 * slot once claimed keeps its tag for the life of the file. */
#include "shared_slots.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

_Static_assert(sizeof(ck_shared_header) == 128, "the header is part of the file layout");
_Static_assert(sizeof(ck_shared_slot) == 128, "a slot is part of the file layout");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
               "shared words need lock-free (address-free) atomics");

void ck_shared_header_init(ck_shared_header *h, const char *boot_id) {
    memset(h, 0, sizeof *h);
    h->magic = CK_SHARED_MAGIC;
    h->version = CK_SHARED_VERSION;
    h->size = (uint32_t)sizeof(ck_shared_file);
    h->slots = CK_SHARED_SLOTS;
    h->slot_size = (uint32_t)sizeof(ck_shared_slot);
    strncpy(h->boot_id, boot_id, sizeof h->boot_id - 1);
}

ck_shared_verdict ck_shared_header_check(const ck_shared_header *h, size_t file_size, const char *boot_id,
                                         const char **why) {
    if (file_size == 0) {
        *why = "it is empty"; /* the shim never leaves one: some other program's (a lock file) */
        return CK_SHARED_ALIEN;
    }
    if (file_size < sizeof h->magic || h->magic != CK_SHARED_MAGIC) {
        *why = "it is not a cachekit state file";
        return CK_SHARED_ALIEN;
    }
    if (file_size < offsetof(ck_shared_header, size)) {
        *why = "it is short";
        return CK_SHARED_DAMAGED;
    }
    if (h->version != CK_SHARED_VERSION) {
        *why = "it has another layout version";
        return CK_SHARED_FOREIGN;
    }
    if (file_size < sizeof(ck_shared_file)) {
        *why = "it is short";
        return CK_SHARED_DAMAGED;
    }
    if (h->size != sizeof(ck_shared_file) || h->slots != CK_SHARED_SLOTS || h->slot_size != sizeof(ck_shared_slot)) {
        *why = "its header does not match its layout";
        return CK_SHARED_DAMAGED;
    }
    if (boot_id[0] != '\0' && h->boot_id[0] != '\0' && strncmp(h->boot_id, boot_id, sizeof h->boot_id) != 0) {
        *why = "it was made before the last boot";
        return CK_SHARED_STALE;
    }
    *why = "";
    return CK_SHARED_OK;
}

/* FNV-1a, 64 bits: the tag must be the same in every process and version
 * (a seeded hash would not be), and collisions among a handful of names
 * are out of reach. */
static uint64_t tag_of(const char *name) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return h != 0 ? h : 1;
}

ck_breaker_words *ck_shared_slots_find(ck_shared_slot *slots, size_t count, const char *endpoint_name) {
    uint64_t tag = tag_of(endpoint_name);
    for (size_t i = 0; i < count; i++) {
        ck_shared_slot *s = &slots[(tag + i) % count];
        uint64_t seen = atomic_load_explicit(&s->tag, memory_order_acquire);
        if (seen == 0 &&
            atomic_compare_exchange_strong_explicit(&s->tag, &seen, tag, memory_order_acq_rel, memory_order_acquire))
            return &s->words;
        if (seen == tag)
            return &s->words;
    }
    return NULL;
}
