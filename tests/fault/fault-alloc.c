/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The failing allocator (fault.h). Defined in the test executable, these functions take the place of
 * glibc's for every library of the process (ELF symbol interposition, as an LD_PRELOAD library would do
 * it; glibc routes its own internal allocations through the replacement too). They count, fail on demand
 * and forward to the real allocator: glibc's (__libc_malloc, ...) in a normal build, the sanitizer's
 * (the next definition after this executable, found with dlsym) under ASan, which then still sees and
 * checks every block. */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"

#if defined(__SANITIZE_ADDRESS__)
#  define FAULT_VIA_DLSYM 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define FAULT_VIA_DLSYM 1
#  endif
#endif

/* Declared here: these are the replacements (-Wmissing-prototypes wants the declarations of the rest). */
void *malloc(size_t size);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t size);
void *reallocarray(void *p, size_t n, size_t size);
void free(void *p);
int posix_memalign(void **ret, size_t alignment, size_t size);
void *aligned_alloc(size_t alignment, size_t size);
void *memalign(size_t alignment, size_t size);
char *strdup(const char *s);
char *strndup(const char *s, size_t n);

static atomic_bool armed;
static atomic_int mode;
static _Atomic uint64_t fail_at, n_counted, n_failed;
static _Atomic int64_t live;
static __thread int paused;

/* Library functions that leak when an allocation inside them fails (bugs of theirs, fixed upstream or not):
 * a round where a failure hit one of them does not count its leaks. */
typedef struct Leaky {
        const char *name;
        uintptr_t lo, hi;       /* the function's code */
} Leaky;
static Leaky leaky[] = {
        /* json-c before 0.17: objects it made are dropped, not freed, when adding them fails (json-c#759) */
        { "json_tokener_parse_ex", 0, 0 },
        /* GnuTLS: its handle is not freed when _gnutls_hash_init() fails */
        { "gnutls_hash_init", 0, 0 },
};
#define LEAKY_JSONC 0
static atomic_bool failed_in_leaky;

/* Allocations below these are never made to fail: not mnguard's, and not recoverable by anyone. ASan
 * starting a thread asks glibc's pthread_getattr_np(), which allocates, and aborts when that fails. */
static Leaky infallible[] = {
        { "pthread_getattr_np", 0, 0 },
};

static void find_leaky(void) {
        static bool done;
        if (done)
                return;
        done = true;
        paused++;
        for (size_t i = 0; i < sizeof(leaky) / sizeof(leaky[0]); i++) {
                const ElfW(Sym) *sym = NULL;
                Dl_info info;
                void *f = dlsym(RTLD_DEFAULT, leaky[i].name);
                if (f && dladdr1(f, &info, (void **) &sym, RTLD_DL_SYMENT) && sym && sym->st_size > 0) {
                        leaky[i].lo = (uintptr_t) f;
                        leaky[i].hi = leaky[i].lo + sym->st_size;
                }
        }
        /* glibc's own, not a sanitizer's interceptor of the same name */
        void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
        for (size_t i = 0; libc && i < sizeof(infallible) / sizeof(infallible[0]); i++) {
                const ElfW(Sym) *sym = NULL;
                Dl_info info;
                void *f = dlsym(libc, infallible[i].name);
                if (f && dladdr1(f, &info, (void **) &sym, RTLD_DL_SYMENT) && sym && sym->st_size > 0) {
                        infallible[i].lo = (uintptr_t) f;
                        infallible[i].hi = infallible[i].lo + sym->st_size;
                }
        }
        if (libc)
                dlclose(libc);
        void *frames[2];
        (void) backtrace(frames, 2); /* loads the unwinder (it allocates) now rather than in malloc() */
        paused--;
}

static bool in_function(const Leaky *l, const void *pc) {
        return (uintptr_t) pc >= l->lo && (uintptr_t) pc < l->hi;
}

/* Whether one of the functions is on the stack. */
static bool below(const Leaky *fs, size_t n_fs) {
        void *frames[16];
        int n = backtrace(frames, 16);
        for (int i = 0; i < n; i++)
                for (size_t k = 0; k < n_fs; k++)
                        if (in_function(&fs[k], frames[i]))
                                return true;
        return false;
}

bool fault_failed_in_leaky_library(void) {
        return atomic_load(&failed_in_leaky);
}

void fault_arm(uint64_t at, FaultMode m) {
        find_leaky();
        atomic_store(&armed, false);
        atomic_store(&failed_in_leaky, false);
        atomic_store(&n_counted, 0);
        atomic_store(&n_failed, 0);
        atomic_store(&fail_at, at);
        atomic_store(&mode, (int) m);
        atomic_store(&armed, true);
}

uint64_t fault_disarm(void) {
        atomic_store(&armed, false);
        return atomic_load(&n_counted);
}

uint64_t fault_failed(void) {
        return atomic_load(&n_failed);
}

void fault_pause(void) {
        paused++;
}

