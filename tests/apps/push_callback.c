/* A hiredis 1.x program whose RESP3 push callback ends with a hiredis call
 * (compiled as a tail call at -O2): client tracking on c1 sends a push,
 * whose callback pipelines "GET keyX" onto c2 between the program's own
 * "GET keyA" and "GET keyB". Then STOP_CMD stops Redis and the program
 * reads keyB four times: it must never get keyX's value.
 *
 *   push_callback PORT STOP_CMD
 *
 * stdout: one line per reply ("WHAT -> value", "-> nil", "-> NULL (err)").
 * With hiredis 0.14 (no push callbacks): "no push callbacks" and exit 0. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#if HIREDIS_MAJOR >= 1
static redisContext *c1, *c2;

__attribute__((noinline)) static void on_push(void *privdata, void *reply) {
    (void)privdata;
    freeReplyObject(reply);
    redisAppendCommand(c2, "GET keyX"); /* the last statement: a tail call */
}

static void show(const char *what, redisReply *r, redisContext *c) {
    if (r == NULL) {
        printf("%s -> NULL (%s)\n", what, c->errstr);
        return;
    }
    printf("%s -> %s\n", what, r->type == REDIS_REPLY_STRING ? r->str : r->type == REDIS_REPLY_NIL ? "nil" : "other");
    freeReplyObject(r);
}

int main(int argc, char **argv) {
    if (argc < 3)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    int port = atoi(argv[1]);
    c1 = redisConnect("127.0.0.1", port);
    c2 = redisConnect("127.0.0.1", port);
    if (c1 == NULL || c2 == NULL || c1->err || c2->err)
        return 1;
    redisSetPushCallback(c1, on_push);
    freeReplyObject(redisCommand(c1, "HELLO 3"));
    freeReplyObject(redisCommand(c1, "CLIENT TRACKING on"));
    freeReplyObject(redisCommand(c1, "GET tk"));
    freeReplyObject(redisCommand(c2, "SET tk x")); /* invalidates tk for c1: a push */
    redisAppendCommand(c2, "GET keyA");
    freeReplyObject(redisCommand(c1, "PING")); /* the push arrives: the callback appends GET keyX to c2 */
    redisAppendCommand(c2, "GET keyB");
    for (int i = 0; i < 3; i++) {
        void *r = NULL;
        if (redisGetReply(c2, &r) != REDIS_OK)
            r = NULL;
        show("pipelined", r, c2);
    }
    if (system(argv[2]) != 0)
        return 1;
    for (int i = 0; i < 4; i++)
        show("GET keyB", redisCommand(c2, "GET keyB"), c2);
    return 0;
}
#else
int main(void) {
    puts("no push callbacks");
    return 0;
}
#endif
