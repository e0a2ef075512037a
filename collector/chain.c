/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The per-host chain check of an ingest (docs/collector.md "Chain checks"), written once on top of the
 * backends' transaction primitives. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage.h"

/* Sequences fetched per query while advancing the contiguous mark over earlier gaps. */
#define CONTIGUOUS_STEP 1024u

/* A batch naming the sequence it follows that reaches the host's lock before that sequence is stored (an
 * agent's two batches in flight, the second overtaking the first on its way in) waits this long for it, with
 * the lock released, looking at the host's state after every ingest this process commits and at least every
 * FOLLOWS_POLL_USEC (another collector of the same database may store it). Short: the request's thread serves
 * other connections too, and a first batch not even received yet (on the same thread) is better answered by
 * a 412 and a resend than waited for. */
#define FOLLOWS_WAIT_USEC (50u * 1000u)
#define FOLLOWS_POLL_USEC (5u * 1000u)

/* Ingests committed by this process, for the batches that wait for their predecessor. */
static pthread_mutex_t commit_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t commit_cond = PTHREAD_COND_INITIALIZER;
static uint64_t commit_generation;

static uint64_t commits_seen(void) {
        pthread_mutex_lock(&commit_lock);
        uint64_t g = commit_generation;
        pthread_mutex_unlock(&commit_lock);
        return g;
}

static void commits_advance(void) {
        pthread_mutex_lock(&commit_lock);
        commit_generation++;
        pthread_cond_broadcast(&commit_cond);
        pthread_mutex_unlock(&commit_lock);
}

/* Waits until an ingest commits after generation `seen`, or until the monotonic time `until`. */
static void commits_wait(uint64_t seen, uint64_t until) {
        struct timespec ts = { .tv_sec = (time_t) (until / 1000000u), .tv_nsec = (long) (until % 1000000u) * 1000 };
        pthread_mutex_lock(&commit_lock);
        while (commit_generation == seen && now_mono_usec() < until)
                if (pthread_cond_clockwait(&commit_cond, &commit_lock, CLOCK_MONOTONIC, &ts) == ETIMEDOUT)
                        break;
        pthread_mutex_unlock(&commit_lock);
}

static const uint8_t zero_hash[SHA256_SIZE];

typedef struct Known {
        ExistingEvent *rows;
        size_t n;
} Known;

static const ExistingEvent *known_find(const Known *k, uint64_t seq) {
        size_t lo = 0, hi = k->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (k->rows[mid].sequence == seq)
                        return &k->rows[mid];
                if (k->rows[mid].sequence < seq)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

static void hex32(const uint8_t h[SHA256_SIZE], char out[65]) {
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < SHA256_SIZE; i++) {
                out[2 * i] = digits[h[i] >> 4];
                out[2 * i + 1] = digits[h[i] & 15];
        }
        out[64] = 0;
}

/* Alerts kept until the open COPY of a piece-by-piece ingest has ended (no other statement can run then). */
typedef struct AlertList {
        AlertRecord *a;
        size_t n, cap;
} AlertList;

static int add_alert(StorageTxn *t, Storage *s, HostState *st, AlertList *later, AlertKind kind, uint64_t seq,
                     uint64_t seq_end, const IngestRecord *r, uint64_t now, const char *fmt, ...) _printf_(10, 11);

/* Records an alert now, or in later (when not NULL) for later_flush(). */
static int add_alert(StorageTxn *t, Storage *s, HostState *st, AlertList *later, AlertKind kind, uint64_t seq,
                     uint64_t seq_end, const IngestRecord *r, uint64_t now, const char *fmt, ...) {
        AlertRecord a = { .created_usec = now, .kind = kind, .sequence = seq, .sequence_end = seq_end };
        memcpy(a.host_id, st->host_id, sizeof(a.host_id));
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(a.detail, sizeof(a.detail), fmt, ap);
        va_end(ap);
        if (r) {
                a.body = r->json;
                a.body_len = r->json_len < ALERT_BODY_MAX ? r->json_len : ALERT_BODY_MAX;
        }
        if (alert_kind_breaks_chain(kind))
                st->n_broken++;
        if (!later)
                return s->ops->ingest_alert(t, &a);
        if (later->n == later->cap) {
                size_t ncap = later->cap ? later->cap * 2 : 16;
                AlertRecord *na = realloc(later->a, ncap * sizeof(*na));
                if (!na)
                        return -ENOMEM;
                later->a = na;
                later->cap = ncap;
        }
        later->a[later->n++] = a;      /* body points into a record, valid until the ingest returns */
        return 0;
}

