/* An event-loop hiredis program, written the way webdis (libevent) and
 * Redis::Fast (its own poll loop) use the async API, for the integration
 * tests. Every tick it sends three commands (GET of a key it reads every
 * time, GET of a key it never read before, INCR of a counter) and prints
 * one line per callback; it reconnects on the next tick after a disconnect,
 * as those programs do. It checks what the tests cannot see from outside:
 * that each callback fires exactly once and in order, and how late the
 * loop's ticks were.
 *
 *   async_client -p PORT [-h HOST] [-l libevent|poll] [-i TICK_MS]
 *                [-k KEY] [-F] [-w MS] -f STOPFILE
 *
 * -F (hiredis 1.x): REDIS_NO_AUTO_FREE_REPLIES on every context, and the
 * callback frees each reply itself (exit 77 with 0.14, which lacks it).
 * -w MS: each callback works MS milliseconds (a busy program: the replies
 * behind it wait in hiredis, not in Redis).
 *
 * stdout: "connect ok|err ...", "disconnect ok|err", "reply SEQ CMD DESC
 * ms=N" with DESC nil, str:V, int:N, status:S, err:E or NULL (no reply:
 * the connection failed) and N the milliseconds since it was sent,
 * "refused SEQ" when hiredis would not take a command, and at the end "summary issued=N answered=N refused=N duplicates=N
 * out_of_order=N max_late_ms=N".
 */
#include <errno.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SEQ 100000

static const char *host = "127.0.0.1";
static int port = 6379;
static const char *key = "k";
static const char *stop_file;
static int tick_ms = 50;
static int use_poll;
static int free_replies; /* -F */
static int work_ms;      /* -w */

static redisAsyncContext *ac;
static int connected;
static long issued, answered, refused, duplicates, out_of_order, last_answered = -1;
static long max_late_ms;
static unsigned char seen[MAX_SEQ];
static long sent_at[MAX_SEQ];
static struct event_base *base;

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void describe(const redisReply *r, char *out, size_t cap) {
    if (r == NULL)
        snprintf(out, cap, "NULL");
    else if (r->type == REDIS_REPLY_NIL)
        snprintf(out, cap, "nil");
    else if (r->type == REDIS_REPLY_STRING)
        snprintf(out, cap, "str:%.*s", (int)r->len, r->str);
    else if (r->type == REDIS_REPLY_INTEGER)
        snprintf(out, cap, "int:%lld", r->integer);
    else if (r->type == REDIS_REPLY_STATUS)
        snprintf(out, cap, "status:%s", r->str);
    else if (r->type == REDIS_REPLY_ERROR)
        snprintf(out, cap, "err:%s", r->str);
    else
        snprintf(out, cap, "type:%d", r->type);
}

static void busy_work(void) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do
        clock_gettime(CLOCK_MONOTONIC, &now);
    while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < work_ms);
}

static void on_reply(redisAsyncContext *c, void *reply, void *privdata) {
    if (work_ms > 0)
        busy_work();
    (void)c;
    long seq = (long)(intptr_t)privdata;
    char desc[160];
    describe(reply, desc, sizeof desc);
    static const char *names[] = {"GET", "GETNEW", "INCR"};
    printf("reply %ld %s %s ms=%ld\n", seq, names[seq % 3], desc, seq < MAX_SEQ ? now_ms() - sent_at[seq] : -1);
    if (seq < MAX_SEQ && seen[seq]++)
        duplicates++;
    if (seq <= last_answered)
        out_of_order++;
    last_answered = seq;
    answered++;
    if (free_replies && reply != NULL)
        freeReplyObject(reply);
}

static void on_connect(const redisAsyncContext *c, int status) {
    printf("connect %s%s%s\n", status == REDIS_OK ? "ok" : "err", status == REDIS_OK ? "" : " ", status == REDIS_OK ? "" : c->errstr);
    if (status == REDIS_OK)
        connected = 1;
    else
        ac = NULL; /* hiredis frees it */
}

static void on_disconnect(const redisAsyncContext *c, int status) {
    printf("disconnect %s%s%s\n", status == REDIS_OK ? "ok" : "err", status == REDIS_OK ? "" : " ", status == REDIS_OK ? "" : c->errstr);
    ac = NULL;
    connected = 0;
}

/* Redis::Fast-style hooks: the loop polls for what hiredis asked. */
static int want_read, want_write;
static void add_read(void *p) { (void)p; want_read = 1; }
static void del_read(void *p) { (void)p; want_read = 0; }
static void add_write(void *p) { (void)p; want_write = 1; }
static void del_write(void *p) { (void)p; want_write = 0; }
static void cleanup(void *p) { (void)p; want_read = want_write = 0; }

