/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The tamper-evident event journal (docs/journal.md).
 *
 * One SQLite database (WAL, synchronous=FULL) per terminal. Each record is an event object (DESIGN.md
 * "Event record"); the journal assigns event.sequence (+1 per record, continuing across restarts, pruning
 * and a set-aside journal), mnguard.prev_hash and mnguard.hash = sha256(prev_hash hex || canonical JSON of
 * the record without mnguard.hash). Appends are queued in memory and committed by journal_flush() in one
 * transaction (group commit); an event is durable, and may be reported as recorded, once its sequence is
 * at or below journal_durable_sequence().
 *
 * The library does not log; functions return 0 (or a count) or a negative errno. It is not thread-safe:
 * one Journal is used from one thread. Internally a read-write Journal has a writer thread (inserts and
 * commits on its own connection) and verification starts worker threads. A forked child must not use its
 * parent's Journal (-ECHILD; journal_close() there only frees memory). */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "macro.h"

/* Process-wide SQLite settings of mnguard's programs (allocation statistics off: a mutex taken on every
 * allocation of every connection). Before SQLite is first used; journal_open() calls it. */
void journal_sqlite_init(void);

/* The format of an export file (its manifest says it); the database's is JOURNAL_DB_FORMAT. */
#define JOURNAL_EXPORT_FORMAT 1

/* Group commit: journal_append() starts a commit by itself once this many events are uncommitted (it goes
 * on in the journal's writer thread while appends continue); the caller flushes at the end of each
 * event-loop iteration and at the latest this long after the first pending event. */
#define JOURNAL_FLUSH_MAX_EVENTS 1000u
#define JOURNAL_FLUSH_MAX_DELAY_USEC (10u * 1000u)

/* While commits fail (disk full, I/O error): events kept in memory, at most this many and this many
 * bytes; later ones are counted and recorded as one journal-gap event once writing works again. */
#define JOURNAL_BACKLOG_MAX_EVENTS 10000u
#define JOURNAL_BACKLOG_MAX_BYTES (16u * 1024u * 1024u)
/* While commits fail, journal_flush() tries again at most this often. */
#define JOURNAL_RETRY_USEC (1000u * 1000u)

/* Bounds on one record: canonical JSON size, nesting depth, keys per object. */
#define JOURNAL_RECORD_MAX (64u * 1024u)
#define JOURNAL_DEPTH_MAX 16u
#define JOURNAL_OBJECT_KEYS_MAX 256u
/* Longest NDJSON line accepted when verifying an export. */
#define JOURNAL_EXPORT_LINE_MAX (JOURNAL_RECORD_MAX + 1024u)
/* Records removed by one journal_prune() call (one transaction). */
#define JOURNAL_PRUNE_BATCH_MAX 100000u
/* Threads (including the caller's) that journal_verify() uses on a large journal. */
#define JOURNAL_VERIFY_THREADS_MAX 8u
/* Meta table: key length and value size. */
#define JOURNAL_META_KEY_MAX 64u
#define JOURNAL_META_VALUE_MAX 4096u

#define JOURNAL_SHA256_SIZE 32u
#define JOURNAL_HASH_HEX_SIZE 65u       /* 64 lowercase hex digits + NUL */
#define JOURNAL_TIMESTAMP_MAX 32u       /* "2026-11-26T06:18:14.123456Z" + NUL, with room */
#define JOURNAL_DETAIL_MAX 256u

typedef struct Journal Journal;

typedef struct JournalOptions {
        /* host.id and host.name for the records the journal writes itself (journal-gap, journal-corrupt,
         * journal-pruned); stored in the meta table. May be NULL: the stored values are used. */
        const char *host_id;
        const char *host_name;
        /* Hard cap on the database size in bytes (0: none). Writes beyond it fail like a full disk. */
        uint64_t max_size_bytes;
        /* Backlog bound while writes fail; 0 means JOURNAL_BACKLOG_MAX_EVENTS, larger values are capped. */
        unsigned backlog_max_events;
        /* Retry interval while writes fail; 0 means JOURNAL_RETRY_USEC. */
        uint64_t retry_usec;
} JournalOptions;

/* Opens or creates the journal at path. A file that is not an SQLite database, not a journal, or fails
 * PRAGMA quick_check is set aside as "<path>.corrupt-<UTC time>" (with its -wal and -shm), never deleted;
 * a new journal starts with a journal-corrupt event naming the old file and its last good sequence, and
 * sequences continue after the old ones (from the old file, or from "<path>.head" when it is unreadable).
 * -EPROTONOSUPPORT: a journal of a newer format (left alone). */
int journal_open(const char *path, const JournalOptions *opts, Journal **ret);

/* Opens a journal for reading only; never writes to the file or its directory (works on a read-only copy
 * and on a copy without its -shm file, and concurrently with a writer). Writing calls return -EROFS. */
int journal_open_readonly(const char *path, Journal **ret);

/* Flushes what is pending (best effort), closes, returns NULL. */
Journal *journal_close(Journal *j);
DEFINE_TRIVIAL_CLEANUP_FUNC(Journal *, journal_close);

