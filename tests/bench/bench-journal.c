/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Journal benchmarks, in a temporary directory removed afterwards ($TMPDIR, or the directory given with
 * --dir). Prints "name value unit" lines:
 *   - append throughput with group commit (JOURNAL_FLUSH_MAX_EVENTS per fsync'd commit), 1,000,000 events;
 *   - verification of that 1,000,000-event journal (all CPUs, and one CPU);
 *   - export of 100,000 records and verification of the export file;
 *   - queries on a 10,000,000-event journal spanning a year (~27,400 events a day): one day, one day of
 *     one user, the last 100 events. The big journal is filled by a bulk SQL path (no hash chain: queries
 *     do not look at it), not by appending, with user and device changing every BIG_RUN records, as a
 *     journal of format 1: opening it converts it to format 2 (the search runs), which is timed too.
 * Usage: bench-journal [--dir DIR] [--events N] [--big-events N] */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "journal-canon.h"
#include "journal.h"
#include "strutil.h"

#include <sodium.h>

#define T0 UINT64_C(1795651200000000) /* 2026-11-26T00:00:00Z */
#define DAY UINT64_C(86400000000)
#define POOL 64
/* Records in a row with the same user and device in the big journal: a user's files copied to a stick. */
#define BIG_RUN 50

static double now_s(void) {
        return (double) now_mono_usec() / 1e6;
}

static void die(const char *what, int r) {
        fprintf(stderr, "bench-journal: %s: %s\n", what, strerror(r < 0 ? -r : r));
        exit(1);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) ftw;
        if (flag == FTW_DP)
                rmdir(path);
        else
                unlink(path);
        return 0;
}

static char *join(const char *dir, const char *name) {
        char *p = NULL;
        if (asprintf(&p, "%s/%s", dir, name) < 0)
                die("asprintf", ENOMEM);
        return p;
}

/* Events as the daemon writes them, ~480 bytes of canonical JSON each. */
static json_object *make_event(unsigned i) {
        static const char *const actions[] = { "device-blocked", "device-allowed", "device-connected", "file-written" };
        char serial[32], user[16];
        json_object *ev = json_object_new_object(), *e = json_object_new_object(), *h = json_object_new_object(),
                    *u = json_object_new_object(), *d = json_object_new_object(), *m = json_object_new_object(),
                    *cls = json_object_new_array();
        snprintf(serial, sizeof(serial), "4C5300012301%08u", i % 5000);
        snprintf(user, sizeof(user), "user%u", i % 200);
        json_object_object_add(ev, "@timestamp", json_object_new_string("2026-11-26T06:18:14.123456Z"));
        json_object_object_add(ev, "event", e);
        json_object_object_add(e, "action", json_object_new_string(actions[i % 4]));
        json_object_object_add(e, "outcome", json_object_new_string("success"));
        json_object_object_add(e, "reason", json_object_new_string("default storage block"));
        json_object_object_add(ev, "host", h);
        json_object_object_add(h, "id", json_object_new_string("5f0c2a8e9b7d4e1f8a3c6b2d1e0f9a8b"));
        json_object_object_add(h, "name", json_object_new_string("mn-pc-0123"));
        json_object_object_add(ev, "user", u);
        json_object_object_add(u, "name", json_object_new_string(user));
        json_object_object_add(u, "id", json_object_new_int(1001 + (int) (i % 200)));
        json_object_object_add(ev, "device", d);
        json_object_object_add(d, "vendor", json_object_new_string("0781"));
        json_object_object_add(d, "product", json_object_new_string("5581"));
        json_object_object_add(d, "serial", json_object_new_string(serial));
        json_object_object_add(d, "model", json_object_new_string("Cruzer Blade"));
        json_object_object_add(d, "bus", json_object_new_string("usb"));
        json_object_array_add(cls, json_object_new_string("storage"));
        json_object_object_add(d, "classes", cls);
        json_object_object_add(d, "syspath", json_object_new_string("/devices/pci0000:00/0000:00:14.0/usb1/1-2"));
        json_object_object_add(ev, "mnguard", m);
        json_object_object_add(m, "policy_serial", json_object_new_uint64(2026112601));
        json_object_object_add(m, "rule", json_object_new_string("default"));
        return ev;
}

