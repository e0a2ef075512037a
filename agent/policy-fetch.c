/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The policy long-poll (docs/daemon.md "Policy delivery"): a worker thread waits until the reporter has
 * enrolled, then asks GET /v1/policy?serial=N&tickets-after=M&wait=55 over and over on its own kept-alive
 * connection. What a reply brings is decoded on the thread and handed to the event loop, which offers the
 * policy to the manager (signature, serial, atomic apply, events) and imports the tickets; the thread
 * waits for that answer, so that the next request names the serial in force. */
#include "policy-fetch.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "event.h"
#include "fileio.h"
#include "log.h"
#include "manager.h"
#include "reporter-internal.h"
#include "reporter.h"
#include "strutil.h"

#define POLICY_FETCH_URL_MAX 1024
#define POLICY_FETCH_MAX_FAILURES 8     /* queued for the loop; more are dropped (each is logged) */

/* One reply handed to the loop: the thread waits until the loop has answered. */
typedef struct Delivery {
        PolicyFetchReply reply;
        /* the loop's answer */
        bool answered;
        uint64_t in_force;              /* the serial in force afterwards */
        uint64_t rejected;              /* the serial of a policy refused (0: none) */
        bool transient;                 /* the policy could not be considered (out of memory): ask again */
} Delivery;

struct PolicyFetch {
        Manager *m;
        sd_event_source *efd_source;
        int efd;
        pthread_t thread;
        bool thread_started;

        char *base_url, *host_id, *state_dir, *key_path, *cert_path, *ca_path, *state_path;
        uint64_t tickets_after;         /* thread only, after the start */

        pthread_mutex_t lock;
        pthread_cond_t cond;
        atomic_bool stop;               /* also read by the transfer progress callback */
        ReporterSockets sockets;        /* the thread's connection: shut down at stop */
        /* under lock */
        uint64_t in_force;              /* loop → thread: the manager's serial, refreshed at every hand-over */
        Delivery *delivery;             /* thread → loop */
        char failures[POLICY_FETCH_MAX_FAILURES][REPORTER_REASON_MAX];
        size_t n_failures;
};

/* ---- state file: the last ticket id received, per host and collector ---- */

static uint64_t state_load(PolicyFetch *f) {
        _cleanup_free_ char *data = NULL;
        uint64_t after = 0;
        if (read_full_file(f->state_path, POLICY_FETCH_STATE_MAX, &data, NULL) < 0)
                return 0;
        json_object *o = json_tokener_parse(data), *h, *u, *t;
        /* another host id (a cloned image) or another collector: their ids mean nothing here */
        if (o && json_object_object_get_ex(o, "host_id", &h) && json_object_is_type(h, json_type_string) &&
            streq(json_object_get_string(h), f->host_id) && json_object_object_get_ex(o, "collector", &u) &&
            json_object_is_type(u, json_type_string) && streq(json_object_get_string(u), f->base_url) &&
            json_object_object_get_ex(o, "tickets_after", &t) && json_object_is_type(t, json_type_int) &&
            json_object_get_int64(t) >= 0)
                after = json_object_get_uint64(t);
        json_object_put(o);
        return after;
}

static void state_save(PolicyFetch *f) {
        json_object *o = json_object_new_object();
        if (!o)
                return;
        json_object_object_add(o, "host_id", json_object_new_string(f->host_id));
        json_object_object_add(o, "collector", json_object_new_string(f->base_url));
        json_object_object_add(o, "tickets_after", json_object_new_uint64(f->tickets_after));
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        int r = s ? write_file_atomic(f->state_path, s, strlen(s), 0600) : -ENOMEM;
        if (r < 0)
                log_warning_errno(r, "Cannot write %s, ignoring (tickets may be offered again after a restart): %m",
                                  f->state_path);
        json_object_put(o);
}

/* ---- loop side ---- */

