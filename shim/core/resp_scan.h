/* Whether bytes begin with one whole RESP value (RESP2 or RESP3), found
 * without building anything. The deadline thread must leave a connection
 * alone while the next reply waits, whole, in the program's reader (the
 * program is slow, not Redis), and cut one whose reader holds only the
 * start of a reply from a Redis that stalled (state/timeouts.c). */
#ifndef CACHEKIT_RESP_SCAN_H
#define CACHEKIT_RESP_SCAN_H

#include <stdbool.h>
#include <stddef.h>

/* True when buf[0..len) starts with one whole, well-formed value; false
 * when it is cut short (or len is 0), or is no RESP (the program's reader
 * reports that when asked, whatever the deadline did meanwhile). */
bool ck_resp_starts_whole(const char *buf, size_t len);

#endif
