/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "manager.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "event.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "policy-fetch.h"
#include "policy-load.h"
#include "sign-io.h"
#include "snapshot.h"
#include "strutil.h"
#include "media-watch.h"
#include "usb-watch.h"

/* What an agent enforces with no policy at all: the parser's fail-closed defaults. */
static const char builtin_policy[] = "mnguard-policy: 1\nserial: 0\nname: built-in fail-closed defaults\n";

static char *path_join(const char *dir, const char *file) {
        char *p = NULL;
        return asprintf(&p, "%s/%s", dir, file) < 0 ? NULL : p;
}

int manager_new(const ManagerOptions *o, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = calloc(1, sizeof(Manager));
        if (!m)
                return -ENOMEM;
        const char *mid = getenv("MNGUARD_MACHINE_ID_FILE");
        m->config_dir = strdup(o->config_dir ?: MANAGER_CONFIG_DIR_DEFAULT);
        m->state_dir = strdup(o->state_dir ?: MANAGER_STATE_DIR_DEFAULT);
        m->runtime_dir = strdup(o->runtime_dir ?: MANAGER_RUNTIME_DIR_DEFAULT);
        m->machine_id_path = strdup(mid ?: MANAGER_MACHINE_ID_DEFAULT);
        if (!m->config_dir || !m->state_dir || !m->runtime_dir || !m->machine_id_path)
                return -ENOMEM;
        if (gethostname(m->hostname, sizeof(m->hostname) - 1) < 0)
                memcpy(m->hostname, "localhost", 10);
        int r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        m->stop_reason = "stopped";
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        m->policy_fetch = policy_fetch_free(m->policy_fetch); /* before the journal: it records into it */
        m->reporter = reporter_free(m->reporter); /* before the journal: it reports into it */
        m->usb = usb_watch_free(m->usb);
        m->media = media_watch_free(m->media);
        mn_removable_patterns_clear(&m->patterns);
        manager_exceptions_free(m);
        m->control = control_server_free(m->control);
        m->journal = journal_close(m->journal);
        sd_event_source_disable_unref(m->flush_timer);
        sd_event_source_disable_unref(m->post_source);
        sd_event_source_disable_unref(m->retention_timer);
        agent_conf_clear(&m->conf);
        policy_free(m->policy);
        free(m->policy_bytes);
        free(m->trusted);
        for (size_t i = 0; i < m->n_waiters; i++)
                json_object_put(m->waiters[i].reply);
        free(m->waiters);
        free(m->config_dir);
        free(m->state_dir);
        free(m->runtime_dir);
        free(m->machine_id_path);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

/* ---- journal and durability ---- */

/* Answers a client whose event is on disk: with reply (consumed), or {"sequence":N}. */
static int reply_durable(ControlClient *client, uint64_t sequence, json_object *reply) {
        json_object *o = reply ?: json_object_new_object();
        if (!reply)
                json_object_object_add(o, "sequence", json_object_new_uint64(sequence));
        return control_client_reply_ok(client, o);
}

static void manager_answer_waiters(Manager *m) {
        uint64_t durable = journal_durable_sequence(m->journal);
        size_t k = 0;
        for (size_t i = 0; i < m->n_waiters; i++) {
                Waiter *w = &m->waiters[i];
                if (w->sequence <= durable)
                        reply_durable(w->client, w->sequence, w->reply);
                else
                        m->waiters[k++] = *w;
        }
        m->n_waiters = k;
}

static int manager_flush(Manager *m) {
        int r = journal_flush(m->journal);
        if (r < 0)
                log_full_errno(LOG_WARNING, r, "Journal commit failed, events kept in memory and retried: %m");
        else
                reporter_wake(m->reporter);
        manager_answer_waiters(m);
        return r;
}

static void manager_schedule_flush(Manager *m);

static int on_flush_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        manager_flush(m);
        manager_schedule_flush(m);
        return 0;
}

