/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The reporter thread: enroll when needed, ask the collector for its ack (empty POST), send the journal
 * after it in bounded gzip batches, retry with exponential backoff and jitter. A Journal is used from one
 * thread only: the event loop reads the batches the thread asks for (fill()) and applies the acks it
 * hands back (callbacks). */
#include "reporter.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"
#include "macro.h"
#include "reporter-batch.h"
#include "reporter-internal.h"

#define REPORTER_URL_MAX 1024

typedef ReporterBatch Batch;

struct Reporter {
        sd_event_source *efd_source;
        int efd;
        pthread_t thread;
        bool thread_started;

        Journal *journal;               /* the daemon's; read on the loop only */
        unsigned batch_records;
        char *base_url, *ca, *token, *host_id, *host_name, *state_dir;
        char *key_path, *cert_path, *own_ca_path, *events_url;
        ReporterCallbacks cb;

        pthread_mutex_t lock;
        pthread_cond_t cond;
        atomic_bool stop;               /* also read by the transfer progress callback */
        /* thread → loop, under lock */
        bool ack_pending;
        uint64_t ack;
        char failures[REPORTER_MAX_FAILURES][REPORTER_REASON_MAX];
        size_t n_failures;
        /* batch hand-over, under lock: the thread asks for records after want_after; the loop answers
         * once there are some (or an error). want_id tells a newer request from the one the loop is reading
         * for (the thread may ask again meanwhile: the older answer is dropped). */
        bool want, batch_ready;
        bool want_idle;                 /* asked with nothing in flight (request_batch()) */
        bool backlog_read;              /* full batches were read since the memory was last given back */
        uint64_t want_after, want_id;
        Batch batch;
        int batch_error;
        CURLM *multi;                   /* the thread's, while it has one: woken when a batch is ready */
};

/* ---- loop side ---- */

static void fill(Reporter *r);

static int on_efd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Reporter *r = userdata;
        uint64_t v;
        (void) !read(r->efd, &v, sizeof(v));

        char failures[REPORTER_MAX_FAILURES][REPORTER_REASON_MAX];
        pthread_mutex_lock(&r->lock);
        bool has_ack = r->ack_pending;
        uint64_t ack = r->ack;
        size_t n = r->n_failures;
        memcpy(failures, r->failures, sizeof(failures[0]) * n);
        r->ack_pending = false;
        r->n_failures = 0;
        pthread_mutex_unlock(&r->lock);

        for (size_t i = 0; i < n; i++)
                if (r->cb.failed)
                        r->cb.failed(failures[i], r->cb.userdata);
        if (has_ack && r->cb.acked)
                r->cb.acked(ack, r->cb.userdata);
        fill(r);
        return 0;
}

/* Reads up to the batch bounds of records after `after`, in sequence order. Records of another host id
 * (a cloned image's history from before the clone) are passed over: the collector would refuse the whole
 * batch for them. Returns 1 when records were examined (b->last_sequence: the last one; b->n may be 0 when
 * all were passed over), 0 when there are none yet. */
int reporter_read_batch(Journal *j, const char *host_id, uint64_t after, unsigned max_records, Batch *b) {
        JournalStats st;
        int r;
        b->size = b->n = 0;
        b->last_sequence = b->last_own = 0;
        b->full = false;
        /* records before the journal's first one are gone (a journal set aside as corrupt): go on after */
        r = journal_get_stats(j, &st);
        if (r < 0)
                return r;
        if (st.first_sequence > after + 1)
                after = st.first_sequence - 1;
        JournalExportRange range = { .from_sequence = after + 1, .to_sequence = after + max_records,
                                     .snapshot = true };
        _cleanup_(journal_exporter_freep) JournalExporter *e = NULL;
        r = journal_exporter_new(j, &range, &e);
        if (r < 0)
                return r;
        const char *line;
        size_t len;
        size_t examined = 0;
        while ((r = journal_exporter_next(e, &line, &len)) > 0) {
                if (strncmp(line, "{\"mnguard_manifest\"", 19) == 0)
                        break;
                if (b->size + len + 1 > REPORTER_BATCH_MAX_BYTES && b->n > 0) {
                        b->full = true;
                        break;
                }
                examined++;
                uint64_t seq;
                bool ours;
                r = journal_exporter_record(e, host_id, &seq, &ours);
                if (r < 0)
                        return r;
                b->last_sequence = seq;
                if (!ours)
                        continue;
                if (b->size + len + 1 > b->alloc) {
                        size_t na = b->alloc ? b->alloc : 64 * 1024;
                        while (na < b->size + len + 1)
                                na *= 2;
                        char *nd = realloc(b->data, na);
                        if (!nd)
                                return -ENOMEM;
                        b->data = nd;
                        b->alloc = na;
                }
                memcpy(b->data + b->size, line, len);
                b->size += len;
                b->data[b->size++] = '\n';
                b->n++;
                b->last_own = seq;
        }
        if (r < 0)
                return r;
        if (examined >= max_records)
                b->full = true;
        return b->last_sequence > 0 ? 1 : 0;
}