static void record_policy_refusal(Manager *m, const char *reason, uint64_t serial) {
        log_warning("Policy %llu from the collector refused: %s.", (unsigned long long) serial, reason);
        json_object *ev = mn_event_new("policy-rejected", MN_OUTCOME_FAILURE, reason);
        json_object *mg = mn_event_section(ev, "mnguard");
        mn_event_set_string(mg, "offered_origin", "collector");
        json_object_object_add(mg, "offered_serial", json_object_new_uint64(serial));
        manager_log(m, ev, (uid_t) -1, NULL);
}

/* Like an import: the policy in force is kept as the configured one too, so that a restart or a reload
 * finds these bytes instead of an older file (refused, and recorded, as a rollback). Signature first: a
 * policy.yaml without its .sig is refused. */
static void keep_as_config(Manager *m, const PolicyFetchReply *p) {
        _cleanup_free_ char *cfg = NULL, *cfg_sig = NULL;
        int r;
        if (asprintf(&cfg, "%s/policy.yaml", m->config_dir) < 0 ||
            asprintf(&cfg_sig, "%s/policy.yaml.sig", m->config_dir) < 0) {
                log_oom();
                return;
        }
        if ((r = write_file_atomic(cfg_sig, p->signature, p->signature_size, 0644)) < 0 ||
            (r = write_file_atomic(cfg, p->policy, p->policy_size, 0644)) < 0)
                log_warning_errno(r, "Policy from the collector in force, but cannot write it to %s: %m",
                                  m->config_dir);
}

static void apply_policy(PolicyFetch *f, Delivery *d) {
        Manager *m = f->m;
        const PolicyFetchReply *p = &d->reply;
        _cleanup_free_ char *reason = NULL;

        if (!p->policy) {
                record_policy_refusal(m, p->policy_error ?: "policy from the collector: not usable", p->policy_serial);
                d->rejected = p->policy_serial;
                return;
        }
        /* unlike a local file, a policy from the network is never taken unsigned */
        if (!m->require_signature || m->n_trusted == 0) {
                record_policy_refusal(m, "no trusted policy keys (policy-signing.pub): a policy from the collector "
                                      "cannot be checked", p->policy_serial);
                d->rejected = p->policy_serial;
                return;
        }
        int r = manager_offer_policy(m, p->policy, p->policy_size, p->signature, p->signature_size, "collector",
                                     &reason);
        if (r == -ENOMEM) {
                d->transient = true;
                return;
        }
        if (r < 0) {
                d->rejected = p->policy_serial;
                return;
        }
        if (r > 0)
                keep_as_config(m, p);
}

static void import_tickets(PolicyFetch *f, Delivery *d) {
        Manager *m = f->m;
        for (size_t i = 0; i < d->reply.n_tickets; i++) {
                const PolicyFetchTicket *t = &d->reply.tickets[i];
                if (!t->data) {
                        log_warning("Ticket %llu from the collector refused: %s.", (unsigned long long) t->id,
                                    t->error);
                        json_object *ev = mn_event_new("exception-rejected", MN_OUTCOME_FAILURE, t->error);
                        json_object_object_add(mn_event_section(ev, "mnguard"), "collector_ticket",
                                               json_object_new_uint64(t->id));
                        manager_log(m, ev, (uid_t) -1, NULL);
                        continue;
                }
                _cleanup_free_ char *msg = NULL;
                int r = manager_import_exception(m, t->data, t->size, &msg);
                if (r < 0)
                        log_warning("Ticket %llu from the collector refused: %s.", (unsigned long long) t->id,
                                    msg ?: "refused");
                else
                        log_info("Ticket %llu from the collector: %s.", (unsigned long long) t->id, msg ?: "granted");
        }
}