/* Arms the timer for the journal's own deadline (its retry interval while writes fail). */
static void manager_schedule_flush(Manager *m) {
        uint64_t deadline = journal_flush_deadline(m->journal);
        if (deadline == UINT64_MAX) {
                if (m->flush_timer)
                        sd_event_source_set_enabled(m->flush_timer, SD_EVENT_OFF);
                return;
        }
        if (!m->flush_timer) {
                if (sd_event_add_time(m->event, &m->flush_timer, CLOCK_MONOTONIC, deadline, 0, on_flush_timer, m) < 0)
                        return;
        } else
                sd_event_source_set_time(m->flush_timer, deadline);
        sd_event_source_set_enabled(m->flush_timer, SD_EVENT_ONESHOT);
}

/* After every loop iteration: commit what this iteration appended (group commit) and answer those
 * waiting for it. */
static int on_post(sd_event_source *s, void *userdata) {
        Manager *m = userdata;
        /* the cheap "anything pending?" check: this runs after every loop iteration */
        if (journal_flush_deadline(m->journal) != UINT64_MAX) {
                manager_flush(m);
                manager_schedule_flush(m);
        }
        return 0;
}

int manager_log(Manager *m, json_object *ev, uid_t uid, uint64_t *ret_sequence) {
        /* a clone is often renamed after boot: the name is read for every event (one cheap syscall) */
        char name[sizeof(m->hostname)] = "";
        if (gethostname(name, sizeof(name) - 1) >= 0 && name[0])
                memcpy(m->hostname, name, sizeof(name));
        json_object *host = mn_event_section(ev, "host");
        mn_event_set_string(host, "id", m->identity.host_id);
        mn_event_set_untrusted(host, "name", m->hostname);
        json_object *mg = mn_event_section(ev, "mnguard");
        if (m->policy && !json_object_object_get_ex(mg, "policy_serial", NULL))
                json_object_object_add(mg, "policy_serial", json_object_new_uint64(m->policy->serial));

        uint64_t seq = 0;
        int r = journal_append(m->journal, ev, &seq);
        if (r < 0)
                log_full_errno(LOG_WARNING, r, "Event not journaled (counted as a gap): %m");
        else if (m->control)
                control_server_broadcast(m->control, ev, uid);
        json_object_put(ev);
        if (r < 0)
                return r;
        if (ret_sequence)
                *ret_sequence = seq;
        return 0;
}

int manager_reply_when_durable_with(Manager *m, ControlClient *client, uint64_t sequence, json_object *reply) {
        if (sequence <= journal_durable_sequence(m->journal))
                return reply_durable(client, sequence, reply);
        if (m->n_waiters >= MANAGER_MAX_WAITERS) {
                json_object_put(reply);
                return -EBUSY;
        }
        if (m->n_waiters % 256 == 0) {
                Waiter *w = realloc(m->waiters, (m->n_waiters + 256) * sizeof(Waiter));
                if (!w) {
                        json_object_put(reply);
                        return -ENOMEM;
                }
                m->waiters = w;
        }
        m->waiters[m->n_waiters++] = (Waiter) { client, sequence, reply };
        return 0;
}

int manager_reply_when_durable(Manager *m, ControlClient *client, uint64_t sequence) {
        return manager_reply_when_durable_with(m, client, sequence, NULL);
}

void manager_forget_client(Manager *m, ControlClient *client) {
        size_t k = 0;
        for (size_t i = 0; i < m->n_waiters; i++) {
                if (m->waiters[i].client != client)
                        m->waiters[k++] = m->waiters[i];
                else
                        json_object_put(m->waiters[i].reply);
        }
        m->n_waiters = k;
}

static void on_client_gone(ControlClient *c, void *userdata) {
        manager_forget_client(userdata, c);
}

/* ---- policy ---- */

