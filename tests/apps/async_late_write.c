/* An async program that writes before it reads: it sends a command,
 * freezes the server (SIGSTOP to the pid in -P; with -b, before the
 * command), waits past the shim's reply deadline without running its
 * loop, then sends another command and writes it at once, as an event
 * loop does that found the socket writable before it looks at reads;
 * then thaws the server and reads until both callbacks ran. Without the
 * shim both replies come after the thaw. Under the shim, with -b, the
 * deadline ends the connection meanwhile: the program must get its
 * callbacks (NULL), never a SIGPIPE from the write; without -b the first
 * reply is in by the deadline, unread: the program is slow, not Redis.
 * With -W (hiredis 1.x; exit 77 with 0.14), commands are written with
 * redisAsyncWrite, the handler's public half, instead of
 * redisAsyncHandleWrite.
 * With -t, the server is thawed THAW_MS after the second command (by a
 * thread: a fork would run the shim's fork handlers, which lock more
 * mutexes than ThreadSanitizer follows), so that its reply comes after
 * the program read the first.
 *
 *   async_late_write -p PORT -P REDIS_PIDFILE [-b] [-w WAIT_MS] [-t THAW_MS] [-W]
 *   async_late_write -p PORT -c IDLE_MS [-q BUSY_MS]
 *   async_late_write -p PORT -S WAIT_MS
 *
 * With -c, the program connects, then does other work for IDLE_MS before
 * its loop first runs (the connect is done in the kernel meanwhile), and
 * sends one GET: the shim's connect deadline must not end a connection
 * that is up. With -q, it queues the GET, then works BUSY_MS before its
 * loop writes it (a reply cannot come before: no deadline may run). With -S (PORT where nothing listens), it connects twice
 * (under the shim with a failure threshold of 1 the second is an async
 * placeholder), works for WAIT_MS (the placeholder is ended meanwhile,
 * once a call may go through again), then subscribes and writes.
 *
 * Prints one line per callback ("reply str S" or "reply NULL") and
 * "exit ok" at the end. */
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static redisAsyncContext *ac;
static int callbacks;

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void on_reply(redisAsyncContext *c, void *r, void *privdata) {
    (void)c, (void)privdata;
    redisReply *reply = r;
    if (reply == NULL)
        printf("reply NULL\n");
    else if (reply->type == REDIS_REPLY_STRING)
        printf("reply str %s\n", reply->str);
    else
        printf("reply type %d\n", reply->type);
    callbacks++;
}

static void on_disconnect(const redisAsyncContext *c, int status) {
    (void)c, (void)status;
    ac = NULL; /* hiredis frees it */
}

static void on_connect(const redisAsyncContext *c, int status) {
    (void)c;
    if (status != REDIS_OK)
        ac = NULL; /* hiredis frees it */
}

/* Reads until `want` callbacks ran (3 s at most), then ends. */
static int finish(int want) {
    for (long start = now_ms(); callbacks < want && ac != NULL && now_ms() - start < 3000;) {
        struct pollfd p = {ac->c.fd, POLLIN, 0};
        if (poll(&p, 1, 100) > 0)
            redisAsyncHandleRead(ac);
    }
    if (ac != NULL)
        redisAsyncFree(ac);
    printf("exit ok\n");
    return 0;
}

static pid_t redis;
static int thaw_ms;
static bool write_half; /* -W */

/* Writes what is queued, as the program's loop does. */
static void write_queued(redisAsyncContext *c) {
#if HIREDIS_MAJOR >= 1
    if (write_half) {
        redisAsyncWrite(c);
        return;
    }
#endif
    redisAsyncHandleWrite(c);
}

static void *thaw_later(void *unused) {
    (void)unused;
    usleep((useconds_t)thaw_ms * 1000);
    kill(redis, SIGCONT);
    return NULL;
}

static pid_t read_pid(const char *path) {
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f == NULL || fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    if (f != NULL)
        fclose(f);
    return (pid_t)pid;
}

