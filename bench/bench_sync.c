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
 * Prints: "<mode> <calls> <seconds> <calls/s> <ns/call>". */
#include <hiredis/hiredis.h>
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

static int consume(redisReply *r) {
    int ok = r != NULL && r->type != REDIS_REPLY_ERROR;
    freeReplyObject(r);
    return ok;
}

int main(int argc, char **argv) {
    int port = 6379, opt;
    long calls = 100000;
    const char *mode = "single";
    while ((opt = getopt(argc, argv, "p:m:n:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'm': mode = optarg; break;
        case 'n': calls = atol(optarg); break;
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
    if (c == NULL || (c->err && strcmp(mode, "open") != 0)) {
        fprintf(stderr, "connect: %s\n", c ? c->errstr : "no context");
        return 1;
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
        for (long i = 0; i < calls; i++)
            failures += !consume(redisCommand(c, (i % 2 || strcmp(mode, "open") == 0) ? "GET k" : "SET k v"));
    }
    double seconds = now_s() - start;
    redisFree(c);
    if (failures > 0 && strcmp(mode, "open") != 0) {
        fprintf(stderr, "%ld calls failed\n", failures);
        return 1;
    }
    printf("%s %ld %.6f %.0f %.1f\n", mode, calls, seconds, (double)calls / seconds, seconds * 1e9 / (double)calls);
    return 0;
}
