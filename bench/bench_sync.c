/* Calls per second of a GET/SET loop through the hiredis sync API, the way
 * a program would issue them. scripts/bench runs it with and without the
 * shim against the same redis-server, alternating, and takes medians.
 *
 *   bench_sync -p PORT -m single|pipeline|open -n CALLS
 *
 * single:   redisCommand, alternating "SET k v" and "GET k"
 * pipeline: batches of 16 redisAppendCommand, then 16 redisGetReply
 * open:     redisCommand "GET k" on a context whose circuit is open (run it
 *           under the shim against a port where nothing listens)
 * stale:    "GET k" answered from the L1 while the circuit is open: sets k
 *           to a 32-byte value and reads it once, kills the server whose
 *           pid file -P names, then loops
 *           (run it under the shim with a failure threshold of 1)
 * fill:     GET of key:0 .. key:CALLS-1 (pipelined by 16), then prints the
 *           growth of the resident set instead: "fill <keys> <kB>"
 * Prints: "<mode> <calls> <seconds> <calls/s> <ns/call>". */
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH 16

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atol(line + 6);
    if (f != NULL)
        fclose(f);
    return kb;
}

static int consume(redisReply *r) {
    int ok = r != NULL && r->type != REDIS_REPLY_ERROR;
    freeReplyObject(r);
    return ok;
}

int main(int argc, char **argv) {
    int port = 6379, opt;
    long calls = 100000;
    const char *mode = "single", *pidfile = NULL;
    while ((opt = getopt(argc, argv, "p:m:n:P:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'm': mode = optarg; break;
        case 'n': calls = atol(optarg); break;
        case 'P': pidfile = optarg; break;
        default: fprintf(stderr, "usage: %s -p PORT -m single|pipeline|open -n CALLS\n", argv[0]); return 2;
        }
    }
    redisContext *c = redisConnect("127.0.0.1", port);
    if (strcmp(mode, "open") == 0) {
        /* the connect above failed and opened the circuit (threshold 1);
         * this one gets a placeholder whose calls never reach the network */
        redisFree(c);
        c = redisConnect("127.0.0.1", port);
    }
    if (c == NULL || (c->err && strcmp(mode, "open") != 0)) { /* the open mode connects to nothing */
        fprintf(stderr, "connect: %s\n", c ? c->errstr : "no context");
        return 1;
    }
    if (strcmp(mode, "fill") == 0) {
        long before = rss_kb();
        char key[32];
        for (long done = 0; done < calls; done += BATCH) {
            for (int i = 0; i < BATCH; i++) {
                snprintf(key, sizeof key, "key:%ld", done + i);
                redisAppendCommand(c, "GET %s", key);
            }
            for (int i = 0; i < BATCH; i++) {
                void *r = NULL;
                if (redisGetReply(c, &r) == REDIS_OK)
                    freeReplyObject(r);
            }
        }
        printf("fill %ld %ld\n", calls, rss_kb() - before);
        redisFree(c);
        return 0;
    }
    if (strcmp(mode, "stale") == 0) {
        FILE *f = pidfile != NULL ? fopen(pidfile, "r") : NULL;
        long pid = 0;
        if (f == NULL || fscanf(f, "%ld", &pid) != 1 || pid <= 0) {
            fprintf(stderr, "stale: needs -P pidfile of the redis-server to kill\n");
            return 1;
        }
        fclose(f);
        /* a 32-byte value: the size the open path's target is set for */
        freeReplyObject(redisCommand(c, "SET k %s", "0123456789abcdef0123456789abcdef"));
        freeReplyObject(redisCommand(c, "GET k"));
        kill((pid_t)pid, SIGKILL);
        usleep(100000);
        freeReplyObject(redisCommand(c, "GET k")); /* fails: the circuit opens (threshold 1) */
    }
    long failures = 0;
    double start = now_s();
    if (strcmp(mode, "pipeline") == 0) {
        for (long done = 0; done < calls; done += BATCH) {
            for (int i = 0; i < BATCH; i++)
                redisAppendCommand(c, i % 2 ? "GET k" : "SET k v");
            for (int i = 0; i < BATCH; i++) {
                void *r = NULL;
                if (redisGetReply(c, &r) != REDIS_OK)
                    r = NULL;
                failures += !consume(r);
            }
        }
    } else {
        /* (the mode compared once: the loop is what callgrind counts) */
        bool writes_too = strcmp(mode, "single") == 0;
        for (long i = 0; i < calls; i++)
            failures += !consume(redisCommand(c, (i % 2 || !writes_too) ? "GET k" : "SET k v"));
    }
    double seconds = now_s() - start;
    redisFree(c);
    if (failures > 0 && strcmp(mode, "open") != 0 && strcmp(mode, "stale") != 0) {
        fprintf(stderr, "%ld calls failed\n", failures);
        return 1;
    }
    printf("%s %ld %.6f %.0f %.1f\n", mode, calls, seconds, (double)calls / seconds, seconds * 1e9 / (double)calls);
    return 0;
}
