/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* CUPS queues and their device URIs, over IPP with libcups: what mnguardctl print wrap/unwrap/status/
 * check work on. Library code: no logging; IPP failures come back as a negative errno and, where
 * asked, cupsd's own message. */

#include <cups/cups.h>
#include <stdbool.h>
#include <stddef.h>

#define PRINT_QUEUES_MAX     4096  /* queues listed */
#define PRINT_QUEUE_NAME_MAX 127   /* bytes of a queue name (CUPS allows 127) */
#define PRINT_SERVER_MAX     256   /* bytes of a -h host[:port] argument */
#define PRINT_IPP_TIMEOUT_MSEC 30000

#define PRINT_PRINTERS_CONF_DEFAULT "/etc/cups/printers.conf"
#define PRINT_PRINTERS_CONF_MAX     (16 * 1024 * 1024) /* bytes of printers.conf read */

typedef struct PrintQueue {
        char *name;
        char *device_uri; /* as cupsd shows it (without user info), or the full one from printers.conf */
        bool full;        /* device_uri came from printers.conf: user info and password included */
} PrintQueue;

typedef enum PrintQueueStatus {
        PRINT_QUEUE_WRAPPED,   /* an mnguard URI around a valid inner URI: every job is decided */
        PRINT_QUEUE_UNGUARDED, /* jobs go to the device without mnguard */
        PRINT_QUEUE_DISCARD,   /* file:/dev/null: output goes nowhere, nothing to guard */
        PRINT_QUEUE_BROKEN,    /* an mnguard URI that does not decode: every job is cancelled */
} PrintQueueStatus;

/* Connects to cupsd: server is "host", "host:port", "[v6]:port" or a socket path; NULL for the
 * default (CUPS_SERVER, client.conf, the local socket). */
int print_queues_connect(const char *server, http_t **ret);

/* Lists the printers (not classes) with their device URIs. Returns 0 or a negative errno; *ret_error
 * (may be NULL) then points to cupsd's message (static storage of libcups). */
int print_queues_list(http_t *http, PrintQueue **ret, size_t *ret_n, const char **ret_error);
void print_queues_free(PrintQueue *q, size_t n);

/* cupsd never shows a device URI's user info over IPP. Where its printers.conf can be read (root, the
 * local cupsd), takes each queue's full DeviceURI from it, when it agrees with what cupsd showed (so a
 * stale file changes nothing). conf is the file's contents. Returns 0 or -ENOMEM. */
int print_queues_apply_conf(PrintQueue *q, size_t n, const char *conf);

/* Sets a queue's device URI (CUPS-Add-Modify-Printer, as lpadmin -v does). */
int print_queue_set_device_uri(http_t *http, const char *queue, const char *uri, const char **ret_error);

PrintQueueStatus print_queue_status(const char *device_uri);
const char *print_queue_status_to_string(PrintQueueStatus s);

/* Whether a device URI can be wrapped: a valid inner URI, not an mnguard URI, not file: (cupsd writes
 * those itself: there is no backend to run). Returns 0 or -ELOOP, -EOPNOTSUPP (file:), -EINVAL. */
int print_queue_can_wrap(const char *device_uri);