/* The journal's own record hash (record_hash(): nettle's SHA-256, SHA-NI where the CPU has it) for a
 * record-sized input: verification cannot beat records x this per CPU. */
static void bench_sha256(size_t record_size) {
        char buf[JOURNAL_RECORD_MAX], prev[64];
        uint8_t out[32] = {};
        const unsigned n = 200000;
        memset(buf, 'x', record_size);
        memset(prev, '0', sizeof(prev));
        size_t body = record_size > 64 ? record_size - 64 : record_size;
        double t0 = now_s();
        for (unsigned i = 0; i < n; i++) {
                buf[i % body] ^= (char) out[0];
                record_hash(prev, buf, body, out);
        }
        double t = now_s() - t0;
        printf("sha256_record_hash_%zu_bytes %.2f us\n", record_size, t / n * 1e6);
        printf("sha256_record_hash_throughput %.0f MB/s\n", (double) record_size * n / t / 1e6);
}

/* The canonical form of an event as the journal hashes it (with sequence and prev_hash filled in). */
static int canonical_sample(json_object *ev, char **ret, size_t *ret_len) {
        json_object *e, *m;
        json_object_object_get_ex(ev, "event", &e);
        json_object_object_get_ex(ev, "mnguard", &m);
        json_object_object_add(e, "sequence", json_object_new_int64(123456));
        json_object_object_add(m, "prev_hash",
                               json_object_new_string("0000000000000000000000000000000000000000000000000000000000000000"));
        return journal_canonical_json(ev, ret, ret_len);
}

/* Sets a string member of a member of ev in place. */
static void set_field(json_object *ev, const char *section, const char *key, const char *value) {
        json_object *sec, *v;
        if (json_object_object_get_ex(ev, section, &sec) && json_object_object_get_ex(sec, key, &v))
                json_object_set_string(v, value);
}

/* Appends n events, changing user and device every `run` events (1: every event); returns events/s. */
static double append_run(const char *path, unsigned n, unsigned run) {
        json_object *pool[POOL];
        char ts[JOURNAL_TIMESTAMP_MAX], user[16], serial[32];
        Journal *j = NULL;
        int r;

        for (unsigned i = 0; i < POOL; i++)
                pool[i] = make_event(i);
        if ((r = journal_open(path, NULL, &j)) < 0)
                die("journal_open", r);
        double t0 = now_s();
        for (unsigned i = 0; i < n; i++) {
                json_object *ev = pool[i % POOL];
                unsigned who = i / run;
                /* what the daemon does for each event: a new timestamp, the user and device of the moment */
                snprintf(user, sizeof(user), "user%u", who % 200);
                snprintf(serial, sizeof(serial), "4C5300012301%08u", who % 5000);
                set_field(ev, "user", "name", user);
                set_field(ev, "device", "serial", serial);
                json_object_object_add(ev, "@timestamp", json_object_new_string(journal_timestamp_format(T0 + i * UINT64_C(1000000), ts)));
                if ((r = journal_append(j, ev, NULL)) < 0)
                        die("journal_append", r);
        }
        if ((r = journal_flush(j)) < 0)
                die("journal_flush", r);
        double t = now_s() - t0;
        for (unsigned i = 0; i < POOL; i++)
                json_object_put(pool[i]);
        journal_close(j);
        return n / t;
}

