/* The L1 policy: which data commands the stale-value store keeps or
 * invalidates, with what key, and when a stale value may be served.
 * Glue between the call path (policy/call.c) and the store (core/l1.c). */
#ifndef CACHEKIT_CACHE_H
#define CACHEKIT_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "cmdtable.h"
#include "config.h"
#include "context.h"
#include "pending.h"

void ck_cache_configure(const ck_config *cfg);

extern bool ck_cache_on;
extern bool ck_cache_stale_if_error;

/* A data command's table entry `spec` (NULL: Redis does not list `name`)
 * as the L1 takes it: an unknown command is treated as a write of unknown
 * keys, once reported. `*needs_resp`: its RESP bytes are needed (a
 * cacheable read, or a write). Returns spec. */
const ck_command_spec *ck_cache_spec(const ck_command_spec *spec, const char *name, size_t len, bool *needs_resp);

/* A command's keys when the caller knows them already (a call site's
 * fixed positions, core/call_site.h): the RESP need not be parsed. */
typedef struct {
    const ck_key *keys;
    int count;
} ck_found_keys;

/* For a command about to be sent or answered by the shim: fills `cache`
 * and returns the slot flags (CK_SLOT_L1_READ, CK_SLOT_L1_WRITE). A write
 * invalidates its keys at once, sent or not. `found`: its keys, or NULL
 * (parsed from the RESP). */
uint8_t ck_cache_prepare(const ck_context_state *st, const ck_command_spec *spec, const char *resp, size_t len,
                         const ck_found_keys *found, ck_slot_cache *cache);

/* The stale value of a read, if the L1 has a coherent and young enough
 * one: malloc'd RESP bytes. */
char *ck_cache_stale(const ck_slot_cache *cache, size_t *len);

/* The same value as a reply object of c's, built straight from the L1's
 * bytes; *found: there was such a value (NULL then: out of memory). */
void *ck_cache_stale_reply(const ck_slot_cache *cache, redisContext *c, bool *found);

/* A read or write came back: keep a read's reply, invalidate a write's
 * keys again (a read sent meanwhile may have been answered before it). */
void ck_cache_settle(uint8_t flags, const ck_slot_cache *cache, const void *reply, bool answered);

#endif
