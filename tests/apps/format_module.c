/* A module that a program loads with dlopen and whose format string it
 * passes to redisCommand (tests/apps/dl_formats.c). Built twice with
 * formats of the same length, so that the second, loaded where the first
 * was unloaded, has its literal at the first one's address. */
const char *module_format(void);
const char *module_format(void) { return CK_MODULE_FORMAT; }