/* The thread waits on the condition or in curl's poll: wakes both. Under r->lock. */
static void wake_thread(Reporter *r) {
        pthread_cond_signal(&r->cond);
        if (r->multi)
                mn_curl->multi_wakeup(r->multi);
}

/* On the loop: answers the thread's request for a batch once there are records for it. */
static void fill(Reporter *r) {
        pthread_mutex_lock(&r->lock);
        bool want = r->want && !r->batch_ready, idle = r->want_idle;
        uint64_t after = r->want_after, id = r->want_id;
        pthread_mutex_unlock(&r->lock);
        if (!want)
                return;
        Batch b = {};
        int k = reporter_read_batch(r->journal, r->host_id, after, r->batch_records, &b);
        if (k == 0) {
                free(b.data);
                if (idle && r->backlog_read) {
                        /* a backlog is sent and nothing is in flight: its pages and buffers go back (a
                         * resident daemon: RssAnon 2.7 MiB after a million records) */
                        r->backlog_read = false;
                        journal_release_memory(r->journal);
                        malloc_trim(0);
                }
                return;         /* nothing yet: answered after a later commit (reporter_wake) */
        }
        if (b.full)
                r->backlog_read = true;
        if (k < 0)
                log_warning_errno(k, "Cannot read the journal for the collector: %m");
        pthread_mutex_lock(&r->lock);
        if (r->want && r->want_id == id) {
                free(r->batch.data);
                r->batch = b;
                b.data = NULL;
                r->batch_error = k < 0 ? k : 0;
                r->batch_ready = true;
                wake_thread(r);
        }
        pthread_mutex_unlock(&r->lock);
        free(b.data);           /* asked again meanwhile: the newer request is answered next */
        fill(r);
}

void reporter_wake(Reporter *r) {
        if (!r)
                return;
        fill(r);
}

/* ---- thread side ---- */

static void post_ack(Reporter *r, uint64_t ack) {
        pthread_mutex_lock(&r->lock);
        r->ack = ack;
        r->ack_pending = true;
        pthread_mutex_unlock(&r->lock);
        uint64_t one = 1;
        (void) !write(r->efd, &one, sizeof(one));
}

typedef struct Worker {
        Reporter *r;
        ReporterHttp http;
        ReporterReply *reply;
        bool enrolled, synced;
        uint64_t acked, sent;           /* collector's ack; highest sequence sent since the last sync */
        uint64_t backoff_usec;
        char last_failure[REPORTER_REASON_MAX];
        bool can_follow;                /* the collector honours Mnguard-Follows (its last ack said so) */
        CURLM *multi;                   /* the batches and ack queries go through it (enrollment does not) */
} Worker;

/* Records a refusal as an event (once per distinct reason until something works again). */
static void post_failure(Worker *w, const char *reason) {
        Reporter *r = w->r;
        log_warning("Reporting to the collector: %s", reason);
        if (streq(w->last_failure, reason))
                return;
        snprintf(w->last_failure, sizeof(w->last_failure), "%s", reason);
        pthread_mutex_lock(&r->lock);
        if (r->n_failures < REPORTER_MAX_FAILURES)
                snprintf(r->failures[r->n_failures++], REPORTER_REASON_MAX, "%s", reason);
        pthread_mutex_unlock(&r->lock);
        uint64_t one = 1;
        (void) !write(r->efd, &one, sizeof(one));
}

/* Sleeps until deadline or stop. Returns false on stop. */
static bool wait_until(Reporter *r, uint64_t deadline) {
        return reporter_wait_until(&r->lock, &r->cond, &r->stop, deadline);
}

