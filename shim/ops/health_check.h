/* Active health checks. While a circuit is open, one background thread of
 * the process checks its endpoint every CACHEKIT_HEALTH_CHECK_INTERVAL
 * (with jitter) on its own connection: connect, AUTH as the program last
 * did, PING. PONG, or an error that is not an availability error (NOAUTH,
 * WRONGPASS, NOPERM: Redis is there, it refuses PING for reasons of its
 * own), closes the circuit and ends the async placeholders, so programs go
 * live within about one interval of Redis returning; an availability error
 * (LOADING, BUSY, MASTERDOWN...; not MISCONF, which PING gets while reads
 * are served) or no answer is "down" and counts nothing for the program's
 * calls. While the thread covers a circuit no
 * program call probes it, so none pays a timeout as a probe. An endpoint
 * the check cannot talk to (a protocol error: TLS) is left to the program
 * calls' probes after the cooldown, as with the check off.
 *
 * With shared breaker state, one process's check covers every process's
 * circuit (a lease, one check per host); the threads of the others look
 * every interval, to end their own placeholders once it closes and to take
 * over a lease whose holder died. */
#ifndef CACHEKIT_HEALTH_CHECK_H
#define CACHEKIT_HEALTH_CHECK_H

#include <stdbool.h>

#include "config.h"

/* At load time: reads the interval (0: off, nothing is started ever). The
 * thread starts when a circuit first opens. */
void ck_health_check_configure(const ck_config *cfg);
/* At exit: no further check starts (one in flight is not waited for), and
 * the leases this process holds are given back. */
void ck_health_check_stop(void);
/* Whether this process's check thread runs, and so ends the async
 * placeholders made while a check (of any process) covers their circuit
 * once it closes. Without it they must not wait for that. */
bool ck_health_check_running(void);

#endif
