/* A hiredis program driven by a script on stdin, written as a legacy
 * program would be: it knows nothing of the shim. Integration tests feed
 * it one operation per line and read one line per reply on stdout.
 *
 *   connect                  redisFree the old context, redisConnectWithTimeout
 *   connect-unix             the same over the Unix socket given by -s
 *   connect-abstract NAME    connect a socket to the abstract Unix socket
 *                            "\0NAME" itself, then redisConnectFd
 *   reconnect                redisReconnect
 *   timeout MS               redisSetTimeout
 *   cmd GET k                redisCommand(c, "GET k") (format without %)
 *   fmt GET k                redisCommand(c, "%s %s", "GET", "k") (format expanded)
 *   reused SET k v           redisCommand(c, format, "k", "v"), the format
 *                            ("SET %s %s") written into the same static
 *                            buffer for every call (up to 5 arguments)
 *   argv GET k               redisCommandArgv
 *   append GET k             redisAppendCommandArgv
 *   appendfmt GET k          redisAppendCommand(c, "GET k")
 *   get                      redisGetReply
 *   repeat N <operation>     the operation N times
 *   loop N MS <operation>    the operation N times, MS milliseconds apart
 *   sh <shell command>       run it (without LD_PRELOAD) and wait
 *   sleep MS
 *   echo <text>              print the text (marks a phase in the output)
 *   null-context             redisCommand(NULL, "PING"): a crash without the shim
 *   pid                      print "pid N"
 *   reuse-stderr PATH        close fd 2 and open PATH on that number (a daemon's own file)
 *   close-last-unix-socket   close the highest-numbered AF_UNIX socket (a descriptor of the shim's)
 *   daemonize                fork as daemon(3) does: the parent _exits at once,
 *                            the child runs the rest of the script
 *   health                   print cachekit_health()'s document, looked up with
 *                            dlsym as a program that knows of the shim would
 *   ctx N                    switch to context N (0-3; each connects on its own)
 *   raw BYTES                redisAppendFormattedCommand of BYTES, with \r \n
 *                            \xHH unescaped (several commands, inline ones...)
 *   alarm-jmp MS <operation> the operation, left by siglongjmp from a SIGALRM
 *                            handler after MS ms if still running: "interrupted"
 *   push-nocb                (hiredis 1.x) redisSetPushCallback(c, NULL): RESP3
 *                            pushes come back from redisGetReply
 *   connect-nb               redisConnectNonBlock, then wait (1 s) until connected
 *   nb-get                   a non-blocking context's own I/O: redisBufferWrite,
 *                            poll (2 s), redisBufferRead, redisGetReply until a
 *                            reply ("no reply" after 2 s)
 *   connect-opt [nb]         (hiredis 1.x) redisFree the old context, then
 *                            redisConnectWithOptions (TCP, 1 s connect timeout,
 *                            REDIS_OPT_NONBLOCK with nb, a privdata whose
 *                            destructor prints "privdata freed")
 *   privdata                 (hiredis 1.x) print the context's privdata
 *   drive GET k              redisAppendCommandArgv, then one reply read as Ruby's
 *                            driver reads it: redisGetReplyFromReader; if none,
 *                            redisBufferWrite until done (poll for POLLOUT on
 *                            EAGAIN), then redisBufferRead / redisGetReplyFromReader
 *                            until a reply, polling for POLLIN with no timeout of
 *                            its own (the test's timeout bounds a hang)
 *   drive-read               the same read alone (after append)
 *   fill                     one redisBufferRead ("fill ok" or "fill failed")
 *   flush                    redisBufferWrite until done (the program then does
 *                            other work: sleep)
 *   poll-read [MS]           a read that waits first: poll for POLLIN (MS,
 *                            3000 by default: "poll timeout"), redisBufferRead,
 *                            then redisGetReplyFromReader, until a reply
 *   own-replies              the context's reader gets reply functions of the
 *                            program's own (hiredis's, copied: other addresses)
 *
 * Reply lines: "nil", "str S", "status S", "int N", "err S", "array N",
 * "NULL <errstr>" (no reply: the context carries the error).
 * With -r, a NULL reply makes the program reconnect, as collectd does.
 * With -T, each reply line ends with " [MS ms]", the time the call took;
 * with -A, reply and echo lines also end with " @MS", the time since start;
 * with -M, " @MS" is the monotonic clock's time, which the lines of two
 * programs share. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORDS 16

static redisContext *contexts[4];
static int current;
#define ctx (contexts[current])
static sigjmp_buf alarm_jump;
static const char *host = "127.0.0.1";
static int port = 6379;
static const char *socket_path;
static int reconnect_on_error;
static int timing, absolute;
static double call_started, program_started;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void print_reply(redisReply *r) {
    double took = now_ms() - call_started;
    if (r == NULL) {
        printf("NULL %s", ctx != NULL ? ctx->errstr : "(no context)");
    } else {
        switch (r->type) {
        case REDIS_REPLY_NIL: printf("nil"); break;
        case REDIS_REPLY_STRING: printf("str %.*s", (int)r->len, r->str); break;
        case REDIS_REPLY_STATUS: printf("status %.*s", (int)r->len, r->str); break;
        case REDIS_REPLY_INTEGER: printf("int %lld", r->integer); break;
        case REDIS_REPLY_ERROR: printf("err %.*s", (int)r->len, r->str); break;
        case REDIS_REPLY_ARRAY: printf("array %zu", (size_t)r->elements); break;
        case 7:  /* 1.x, RESP3: a double, */
        case 13: /* a big number, */
        case 14: /* a verbatim string: as Redis wrote them */
            printf("type %d str %.*s", r->type, (int)r->len, r->str);
            break;
        default: printf("type %d elements %zu", r->type, (size_t)r->elements); break;
        }
    }
    if (timing)
        printf(" [%.1f ms]", took);
    if (absolute)
        printf(" @%.1f", now_ms() - program_started);
    printf("\n");
}