static bool backoff(Worker *w) {
        uint64_t delay = reporter_backoff_next(&w->backoff_usec, REPORTER_BACKOFF_MAX_USEC);
        return wait_until(w->r, now_mono_usec() + delay);
}

/* Handles a non-200 reply. Returns false to stop the thread. */
static bool handle_error(Worker *w, const char *what) {
        ReporterReply *reply = w->reply;
        char code[64], reason[REPORTER_REASON_MAX];
        if (atomic_load(&w->r->stop))
                return false;   /* the transfer was aborted for it */
        if (reply->status == 0) {
                log_warning("Collector unreachable (%s): %s; retrying.", what, reply->error);
                w->synced = false;
                return backoff(w);
        }
        reporter_reply_error_code(reply, code, sizeof(code));
        if (reporter_status_retryable(reply->status)) {
                log_warning("Collector answered HTTP %ld %s to %s; retrying.", reply->status, code, what);
                return backoff(w);
        }
        snprintf(reason, sizeof(reason), "%s refused: HTTP %ld %s", what, reply->status, code[0] ? code : "");
        post_failure(w, reason);
        w->synced = false;
        if (reply->status == 403 && strncmp(code, "client-certificate-", 19) == 0) {
                /* revoked, replaced or unknown: enroll again (with the usual backoff) */
                reporter_forget_enrollment(w->r->state_dir);
                w->enrolled = false;
                if (w->r->token)
                        return backoff(w);
        }
        /* not retried as is: wait the longest backoff before trying again */
        w->backoff_usec = REPORTER_BACKOFF_MAX_USEC;
        return backoff(w);
}

/* From a 200 reply: acked_sequence, and whether the collector honours Mnguard-Follows (a collector before
 * it would store a second batch in flight ahead of a first one that failed: a false gap). */
static int parse_ack(const ReporterReply *reply, uint64_t *ret, bool *ret_follows) {
        json_object *o = json_tokener_parse(reply->body), *v;
        int r = -EBADMSG;
        if (o && json_object_object_get_ex(o, "acked_sequence", &v) && json_object_is_type(v, json_type_int)) {
                int64_t a = json_object_get_int64(v);
                if (a >= 0) {
                        *ret = (uint64_t) a;
                        r = 0;
                }
        }
        if (r == 0 && ret_follows)
                *ret_follows = json_object_object_get_ex(o, "accepts_follows", &v) &&
                        json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
        json_object_put(o);
        return r;
}

/* Asks the loop for the records after `after` (a newer request replaces an unanswered one). */
static void ask_batch(Reporter *r, uint64_t after, bool idle) {
        pthread_mutex_lock(&r->lock);
        r->want_after = after;
        r->want_idle = idle;
        r->want_id++;
        r->want = true;
        r->batch_ready = false;
        r->batch_error = 0;
        free(r->batch.data);
        r->batch = (Batch) {};
        pthread_mutex_unlock(&r->lock);
        uint64_t one = 1;
        (void) !write(r->efd, &one, sizeof(one));
}

/* The loop's answer, when there is one: 1 with *b filled (the caller frees b->data), 0 not yet, -ECANCELED
 * on stop, -errno when the journal could not be read. */
static int take_batch(Reporter *r, Batch *b) {
        pthread_mutex_lock(&r->lock);
        int k = atomic_load(&r->stop) ? -ECANCELED : !r->batch_ready ? 0 : r->batch_error ?: 1;
        if (k > 0) {
                *b = r->batch;
                r->batch = (Batch) {};
        }
        if (k != 0) {
                r->want = r->batch_ready = false;
                r->batch_error = 0;
        }
        pthread_mutex_unlock(&r->lock);
        return k;
}

/* Asks the loop for the records after `after`; waits until it has some. As take_batch(), never 0. */
static int request_batch(Reporter *r, uint64_t after, Batch *b) {
        ask_batch(r, after, true);
        pthread_mutex_lock(&r->lock);
        while (!atomic_load(&r->stop) && !r->batch_ready)
                pthread_cond_wait(&r->cond, &r->lock);
        pthread_mutex_unlock(&r->lock);
        return take_batch(r, b);
}

