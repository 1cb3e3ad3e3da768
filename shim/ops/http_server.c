/* The metrics endpoint's connections (see http_server.h). Each connection
 * is a slot that moves READING -> SENDING -> DRAINING -> FREE, driven by
 * poll; every read and write is non-blocking and every phase has a
 * deadline, so nothing a client does (trickle bytes, hold a socket idle,
 * never read its answer) holds the thread.
 *
 * An answer is rendered in the exporter's document buffer and offered to
 * the socket at once; only what the socket did not take is copied into the
 * slot's own buffer (kept for the slot's next client, so a busy endpoint
 * stops allocating). After the answer the write side is shut and what the
 * client still sends is read and dropped until it closes (a lingering
 * close): closing with unread bytes would send an RST, which can destroy
 * the answer before the client reads it (the 431 to an oversized request).
 *
 * A connection's request is read as soon as it is accepted, so a client
 * that sends at once is answered in the same turn. When every slot is
 * taken, a new client evicts a slot accepted in an earlier turn that is
 * still waiting for its request (the one silent longest first), else one
 * whose answer is sent: idle sockets cannot lock a scraper out, and no
 * request that arrived is dropped unread for a newer one. When the process
 * is out of descriptors, the same eviction frees one for the client.
 *
 * Every descriptor is checked before each use (owned_fd.h): a program that
 * closed a connection's number and reused it never has the exporter read,
 * write or shut down its file; the slot is then forgotten, not closed. */
#include "http_server.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "exposition.h"
#include "http_parse.h"
#include "owned_fd.h"

#define REQUEST_MAX 4096
#define MS 1000000ull
#define REQUEST_DEADLINE_NS (2000 * MS) /* to send the request line and headers */
#define ANSWER_DEADLINE_NS (2000 * MS)  /* to take the answer */
#define DRAIN_DEADLINE_NS (1000 * MS)   /* to close after the answer */
#define DRAIN_MAX (1u << 20)            /* bytes dropped after the answer before giving up */
#define ANSWER_LIMIT (8u << 20)
#define KEPT_ROOM (256u << 10) /* a slot's buffer is kept for reuse up to this size */

typedef enum { SLOT_FREE, SLOT_READING, SLOT_SENDING, SLOT_DRAINING } slot_phase;

typedef struct {
    ck_owned_fd sock;
    slot_phase phase;
    uint64_t accepted_ns;
    uint64_t deadline_ns;
    size_t len, sent, drained;
    ck_buf unsent;
    char request[REQUEST_MAX];
} connection;

static connection slots[CK_HTTP_CONNECTIONS];
static int polled[CK_HTTP_CONNECTIONS]; /* the slot behind each pollfd of the last poll set */

static void finish(connection *c) {
    ck_let_go(&c->sock);
    c->phase = SLOT_FREE;
    if (c->unsent.cap > KEPT_ROOM)
        ck_buf_release(&c->unsent); /* one huge answer does not stay resident */
}

/* The program closed the number (and may use it again): forgotten, never
 * read, written, shut down nor closed. */
static bool still_ours(connection *c) {
    if (ck_still_owned(&c->sock))
        return true;
    c->sock.fd = -1;
    c->phase = SLOT_FREE;
    return false;
}

static void start_drain(connection *c, uint64_t now) {
    shutdown(c->sock.fd, SHUT_WR);
    c->phase = SLOT_DRAINING;
    c->drained = 0;
    c->deadline_ns = now + DRAIN_DEADLINE_NS;
}

static bool would_block(ssize_t n) { return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR); }