static void do_connect(int use_unix) {
    struct timeval tv = {1, 0};
    if (ctx != NULL)
        redisFree(ctx);
    ctx = use_unix ? redisConnectUnixWithTimeout(socket_path, tv) : redisConnectWithTimeout(host, port, tv);
    if (ctx == NULL)
        printf("connect failed: no context\n");
    else if (ctx->err)
        printf("connect failed: %s\n", ctx->errstr);
    else
        printf("connect ok\n");
}

static char abstract_name[64]; /* set by connect-abstract: what -r reconnects to */

static void do_connect_abstract(void) {
    if (ctx != NULL)
        redisFree(ctx);
    ctx = NULL;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t len = strlen(abstract_name);
    memcpy(addr.sun_path + 1, abstract_name, len);
    if (connect(fd, (struct sockaddr *)&addr, (socklen_t)(sizeof(sa_family_t) + 1 + len)) != 0) {
        printf("connect failed: %s\n", strerror(errno));
        close(fd);
        return;
    }
    ctx = redisConnectFd(fd);
    printf("connect %s\n", ctx != NULL && !ctx->err ? "ok" : "failed");
}

#if HIREDIS_MAJOR >= 1
static void free_marker(void *p) {
    printf("privdata freed: %s\n", (char *)p);
    free(p);
}

static void do_connect_options(int nonblock) {
    struct timeval tv = {1, 0};
    redisOptions o = {0};
    REDIS_OPTIONS_SET_TCP(&o, host, port);
    o.connect_timeout = &tv;
    if (nonblock)
        o.options |= REDIS_OPT_NONBLOCK;
    REDIS_OPTIONS_SET_PRIVDATA(&o, strdup("marker"), free_marker);
    if (ctx != NULL)
        redisFree(ctx);
    ctx = redisConnectWithOptions(&o);
    if (ctx == NULL) {
        printf("connect failed: no context\n");
    } else if (ctx->err) {
        printf("connect failed: %s\n", ctx->errstr);
    } else if (nonblock) {
        struct pollfd p = {.fd = ctx->fd, .events = POLLOUT};
        printf(poll(&p, 1, 1000) == 1 ? "connect ok\n" : "connect failed\n");
    } else {
        printf("connect ok\n");
    }
}
#endif

/* Ruby's hiredis driver's read (ext/hiredis_ext/connection.c, __get_reply),
 * in C: the reply, or NULL with the context's error. */
static void *drive_read(void) {
    void *reply = NULL;
    int done = 0;
    if (redisGetReplyFromReader(ctx, &reply) != REDIS_OK)
        return NULL;
    if (reply != NULL)
        return reply;
    while (!done) {
        errno = 0;
        if (redisBufferWrite(ctx, &done) != REDIS_OK)
            return NULL;
        if (errno == EAGAIN) {
            struct pollfd p = {.fd = ctx->fd, .events = POLLOUT};
            poll(&p, 1, -1);
        }
    }
    while (reply == NULL) {
        errno = 0;
        if (redisBufferRead(ctx) != REDIS_OK)
            return NULL;
        if (errno == EAGAIN) {
            struct pollfd p = {.fd = ctx->fd, .events = POLLIN};
            poll(&p, 1, -1);
            continue;
        }
        if (redisGetReplyFromReader(ctx, &reply) != REDIS_OK)
            return NULL;
    }
    return reply;
}

