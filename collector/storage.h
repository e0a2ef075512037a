/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The collector's storage (docs/collector.md "Storage"): one interface, two backends.
 *
 *   sqlite:PATH            one file, WAL, synchronous=FULL (the default; one municipality, one machine)
 *   postgresql:CONNINFO    libpq; monthly partitions of the events table; several collectors may share
 *                          one database (per-host row locks keep concurrent ingest correct)
 *
 * A Storage is thread-safe: the HTTP server calls it from its worker threads. Each backend keeps its own
 * connections (SQLite: one writer behind a mutex and a pool of readers; PostgreSQL: a pool). The chain
 * checks of ingest are written once (chain.c) on top of the backend's transaction primitives.
 *
 * The library does not log; functions return 0 (or a count) or a negative errno. -ENOTCONN / -ECONNRESET
 * mean the database is unreachable (the HTTP layer answers 503 and the agent retries). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "macro.h"

#define HOST_ID_LEN 32                  /* 32 lowercase hex digits, as mnguardd's host identity */
#define HOST_NAME_MAX_BYTES 255
#define GROUP_NAME_MAX 64               /* [A-Za-z0-9_.-]+ */
#define GROUP_DEFAULT "default"         /* hosts without a group */
#define OPERATOR_NAME_MAX 64
#define CERT_SERIAL_HEX_MAX 41          /* up to 20 bytes of serial as hex + NUL */
#define ACTION_MAX 64
#define USER_NAME_MAX 256
#define DEVICE_SERIAL_MAX 256
#define ALERT_DETAIL_MAX 256
#define ALERT_BODY_MAX (8u * 1024u)     /* a conflicting record kept in an alert, cut to this size */
#define SHA256_SIZE 32
#define AGENT_VERSION_MAX 32
#define STORAGE_SPEC_MAX 4096

typedef struct Storage Storage;
typedef struct StorageTxn StorageTxn;

typedef enum ChainState {
        CHAIN_EMPTY,            /* no events yet */
        CHAIN_INTACT,           /* every sequence from the first stored one on, each linked to its predecessor */
        CHAIN_GAP,              /* sequences missing between the first and the last stored one */
        CHAIN_BROKEN,           /* a record that does not hash right, does not link, or contradicts a stored one */
        _CHAIN_STATE_MAX,
} ChainState;

const char *chain_state_to_string(ChainState s);

/* Flags stored with each event. */
enum {
        EVENT_FLAG_HASH = 1 << 0,       /* sha256(prev_hash || record without hash) != mnguard.hash */
        EVENT_FLAG_LINK = 1 << 1,       /* prev_hash is not the stored predecessor's hash */
        EVENT_FLAG_GAP = 1 << 2,        /* arrived with sequences missing before it */
};

typedef enum AlertKind {
        ALERT_GAP,              /* sequences missing */
        ALERT_LINK,             /* prev_hash does not follow */
        ALERT_HASH,             /* record does not hash to its hash */
        ALERT_CONFLICT,         /* a different record for a sequence already stored */
        ALERT_START,            /* first record of a host is not sequence 1 (information) */
        ALERT_ENROLLED,         /* host enrolled (again) */
        _ALERT_KIND_MAX,
} AlertKind;

const char *alert_kind_to_string(AlertKind k);
AlertKind alert_kind_from_string(const char *s);
/* Whether an alert of this kind makes the host's chain state "broken". */
bool alert_kind_breaks_chain(AlertKind k);

/* One parsed and checked NDJSON line of an ingest batch (record.c). */
typedef struct IngestRecord {
        uint64_t sequence;
        uint64_t timestamp_usec;
        uint8_t hash[SHA256_SIZE];
        uint8_t prev_hash[SHA256_SIZE];
        uint8_t digest[SHA256_SIZE];    /* what it hashes to: sha256(prev_hash hex || record without hash) */
        bool hash_ok;                   /* digest == hash */
        unsigned flags;                 /* EVENT_FLAG_*, set by the chain check */
        unsigned line;                  /* 1-based line number in the batch */
        char action[ACTION_MAX + 1];
        char *user_name;                /* NULL when absent */
        char *dev_serial;               /* NULL when absent */
        char dev_vidpid[10];            /* "vvvv:pppp" lowercase, or "" */
        uint64_t policy_serial;         /* mnguard.policy_serial, 0 when absent */
        char agent_version[AGENT_VERSION_MAX + 1];      /* mnguard.version of an agent-started record, else "" */
        char *json;                     /* the whole record, canonical JSON with mnguard.hash */
        size_t json_len;
} IngestRecord;

