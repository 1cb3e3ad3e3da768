/* libFuzzer target: every parser of command bytes the shim runs on what a
 * program sends (preformatted buffers reach it unchecked): argument and
 * key extraction, batch splitting, session commands, error words. The
 * property is the sanitizers': no read outside the input, no overflow. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmdtable.h"
#include "command.h"
#include "format.h"
#include "session.h"

static void touch(const char *key, size_t len, void *arg) {
    size_t *sum = arg;
    for (size_t i = 0; i < len; i++) /* reads every byte the parser says is a key */
        *sum += (unsigned char)key[i];
}

static void touch_arg(size_t index, const char *bytes, size_t len, void *arg) {
    (void)index;
    touch(bytes, len, arg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *buf = (const char *)data;
    size_t sum = 0;
    const char *arg;
    size_t len;
    for (unsigned i = 0; i < 4; i++)
        if (ck_command_arg_from_resp(buf, size, i, &arg, &len))
            touch(arg, len, &sum);
    ck_command_each_resp_arg(buf, size, touch_arg, &sum);
    size_t count;
    bool all_data;
    ck_command_batch(buf, size, &count, &all_data, NULL, NULL);
    static const char *const specs[] = {"GET", "MGET", "SET", "DEL", "ZUNIONSTORE", "BLPOP", "MSET", "COPY"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        ck_command_each_key(ck_command_spec_of(specs[i], strlen(specs[i])), buf, size, touch, &sum);
    if (ck_command_arg_from_resp(buf, size, 0, &arg, &len)) {
        ck_command_spec_of(arg, len);
        ck_command_classify(arg, len);
    }
    char resp[512];
    long n = ck_format_inline(resp, sizeof resp, buf, size);
    if (n > 0 && !ck_command_each_resp_arg(resp, (size_t)n, NULL, NULL))
        abort(); /* the inline formatter wrote what the parser refuses */
    ck_session_kind kind;
    ck_session_kind_of(buf, size, &kind);
    ck_session_db_of(buf, size);
    ck_session_protocol_of(buf, size, 2);
    ck_error_is_availability(buf, size);
    /* a format string, as a program may pass one */
    char *fmt = malloc(size + 1);
    if (fmt != NULL) {
        memcpy(fmt, data, size);
        fmt[size] = '\0';
        ck_command_name_from_format(fmt, &arg, &len);
        free(fmt);
    }
    return sum == 1 ? 1 : 0; /* keeps `sum` alive; libFuzzer ignores the value */
}
