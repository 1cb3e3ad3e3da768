/* The metrics endpoint's connections: several at once, each with its own
 * deadline, never a blocking read or write, so one slow or idle client
 * costs the others (and the program's exit) nothing. Driven by the
 * exporter thread's poll loop; only that thread calls these, except
 * ck_http_forget_inherited (a forked child, before any other code). */
#ifndef CACHEKIT_HTTP_SERVER_H
#define CACHEKIT_HTTP_SERVER_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

#define CK_HTTP_CONNECTIONS 32 /* more clients evict the oldest still sending its request */

/* Fills fds (room for CK_HTTP_CONNECTIONS) with the connections to wait
 * on and returns how many; lowers *wake_ns to the earliest deadline. */
int ck_http_poll_set(struct pollfd *fds, uint64_t *wake_ns);
/* Takes the connections waiting on the listener and reads their requests;
 * false when no more can be taken now (every slot busy, or accept failing
 * for want of descriptors or memory): the listener stays readable, so the
 * caller rests before polling it again rather than spin. */
bool ck_http_accept(int listener, uint64_t now_ns, ck_buf *scratch);
/* After poll, before ck_http_accept (which may reuse a slot): reads,
 * answers, drains; closes what is done or late. The answers are rendered
 * in `scratch`, which holds no state between calls. */
void ck_http_serve(const struct pollfd *fds, int n, uint64_t now_ns, ck_buf *scratch);
/* The thread stops: every connection closed, the buffers freed. */
void ck_http_close_all(void);
/* In a forked child: the parent's connections are closed on this side (if
 * still the shim's) and forgotten. Async-signal-safe. */
void ck_http_forget_inherited(void);

#endif