/* What the chain check found for one host, kept in the hosts table. */
typedef struct HostState {
        char host_id[HOST_ID_LEN + 1];
        char *host_name;                /* NULL when unknown */
        char *group;                    /* NULL: "default" */
        uint64_t enrolled_usec, last_seen_usec;
        uint64_t first_sequence;        /* lowest stored, 0 when none */
        uint64_t contiguous_sequence;   /* highest c with every sequence first..c stored: the ack */
        uint64_t last_sequence;         /* highest stored */
        uint64_t n_events;
        uint64_t n_broken;              /* alerts that break the chain */
        ChainState chain;
        char agent_version[AGENT_VERSION_MAX + 1];      /* from its newest agent-started record; "" unknown */
        uint64_t policy_serial;         /* the policy serial its newest record names; 0 unknown */
} HostState;

void host_state_done(HostState *h);
/* Notes the agent version and the policy serial in force from records newer than after_sequence (sorted by
 * sequence; records that do not hash right are ignored). storage-console.c. */
void host_state_observe(HostState *st, IngestRecord *const *records, size_t n, uint64_t after_sequence);
/* An agent version as the collector keeps it: 1-AGENT_VERSION_MAX of [0-9A-Za-z.+~_-]. */
bool agent_version_is_valid(const char *s, size_t n);

typedef struct AlertRecord {
        int64_t id;
        char host_id[HOST_ID_LEN + 1];
        uint64_t created_usec;
        AlertKind kind;
        uint64_t sequence;              /* first sequence concerned */
        uint64_t sequence_end;          /* last, for gaps (else = sequence) */
        char detail[ALERT_DETAIL_MAX];
        const char *body;               /* optional record text (cut to ALERT_BODY_MAX), may be NULL */
        size_t body_len;
} AlertRecord;

typedef struct TokenRecord {
        uint8_t hash[SHA256_SIZE];      /* SHA-256 of the token text; the token itself is never stored */
        char group[GROUP_NAME_MAX + 1];
        uint64_t created_usec, expires_usec;
        uint32_t uses;                  /* uses left */
} TokenRecord;

typedef enum CertKind {
        CERT_HOST,
        CERT_OPERATOR,
} CertKind;

typedef enum OperatorRole {
        ROLE_NONE,
        ROLE_AUDITOR,           /* read */
        ROLE_ADMIN,             /* read + publish (issue 7) */
} OperatorRole;

const char *operator_role_to_string(OperatorRole r);
int operator_role_from_string(const char *s, OperatorRole *ret);

typedef struct CertRecord {
        char serial[CERT_SERIAL_HEX_MAX];       /* lowercase hex */
        CertKind kind;
        char subject[OPERATOR_NAME_MAX + 1];    /* the host id, or the operator's name */
        OperatorRole role;                      /* operators */
        char group[GROUP_NAME_MAX + 1];         /* hosts */
        uint64_t issued_usec, not_after_usec;
        bool revoked;
} CertRecord;

/* A policy published for a group (issue 7). data/signature are the exact bytes; NULL in listings. */
#define POLICY_RECORD_NAME_MAX 256
#define POLICY_KEY_ID_MAX 16
typedef struct PolicyRecord {
        char group[GROUP_NAME_MAX + 1];
        uint64_t serial;
        char name[POLICY_RECORD_NAME_MAX + 1];
        char key_id[POLICY_KEY_ID_MAX + 1];
        uint64_t published_usec;
        char published_by[OPERATOR_NAME_MAX + 1];
        char *data;
        size_t data_len;
        char *signature;
        size_t signature_len;
} PolicyRecord;

void policy_record_done(PolicyRecord *p);

/* An exception ticket queued for one terminal. data: the ticket file's bytes (NULL in listings). */
#define TICKET_ID_MAX 16
typedef struct TicketRecord {
        int64_t id;                     /* queue order, > 0 */
        char host_id[HOST_ID_LEN + 1];
        char ticket_id[TICKET_ID_MAX + 1];
        uint64_t queued_usec;
        char queued_by[OPERATOR_NAME_MAX + 1];
        char *data;
        size_t data_len;
} TicketRecord;

/* The newest policy serial of each group and the newest ticket id, for long-poll wake-ups. */
typedef struct PublishedState {
        size_t n_groups;
        char (*groups)[GROUP_NAME_MAX + 1];
        uint64_t *serials;
        int64_t last_ticket_id;
} PublishedState;

