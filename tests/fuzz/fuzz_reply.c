/* libFuzzer target: the reply encoder the L1 runs on every reply it keeps.
 * Input bytes go through the real hiredis reader (as Redis's replies do);
 * whatever reply comes out is encoded, decoded by the reader again and
 * re-encoded: the two encodings must be the same bytes. */
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "real.h"
#include "reply.h"

/* The shim finds hiredis with dlsym: make sure the linker keeps it. */
redisReader *(*const keep_hiredis_linked)(void) = redisReaderCreate;

/* hiredis allocates an aggregate's elements up front: a count of millions
 * is its memory to spend, not the encoder's defect. */
static bool huge_aggregate(const uint8_t *data, size_t size) {
    for (size_t i = 0; i < size; i++) {
        if (strchr("*%~>|", data[i]) == NULL || data[i] == 0)
            continue;
        size_t digits = 0;
        while (i + 1 + digits < size && data[i + 1 + digits] >= '0' && data[i + 1 + digits] <= '9')
            digits++;
        if (digits > 4)
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ck_real_ready())
        abort();
    if (huge_aggregate(data, size))
        return 0;
    redisReader *r = redisReaderCreate();
    if (r == NULL)
        return 0;
    void *reply = NULL;
    if (redisReaderFeed(r, (const char *)data, size) == REDIS_OK && redisReaderGetReply(r, &reply) == REDIS_OK &&
        reply != NULL) {
        char small[64];
        ck_buf first = CK_BUF_ON(small);
        if (ck_reply_encode(reply, &first, 1u << 20)) {
            void *again = ck_reply_from_resp(NULL, first.bytes, first.len);
            if (again == NULL)
                abort(); /* the encoder wrote what the reader refuses */
            char small2[64];
            ck_buf second = CK_BUF_ON(small2);
            if (!ck_reply_encode(again, &second, 1u << 20) || second.len != first.len ||
                memcmp(second.bytes, first.bytes, first.len) != 0)
                abort(); /* not a fixed point */
            ck_buf_release(&second);
            freeReplyObject(again);
        }
        ck_buf_release(&first);
        freeReplyObject(reply);
    }
    redisReaderFree(r);
    return 0;
}