/* The policy now in force: its serial (added by manager_log()), name, mode, origin, and signing key. */
static void log_policy_applied(Manager *m, const char *keyid) {
        json_object *ev = mn_event_new("policy-applied", MN_OUTCOME_SUCCESS, NULL);
        json_object *mg = mn_event_section(ev, "mnguard");
        mn_event_set_string(mg, "policy_name", m->policy->name);
        mn_event_set_string(mg, "policy_mode", policy_mode_to_string(m->policy->mode));
        mn_event_set_string(mg, "policy_origin", m->policy_origin);
        mn_event_set_string(mg, "key_id", keyid);
        manager_log(m, ev, (uid_t) -1, NULL);
}

/* Where a refused policy came from, as recorded in mnguard.offered_origin: "collector", "import"
 * (mnguardctl policy import) or "config" (policy.yaml at start or on SIGHUP: origin is its path). */
static const char *offered_origin(const char *origin) {
        return streq(origin, "collector") || streq(origin, "import") ? origin : "config";
}

/* A refused policy. mnguard.policy_serial stays the serial in force (manager_log() adds it, as to every
 * record); the refused policy is offered_serial, offered_name and offered_mode (when it could be parsed:
 * untrusted, it may be a forgery) and offered_origin. */
static void log_policy_rejected(Manager *m, const char *reason, const Policy *offered, const char *origin) {
        json_object *ev = mn_event_new("policy-rejected", MN_OUTCOME_FAILURE, reason);
        json_object *mg = mn_event_section(ev, "mnguard");
        if (offered) {
                json_object_object_add(mg, "offered_serial", json_object_new_uint64(offered->serial));
                mn_event_set_untrusted(mg, "offered_name", offered->name);
                mn_event_set_string(mg, "offered_mode", policy_mode_to_string(offered->mode));
        }
        mn_event_set_string(mg, "offered_origin", offered_origin(origin));
        manager_log(m, ev, (uid_t) -1, NULL);
}

/* Parses bytes; on failure returns -EINVAL and a one-line reason naming line and column. */
static int parse_policy_bytes(const char *data, size_t size, const char *origin, Policy **ret, char **ret_reason) {
        PolicyDiagnostics d;
        int r = policy_parse(data, size, ret, &d);
        if (r == -EINVAL && ret_reason) {
                if (d.n > 0) {
                        if (asprintf(ret_reason, "%s:%u:%u: %s%s", origin, d.items[0].line, d.items[0].column,
                                     d.items[0].message, d.n > 1 ? " (and more)" : "") < 0)
                                *ret_reason = NULL;
                } else
                        *ret_reason = strdup("invalid policy");
        }
        policy_diagnostics_clear(&d);
        return r;
}

/* Puts p in force and re-decides every present device. applied: record policy-applied (signed by keyid)
 * first, so that the history reads "policy applied", then what it changed. */
static void manager_set_policy(Manager *m, Policy *p, char *bytes, size_t size, const char *origin, bool applied,
                               const char *keyid) {
        policy_free(m->policy);
        free(m->policy_bytes);
        m->policy = p;
        m->policy_bytes = bytes;
        m->policy_size = size;
        m->policy_origin = origin;
        sd_notifyf(false, "STATUS=Enforcing policy %llu (%s)", (unsigned long long) p->serial, origin);

        /* The snapshot first: udev decides from it for devices that arrive while we re-decide. */
        int r = snapshot_write(m->state_dir, bytes, size);
        if (r < 0)
                log_warning_errno(r, "Cannot write the policy snapshot for mnguard-udev, ignoring: %m");
        if (applied)
                log_policy_applied(m, keyid);
        if (m->usb)
                (void) usb_watch_redecide_all(m->usb, "policy changed");
}

/* Reads CONFIG/policy-signing.pub. When it exists, every policy must carry a good signature by one of
 * its keys; a file that cannot be read or parsed leaves no key trusted, so every policy is refused (fail
 * closed). Without the file, unsigned local policies are accepted (a standalone terminal). */