/* A batch posted through curl's multi interface. While one is in flight and the journal holds more, the
 * next one goes out on a second connection naming the sequence it follows (Mnguard-Follows), once the first
 * is uploaded: the collector stores it once the first is stored, and refuses it (412, nothing stored) when
 * the first is not — so the agent reads and compresses a batch while the collector stores the one before,
 * and a failed batch is never followed by a stored one (no gap). Replies are handled in the order sent. */
typedef struct Flight {
        ReporterHttp *http;
        ReporterReply *reply;
        ReporterPost post;
        Batch b;
        uint64_t follows;               /* the Mnguard-Follows it was sent with, 0: none */
        bool busy;                      /* in the multi handle */
        bool done;                      /* finished: the outcome is in reply, not yet handled */
} Flight;

static int flight_start(Worker *w, CURLM *m, Flight *f, uint64_t follows) {
        Reporter *r = w->r;
        char extra[64];
        if (follows > 0)
                snprintf(extra, sizeof(extra), "Mnguard-Follows: %" PRIu64, follows);
        int k = reporter_http_post_start(f->http, r->events_url, r->own_ca_path, r->cert_path, r->key_path,
                                         "application/x-ndjson", true, f->b.data, f->b.size,
                                         follows > 0 ? extra : NULL, f->reply, &f->post);
        if (k < 0)
                return k;
        if (mn_curl->multi_add_handle(m, f->http->curl) != CURLM_OK) {
                reporter_http_post_end(f->http, &f->post, CURLE_OUT_OF_MEMORY, f->reply);
                return -ENOMEM;
        }
        f->follows = follows;
        f->busy = true;
        f->done = false;
        return 0;
}

/* Whether the whole body of a batch in flight has been sent. */
static bool flight_uploaded(const Flight *f) {
        curl_off_t up = 0;
        return f->busy && mn_curl->easy_getinfo(f->http->curl, CURLINFO_SIZE_UPLOAD_T, &up) == CURLE_OK &&
                up >= (curl_off_t) f->post.size;
}

/* Drives the transfers; marks those that finished. Returns whether one did. */
static bool pump(CURLM *m, Flight f[static 2]) {
        int running = 0, left;
        bool finished = false;
        mn_curl->multi_perform(m, &running);
        CURLMsg *msg;
        while ((msg = mn_curl->multi_info_read(m, &left)))
                for (size_t i = 0; i < 2; i++)
                        if (msg->msg == CURLMSG_DONE && f[i].busy && f[i].http->curl == msg->easy_handle) {
                                CURLcode cr = msg->data.result;
                                mn_curl->multi_remove_handle(m, f[i].http->curl);
                                reporter_http_post_end(f[i].http, &f[i].post, cr, f[i].reply);
                                f[i].busy = false;
                                f[i].done = finished = true;
                        }
        return finished;
}

static void flight_abort(CURLM *m, Flight *f) {
        if (f->busy) {
                mn_curl->multi_remove_handle(m, f->http->curl);
                reporter_http_post_end(f->http, &f->post, CURLE_ABORTED_BY_CALLBACK, f->reply);
        }
        free(f->b.data);
        f->b = (Batch) {};
        f->busy = f->done = false;
}

/* Posts body (the batch's records, or nothing: an ack query) to /v1/events on the first connection and waits
 * for the reply in w->reply, through the multi handle as the batches are (its connections are theirs). */
static int post_events(Worker *w, const char *body, size_t size) {
        Flight f[2] = { { .http = &w->http, .reply = w->reply, .b = { .data = (char *) body, .size = size } } };
        int k = flight_start(w, w->multi, &f[0], 0);
        if (k < 0)
                return k;
        while (!pump(w->multi, f))
                mn_curl->multi_poll(w->multi, NULL, 0, 1000, NULL);
        return 0;
}

typedef enum Outcome {
        OUTCOME_STORED,                 /* acked */
        OUTCOME_RESEND,                 /* 412 to a batch sent with Mnguard-Follows: send it again as the first */
        OUTCOME_FAILED,                 /* not stored: to be handled (handle_error() or the reply without ack) */
} Outcome;

