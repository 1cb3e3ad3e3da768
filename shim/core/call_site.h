/* A program's call sites: what one format string of redisCommand says
 * (the command's name, its table entry and class, how to write it as
 * RESP) is read the first time a thread meets it and remembered, so that
 * the next call made from the same place pays for one string comparison
 * instead of reading the format again. A site is found by the format's
 * address and kept only while the bytes there are the same (a program
 * may build its formats in a buffer it reuses). Per thread: no lock. */
#ifndef CACHEKIT_CALL_SITE_H
#define CACHEKIT_CALL_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cmdtable.h"
#include "command.h"
#include "format.h"

#define CK_SITE_FORMAT_ROOM 64 /* longer formats are read each time */
#define CK_SITE_STEPS 24       /* (and so at most as many arguments) */
#define CK_SITE_MAX_KEYS 8
#define CK_SITE_KEYS_UNKNOWN 0xff /* found by parsing the RESP (moving keys, too many) */

typedef struct {
    const char *format;              /* where the program's format is; NULL: no site */
    uint8_t challenges;              /* calls of other formats for this slot since this one's last */
    char bytes[CK_SITE_FORMAT_ROOM]; /* what it held when it was read */
    uint8_t name_len;                /* the command's name, bytes[0, name_len); 0: not literal */
    bool plain;                      /* %s, %b and %% only: `steps` write it */
    uint8_t step_count, argc;
    ck_command_class cls;        /* (of the name, when literal) */
    bool would_write;            /* ck_command_would_write */
    const ck_command_spec *spec; /* NULL: Redis does not list the name */
    ck_format_step steps[CK_SITE_STEPS];
    /* a plain site's RESP up to its first interpolated argument, and
     * where that prefix's arguments are in it */
    uint8_t prefix_steps, prefix_len, prefix_args;
    char prefix[CK_SITE_FORMAT_ROOM + 32];
    uint8_t prefix_at[CK_SITE_STEPS], prefix_arg_len[CK_SITE_STEPS]; /* (a prefix is short) */
    /* which arguments are keys (the spec's fixed positions), or
     * CK_SITE_KEYS_UNKNOWN */
    uint8_t key_count;
    uint8_t key_args[CK_SITE_MAX_KEYS];
} ck_call_site;

/* The site of `format` for the calling thread (read now if it was not,
 * or if its bytes changed); NULL when the format is not one to remember
 * (too long, memory short, or its slot is held by a site called more
 * often). It stays valid until the thread's next lookup (the call path
 * uses it while appending, where no other call of the program's runs).
 * Inline: a call's whole cost when the site is known is a table slot and
 * a comparison of the format's bytes. (Bytes are compared even for a
 * string literal: an image can be unloaded without the program's
 * dlclose being seen, and its address reused.) */
extern __thread ck_call_site *ck_thread_sites __attribute__((tls_model("initial-exec")));
#define CK_SITE_SLOTS 32 /* per thread; a power of two */
const ck_call_site *ck_call_site_read_again(const char *format);

/* A format's slot in the table (string literals are packed: every bit of
 * the address counts). */
static inline size_t ck_call_site_slot(const char *format) {
    return (size_t)(((uintptr_t)format * 0x9E3779B97F4A7C15ull) >> 58) & (CK_SITE_SLOTS - 1);
}

static inline const ck_call_site *ck_call_site_of(const char *format) {
    ck_call_site *sites = ck_thread_sites;
    if (__builtin_expect(sites != NULL && format != NULL, 1)) {
        ck_call_site *site = &sites[ck_call_site_slot(format)];
        if (site->format == format && strcmp(site->bytes, format) == 0) {
            site->challenges = 0;
            return site;
        }
    }
    return ck_call_site_read_again(format);
}

/* Reads `format` into `site` (exposed for the unit tests); false when it
 * is too long to be remembered. */
bool ck_call_site_read(ck_call_site *site, const char *format);

/* A plain site's RESP for one call, as ck_format_command writes it, and
 * where each argument is in it (spans: room for CK_SITE_STEPS). */
static inline long ck_call_site_format(const ck_call_site *site, char *out, size_t cap, va_list ap,
                                       ck_arg_span *spans) {
    long n =
        ck_format_apply_after(out, cap, site->prefix, site->prefix_len, site->bytes, site->steps + site->prefix_steps,
                              site->step_count - site->prefix_steps, ap, spans + site->prefix_args);
    for (int i = 0; i < site->prefix_args; i++)
        spans[i] = (ck_arg_span){site->prefix_at[i], site->prefix_arg_len[i]};
    return n;
}

/* The keys of one call of a site, from the RESP and spans its
 * formatting gave: their count, or -1 when the site does not know them
 * (they are found by parsing the RESP). */
static inline int ck_call_site_keys(const ck_call_site *site, const char *resp, const ck_arg_span *spans,
                                    ck_key *keys) {
    if (site->key_count == CK_SITE_KEYS_UNKNOWN)
        return -1;
    for (int i = 0; i < site->key_count; i++)
        keys[i] = (ck_key){resp + spans[site->key_args[i]].at, spans[site->key_args[i]].len};
    return site->key_count;
}

#endif