void published_state_done(PublishedState *p);

typedef enum EventOrder {
        EVENT_ORDER_ASCENDING,          /* by (@timestamp, host id, sequence) */
        EVENT_ORDER_DESCENDING,
} EventOrder;

typedef struct EventQuery {
        const char *host_id;            /* NULL: all hosts */
        uint64_t since_usec, until_usec;        /* [since, until); 0 unbounded */
        const char *action;             /* glob (*, ?, [...]), NULL: any */
        const char *user;               /* user.name */
        const char *device;             /* device.serial, or "vvvv:pppp" */
        uint64_t limit;                 /* 0: none */
        EventOrder order;
        /* paging: strictly after (descending: before) this position */
        bool has_after;
        uint64_t after_usec;
        char after_host[HOST_ID_LEN + 1];
        uint64_t after_sequence;
} EventQuery;

typedef struct StoredEvent {
        const char *host_id;
        uint64_t sequence, timestamp_usec, received_usec;
        unsigned flags;
        const char *json;
        size_t json_len;
} StoredEvent;

/* Callbacks: < 0 stops with that error, > 0 stops without error, 0 goes on. */
typedef int (*EventFunc)(const StoredEvent *e, void *userdata);
typedef int (*HostFunc)(const HostState *h, void *userdata);
typedef int (*AlertFunc)(const AlertRecord *a, void *userdata);
typedef int (*PolicyFunc)(const PolicyRecord *p, void *userdata);
typedef int (*TicketFunc)(const TicketRecord *t, void *userdata);

/* An existing row met by the chain check. */
typedef struct ExistingEvent {
        uint64_t sequence;
        uint8_t hash[SHA256_SIZE];
        uint8_t digest[SHA256_SIZE];
        uint8_t prev_hash[SHA256_SIZE];
} ExistingEvent;

/* The backend interface. Everything but open is reached through storage_*() below. */
typedef struct StorageOps {
        const char *scheme;     /* "sqlite", "postgresql" */
        int (*open)(const char *location, unsigned n_connections, Storage **ret);
        void (*close)(Storage *s);
        int (*ping)(Storage *s);

        int (*token_add)(Storage *s, const TokenRecord *t);
        /* Takes one use of the token. -ENOENT unknown, -EKEYEXPIRED expired, -EUSERS used up. */
        int (*token_consume)(Storage *s, const uint8_t hash[SHA256_SIZE], uint64_t now_usec, TokenRecord *ret);

        /* Records an issued certificate. For a host certificate the host row is created (or its group and
         * name updated), its earlier certificates revoked, and an "enrolled" alert recorded. */
        int (*cert_add)(Storage *s, const CertRecord *c, const char *host_name);
        int (*cert_get)(Storage *s, const char *serial, CertRecord *ret);
        /* Revokes one certificate (serial) or all of a host or operator (subject). Returns the count. */
        int (*cert_revoke)(Storage *s, const char *serial, const char *subject);

        /* Optional: work before an ingest transaction, outside it (PostgreSQL: monthly partitions). */
        int (*ingest_prepare)(Storage *s, IngestRecord *const *records, size_t n, uint64_t now_usec);
        /* Optional: whether ingest_prepare() would have nothing to do for these records (NULL: always). */
        bool (*ingest_prepared)(Storage *s, IngestRecord *const *records, size_t n, uint64_t now_usec);
        /* Ingest transaction for one host; locks the host (row lock in PostgreSQL, the writer in SQLite),
         * creating its row when missing. ret_state is the host as stored. */
        int (*ingest_begin)(Storage *s, const char *host_id, const char *host_name, uint64_t now_usec,
                            HostState *ret_state, StorageTxn **ret);
        /* Rows of this host with sequence in [lo, hi], ascending, at most max. */
        int (*ingest_existing)(StorageTxn *t, uint64_t lo, uint64_t hi, ExistingEvent *out, size_t max, size_t *ret_n);
        /* Stored sequences of this host greater than after, ascending, at most max. */
        int (*ingest_sequences_after)(StorageTxn *t, uint64_t after, uint64_t *out, size_t max, size_t *ret_n);
        int (*ingest_insert)(StorageTxn *t, IngestRecord *const *records, size_t n, uint64_t received_usec);
        /* Optional, all three or none: records inserted by one statement fed in pieces (PostgreSQL: one COPY).
         * Between begin and end no other primitive runs on t; ingest_abort() ends an open one. */
        int (*ingest_copy_begin)(StorageTxn *t);
        int (*ingest_copy_add)(StorageTxn *t, IngestRecord *const *records, size_t n, uint64_t received_usec);
        int (*ingest_copy_end)(StorageTxn *t);
        int (*ingest_alert)(StorageTxn *t, const AlertRecord *a);
        /* Writes the host state and commits; or rolls back. Both free t. */
        int (*ingest_commit)(StorageTxn *t, const HostState *state);
        void (*ingest_abort)(StorageTxn *t);

        int (*host_get)(Storage *s, const char *host_id, HostState *ret);
        int (*hosts)(Storage *s, HostFunc f, void *userdata);
        int (*events)(Storage *s, const EventQuery *q, EventFunc f, void *userdata, uint64_t *ret_count);
        int (*alerts)(Storage *s, const char *host_id, uint64_t limit, AlertFunc f, void *userdata);

        /* Policies and tickets (issue 7; storage-*-policy.c). publish: -ESTALE when the group already has
         * a serial >= p->serial (checked and inserted in one transaction: two collectors cannot both win). */
        int (*policy_publish)(Storage *s, const PolicyRecord *p);
        /* The group's newest policy (with data when with_data); -ENOENT when none. */
        int (*policy_latest)(Storage *s, const char *group, bool with_data, PolicyRecord *ret);
        /* Published policies, newest first, without data; group NULL: all. */
        int (*policies)(Storage *s, const char *group, uint64_t limit, PolicyFunc f, void *userdata);
        int (*published_state)(Storage *s, PublishedState *ret);
        /* Queues a ticket; t->id is set. -EEXIST when this ticket id is already queued. */
        int (*ticket_queue)(Storage *s, TicketRecord *t);
        /* Tickets of host_id with id > after, ascending, with data, at most max. */
        int (*tickets_after)(Storage *s, const char *host_id, int64_t after, size_t max, TicketFunc f, void *userdata);
        /* Moves a host to a group; -ENOENT for an unknown host. */
        int (*host_set_group)(Storage *s, const char *host_id, const char *group);
} StorageOps;