static void bench_append_and_verify(const char *dir, unsigned n) {
        char *path = join(dir, "append.db"), *mixed = join(dir, "mixed.db");
        Journal *j = NULL;
        double t0, t;
        int r;

        /* Bursts: a user copying files to a stick (file-written audits), 1000 events per user and device. */
        printf("journal_append_group_commit %.0f events/s\n", append_run(path, n, JOURNAL_FLUSH_MAX_EVENTS));
        printf("journal_append_events %u events\n", n);
        /* The worst case for the user and device indexes: each event another user (of 200) and device (of 5000). */
        printf("journal_append_group_commit_every_event_other_user_device %.0f events/s\n", append_run(mixed, n / 4, 1));
        unlink(mixed);
        free(mixed);

        struct stat st;
        if (stat(path, &st) == 0)
                printf("journal_size_per_event %.0f bytes\n", (double) st.st_size / n);
        /* what is hashed per record: the previous hash in hex and the canonical record */
        json_object *sample = make_event(1);
        char *canon = NULL;
        size_t canon_len = 0;
        if ((r = canonical_sample(sample, &canon, &canon_len)) < 0)
                die("canonical form", r);
        printf("journal_hashed_bytes_per_event %zu bytes\n", canon_len + 64);
        bench_sha256(canon_len + 64);
        free(canon);
        json_object_put(sample);

        /* verification on a read-only handle, as mnguardctl --journal does */
        JournalVerifyResult v;
        double best = 1e9;
        for (int round = 0; round < 3; round++) {
                if ((r = journal_open_readonly(path, &j)) < 0)
                        die("journal_open_readonly", r);
                t0 = now_s();
                if ((r = journal_verify(j, &v)) < 0)
                        die("journal_verify", r);
                t = now_s() - t0;
                journal_close(j);
                if (!v.intact || v.n_records != n) {
                        fprintf(stderr, "bench-journal: verify failed: %s\n", v.detail);
                        exit(1);
                }
                if (t < best)
                        best = t;
        }
        printf("journal_verify_%uk %.3f s\n", n / 1000, best);
        printf("journal_verify_cpus %d cpus\n", sysconf(_SC_NPROCESSORS_ONLN) > 0 ? (int) sysconf(_SC_NPROCESSORS_ONLN) : 1);

        /* the same on one CPU (verification uses as many threads as it may run on) */
        cpu_set_t all, one;
        sched_getaffinity(0, sizeof(all), &all);
        CPU_ZERO(&one);
        for (int c = 0; c < CPU_SETSIZE; c++)
                if (CPU_ISSET(c, &all)) {
                        CPU_SET(c, &one);
                        break;
                }
        sched_setaffinity(0, sizeof(one), &one);
        if ((r = journal_open_readonly(path, &j)) < 0)
                die("journal_open_readonly", r);
        t0 = now_s();
        if ((r = journal_verify(j, &v)) < 0 || !v.intact)
                die("journal_verify", r);
        t = now_s() - t0;
        journal_close(j);
        sched_setaffinity(0, sizeof(all), &all);
        printf("journal_verify_%uk_one_cpu %.3f s\n", n / 1000, t);

        /* export 100,000 records and verify the file */
        char *exp = join(dir, "export.ndjson");
        FILE *f = fopen(exp, "w");
        JournalExportRange rg = { .from_sequence = 1, .to_sequence = 100000 };
        uint64_t count = 0;
        if (!f || (r = journal_open_readonly(path, &j)) < 0)
                die("export", f ? r : errno);
        t0 = now_s();
        if ((r = journal_export(j, &rg, f, &count)) < 0)
                die("journal_export", r);
        t = now_s() - t0;
        fclose(f);
        journal_close(j);
        printf("journal_export_100k %.3f s\n", t);
        f = fopen(exp, "r");
        t0 = now_s();
        if ((r = journal_verify_export(f, &v)) < 0 || !v.intact || v.n_records != count)
                die("journal_verify_export", r);
        t = now_s() - t0;
        fclose(f);
        printf("journal_verify_export_100k %.3f s\n", t);
        free(exp);
        free(path);
}

/* ---- the 10,000,000-event journal ---- */

static void sql(sqlite3 *db, const char *s) {
        char *err = NULL;
        if (sqlite3_exec(db, s, NULL, NULL, &err) != SQLITE_OK) {
                fprintf(stderr, "bench-journal: %s: %s\n", s, err ? err : "?");
                exit(1);
        }
}

