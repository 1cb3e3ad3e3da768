/* A module that a program loads with dlopen and whose format string it
 * passes to redisCommand (tests/apps/dl_formats.c). Built twice with
 * formats of the same length, so that the second, loaded where the first
 * was unloaded, has its literal at the first one's address. Given a
 * context (module_use), its destructor makes one more call with its
 * format while it is being unloaded. */
#include <hiredis/hiredis.h>
#include <stddef.h>

const char *module_format(void);
void module_use(redisContext *c);

static redisContext *context;

const char *module_format(void) { return CK_MODULE_FORMAT; }
void module_use(redisContext *c) { context = c; }

__attribute__((destructor)) static void unloading(void) {
    if (context != NULL)
        freeReplyObject(redisCommand(context, CK_MODULE_FORMAT, "k1", "k2"));
}