struct Storage {
        const StorageOps *ops;
};

extern const StorageOps storage_sqlite_ops;
extern const StorageOps storage_postgresql_ops;

/* spec: "sqlite:PATH" or "postgresql:CONNINFO" (a libpq keyword/value string or URI). n_connections bounds
 * the pool (at least 1). -EPROTONOSUPPORT for an unknown scheme. */
int storage_open(const char *spec, unsigned n_connections, Storage **ret);
Storage *storage_close(Storage *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Storage *, storage_close);

/* Whether a storage error means "database unreachable, try again later". */
bool storage_error_is_transient(int r);

static inline int storage_ping(Storage *s) {
        return s->ops->ping(s);
}

/* ---- results of an ingest (chain.c) ---- */

typedef struct IngestResult {
        uint64_t acked_sequence;        /* highest contiguous sequence stored for the host */
        uint64_t last_sequence;         /* highest stored */
        size_t n_stored, n_duplicates, n_flagged, n_conflicts;
        ChainState chain;
} IngestResult;

/* Stores records (sorted by sequence, each sequence once) of one host in one transaction, checking the
 * chain against what is stored: duplicates (same sequence and hash) are skipped, conflicts kept as alerts,
 * gaps and bad links or hashes stored with flags and alerts. Nothing is stored when it fails.
 * follows (NULL: none) is a precondition: the batch is stored only when the host's highest stored sequence
 * is *follows at the moment it is stored (under the host's lock); otherwise -ESTALE, nothing stored, and
 * ret->acked_sequence / ret->last_sequence tell the host's (an agent's second batch in flight must not be
 * stored when the first was not: it would be a gap). */
int storage_ingest(Storage *s, const char *host_id, const char *host_name, IngestRecord *records, size_t n,
                   const uint64_t *follows, uint64_t now_usec, IngestResult *ret);

/* One piece of a batch as it is parsed; its records ascend when the batch is in order. */
typedef struct IngestPiece {
        IngestRecord *records;
        size_t n;
        const char *host_name;          /* host.name of its last record that had one, or NULL */
} IngestPiece;

/* Hands over piece k (0, 1, 2, ... in turn) once it is parsed: > 0 with *ret filled, 0 after the last piece,
 * < 0 when the batch is not to be stored (refused, out of memory). */
