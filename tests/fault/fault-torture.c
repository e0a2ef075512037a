/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The torture loop (fault.h): a counting round, then one round per failing allocation, each in a forked
 * child with its own temporary directory. */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"

/* A round that takes longer than this is stuck (a lost wake-up after a failure, say): it is killed. */
#define ROUND_TIMEOUT_SEC 60
/* Failed rounds printed by the parent; the children say why themselves. */
#define FAILURES_SHOWN_MAX 20
#define EXIT_CHECK 3

/* What a child reports to the parent. */
typedef struct Shared {
        uint64_t counted, failed;
        bool in_leaky;          /* a failure hit a library function that leaks then: leaks not counted */
} Shared;

static struct {
        const char *scenario;
        uint64_t round;
        FaultMode mode;
        bool in_child, nofork, verbose;
} cur;

static const char *mode_name(FaultMode m) {
        return m == FAULT_FROM ? "from" : "once";
}

_Noreturn void fault_fail_at(const char *file, int line, const char *fmt, ...) {
        va_list ap;
        fault_pause();
        (void) fault_disarm();
        fprintf(stderr, "FAULT %s: allocation %" PRIu64 " failing (%s): %s:%d: ", cur.scenario ? cur.scenario : "?",
                cur.round, mode_name(cur.mode), file, line);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        fflush(stderr);
        if (cur.in_child)
                _exit(EXIT_CHECK);
        exit(EXIT_CHECK); /* in this process (MNGUARD_FAULT_NOFORK): the leak checker still runs */
}

static const char *tmp_root(void) {
        const char *t = getenv("MNGUARD_FAULT_TMPDIR");
        if (t && *t)
                return t;
        if (access("/dev/shm", W_OK) == 0)
                return "/dev/shm";
        t = getenv("TMPDIR");
        return t && *t ? t : "/tmp";
}

char *fault_mkdtemp(void) {
        char *p = NULL;
        fault_pause();
        if (asprintf(&p, "%s/mnguard-fault-XXXXXX", tmp_root()) < 0 || !mkdtemp(p))
                abort();
        fault_resume();
        return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) ftw;
        if (flag == FTW_DP)
                rmdir(path);
        else
                unlink(path);
        return 0;
}

void fault_rm_rf(const char *path) {
        if (path)
                nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static uint64_t env_u64(const char *name, uint64_t def) {
        const char *v = getenv(name);
        if (!v || !*v)
                return def;
        char *end = NULL;
        errno = 0;
        unsigned long long x = strtoull(v, &end, 10);
        return errno == 0 && end && *end == 0 ? (uint64_t) x : def;
}

static double now_sec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* One round in this process: setup, run with allocation `at` failing (0: none), check, teardown, and
 * the leak count over all of it. */
static void round_here(const FaultScenario *s, const char *dir, uint64_t at, FaultMode m, Shared *sh, bool check_leaks) {
        bool trace = check_leaks && env_u64("MNGUARD_FAULT_TRACE", 0) > 0;
        if (trace)
                fault_trace_start();
        int64_t live0 = fault_live_blocks();
        void *ctx = s->setup(dir);
        fault_arm(at, m);
        s->run(ctx);
        sh->counted = fault_disarm();
        sh->failed = fault_failed();
        sh->in_leaky = fault_failed_in_leaky_library();
        s->check(ctx);
        s->teardown(ctx);
        int64_t leaked = fault_live_blocks() - live0;
        if (sh->in_leaky)
                check_leaks = false;
        if (trace && check_leaks && leaked != 0)
                fault_trace_report(STDERR_FILENO);
        if (check_leaks && leaked != 0)
                fault_fail("%" PRId64 " blocks %s after the round (a leak on an error path, or a double free)",
                           leaked < 0 ? -leaked : leaked, leaked > 0 ? "more allocated" : "fewer allocated");
}

/* Returns 0 when the round passed. */
static int round_child(const FaultScenario *s, uint64_t at, FaultMode m, Shared *sh) {
        cur.round = at;
        cur.mode = m;
        if (cur.verbose)
                fprintf(stderr, "fault %s: allocation %" PRIu64 " (%s)\n", s->name, at, mode_name(m));
        /* made and removed here: the child may not get to it */
        char *dir = fault_mkdtemp();
        if (cur.nofork) {
                round_here(s, dir, at, m, sh, true);
                fault_rm_rf(dir);
                free(dir);
                return 0;
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                fprintf(stderr, "fault %s: fork: %s\n", s->name, strerror(errno));
                fault_rm_rf(dir);
                free(dir);
                return -1;
        }
        if (pid == 0) {
                /* the test framework's handlers would go on with its other tests in here: die instead */
                static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS, SIGABRT };
                for (size_t k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++)
                        signal(sigs[k], SIG_DFL);
                cur.in_child = true;
                alarm(ROUND_TIMEOUT_SEC);
                round_here(s, dir, at, m, sh, true);
                fflush(NULL);
                _exit(0);
        }
        int status = 0, w;
        while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
                ;
        fault_rm_rf(dir);
        free(dir);
        if (w < 0)
                return -1;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (WIFSIGNALED(status))
                fprintf(stderr, "FAULT %s: allocation %" PRIu64 " failing (%s): killed by signal %d (%s)%s\n", s->name,
                        at, mode_name(m), WTERMSIG(status), strsignal(WTERMSIG(status)),
                        WTERMSIG(status) == SIGALRM ? ": stuck" : "");
        else if (WEXITSTATUS(status) != EXIT_CHECK)
                fprintf(stderr, "FAULT %s: allocation %" PRIu64 " failing (%s): exit status %d\n", s->name, at,
                        mode_name(m), WEXITSTATUS(status));
        return -1;
}