static void build_big(const char *path, uint64_t n, uint64_t step) {
        Journal *j = NULL;
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        char *indexes[16];
        size_t n_idx = 0;
        int r;

        /* the schema comes from the journal itself */
        if ((r = journal_open(path, NULL, &j)) < 0)
                die("journal_open", r);
        journal_close(j);

        if (sqlite3_open(path, &db) != SQLITE_OK)
                die("sqlite3_open", EIO);
        sql(db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -1000000");
        if (sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL",
                               -1, &st, NULL) != SQLITE_OK)
                die("indexes", EIO);
        while (sqlite3_step(st) == SQLITE_ROW && n_idx < 16)
                indexes[n_idx++] = strdup((const char *) sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        for (size_t i = 0; i < n_idx; i++) {
                char *name = strstr(indexes[i], "INDEX ") + 6, drop[128];
                snprintf(drop, sizeof(drop), "DROP INDEX %.*s", (int) strcspn(name, " "), name);
                sql(db, drop);
        }

        /* records shaped like make_event()'s, hash chain left out */
        if (sqlite3_prepare_v2(
                    db,
                    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?1) "
                    "INSERT INTO events (seq, ts, action, user_name, dev_serial, dev_vidpid, hash, body) "
                    "SELECT i, ?2 + (i - 1) * ?3, a, 'user' || (u % 200), printf('4C5300012301%08d', u % 5000), '0781:5581', "
                    "zeroblob(32), "
                    "printf('{\"@timestamp\":\"%sZ\",\"device\":{\"bus\":\"usb\",\"classes\":[\"storage\"],\"model\":\"Cruzer Blade\","
                    "\"product\":\"5581\",\"serial\":\"4C5300012301%08d\",\"syspath\":\"/devices/pci0000:00/0000:00:14.0/usb1/1-2\","
                    "\"vendor\":\"0781\"},\"event\":{\"action\":\"%s\",\"outcome\":\"success\",\"reason\":\"default storage block\","
                    "\"sequence\":%d},\"host\":{\"id\":\"5f0c2a8e9b7d4e1f8a3c6b2d1e0f9a8b\",\"name\":\"mn-pc-0123\"},"
                    "\"mnguard\":{\"policy_serial\":2026112601,\"prev_hash\":\"%064d\",\"rule\":\"default\"},"
                    "\"user\":{\"id\":%d,\"name\":\"user%d\"}}', "
                    "strftime('%Y-%m-%dT%H:%M:%f', (?2 + (i - 1) * ?3) / 1000000.0, 'unixepoch'), u % 5000, a, i, 0, "
                    "1001 + u % 200, u % 200) "
                    "FROM (SELECT i, i / " STRINGIFY(BIG_RUN) " AS u, CASE i % 4 WHEN 0 THEN 'device-blocked' WHEN 1 THEN 'device-allowed' "
                    "WHEN 2 THEN 'device-connected' ELSE 'file-written' END AS a FROM c)",
                    -1, &st, NULL) != SQLITE_OK) {
                fprintf(stderr, "bench-journal: %s\n", sqlite3_errmsg(db));
                exit(1);
        }
        sqlite3_bind_int64(st, 1, (sqlite3_int64) n);
        sqlite3_bind_int64(st, 2, (sqlite3_int64) T0);
        sqlite3_bind_int64(st, 3, (sqlite3_int64) step);
        if (sqlite3_step(st) != SQLITE_DONE) {
                fprintf(stderr, "bench-journal: bulk insert: %s\n", sqlite3_errmsg(db));
                exit(1);
        }
        sqlite3_finalize(st);
        for (size_t i = 0; i < n_idx; i++) {
                sql(db, indexes[i]);
                free(indexes[i]);
        }
        char meta[256];
        snprintf(meta, sizeof(meta), "UPDATE meta SET value = '%" PRIu64 "' WHERE key = 'last_seq'", n);
        sql(db, "INSERT OR REPLACE INTO meta VALUES ('last_seq', '0'), "
                "('last_hash', '0000000000000000000000000000000000000000000000000000000000000000')");
        sql(db, meta);
        /* a journal of format 1 (without its column indexes): bench_big_query() times its conversion */
        sql(db, "DROP TABLE runs; UPDATE meta SET value = '1' WHERE key = 'format'");
        sql(db, "ANALYZE; PRAGMA journal_mode = WAL");
        sqlite3_close(db);
}

typedef struct Count {
        uint64_t n, bytes;
} Count;

static int count_record(const JournalRecord *rec, void *userdata) {
        Count *c = userdata;
        c->n++;
        c->bytes += rec->json_len;
        return 0;
}

