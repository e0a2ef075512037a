/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: a CUPS job as the mnguard backend receives it (print/mnguard-backend.c main()), all
 * of it chosen by whoever submits the job or set up the queue. The input is NUL-separated fields:
 *   DEVICE_URI, job-id, user, title, copies, options, PRINTER, CONTENT_TYPE, pages, contact, detail
 * handled as the backend does: the device URI unwrapped and its inner backend named, the numbers parsed,
 * the strings bounded (print_job_set_string), the job decided from a policy snapshot
 * (print_job_decide), the request for the daemon built and parsed as the daemon parses it, and the
 * message a cancelled job shows built (print_message_build).
 * Invariants: job strings are valid UTF-8 within their bounds, which the daemon's verb accepts; the page
 * total saturates; the argv[0] shown for the inner backend never keeps a password; the user's message
 * is one line of valid UTF-8 within its bound. */
#include <errno.h>
#include <json-c/json.h>
#include <string.h>

#include "control.h"
#include "fuzz-util.h"
#include "macro.h"
#include "print-job.h"
#include "print-message.h"
#include "print-uri.h"
#include "strutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { F_URI, F_JOB_ID, F_USER, F_TITLE, F_COPIES, F_OPTIONS, F_PRINTER, F_CONTENT_TYPE, F_PAGES, F_CONTACT,
       F_DETAIL, _F_MAX };

static const char policy_text[] =
        "mnguard-policy: 1\nserial: 7\nname: fuzz print\ncontact: \"情報政策課 内線 1234\"\n"
        "print:\n"
        "  - {name: \"2F 複合機\", printer: \"mn-floor2-*\", users: [\"@mn-operators\", root], access: allow, max-pages: 100}\n"
        "  - {name: export, printer: \"pdf*\", access: block}\n"
        "  - {name: rest, printer: \"*\", access: allow, max-pages: 5}\n";

static Policy *policy;

static void check_job_string(const char *s, size_t max) {
        FUZZ_CHECK(s);
        FUZZ_CHECK(strlen(s) <= max + 3); /* plus "…" */
        FUZZ_CHECK(utf8_is_valid(s, strlen(s), NULL));
}

/* The request print_job_ask_daemon() sends (print-job.c build_request()), parsed as the daemon does. */
static void check_request(const PrintJob *job) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "verb", json_object_new_string("print-job"));
        json_object_object_add(o, "queue", json_object_new_string(job->queue ?: ""));
        json_object_object_add(o, "user", json_object_new_string(job->user));
        json_object_object_add(o, "title", json_object_new_string(job->title));
        json_object_object_add(o, "format", json_object_new_string(job->format));
        json_object_object_add(o, "job_id", json_object_new_uint64(job->job_id));
        json_object_object_add(o, "copies", json_object_new_uint64(job->copies));
        json_object_object_add(o, "pages", json_object_new_uint64(job->doc.pages));
        json_object_object_add(o, "device_uri_scheme", json_object_new_string(job->scheme));
        const char *line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        json_object *req = NULL;
        const char *verb = NULL, *s;
        uint64_t v;
        FUZZ_CHECK(control_request_parse(line, strlen(line), &req, &verb) == 0 && streq(verb, "print-job"));
        /* the bounds of daemon-verbs.c verb_print_job() */
        FUZZ_CHECK(control_arg_string(req, "queue", 256, &s) == 0 && s);
        FUZZ_CHECK(control_arg_string(req, "user", 256, &s) == 0 && s);
        FUZZ_CHECK(control_arg_string(req, "title", 1024, &s) == 0 && s);
        FUZZ_CHECK(control_arg_string(req, "format", 256, &s) == 0 && s);
        FUZZ_CHECK(control_arg_string(req, "device_uri_scheme", 64, &s) == 0 && s);
        FUZZ_CHECK(control_arg_u64(req, "job_id", &v) == 0 && v == job->job_id);
        FUZZ_CHECK(control_arg_u64(req, "copies", &v) == 0 && v == job->copies);
        json_object_put(req);
        json_object_put(o);
}

static void check_message(PrintProblem problem, const PrintVerdict *v, uint32_t pages, const char *contact,
                          const char *detail) {
        char *msg = NULL;
        int r = print_message_build(problem, v, pages, contact, detail, &msg);
        if (r == -ENOMEM)
                return;
        FUZZ_CHECK(r == 0);
        size_t n = strlen(msg);
        FUZZ_CHECK(n <= PRINT_MESSAGE_MAX + 3);
        FUZZ_CHECK(utf8_is_valid(msg, n, NULL));
        for (size_t i = 0; i < n; i++)
                FUZZ_CHECK((unsigned char) msg[i] >= 0x20 && msg[i] != 0x7f);
        free(msg);
}