static int on_efd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        PolicyFetch *f = userdata;
        uint64_t v;
        (void) !read(f->efd, &v, sizeof(v));

        char failures[POLICY_FETCH_MAX_FAILURES][REPORTER_REASON_MAX];
        pthread_mutex_lock(&f->lock);
        size_t n = f->n_failures;
        memcpy(failures, f->failures, sizeof(failures[0]) * n);
        f->n_failures = 0;
        Delivery *d = f->delivery && !f->delivery->answered ? f->delivery : NULL;
        pthread_mutex_unlock(&f->lock);

        for (size_t i = 0; i < n; i++) {
                json_object *ev = mn_event_new("policy-fetch-failed", MN_OUTCOME_FAILURE, failures[i]);
                manager_log(f->m, ev, (uid_t) -1, NULL);
        }
        /* the thread waits for the answer meanwhile: d is not touched by it until answered */
        if (d) {
                if (d->reply.has_policy)
                        apply_policy(f, d);
                import_tickets(f, d);
        }
        pthread_mutex_lock(&f->lock);
        f->in_force = f->m->policy ? f->m->policy->serial : 0;
        if (d) {
                d->in_force = f->in_force;
                d->answered = true;
                pthread_cond_signal(&f->cond);
        }
        pthread_mutex_unlock(&f->lock);
        return 0;
}

/* ---- thread side ---- */

typedef struct Worker {
        PolicyFetch *f;
        ReporterHttp http;
        ReporterReply *reply;
        bool enrolled;
        uint64_t rejected;              /* the highest serial refused: not asked for again */
        uint64_t backoff_usec;
        char last_failure[REPORTER_REASON_MAX];
} Worker;

static void wake_loop(PolicyFetch *f) {
        uint64_t one = 1;
        (void) !write(f->efd, &one, sizeof(one));
}

/* Records a failure as an event (once per distinct reason until something works again). */
static void post_failure(Worker *w, const char *reason) {
        PolicyFetch *f = w->f;
        log_warning("Policy from the collector: %s", reason);
        if (streq(w->last_failure, reason))
                return;
        snprintf(w->last_failure, sizeof(w->last_failure), "%s", reason);
        pthread_mutex_lock(&f->lock);
        if (f->n_failures < POLICY_FETCH_MAX_FAILURES)
                snprintf(f->failures[f->n_failures++], REPORTER_REASON_MAX, "%s", reason);
        pthread_mutex_unlock(&f->lock);
        wake_loop(f);
}

static bool backoff_to(Worker *w, uint64_t max_usec) {
        uint64_t delay = reporter_backoff_next(&w->backoff_usec, max_usec);
        return reporter_wait_until(&w->f->lock, &w->f->cond, &w->f->stop, now_mono_usec() + delay);
}

static bool backoff(Worker *w) {
        return backoff_to(w, REPORTER_BACKOFF_MAX_USEC);
}

/* A new handle: no connection (nor TLS session) made with credentials that were refused or replaced is
 * used again. */
static int renew_handle(Worker *w) {
        if (w->http.curl)
                mn_curl->easy_cleanup(w->http.curl);
        w->http.curl = mn_curl->easy_init();
        return w->http.curl ? 0 : -ENOMEM;
}

/* A reply other than 200. Returns false on stop. */
static bool handle_error(Worker *w) {
        ReporterReply *reply = w->reply;
        char code[64], reason[REPORTER_REASON_MAX];
        if (atomic_load(&w->f->stop))
                return false;
        if (renew_handle(w) < 0) {
                log_oom();
                return backoff(w);
        }
        if (reply->status == 0) {
                if (reply->too_big) {
                        snprintf(reason, sizeof(reason), "reply refused: %.200s", reply->error);
                        post_failure(w, reason);
                } else
                        log_warning("Collector unreachable (policy): %s; retrying.", reply->error);
                return backoff(w);
        }
        reporter_reply_error_code(reply, code, sizeof(code));
        if (reporter_status_retryable(reply->status)) {
                log_warning("Collector answered HTTP %ld %s to the policy request; retrying.", reply->status, code);
                return backoff(w);
        }
        snprintf(reason, sizeof(reason), "policy request refused: HTTP %ld %s", reply->status, code);
        post_failure(w, reason);
        if (reply->status == 403 && strncmp(code, "client-certificate-", 19) == 0) {
                /* the reporter enrolls again (it gets the same answer): wait for new credentials */
                w->enrolled = false;
                return backoff(w);
        }
        /* not retried as is: the longest backoff */
        w->backoff_usec = REPORTER_BACKOFF_MAX_USEC;
        return backoff(w);
}