void fault_resume(void) {
        paused--;
}

int64_t fault_live_blocks(void) {
        return atomic_load(&live);
}

/* ---- tracing (MNGUARD_FAULT_TRACE): where the blocks alive at the end of a round were allocated ---- */

#define TRACE_SLOTS (1u << 16)
#define TRACE_FRAMES 12
typedef struct TraceSlot {
        void *p;                /* NULL: free; TOMBSTONE: was used */
        void *frames[TRACE_FRAMES];
        int n;
} TraceSlot;
#define TOMBSTONE ((void *) 1)
static TraceSlot trace_slots[TRACE_SLOTS];
static atomic_bool tracing;
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread bool in_trace;

static size_t trace_hash(const void *p) {
        return (size_t) (((uintptr_t) p >> 4) * 0x9e3779b97f4a7c15u) & (TRACE_SLOTS - 1);
}

static void trace_add(void *p) {
        if (!p || !atomic_load_explicit(&tracing, memory_order_relaxed) || in_trace)
                return;
        in_trace = true;
        void *frames[TRACE_FRAMES];
        int n = backtrace(frames, TRACE_FRAMES);
        pthread_mutex_lock(&trace_lock);
        for (size_t i = trace_hash(p), k = 0; k < TRACE_SLOTS; i = (i + 1) & (TRACE_SLOTS - 1), k++)
                if (!trace_slots[i].p || trace_slots[i].p == TOMBSTONE) {
                        trace_slots[i].p = p;
                        memcpy(trace_slots[i].frames, frames, sizeof(frames));
                        trace_slots[i].n = n;
                        break;
                }
        pthread_mutex_unlock(&trace_lock);
        in_trace = false;
}

static void trace_del(void *p) {
        if (!p || !atomic_load_explicit(&tracing, memory_order_relaxed))
                return;
        pthread_mutex_lock(&trace_lock);
        for (size_t i = trace_hash(p), k = 0; k < TRACE_SLOTS && trace_slots[i].p; i = (i + 1) & (TRACE_SLOTS - 1), k++)
                if (trace_slots[i].p == p) {
                        trace_slots[i].p = TOMBSTONE;
                        break;
                }
        pthread_mutex_unlock(&trace_lock);
}

void fault_trace_start(void) {
        void *frames[2];
        (void) backtrace(frames, 2); /* loads the unwinder (it allocates) before tracing starts */
        memset(trace_slots, 0, sizeof(trace_slots));
        atomic_store(&tracing, true);
}

void fault_trace_report(int fd) {
        atomic_store(&tracing, false);
        for (size_t i = 0; i < TRACE_SLOTS; i++)
                if (trace_slots[i].p && trace_slots[i].p != TOMBSTONE) {
                        dprintf(fd, "block %p allocated at:\n", trace_slots[i].p);
                        backtrace_symbols_fd(trace_slots[i].frames, trace_slots[i].n, fd);
                }
}

static bool should_fail(void) {
        if (!atomic_load_explicit(&armed, memory_order_relaxed) || paused > 0)
                return false;
        uint64_t n = atomic_fetch_add(&n_counted, 1) + 1, at = atomic_load(&fail_at);
        if (at == 0 || n < at || (n > at && atomic_load(&mode) != FAULT_FROM))
                return false;
        if (below(infallible, sizeof(infallible) / sizeof(infallible[0])))
                return false;
        atomic_fetch_add(&n_failed, 1);
        if (below(leaky, sizeof(leaky) / sizeof(leaky[0])))
                atomic_store(&failed_in_leaky, true);
        return true;
}

/* ---- the real allocator ---- */

#ifdef FAULT_VIA_DLSYM
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);

/* dlsym() may allocate before the real functions are known: a small arena serves that, never freed. */
static _Alignas(16) char arena[64 * 1024];
static atomic_size_t arena_used;
static __thread bool resolving;

static void *arena_alloc(size_t size) {
        size = (size + 15) & ~(size_t) 15;
        size_t off = atomic_fetch_add(&arena_used, size);
        if (off + size > sizeof(arena))
                return NULL;
        return arena + off; /* static storage: zeroed */
}

static bool in_arena(const void *p) {
        return (const char *) p >= arena && (const char *) p < arena + sizeof(arena);
}

static bool resolve(void) {
        if (real_free)
                return true;
        if (resolving)
                return false;
        resolving = true;
        real_malloc = (void *(*)(size_t)) dlsym(RTLD_NEXT, "malloc");
        real_calloc = (void *(*)(size_t, size_t)) dlsym(RTLD_NEXT, "calloc");
        real_realloc = (void *(*)(void *, size_t)) dlsym(RTLD_NEXT, "realloc");
        real_posix_memalign = (int (*)(void **, size_t, size_t)) dlsym(RTLD_NEXT, "posix_memalign");
        void (*f)(void *) = (void (*)(void *)) dlsym(RTLD_NEXT, "free");
        resolving = false;
        if (!real_malloc || !real_calloc || !real_realloc || !real_posix_memalign || !f)
                abort();
        real_free = f;
        return true;
}