static void manager_load_trust(Manager *m) {
        _cleanup_free_ char *path = path_join(m->config_dir, MANAGER_TRUST_FILE);
        free(m->trusted);
        m->trusted = NULL;
        m->n_trusted = 0;
        m->require_signature = false;
        if (!path || access(path, F_OK) < 0)
                return;
        m->require_signature = true;
        int r = sign_load_trusted(path, &m->trusted, &m->n_trusted);
        if (r < 0)
                log_error_errno(r, "Cannot use the trusted policy keys in %s, refusing every new policy: %m", path);
}

/* Offers policy bytes (with their signature, when there is one) to be put in force. Returns 1 when
 * applied, 0 when these bytes are in force already, or -errno when refused (recorded as
 * policy-rejected; *ret_reason says why). */
int manager_offer_policy(Manager *m, const char *data, size_t size, const char *sig, size_t sig_size,
                         const char *origin, char **ret_reason) {
        _cleanup_free_ char *reason = NULL, *bytes = NULL;
        const char *keyid = NULL;
        Policy *p = NULL;
        int r;

        r = parse_policy_bytes(data, size, origin, &p, &reason);
        if (r == -ENOMEM)
                return log_oom();
        if (r >= 0 && m->require_signature) {
                r = sig ? sign_verify(m->trusted, m->n_trusted, SIGN_CONTEXT_POLICY, data, size, sig, sig_size, &keyid)
                        : -ENOENT;
                if (r < 0) {
                        free(reason);
                        reason = strdup(sign_error_reason(r));
                }
        }
        if (r >= 0 && m->policy && m->policy_size == size && memcmp(m->policy_bytes, data, size) == 0) {
                policy_free(p);
                return 0;
        }
        if (r >= 0 && m->policy && p->serial <= m->policy->serial) {
                free(reason);
                if (asprintf(&reason, "serial %llu is not greater than %llu in force", (unsigned long long) p->serial,
                             (unsigned long long) m->policy->serial) < 0)
                        reason = NULL;
                r = -ESTALE;
        }
        if (r < 0) {
                log_warning("Policy from %s refused: %s.", origin, reason ?: "invalid");
                log_policy_rejected(m, reason, p, origin);
                policy_free(p);
                if (ret_reason)
                        *ret_reason = TAKE_PTR(reason);
                return r < 0 ? r : -EINVAL;
        }

        _cleanup_free_ char *last_good = path_join(m->state_dir, MANAGER_LAST_GOOD_FILE);
        bytes = malloc(size + 1);
        if (!last_good || !bytes) {
                policy_free(p);
                return log_oom();
        }
        memcpy(bytes, data, size);
        bytes[size] = 0;
        r = write_file_atomic(last_good, data, size, 0600);
        if (r < 0)
                log_warning_errno(r, "Cannot keep %s as the last good policy, ignoring: %m", last_good);
        log_info("Policy %llu \"%s\" in force (%s%s%s).", (unsigned long long) p->serial, p->name,
                 policy_mode_to_string(p->mode), keyid ? ", signed by key " : "", keyid ?: "");
        manager_set_policy(m, p, TAKE_PTR(bytes), size, streq(origin, "collector") ? "collector" : "config", true, keyid);
        return 1;
}

/* Loads config/policy.yaml (and policy.yaml.sig); falls back to the last good policy, then to the
 * built-in defaults. Never leaves the manager without a policy. */