/* An event loop's read: it waits for the descriptor first. */
static void *poll_read(int wait_ms, int *timed_out) {
    void *reply = NULL;
    *timed_out = 0;
    while (reply == NULL) {
        struct pollfd p = {.fd = ctx->fd, .events = POLLIN};
        if (poll(&p, 1, wait_ms) != 1) {
            *timed_out = 1;
            return NULL;
        }
        if (redisBufferRead(ctx) != REDIS_OK || redisGetReplyFromReader(ctx, &reply) != REDIS_OK)
            return NULL;
    }
    return reply;
}

/* hiredis's reply functions, copied: the program's own to the shim. */
static redisReplyObjectFunctions own_functions;

static void use_own_reply_functions(void) {
    redisReader *r = redisReaderCreate();
    own_functions = *r->fn;
    redisReaderFree(r);
    ctx->reader->fn = &own_functions;
}

static void after_reply(redisReply *r) {
    print_reply(r);
    if (r != NULL)
        freeReplyObject(r);
    else if (reconnect_on_error && abstract_name[0] != '\0')
        do_connect_abstract();
    else if (reconnect_on_error)
        do_connect(socket_path != NULL);
}

static int split(char *line, char **words) {
    int n = 0;
    for (char *w = strtok(line, " \t\n"); w != NULL && n < MAX_WORDS; w = strtok(NULL, " \t\n"))
        words[n++] = w;
    return n;
}

static void run(char *line);

static void on_alarm(int sig) {
    (void)sig;
    siglongjmp(alarm_jump, 1);
}

/* C-style escapes of a script line: \r \n \\ \xHH. */
static size_t unescape(const char *in, char *out) {
    size_t n = 0;
    for (const char *p = in; *p != '\0'; p++) {
        if (*p != '\\' || p[1] == '\0') {
            out[n++] = *p;
        } else if (p[1] == 'r' || p[1] == 'n' || p[1] == '\\') {
            out[n++] = p[1] == 'r' ? '\r' : p[1] == 'n' ? '\n' : '\\';
            p++;
        } else if (p[1] == 'x' && p[2] != '\0' && p[3] != '\0') {
            char hex[3] = {p[2], p[3], 0};
            out[n++] = (char)strtol(hex, NULL, 16);
            p += 3;
        } else {
            out[n++] = *p;
        }
    }
    return n;
}

