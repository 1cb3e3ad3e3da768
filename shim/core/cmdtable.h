/* The command table generated from Redis's own COMMAND output
 * (command_table.inc, by scripts/gen-command-table): whether a command
 * reads or writes, where its keys are, whether the L1 may keep its reply.
 * Pure. */
#ifndef CACHEKIT_CMDTABLE_H
#define CACHEKIT_CMDTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    CK_CMD_F_READONLY = 1,
    CK_CMD_F_WRITE = 2,
    CK_CMD_F_MOVABLEKEYS = 4, /* keys not at fixed positions */
    CK_CMD_F_CACHEABLE = 8,   /* deterministic read with keys at fixed positions */
    CK_CMD_F_KEYLESS = 16,
};

typedef struct {
    const char *name; /* upper case */
    uint8_t flags;
    int8_t first_key, last_key, key_step; /* COMMAND's legacy key positions; last < 0 counts from the end */
} ck_command_spec;

/* The spec of a command name (any case), NULL for a command Redis did not
 * list. */
const ck_command_spec *ck_command_spec_of(const char *name, size_t len);

/* True when the command may change data: it writes, or it is a script
 * whose keys are not declared (EVAL, FCALL). */
static inline bool ck_command_may_write(const ck_command_spec *spec) {
    return (spec->flags & CK_CMD_F_WRITE) ||
           ((spec->flags & CK_CMD_F_MOVABLEKEYS) && !(spec->flags & CK_CMD_F_READONLY));
}

/* Whether a command the shim does not send would have written: what
 * Redis's table (spec) marks as writing, scripts, commands it does not
 * list (spec NULL), and PUBLISH (a message for others, lost if not sent). */
bool ck_command_would_write(const ck_command_spec *spec, const char *name, size_t len);

/* Reads whose keys move (COMMAND gives no positions) but that the shim
 * finds itself: a key count then the keys (ZUNION, ZINTER, ZDIFF,
 * ZINTERCARD, SINTERCARD), the key of SORT_RO without BY or GET (their
 * patterns read other keys), the streams of XREAD without BLOCK. Each
 * parse that cannot tell (a pattern, BLOCK) says so: not kept. */
bool ck_command_movable_read(const ck_command_spec *spec);

/* True when the keys it touches can be listed: from the fixed positions,
 * or by ck_command_movable_read's finders. */
static inline bool ck_command_keys_known(const ck_command_spec *spec) {
    if (__builtin_expect(spec->flags & CK_CMD_F_MOVABLEKEYS, 0))
        return ck_command_movable_read(spec);
    return !(spec->flags & CK_CMD_F_KEYLESS) && spec->first_key > 0;
}

/* True when the L1 may keep its reply: a deterministic read whose keys
 * are known. */
static inline bool ck_command_cacheable(const ck_command_spec *spec) {
    return (spec->flags & CK_CMD_F_CACHEABLE) ||
           (__builtin_expect(spec->flags & CK_CMD_F_MOVABLEKEYS, 0) && ck_command_movable_read(spec));
}

/* The fixed key positions of a command of argc arguments (not of a
 * MOVABLEKEYS one): argument i is a key when it is first, first + step...
 * up to last. first is -1 for a command without keys. */
typedef struct {
    long first, last, step;
} ck_key_range;
static inline ck_key_range ck_command_key_range(const ck_command_spec *spec, size_t argc) {
    return (ck_key_range){spec->first_key > 0 ? spec->first_key : -1,
                          spec->last_key < 0 ? (long)argc + spec->last_key : spec->last_key,
                          spec->key_step > 0 ? spec->key_step : 1};
}

/* A key's bytes in a command. */
typedef struct {
    const char *bytes;
    size_t len;
} ck_key;

/* Calls `fn` for each key argument of a RESP-encoded command, following
 * the spec's positions (or its finder); false when the bytes are not a
 * well-formed command, or a finder cannot tell its keys. */
typedef void (*ck_key_fn)(const char *key, size_t len, void *arg);
bool ck_command_each_key(const ck_command_spec *spec, const char *resp, size_t len, ck_key_fn fn, void *arg);

/* Number of commands in the table (for tests). */
size_t ck_command_table_size(void);
const ck_command_spec *ck_command_table_at(size_t i);

#endif
