/* Resolution of the real hiredis symbols. Done from the constructor and,
 * while hiredis is not loaded yet, again from wrappers until it succeeds;
 * after that a wrapper pays one atomic load. A symbol that resolves to the
 * shim itself (the shim loaded twice, or no hiredis below it) counts as
 * missing, or the wrapper would call itself for ever.
 *
 * dlsym(RTLD_NEXT) sees only the global scope. A module that an
 * interpreter dlopens locally (Perl's Redis::Fast, a Ruby extension) brings
 * its hiredis in its own scope: its calls still reach the shim, which is
 * global, but the real functions are then found in the loaded libhiredis
 * itself. */
#include "real.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "abi.h"
#include "log.h"

ck_real_table ck_real;
const ck_hiredis_allocators *ck_real_allocators;

atomic_bool ck_real_resolved;
static pthread_mutex_t resolve_lock = PTHREAD_MUTEX_INITIALIZER;

static bool is_inside_shim(void *fn) {
    Dl_info mine, theirs;
    if (fn == NULL)
        return false;
    if (dladdr((void *)&ck_real_resolve, &mine) == 0 || dladdr(fn, &theirs) == 0)
        return false;
    return mine.dli_fbase == theirs.dli_fbase;
}

static int find_hiredis(struct dl_phdr_info *info, size_t size, void *found) {
    (void)size;
    const char *base = strrchr(info->dlpi_name, '/');
    base = base != NULL ? base + 1 : info->dlpi_name;
    if (strncmp(base, "libhiredis.so", 13) != 0)
        return 0;
    *(void **)found = dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD);
    return *(void **)found != NULL;
}

/* A handle on a libhiredis loaded in any scope, or NULL. */
static void *loaded_hiredis(void) {
    void *handle = NULL;
    dl_iterate_phdr(find_hiredis, &handle);
    return handle;
}

static bool resolve_from(void *handle) {
    bool complete = true;
    void *fn;
#define CK_REAL_RESOLVE(ret, name, params, required, self_called)                                                      \
    fn = dlsym(handle, #name);                                                                                         \
    if (is_inside_shim(fn))                                                                                            \
        fn = NULL;                                                                                                     \
    memcpy(&ck_real.name, &fn, sizeof fn);                                                                             \
    if (fn == NULL && (required))                                                                                      \
        complete = false;
    CK_REAL_SYMBOLS(CK_REAL_RESOLVE)
#undef CK_REAL_RESOLVE
    if (complete)
        ck_real_allocators = dlsym(handle, "hiredisAllocFns"); /* a variable (1.x) */
    return complete;
}

static bool resolve_all(void) {
    if (resolve_from(RTLD_NEXT))
        return true;
    void *handle = loaded_hiredis(); /* kept open: the functions are used for good */
    return handle != NULL && resolve_from(handle);
}

/* The executable segments of the library that holds ck_real's functions. */
#define CODE_RANGES 4
static struct { uintptr_t lo, hi; } code[CODE_RANGES];
static int code_ranges;

static int find_code_of(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    uintptr_t fn = (uintptr_t)arg;
    bool holds = false;
    for (int i = 0; i < info->dlpi_phnum && !holds; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        holds = ph->p_type == PT_LOAD && fn >= lo && fn < lo + ph->p_memsz;
    }
    if (!holds)
        return 0;
    for (int i = 0; i < info->dlpi_phnum && code_ranges < CODE_RANGES; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            code[code_ranges].lo = info->dlpi_addr + ph->p_vaddr;
            code[code_ranges].hi = code[code_ranges].lo + ph->p_memsz;
            code_ranges++;
        }
    }
    return 1;
}

bool ck_real_owns_code(const void *address) {
    if (code_ranges == 0)
        return true; /* not found (never seen): every call inside a real one is hiredis's, as the depth says */
    uintptr_t a = (uintptr_t)address;
    for (int i = 0; i < code_ranges; i++)
        if (a >= code[i].lo && a < code[i].hi)
            return true;
    return false;
}

bool ck_real_resolve(void) {
    pthread_mutex_lock(&resolve_lock);
    bool ok = atomic_load_explicit(&ck_real_resolved, memory_order_relaxed);
    if (!ok && resolve_all()) {
        ck_abi_select(ck_real.redisConnectWithOptions != NULL);
        void *any;
        memcpy(&any, &ck_real.redisGetReply, sizeof any);
        dl_iterate_phdr(find_code_of, any);
        ck_log(CK_LOG_DEBUG, "hiredis %s ABI found", ck_abi.name);
        atomic_store_explicit(&ck_real_resolved, true, memory_order_release);
        ok = true;
    }
    pthread_mutex_unlock(&resolve_lock);
    return ok;
}