/* Hands d to the loop and waits for its answer. false on stop. */
static bool deliver(PolicyFetch *f, Delivery *d) {
        pthread_mutex_lock(&f->lock);
        f->delivery = d;
        pthread_mutex_unlock(&f->lock);
        wake_loop(f);
        pthread_mutex_lock(&f->lock);
        while (!atomic_load(&f->stop) && !d->answered)
                pthread_cond_wait(&f->cond, &f->lock);
        f->delivery = NULL;
        bool ok = d->answered;
        pthread_mutex_unlock(&f->lock);
        return ok;
}

static void *fetch_thread(void *userdata) {
        PolicyFetch *f = userdata;
        _cleanup_(reporter_reply_freep) ReporterReply *reply = NULL;
        Worker w = { .f = f, .http.stop = &f->stop, .http.sockets = &f->sockets };
        char url[POLICY_FETCH_URL_MAX + 128];

        if (reporter_reply_new(POLICY_FETCH_REPLY_MAX, &reply) < 0 || renew_handle(&w) < 0) {
                log_oom();
                goto out;
        }
        w.reply = reply;
        while (!atomic_load(&f->stop)) {
                if (!w.enrolled) {
                        /* the reporter's thread enrolls; its credentials are used here once they exist */
                        w.enrolled = reporter_enrolled(f->state_dir, f->host_id);
                        if (!w.enrolled) {
                                if (!backoff_to(&w, POLICY_FETCH_ENROLL_WAIT_MAX_USEC))
                                        break;
                                continue;
                        }
                        w.backoff_usec = 0;
                }

                pthread_mutex_lock(&f->lock);
                uint64_t in_force = f->in_force;
                pthread_mutex_unlock(&f->lock);
                /* a refused serial is not asked for again: the collector holds the request until a newer one */
                uint64_t serial = in_force > w.rejected ? in_force : w.rejected;
                uint64_t after = f->tickets_after;
                snprintf(url, sizeof(url), "%s/v1/policy?serial=%llu&tickets-after=%llu&wait=%d", f->base_url,
                         (unsigned long long) serial, (unsigned long long) after, POLICY_FETCH_WAIT_SEC);

                uint64_t start = now_mono_usec();
                int r = reporter_http_get(&w.http, url, f->ca_path, f->cert_path, f->key_path,
                                          POLICY_FETCH_TIMEOUT_SEC, reply);
                if (r < 0) {
                        log_warning_errno(r, "Cannot ask the collector for the policy: %m");
                        if (!backoff(&w))
                                break;
                        continue;
                }
                if (reply->status != 200) {
                        if (!handle_error(&w))
                                break;
                        continue;
                }

                Delivery d = {};
                const char *error = NULL;
                r = policy_fetch_reply_parse(reply->body, reply->size, after, &d.reply, &error);
                if (r < 0) {
                        char reason[REPORTER_REASON_MAX];
                        snprintf(reason, sizeof(reason), "collector reply refused: %s", error);
                        post_failure(&w, reason);
                        if (!backoff(&w))
                                break;
                        continue;
                }
                bool news = d.reply.has_policy || d.reply.n_tickets > 0;
                if (news && !deliver(f, &d)) {
                        policy_fetch_reply_clear(&d.reply);
                        break;
                }
                if (d.rejected > w.rejected)
                        w.rejected = d.rejected;
                bool transient = d.transient;
                uint64_t next_after = d.reply.tickets_after;
                policy_fetch_reply_clear(&d.reply);
                if (next_after != f->tickets_after) {
                        f->tickets_after = next_after;
                        state_save(f);
                }

                uint64_t now_in_force = news ? d.in_force : in_force;
                uint64_t next_serial = now_in_force > w.rejected ? now_in_force : w.rejected;
                bool progress = next_serial != serial || next_after != after;
                if (transient || (news && !progress) ||
                    (!news && now_mono_usec() - start < POLICY_FETCH_QUICK_USEC)) {
                        /* the same answer again at once (a collector stopping, or one that does not hold the
                         * request): not in a tight loop */
                        if (!backoff(&w))
                                break;
                        continue;
                }
                w.backoff_usec = 0;
                w.last_failure[0] = 0;
        }
out:
        if (w.http.curl)
                mn_curl->easy_cleanup(w.http.curl);
        return NULL;
}