static void connect_now(void) {
    ac = redisAsyncConnect(host, port);
    if (ac == NULL) {
        printf("connect err NULL\n");
        return;
    }
    if (ac->err) {
        printf("connect err %s\n", ac->errstr);
        redisAsyncFree(ac);
        ac = NULL;
        return;
    }
    connected = 0;
#ifdef REDIS_NO_AUTO_FREE_REPLIES
    if (free_replies)
        ac->c.flags |= REDIS_NO_AUTO_FREE_REPLIES;
#endif
    if (use_poll) {
        ac->ev.addRead = add_read;
        ac->ev.delRead = del_read;
        ac->ev.addWrite = add_write;
        ac->ev.delWrite = del_write;
        ac->ev.cleanup = cleanup;
    } else {
        redisLibeventAttach(ac, base);
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

static void send_tick_commands(long tick) {
    long seq = issued;
    if (seq + 3 > MAX_SEQ)
        return;
    for (int i = 0; i < 3; i++)
        sent_at[seq + i] = now_ms();
    int rc[3];
    rc[0] = redisAsyncCommand(ac, on_reply, (void *)(intptr_t)seq, "GET %s", key);
    rc[1] = redisAsyncCommand(ac, on_reply, (void *)(intptr_t)(seq + 1), "GET unread:%ld", tick);
    rc[2] = redisAsyncCommand(ac, on_reply, (void *)(intptr_t)(seq + 2), "INCR counter");
    for (int i = 0; i < 3; i++)
        if (rc[i] != REDIS_OK) {
            printf("refused %ld\n", seq + i);
            refused++;
            seen[seq + i] = 1;
        }
    issued += 3;
}

static int stop_requested(void) { return access(stop_file, F_OK) == 0; }

/* One pass of a hand-written loop over the context's descriptor. */
static void poll_once(int timeout_ms) {
    if (ac == NULL)
        return;
    struct pollfd p = {.fd = ac->c.fd, .events = (short)((want_read ? POLLIN : 0) | (want_write ? POLLOUT : 0))};
    if (p.events == 0 || poll(&p, 1, timeout_ms) <= 0)
        return;
    if (p.revents & (POLLIN | POLLHUP | POLLERR))
        redisAsyncHandleRead(ac);
    if (ac != NULL && (p.revents & POLLOUT))
        redisAsyncHandleWrite(ac);
}

/* As Redis::Fast: after sending, wait while hiredis still owes callbacks. */
static void poll_until_answered(void) {
    long started = now_ms();
    while (ac != NULL && ac->replies.tail != NULL) {
        poll_once(1000);
        if (now_ms() - started > 30000) {
            printf("stuck: callbacks still owed after 30 s\n");
            exit(3);
        }
    }
}

static void run_poll_loop(void) {
    long tick = 0, next = now_ms();
    while (!stop_requested()) {
        long late = now_ms() - next;
        if (late > max_late_ms)
            max_late_ms = late;
        if (ac == NULL)
            connect_now();
        while (ac != NULL && !connected)
            poll_once(1000);
        if (ac != NULL) {
            send_tick_commands(tick);
            poll_until_answered();
        }
        tick++;
        /* a synchronous-style program is late by what its last wait took;
         * it does not try to catch up */
        next += tick_ms;
        if (next < now_ms())
            next = now_ms();
        long wait = next - now_ms();
        if (wait > 0)
            usleep((useconds_t)wait * 1000);
    }
}

static long tick_count, tick_expected;

static void on_tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what, (void)arg;
    long late = now_ms() - tick_expected;
    if (late > max_late_ms)
        max_late_ms = late;
    tick_expected = now_ms() + tick_ms;
    if (stop_requested()) {
        event_base_loopexit(base, NULL);
        return;
    }
    if (ac == NULL)
        connect_now();
    else if (connected)
        send_tick_commands(tick_count);
    tick_count++;
}

static void run_libevent_loop(void) {
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval tv = {.tv_sec = tick_ms / 1000, .tv_usec = (tick_ms % 1000) * 1000};
    tick_expected = now_ms() + tick_ms;
    event_add(tick, &tv);
    event_base_dispatch(base);
    event_free(tick);
    /* let the replies still owed arrive */
    long deadline = now_ms() + 5000;
    while (ac != NULL && answered + refused < issued && now_ms() < deadline)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(1000);
}

int main(int argc, char **argv) {
    int opt;
    while ((opt = getopt(argc, argv, "h:p:l:i:k:f:Fw:")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'l': use_poll = strcmp(optarg, "poll") == 0; break;
        case 'i': tick_ms = atoi(optarg); break;
        case 'k': key = optarg; break;
        case 'f': stop_file = optarg; break;
        case 'F': free_replies = 1; break;
        case 'w': work_ms = atoi(optarg); break;
        default: fprintf(stderr, "usage: async_client -p PORT [-h HOST] [-l libevent|poll] [-i MS] [-k KEY] -f STOPFILE\n"); return 2;
        }
    }
#ifndef REDIS_NO_AUTO_FREE_REPLIES
    if (free_replies) {
        fprintf(stderr, "async_client: this hiredis has no REDIS_NO_AUTO_FREE_REPLIES\n");
        return 77;
    }
#endif
    if (stop_file == NULL) {
        fprintf(stderr, "async_client: -f STOPFILE is required\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!use_poll)
        base = event_base_new();
    if (use_poll)
        run_poll_loop();
    else
        run_libevent_loop();
    if (ac != NULL) {
        redisAsyncDisconnect(ac); /* clean: nothing is owed any more */
        if (!use_poll)
            event_base_dispatch(base);
    }
    long missing = issued - answered - refused;
    printf("summary issued=%ld answered=%ld refused=%ld missing=%ld duplicates=%ld out_of_order=%ld max_late_ms=%ld\n",
           issued, answered, refused, missing, duplicates, out_of_order, max_late_ms);
    if (base != NULL)
        event_base_free(base);
    return 0;
}
