/* Descriptors checked for identity before use (see owned_fd.h). fstat and
 * close only: safe in an atfork child handler. */
#include "owned_fd.h"

#include <sys/stat.h>
#include <unistd.h>

ck_owned_fd ck_own(int fd) {
    ck_owned_fd o = {.fd = fd};
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0) {
        o.dev = st.st_dev;
        o.ino = st.st_ino;
    } else {
        o.fd = -1;
    }
    return o;
}

bool ck_still_owned(const ck_owned_fd *o) {
    struct stat st;
    return o->fd >= 0 && fstat(o->fd, &st) == 0 && st.st_dev == o->dev && st.st_ino == o->ino;
}

void ck_let_go(ck_owned_fd *o) {
    if (ck_still_owned(o))
        close(o->fd);
    o->fd = -1;
}