static int later_flush(Storage *s, StorageTxn *t, AlertList *later) {
        for (size_t i = 0; i < later->n; i++) {
                int r = s->ops->ingest_alert(t, &later->a[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Moves the contiguous mark forward over what is stored. */
static int advance_contiguous(Storage *s, StorageTxn *t, HostState *st) {
        uint64_t seqs[CONTIGUOUS_STEP];
        while (st->contiguous_sequence < st->last_sequence) {
                size_t n = 0;
                int r = s->ops->ingest_sequences_after(t, st->contiguous_sequence, seqs, ELEMENTSOF(seqs), &n);
                if (r < 0)
                        return r;
                size_t i = 0;
                while (i < n && seqs[i] == st->contiguous_sequence + 1) {
                        st->contiguous_sequence++;
                        i++;
                }
                if (i < n || n < ELEMENTSOF(seqs))
                        break;
        }
        return 0;
}

/* Where the check of a batch stands between its pieces. */
typedef struct CheckCursor {
        AlertList *later;               /* alerts kept for later, or NULL: recorded at once */
        bool had_events;                /* the host had stored records before this batch */
        uint64_t prev_max;              /* highest sequence seen before the current record */
        const IngestRecord *batch_prev; /* previous record of this batch */
} CheckCursor;

/* Checks records (ascending) against known (the stored rows that can matter) and the records before them
 * (cur), records alerts, and appends the records to store to fresh. */
static int check_records(Storage *s, StorageTxn *t, HostState *st, const Known *known, IngestRecord *records, size_t n,
                         uint64_t now, IngestResult *res, CheckCursor *cur, IngestRecord **fresh, size_t *n_fresh) {
        char a[65], b[65];
        int r;

        for (size_t i = 0; i < n; i++) {
                IngestRecord *rec = &records[i];
                const ExistingEvent *same = known_find(known, rec->sequence);

                if (same) {
                        /* the same claimed hash and the same content (a forgery can claim the hash) */
                        if (memcmp(same->hash, rec->hash, SHA256_SIZE) == 0 &&
                            memcmp(same->digest, rec->digest, SHA256_SIZE) == 0)
                                res->n_duplicates++;
                        else {
                                hex32(same->hash, a);
                                hex32(rec->hash, b);
                                r = add_alert(t, s, st, cur->later, ALERT_CONFLICT, rec->sequence, rec->sequence, rec, now,
                                              "sequence %llu was stored with hash %.16s…, now received with %.16s…",
                                              (unsigned long long) rec->sequence, a, b);
                                if (r < 0)
                                        return r;
                                res->n_conflicts++;
                                res->n_flagged++;
                                /* successors link to the stored record, found below through known */
                                if (rec->sequence > cur->prev_max)
                                        cur->prev_max = rec->sequence;
                                continue;
                        }
                        cur->batch_prev = rec;
                        if (rec->sequence > cur->prev_max)
                                cur->prev_max = rec->sequence;
                        continue;
                }

                rec->flags = 0;
                if (!rec->hash_ok) {
                        rec->flags |= EVENT_FLAG_HASH;
                        r = add_alert(t, s, st, cur->later, ALERT_HASH, rec->sequence, rec->sequence, NULL, now,
                                      "record %llu does not hash to its mnguard.hash (modified or forged)",
                                      (unsigned long long) rec->sequence);
                        if (r < 0)
                                return r;
                }

                /* Its predecessor: the previous line of the batch, or a stored row. */
                const uint8_t *pred_hash = NULL;
                if (rec->sequence == 1)
                        pred_hash = zero_hash;
                else if (cur->batch_prev && cur->batch_prev->sequence == rec->sequence - 1)
                        pred_hash = cur->batch_prev->hash;
                else {
                        const ExistingEvent *p = known_find(known, rec->sequence - 1);
                        if (p)
                                pred_hash = p->hash;
                }

                if (pred_hash) {
                        if (memcmp(pred_hash, rec->prev_hash, SHA256_SIZE) != 0) {
                                rec->flags |= EVENT_FLAG_LINK;
                                hex32(pred_hash, a);
                                hex32(rec->prev_hash, b);
                                r = add_alert(t, s, st, cur->later, ALERT_LINK, rec->sequence, rec->sequence, NULL, now,
                                              "record %llu names prev_hash %.16s…, but its predecessor's hash is %.16s…",
                                              (unsigned long long) rec->sequence, b, a);
                                if (r < 0)
                                        return r;
                        }
                } else if (!cur->had_events && !cur->batch_prev) {
                        /* The host's first record: nothing to link to. */
                        r = add_alert(t, s, st, cur->later, ALERT_START, rec->sequence, rec->sequence, NULL, now,
                                      "the host's first record is sequence %llu, not 1 (its journal was pruned "
                                      "or set aside before enrollment)", (unsigned long long) rec->sequence);
                        if (r < 0)
                                return r;
                } else if (rec->sequence > cur->prev_max + 1) {
                        rec->flags |= EVENT_FLAG_GAP;
                        r = add_alert(t, s, st, cur->later, ALERT_GAP, cur->prev_max + 1, rec->sequence - 1, NULL, now,
                                      "sequences %llu-%llu are missing before %llu",
                                      (unsigned long long) (cur->prev_max + 1), (unsigned long long) (rec->sequence - 1),
                                      (unsigned long long) rec->sequence);
                        if (r < 0)
                                return r;
                }
                /* else: it fills part of a gap already reported; its predecessor is still missing. */

                /* A stored successor must link to it (filling a gap from the end). */
                const ExistingEvent *next = known_find(known, rec->sequence + 1);
                bool next_in_batch = i + 1 < n && records[i + 1].sequence == rec->sequence + 1;
                if (next && !next_in_batch && memcmp(next->prev_hash, rec->hash, SHA256_SIZE) != 0) {
                        r = add_alert(t, s, st, cur->later, ALERT_LINK, rec->sequence + 1, rec->sequence + 1, NULL, now,
                                      "stored record %llu does not link to the record %llu received now",
                                      (unsigned long long) (rec->sequence + 1), (unsigned long long) rec->sequence);
                        if (r < 0)
                                return r;
                }

                if (rec->flags)
                        res->n_flagged++;
                fresh[(*n_fresh)++] = rec;
                cur->batch_prev = rec;
                if (rec->sequence > cur->prev_max)
                        cur->prev_max = rec->sequence;
        }
        return 0;
}

/* The host's new state once fresh (ascending) were inserted. */
static int update_state(Storage *s, StorageTxn *t, HostState *st, IngestRecord *const *fresh, size_t n_fresh,
                        uint64_t now, IngestResult *res) {
        int r;

        res->n_stored = n_fresh;
        host_state_observe(st, fresh, n_fresh, st->last_sequence);

        bool fast = st->contiguous_sequence == st->last_sequence;
        uint64_t first_new = n_fresh > 0 ? fresh[0]->sequence : 0;
        if (n_fresh > 0) {
                uint64_t max_new = fresh[n_fresh - 1]->sequence;
                if (st->first_sequence == 0 || first_new < st->first_sequence) {
                        if (st->first_sequence != 0)
                                fast = false;   /* the chain now starts earlier: walk again */
                        st->first_sequence = first_new;
                        if (!fast || st->last_sequence == 0)
                                st->contiguous_sequence = first_new - 1;
                }
                if (max_new > st->last_sequence)
                        st->last_sequence = max_new;
                st->n_events += n_fresh;
        }
        /* Fast path: everything up to the old end was contiguous and the new records follow it without a
         * hole. Otherwise walk the stored sequences. */
        if (fast && n_fresh > 0 && first_new == st->contiguous_sequence + 1 &&
            fresh[n_fresh - 1]->sequence - first_new + 1 == n_fresh &&
            fresh[n_fresh - 1]->sequence == st->last_sequence)
                st->contiguous_sequence = st->last_sequence;
        else if (st->contiguous_sequence < st->last_sequence) {
                r = advance_contiguous(s, t, st);
                if (r < 0)
                        return r;
        }
        st->last_seen_usec = now;
        st->chain = host_chain_state(st);
        return 0;
}

static int check_and_store(Storage *s, StorageTxn *t, HostState *st, IngestRecord *records, size_t n, uint64_t now,
                           IngestResult *res) {
        _cleanup_free_ ExistingEvent *rows = NULL;
        _cleanup_free_ IngestRecord **fresh = NULL;
        uint64_t lo = records[0].sequence > 1 ? records[0].sequence - 1 : 1;
        uint64_t hi = records[n - 1].sequence < UINT64_MAX ? records[n - 1].sequence + 1 : UINT64_MAX;
        size_t max_rows = n + 2, n_fresh = 0;
        Known known = {};
        int r;

        rows = calloc(max_rows, sizeof(*rows));
        fresh = calloc(n, sizeof(*fresh));
        if (!rows || !fresh)
                return -ENOMEM;
        /* Only rows in [lo, hi] can matter, and there are at most n + 2 of them. */
        r = s->ops->ingest_existing(t, lo, hi, rows, max_rows, &known.n);
        if (r < 0)
                return r;
        known.rows = rows;

        CheckCursor cur = { .had_events = st->last_sequence > 0, .prev_max = st->last_sequence };
        r = check_records(s, t, st, &known, records, n, now, res, &cur, fresh, &n_fresh);
        if (r < 0)
                return r;
        if (n_fresh > 0) {
                r = s->ops->ingest_insert(t, fresh, n_fresh, now);
                if (r < 0)
                        return r;
        }
        return update_state(s, t, st, fresh, n_fresh, now, res);
}

/* Whether records are in strictly ascending sequence order. */
static bool records_ascending(const IngestRecord *records, size_t n) {
        for (size_t i = 1; i < n; i++)
                if (records[i].sequence <= records[i - 1].sequence)
                        return false;
        return true;
}

/* Ends an ingest transaction (t may be NULL when r < 0): commits with the host's new state and returns the
 * result when r >= 0, else rolls back. Frees st's strings. */
static int ingest_end(Storage *s, StorageTxn *t, HostState *st, int r, const IngestResult *res, IngestResult *ret) {
        if (r < 0) {
                if (t)
                        s->ops->ingest_abort(t);
                host_state_done(st);
                return r;
        }
        r = s->ops->ingest_commit(t, st);
        if (r >= 0) {
                commits_advance();
                *ret = *res;
                ret->acked_sequence = st->contiguous_sequence;
                ret->last_sequence = st->last_sequence;
                ret->chain = host_chain_state(st);
        }
        host_state_done(st);
        return r;
}

/* Waits (FOLLOWS_WAIT_USEC from the first call, *deadline) until the host's last stored sequence reaches
 * follows, reading its state without its lock after each commit: 1 when it did, 0 when time is up. */
static int wait_for_predecessor(Storage *s, const char *host_id, uint64_t follows, uint64_t *deadline) {
        uint64_t now = now_mono_usec();
        if (*deadline == 0)
                *deadline = now + FOLLOWS_WAIT_USEC;
        while (now < *deadline) {
                uint64_t seen = commits_seen();
                HostState hs = {};
                int r = s->ops->host_get(s, host_id, &hs);
                uint64_t last = hs.last_sequence;
                host_state_done(&hs);
                if (r < 0 && r != -ENOENT)
                        return r;
                if (r >= 0 && last >= follows)
                        return 1;
                commits_wait(seen, now + FOLLOWS_POLL_USEC < *deadline ? now + FOLLOWS_POLL_USEC : *deadline);
                now = now_mono_usec();
        }
        return 0;
}

/* Opens the host's ingest transaction (its lock) for a batch that follows *follows (NULL: any batch). A
 * batch ahead of what is stored waits briefly for its predecessor with the lock released
 * (wait_for_predecessor()); one that does not follow is -ESTALE, with the host's sequences in *ret. */
static int begin_following(Storage *s, const char *host_id, const char *host_name, const uint64_t *follows,
                           uint64_t now_usec, HostState *st, StorageTxn **t, IngestResult *ret) {
        uint64_t deadline = 0;
        for (;;) {
                int r = s->ops->ingest_begin(s, host_id, host_name, now_usec, st, t);
                if (r < 0 || !follows || st->last_sequence == *follows)
                        return r;
                *ret = (IngestResult) { .acked_sequence = st->contiguous_sequence, .last_sequence = st->last_sequence,
                                        .chain = host_chain_state(st) };
                if (st->last_sequence > *follows)
                        return -ESTALE;         /* the caller aborts *t */
                s->ops->ingest_abort(*t);
                *t = NULL;
                host_state_done(st);
                *st = (HostState) {};
                r = wait_for_predecessor(s, host_id, *follows, &deadline);
                if (r <= 0)
                        return r < 0 ? r : -ESTALE;
        }
}

int storage_ingest(Storage *s, const char *host_id, const char *host_name, IngestRecord *records, size_t n,
                   const uint64_t *follows, uint64_t now_usec, IngestResult *ret) {
        HostState st = {};
        StorageTxn *t = NULL;
        IngestResult res = {};
        int r;

        if (!host_id_is_valid(host_id))
                return -EINVAL;
        if (!records_ascending(records, n))
                return -EINVAL;

        if (n > 0 && s->ops->ingest_prepare) {
                _cleanup_free_ IngestRecord **all = calloc(n, sizeof(*all));
                if (!all)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++)
                        all[i] = &records[i];
                r = s->ops->ingest_prepare(s, all, n, now_usec);
                if (r < 0)
                        return r;
        }
        r = begin_following(s, host_id, host_name, follows, now_usec, &st, &t, ret);
        if (r == 0 && n > 0)
                r = check_and_store(s, t, &st, records, n, now_usec, &res);
        else
                st.last_seen_usec = now_usec;
        return ingest_end(s, t, &st, r, &res, ret);
}

/* A growing array of record pointers. */
typedef struct RecordList {
        IngestRecord **p;
        size_t n, cap;
} RecordList;

static int list_reserve(RecordList *l, size_t extra) {
        if (l->n + extra <= l->cap)
                return 0;
        size_t ncap = l->cap ? l->cap : 1024;
        while (ncap < l->n + extra)
                ncap *= 2;
        IngestRecord **np = realloc(l->p, ncap * sizeof(*np));
        if (!np)
                return -ENOMEM;
        l->p = np;
        l->cap = ncap;
        return 0;
}

int storage_ingest_pieces(Storage *s, const char *host_id, IngestPieceFunc next, void *userdata,
                          const uint64_t *follows, uint64_t now_usec, IngestResult *ret) {
        RecordList ptrs = {}, fresh = {};    /* the current piece's records; those to store, all pieces */
        ExistingEvent rows[2];
        Known known = {};
        HostState st = {};
        StorageTxn *t = NULL;
        IngestResult res = {};
        CheckCursor cur = {};
        AlertList later = {};
        bool copying = false;
        const char *host_name = NULL;
        int r;

        if (!host_id_is_valid(host_id))
                return -EINVAL;
        for (size_t k = 0;; k++) {
                IngestPiece piece = {};
                r = next(userdata, k, &piece);
                if (r <= 0)
                        break;
                if (piece.host_name)
                        host_name = piece.host_name;
                if (piece.n == 0)
                        continue;
                /* in order: ascending, after what came before */
                r = -ECANCELED;
                if ((cur.batch_prev && piece.records[0].sequence <= cur.batch_prev->sequence) ||
                    !records_ascending(piece.records, piece.n))
                        break;
                ptrs.n = 0;
                if ((r = list_reserve(&ptrs, piece.n)) < 0 || (r = list_reserve(&fresh, piece.n)) < 0)
                        break;
                for (size_t i = 0; i < piece.n; i++)
                        ptrs.p[ptrs.n++] = &piece.records[i];

                if (!t) {
                        uint64_t first = piece.records[0].sequence;
                        if (s->ops->ingest_prepare && (r = s->ops->ingest_prepare(s, ptrs.p, ptrs.n, now_usec)) < 0)
                                break;
                        if ((r = begin_following(s, host_id, host_name, follows, now_usec, &st, &t, ret)) < 0)
                                break;
                        /* Nothing stored at or after the first sequence: then only its predecessor can matter,
                         * as in storage_ingest() (which would find no other row in its range). */
                        r = s->ops->ingest_existing(t, first > 1 ? first - 1 : 1, INT64_MAX, rows, ELEMENTSOF(rows),
                                                    &known.n);
                        if (r < 0)
                                break;
                        if (known.n > 0 && rows[known.n - 1].sequence >= first) {
                                r = -ECANCELED;
                                break;
                        }
                        known.rows = rows;
                        cur = (CheckCursor) { .had_events = st.last_sequence > 0, .prev_max = st.last_sequence };
                        /* One statement for all pieces where the backend has it (PostgreSQL: one COPY, fed
                         * piece by piece); the alerts wait for its end. */
                        if (s->ops->ingest_copy_begin) {
                                if ((r = s->ops->ingest_copy_begin(t)) < 0)
                                        break;
                                copying = true;
                                cur.later = &later;
                        }
                } else if (s->ops->ingest_prepared && !s->ops->ingest_prepared(s, ptrs.p, ptrs.n, now_usec)) {
                        /* not inside the open transaction: it may have to wait for this one's locks */
                        r = -ECANCELED;
                        break;
                }
                size_t n_before = fresh.n;
                r = check_records(s, t, &st, &known, piece.records, piece.n, now_usec, &res, &cur, fresh.p, &fresh.n);
                if (r < 0)
                        break;
                if (fresh.n > n_before) {
                        r = copying ? s->ops->ingest_copy_add(t, fresh.p + n_before, fresh.n - n_before, now_usec)
                                    : s->ops->ingest_insert(t, fresh.p + n_before, fresh.n - n_before, now_usec);
                        if (r < 0)
                                break;
                }
        }
        free(ptrs.p);
        if (r == 0 && !t)
                r = -ECANCELED;         /* no records: storage_ingest() records the visit */
        if (r == 0 && copying)
                r = s->ops->ingest_copy_end(t);         /* on failure, ingest_abort() ends the COPY */
        if (r == 0)
                r = later_flush(s, t, &later);
        free(later.a);
        if (r == 0)
                r = update_state(s, t, &st, fresh.p, fresh.n, now_usec, &res);
        free(fresh.p);
        if (r == 0 && host_name) {
                char *copy = strdup(host_name);
                if (!copy)
                        r = -ENOMEM;
                else {
                        free(st.host_name);
                        st.host_name = copy;
                }
        }
        return ingest_end(s, t, &st, r, &res, ret);
}

int storage_bulk_insert(Storage *s, const char *host_id, IngestRecord *const *records, size_t n, uint64_t now_usec) {
        HostState st = {};
        StorageTxn *t = NULL;
        int r;

        if (!host_id_is_valid(host_id) || n == 0)
                return -EINVAL;
        if (s->ops->ingest_prepare) {
                r = s->ops->ingest_prepare(s, records, n, now_usec);
                if (r < 0)
                        return r;
        }
        r = s->ops->ingest_begin(s, host_id, NULL, now_usec, &st, &t);
        if (r < 0)
                return r;
        r = s->ops->ingest_insert(t, records, n, now_usec);
        if (r < 0) {
                s->ops->ingest_abort(t);
                host_state_done(&st);
                return r;
        }
        host_state_observe(&st, records, n, st.last_sequence);
        if (st.first_sequence == 0 || records[0]->sequence < st.first_sequence)
                st.first_sequence = records[0]->sequence;
        if (records[n - 1]->sequence > st.last_sequence)
                st.last_sequence = records[n - 1]->sequence;
        st.contiguous_sequence = st.last_sequence;
        st.n_events += n;
        st.last_seen_usec = now_usec;
        st.chain = host_chain_state(&st);
        r = s->ops->ingest_commit(t, &st);
        host_state_done(&st);
        return r;
}
