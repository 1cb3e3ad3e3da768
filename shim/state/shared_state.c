/* The shared state file (see shared_state.h). Opened lazily, at the first
 * endpoint's registration, so a program that never connects never touches
 * it; mapped once and kept for the life of the process (a forked child
 * shares the mapping, which is what it should share).
 *
 * Made without a window: a new file is written under a private name and
 * link()ed into place, which fails if another process got there first; a
 * damaged one is replaced by rename() under an flock of the damaged file,
 * taken by every process that found it damaged, so only the first
 * replaces it and the others map the replacement. */
#include "shared_state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static char path[256];
static bool tried;             /* under the registry lock */
static ck_shared_file *mapped; /* NULL: per-process state */

void ck_shared_state_configure(const char *setting) {
    if (strcasecmp(setting, "off") == 0 || strcmp(setting, "0") == 0 || strcasecmp(setting, "false") == 0 ||
        strcasecmp(setting, "no") == 0) {
        path[0] = '\0';
        tried = true;
        return;
    }
    if (setting[0] == '/' && strlen(setting) < sizeof path) {
        snprintf(path, sizeof path, "%s", setting);
        return;
    }
    bool on = strcasecmp(setting, "on") == 0 || strcmp(setting, "1") == 0 || strcasecmp(setting, "true") == 0 ||
              strcasecmp(setting, "yes") == 0 || setting[0] == '\0';
    if (!on)
        ck_log(CK_LOG_WARN,
               "CACHEKIT_SHARED_STATE=%s is neither on, off nor an absolute path (of at most %zu bytes); using on",
               setting, sizeof path - 1);
    snprintf(path, sizeof path, "/dev/shm/cachekit-%u.state", (unsigned)geteuid());
}

static void read_boot_id(char *out, size_t cap) {
    out[0] = '\0';
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, out, cap - 1);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
    out[strcspn(out, "\n")] = '\0';
}

/* A fresh file under a private name beside `path`; its name in tmp. */
static bool make_fresh(const char *boot_id, char *tmp, size_t cap) {
    snprintf(tmp, cap, "%s.%ld.new", path, (long)getpid());
    unlink(tmp); /* a leftover of a process of the same pid that died here */
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return false;
    ck_shared_header h;
    ck_shared_header_init(&h, boot_id);
    bool ok = ftruncate(fd, (off_t)sizeof(ck_shared_file)) == 0 && pwrite(fd, &h, sizeof h, 0) == (ssize_t)sizeof h;
    close(fd);
    if (!ok)
        unlink(tmp);
    return ok;
}

/* Why the file at `fd` cannot be trusted, or NULL. */
static const char *untrusted(const struct stat *st) {
    if (!S_ISREG(st->st_mode))
        return "it is not a regular file";
    if (st->st_uid != geteuid())
        return "it belongs to another user";
    if ((st->st_mode & 077) != 0)
        return "group or others may use it";
    return NULL;
}

static void refuse(const char *why) {
    ck_log(CK_LOG_WARN, "CACHEKIT_SHARED_STATE: %s cannot be used (%s); each process keeps its own breaker state", path,
           why);
}

/* Replaces the damaged file open at fd (if it is still the one at the
 * path) by a fresh one. */
static void rebuild(int fd, const struct stat *st, const char *boot_id, const char *why) {
    if (flock(fd, LOCK_EX) != 0)
        return;
    struct stat now;
    if (stat(path, &now) == 0 && now.st_ino == st->st_ino && now.st_dev == st->st_dev) {
        char tmp[sizeof path + 32];
        if (make_fresh(boot_id, tmp, sizeof tmp)) {
            if (rename(tmp, path) == 0)
                ck_log(CK_LOG_WARN, "CACHEKIT_SHARED_STATE: %s was replaced (%s)", path, why);
            else
                unlink(tmp);
        }
    }
    flock(fd, LOCK_UN);
}

/* Opens, checks and maps the file; NULL with a diagnostic when it cannot
 * be used. */
static ck_shared_file *open_file(void) {
    char boot_id[40];
    read_boot_id(boot_id, sizeof boot_id);
    for (int attempt = 0; attempt < 4; attempt++) {
        int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0 && errno == ENOENT) {
            char tmp[sizeof path + 32];
            if (!make_fresh(boot_id, tmp, sizeof tmp)) {
                refuse(strerror(errno));
                return NULL;
            }
            if (link(tmp, path) != 0 && errno != EEXIST) {
                int e = errno;
                unlink(tmp);
                refuse(strerror(e));
                return NULL;
            }
            unlink(tmp); /* made, or another process's won: open what is there */
            continue;
        }
        if (fd < 0) {
            refuse(errno == ELOOP ? "it is a symbolic link" : strerror(errno));
            return NULL;
        }
        struct stat st;
        const char *why = fstat(fd, &st) != 0 ? strerror(errno) : untrusted(&st);
        if (why != NULL) {
            close(fd);
            refuse(why);
            return NULL;
        }
        ck_shared_header h;
        memset(&h, 0, sizeof h);
        ssize_t n = pread(fd, &h, sizeof h, 0);
        switch (ck_shared_header_check(&h, n < 0 ? 0 : (size_t)st.st_size, boot_id, &why)) {
        case CK_SHARED_OK: {
            void *m = mmap(NULL, sizeof(ck_shared_file), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            close(fd);
            if (m == MAP_FAILED) {
                refuse(strerror(errno));
                return NULL;
            }
            return m;
        }
        case CK_SHARED_FOREIGN:
            close(fd);
            refuse(why);
            return NULL;
        case CK_SHARED_DAMAGED:
        case CK_SHARED_STALE:
            rebuild(fd, &st, boot_id, why);
            close(fd);
            continue;
        }
    }
    refuse("it kept changing while it was opened");
    return NULL;
}

ck_breaker_words *ck_shared_state_words(const char *endpoint_name) {
    if (!tried) {
        tried = true;
        if (path[0] != '\0')
            mapped = open_file();
    }
    if (mapped == NULL)
        return NULL;
    ck_breaker_words *w = ck_shared_slots_find(mapped->slot, CK_SHARED_SLOTS, endpoint_name);
    if (w == NULL)
        ck_log(CK_LOG_WARN, "CACHEKIT_SHARED_STATE: %s has no free slot for %s; its breaker state is this process's",
               path, endpoint_name);
    return w;
}