/* ---- lifetime ---- */

static char *join(const char *dir, const char *file) {
        char *p = NULL;
        return asprintf(&p, "%s/%s", dir, file) < 0 ? NULL : p;
}

int policy_fetch_new(Manager *m, PolicyFetch **ret) {
        *ret = NULL;
        if (!m->conf.collector_url || !m->conf.collector_ca)
                return 0;       /* start_reporter() says why when only the CA is missing */
        if (strlen(m->conf.collector_url) > POLICY_FETCH_URL_MAX)
                return -EINVAL;

        _cleanup_(policy_fetch_freep) PolicyFetch *f = calloc(1, sizeof(PolicyFetch));
        if (!f)
                return -ENOMEM;
        f->efd = -EBADF;
        f->m = m;
        pthread_mutex_init(&f->lock, NULL);
        reporter_sockets_init(&f->sockets);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&f->cond, &ca);
        pthread_condattr_destroy(&ca);

        f->base_url = strdup(m->conf.collector_url);
        if (!f->base_url)
                return -ENOMEM;
        size_t n = strlen(f->base_url);
        while (n > 0 && f->base_url[n - 1] == '/')
                f->base_url[--n] = 0;
        f->host_id = strdup(m->identity.host_id);
        f->state_dir = strdup(m->state_dir);
        f->key_path = join(m->state_dir, REPORTER_KEY_FILE);
        f->cert_path = join(m->state_dir, REPORTER_CERT_FILE);
        f->ca_path = join(m->state_dir, REPORTER_CA_FILE);
        f->state_path = join(m->state_dir, POLICY_FETCH_STATE_FILE);
        if (!f->host_id || !f->state_dir || !f->key_path || !f->cert_path || !f->ca_path || !f->state_path)
                return -ENOMEM;
        f->tickets_after = state_load(f);
        f->in_force = m->policy ? m->policy->serial : 0;

        f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (f->efd < 0)
                return -errno;
        int k = sd_event_add_io(m->event, &f->efd_source, f->efd, EPOLLIN, on_efd, f);
        if (k < 0)
                return k;
        if ((k = mn_curl_load()) < 0)
                return k;
        k = pthread_create(&f->thread, NULL, fetch_thread, f);
        if (k != 0)
                return -k;
        f->thread_started = true;
        log_debug("Asking %s for the policy after serial %llu and tickets after %llu.", f->base_url,
                  (unsigned long long) f->in_force, (unsigned long long) f->tickets_after);
        *ret = TAKE_PTR(f);
        return 0;
}

PolicyFetch *policy_fetch_free(PolicyFetch *f) {
        if (!f)
                return NULL;
        if (f->thread_started) {
                pthread_mutex_lock(&f->lock);
                atomic_store(&f->stop, true);
                pthread_cond_broadcast(&f->cond);
                pthread_mutex_unlock(&f->lock);
                /* a request held open by the collector ends now, not at the next progress call */
                reporter_sockets_shutdown(&f->sockets);
                pthread_join(f->thread, NULL);
        }
        sd_event_source_disable_unref(f->efd_source);
        if (f->efd >= 0)
                close(f->efd);
        free(f->base_url);
        free(f->host_id);
        free(f->state_dir);
        free(f->key_path);
        free(f->cert_path);
        free(f->ca_path);
        free(f->state_path);
        reporter_sockets_done(&f->sockets);
        pthread_cond_destroy(&f->cond);
        pthread_mutex_destroy(&f->lock);
        free(f);
        return NULL;
}
