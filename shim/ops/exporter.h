/* The two ways out of the metrics, both off by default: a file rewritten
 * atomically every CACHEKIT_METRICS_INTERVAL (node_exporter's textfile
 * collector convention) and an HTTP endpoint serving /metrics and /health
 * (CACHEKIT_METRICS_LISTEN), from one background thread. Also the exported
 * health function. */
#ifndef CACHEKIT_EXPORTER_H
#define CACHEKIT_EXPORTER_H

#include "config.h"

/* At load time: reads the settings; nothing is opened or started yet. */
void ck_exporter_configure(const ck_config *cfg);
/* The program connects: the first connect of each process starts its
 * exporter (a process that never talks to Redis, such as a shell that
 * inherited LD_PRELOAD, writes no file and takes no port). In a child
 * forked from a process that exported, descriptors inherited from the
 * parent are used or closed only if they are still the exporter's. */
void ck_exporter_on_connect(void);
/* At exit: stops the thread and writes the file one last time. */
void ck_exporter_stop(void);

#endif