unsigned fault_torture(const FaultScenario *s) {
        bool full = env_u64("MNGUARD_FAULT_FULL", 0) > 0;
        uint64_t only = env_u64("MNGUARD_FAULT_ONLY", 0), budget = env_u64("MNGUARD_FAULT_ROUNDS", s->max_rounds);
        const char *only_mode = getenv("MNGUARD_FAULT_MODE");
        unsigned failures = 0, shown = 0;
        double t0 = now_sec();

        const char *only_scenario = getenv("MNGUARD_FAULT_SCENARIO");
        if (only_scenario && *only_scenario && strcmp(only_scenario, s->name) != 0)
                return 0;
        cur.scenario = s->name;
        cur.nofork = env_u64("MNGUARD_FAULT_NOFORK", 0) > 0;
        cur.verbose = env_u64("MNGUARD_FAULT_VERBOSE", 0) > 0;
        Shared *sh = mmap(NULL, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (sh == MAP_FAILED)
                abort();

        if (s->init)
                s->init();
        /* Warm-up in this process: what a process allocates once (SQLite's and glibc's first-use state) is
         * then inherited by every child and not counted as a leak of the round. */
        char *dir = fault_mkdtemp();
        round_here(s, dir, 0, FAULT_ONCE, sh, false);
        fault_rm_rf(dir);
        free(dir);

        *sh = (Shared) {};
        if (round_child(s, 0, FAULT_ONCE, sh) < 0) {
                fprintf(stderr, "fault %s: the scenario fails without failing allocations\n", s->name);
                munmap(sh, sizeof(Shared));
                return 1;
        }
        uint64_t n = sh->counted;
        if (only > 0) {
                FaultMode m = only_mode && strcmp(only_mode, "from") == 0 ? FAULT_FROM : FAULT_ONCE;
                failures = round_child(s, only, m, sh) < 0;
                fprintf(stderr, "fault %s: N=%" PRIu64 ", allocation %" PRIu64 " (%s): %s\n", s->name, n, only,
                        mode_name(m), failures ? "FAILED" : "ok");
                munmap(sh, sizeof(Shared));
                return failures;
        }

#if defined(__SANITIZE_ADDRESS__)
        /* rounds cost about three times as much under ASan: half as many in a normal run */
        if (!getenv("MNGUARD_FAULT_ROUNDS"))
                budget = budget > 0 ? budget / 2 : n / 2;
#endif
        uint64_t stride = 1;
        if (!full && budget > 0 && n > budget)
                stride = (n + budget - 1) / budget;
        uint64_t rounds[2] = {}, not_failing = 0, in_leaky = 0;
        for (int m = FAULT_ONCE; m <= FAULT_FROM; m++)
                for (uint64_t k = 0;; k++) {
                        /* spread over 1..N, a different offset in each stride so that no allocation site is
                         * always skipped */
                        uint64_t i = k * stride + 1 + (stride > 1 ? (k * 7) % stride : 0);
                        if (i > n)
                                break;
                        *sh = (Shared) {};
                        rounds[m]++;
                        if (round_child(s, i, (FaultMode) m, sh) < 0) {
                                failures++;
                                if (shown++ < FAILURES_SHOWN_MAX)
                                        fprintf(stderr, "fault %s: round with allocation %" PRIu64 " failing (%s) failed\n",
                                                s->name, i, mode_name((FaultMode) m));
                        } else if (sh->failed == 0)
                                not_failing++; /* the run took another path and made fewer allocations */
                        else if (sh->in_leaky)
                                in_leaky++;
                }
        fprintf(stderr,
                "fault %s: N=%" PRIu64 " allocations; rounds once=%" PRIu64 " from=%" PRIu64 " (every %" PRIu64
                "%s); %" PRIu64 " rounds made fewer than i allocations; %" PRIu64
                " failed inside a leaky library function (leaks not counted); %u failed; %.1f s\n",
                s->name, n, rounds[FAULT_ONCE], rounds[FAULT_FROM], stride, stride == 1 ? "" : ", MNGUARD_FAULT_FULL=1 for all",
                not_failing, in_leaky, failures, now_sec() - t0);
        munmap(sh, sizeof(Shared));
        return failures;
}
