/* A multi-threaded hiredis program: each thread owns a context and reads
 * key k in a loop, reconnecting when hiredis reports an error (as most
 * daemons do), until the file given by -f exists. Then each thread prints
 * what it saw: "thread N values=V nil=I errors=E connect_errors=C other=O
 * last=KIND" (errors: NULL replies; connect_errors: contexts that came back
 * from redisConnectWithTimeout with an error; other: replies that were
 * neither the value "v", nil nor an error).
 * With -w, odd threads write k ("SET k v") instead of reading it.
 * The threads share nothing but the process, and so the shim's breaker. */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *host = "127.0.0.1";
static int port = 6379;
static const char *stop_file = "stop";
static int writers;

typedef struct {
    int id;
    long values, nils, errors, connect_errors, other;
    const char *last;
} thread_result;

static void *reader(void *arg) {
    thread_result *res = arg;
    struct timeval timeout = {1, 0};
    struct timespec pause = {0, 1000000};
    redisContext *c = NULL;
    res->last = "none";
    while (access(stop_file, F_OK) != 0) {
        if (c == NULL || c->err) {
            if (c != NULL)
                redisFree(c);
            c = redisConnectWithTimeout(host, port, timeout);
            if (c == NULL || c->err) {
                res->connect_errors++;
                res->last = "connect error";
                nanosleep(&pause, NULL);
                continue;
            }
        }
        int writing = writers && res->id % 2 == 1;
        redisReply *r = writing ? redisCommand(c, "SET k v") : redisCommand(c, "GET k");
        if (writing) {
            if (r == NULL)
                res->errors++;
            else if (r->type != REDIS_REPLY_STATUS && r->type != REDIS_REPLY_NIL)
                res->other++;
            else
                res->values++;
            res->last = r == NULL ? "error" : "value";
        } else if (r == NULL) {
            res->errors++;
            res->last = "error";
        } else if (r->type == REDIS_REPLY_NIL) {
            res->nils++;
            res->last = "nil";
        } else if (r->type == REDIS_REPLY_STRING && strcmp(r->str, "v") == 0) {
            res->values++;
            res->last = "value";
        } else {
            res->other++;
            res->last = "other";
        }
        freeReplyObject(r);
        nanosleep(&pause, NULL);
    }
    if (c != NULL)
        redisFree(c);
    return NULL;
}

int main(int argc, char **argv) {
    int threads = 4, opt;
    while ((opt = getopt(argc, argv, "h:p:t:f:w")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'f': stop_file = optarg; break;
        case 'w': writers = 1; break;
        default: fprintf(stderr, "usage: %s [-h host] [-p port] [-t threads] [-f stop-file]\n", argv[0]); return 2;
        }
    }
    if (threads < 1 || threads > 64)
        threads = 4;
    pthread_t tids[64];
    thread_result results[64];
    memset(results, 0, sizeof results);
    for (int i = 0; i < threads; i++) {
        results[i].id = i;
        pthread_create(&tids[i], NULL, reader, &results[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(tids[i], NULL);
        printf("thread %d values=%ld nil=%ld errors=%ld connect_errors=%ld other=%ld last=%s\n", i,
               results[i].values, results[i].nils, results[i].errors, results[i].connect_errors, results[i].other,
               results[i].last);
    }
    return 0;
}
