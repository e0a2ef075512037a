/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Deciding a print job: the daemon, or the policy snapshot (see print-job.h). */
#include "print-job.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "strutil.h"
#include "subject.h"

#define CONTROL_SOCKET_NAME "control.sock"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

int print_job_set_string(char **field, const char *value, size_t max) {
        char *s = untrusted_sanitize(value ?: "", value ? strlen(value) : 0, max);
        if (!s)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

void print_job_done(PrintJob *job) {
        free(job->queue);
        free(job->user);
        free(job->title);
        free(job->format);
        *job = (PrintJob) {};
}

void print_verdict_done(PrintVerdict *v) {
        free(v->rule);
        free(v->reason);
        *v = (PrintVerdict) {};
}

uint32_t print_job_total_pages(const PrintJob *job) {
        uint64_t pages = job->doc.pages, total = pages;
        if (pages && job->copies)
                total = job->copies > UINT64_MAX / pages ? UINT64_MAX : pages * job->copies;
        return total > UINT32_MAX ? UINT32_MAX : (uint32_t) total;
}

static int64_t now_msec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline. */
static int wait_fd(int fd, short events, int64_t deadline) {
        for (;;) {
                int64_t left = deadline - now_msec();
                if (left <= 0)
                        return -ETIMEDOUT;
                struct pollfd p = { .fd = fd, .events = events };
                int k = poll(&p, 1, (int) (left > INT32_MAX ? INT32_MAX : left));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k > 0)
                        return 0;
        }
}

static json_object *build_request(const PrintJob *job) {
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "verb", json_object_new_string("print-job"));
        json_object_object_add(o, "queue", json_object_new_string(job->queue ?: ""));
        if (job->user)
                json_object_object_add(o, "user", json_object_new_string(job->user));
        if (job->title)
                json_object_object_add(o, "title", json_object_new_string(job->title));
        if (job->format)
                json_object_object_add(o, "format", json_object_new_string(job->format));
        json_object_object_add(o, "job_id", json_object_new_uint64(job->job_id));
        json_object_object_add(o, "copies", json_object_new_uint64(job->copies));
        json_object_object_add(o, "pages", json_object_new_uint64(job->doc.pages));
        json_object_object_add(o, "sha256", json_object_new_string(job->doc.sha256));
        json_object_object_add(o, "device_uri_scheme", json_object_new_string(job->scheme));
        json_object_object_add(o, "export", json_object_new_boolean(job->export));
        return o;
}

static int send_all(int fd, const char *data, size_t n, int64_t deadline) {
        size_t off = 0;
        while (off < n) {
                ssize_t k = send(fd, data + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                return -errno;
                        int r = wait_fd(fd, POLLOUT, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                off += (size_t) k;
        }
        return 0;
}

/* Reads one line (without the newline) into buf. */
static int read_line(int fd, char *buf, size_t size, int64_t deadline) {
        size_t len = 0;
        for (;;) {
                char *nl = memchr(buf, '\n', len);
                if (nl) {
                        *nl = 0;
                        return 0;
                }
                if (len + 1 >= size)
                        return -EMSGSIZE;
                int r = wait_fd(fd, POLLIN, deadline);
                if (r < 0)
                        return r;
                ssize_t k = recv(fd, buf + len, size - 1 - len, MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EPIPE;
                len += (size_t) k;
        }
}

static int dup_string(json_object *reply, const char *key, char **ret) {
        json_object *o;
        if (!json_object_object_get_ex(reply, key, &o) || !json_object_is_type(o, json_type_string))
                return -EBADMSG;
        const char *s = json_object_get_string(o);
        *ret = untrusted_sanitize(s, strlen(s), POLICY_MAX_NAME);
        return *ret ? 0 : -ENOMEM;
}

static int parse_reply(const char *line, PrintVerdict *ret, char **ret_error) {
        _cleanup_(json_object_putp) json_object *reply = json_tokener_parse(line);
        json_object *o;

        if (!reply || !json_object_is_type(reply, json_type_object) ||
            !json_object_object_get_ex(reply, "ok", &o) || !json_object_is_type(o, json_type_boolean))
                return -EBADMSG;
        if (!json_object_get_boolean(o)) {
                if (ret_error) {
                        const char *e = json_object_object_get_ex(reply, "error", &o) &&
                                                        json_object_is_type(o, json_type_string)
                                                ? json_object_get_string(o)
                                                : "error";
                        *ret_error = untrusted_sanitize(e, strlen(e), POLICY_MAX_NAME);
                }
                return -EREMOTEIO;
        }
        if (!json_object_object_get_ex(reply, "allow", &o) || !json_object_is_type(o, json_type_boolean))
                return -EBADMSG;

        _cleanup_(print_verdict_done) PrintVerdict v = { .allow = json_object_get_boolean(o),
                                                         .source = PRINT_SOURCE_DAEMON };
        if (json_object_object_get_ex(reply, "audit", &o))
                v.audit = json_object_get_boolean(o);
        if (json_object_object_get_ex(reply, "sequence", &o) && json_object_is_type(o, json_type_int))
                v.sequence = json_object_get_uint64(o);
        int r = dup_string(reply, "rule", &v.rule);
        if (r >= 0)
                r = dup_string(reply, "reason", &v.reason);
        if (r < 0)
                return r;
        *ret = v;
        v = (PrintVerdict) {};
        return 0;
}

int print_job_ask_daemon(const char *runtime_dir, const PrintJob *job, int timeout_msec, PrintVerdict *ret,
                         char **ret_error) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_(json_object_putp) json_object *req = NULL;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *line = NULL, *buf = NULL;
        int64_t deadline = now_msec() + timeout_msec;
        int r;

        int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", runtime_dir, CONTROL_SOCKET_NAME);
        if (n < 0 || (size_t) n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* A local stream socket connects at once or fails (ENOENT, ECONNREFUSED, EAGAIN when the
         * daemon's backlog is full). */
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;

        req = build_request(job);
        if (!req)
                return -ENOMEM;
        const char *s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s || asprintf(&line, "%s\n", s) < 0)
                return -ENOMEM;
        r = send_all(fd, line, strlen(line), deadline);
        if (r < 0)
                return r;

        buf = malloc(PRINT_REPLY_MAX);
        if (!buf)
                return -ENOMEM;
        r = read_line(fd, buf, PRINT_REPLY_MAX, deadline);
        if (r < 0)
                return r;
        return parse_reply(buf, ret, ret_error);
}

/* CUPS user names that look like uids are not resolved as uids: "0" is not root. */
static bool is_all_digits(const char *s) {
        if (isempty(s))
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

int print_job_decide(const Policy *policy, const PrintJob *job, PrintVerdict *ret) {
        _cleanup_(mn_subject_freep) MnSubject *subject = NULL;
        PrintDecision d;

        if (job->user && !is_all_digits(job->user) && mn_subject_new(job->user, &subject) < 0)
                subject = NULL; /* unknown user: decided as nobody, so user rules do not apply */
        policy_decide_print(policy, job->queue ?: "", subject ? &subject->subject : NULL,
                            print_job_total_pages(job), &d);

        _cleanup_(print_verdict_done) PrintVerdict v = {
                .allow = d.access == PRINT_ALLOW || d.audit,
                .audit = d.audit,
                .source = PRINT_SOURCE_SNAPSHOT,
        };
        v.rule = strdup(d.rule);
        v.reason = strdup(d.reason);
        if (!v.rule || !v.reason)
                return -ENOMEM;
        *ret = v;
        v = (PrintVerdict) {};
        return 0;
}
