/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The daemon's state and its wiring: event loop, policy, identity, journal, control socket. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "agent-conf.h"
#include "control.h"
#include "exception.h"
#include "host-id.h"
#include "journal.h"
#include "policy.h"
#include "removable-patterns.h"
#include "reporter.h"
#include "sign.h"

#define MANAGER_CONFIG_DIR_DEFAULT  "/etc/mnguard"
#define MANAGER_STATE_DIR_DEFAULT   "/var/lib/mnguard"
#define MANAGER_RUNTIME_DIR_DEFAULT "/run/mnguard"
#define MANAGER_MACHINE_ID_DEFAULT  "/etc/machine-id"

#define MANAGER_JOURNAL_FILE   "journal.db"
#define MANAGER_LAST_GOOD_FILE "policy.last-good.yaml"
#define MANAGER_SOCKET_FILE    "control.sock"
#define MANAGER_TRUST_FILE     "policy-signing.pub"

/* How often retention runs (and no more often: an idle daemon must stay asleep). */
#define MANAGER_RETENTION_INTERVAL_USEC (3600ULL * 1000000ULL)

/* Clients waiting for their event to be durable before they are answered. */
#define MANAGER_MAX_WAITERS 65536

typedef struct Waiter {
        ControlClient *client;
        uint64_t sequence;
        json_object *reply; /* sent (with "ok":true) once sequence is durable; NULL: {"sequence":N} */
} Waiter;

typedef struct Manager {
        sd_event *event;
        char *config_dir, *state_dir, *runtime_dir, *machine_id_path;
        char hostname[256];

        AgentConf conf;
        HostIdentity identity;
        Journal *journal;
        ControlServer *control;
        struct UsbWatch *usb;
        struct MediaWatch *media;       /* NULL when fanotify is not available (not root) */
        Reporter *reporter;             /* NULL without collector.url in agent.conf */
        struct PolicyFetch *policy_fetch; /* likewise (policy-fetch.c) */
        MnRemovablePatterns patterns;   /* agent.conf removable-media */

        Policy *policy;
        char *policy_bytes; /* the exact validated bytes of the policy in force */
        size_t policy_size;
        const char *policy_origin; /* "config", "last-good" or "built-in" */
        SignPublicKey *trusted;    /* CONFIG/policy-signing.pub */
        size_t n_trusted;
        bool require_signature;    /* the trust file exists: unsigned policies are refused */

        sd_event_source *flush_timer, *post_source, *retention_timer, *exception_timer;
        Exception exceptions[EXCEPTION_MAX_ACTIVE];
        size_t n_exceptions;
        Waiter *waiters;
        size_t n_waiters;
        uint64_t start_usec;
        const char *stop_reason;
} Manager;

typedef struct ManagerOptions {
        const char *config_dir, *state_dir, *runtime_dir;
} ManagerOptions;

int manager_new(const ManagerOptions *o, Manager **ret);
Manager *manager_free(Manager *m);
static inline void manager_freep(Manager **m) {
        manager_free(*m);
}

/* Opens everything, records agent-started and tells systemd READY=1. */
int manager_startup(Manager *m);
int manager_run(Manager *m);

/* Offers policy bytes (and signature text, or NULL) to be put in force: parsed, signature checked when
 * keys are trusted, serial strictly greater. origin is "collector", "import" or the policy file's path
 * (recorded as "config"). 1 applied, 0 already in force, -errno refused (recorded as policy-rejected with
 * the offered_* fields; *ret_reason, when not NULL, gets why). */
int manager_offer_policy(Manager *m, const char *data, size_t size, const char *sig, size_t sig_size,
                         const char *origin, char **ret_reason);

/* Reads the policy again (SIGHUP). */
int manager_reload(Manager *m);

/* Adds host, policy and journal fields, appends ev to the journal (consumed), tells subscribers.
 * *ret_sequence gets its sequence; it is durable once journal_durable_sequence() reaches it. uid is
 * whose event it is for notifications (-1: nobody's in particular). */
int manager_log(Manager *m, json_object *ev, uid_t uid, uint64_t *ret_sequence);

/* Answers client once sequence is durable (at once when it already is): with {"sequence":N}, or with
 * reply (consumed). */
int manager_reply_when_durable(Manager *m, ControlClient *client, uint64_t sequence);
int manager_reply_when_durable_with(Manager *m, ControlClient *client, uint64_t sequence, json_object *reply);

/* Forgets the waiters of a client that went away. */
void manager_forget_client(Manager *m, ControlClient *client);

/* Temporary exceptions (manager-exceptions.c). import: 0 granted, -errno refused; *ret_message (new
 * string) says which. */
int manager_import_exception(Manager *m, const char *data, size_t size, char **ret_message);
const Exception *manager_exception_for(Manager *m, const MnDevice *d);
void manager_exception_device_removed(Manager *m, const MnDevice *d);
void manager_exceptions_free(Manager *m);

/* Control verbs (daemon-verbs.c). */
extern const ControlVerb manager_verbs[];
extern const size_t manager_n_verbs;
