/* Async benchmark program: the same loop runs with and without the shim
 * (scripts/bench-async), so the two are compared in one run.
 *
 *   bench_async -p PORT -m throughput -n CALLS [-w WINDOW]
 *       GET k through libevent, WINDOW calls in flight, each callback
 *       sending the next: prints "throughput CALLS calls S s R calls/s".
 *   bench_async -p PORT -m open -n CALLS
 *       PORT has no server and the circuit opens at the first refused
 *       connect: the next connect is a placeholder, and each GET is sent,
 *       then the loop turned until its callback: prints "open CALLS
 *       callbacks NS ns/callback".
 *   bench_async -p PORT -m stale -P PIDFILE -n CALLS
 *       the same, after GET k was read from the live server, which the
 *       program then kills: each callback gets the last good value.
 */
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct event_base *base;
static redisAsyncContext *ac;
static long calls, sent, answered;
static int failed, disconnected;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_disconnect(const redisAsyncContext *c, int status) {
    (void)c, (void)status;
    disconnected = 1;
    ac = NULL;
}

static int connect_status; /* 0 pending, 1 connected, -1 failed (hiredis frees the context) */
static void on_connect(const redisAsyncContext *c, int status) {
    (void)c;
    connect_status = status == REDIS_OK ? 1 : -1;
    if (status != REDIS_OK)
        ac = NULL;
}

static redisAsyncContext *connect_to(int port) {
    redisAsyncContext *c = redisAsyncConnect("127.0.0.1", port);
    if (c == NULL)
        return NULL;
    if (c->err) {
        redisAsyncFree(c);
        return NULL;
    }
    redisLibeventAttach(c, base);
    redisAsyncSetConnectCallback(c, on_connect);
    redisAsyncSetDisconnectCallback(c, on_disconnect);
    disconnected = 0;
    connect_status = 0;
    return c;
}

static void on_get(redisAsyncContext *c, void *r, void *privdata) {
    (void)privdata;
    answered++;
    if (r == NULL || ((redisReply *)r)->type == REDIS_REPLY_ERROR)
        failed = 1;
    if (sent < calls && c != NULL) {
        redisAsyncCommand(c, on_get, NULL, "GET k");
        sent++;
    }
}

static int throughput(int port, int window) {
    ac = connect_to(port);
    if (ac == NULL)
        return fprintf(stderr, "bench_async: cannot connect\n"), 1;
    redisAsyncCommand(ac, NULL, NULL, "SET k %s", "value-of-k");
    double start = now_s();
    for (int i = 0; i < window && sent < calls; i++, sent++)
        redisAsyncCommand(ac, on_get, NULL, "GET k");
    while (answered < calls && !failed && ac != NULL)
        event_base_loop(base, EVLOOP_ONCE);
    double elapsed = now_s() - start;
    if (failed || answered < calls)
        return fprintf(stderr, "bench_async: calls failed\n"), 1;
    printf("throughput %ld calls %.3f s %.0f calls/s\n", calls, elapsed, (double)calls / elapsed);
    return 0;
}

/* The reply a callback must get while the circuit is open: the stale
 * value when expect is set, else nil. hiredis frees it after the callback. */
static const char *expect;
static int unexpected;

static void check(redisAsyncContext *c, void *r, void *privdata) {
    (void)c, (void)privdata;
    redisReply *reply = r;
    int ok = reply != NULL && (expect == NULL ? reply->type == REDIS_REPLY_NIL
                                              : reply->type == REDIS_REPLY_STRING && strcmp(reply->str, expect) == 0);
    unexpected |= !ok;
    answered++;
}

static void done(redisAsyncContext *c, void *r, void *privdata) {
    (void)c, (void)r, (void)privdata;
    answered++;
}

/* Connects until a connect succeeds: with no server, once the circuit
 * opened, the shim's placeholder. */
static int connect_while_open(int port) {
    for (int i = 0; i < 10; i++) {
        ac = connect_to(port);
        while (ac != NULL && connect_status == 0)
            event_base_loop(base, EVLOOP_ONCE);
        if (ac != NULL && connect_status == 1)
            return 1;
    }
    return 0;
}

static int open_circuit(int port, const char *pidfile) {
    if (pidfile != NULL) { /* read k once from the live server, then kill it */
        ac = connect_to(port);
        expect = "value-of-k";
        /* the GET after the SET's reply: a read sent while a write to its
         * key is in flight is not kept by the L1 */
        redisAsyncCommand(ac, done, NULL, "SET k %s", "value-of-k");
        while (answered < 1)
            event_base_loop(base, EVLOOP_ONCE);
        redisAsyncCommand(ac, check, NULL, "GET k");
        while (answered < 2)
            event_base_loop(base, EVLOOP_ONCE);
        FILE *f = fopen(pidfile, "r");
        long pid = 0;
        if (f == NULL || fscanf(f, "%ld", &pid) != 1 || kill((pid_t)pid, SIGKILL) != 0)
            return fprintf(stderr, "bench_async: cannot kill the server\n"), 1;
        fclose(f);
        while (!disconnected)
            event_base_loop(base, EVLOOP_ONCE);
    }
    if (!connect_while_open(port))
        return fprintf(stderr, "bench_async: no placeholder (is the circuit open?)\n"), 1;
    answered = 0;
    double start = now_s();
    for (long i = 0; i < calls && !unexpected && ac != NULL; i++) {
        redisAsyncCommand(ac, check, NULL, "GET k");
        while (answered <= i && ac != NULL)
            event_base_loop(base, EVLOOP_ONCE);
    }
    if (unexpected || answered < calls)
        return fprintf(stderr, "bench_async: unexpected reply while the circuit was open\n"), 1;
    double elapsed = now_s() - start;
    printf("open %ld callbacks %.1f ns/callback\n", calls, elapsed * 1e9 / (double)calls);
    return 0;
}

int main(int argc, char **argv) {
    int port = 6379, window = 100, opt;
    const char *mode = "throughput", *pidfile = NULL;
    calls = 100000;
    while ((opt = getopt(argc, argv, "p:m:n:w:P:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'm': mode = optarg; break;
        case 'n': calls = atol(optarg); break;
        case 'w': window = atoi(optarg); break;
        case 'P': pidfile = optarg; break;
        default: fprintf(stderr, "usage: bench_async -p PORT -m throughput|open|stale -n CALLS [-w WINDOW] [-P PIDFILE]\n"); return 2;
        }
    }
    base = event_base_new();
    int rc;
    if (strcmp(mode, "throughput") == 0)
        rc = throughput(port, window);
    else
        rc = open_circuit(port, strcmp(mode, "stale") == 0 ? pidfile : NULL);
    if (ac != NULL)
        redisAsyncFree(ac);
    event_base_free(base);
    return rc;
}