static void check_uri(const char *uri, PrintJob *job) {
        char *inner = NULL, *argv0 = NULL, *again = NULL, *stripped = NULL, *stripped0 = NULL;
        if (print_uri_unwrap(uri, &inner) < 0)
                return;
        if (print_uri_scheme(inner, job->scheme, sizeof(job->scheme)) < 0)
                goto finish;
        FUZZ_CHECK(job->scheme[0] && strlen(job->scheme) <= PRINT_SCHEME_MAX);
        FUZZ_CHECK(strncmp(inner, job->scheme, strlen(job->scheme)) == 0 && inner[strlen(job->scheme)] == ':');
        job->export = print_uri_is_export(inner);
        (void) print_uri_is_discard(inner);
        if (print_uri_sanitize(inner, &argv0) < 0 || print_uri_sanitize(argv0, &again) < 0 ||
            print_uri_strip_userinfo(inner, &stripped) < 0 || print_uri_strip_userinfo(argv0, &stripped0) < 0)
                goto finish;
        /* what is left of the user info is the user name alone: sanitizing again changes nothing, and
         * only the user info was touched */
        FUZZ_CHECK(streq(argv0, again));
        FUZZ_CHECK(streq(stripped, stripped0));
        FUZZ_CHECK(strlen(argv0) <= strlen(inner));
finish:
        free(inner);
        free(argv0);
        free(again);
        free(stripped);
        free(stripped0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *f[_F_MAX];
        PrintJob job = {};
        PrintVerdict v = {};
        uint64_t pages = 0;

        if (!policy) {
                PolicyDiagnostics d;
                FUZZ_CHECK(policy_parse(policy_text, strlen(policy_text), &policy, &d) == 0);
                policy_diagnostics_clear(&d);
        }
        size_t n = fuzz_split(data, size, 0, f, _F_MAX);
        if (n <= F_TITLE)
                goto finish;

        check_uri(f[F_URI], &job);
        if (parse_u64(f[F_JOB_ID], &job.job_id) < 0)
                job.job_id = 0;
        if (!f[F_COPIES] || parse_u64(f[F_COPIES], &job.copies) < 0)
                job.copies = 1;
        if (f[F_PAGES] && parse_u64(f[F_PAGES], &pages) == 0)
                job.doc.pages = pages > UINT32_MAX ? UINT32_MAX : (uint32_t) pages;
        if (print_job_set_string(&job.queue, f[F_PRINTER] ?: "", PRINT_QUEUE_MAX) < 0 ||
            print_job_set_string(&job.user, f[F_USER], PRINT_USER_MAX) < 0 ||
            print_job_set_string(&job.title, f[F_TITLE], PRINT_TITLE_MAX) < 0 ||
            print_job_set_string(&job.format, f[F_CONTENT_TYPE] ?: "application/octet-stream", PRINT_FORMAT_MAX) < 0)
                goto finish;
        check_job_string(job.queue, PRINT_QUEUE_MAX);
        check_job_string(job.user, PRINT_USER_MAX);
        check_job_string(job.title, PRINT_TITLE_MAX);
        check_job_string(job.format, PRINT_FORMAT_MAX);
        check_request(&job);

        uint32_t total = print_job_total_pages(&job);
        unsigned __int128 exact = (unsigned __int128) job.doc.pages * (job.copies ?: 1);
        FUZZ_CHECK(total == (exact > UINT32_MAX ? UINT32_MAX : (uint32_t) exact));

        if (print_job_decide(policy, &job, &v) < 0)
                goto finish;
        FUZZ_CHECK(v.rule && v.reason && v.source == PRINT_SOURCE_SNAPSHOT);
        for (PrintProblem p = PRINT_PROBLEM_DENIED; p <= PRINT_PROBLEM_DAEMON; p++)
                check_message(p, &v, total, f[F_CONTACT], f[F_DETAIL]);
        /* a daemon's verdict: its rule and reason are strings the daemon wrote */
        free(v.rule);
        v.rule = strdup(f[F_TITLE]);
        check_message(PRINT_PROBLEM_DENIED, &v, total, policy->contact, f[F_USER]);
finish:
        print_verdict_done(&v);
        print_job_done(&job);
        fuzz_fields_free(f, _F_MAX);
        return 0;
}
