/* A TCP proxy on loopback that injects network faults between a program
 * and its redis-server, for the integration tests (shared FAULTS.md F5-F8).
 *
 *   faultproxy (-l LISTEN_PORT | -a ABSTRACT_NAME) -t TARGET_PORT -m MODE_FILE [-d MAX_SECONDS]
 *
 * Listens on 127.0.0.1:LISTEN_PORT (or on the abstract Unix socket
 * "\0ABSTRACT_NAME": an endpoint with no path, as a program that connects
 * its own descriptor may have) and forwards to 127.0.0.1:TARGET_PORT.
 * The first line of MODE_FILE, read again on every event, says what to do:
 *   pass        forward both ways
 *   blackhole   accept, read, never forward, never answer (F5)
 *   delay MS    forward every chunk MS milliseconds late (F6)
 *   reset       answer any connection or data with a TCP reset (F7)
 *   truncate    forward half of the server's next chunk, then close (F8)
 *   trickle MS  forward the server's bytes one at a time, MS milliseconds
 *               apart (a server that answers, byte by byte)
 * It never talks to anything but 127.0.0.1 and exits by itself after
 * MAX_SECONDS (default 600). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAIRS 64

typedef enum { PASS, BLACKHOLE, DELAY, RESET, TRUNCATE, TRICKLE } mode_kind;

typedef struct {
    int client, server;
} pair;

static pair pairs[MAX_PAIRS];
static int npairs;
static const char *mode_file;
static int target_port;

static mode_kind read_mode(int *delay_ms) {
    char line[64] = "pass";
    FILE *f = fopen(mode_file, "r");
    if (f != NULL) {
        if (fgets(line, sizeof line, f) == NULL)
            strcpy(line, "pass");
        fclose(f);
    }
    *delay_ms = 0;
    if (strncmp(line, "blackhole", 9) == 0)
        return BLACKHOLE;
    if (strncmp(line, "delay", 5) == 0) {
        *delay_ms = atoi(line + 5);
        return DELAY;
    }
    if (strncmp(line, "reset", 5) == 0)
        return RESET;
    if (strncmp(line, "truncate", 8) == 0)
        return TRUNCATE;
    if (strncmp(line, "trickle", 7) == 0) {
        *delay_ms = atoi(line + 7);
        return TRICKLE;
    }
    return PASS;
}

static void close_reset(int fd) {
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

static void drop_pair(int i, int reset) {
    if (reset) {
        close_reset(pairs[i].client);
        close_reset(pairs[i].server);
    } else {
        close(pairs[i].client);
        close(pairs[i].server);
    }
    pairs[i] = pairs[--npairs];
}

static int loopback_socket(int port, int listening) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listening) {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 64) != 0) {
            perror("faultproxy: listen");
            exit(1);
        }
    } else if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int abstract_listener(const char *name) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t len = strlen(name) < sizeof addr.sun_path - 1 ? strlen(name) : sizeof addr.sun_path - 1;
    memcpy(addr.sun_path + 1, name, len); /* sun_path[0] == '\0': abstract */
    if (bind(fd, (struct sockaddr *)&addr, (socklen_t)(sizeof(sa_family_t) + 1 + len)) != 0 || listen(fd, 64) != 0) {
        perror("faultproxy: listen");
        exit(1);
    }
    return fd;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
    int listen_port = 0, max_seconds = 600, opt;
    const char *abstract_name = NULL;
    while ((opt = getopt(argc, argv, "l:a:t:m:d:")) != -1) {
        switch (opt) {
        case 'l': listen_port = atoi(optarg); break;
        case 'a': abstract_name = optarg; break;
        case 't': target_port = atoi(optarg); break;
        case 'm': mode_file = optarg; break;
        case 'd': max_seconds = atoi(optarg); break;
        default: break;
        }
    }
    if ((listen_port == 0 && abstract_name == NULL) || target_port == 0 || mode_file == NULL) {
        fprintf(stderr, "usage: faultproxy (-l LISTEN_PORT | -a ABSTRACT_NAME) -t TARGET_PORT -m MODE_FILE [-d MAX_SECONDS]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int listener = abstract_name != NULL ? abstract_listener(abstract_name) : loopback_socket(listen_port, 1);
    time_t deadline = time(NULL) + max_seconds;
    char buf[16384];

    while (time(NULL) < deadline) {
        struct pollfd fds[1 + 2 * MAX_PAIRS];
        fds[0] = (struct pollfd){.fd = listener, .events = POLLIN};
        for (int i = 0; i < npairs; i++) {
            fds[1 + 2 * i] = (struct pollfd){.fd = pairs[i].client, .events = POLLIN};
            fds[2 + 2 * i] = (struct pollfd){.fd = pairs[i].server, .events = POLLIN};
        }
        int n = poll(fds, (nfds_t)(1 + 2 * npairs), 100);
        if (n <= 0)
            continue;
        int delay_ms;
        mode_kind mode = read_mode(&delay_ms);

        /* walk backwards: drop_pair moves the last pair into the hole */
        for (int i = npairs - 1; i >= 0; i--) {
            for (int side = 0; side < 2 && i < npairs; side++) {
                short revents = fds[1 + 2 * i + side].revents;
                if (!(revents & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                int from = side == 0 ? pairs[i].client : pairs[i].server;
                int to = side == 0 ? pairs[i].server : pairs[i].client;
                ssize_t got = read(from, buf, sizeof buf);
                if (got <= 0 || mode == RESET) {
                    drop_pair(i, mode == RESET);
                    break;
                }
                if (mode == BLACKHOLE)
                    continue;
                if (mode == DELAY)
                    sleep_ms(delay_ms);
                if (mode == TRICKLE && side == 1) {
                    ssize_t sent = 0;
                    while (sent < got && write(to, buf + sent, 1) == 1) {
                        sent++;
                        sleep_ms(delay_ms);
                    }
                    if (sent < got) {
                        drop_pair(i, 0);
                        break;
                    }
                    continue;
                }
                if (mode == TRUNCATE && side == 1) {
                    ssize_t half = got / 2 > 0 ? got / 2 : 1;
                    if (write(to, buf, (size_t)half) < 0) {
                    }
                    drop_pair(i, 0);
                    break;
                }
                if (write(to, buf, (size_t)got) != got) {
                    drop_pair(i, 0);
                    break;
                }
            }
        }
        /* new connections last: the pairs above are those poll() saw */
        if (fds[0].revents & POLLIN) {
            int client = accept(listener, NULL, NULL);
            if (client >= 0 && mode == RESET) {
                close_reset(client);
            } else if (client >= 0) {
                int server = npairs < MAX_PAIRS ? loopback_socket(target_port, 0) : -1;
                if (server < 0)
                    close_reset(client);
                else
                    pairs[npairs++] = (pair){client, server};
            }
        }
    }
    return 0;
}
