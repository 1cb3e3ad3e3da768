/* The shared state file (see shared_state.h). Opened lazily, at the first
 * endpoint's registration, so a program that never connects never touches
 * it; mapped once and kept for the life of the process (a forked child
 * shares the mapping, which is what it should share).
 *
 * Made without a window: a new file is written in full (every page
 * allocated: a sparse file on a full tmpfs would raise SIGBUS at the first
 * write to a slot) under a private name and link()ed into place, which
 * fails if another process got there first. A damaged one is replaced by
 * rename() under an flock of the damaged file, taken by every process
 * that found it damaged, so only the first replaces it and the others map
 * the replacement; but only a file that is empty or carries cachekit's
 * magic is ever replaced: any other file at the path (a setting that names
 * the wrong file) is refused and left as it is.
 *
 * Endpoints are named as the program wrote them; in the file the name is
 * qualified by the network and mount namespaces of the process (two
 * services with private networks may both talk to "127.0.0.1:6379", and
 * they are two servers), and a Unix socket given by a relative path is
 * not shared at all (it depends on the working directory). */
#include "shared_state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "write_all.h"
#include "log.h"

static char path[256];         /* empty: the default, resolved when first needed */
static bool tried;             /* under the registry lock */
static ck_shared_file *mapped; /* NULL: per-process state */
static char namespaces[64];    /* "net:[...] mnt:[...]" of this process: part of every slot's key */
#define CK_SHARED_KEY_MAX 1100

void ck_shared_state_configure(const char *setting) {
    path[0] = '\0';
    bool on = true;
    if (setting[0] == '/' && strlen(setting) < sizeof path)
        snprintf(path, sizeof path, "%s", setting);
    else if (setting[0] != '\0' && !ck_config_parse_bool(setting, &on))
        ck_log(CK_LOG_WARN,
               "CACHEKIT_SHARED_STATE=%s is neither on, off nor an absolute path (of at most %zu bytes); using on",
               setting, sizeof path - 1);
    tried = !on; /* off: never opened */
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

/* A fresh file under a private name beside `path`, every page allocated;
 * its name in tmp. false with errno set when it cannot be made. */
static bool make_fresh(const char *boot_id, char *tmp, size_t cap) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
        limit.rlim_cur < sizeof(ck_shared_file)) {
        errno = EFBIG; /* writing it would raise SIGXFSZ in the program */
        return false;
    }
    snprintf(tmp, cap, "%s.%ld.new", path, (long)getpid());
    unlink(tmp); /* a leftover of a process of the same pid that died here */
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return false;
    ck_shared_header h;
    ck_shared_header_init(&h, boot_id);
    /* the mode whatever the umask (0277 would make it unusable: 0400); all
     * of it written now, so every page is allocated on any file system,
     * and a full one is an error here, not a SIGBUS at a slot's first write */
    static const ck_shared_slot zero_slots[CK_SHARED_SLOTS];
    int e = fchmod(fd, 0600) != 0 ? errno : 0;
    if (e == 0)
        e = ck_write_all(fd, &h, sizeof h);
    if (e == 0)
        e = ck_write_all(fd, zero_slots, sizeof zero_slots);
    close(fd);
    if (e != 0) {
        unlink(tmp);
        errno = e;
        return false;
    }
    return true;
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
 * path) by a fresh one. The lock is only ever held for that instant by
 * another process doing the same: waited for a little, never for good
 * (this runs inside the program's connect). */
static int rebuild(int fd, const struct stat *st, const char *boot_id, const char *why) {
    int tries = 0;
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK || ++tries > 50)
            return errno == EWOULDBLOCK ? EBUSY : errno;
        usleep(2000);
    }
    int e = 0;
    struct stat now;
    if (stat(path, &now) == 0 && now.st_ino == st->st_ino && now.st_dev == st->st_dev) {
        char tmp[sizeof path + 32];
        if (!make_fresh(boot_id, tmp, sizeof tmp)) {
            e = errno;
        } else if (rename(tmp, path) != 0) {
            e = errno;
            unlink(tmp);
        } else {
            ck_log(CK_LOG_WARN, "CACHEKIT_SHARED_STATE: %s was replaced (%s)", path, why);
        }
    }
    flock(fd, LOCK_UN);
    return e;
}