static int manager_load_policy(Manager *m, bool startup) {
        _cleanup_free_ char *path = path_join(m->config_dir, "policy.yaml");
        _cleanup_free_ char *sig_path = path_join(m->config_dir, "policy.yaml.sig");
        _cleanup_free_ char *last_good = path_join(m->state_dir, MANAGER_LAST_GOOD_FILE);
        _cleanup_free_ char *data = NULL, *sig = NULL, *reason = NULL;
        size_t size = 0, sig_size = 0;
        Policy *p = NULL;
        int r;

        if (!path || !sig_path || !last_good)
                return log_oom();
        manager_load_trust(m);

        /* At startup the last good policy comes first, so that a policy file replaced by an older one
         * while the agent was down is refused like any other rollback. (It was checked when it was
         * accepted, and lives in the root-only state directory.) */
        if (startup && !m->policy) {
                _cleanup_free_ char *lg = NULL;
                size_t lg_size;
                if (read_full_file(last_good, POLICY_MAX_FILE_SIZE, &lg, &lg_size) >= 0 &&
                    parse_policy_bytes(lg, lg_size, last_good, &p, NULL) >= 0) {
                        manager_set_policy(m, p, TAKE_PTR(lg), lg_size, "last-good", false, NULL);
                        p = NULL;
                }
        }

        r = read_full_file(path, POLICY_MAX_FILE_SIZE, &data, &size);
        if (r >= 0) {
                if (read_full_file(sig_path, SIGN_MAX_TEXT, &sig, &sig_size) < 0)
                        sig = NULL;
                r = manager_offer_policy(m, data, size, sig, sig_size, path, &reason);
                if (r == 0)
                        m->policy_origin = "config";
                if (r >= 0 || m->policy)
                        return r < 0 ? r : 0;
        } else if (r != -ENOENT) {
                log_warning_errno(r, "Cannot read %s: %m", path);
                if (m->policy) {
                        if (asprintf(&reason, "%s: cannot read: %s", path, strerror(-r)) < 0)
                                reason = NULL;
                        log_policy_rejected(m, reason, NULL, path);
                        return r;
                }
        }
        if (m->policy)
                return 0;

        /* Startup without any usable policy: the built-in fail-closed defaults. */
        char *b = strdup(builtin_policy);
        if (!b || parse_policy_bytes(b, strlen(b), "built-in", &p, NULL) < 0) {
                free(b);
                return log_oom();
        }
        manager_set_policy(m, p, b, strlen(b), "built-in", false, NULL);
        log_warning("Enforcing the built-in fail-closed policy (serial 0).");
        return 0;
}

int manager_reload(Manager *m) {
        log_info("Reloading.");
        sd_notify(false, "RELOADING=1");
        (void) manager_load_policy(m, false);
        sd_notify(false, "READY=1");
        return 0;
}

/* ---- retention ---- */

static void manager_prune(Manager *m) {
        JournalRetention ret = {
                .max_age_usec = m->conf.journal_max_age_days * 86400ULL * 1000000ULL,
                .max_size_bytes = m->conf.journal_max_size_mb * 1024ULL * 1024ULL,
                /* without a collector there is no acknowledgement to wait for */
                .ignore_ack = !m->conf.collector_url,
        };
        if (ret.max_age_usec == 0 && ret.max_size_bytes == 0)
                return;
        uint64_t total = 0;
        for (;;) {
                int r = journal_prune(m->journal, &ret, mn_now_usec());
                if (r < 0) {
                        log_warning_errno(r, "Journal retention failed, ignoring: %m");
                        break;
                }
                total += (uint64_t) r;
                if ((unsigned) r < JOURNAL_PRUNE_BATCH_MAX)
                        break;
        }
        if (total > 0)
                log_info("Journal retention removed %llu old records.", (unsigned long long) total);
}

static int on_retention_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        manager_prune(m);
        sd_event_source_set_time(s, usec + MANAGER_RETENTION_INTERVAL_USEC);
        sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

/* ---- signals, startup, run ---- */

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        m->stop_reason = si->ssi_signo == SIGINT ? "SIGINT" : "SIGTERM";
        return sd_event_exit(m->event, 0);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        return manager_reload(userdata);
}

static int open_journal(Manager *m) {
        _cleanup_free_ char *path = path_join(m->state_dir, MANAGER_JOURNAL_FILE);
        if (!path)
                return log_oom();
        JournalOptions o = { .host_id = m->identity.host_id, .host_name = m->hostname };
        int r = journal_open(path, &o, &m->journal);
        if (r < 0)
                return log_error_errno(r, "Cannot open the journal %s: %m", path);
        if (journal_set_aside_path(m->journal))
                log_warning("Journal %s was unreadable; kept as %s, a new one started.", path,
                            journal_set_aside_path(m->journal));
        return 0;
}