static void *do_malloc(size_t size) {
        return resolve() ? real_malloc(size) : arena_alloc(size);
}
static void *do_calloc(size_t n, size_t size) {
        if (resolve())
                return real_calloc(n, size);
        if (size != 0 && n > SIZE_MAX / size)
                return NULL;
        return arena_alloc(n * size);
}
static void *do_realloc(void *p, size_t size) {
        if (p && in_arena(p)) {
                /* not expected (dlsym's scratch is not resized); copy what the arena has after p */
                void *q = do_malloc(size);
                size_t avail = (size_t) (arena + sizeof(arena) - (char *) p);
                if (q)
                        memcpy(q, p, size < avail ? size : avail);
                return q;
        }
        return resolve() ? real_realloc(p, size) : arena_alloc(size);
}
static void do_free(void *p) {
        if (!p || in_arena(p))
                return;
        if (resolve())
                real_free(p);
}
static int do_posix_memalign(void **ret, size_t alignment, size_t size) {
        if (!resolve())
                return ENOMEM;
        return real_posix_memalign(ret, alignment, size);
}
#else
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t alignment, size_t size);

#define do_malloc __libc_malloc
#define do_calloc __libc_calloc
#define do_realloc __libc_realloc
#define do_free __libc_free
static int do_posix_memalign(void **ret, size_t alignment, size_t size) {
        void *p = __libc_memalign(alignment, size);
        if (!p)
                return ENOMEM;
        *ret = p;
        return 0;
}
#endif

/* ---- the replacements ---- */

void *malloc(size_t size) {
        if (should_fail()) {
                errno = ENOMEM;
                return NULL;
        }
        void *p = do_malloc(size);
        if (p) {
                atomic_fetch_add(&live, 1);
                trace_add(p);
        }
        return p;
}

void *calloc(size_t n, size_t size) {
        if (should_fail()) {
                errno = ENOMEM;
                return NULL;
        }
        void *p = do_calloc(n, size);
        if (p) {
                atomic_fetch_add(&live, 1);
                trace_add(p);
        }
        return p;
}

void *realloc(void *p, size_t size) {
        if (p && size == 0) {
                /* glibc frees and returns NULL */
                free(p);
                return NULL;
        }
        if (should_fail()) {
                errno = ENOMEM;
                return NULL;
        }
        void *q = do_realloc(p, size);
        if (q && !p)
                atomic_fetch_add(&live, 1);
        if (q) {
                trace_del(p);
                trace_add(q);
        }
        return q;
}

void *reallocarray(void *p, size_t n, size_t size) {
        if (size != 0 && n > SIZE_MAX / size) {
                errno = ENOMEM;
                return NULL;
        }
        return realloc(p, n * size);
}

void free(void *p) {
        if (!p)
                return;
        atomic_fetch_sub(&live, 1);
        trace_del(p);
        do_free(p);
}

int posix_memalign(void **ret, size_t alignment, size_t size) {
        if (should_fail())
                return ENOMEM;
        int r = do_posix_memalign(ret, alignment, size);
        if (r == 0) {
                atomic_fetch_add(&live, 1);
                trace_add(*ret);
        }
        return r;
}

void *aligned_alloc(size_t alignment, size_t size) {
        void *p = NULL;
        int r = posix_memalign(&p, alignment < sizeof(void *) ? sizeof(void *) : alignment, size);
        if (r != 0) {
                errno = r;
                return NULL;
        }
        return p;
}

void *memalign(size_t alignment, size_t size) {
        return aligned_alloc(alignment, size);
}

/* Allocations that are not made to fail: known bugs of libraries, where a failure crashes the library itself
 * before mnguard's code sees anything. json-c before 0.17 does not check strdup() of an object key in
 * json_tokener_parse_ex() (it crashes in strlen(NULL) adding the member); 0.17 reports
 * json_tokener_error_memory instead. Only looked up when an allocation is about to fail. */
static bool exempt(const void *caller) {
        return in_function(&leaky[LEAKY_JSONC], caller);
}

char *strdup(const char *s) {
        size_t n = strlen(s) + 1;
        char *p;
        if (should_fail()) {
                if (!exempt(__builtin_return_address(0))) {
                        errno = ENOMEM;
                        return NULL;
                }
                atomic_fetch_sub(&n_failed, 1);
        }
        p = do_malloc(n);
        if (p) {
                atomic_fetch_add(&live, 1);
                trace_add(p);
        }
        if (p)
                memcpy(p, s, n);
        return p;
}

char *strndup(const char *s, size_t n) {
        size_t l = strnlen(s, n);
        char *p = malloc(l + 1);
        if (p) {
                memcpy(p, s, l);
                p[l] = 0;
        }
        return p;
}