/* The outcome of the batch sent first; applies the ack of a stored one. */
static Outcome flight_outcome(Worker *w, Flight *f) {
        ReporterReply *reply = f->reply;
        uint64_t ack;
        if (reply->status == 412 && f->follows > 0)
                return OUTCOME_RESEND;
        if (reply->status != 200 || parse_ack(reply, &ack, &w->can_follow) < 0)
                return OUTCOME_FAILED;
        w->backoff_usec = 0;
        w->last_failure[0] = 0;
        w->sent = f->b.last_sequence;
        if (ack != w->acked) {
                w->acked = ack;
                post_ack(w->r, ack);
        }
        log_debug("Collector stored %zu records up to %llu, acked %llu.", f->b.n,
                  (unsigned long long) f->b.last_sequence, (unsigned long long) ack);
        return OUTCOME_STORED;
}

/* After a failed batch (the one after it already abandoned): backoff or the failure recorded. Returns -1 to
 * go on (the caller syncs when handle_error() said so), -ECANCELED to stop. */
static int flight_failed(Worker *w, Flight *f) {
        if (f->reply->status == 200) {
                post_failure(w, "collector reply without acked_sequence");
                return backoff(w) ? -1 : -ECANCELED;
        }
        ReporterReply *saved = w->reply;
        w->reply = f->reply;
        bool go_on = handle_error(w, "event batch");
        w->reply = saved;
        return go_on ? -1 : -ECANCELED;
}

/* Sends the journal after the ack until something fails (then the caller syncs or backs off as handled) or
 * the thread stops (-ECANCELED). f[0] is sent first; f[1] follows it while it is in flight. */
static int deliver(Worker *w, CURLM *m, Flight f[static 2]) {
        Reporter *r = w->r;
        Batch next = {};                /* read, not sent yet */
        bool have_next = false, asked = false, ask_failed = false;
        int k = 0;

        while (!atomic_load(&r->stop)) {
                Flight *lead = &f[0], *follow = &f[1];
                if (lead->done) {
                        Outcome o = flight_outcome(w, lead);
                        lead->done = false;
                        ask_failed = false;
                        if (o != OUTCOME_STORED) {
                                /* the batch after it follows it: refused too, or stored already (its outcome
                                 * is not needed: the collector skips what it has) */
                                flight_abort(m, follow);
                                asked = false;
                        }
                        if (o == OUTCOME_RESEND) {
                                log_debug("Collector had not stored the records before %" PRIu64 " yet (412); "
                                          "sending them again.", lead->b.last_sequence);
                                free(next.data);
                                next = lead->b;
                                have_next = true;
                        } else
                                free(lead->b.data);
                        lead->b = (Batch) {};
                        if (o == OUTCOME_FAILED) {
                                k = flight_failed(w, lead);
                                break;
                        }
                        if (follow->busy || follow->done) {
                                Flight tmp = *lead;
                                *lead = *follow;
                                *follow = tmp;
                        }
                        continue;
                }
                if (!lead->busy) {
                        if (have_next) {
                                lead->b = next;
                                next = (Batch) {};
                                have_next = false;
                        } else {
                                asked = false;
                                k = request_batch(r, w->sent > w->acked ? w->sent : w->acked, &lead->b);
                                if (k == -ECANCELED)
                                        break;
                                if (k < 0) {
                                        k = backoff(w) ? -1 : -ECANCELED;
                                        break;
                                }
                        }
                        if (lead->b.n == 0) {
                                /* only another host's records (before a clone): nothing to send for them */
                                w->sent = lead->b.last_sequence;
                                free(lead->b.data);
                                lead->b = (Batch) {};
                                continue;
                        }
                        if (flight_start(w, m, lead, 0) < 0) {
                                log_oom();
                                free(lead->b.data);
                                lead->b = (Batch) {};
                                k = backoff(w) ? -1 : -ECANCELED;
                                break;
                        }
                }
                /* a backlog: read the next batch while this one is sent and stored */
                if (w->can_follow && lead->b.full && !follow->busy && !follow->done && !have_next && !asked &&
                    !ask_failed) {
                        ask_batch(r, lead->b.last_sequence, false);
                        asked = true;
                }
                bool finished = pump(m, f);
                if (asked) {
                        Batch b = {};
                        int t = take_batch(r, &b);
                        if (t == -ECANCELED)
                                break;
                        if (t != 0)
                                asked = false;
                        if (t < 0)
                                ask_failed = true;      /* not again until this lead is answered */
                        if (t > 0) {
                                next = b;
                                have_next = true;
                        }
                }
                /* sent once the first is uploaded, so that it rarely reaches the collector first */
                if (have_next && next.n > 0 && lead->busy && lead->b.last_own > 0 && !follow->busy &&
                    !follow->done && flight_uploaded(lead)) {
                        follow->b = next;
                        next = (Batch) {};
                        have_next = false;
                        if (flight_start(w, m, follow, lead->b.last_own) >= 0) {
                                log_debug("Sending records after %" PRIu64 " while those up to it are stored.",
                                          lead->b.last_own);
                                continue;
                        }
                        next = follow->b;       /* sent after the lead instead */
                        follow->b = (Batch) {};
                        have_next = true;
                }
                if (finished || lead->done)
                        continue;
                pthread_mutex_lock(&r->lock);
                bool ready = asked && r->want && r->batch_ready;
                pthread_mutex_unlock(&r->lock);
                if (!ready && (lead->busy || follow->busy))
                        mn_curl->multi_poll(m, NULL, 0, have_next && !flight_uploaded(lead) ? 5 : 1000, NULL);
        }
        if (atomic_load(&r->stop))
                k = -ECANCELED;
        free(next.data);
        flight_abort(m, &f[0]);
        flight_abort(m, &f[1]);
        return k;
}

