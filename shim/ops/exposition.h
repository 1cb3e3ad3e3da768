/* The shim's state as an operator reads it, built fresh for each request
 * from the endpoints' breakers and counters and the L1: the Prometheus
 * text format (version 0.0.4) for /metrics and CACHEKIT_METRICS_FILE, and
 * JSON for /health and cachekit_health(). */
#ifndef CACHEKIT_EXPOSITION_H
#define CACHEKIT_EXPOSITION_H

#include <stdbool.h>

#include "buf.h"

/* The labels every series carries: the program's name and pid. */
void ck_exposition_set_program(const char *name);

/* Append the whole document; false when memory is short. */
bool ck_exposition_metrics(ck_buf *out);
bool ck_exposition_health(ck_buf *out);

#endif
