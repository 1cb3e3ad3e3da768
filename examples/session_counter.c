/* A small "legacy" hiredis program, written the way many daemons are: it
 * keeps a Redis context, reads a setting and bumps a counter every tick,
 * and reconnects when hiredis reports an error. It knows nothing of the
 * cachekit shim; scripts/demo runs it under LD_PRELOAD through an outage.
 *
 *   session_counter [-h host] [-p port] [-n ticks] [-i interval_ms]
 */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static redisContext *connect_to(const char *host, int port) {
    struct timeval timeout = {1, 0};
    redisContext *c = redisConnectWithTimeout(host, port, timeout);
    if (c == NULL || c->err) {
        printf("  connect failed: %s\n", c ? c->errstr : "out of memory");
    }
    return c;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void describe(const char *what, redisReply *r, char *out, size_t len) {
    if (r == NULL)
        snprintf(out, len, "%s=ERROR", what);
    else if (r->type == REDIS_REPLY_NIL)
        snprintf(out, len, "%s=(nil)", what);
    else if (r->type == REDIS_REPLY_STRING)
        snprintf(out, len, "%s=\"%s\"", what, r->str);
    else if (r->type == REDIS_REPLY_INTEGER)
        snprintf(out, len, "%s=%lld", what, r->integer);
    else if (r->type == REDIS_REPLY_ERROR)
        snprintf(out, len, "%s=error(%s)", what, r->str);
    else
        snprintf(out, len, "%s=type%d", what, r->type);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = 6379, ticks = 40, interval_ms = 250, opt;
    while ((opt = getopt(argc, argv, "h:p:n:i:")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'n': ticks = atoi(optarg); break;
        case 'i': interval_ms = atoi(optarg); break;
        default: fprintf(stderr, "usage: %s [-h host] [-p port] [-n ticks] [-i interval_ms]\n", argv[0]); return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    redisContext *c = connect_to(host, port);
    for (int tick = 1; tick <= ticks; tick++) {
        double start = now_ms();
        if (c == NULL || c->err) {
            if (c != NULL)
                redisFree(c);
            c = connect_to(host, port);
        }
        char greeting[128] = "greeting=ERROR", hits[64] = "hits=ERROR";
        if (c != NULL && !c->err) {
            redisReply *r = redisCommand(c, "GET greeting");
            describe("greeting", r, greeting, sizeof greeting);
            freeReplyObject(r);
            r = redisCommand(c, "INCR hits");
            describe("hits", r, hits, sizeof hits);
            freeReplyObject(r);
        }
        printf("tick %2d  %-26s %-14s (%.1f ms)\n", tick, greeting, hits, now_ms() - start);
        usleep((useconds_t)interval_ms * 1000);
    }
    if (c != NULL)
        redisFree(c);
    return 0;
}
