/* cachekit_health(), for programs that look it up with dlsym: the health
 * document (ops/exposition.c) copied into the caller's buffer. */
#include <string.h>

#include "api.h"
#include "buf.h"
#include "exposition.h"

CK_EXPORT int cachekit_health(char *buf, size_t size) {
    ck_buf doc = CK_BUF_EMPTY;
    if (!ck_exposition_health(&doc)) {
        ck_buf_release(&doc);
        return -1;
    }
    if (buf != NULL && size > 0) {
        size_t n = doc.len < size - 1 ? doc.len : size - 1;
        memcpy(buf, doc.bytes, n);
        buf[n] = '\0';
    }
    int len = (int)doc.len;
    ck_buf_release(&doc);
    return len;
}