static void run_words(char *op, char *rest, int argc, char **argv) {
    call_started = now_ms();
    if (strcmp(op, "connect") == 0) {
        do_connect(0);
    } else if (strcmp(op, "connect-unix") == 0) {
        do_connect(1);
    } else if (strcmp(op, "connect-abstract") == 0 && argc >= 1) {
        snprintf(abstract_name, sizeof abstract_name, "%s", argv[0]);
        do_connect_abstract();
    } else if (strcmp(op, "reconnect") == 0) {
        int rc = redisReconnect(ctx);
        printf("reconnect %s%s%s\n", rc == REDIS_OK ? "ok" : "failed", rc == REDIS_OK ? "" : ": ",
               rc == REDIS_OK ? "" : ctx->errstr);
    } else if (strcmp(op, "timeout") == 0 && argc >= 1) {
        struct timeval tv = {atoi(argv[0]) / 1000, (atoi(argv[0]) % 1000) * 1000};
        printf("timeout %s\n", redisSetTimeout(ctx, tv) == REDIS_OK ? "ok" : "failed");
    } else if (strcmp(op, "cmd") == 0) {
        after_reply(redisCommand(ctx, rest));
    } else if (strcmp(op, "fmt") == 0) {
        char fmt[64] = "%s";
        for (int i = 1; i < argc; i++)
            strcat(fmt, " %s");
        after_reply(redisCommand(ctx, fmt, argv[0], argv[1], argv[2], argv[3], argv[4]));
    } else if (strcmp(op, "reused") == 0 && argc >= 1 && argc <= 6) {
        /* one buffer for every format, as a program that builds them */
        static char format[64];
        snprintf(format, sizeof format, "%s", argv[0]);
        for (int i = 1; i < argc; i++)
            strcat(format, " %s");
        after_reply(redisCommand(ctx, format, argv[1], argv[2], argv[3], argv[4], argv[5]));
    } else if (strcmp(op, "argv") == 0) {
        after_reply(redisCommandArgv(ctx, argc, (const char **)argv, NULL));
    } else if (strcmp(op, "connect-opt") == 0 || strcmp(op, "privdata") == 0) {
#if HIREDIS_MAJOR >= 1
        if (strcmp(op, "privdata") == 0)
            printf("privdata %s\n", ctx != NULL && ctx->privdata != NULL ? (char *)ctx->privdata : "(none)");
        else
            do_connect_options(argc > 0 && strcmp(argv[0], "nb") == 0);
#else
        printf("%s unsupported\n", op);
#endif
    } else if (strcmp(op, "drive") == 0) {
        redisAppendCommandArgv(ctx, argc, (const char **)argv, NULL); /* its result unread, as Ruby's driver */
        after_reply(drive_read());
    } else if (strcmp(op, "flush") == 0) {
        int done = 0;
        while (!done && redisBufferWrite(ctx, &done) == REDIS_OK) {
        }
        printf("flush %s\n", done ? "ok" : "failed");
    } else if (strcmp(op, "poll-read") == 0) {
        int timed_out;
        void *reply = poll_read(argc >= 1 ? atoi(argv[0]) : 3000, &timed_out);
        if (timed_out)
            printf("poll timeout\n");
        else
            after_reply(reply);
    } else if (strcmp(op, "own-replies") == 0) {
        use_own_reply_functions();
        printf("own-replies ok\n");
    } else if (strcmp(op, "fill") == 0) {
        printf("fill %s\n", redisBufferRead(ctx) == REDIS_OK ? "ok" : "failed");
    } else if (strcmp(op, "drive-read") == 0) {
        after_reply(drive_read());
    } else if (strcmp(op, "append") == 0) {
        printf("append %s\n",
               redisAppendCommandArgv(ctx, argc, (const char **)argv, NULL) == REDIS_OK ? "ok" : "failed");
    } else if (strcmp(op, "appendfmt") == 0) {
        printf("append %s\n", redisAppendCommand(ctx, rest) == REDIS_OK ? "ok" : "failed");
    } else if (strcmp(op, "get") == 0) {
        void *reply = NULL;
        if (redisGetReply(ctx, &reply) != REDIS_OK)
            reply = NULL;
        after_reply(reply);
    } else if (strcmp(op, "repeat") == 0) {
        int n = atoi(argv[0]);
        char *body = strchr(rest, ' ');
        for (int i = 0; i < n && body != NULL; i++) {
            char copy[1024];
            snprintf(copy, sizeof copy, "%s", body + 1);
            run(copy);
        }
    } else if (strcmp(op, "loop") == 0 && argc >= 3) {
        int n = atoi(argv[0]);
        struct timespec pause = {atoi(argv[1]) / 1000, (long)(atoi(argv[1]) % 1000) * 1000000};
        char *body = strchr(strchr(rest, ' ') + 1, ' ');
        for (int i = 0; i < n && body != NULL; i++) {
            char copy[1024];
            snprintf(copy, sizeof copy, "%s", body + 1);
            run(copy);
            nanosleep(&pause, NULL);
        }
    } else if (strcmp(op, "sh") == 0) {
        fflush(stdout);
        int status = system(rest);
        (void)status;
    } else if (strcmp(op, "sleep") == 0) {
        struct timespec ts = {atoi(argv[0]) / 1000, (long)(atoi(argv[0]) % 1000) * 1000000};
        nanosleep(&ts, NULL);
    } else if (strcmp(op, "null-context") == 0) {
        redisReply *r = redisCommand(NULL, "PING");
        printf("null-context %s\n", r == NULL ? "NULL" : "reply");
    } else if (strcmp(op, "reuse-stderr") == 0 && argc >= 1) {
        /* a daemon that closed fd 2 and reused the number for a file of its own */
        close(STDERR_FILENO);
        int fd = open(argv[0], O_WRONLY | O_CREAT | O_TRUNC, 0600);
        printf("reuse-stderr %s\n", fd == STDERR_FILENO ? "ok" : "failed");
    } else if (strcmp(op, "close-last-unix-socket") == 0) {
        /* a program closing a descriptor it does not know (the shim's) */
        int last = -1;
        for (int fd = 3; fd < 1024; fd++) {
            int domain = 0;
            socklen_t len = sizeof domain;
            if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_UNIX)
                last = fd;
        }
        printf("closed %s\n", last >= 0 && close(last) == 0 ? "a unix socket" : "nothing");
    } else if (strcmp(op, "pid") == 0) {
        printf("pid %ld\n", (long)getpid());
    } else if (strcmp(op, "daemonize") == 0) {
        fflush(stdout);
        if (fork() > 0)
            _exit(0);
    } else if (strcmp(op, "health") == 0) {
        int (*health)(char *, size_t);
        *(void **)&health = dlsym(RTLD_DEFAULT, "cachekit_health");
        char doc[8192];
        if (health == NULL)
            printf("health none\n");
        else
            printf("health %d %s", health(doc, sizeof doc), doc);
    } else if (strcmp(op, "ctx") == 0 && argc >= 1) {
        current = atoi(argv[0]) & 3;
    } else if (strcmp(op, "raw") == 0) {
        char bytes[1024];
        size_t n = unescape(rest, bytes);
        printf("append %s\n", redisAppendFormattedCommand(ctx, bytes, n) == REDIS_OK ? "ok" : "failed");
    } else if (strcmp(op, "alarm-jmp") == 0 && argc >= 2) {
        static char body[1024];
        snprintf(body, sizeof body, "%s", strchr(rest, ' ') + 1);
        struct sigaction sa = {.sa_handler = on_alarm};
        sigaction(SIGALRM, &sa, NULL);
        if (sigsetjmp(alarm_jump, 1) == 0) {
            struct itimerval t = {{0, 0}, {atoi(argv[0]) / 1000, (atoi(argv[0]) % 1000) * 1000}};
            setitimer(ITIMER_REAL, &t, NULL);
            run(body);
            struct itimerval off = {{0, 0}, {0, 0}};
            setitimer(ITIMER_REAL, &off, NULL);
        } else {
            printf("interrupted\n");
        }
    } else if (strcmp(op, "connect-nb") == 0) {
        if (ctx != NULL)
            redisFree(ctx);
        ctx = redisConnectNonBlock(host, port);
        struct pollfd p = {.fd = ctx != NULL ? ctx->fd : -1, .events = POLLOUT};
        printf(ctx != NULL && !ctx->err && poll(&p, 1, 1000) == 1 ? "connect ok\n" : "connect failed\n");
    } else if (strcmp(op, "nb-get") == 0) {
        int done = 0;
        while (!done && redisBufferWrite(ctx, &done) == REDIS_OK) {
        }
        void *reply = NULL;
        for (;;) {
            if (redisGetReply(ctx, &reply) != REDIS_OK || reply != NULL)
                break;
            struct pollfd p = {.fd = ctx->fd, .events = POLLIN};
            if (poll(&p, 1, 2000) != 1) {
                printf("no reply\n");
                break;
            }
            if (redisBufferRead(ctx) != REDIS_OK)
                break;
        }
        if (reply != NULL || ctx->err)
            after_reply(reply);
    } else if (strcmp(op, "push-nocb") == 0) {
#if HIREDIS_MAJOR >= 1
        redisSetPushCallback(ctx, NULL);
        printf("push-nocb ok\n");
#else
        printf("push-nocb unsupported\n");
#endif
    } else if (strcmp(op, "echo") == 0) {
        if (absolute)
            printf("%s @%.1f\n", rest, now_ms() - program_started);
        else
            printf("%s\n", rest);
    } else {
        printf("unknown operation %s\n", op);
    }
}

