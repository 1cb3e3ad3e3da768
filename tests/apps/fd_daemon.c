/* A daemon-style hiredis program for the tests of descriptors the shim
 * must not touch: it connects, forks, and the child either closes every
 * descriptor from 3 up and opens files of its own on those numbers before
 * it connects (as varnish's worker and many daemons do), or keeps what it
 * inherited (both processes then share the shim's metrics port).
 *
 *   fd_daemon -p PORT -d DIR -m close|share|same [-t MS]
 *
 * -m same: no fork; the process itself, after its first connect, closes
 * fds 3-1023 and opens its own files on them (the checks as the child's).
 *
 * -a DEADPORT: before the fork, a connect to a port nobody listens on (under
 * the shim with a threshold of 1 it opens the circuit), then an async
 * connect there: "async socket pair" (the shim's placeholder), "async
 * connecting" or "async failed" (plain hiredis); the child frees the
 * context it inherited after it opened its own files, and makes an async
 * connect to PORT (which starts the shim's deadline thread in it).
 *
 * -s: the program's own descriptors are eight socket pairs on 3-18 instead
 * of files on 3-8, written after the wait (a socket shut down meanwhile
 * fails the write); each end must read exactly the line its peer wrote ("pairs
 * intact", or "pair fd N: ..."). -k: the child keeps the inherited async
 * context (never frees it). -w FILE: wait (5 s at most) for FILE to exist
 * before closing the descriptors (a test connects a client meanwhile).
 *
 * The child, after connecting and a few commands, writes a line to each of
 * its own files (fds 3-8), measures its CPU time over -t ms (default 1000)
 * of sleep, and checks its files hold only its line. stdout: "fdN ok" or
 * "fdN failed: ERROR", "files intact" or "file N: unexpected contents",
 * "cpu_ms N", "child exit N". Exit status 0 when every check passed. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char line[] = "the child's own line\n";

/* the program's own files take fds 3 to 8 (socket pairs 3 to 18, -s):
 * whatever numbers the shim had */
#define LAST_OWN_FD (use_pairs ? 18 : 8)

static int talk(int port) {
    redisContext *c = redisConnect("127.0.0.1", port);
    if (c == NULL || c->err) {
        printf("connect failed: %s\n", c != NULL ? c->errstr : "no context");
        return 1;
    }
    for (int i = 0; i < 5; i++) {
        redisReply *r = redisCommand(c, "INCR fd_daemon");
        if (r == NULL) {
            printf("command failed: %s\n", c->errstr);
            redisFree(c);
            return 1;
        }
        freeReplyObject(r);
    }
    redisFree(c);
    return 0;
}

static double cpu_ms(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

static redisAsyncContext *inherited; /* -a */
static int use_pairs;                /* -s */
static int keep_inherited;           /* -k */
static const char *go_file;          /* -w */

static void wait_for_go(void) {
    for (int i = 0; go_file != NULL && i < 500 && access(go_file, F_OK) != 0; i++)
        usleep(10000);
}

/* The program's own descriptors on 3-8, whatever numbers the shim had. */
static int open_own(const char *dir) {
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    for (int n = 3; n <= LAST_OWN_FD; n += use_pairs ? 2 : 1) {
        int sv[2] = {-1, -1};
        if (use_pairs) {
            if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || sv[0] != n || sv[1] != n + 1) {
                printf("could not make own socket pair %d (got %d/%d)\n", n, sv[0], sv[1]);
                return 1;
            }
            continue;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/own%d", dir, n);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (fd != n) {
            printf("could not open own file %d (got %d)\n", n, fd);
            return 1;
        }
    }
    return 0;
}

/* The program's line into each of its descriptors. */
static int write_own(void) {
    int failures = 0;
    for (int fd = 3; fd <= LAST_OWN_FD; fd++) {
        if (write(fd, line, sizeof line - 1) == (ssize_t)(sizeof line - 1)) {
            printf("fd%d ok\n", fd);
        } else {
            printf("fd%d failed: %s\n", fd, strerror(errno));
            failures++;
        }
    }
    return failures;
}

