/* The two ways out of the metrics, both off by default: a file rewritten
 * atomically every CACHEKIT_METRICS_INTERVAL (node_exporter's textfile
 * collector convention) and an HTTP endpoint serving /metrics and /health
 * (CACHEKIT_METRICS_LISTEN), from one background thread. Also the exported
 * health function. */
#ifndef CACHEKIT_EXPORTER_H
#define CACHEKIT_EXPORTER_H

#include "config.h"

/* At load time: starts the thread when an output is configured. */
void ck_exporter_start(const ck_config *cfg);
/* In a child forked from a process that exported: the thread did not
 * survive the fork; starts it again (called when the program connects). */
void ck_exporter_after_fork(void);
/* At exit: stops the thread and writes the file one last time. */
void ck_exporter_stop(void);

#endif