static void answer(connection *c, const char *status, const char *type, const char *body, size_t body_len,
                   bool head_only, uint64_t now) {
    char head[256];
    int head_len = snprintf(head, sizeof head,
                            "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                            status, type, body_len);
    struct iovec parts[2] = {{head, (size_t)head_len}, {(void *)body, head_only ? 0 : body_len}};
    struct msghdr msg = {.msg_iov = parts, .msg_iovlen = 2};
    ssize_t n = sendmsg(c->sock.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && !would_block(n)) {
        finish(c);
        return;
    }
    size_t taken = n > 0 ? (size_t)n : 0;
    if (taken == parts[0].iov_len + parts[1].iov_len) {
        start_drain(c, now);
        return;
    }
    /* the rest waits in the slot's own buffer for the socket to take it */
    c->unsent.len = 0;
    c->sent = 0;
    size_t head_taken = taken < parts[0].iov_len ? taken : parts[0].iov_len;
    size_t body_taken = taken - head_taken;
    if (!ck_buf_put(&c->unsent, head + head_taken, parts[0].iov_len - head_taken, ANSWER_LIMIT) ||
        !ck_buf_put(&c->unsent, body + body_taken, parts[1].iov_len - body_taken, ANSWER_LIMIT)) {
        finish(c);
        return;
    }
    c->phase = SLOT_SENDING;
    c->deadline_ns = now + ANSWER_DEADLINE_NS;
}

static void answer_text(connection *c, const char *status, const char *text, bool head_only, uint64_t now) {
    answer(c, status, "text/plain", text, strlen(text), head_only, now);
}

static void answer_request(connection *c, uint64_t now, ck_buf *scratch) {
    ck_http_target t = ck_http_target_of(c->request, c->len);
    scratch->len = 0;
    switch (t.route) {
    case CK_HTTP_BAD_REQUEST:
        answer_text(c, "400 Bad Request", "cachekit: a request line is METHOD PATH VERSION\n", false, now);
        return;
    case CK_HTTP_BAD_METHOD: answer_text(c, "405 Method Not Allowed", "only GET and HEAD\n", false, now); return;
    case CK_HTTP_NOT_FOUND:
        answer_text(c, "404 Not Found", "cachekit: /metrics or /health\n", t.head_only, now);
        return;
    case CK_HTTP_METRICS:
        if (ck_exposition_metrics(scratch))
            answer(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", scratch->bytes, scratch->len, t.head_only,
                   now);
        else
            answer_text(c, "503 Service Unavailable", "out of memory\n", t.head_only, now);
        return;
    case CK_HTTP_HEALTH:
        if (ck_exposition_health(scratch))
            answer(c, "200 OK", "application/json", scratch->bytes, scratch->len, t.head_only, now);
        else
            answer_text(c, "503 Service Unavailable", "out of memory\n", t.head_only, now);
        return;
    }
}

static void read_request(connection *c, uint64_t now, ck_buf *scratch) {
    ssize_t n = recv(c->sock.fd, c->request + c->len, REQUEST_MAX - c->len, MSG_DONTWAIT);
    if (would_block(n))
        return;
    if (n <= 0) { /* gone before its request was whole */
        finish(c);
        return;
    }
    c->len += (size_t)n;
    switch (ck_http_request_state_of(c->request, c->len, REQUEST_MAX)) {
    case CK_HTTP_PARTIAL: return;
    case CK_HTTP_COMPLETE: answer_request(c, now, scratch); return;
    case CK_HTTP_MALFORMED:
        answer_text(c, "400 Bad Request", "cachekit: lines end in CRLF and hold no NUL\n", false, now);
        return;
    case CK_HTTP_TOO_LARGE:
        answer_text(c, "431 Request Header Fields Too Large", "cachekit: a request is 4096 bytes at most\n", false,
                    now);
        return;
    }
}

static void send_rest(connection *c, uint64_t now) {
    ssize_t n = send(c->sock.fd, c->unsent.bytes + c->sent, c->unsent.len - c->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (would_block(n))
        return;
    if (n <= 0) {
        finish(c);
        return;
    }
    c->sent += (size_t)n;
    if (c->sent == c->unsent.len)
        start_drain(c, now);
}

static void drain(connection *c) {
    char dropped[4096];
    for (;;) {
        ssize_t n = recv(c->sock.fd, dropped, sizeof dropped, MSG_DONTWAIT);
        if (would_block(n))
            return;
        c->drained += n > 0 ? (size_t)n : 0;
        if (n <= 0 || c->drained > DRAIN_MAX) {
            finish(c);
            return;
        }
    }
}

int ck_http_poll_set(struct pollfd *fds, uint64_t *wake_ns) {
    int n = 0;
    for (int i = 0; i < CK_HTTP_CONNECTIONS; i++) {
        connection *c = &slots[i];
        if (c->phase == SLOT_FREE || !still_ours(c))
            continue;
        fds[n] = (struct pollfd){.fd = c->sock.fd, .events = c->phase == SLOT_SENDING ? POLLOUT : POLLIN};
        polled[n++] = i;
        if (c->deadline_ns < *wake_ns)
            *wake_ns = c->deadline_ns;
    }
    return n;
}

void ck_http_serve(const struct pollfd *fds, int n, uint64_t now_ns, ck_buf *scratch) {
    for (int i = 0; i < n; i++) {
        connection *c = &slots[polled[i]];
        if (fds[i].revents == 0 || c->phase == SLOT_FREE || !still_ours(c))
            continue;
        if (c->phase == SLOT_READING)
            read_request(c, now_ns, scratch);
        else if (c->phase == SLOT_SENDING)
            send_rest(c, now_ns);
        else
            drain(c);
    }
    for (int i = 0; i < CK_HTTP_CONNECTIONS; i++)
        if (slots[i].phase != SLOT_FREE && now_ns >= slots[i].deadline_ns)
            finish(&slots[i]);
}

static connection *free_slot(void) {
    for (int i = 0; i < CK_HTTP_CONNECTIONS; i++)
        if (slots[i].phase == SLOT_FREE)
            return &slots[i];
    return NULL;
}

/* The slot to give up for a new client (see the top of the file), let go;
 * NULL when every slot is busy with a client of this turn or an answer in
 * flight. */
static connection *evict(uint64_t now_ns) {
    connection *idle = NULL, *reading = NULL, *draining = NULL;
    for (int i = 0; i < CK_HTTP_CONNECTIONS; i++) {
        connection *c = &slots[i];
        if (c->phase == SLOT_FREE || c->phase == SLOT_SENDING || c->accepted_ns >= now_ns)
            continue;
        connection **best = c->phase == SLOT_DRAINING ? &draining : c->len == 0 ? &idle : &reading;
        if (*best == NULL || c->accepted_ns < (*best)->accepted_ns)
            *best = c;
    }
    connection *victim = idle != NULL ? idle : reading != NULL ? reading : draining;
    if (victim != NULL)
        finish(victim);
    return victim;
}

static int take(int listener) { return accept4(listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK); }

bool ck_http_accept(int listener, uint64_t now_ns, ck_buf *scratch) {
    /* a bounded round: a flood of connects cannot keep the thread here */
    for (int round = 0; round < CK_HTTP_CONNECTIONS; round++) {
        /* a slot first: without one the client waits in the backlog
         * rather than being taken and dropped */
        connection *c = free_slot();
        if (c == NULL && (c = evict(now_ns)) == NULL)
            return false; /* every slot busy with this turn's clients or answers in flight */
        int fd = take(listener);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE) && evict(now_ns) != NULL)
            fd = take(listener); /* the process was out of descriptors: one was let go */
        if (fd < 0)              /* EAGAIN: none waiting, or taken by another process sharing the listener */
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED;
        c->sock = ck_own(fd);
        if (c->sock.fd < 0) {
            close(fd);
            continue;
        }
        c->phase = SLOT_READING;
        c->accepted_ns = now_ns;
        c->deadline_ns = now_ns + REQUEST_DEADLINE_NS;
        c->len = 0;
        read_request(c, now_ns, scratch); /* most clients send at once: answered this turn */
    }
    return true;
}

void ck_http_close_all(void) {
    for (int i = 0; i < CK_HTTP_CONNECTIONS; i++) {
        if (slots[i].phase != SLOT_FREE)
            finish(&slots[i]);
        ck_buf_release(&slots[i].unsent);
    }
}

void ck_http_forget_inherited(void) {
    for (int i = 0; i < CK_HTTP_CONNECTIONS; i++)
        if (slots[i].phase != SLOT_FREE)
            finish(&slots[i]);
}