/* Each end of each pair holds exactly the line its peer wrote. */
static int check_pairs(void) {
    int intact = 1;
    for (int fd = 3; fd <= LAST_OWN_FD; fd++) {
        char got[256];
        ssize_t n = recv(fd, got, sizeof got, MSG_DONTWAIT);
        if (n != (ssize_t)(sizeof line - 1) || memcmp(got, line, (size_t)n) != 0) {
            printf("pair fd %d: read %zd bytes%s%s\n", fd, n, n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
            intact = 0;
        }
    }
    if (intact)
        printf("pairs intact\n");
    return intact ? 0 : 1;
}

static void make_async(int dead_port) {
    redisContext *refused = redisConnect("127.0.0.1", dead_port); /* under the shim (threshold 1): opens the circuit */
    if (refused != NULL)
        redisFree(refused);
    inherited = redisAsyncConnect("127.0.0.1", dead_port);
    int domain = 0;
    socklen_t len = sizeof domain;
    if (inherited == NULL || inherited->err != 0 ||
        getsockopt(inherited->c.fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0)
        printf("async failed\n");
    else
        printf("async %s\n", domain == AF_UNIX ? "socket pair" : "connecting");
}

static int child(int port, const char *dir, int close_all, int wait_ms) {
    int failures = 0;
    if (close_all) {
        wait_for_go();
        if (open_own(dir) != 0)
            return 1;
    }
    if (inherited != NULL && !keep_inherited)
        redisAsyncFree(inherited);
    failures += talk(port);
    redisAsyncContext *live = inherited != NULL ? redisAsyncConnect("127.0.0.1", port) : NULL;
    if (close_all && !use_pairs)
        failures += write_own();
    double before = cpu_ms();
    struct timespec pause = {wait_ms / 1000, (long)(wait_ms % 1000) * 1000000};
    nanosleep(&pause, NULL);
    printf("cpu_ms %.0f\n", cpu_ms() - before);
    if (live != NULL)
        redisAsyncFree(live);
    if (close_all && use_pairs) {
        /* written after the wait (a socket shut down meanwhile fails),
         * read 200 ms later (what another thread takes is missing) */
        failures += write_own();
        struct timespec settle = {0, 200 * 1000000L};
        nanosleep(&settle, NULL);
        failures += check_pairs();
    } else if (close_all) {
        int intact = 1;
        for (int n = 3; n <= LAST_OWN_FD; n++) {
            char path[4096], got[256];
            snprintf(path, sizeof path, "%s/own%d", dir, n);
            FILE *f = fopen(path, "r");
            size_t len = f != NULL ? fread(got, 1, sizeof got, f) : 0;
            if (f != NULL)
                fclose(f);
            if (len != sizeof line - 1 || memcmp(got, line, len) != 0) {
                printf("file %d: unexpected contents (%zu bytes)\n", n, len);
                intact = 0;
                failures++;
            }
        }
        if (intact)
            printf("files intact\n");
    }
    return failures == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    int port = 6379, opt, close_all = 1, same = 0, wait_ms = 1000, dead_port = 0;
    const char *dir = ".";
    while ((opt = getopt(argc, argv, "p:d:m:t:a:skw:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'd': dir = optarg; break;
        case 'm':
            close_all = strcmp(optarg, "share") != 0;
            same = strcmp(optarg, "same") == 0;
            break;
        case 't': wait_ms = atoi(optarg); break;
        case 'a': dead_port = atoi(optarg); break;
        case 's': use_pairs = 1; break;
        case 'k': keep_inherited = 1; break;
        case 'w': go_file = optarg; break;
        default: fprintf(stderr, "usage: %s -p PORT -d DIR -m close|share|same [-t MS] [-a DEADPORT] [-s] [-k] [-w FILE]\n", argv[0]); return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* a write to a socket shut down fails, reported */
    if (talk(port) != 0)
        return 1;
    if (dead_port != 0) {
        make_async(dead_port);
        /* the placeholder started the shim's deadline thread; under ASan a
         * thread's start allocates in the sanitizer's runtime, whose
         * allocator is not fork-safe: a fork in that instant would leave
         * the child's allocator locked (glibc's malloc is fork-safe) */
        struct timespec settle = {0, 200 * 1000000L};
        nanosleep(&settle, NULL);
    }
    if (same)
        return child(port, dir, 1, wait_ms);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0)
        exit(child(port, dir, close_all, wait_ms) == 0 ? 0 : 1); /* exit: the shim stops its exporter */
    if (!close_all) { /* both processes stay up, sharing what they inherited */
        struct timespec pause = {wait_ms / 1000, (long)(wait_ms % 1000) * 1000000};
        nanosleep(&pause, NULL);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("child exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