/* Makes m (may be NULL) the thread's multi handle, the one the loop wakes, and closes old with its
 * connections. Returns m. */
static CURLM *multi_replace(Reporter *r, CURLM *old, CURLM *m) {
        pthread_mutex_lock(&r->lock);
        r->multi = m;
        pthread_mutex_unlock(&r->lock);
        if (old)
                mn_curl->multi_cleanup(old);
        return m;
}

static void *reporter_thread(void *userdata) {
        Reporter *r = userdata;
        _cleanup_(reporter_reply_freep) ReporterReply *reply = NULL, *reply2 = NULL;
        (void) reporter_reply_new(REPORTER_REPLY_MAX, &reply);
        (void) reporter_reply_new(REPORTER_REPLY_MAX, &reply2);
        Worker w = { .r = r, .reply = reply, .http.stop = &r->stop };
        ReporterHttp http2 = { .stop = &r->stop };
        char reason[REPORTER_REASON_MAX];

        w.http.curl = mn_curl->easy_init();
        http2.curl = mn_curl->easy_init();
        w.multi = multi_replace(r, NULL, mn_curl->multi_init());
        if (!reply || !reply2 || !w.http.curl || !http2.curl || !w.multi) {
                log_oom();
                goto out;
        }
        Flight f[2] = { { .http = &w.http, .reply = reply }, { .http = &http2, .reply = reply2 } };

        while (!atomic_load(&r->stop)) {
                if (!w.enrolled) {
                        w.enrolled = reporter_enrolled(r->state_dir, r->host_id);
                        if (!w.enrolled) {
                                if (!r->token) {
                                        post_failure(&w, "not enrolled with the collector and no enrollment "
                                                     "token in agent.conf");
                                        w.backoff_usec = REPORTER_BACKOFF_MAX_USEC;
                                        if (!backoff(&w))
                                                break;
                                        continue;
                                }
                                int k = reporter_enroll(&w.http, r->base_url, r->ca, r->token, r->host_id,
                                                        r->host_name, r->state_dir, reason, sizeof(reason));
                                if (k < 0) {
                                        if (k == -EAGAIN)
                                                log_warning("Collector: %s; retrying.", reason);
                                        else {
                                                post_failure(&w, reason[0] ? reason : "enrollment failed");
                                                w.backoff_usec = REPORTER_BACKOFF_MAX_USEC;
                                        }
                                        if (!backoff(&w))
                                                break;
                                        continue;
                                }
                                log_info("Enrolled with the collector %s as host %s.", r->base_url, r->host_id);
                                w.enrolled = true;
                                w.synced = false;
                                /* connections made with the credentials before stay in the multi handle's
                                 * pool, under the same file names: close them */
                                if (!(w.multi = multi_replace(r, w.multi, mn_curl->multi_init()))) {
                                        log_oom();
                                        goto out;
                                }
                        }
                }
                if (!w.synced) {
                        if (post_events(&w, NULL, 0) < 0 || reply->status != 200) {
                                if (reply->status == 200 || !handle_error(&w, "ack query"))
                                        break;
                                continue;
                        }
                        if (parse_ack(reply, &w.acked, &w.can_follow) < 0) {
                                post_failure(&w, "collector reply without acked_sequence");
                                if (!backoff(&w))
                                        break;
                                continue;
                        }
                        w.sent = w.acked;
                        w.synced = true;
                        post_ack(r, w.acked);
                }
                /* after the ack, or after what was sent since the last sync when the ack stays behind (a
                 * gap the collector keeps): never the same batch in a loop */
                if (deliver(&w, w.multi, f) == -ECANCELED)
                        break;
        }
out:
        multi_replace(r, w.multi, NULL);
        if (w.http.curl)
                mn_curl->easy_cleanup(w.http.curl);
        if (http2.curl)
                mn_curl->easy_cleanup(http2.curl);
        return NULL;
}