int main(int argc, char **argv) {
    int port = 6379, opt, wait_ms = 600, stop_before = 0, idle_ms = -1, subscribe_ms = -1, busy_ms = 0;
    const char *pidfile = NULL;
    while ((opt = getopt(argc, argv, "bc:p:P:q:S:t:w:W")) != -1) {
        if (opt == 'S')
            subscribe_ms = atoi(optarg);
        else if (opt == 'c')
            idle_ms = atoi(optarg);
        else if (opt == 'b')
            stop_before = 1;
        else if (opt == 'p')
            port = atoi(optarg);
        else if (opt == 'P')
            pidfile = optarg;
        else if (opt == 'w')
            wait_ms = atoi(optarg);
        else if (opt == 't')
            thaw_ms = atoi(optarg);
        else if (opt == 'q')
            busy_ms = atoi(optarg);
        else if (opt == 'W')
            write_half = true;
    }
    redis = pidfile != NULL ? read_pid(pidfile) : 0;
    if (redis <= 0 && idle_ms < 0 && subscribe_ms < 0) {
        fprintf(stderr, "usage: %s -p PORT -P REDIS_PIDFILE [-b] [-w WAIT_MS] [-t THAW_MS]\n", argv[0]);
        return 2;
    }
    if (write_half && HIREDIS_MAJOR < 1)
        return 77; /* (no redisAsyncWrite in 0.14) */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (subscribe_ms >= 0) {
        for (int round = 0; round < 2; round++) { /* the first one fails (and opens the circuit) */
            ac = redisAsyncConnect("127.0.0.1", port);
            if (ac == NULL)
                return 1;
            redisAsyncSetDisconnectCallback(ac, on_disconnect);
            redisAsyncSetConnectCallback(ac, on_connect);
            if (round == 0) {
                struct pollfd p = {ac->c.fd, POLLOUT, 0};
                if (poll(&p, 1, 1000) > 0)
                    redisAsyncHandleWrite(ac); /* refused: hiredis frees it */
                if (ac != NULL)
                    redisAsyncFree(ac);
            }
        }
        usleep((useconds_t)subscribe_ms * 1000); /* other work */
        if (ac != NULL) {
            redisAsyncCommand(ac, on_reply, NULL, "SUBSCRIBE ch");
            struct pollfd p = {ac->c.fd, POLLIN | POLLOUT, 0};
            for (long start = now_ms(); ac != NULL && now_ms() - start < 1000;)
                if (poll(&p, 1, 100) > 0) {
                    if (p.revents & POLLOUT)
                        redisAsyncHandleWrite(ac);
                    if (ac != NULL && (p.revents & (POLLIN | POLLHUP)))
                        redisAsyncHandleRead(ac);
                }
        }
        if (ac != NULL)
            redisAsyncFree(ac);
        printf("exit ok\n");
        return 0;
    }
    ac = redisAsyncConnect("127.0.0.1", port);
    if (ac == NULL || ac->err)
        return 1;
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (idle_ms >= 0)
        usleep((useconds_t)idle_ms * 1000); /* other start-up work */
    for (long start = now_ms(); ac != NULL && !(ac->c.flags & REDIS_CONNECTED) && now_ms() - start < 2000;) {
        struct pollfd p = {ac->c.fd, POLLOUT, 0};
        if (poll(&p, 1, 100) > 0)
            redisAsyncHandleWrite(ac);
    }
    if (ac == NULL || !(ac->c.flags & REDIS_CONNECTED))
        return 1;
    if (idle_ms >= 0) {
        redisAsyncCommand(ac, on_reply, NULL, "GET k");
        usleep((useconds_t)busy_ms * 1000); /* (queued, not written yet) */
        redisAsyncHandleWrite(ac);
        return finish(1);
    }
    if (stop_before)
        kill(redis, SIGSTOP);
    redisAsyncCommand(ac, on_reply, NULL, "GET k");
    write_queued(ac);
    if (!stop_before) {
        usleep(50000); /* (its reply comes in meanwhile) */
        kill(redis, SIGSTOP);
    }
    usleep((useconds_t)wait_ms * 1000);
    if (ac != NULL) {
        redisAsyncCommand(ac, on_reply, NULL, "GET k");
        write_queued(ac); /* writes before it reads */
    } else {
        callbacks++; /* (ended already: nothing to send the second on) */
    }
    pthread_t thawer;
    bool thawing = thaw_ms > 0 && pthread_create(&thawer, NULL, thaw_later, NULL) == 0;
    if (!thawing)
        kill(redis, SIGCONT);
    int rc = finish(2);
    if (thawing)
        pthread_join(thawer, NULL);
    return rc;
}