/* ---- reporting to the collector (reporter.c) ---- */

static void on_reporter_acked(uint64_t sequence, void *userdata) {
        Manager *m = userdata;
        uint64_t durable = journal_durable_sequence(m->journal);
        /* the collector cannot hold more of this journal than is durable; a larger ack is clamped */
        int r = journal_set_acked(m->journal, sequence < durable ? sequence : durable);
        if (r < 0)
                log_warning_errno(r, "Cannot record the collector's acknowledgement: %m");
        /* journal_set_acked() commits what is pending: answer those waiting for it */
        manager_answer_waiters(m);
}

static void on_reporter_failed(const char *reason, void *userdata) {
        Manager *m = userdata;
        json_object *ev = mn_event_new("report-failed", MN_OUTCOME_FAILURE, reason);
        manager_log(m, ev, (uid_t) -1, NULL);
}

static int start_reporter(Manager *m) {
        if (!m->conf.collector_url)
                return 0;
        if (!m->conf.collector_ca) {
                log_warning("agent.conf: collector.url without collector.ca; not reporting.");
                return 0;
        }
        ReporterOptions o = {
                .url = m->conf.collector_url,
                .ca = m->conf.collector_ca,
                .token = m->conf.enrollment_token,
                .host_id = m->identity.host_id,
                .host_name = m->hostname,
                .state_dir = m->state_dir,
                .journal = m->journal,
                .batch_records = m->conf.collector_batch_records,
        };
        ReporterCallbacks cb = { .acked = on_reporter_acked, .failed = on_reporter_failed, .userdata = m };
        int r = reporter_new(m->event, &o, &cb, &m->reporter);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                /* enforcement and the journal go on; events wait in the journal for the next start */
                log_error_errno(r, "Cannot start reporting to the collector: %m");
        return 0;
}