/* The file a corrupt journal was moved to by journal_open(), or NULL. */
const char *journal_set_aside_path(const Journal *j);

/* ---- appending ---- */

/* Queues event (an object: "event":{"action":…} required; "@timestamp" added when missing; no floating
 * point numbers; strings valid UTF-8; keys directly in "mnguard" [a-z0-9_], not "anchor") and assigns
 * its sequence. The event object is annotated in place
 * with event.sequence, mnguard.prev_hash and mnguard.hash (also when the call fails later on, partially).
 * Returns 0 and the sequence; -ENOBUFS when the event could not be kept (writes failing and the backlog
 * full: it is counted and recorded in a journal-gap event later); -EINVAL, -EMSGSIZE for a bad event. */
int journal_append(Journal *j, json_object *event, uint64_t *ret_sequence);

/* Commits everything appended so far in one transaction (fsync'd) and waits for it. On failure the events
 * stay queued and are retried by a later call (at most every retry interval; earlier calls return the
 * last error at once); a journal-gap event follows once writing works again. */
int journal_flush(Journal *j);

/* Highest sequence that is committed to disk (0: none). */
uint64_t journal_durable_sequence(const Journal *j);

/* Gives the page cache of the caller's connection back (the next read fills it from the kernel's cache):
 * after reading much of the journal, e.g. a backlog sent to the collector. */
void journal_release_memory(Journal *j);

/* CLOCK_MONOTONIC time (µs) by which journal_flush() should be called; UINT64_MAX when nothing waits
 * (a cheap "anything pending?" check). */
uint64_t journal_flush_deadline(const Journal *j);

typedef struct JournalStats {
        uint64_t first_sequence;        /* lowest record in the database, 0 when empty */
        uint64_t last_sequence;         /* highest committed record */
        uint64_t next_sequence;         /* what the next append gets */
        uint64_t anchor_sequence;       /* last pruned (or set-aside) sequence, 0 when none */
        uint64_t acked_sequence;
        uint64_t size_bytes;            /* database pages in use */
        size_t n_pending;               /* queued, not yet committed */
        size_t pending_bytes;
        uint64_t n_lost;                /* dropped and not yet recorded in a journal-gap event */
        uint64_t n_lost_total;          /* dropped since open */
        uint64_t n_write_failures;      /* failed commits since open */
        int last_error;                 /* of the last failed commit, 0 when the last commit worked */
} JournalStats;
int journal_get_stats(Journal *j, JournalStats *ret);

/* ---- metadata (key/value, survives restarts) ---- */

/* Keys are [a-z0-9_.-], at most JOURNAL_META_KEY_MAX bytes; values at most JOURNAL_META_VALUE_MAX bytes.
 * Keys the journal maintains (format, created, last_seq, last_hash, anchor_seq, anchor_hash, acked_seq)
 * cannot be set here: -EPERM. journal_meta_get() returns -ENOENT for a missing key. */
int journal_meta_get(Journal *j, const char *key, char **ret_value);
int journal_meta_set(Journal *j, const char *key, const char *value);
int journal_get_host(Journal *j, char **ret_host_id, char **ret_host_name);
int journal_set_host(Journal *j, const char *host_id, const char *host_name);
/* The collector's acknowledgement: retention never prunes past it. It only moves forward (a lower value
 * is ignored); -ERANGE beyond the durable sequence. */
int journal_get_acked(Journal *j, uint64_t *ret_sequence);
int journal_set_acked(Journal *j, uint64_t sequence);

/* ---- queries ---- */

typedef enum JournalOrder {
        JOURNAL_ORDER_ASCENDING,        /* by @timestamp, then sequence */
        JOURNAL_ORDER_DESCENDING,
} JournalOrder;

typedef struct JournalQuery {
        uint64_t since_usec;            /* @timestamp >= since (µs since the epoch); 0: unbounded */
        uint64_t until_usec;            /* @timestamp < until; 0: unbounded */
        const char *action;             /* glob on event.action (*, ?, [...]), or NULL */
        const char *user;               /* user.name, or NULL */
        const char *device;             /* device.serial, or "vvvv:pppp" vendor:product, or NULL */
        uint64_t limit;                 /* 0: no limit */
        JournalOrder order;
        /* Paging: only records after (descending: before) this position, as given by the last record of
         * the previous page. */
        bool has_after;
        uint64_t after_usec, after_sequence;
} JournalQuery;

typedef struct JournalRecord {
        uint64_t sequence;
        uint64_t timestamp_usec;
        const char *json;               /* the whole record, canonical JSON including mnguard.hash */
        size_t json_len;
} JournalRecord;

/* Return < 0 to stop with that error, > 0 to stop without error, 0 to go on. */
typedef int (*JournalRecordFunc)(const JournalRecord *record, void *userdata);

/* Calls f for each matching record; *ret_count (optional) is how many were delivered. */
int journal_query(Journal *j, const JournalQuery *q, JournalRecordFunc f, void *userdata, uint64_t *ret_count);

/* ---- export (NDJSON evidence file) ---- */