typedef int (*IngestPieceFunc)(void *userdata, size_t k, IngestPiece *ret);

/* storage_ingest() for a batch that arrives in pieces. When the batch follows the host's stored records (a
 * backlog being drained: nothing stored at or after its first sequence, the pieces in order), each piece is
 * checked and inserted while the next one is still being parsed, all in one transaction, with the same checks,
 * alerts and result as storage_ingest(). Otherwise -ECANCELED with nothing stored (pieces out of order, a
 * record stored at or after the first sequence, a piece needing ingest_prepare() once the transaction is open,
 * no records): the caller stores the whole batch with storage_ingest(). An error of next() is returned as it
 * is, nothing stored; follows as storage_ingest() (-ESTALE). The pieces' records must stay valid until this
 * returns. */
int storage_ingest_pieces(Storage *s, const char *host_id, IngestPieceFunc next, void *userdata,
                          const uint64_t *follows, uint64_t now_usec, IngestResult *ret);

/* Bulk path for benchmarks and imports: inserts without chain checks, then sets the host state to what was
 * inserted (contiguous assumed). */
int storage_bulk_insert(Storage *s, const char *host_id, IngestRecord *const *records, size_t n, uint64_t now_usec);

static inline int storage_host_get(Storage *s, const char *host_id, HostState *ret) {
        return s->ops->host_get(s, host_id, ret);
}
static inline int storage_hosts(Storage *s, HostFunc f, void *userdata) {
        return s->ops->hosts(s, f, userdata);
}
static inline int storage_events(Storage *s, const EventQuery *q, EventFunc f, void *userdata, uint64_t *ret_count) {
        return s->ops->events(s, q, f, userdata, ret_count);
}
static inline int storage_alerts(Storage *s, const char *host_id, uint64_t limit, AlertFunc f, void *userdata) {
        return s->ops->alerts(s, host_id, limit, f, userdata);
}
static inline int storage_token_add(Storage *s, const TokenRecord *t) {
        return s->ops->token_add(s, t);
}
static inline int storage_token_consume(Storage *s, const uint8_t hash[SHA256_SIZE], uint64_t now, TokenRecord *ret) {
        return s->ops->token_consume(s, hash, now, ret);
}
static inline int storage_cert_add(Storage *s, const CertRecord *c, const char *host_name) {
        return s->ops->cert_add(s, c, host_name);
}
static inline int storage_cert_get(Storage *s, const char *serial, CertRecord *ret) {
        return s->ops->cert_get(s, serial, ret);
}
static inline int storage_cert_revoke(Storage *s, const char *serial, const char *subject) {
        return s->ops->cert_revoke(s, serial, subject);
}

static inline int storage_policy_publish(Storage *s, const PolicyRecord *p) {
        return s->ops->policy_publish(s, p);
}
static inline int storage_policy_latest(Storage *s, const char *group, bool with_data, PolicyRecord *ret) {
        return s->ops->policy_latest(s, group, with_data, ret);
}
static inline int storage_policies(Storage *s, const char *group, uint64_t limit, PolicyFunc f, void *userdata) {
        return s->ops->policies(s, group, limit, f, userdata);
}
static inline int storage_published_state(Storage *s, PublishedState *ret) {
        return s->ops->published_state(s, ret);
}
static inline int storage_ticket_queue(Storage *s, TicketRecord *t) {
        return s->ops->ticket_queue(s, t);
}
static inline int storage_tickets_after(Storage *s, const char *host_id, int64_t after, size_t max, TicketFunc f,
                                        void *userdata) {
        return s->ops->tickets_after(s, host_id, after, max, f, userdata);
}
static inline int storage_host_set_group(Storage *s, const char *host_id, const char *group) {
        return s->ops->host_set_group(s, host_id, group);
}

/* ---- helpers shared by the backends (storage.c) ---- */

/* Whether s is 32 lowercase hex digits. */
bool host_id_is_valid(const char *s);
/* [A-Za-z0-9_.-], 1..GROUP_NAME_MAX */
bool group_name_is_valid(const char *s);
/* Chain state from the counters. */
ChainState host_chain_state(const HostState *h);
/* Glob (*, ?, [...], [!...]) to an anchored POSIX regular expression for PostgreSQL's "~". */
int glob_to_regex(const char *glob, char **ret);
/* Whether device looks like "vvvv:pppp" (hex); writes the lowercase form. */
bool device_is_vidpid(const char *device, char out[static 10]);