int manager_startup(Manager *m) {
        int r;

        m->start_usec = mn_now_usec();
        r = mkdir_safe(m->state_dir, 0700);
        if (r < 0)
                return log_error_errno(r, "Cannot create the state directory %s: %m", m->state_dir);
        r = mkdir_safe(m->runtime_dir, 0755);
        if (r < 0)
                return log_error_errno(r, "Cannot create the runtime directory %s: %m", m->runtime_dir);

        r = agent_conf_load(m->config_dir, stderr, &m->conf);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                log_warning("Using the default agent settings: %s/" AGENT_CONF_FILE " is not usable (see above).",
                            m->config_dir);

        r = host_identity_load(m->state_dir, m->machine_id_path, &m->identity);
        if (r < 0)
                return log_error_errno(r, "Cannot load or create the host identity in %s: %m", m->state_dir);

        r = open_journal(m);
        if (r < 0)
                return r;

        if (m->identity.changed_machine) {
                log_notice("Machine id changed (cloned image?): new host id %s, was %s.", m->identity.host_id,
                           m->identity.previous_host_id);
                json_object *ev = mn_event_new("host-id-changed", MN_OUTCOME_SUCCESS, "machine id changed (cloned image)");
                mn_event_set_string(mn_event_section(ev, "mnguard"), "previous_host_id", m->identity.previous_host_id);
                manager_log(m, ev, (uid_t) -1, NULL);
        }

        /* A refused policy file is not fatal: the last good policy, or the built-in defaults, stay. */
        r = manager_load_policy(m, true);
        if (r < 0 && !m->policy)
                return r;

        _cleanup_free_ char *sock = path_join(m->runtime_dir, MANAGER_SOCKET_FILE);
        if (!sock)
                return log_oom();
        r = control_server_new(m->event, sock, manager_verbs, manager_n_verbs, m, &m->control);
        if (r < 0)
                return log_error_errno(r, "Cannot listen on %s: %m", sock);
        control_server_set_disconnect_handler(m->control, on_client_gone);

        sigset_t ss;
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        if ((r = sd_event_add_signal(m->event, NULL, SIGTERM, on_sigterm, m)) < 0 ||
            (r = sd_event_add_signal(m->event, NULL, SIGINT, on_sigterm, m)) < 0 ||
            (r = sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m)) < 0)
                return log_error_errno(r, "Cannot watch signals: %m");
        json_object *ev = mn_event_new("agent-started", MN_OUTCOME_SUCCESS, NULL);
        json_object *mg = mn_event_section(ev, "mnguard");
        mn_event_set_string(mg, "version", MNGUARD_VERSION);
        mn_event_set_string(mg, "policy_name", m->policy->name);
        mn_event_set_string(mg, "policy_origin", m->policy_origin);
        if (m->identity.created)
                json_object_object_add(mg, "first_start", json_object_new_boolean(true));
        manager_log(m, ev, (uid_t) -1, NULL);
        for (size_t i = 0; i < m->conf.n_removable_patterns; i++)
                if (mn_removable_patterns_add(&m->patterns, m->conf.removable_patterns[i]) < 0)
                        log_warning("agent.conf: removable-media pattern '%s' is not valid, ignoring it.",
                                    m->conf.removable_patterns[i]);
        r = media_watch_new(m, &m->media);
        if (r < 0) {
                log_warning_errno(r, "Block-layer enforcement (read-only media, mount guard, write audit) is not "
                                  "available: %m. USB enforcement goes on.");
                json_object *dev = mn_event_new("enforcement-degraded", MN_OUTCOME_FAILURE,
                                                "block layer unavailable (fanotify)");
                mn_event_set_string(mn_event_section(dev, "mnguard"), "error", strerror(-r));
                manager_log(m, dev, (uid_t) -1, NULL);
        }
        r = usb_watch_new(m, &m->usb);
        if (r < 0)
                return log_error_errno(r, "Cannot watch devices: %m");
        r = usb_watch_coldplug(m->usb);
        if (r < 0)
                return r;
        if (m->media) {
                r = media_watch_start(m->media);
                if (r < 0)
                        return log_error_errno(r, "Cannot start the mount guard: %m");
        }

        r = sd_event_add_post(m->event, &m->post_source, on_post, m);
        if (r < 0)
                return log_error_errno(r, "Cannot add the journal flush source: %m");
        (void) sd_event_set_watchdog(m->event, true);
        manager_prune(m);
        uint64_t now;
        sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        /* accuracy of a minute: the kernel may batch the wake-up with others */
        r = sd_event_add_time(m->event, &m->retention_timer, CLOCK_MONOTONIC, now + MANAGER_RETENTION_INTERVAL_USEC,
                              60ULL * 1000000ULL, on_retention_timer, m);
        if (r < 0)
                return log_error_errno(r, "Cannot add the retention timer: %m");

        manager_flush(m);

        /* after the signals are blocked: the reporter's thread inherits the mask */
        r = start_reporter(m);
        if (r < 0)
                return r;
        r = policy_fetch_new(m, &m->policy_fetch);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                log_error_errno(r, "Cannot start taking the policy from the collector: %m");

        if (geteuid() != 0)
                log_notice("Not running as root: enforcement on real devices needs root; journal and control "
                           "socket work.");
        log_info("mnguardd %s started, host id %s, policy %llu.", MNGUARD_VERSION, m->identity.host_id,
                 (unsigned long long) m->policy->serial);
        sd_notifyf(false, "READY=1\nSTATUS=Enforcing policy %llu (%s)", (unsigned long long) m->policy->serial,
                   m->policy_origin);
        return 0;
}

int manager_run(Manager *m) {
        int r = sd_event_loop(m->event);
        sd_notify(false, "STOPPING=1");
        json_object *ev = mn_event_new("agent-stopped", MN_OUTCOME_SUCCESS, m->stop_reason);
        manager_log(m, ev, (uid_t) -1, NULL);
        manager_flush(m);
        return r;
}
