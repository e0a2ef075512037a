/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The CUPS backend "mnguard" (docs/print.md): decides each job of a wrapped queue with the daemon (or
 * the policy snapshot while the daemon is down), then runs the queue's real backend or cancels the job.
 *
 *   mnguard                                      device discovery: one line, exit 0
 *   mnguard job-id user title copies options [file]   a job, from cupsd (DEVICE_URI=mnguard:…)
 *
 * Its stderr is the CUPS status protocol ("ERROR: …" is shown to the user), so lines are written here
 * with their CUPS prefixes rather than through log.h. */
#include <cups/backend.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend-exec.h"
#include "macro.h"
#include "print-job.h"
#include "print-message.h"
#include "snapshot.h"
#include "strutil.h"

#define STATE_DIR_DEFAULT   "/var/lib/mnguard"
#define RUNTIME_DIR_DEFAULT "/run/mnguard"
#define TMP_DIR_DEFAULT     "/tmp"
#define SPOOL_MAX           (8ULL * 1024 * 1024 * 1024) /* bytes of one document */
#define READ_CHUNK          (64 * 1024)

DEFINE_TRIVIAL_CLEANUP_FUNC(Policy *, policy_free);

_printf_(2, 3) static void cups_line(const char *prefix, const char *fmt, ...) {
        char buf[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        fprintf(stderr, "%s: %s\n", prefix, buf);
}

static const char *env_or(const char *name, const char *fallback) {
        const char *v = getenv(name);
        return isempty(v) ? fallback : v;
}

/* Tells the user why (one ERROR: line) and cancels the job. */
static int cancel_job(PrintProblem problem, const PrintVerdict *v, uint32_t pages, const char *detail) {
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_free_ char *msg = NULL;

        /* The policy names whom to ask (contact); the snapshot has it when there is one. */
        (void) snapshot_load(env_or("MNGUARD_STATE_DIR", STATE_DIR_DEFAULT), &p);
        if (print_message_build(problem, v, pages, p ? p->contact : NULL, detail, &msg) < 0)
                cups_line("ERROR", "印刷を中止しました / Printing cancelled by mnguard");
        else
                cups_line("ERROR", "%s", msg);
        return CUPS_BACKEND_CANCEL;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Reads in to the end, feeding the scanner and, when out >= 0, copying to out. */
static int scan_fd(int in, int out, PrintDocScanner *s) {
        _cleanup_free_ char *buf = malloc(READ_CHUNK);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(in, buf, READ_CHUNK);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return 0;
                if (s->size + (uint64_t) k > SPOOL_MAX)
                        return -EFBIG;
                if (out >= 0) {
                        int r = write_all(out, buf, (size_t) k);
                        if (r < 0)
                                return r;
                }
                print_doc_scanner_feed(s, buf, (size_t) k);
        }
}

/* An unnamed file for the document read from a pipe, in cupsd's TMPDIR. */
static int open_spool(void) {
        const char *dir = env_or("TMPDIR", TMP_DIR_DEFAULT);
        int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
                return fd >= 0 ? fd : -errno;
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/mnguard-XXXXXX", dir) < 0)
                return -ENOMEM;
        fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        (void) unlink(path);
        return fd;
}

/* Reads the document once: from argv's file, or from stdin (spooled unless it is a regular file, so
 * that it can be fed again). On success stdin (when used) is at offset 0 of the document. */
static int read_document(int argc, char *argv[], PrintDocInfo *ret) {
        PrintDocScanner s;
        struct stat st;
        int r;

        print_doc_scanner_init(&s);
        if (argc == 7) {
                _cleanup_close_ int fd = open(argv[6], O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0)
                        return -errno;
                r = scan_fd(fd, -EBADF, &s);
        } else if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode)) {
                r = scan_fd(STDIN_FILENO, -EBADF, &s);
                if (r >= 0 && lseek(STDIN_FILENO, 0, SEEK_SET) < 0)
                        r = -errno;
        } else {
                _cleanup_close_ int spool = open_spool();
                if (spool < 0)
                        return spool;
                r = scan_fd(STDIN_FILENO, spool, &s);
                if (r >= 0 && lseek(spool, 0, SEEK_SET) < 0)
                        r = -errno;
                if (r >= 0 && dup2(spool, STDIN_FILENO) < 0)
                        r = -errno;
        }
        if (r < 0)
                return r;
        print_doc_scanner_finish(&s, ret);
        return 0;
}

static int usage(void) {
        fprintf(stderr, "Usage: mnguard job-id user title copies options [file]\n");
        return CUPS_BACKEND_FAILED;
}

