/* dlclose, interposed only to hear of it: an image that is unloaded
 * takes its string literals with it, and the call sites read from them
 * (core/call_site.h) must no longer be trusted at those addresses, which
 * a later image or the heap may reuse. The call itself is the real one. */
#include <dlfcn.h>
#include <stdatomic.h>

#include "api.h"
#include "call_site.h"

typedef int (*dlclose_fn)(void *);
static _Atomic(dlclose_fn) real_dlclose;

CK_EXPORT int dlclose(void *handle) {
    ck_call_sites_forget_images();
    dlclose_fn real = atomic_load_explicit(&real_dlclose, memory_order_acquire);
    if (real == NULL) {
        real = (dlclose_fn)dlsym(RTLD_NEXT, "dlclose");
        atomic_store_explicit(&real_dlclose, real, memory_order_release);
    }
    return real != NULL ? real(handle) : -1;
}