/* Whether the file has the name the shim gives its files
 * (cachekit-<uid>.state, in /dev/shm by default): without the magic it is
 * then a damaged state file, not some other file a setting named. */
static bool named_as_ours(void) {
    char own[48];
    snprintf(own, sizeof own, "cachekit-%u.state", (unsigned)geteuid());
    const char *base = strrchr(path, '/');
    return base != NULL && strcmp(base + 1, own) == 0;
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
        if (pread(fd, &h, sizeof h, 0) < 0) {
            close(fd);
            refuse(strerror(errno));
            return NULL;
        }
        ck_shared_verdict verdict = ck_shared_header_check(&h, (size_t)st.st_size, boot_id, &why);
        if (verdict == CK_SHARED_ALIEN && named_as_ours())
            verdict = CK_SHARED_DAMAGED; /* the shim's own name: garbage in it is damage */
        switch (verdict) {
        case CK_SHARED_OK: {
            /* a file some other writer left sparse: allocated now, or a
             * full tmpfs would raise SIGBUS at a write to a slot (fallocate
             * itself: glibc's fallback for file systems without it writes
             * into the live words) */
            int e = 0;
            if ((uint64_t)st.st_blocks * 512 < sizeof(ck_shared_file) &&
                fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)sizeof(ck_shared_file)) != 0 && errno != EOPNOTSUPP)
                e = errno;
            void *m =
                e != 0 ? MAP_FAILED : mmap(NULL, sizeof(ck_shared_file), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (m == MAP_FAILED && e == 0)
                e = errno;
            close(fd);
            if (m == MAP_FAILED) {
                refuse(strerror(e));
                return NULL;
            }
            return m;
        }
        case CK_SHARED_ALIEN:
        case CK_SHARED_FOREIGN:
            close(fd);
            refuse(why);
            return NULL;
        case CK_SHARED_DAMAGED:
        case CK_SHARED_STALE: {
            int e = rebuild(fd, &st, boot_id, why);
            close(fd);
            if (e != 0) {
                char cause[160];
                snprintf(cause, sizeof cause, "%s, and it could not be replaced: %s", why, strerror(e));
                refuse(cause);
                return NULL;
            }
            continue;
        }
        }
    }
    refuse("it kept changing while it was opened");
    return NULL;
}

/* "net:[4026531992] mnt:[4026531841]", or what of it /proc tells. */
static void read_namespaces(char *out, size_t cap) {
    char net[32] = "", mnt[32] = "";
    ssize_t n = readlink("/proc/self/ns/net", net, sizeof net - 1);
    net[n > 0 ? n : 0] = '\0';
    n = readlink("/proc/self/ns/mnt", mnt, sizeof mnt - 1);
    mnt[n > 0 ? n : 0] = '\0';
    snprintf(out, cap, "%s %s", net, mnt);
}

ck_breaker_words *ck_shared_state_words(const char *endpoint_name) {
    if (!tried) {
        tried = true;
        /* the default is resolved now, not at load: a daemon that drops
         * its privileges before it connects uses its new user's file */
        if (path[0] == '\0')
            snprintf(path, sizeof path, "/dev/shm/cachekit-%u.state", (unsigned)geteuid());
        mapped = open_file();
        read_namespaces(namespaces, sizeof namespaces);
    }
    if (mapped == NULL)
        return NULL;
    if (strncmp(endpoint_name, "unix:", 5) == 0 && endpoint_name[5] != '/')
        return NULL; /* relative to the working directory, or abstract ("unix:" names them all): another
                        process's may be another server */
    if (namespaces[0] == ' ' || namespaces[strlen(namespaces) - 1] == ' ')
        return NULL; /* /proc does not say which network this process is in */
    char key[CK_SHARED_KEY_MAX];
    snprintf(key, sizeof key, "%s %s", endpoint_name, namespaces);
    ck_breaker_words *w = ck_shared_slots_find(mapped->slot, CK_SHARED_SLOTS, key);
    if (w == NULL)
        ck_log(CK_LOG_WARN, "CACHEKIT_SHARED_STATE: %s has no free slot for %s; its breaker state is this process's",
               path, endpoint_name);
    return w;
}