static void run(char *line) {
    line[strcspn(line, "\n")] = '\0';
    while (*line == ' ')
        line++;
    if (*line == '\0' || *line == '#')
        return;
    char *rest = strchr(line, ' ');
    rest = rest != NULL ? rest + 1 : line + strlen(line);
    char restcopy[1024];
    snprintf(restcopy, sizeof restcopy, "%s", rest);
    char *words[MAX_WORDS + 1] = {0};
    char op[32];
    snprintf(op, sizeof op, "%.*s", (int)strcspn(line, " "), line);
    int argc = split(rest, words);
    run_words(op, restcopy, argc, words);
    fflush(stdout);
}

int main(int argc, char **argv) {
    int opt;
    program_started = now_ms();
    while ((opt = getopt(argc, argv, "h:p:s:rTAM")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 's': socket_path = optarg; break;
        case 'r': reconnect_on_error = 1; break;
        case 'T': timing = 1; break;
        case 'A': absolute = 1; break;
        case 'M': absolute = 1, program_started = 0; break;
        default:
            fprintf(stderr, "usage: %s [-h host] [-p port] [-s socket] [-r] [-T] [-A] < script\n", argv[0]);
            return 2;
        }
    }
    /* The shell commands of a script run without the shim. */
    unsetenv("LD_PRELOAD");
    char line[1024];
    while (fgets(line, sizeof line, stdin) != NULL)
        run(line);
    for (current = 0; current < 4; current++)
        if (ctx != NULL)
            redisFree(ctx);
    return 0;
}