/* ---- lifetime ---- */

static char *join(const char *dir, const char *file) {
        char *p = NULL;
        return asprintf(&p, "%s/%s", dir, file) < 0 ? NULL : p;
}

int reporter_new(sd_event *e, const ReporterOptions *o, const ReporterCallbacks *cb, Reporter **ret) {
        _cleanup_(reporter_freep) Reporter *r = calloc(1, sizeof(Reporter));
        if (!r)
                return -ENOMEM;
        r->efd = -EBADF;
        pthread_mutex_init(&r->lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&r->cond, &ca);
        pthread_condattr_destroy(&ca);
        r->cb = *cb;

        if (!o->url || !o->ca || strlen(o->url) > REPORTER_URL_MAX)
                return -EINVAL;
        r->base_url = strdup(o->url);
        if (!r->base_url)
                return -ENOMEM;
        size_t n = strlen(r->base_url);
        while (n > 0 && r->base_url[n - 1] == '/')
                r->base_url[--n] = 0;
        r->ca = strdup(o->ca);
        r->token = o->token ? strdup(o->token) : NULL;
        r->host_id = strdup(o->host_id);
        r->host_name = strdup(o->host_name ?: "");
        r->state_dir = strdup(o->state_dir);
        r->journal = o->journal;
        r->batch_records = o->batch_records ?: REPORTER_BATCH_RECORDS_DEFAULT;
        if (r->batch_records < REPORTER_BATCH_RECORDS_MIN || r->batch_records > REPORTER_BATCH_RECORDS_MAX)
                return -EINVAL;
        r->key_path = join(o->state_dir, REPORTER_KEY_FILE);
        r->cert_path = join(o->state_dir, REPORTER_CERT_FILE);
        r->own_ca_path = join(o->state_dir, REPORTER_CA_FILE);
        if (asprintf(&r->events_url, "%s/v1/events", r->base_url) < 0)
                r->events_url = NULL;
        if (!r->ca || (o->token && !r->token) || !r->host_id || !r->host_name || !r->state_dir ||
            !r->journal || !r->key_path || !r->cert_path || !r->own_ca_path || !r->events_url)
                return -ENOMEM;

        r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (r->efd < 0)
                return -errno;
        int k = sd_event_add_io(e, &r->efd_source, r->efd, EPOLLIN, on_efd, r);
        if (k < 0)
                return k;
        if ((k = mn_curl_load()) < 0)
                return k;
        k = pthread_create(&r->thread, NULL, reporter_thread, r);
        if (k != 0)
                return -k;
        r->thread_started = true;
        *ret = TAKE_PTR(r);
        return 0;
}

Reporter *reporter_free(Reporter *r) {
        if (!r)
                return NULL;
        if (r->thread_started) {
                pthread_mutex_lock(&r->lock);
                atomic_store(&r->stop, true);
                wake_thread(r);
                pthread_mutex_unlock(&r->lock);
                pthread_join(r->thread, NULL);
        }
        sd_event_source_disable_unref(r->efd_source);
        if (r->efd >= 0)
                close(r->efd);
        if (r->token)
                explicit_bzero(r->token, strlen(r->token));
        free(r->base_url);
        free(r->ca);
        free(r->token);
        free(r->host_id);
        free(r->host_name);
        free(r->state_dir);
        free(r->batch.data);
        free(r->key_path);
        free(r->cert_path);
        free(r->own_ca_path);
        free(r->events_url);
        pthread_cond_destroy(&r->cond);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
}
