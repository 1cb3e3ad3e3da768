/* Writing a whole buffer to a descriptor: a write may take less than it
 * was given (a signal, a pipe, a file system filling up), and says why only
 * at the next attempt. For the files the shim writes: the metrics file,
 * the shared state file. */
#ifndef CACHEKIT_WRITE_ALL_H
#define CACHEKIT_WRITE_ALL_H

#include <stddef.h>

/* 0 when all of buf was written at the descriptor's offset, else the
 * error (ENOSPC when a write took nothing without saying why). */
int ck_write_all(int fd, const void *buf, size_t len);

#endif
