/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Allocation-failure torture (docs/testing.md "Fault injection"), as curl's torture tests do it: a scenario
 * is run once counting its allocations (N), then again for i = 1..N with allocation i failing — once
 * ("once": all later ones succeed) and from i on ("from": every later one fails too).
 *
 * fault-alloc.c replaces malloc, calloc, realloc, reallocarray, free, the aligned allocators, strdup and
 * strndup for the whole process (symbol interposition from the test executable, as an LD_PRELOAD library
 * would): mnguard's code, SQLite (its default allocator is malloc), json-c, GnuTLS, nettle and glibc's own
 * helpers (asprintf, fopen, ...) all allocate through it. Under ASan it forwards to ASan's allocator, so
 * ASan still sees every block.
 *
 * fault-torture.c runs each round in a forked child, in a fresh temporary directory: a crash, an ASan
 * report or a failed check ends that child only and names the round. Each child also counts the blocks
 * alive before and after the round: a difference is a leak (in the normal build too). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum FaultMode {
        FAULT_ONCE,             /* allocation i fails, the later ones work */
        FAULT_FROM,             /* allocation i and every later one fail */
} FaultMode;

/* Starts counting allocations (of every thread) from 0; fail_at 0 only counts. */
void fault_arm(uint64_t fail_at, FaultMode mode);
/* Stops counting and failing; returns the number of allocations counted since fault_arm(). */
uint64_t fault_disarm(void);
/* Allocations that were made to fail since fault_arm(). */
uint64_t fault_failed(void);
/* Whether one of them was inside a library function known to leak when an allocation fails (json-c's
 * parser before 0.17, GnuTLS's gnutls_hash_init()): the round's leak count is then not mnguard's. */
bool fault_failed_in_leaky_library(void);
/* The calling thread's allocations are neither counted nor failed meanwhile (the test's own work inside
 * an armed stretch: building inputs, opening files). Nests. */
void fault_pause(void);
void fault_resume(void);
/* Blocks currently allocated through the interposer. */
int64_t fault_live_blocks(void);
/* Records where each block is allocated from now on; the report prints the blocks still alive (for
 * finding a leak: MNGUARD_FAULT_TRACE=1). */
void fault_trace_start(void);
void fault_trace_report(int fd);

/* A scenario. All hooks but run are not counted. */
typedef struct FaultScenario {
        const char *name;
        /* Once, in the test process before any round (shared inputs; children inherit them). */
        void (*init)(void);
        /* In the child, in dir (fresh and empty): everything before the part under test. */
        void *(*setup)(const char *dir);
        /* The part under test; records what each call returned in ctx for check. Must not assert. */
        void (*run)(void *ctx);
        /* The invariants after the run, without failures: calls fault_fail() when one does not hold. */
        void (*check)(void *ctx);
        /* Frees everything setup and run made (the leak check counts after it). */
        void (*teardown)(void *ctx);
        /* Rounds per mode in a normal run (the full every-i run: MNGUARD_FAULT_FULL=1). 0: all. */
        unsigned max_rounds;
} FaultScenario;

/* Runs the torture of s in both modes. Returns the number of failed rounds (0: passed). Environment:
 *   MNGUARD_FAULT_FULL=1       every i (else at most max_rounds per mode, spread over 1..N; half as many
 *                              under ASan)
 *   MNGUARD_FAULT_ROUNDS=k     at most k rounds per mode
 *   MNGUARD_FAULT_ONLY=i       only round i (with MNGUARD_FAULT_MODE=once|from)
 *   MNGUARD_FAULT_NOFORK=1     run rounds in this process (for a debugger; stops at the first failure)
 *   MNGUARD_FAULT_TMPDIR       where round directories go (default /dev/shm when writable: the
 *                              scenarios fsync a lot, which costs nothing on tmpfs; else $TMPDIR, /tmp)
 *   MNGUARD_FAULT_VERBOSE=1    print every round
 *   MNGUARD_FAULT_SCENARIO=name   only this scenario (the others pass)
 *   MNGUARD_FAULT_TRACE=1      a round that leaks prints where the leaked blocks were allocated */
unsigned fault_torture(const FaultScenario *s);

/* In check (or setup): a violated invariant. Prints where and in which round; ends the round. */
_Noreturn void fault_fail_at(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define fault_fail(...) fault_fail_at(__FILE__, __LINE__, __VA_ARGS__)
#define fault_check(cond)                                                              \
        do {                                                                           \
                if (!(cond))                                                           \
                        fault_fail_at(__FILE__, __LINE__, "check failed: %s", #cond);  \
        } while (0)
#define fault_checkf(cond, ...)                                                        \
        do {                                                                           \
                if (!(cond))                                                           \
                        fault_fail_at(__FILE__, __LINE__, __VA_ARGS__);                \
        } while (0)

/* A fresh directory under the round directory root; aborts on failure. */
char *fault_mkdtemp(void);
void fault_rm_rf(const char *path);
