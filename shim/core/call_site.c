/* Call sites; see call_site.h. A thread's sites are a small table, one
 * way per slot, allocated when the thread first calls and freed when it
 * ends. A slot held by one site goes to another only after CHALLENGES
 * calls of other formats there with no call of its own between: two
 * formats that share a slot and alternate leave one remembered (the
 * other read each time, as without sites) instead of each reading the
 * other out. */
#include "call_site.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CHALLENGES 8

__thread ck_call_site *ck_thread_sites __attribute__((tls_model("initial-exec")));
static pthread_key_t sites_key;
static pthread_once_t sites_key_once = PTHREAD_ONCE_INIT;
static bool sites_key_made;

/* At the thread's end; a destructor of the program's that runs after it
 * and calls hiredis gets a new table (freed on the next round). */
static void free_sites(void *sites) {
    ck_thread_sites = NULL;
    free(sites);
}

static void make_sites_key(void) { sites_key_made = pthread_key_create(&sites_key, free_sites) == 0; }

/* The arguments that are keys, at the spec's fixed positions (as
 * ck_command_each_key finds them): their count, or CK_SITE_KEYS_UNKNOWN. */
static uint8_t key_positions(const ck_command_spec *spec, size_t argc, uint8_t *args) {
    if (spec == NULL || (spec->flags & CK_CMD_F_MOVABLEKEYS))
        return CK_SITE_KEYS_UNKNOWN;
    ck_key_range keys = ck_command_key_range(spec, argc);
    uint8_t count = 0;
    for (long i = keys.first; i >= 0 && i < (long)argc && i <= keys.last; i += keys.step) {
        if (count == CK_SITE_MAX_KEYS)
            return CK_SITE_KEYS_UNKNOWN;
        args[count++] = (uint8_t)i;
    }
    return count;
}

bool ck_call_site_read(ck_call_site *site, const char *format) {
    size_t len = strnlen(format, CK_SITE_FORMAT_ROOM);
    if (len == CK_SITE_FORMAT_ROOM)
        return false;
    memcpy(site->bytes, format, len + 1);
    const char *name = site->bytes;
    size_t name_len;
    site->name_len = 0;
    site->cls = CK_CMD_DATA;
    site->spec = NULL;
    if (ck_command_name_from_format(site->bytes, &name, &name_len)) {
        site->name_len = (uint8_t)name_len;
        site->cls = ck_command_classify(name, name_len);
        site->spec = ck_command_spec_of(name, name_len);
    }
    site->would_write = ck_command_would_write(site->spec, name, site->name_len);
    int argc = 0, count = ck_format_compile(site->bytes, site->steps, CK_SITE_STEPS, &argc);
    if (count < 0) {
        ck_format_step steps[CK_FORMAT_MAX_STEPS];
        if (ck_format_compile(site->bytes, steps, CK_FORMAT_MAX_STEPS, &argc) >= 0)
            return false; /* plain, in more steps than a site holds */
    }
    site->step_count = (uint8_t)(count >= 0 ? count : 0);
    site->argc = (uint8_t)argc;
    size_t prefix_len = 0;
    ck_arg_span spans[CK_SITE_STEPS];
    int prefix_steps = count < 0 ? -1
                                 : ck_format_prefix(site->prefix, sizeof site->prefix, site->bytes, site->steps, count,
                                                    argc, &prefix_len, spans);
    if (count >= 0 && prefix_steps < 0)
        return false; /* plain, with more text than a site's prefix holds */
    site->plain = prefix_steps >= 0;
    site->prefix_steps = (uint8_t)(prefix_steps >= 0 ? prefix_steps : 0);
    site->prefix_len = (uint8_t)prefix_len;
    site->prefix_args = 0;
    for (int i = 0; i < site->prefix_steps; i++)
        site->prefix_args += site->steps[i].ends_arg;
    for (int i = 0; i < site->prefix_args; i++) { /* (within the prefix: bytes) */
        site->prefix_at[i] = (uint8_t)spans[i].at;
        site->prefix_arg_len[i] = (uint8_t)spans[i].len;
    }
    site->key_count = site->plain ? key_positions(site->spec, (size_t)argc, site->key_args) : CK_SITE_KEYS_UNKNOWN;
    site->format = format;
    return true;
}

static ck_call_site *thread_table(void) {
    pthread_once(&sites_key_once, make_sites_key);
    if (!sites_key_made)
        return NULL;
    ck_call_site *sites = calloc(CK_SITE_SLOTS, sizeof *sites);
    if (sites != NULL && pthread_setspecific(sites_key, sites) != 0) {
        free(sites);
        sites = NULL;
    }
    return ck_thread_sites = sites;
}

const ck_call_site *ck_call_site_read_again(const char *format) {
    ck_call_site *sites = ck_thread_sites;
    if (format == NULL || (sites == NULL && (sites = thread_table()) == NULL))
        return NULL;
    ck_call_site *site = &sites[ck_call_site_slot(format)];
    bool changed = site->format == format; /* the same place, other bytes: a reused buffer */
    if (site->format != NULL && !changed && ++site->challenges < CHALLENGES)
        return NULL; /* held by a site called more often */
    site->format = NULL;
    site->challenges = 0;
    return ck_call_site_read(site, format) ? site : NULL;
}
