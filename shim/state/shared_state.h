/* Breaker state shared by every process of the user on the host
 * (CACHEKIT_SHARED_STATE): a small file that each process maps, one slot
 * of breaker words per endpoint. Short-lived programs (one process per
 * compile) and prefork servers (one breaker per worker) then open a
 * circuit once for all, and one probe or health check per host decides
 * when it closes.
 *
 * The file is found, never trusted: it must be a regular file of this
 * user, closed to group and others, of this layout version, else it is
 * refused with one diagnostic and the process keeps its own state. A file
 * whose header is damaged or short is rebuilt beside it and renamed over
 * it (never truncated or rewritten in place: a process that maps it would
 * take SIGBUS). */
#ifndef CACHEKIT_SHARED_STATE_H
#define CACHEKIT_SHARED_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "breaker.h"
#include "shared_slots.h"

/* What CACHEKIT_SHARED_STATE says: "on" (the default file), "off", or the
 * absolute path of the file. Malformed: a diagnostic, and "on". */
void ck_shared_state_configure(const char *setting);

/* The shared words of the endpoint of that name, claimed on first use;
 * NULL when shared state is off, refused, or full (the breaker then keeps
 * its own). Called at endpoint registration, under its lock. */
ck_breaker_words *ck_shared_state_words(const char *endpoint_name);

#endif