static double time_query(Journal *j, const JournalQuery *q, int rounds, Count *ret) {
        double best = 1e9;
        for (int round = 0; round < rounds; round++) {
                Count c = {};
                double t0 = now_s();
                int r = journal_query(j, q, count_record, &c, NULL);
                double t = now_s() - t0;
                if (r < 0)
                        die("journal_query", r);
                if (t < best)
                        best = t;
                *ret = c;
        }
        return best;
}

static void drop_cache(const char *path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                fdatasync(fd);
                (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
                close(fd);
        }
}

static void bench_big_query(const char *dir, uint64_t n) {
        char *path = join(dir, "big.db");
        uint64_t step = 365 * DAY / n;
        Journal *j = NULL;
        Count c;
        int r;

        double t0 = now_s();
        build_big(path, n, step);
        printf("journal_bulk_build_%" PRIu64 "m %.1f s\n", n / 1000000, now_s() - t0);
        struct stat st;
        if (stat(path, &st) == 0)
                printf("journal_big_size %.2f GiB\n", (double) st.st_size / (1024.0 * 1024 * 1024));

        /* format 1 → 2 (the search runs), with the checks of any start */
        t0 = now_s();
        if ((r = journal_open(path, NULL, &j)) < 0)
                die("journal_open", r);
        journal_close(j);
        j = NULL;
        printf("journal_open_converting_format1_%" PRIu64 "m %.1f s\n", n / 1000000, now_s() - t0);

        if ((r = journal_open_readonly(path, &j)) < 0)
                die("journal_open_readonly", r);
        JournalQuery day = { .since_usec = T0 + 200 * DAY, .until_usec = T0 + 201 * DAY };
        drop_cache(path);
        double cold = time_query(j, &day, 1, &c);
        double warm = time_query(j, &day, 5, &c);
        printf("journal_query_one_day_of_%" PRIu64 "m %.1f ms\n", n / 1000000, warm * 1e3);
        printf("journal_query_one_day_cold_cache %.1f ms\n", cold * 1e3);
        printf("journal_query_one_day_records %" PRIu64 " records\n", c.n);
        printf("journal_query_one_day_bytes %" PRIu64 " bytes\n", c.bytes);

        JournalQuery user = { .since_usec = T0 + 200 * DAY, .until_usec = T0 + 201 * DAY, .user = "user7" };
        double tu = time_query(j, &user, 5, &c);
        printf("journal_query_one_day_one_user %.2f ms (%" PRIu64 " records)\n", tu * 1e3, c.n);
        JournalQuery dev = { .device = "4C530001230100000042", .action = "device-*" };
        double td = time_query(j, &dev, 5, &c);
        printf("journal_query_one_device_whole_year %.2f ms (%" PRIu64 " records)\n", td * 1e3, c.n);
        JournalQuery last = { .limit = 100, .order = JOURNAL_ORDER_DESCENDING };
        double tl = time_query(j, &last, 5, &c);
        printf("journal_query_last_100 %.2f ms\n", tl * 1e3);
        journal_close(j);
        free(path);
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "dir", required_argument, NULL, 'd' },
                { "events", required_argument, NULL, 'e' },
                { "big-events", required_argument, NULL, 'b' },
                {},
        };
        const char *parent = getenv("TMPDIR");
        uint64_t events = 1000000, big = 10000000;
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'd':
                        parent = optarg;
                        break;
                case 'e':
                        if (parse_u64(optarg, &events) < 0 || events > UINT32_MAX)
                                events = 0;
                        break;
                case 'b':
                        if (parse_u64(optarg, &big) < 0)
                                big = 0;
                        break;
                default:
                        fprintf(stderr, "usage: bench-journal [--dir DIR] [--events N] [--big-events N]\n");
                        return 2;
                }
        if (events < 100000 || big < 1000000) {
                fprintf(stderr, "bench-journal: at least 100000 events and 1000000 big events\n");
                return 2;
        }
        if (sodium_init() < 0)
                die("sodium_init", EIO);
        char *dir = NULL;
        if (asprintf(&dir, "%s/mnguard-bench-journal-XXXXXX", parent && *parent ? parent : "/tmp") < 0 || !mkdtemp(dir))
                die("mkdtemp", errno);

        bench_append_and_verify(dir, (unsigned) events);
        bench_big_query(dir, big);

        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(dir);
        return 0;
}