typedef struct JournalExportRange {
        uint64_t since_usec, until_usec;        /* time range as in JournalQuery (0: unbounded) */
        uint64_t from_sequence, to_sequence;    /* further bounds on the sequence (0: unbounded) */
        bool snapshot;                          /* read in one read transaction, until the exporter is freed:
                                                 * nothing else may use the Journal meanwhile */
} JournalExportRange;

typedef struct JournalExporter JournalExporter;

/* The range is taken as a contiguous run of sequences (from the first record at or after since to the
 * last record before until), so that the export is one unbroken piece of the chain. Lines are the
 * records (canonical JSON, in sequence order) and then one manifest line:
 * {"mnguard_manifest":{"count":…,"exported_at":…,"first_prev_hash":…,"first_sequence":…,"format":1,
 *   "host_id":…,"last_hash":…,"last_sequence":…}} */
int journal_exporter_new(Journal *j, const JournalExportRange *range, JournalExporter **ret);
/* Returns 1 and the next line (without newline; valid until the next call), 0 after the manifest.
 * -ESTALE when records of the range disappeared meanwhile (pruned). */
int journal_exporter_next(JournalExporter *e, const char **ret_line, size_t *ret_len);
/* The record the last journal_exporter_next() returned (not the manifest): its sequence, and whether its
 * host.id is host_id. -ENODATA before the first record and after the manifest. */
int journal_exporter_record(JournalExporter *e, const char *host_id, uint64_t *ret_sequence, bool *ret_host_is);
JournalExporter *journal_exporter_free(JournalExporter *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(JournalExporter *, journal_exporter_free);

/* Writes the whole export to f; *ret_count (optional): records written. */
int journal_export(Journal *j, const JournalExportRange *range, FILE *f, uint64_t *ret_count);

/* ---- verification ---- */

typedef enum JournalFault {
        JOURNAL_FAULT_NONE,
        JOURNAL_FAULT_MODIFIED,         /* content does not hash to the stored hash */
        JOURNAL_FAULT_MISSING,          /* a sequence is missing: record(s) deleted */
        JOURNAL_FAULT_LINK,             /* prev_hash is not the previous record's hash: inserted/replaced */
        JOURNAL_FAULT_SEQUENCE,         /* the record's sequence differs from its place: reordered */
        JOURNAL_FAULT_INDEX,            /* query columns disagree with the record */
        JOURNAL_FAULT_MALFORMED,        /* a record that cannot be read */
        JOURNAL_FAULT_ANCHOR,           /* the pruning anchor is not confirmed by a journal record */
        JOURNAL_FAULT_TAIL,             /* the last committed record is missing, or records follow it */
        JOURNAL_FAULT_MANIFEST,         /* export: manifest missing, misplaced or disagreeing */
        _JOURNAL_FAULT_MAX,
} JournalFault;

const char *journal_fault_to_string(JournalFault f);

typedef struct JournalVerifyResult {
        bool intact;
        uint64_t n_records;
        uint64_t first_sequence, last_sequence;
        char last_hash[JOURNAL_HASH_HEX_SIZE];
        JournalFault fault;
        uint64_t fault_sequence;        /* the first broken sequence */
        char detail[JOURNAL_DETAIL_MAX];        /* English, for people */
} JournalVerifyResult;

/* Walks the committed chain from the anchor (or the first record) to the last committed record. Returns 0
 * when the walk completed (ret->intact says whether the chain is whole; otherwise fault, fault_sequence
 * and detail name the first broken record), or a negative errno when it could not be done. */
int journal_verify(Journal *j, JournalVerifyResult *ret);

/* The same for an export file: recomputes every record's canonical form and hash, checks the chain from
 * whatever prev_hash the first record has, and the manifest line. */
int journal_verify_export(FILE *f, JournalVerifyResult *ret);

/* ---- retention ---- */

typedef struct JournalRetention {
        uint64_t max_age_usec;          /* remove records older than this (0: no age limit) */
        uint64_t max_size_bytes;        /* remove the oldest records while the database is larger (0: none) */
        bool ignore_ack;                /* standalone terminal: no collector ack to wait for */
} JournalRetention;

/* Removes up to JOURNAL_PRUNE_BATCH_MAX of the oldest records that the limits say should go, never past the
 * acked sequence, in one transaction that also moves the anchor and appends a journal-pruned record.
 * Returns the number removed (call again while it returns JOURNAL_PRUNE_BATCH_MAX). */
int journal_prune(Journal *j, const JournalRetention *r, uint64_t now_usec);

/* ---- helpers shared with verifiers and tools ---- */

/* Canonical JSON of o (docs/journal.md): keys sorted bytewise, no whitespace, integers only. */
int journal_canonical_json(json_object *o, char **ret, size_t *ret_len);

/* "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)" <-> µs since the epoch (UTC). Format writes µs and "Z". */
int journal_timestamp_parse(const char *s, size_t n, uint64_t *ret_usec);
const char *journal_timestamp_format(uint64_t usec, char buf[static JOURNAL_TIMESTAMP_MAX]);
