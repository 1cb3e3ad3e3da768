/* A program whose format strings live in modules it loads and unloads:
 * it reads through module A's format ("MGET %s %s"), unloads A (whose
 * destructor reads once more through it), loads B (usually at the same
 * address) and writes through B's format ("MSET %s %s"). Without the
 * shim, B's command is sent as B says. The shim remembers formats by
 * address (core/call_site.h): it must not take B's for A's.
 *
 *   dl_formats [-d] -p PORT MODULE_A MODULE_B
 *
 * With -d, A's format is met only in A's destructor (the program's own
 * reads are skipped). Prints the replies ("array N", "status S", ...)
 * and "same address" or "other address" for B's format against A's. */
#include <dlfcn.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void print_reply(redisContext *c, redisReply *r) {
    if (r == NULL)
        printf("NULL %s\n", c->errstr);
    else if (r->type == REDIS_REPLY_ARRAY)
        printf("array %zu\n", (size_t)r->elements);
    else if (r->type == REDIS_REPLY_STATUS)
        printf("status %s\n", r->str);
    else if (r->type == REDIS_REPLY_ERROR)
        printf("err %s\n", r->str);
    else
        printf("type %d\n", r->type);
    freeReplyObject(r);
}

typedef const char *(*format_fn)(void);

static const char *load(const char *path, void **handle) {
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    format_fn fn = *handle != NULL ? (format_fn)dlsym(*handle, "module_format") : NULL;
    if (fn == NULL) {
        fprintf(stderr, "%s: %s\n", path, dlerror());
        exit(2);
    }
    return fn();
}

int main(int argc, char **argv) {
    int port = 6379, opt, reads = 2;
    while ((opt = getopt(argc, argv, "dp:")) != -1) {
        if (opt == 'p')
            port = atoi(optarg);
        else if (opt == 'd')
            reads = 0;
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: %s [-d] -p PORT MODULE_A MODULE_B\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    redisContext *c = redisConnect("127.0.0.1", port);
    if (c == NULL || c->err)
        return 1;
    void *a;
    const char *read_format = load(argv[optind], &a);
    void (*use)(redisContext *) = (void (*)(redisContext *))dlsym(a, "module_use");
    if (use != NULL)
        use(c);
    for (int i = 0; i < reads; i++)
        print_reply(c, redisCommand(c, read_format, "k1", "k2"));
    dlclose(a);
    void *b;
    const char *write_format = load(argv[optind + 1], &b);
    printf("%s address\n", write_format == read_format ? "same" : "other");
    print_reply(c, redisCommand(c, write_format, "k1", "x"));
    dlclose(b);
    redisFree(c);
    return 0;
}
