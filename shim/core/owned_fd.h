/* A descriptor the shim made, remembered with what it was then (device and
 * inode). After a fork, or a program that closes descriptors wholesale, the
 * number may be the program's own file now (varnish reuses them): the shim
 * uses or closes a descriptor only while it is still the same file. */
#ifndef CACHEKIT_OWNED_FD_H
#define CACHEKIT_OWNED_FD_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct {
    int fd; /* -1: none */
    dev_t dev;
    ino_t ino;
} ck_owned_fd;

/* Remembers fd (which may be -1) as it is now. */
ck_owned_fd ck_own(int fd);
/* Still the file the shim made: not closed, its number not reused. */
bool ck_still_owned(const ck_owned_fd *o);
/* Closes it if it is still the shim's; forgets it either way. */
void ck_let_go(ck_owned_fd *o);

#endif
