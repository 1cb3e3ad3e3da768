/* The slot table of the shared breaker state (state/shared_state.c maps
 * it from a file): one slot of breaker words per endpoint, found by a hash
 * of the endpoint's name and claimed by compare-and-swap, so processes that
 * register endpoints at once never take one slot twice, and no lock is
 * needed (nor can a crashed process leave one held). Pure: the unit tests
 * run it on plain memory. */
#ifndef CACHEKIT_SHARED_SLOTS_H
#define CACHEKIT_SHARED_SLOTS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "breaker.h"

/* The layout of the file; change anything here or in ck_breaker_words,
 * bump the version (a process of another version then refuses the file
 * rather than misread it). */
#define CK_SHARED_VERSION 1u
#define CK_SHARED_SLOTS 64u
#define CK_SHARED_MAGIC 0x3174617473636b63ull /* "ckstat1" */

typedef struct {
    uint64_t magic;
    uint32_t version;
    uint32_t size; /* of the whole file */
    uint32_t slots;
    uint32_t slot_size;
    char boot_id[40]; /* the kernel's, when the file was made: monotonic times mean nothing across a reboot */
    char pad[128 - 64];
} ck_shared_header;

typedef struct {
    _Atomic uint64_t tag; /* a hash of the endpoint's name, never 0; 0: free */
    uint64_t reserved;
    ck_breaker_words words;
    char pad[128 - 16 - sizeof(ck_breaker_words)];
} ck_shared_slot;

typedef struct {
    ck_shared_header header;
    ck_shared_slot slot[CK_SHARED_SLOTS];
} ck_shared_file;

/* Fills a fresh header (the slots are zero: every circuit CLOSED). */
void ck_shared_header_init(ck_shared_header *h, const char *boot_id);
/* Whether the header is this layout's; `why` names what is not:
 *   CK_SHARED_ALIEN    not cachekit's (no magic, or empty: the shim never
 *                      leaves an empty file): a setting that names some
 *                      other file; leave it;
 *   CK_SHARED_FOREIGN  another layout version: another version of the
 *                      shim uses it; leave it;
 *   CK_SHARED_DAMAGED  cachekit's, but short or inconsistent: replace it;
 *   CK_SHARED_STALE    made before the last boot: replace it.
 * An empty boot id (on either side: /proc not readable) is not compared. */
typedef enum {
    CK_SHARED_OK = 0,
    CK_SHARED_DAMAGED,
    CK_SHARED_ALIEN,
    CK_SHARED_FOREIGN,
    CK_SHARED_STALE
} ck_shared_verdict;
ck_shared_verdict ck_shared_header_check(const ck_shared_header *h, size_t file_size, const char *boot_id,
                                         const char **why);

/* The words whose tag is the name's, claiming a free slot for it; NULL
 * when every slot is taken. */
ck_breaker_words *ck_shared_slots_find(ck_shared_slot *slots, size_t count, const char *endpoint_name);

#endif