static int decide(const PrintJob *job, PrintVerdict *ret) {
        _cleanup_free_ char *error = NULL;
        _cleanup_(policy_freep) Policy *policy = NULL;
        const char *state_dir = env_or("MNGUARD_STATE_DIR", STATE_DIR_DEFAULT);
        int r;

        r = print_job_ask_daemon(env_or("MNGUARD_RUNTIME_DIR", RUNTIME_DIR_DEFAULT), job, PRINT_DAEMON_TIMEOUT_MSEC,
                                 ret, &error);
        if (r >= 0)
                return 0;
        if (r == -EREMOTEIO) {
                cups_line("DEBUG", "mnguard: the daemon refused the job: %s", error ?: "?");
                return cancel_job(PRINT_PROBLEM_DAEMON, NULL, 0, error ?: "error");
        }

        /* The daemon is down (or hung): the snapshot of the last policy it put in force decides. */
        errno = -r;
        cups_line("WARNING", "mnguard: デーモン停止中のため保存済みポリシーで判定します / daemon not reachable (%m), "
                             "deciding from the policy snapshot");
        r = snapshot_load(state_dir, &policy);
        if (r < 0) {
                errno = -r;
                cups_line("DEBUG", "mnguard: no usable policy snapshot in %s (%m): cancelling", state_dir);
                return cancel_job(PRINT_PROBLEM_NO_POLICY, NULL, 0, NULL);
        }
        r = print_job_decide(policy, job, ret);
        if (r < 0)
                return cancel_job(PRINT_PROBLEM_DOCUMENT, NULL, 0, "out of memory");
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_(print_job_done) PrintJob job = {};
        _cleanup_(print_verdict_done) PrintVerdict v = {};
        _cleanup_free_ char *inner = NULL, *argv0 = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        InnerBackend backend = { .fd = -EBADF };
        uid_t cups_uid = 0;
        int r;

        if (argc == 1) {
                /* Discovery (lpinfo -v): wrapped queues are made by mnguardctl, never chosen here. */
                printf("network %s \"Unknown\" \"mnguard print guard (set up with: mnguardctl print wrap)\"\n",
                       PRINT_URI_SCHEME);
                return CUPS_BACKEND_OK;
        }
        if (argc < 6 || argc > 7)
                return usage();

        /* The device: DEVICE_URI from cupsd holds the inner URI, password included. */
        const char *uri = getenv("DEVICE_URI");
        if (isempty(uri))
                uri = argv[0];
        r = print_uri_unwrap(uri, &inner);
        if (r < 0)
                return cancel_job(PRINT_PROBLEM_DEVICE, NULL, 0, "bad mnguard device URI");
        if (print_uri_scheme(inner, job.scheme, sizeof(job.scheme)) < 0)
                return cancel_job(PRINT_PROBLEM_DEVICE, NULL, 0, "bad inner device URI");
        dir_fd = backend_dir_open();
        if (dir_fd < 0) {
                errno = -dir_fd;
                cups_line("DEBUG", "mnguard: cannot use the backend directory: %m");
                return cancel_job(PRINT_PROBLEM_DEVICE, NULL, 0, "backend directory");
        }
        r = backend_open(dir_fd, job.scheme, &backend);
        if (r < 0) {
                errno = -r;
                cups_line("DEBUG", "mnguard: backend \"%s\" unusable: %m", job.scheme);
                return cancel_job(PRINT_PROBLEM_DEVICE, NULL, 0,
                                  r == -ENOENT ? "no such backend" : "backend not trusted");
        }
        if (!backend.as_root && geteuid() == 0 && (r = backend_cups_user(&cups_uid)) < 0) {
                errno = -r;
                cups_line("DEBUG", "mnguard: cannot tell cupsd's User: %m");
                return cancel_job(PRINT_PROBLEM_DEVICE, NULL, 0, "cupsd User unknown");
        }
        job.export = print_uri_is_export(inner);

        /* The job: everything here is untrusted. */
        if (parse_u64(argv[1], &job.job_id) < 0 || parse_u64(argv[4], &job.copies) < 0)
                return cancel_job(PRINT_PROBLEM_DOCUMENT, NULL, 0, "bad job arguments");
        if (print_job_set_string(&job.queue, env_or("PRINTER", ""), PRINT_QUEUE_MAX) < 0 ||
            print_job_set_string(&job.user, argv[2], PRINT_USER_MAX) < 0 ||
            print_job_set_string(&job.title, argv[3], PRINT_TITLE_MAX) < 0)
                return cancel_job(PRINT_PROBLEM_DOCUMENT, NULL, 0, "out of memory");

        r = read_document(argc, argv, &job.doc);
        if (r < 0) {
                errno = -r;
                cups_line("DEBUG", "mnguard: reading the document failed: %m");
                return cancel_job(PRINT_PROBLEM_DOCUMENT, NULL, 0,
                                  r == -EFBIG ? "document too large" : "read error");
        }
        if (print_job_set_string(&job.format, env_or("CONTENT_TYPE", print_doc_format_to_string(job.doc.format)),
                                 PRINT_FORMAT_MAX) < 0)
                return cancel_job(PRINT_PROBLEM_DOCUMENT, NULL, 0, "out of memory");

        r = decide(&job, &v);
        if (r != 0)
                return r; /* cancelled, and said why */
        if (!v.allow) {
                cups_line("DEBUG", "mnguard: job %" PRIu64 " blocked (%s, rule %s%s)", job.job_id, v.reason, v.rule,
                          v.source == PRINT_SOURCE_SNAPSHOT ? ", from the snapshot" : "");
                return cancel_job(PRINT_PROBLEM_DENIED, &v, print_job_total_pages(&job), NULL);
        }
        cups_line("DEBUG", "mnguard: job %" PRIu64 " allowed (%s, rule %s%s), %u pages, sha256 %s", job.job_id,
                  v.reason, v.rule, v.audit ? ", audit" : v.source == PRINT_SOURCE_SNAPSHOT ? ", from the snapshot" : "",
                  job.doc.pages, job.doc.sha256);

        /* Allowed: become the real backend, with the privileges cupsd would have given it. */
        if (print_uri_sanitize(inner, &argv0) < 0)
                return cancel_job(PRINT_PROBLEM_DOCUMENT, NULL, 0, "out of memory");
        if (!backend.as_root && geteuid() == 0 && (r = backend_drop_privileges(cups_uid)) < 0) {
                errno = -r;
                cups_line("DEBUG", "mnguard: dropping privileges failed: %m");
                return cancel_job(PRINT_PROBLEM_DEVICE, NULL, 0, "privileges");
        }
        fflush(stderr);
        r = backend_exec(&backend, inner, argv0, argc, argv);
        errno = -r;
        cups_line("ERROR", "mnguard: cannot run backend \"%s\": %m", job.scheme);
        return CUPS_BACKEND_FAILED;
}
