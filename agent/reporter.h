/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Delivery of the journal to the collector (docs/daemon.md "Reporting", docs/collector-api.md "Agent
 * reporter checklist"). A worker thread does the HTTPS work (libcurl's multi interface: one kept-alive
 * connection, a second while a backlog is drained with two batches in flight); it asks the event loop for
 * batches of journal records and hands acks and failures back, through an eventfd. The Journal is only
 * ever touched on the loop. */

#include <stdint.h>
#include <systemd/sd-event.h>

#include "journal.h"
#include "macro.h"

#define REPORTER_BATCH_RECORDS_DEFAULT 5000                  /* agent.conf collector.batch-records */
#define REPORTER_BATCH_RECORDS_MIN     100
#define REPORTER_BATCH_RECORDS_MAX     10000                 /* the collector's limit */
#define REPORTER_BATCH_MAX_BYTES   (4U * 1024U * 1024U)
#define REPORTER_BACKOFF_MIN_USEC  (1000ULL * 1000ULL)
#define REPORTER_BACKOFF_MAX_USEC  (300ULL * 1000ULL * 1000ULL)
#define REPORTER_REASON_MAX        256
#define REPORTER_MAX_FAILURES      8                             /* queued for the loop; more are dropped */

typedef struct Reporter Reporter;

typedef struct ReporterOptions {
        const char *url;                /* https://host:port, no path */
        const char *ca;                 /* agent.conf collector.ca: pinned for enrollment */
        const char *token;              /* may be NULL: no (re-)enrollment possible */
        const char *host_id, *host_name;
        const char *state_dir;
        Journal *journal;               /* the daemon's: read on the loop only, between its commits */
        unsigned batch_records;         /* records a batch at most (0: REPORTER_BATCH_RECORDS_DEFAULT) */
} ReporterOptions;

typedef struct ReporterCallbacks {
        /* the collector acknowledged everything up to sequence */
        void (*acked)(uint64_t sequence, void *userdata);
        /* a request was refused (not retried as is); reason is safe to record */
        void (*failed)(const char *reason, void *userdata);
        void *userdata;
} ReporterCallbacks;

int reporter_new(sd_event *e, const ReporterOptions *o, const ReporterCallbacks *cb, Reporter **ret);

/* New records are durable: send them (cheap; call after every journal commit). */
void reporter_wake(Reporter *r);

/* Stops the thread (a transfer in flight is aborted), frees. */
Reporter *reporter_free(Reporter *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Reporter *, reporter_free);
