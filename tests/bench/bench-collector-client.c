/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Load generator for the collector benchmark (bench-collector.sh runs it against a real collector):
 *
 *   bench-collector-client ids N
 *       prints N host ids (the simulated terminals')
 *   bench-collector-client drain NAME URL CA CERT KEY HOST_ID EVENTS BATCH
 *       one agent with a backlog: EVENTS chained records in gzip'd batches of BATCH, posted one after the
 *       other on one connection; prints "NAME events/s"
 *   bench-collector-client terminals NAME URL CA CERTDIR N SECONDS
 *       N terminals (CERTDIR/tNNNN.crt/.key, host ids as "ids" prints), each posting one event a second for
 *       SECONDS, over libcurl's multi interface, after every terminal has connected (TLS handshake, an
 *       empty POST, untimed); prints the time to connect them all and p50/p99/max request latency.
 *
 * Records are built exactly as the journal chains them (collector-test-util.c). */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "clock.h"
#include "collector-test-util.h"
#include "strutil.h"

#define TERMINALS_MAX 4096
#define WARMUP_PARALLEL 16
#define T0_USEC (1764115200ull * 1000000u)

typedef struct Buf {
        char *p;
        size_t n, cap;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
        if (b->n + n > b->cap) {
                b->cap = (b->n + n) * 2;
                b->p = realloc(b->p, b->cap);
                if (!b->p)
                        abort();
        }
        memcpy(b->p + b->n, s, n);
        b->n += n;
}

static size_t sink(char *p, size_t size, size_t n, void *userdata) {
        Buf *b = userdata;
        if (b)
                buf_add(b, p, size * n);
        return size * n;
}

static void gzip_buf(const Buf *in, Buf *out) {
        z_stream z = {};
        if (deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                abort();
        out->cap = deflateBound(&z, in->n);
        out->p = malloc(out->cap);
        z.next_in = (Bytef *) in->p;
        z.avail_in = (uInt) in->n;
        z.next_out = (Bytef *) out->p;
        z.avail_out = (uInt) out->cap;
        if (deflate(&z, Z_FINISH) != Z_STREAM_END)
                abort();
        out->n = out->cap - z.avail_out;
        deflateEnd(&z);
}

static void setup_tls(CURL *c, const char *ca, const char *cert, const char *key) {
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
        curl_easy_setopt(c, CURLOPT_CAPATH, NULL);          /* the pinned CA only, not the system store */
        curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, key);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);     /* 127.0.0.1 vs the server's names: pinned CA instead */
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
}

#define DRAIN_WINDOW 2

typedef struct DrainSlot {
        CURL *easy;
        struct curl_slist *headers;
        Buf reply;
        size_t batch;
        bool busy;
} DrainSlot;

static int drain(char *argv[]) {
        const char *name = argv[0], *url = argv[1], *ca = argv[2], *cert = argv[3], *key = argv[4], *host = argv[5];
        uint64_t events, batch;
        if (parse_u64(argv[6], &events) < 0 || parse_u64(argv[7], &batch) < 0 || batch == 0)
                return 2;
        size_t n_batches = (size_t) ((events + batch - 1) / batch);
        Buf *gz = calloc(n_batches, sizeof(Buf));
        CtChain chain;
        ct_chain_init(&chain, host, "mn-pc-drain");
        uint64_t t_gen = now_mono_usec();
        for (size_t b = 0; b < n_batches; b++) {
                Buf raw = {};
                for (uint64_t i = b * batch; i < events && i < (b + 1) * batch; i++) {
                        char *rec;
                        size_t len;
                        if (ct_chain_next(&chain, (unsigned) i, T0_USEC + i * 1000000u, &rec, &len) < 0)
                                return 1;
                        buf_add(&raw, rec, len);
                        buf_add(&raw, "\n", 1);
                        free(rec);
                }
                gzip_buf(&raw, &gz[b]);
                free(raw.p);
        }
        fprintf(stderr, "bench: %llu records generated in %.1f s\n", (unsigned long long) events, (now_mono_usec() - t_gen) / 1e6);

        /* As the agent: up to DRAIN_WINDOW batches in flight on their own connections; each batch sent while
         * another is in flight names the sequence it follows (Mnguard-Follows). A 412 (the batch reached
         * the collector before the one it follows was stored) is sent again once nothing is in flight. */
        const char *wenv = getenv("BENCH_COLLECTOR_WINDOW");
        uint64_t window = DRAIN_WINDOW;
        if (wenv && (parse_u64(wenv, &window) < 0 || window < 1 || window > DRAIN_WINDOW))
                return 2;
        struct curl_slist *h = curl_slist_append(NULL, "Content-Encoding: gzip");
        h = curl_slist_append(h, "Content-Type: application/x-ndjson");
        h = curl_slist_append(h, "Expect:");
        char full[512];
        snprintf(full, sizeof(full), "%s/v1/events", url);
        CURLM *m = curl_multi_init();
        DrainSlot slots[DRAIN_WINDOW] = {};
        for (size_t i = 0; i < window; i++) {
                slots[i].easy = curl_easy_init();
                setup_tls(slots[i].easy, ca, cert, key);
                curl_easy_setopt(slots[i].easy, CURLOPT_URL, full);
                curl_easy_setopt(slots[i].easy, CURLOPT_WRITEFUNCTION, sink);
                curl_easy_setopt(slots[i].easy, CURLOPT_WRITEDATA, &slots[i].reply);
                curl_easy_setopt(slots[i].easy, CURLOPT_PRIVATE, &slots[i]);
        }
        size_t next = 0, done = 0, in_flight = 0, refused = 0;
        bool resend = false;             /* a 412: nothing more is sent until nothing is in flight */
        uint64_t last_in_flight = 0;    /* the last sequence of the batch sent last, while in flight */
        uint64_t start = now_mono_usec();
        while (done < n_batches) {
                for (size_t i = 0; i < window && next < n_batches && (in_flight == 0 || !resend); i++) {
                        DrainSlot *sl = &slots[i];
                        if (sl->busy)
                                continue;
                        /* as the agent: the next batch once the one in flight is uploaded */
                        bool uploaded = true;
                        for (size_t o = 0; o < window; o++) {
                                curl_off_t up = 0;
                                if (slots[o].busy && (curl_easy_getinfo(slots[o].easy, CURLINFO_SIZE_UPLOAD_T, &up) != CURLE_OK ||
                                                      up < (curl_off_t) gz[slots[o].batch].n))
                                        uploaded = false;
                        }
                        if (!uploaded)
                                break;
                        sl->headers = NULL;
                        for (struct curl_slist *x = h; x; x = x->next)
                                sl->headers = curl_slist_append(sl->headers, x->data);
                        if (in_flight > 0) {
                                char f[64];
                                snprintf(f, sizeof(f), "Mnguard-Follows: %llu", (unsigned long long) last_in_flight);
                                sl->headers = curl_slist_append(sl->headers, f);
                        }
                        sl->batch = next++;
                        sl->busy = true;
                        sl->reply.n = 0;
                        last_in_flight = (uint64_t) (sl->batch + 1) * batch;
                        if (last_in_flight > events)
                                last_in_flight = events;
                        curl_easy_setopt(sl->easy, CURLOPT_HTTPHEADER, sl->headers);
                        curl_easy_setopt(sl->easy, CURLOPT_POSTFIELDS, gz[sl->batch].p);
                        curl_easy_setopt(sl->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) gz[sl->batch].n);
                        curl_multi_add_handle(m, sl->easy);
                        in_flight++;
                }
                int running;
                curl_multi_perform(m, &running);
                CURLMsg *msg;
                int left;
                while ((msg = curl_multi_info_read(m, &left))) {
                        if (msg->msg != CURLMSG_DONE)
                                continue;
                        DrainSlot *sl;
                        long status = 0;
                        CURLcode rc = msg->data.result;
                        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &sl);
                        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
                        curl_multi_remove_handle(m, msg->easy_handle);
                        curl_slist_free_all(sl->headers);
                        sl->busy = false;
                        in_flight--;
                        if (rc == CURLE_OK && status == 412) {
                                /* sent again once nothing is in flight (batches after it are not sent meanwhile) */
                                refused++;
                                if (sl->batch < next)
                                        next = sl->batch;
                                resend = true;
                                continue;
                        }
                        if (rc != CURLE_OK || status != 200) {
                                fprintf(stderr, "bench: batch %zu: %s, HTTP %ld: %.*s\n", sl->batch, curl_easy_strerror(rc),
                                        status, (int) sl->reply.n, sl->reply.p ?: "");
                                return 1;
                        }
                        done++;
                        if (sl->batch + 1 == n_batches)
                                fprintf(stderr, "bench: last reply %.*s\n", (int) sl->reply.n, sl->reply.p);
                }
                if (in_flight == 0)
                        resend = false;
                if (running > 0)
                        curl_multi_poll(m, NULL, 0, in_flight < window ? 5 : 1000, NULL);
        }
        double secs = (now_mono_usec() - start) / 1e6;
        printf("%s %.0f events/s\n", name, (double) events / secs);
        fprintf(stderr, "bench: %zu batches in flight at most, %zu refused 412 and sent again\n", (size_t) window, refused);
        for (size_t b = 0; b < n_batches; b++)
                free(gz[b].p);
        free(gz);
        for (size_t i = 0; i < window; i++) {
                free(slots[i].reply.p);
                curl_easy_cleanup(slots[i].easy);
        }
        curl_multi_cleanup(m);
        curl_slist_free_all(h);
        return 0;
}

typedef struct Terminal {
        CURL *easy;
        CtChain chain;
        char *body;
        uint64_t next_usec, started_usec;
        unsigned sent;
        bool busy;
} Terminal;

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static int terminals(char *argv[]) {
        const char *name = argv[0], *url = argv[1], *ca = argv[2], *dir = argv[3];
        uint64_t n, seconds;
        if (parse_u64(argv[4], &n) < 0 || n == 0 || n > TERMINALS_MAX || parse_u64(argv[5], &seconds) < 0)
                return 2;
        Terminal *t = calloc(n, sizeof(Terminal));
        uint64_t *lat = calloc(n * (seconds + 1), sizeof(uint64_t));
        size_t n_lat = 0, failures = 0, n_connects = 0;
        char full[512];
        snprintf(full, sizeof(full), "%s/v1/events", url);
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/x-ndjson");
        h = curl_slist_append(h, "Expect:");   /* no 100-continue round trip for one small record */
        CURLM *m = curl_multi_init();
        curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long) n + 16);
        uint64_t start = now_mono_usec() + 100000;
        for (uint64_t i = 0; i < n; i++) {
                char id[HOST_ID_LEN + 1], cert[512], key[512];
                ct_host_id((unsigned) i, id);
                ct_chain_init(&t[i].chain, id, "mn-pc-sim");
                snprintf(cert, sizeof(cert), "%s/t%04llu.crt", dir, (unsigned long long) i);
                snprintf(key, sizeof(key), "%s/t%04llu.key", dir, (unsigned long long) i);
                t[i].easy = curl_easy_init();
                setup_tls(t[i].easy, ca, cert, key);
                curl_easy_setopt(t[i].easy, CURLOPT_URL, full);
                curl_easy_setopt(t[i].easy, CURLOPT_HTTPHEADER, h);
                curl_easy_setopt(t[i].easy, CURLOPT_WRITEFUNCTION, sink);
                curl_easy_setopt(t[i].easy, CURLOPT_WRITEDATA, NULL);
                curl_easy_setopt(t[i].easy, CURLOPT_PRIVATE, &t[i]);
                t[i].next_usec = start + i * 1000000u / n;      /* spread over the second */
        }
        /* Warm-up, not timed: every terminal opens its connection (TLS handshake) with an empty POST, as an
         * agent does once at start; a terminal then keeps its connection. */
        uint64_t warm_start = now_mono_usec();
        size_t next = 0, in_flight = 0, warmed = 0;
        while (warmed < n) {
                while (next < n && in_flight < WARMUP_PARALLEL) {
                        curl_easy_setopt(t[next].easy, CURLOPT_POSTFIELDS, "");
                        curl_easy_setopt(t[next].easy, CURLOPT_POSTFIELDSIZE, 0L);
                        curl_multi_add_handle(m, t[next].easy);
                        next++;
                        in_flight++;
                }
                int still;
                curl_multi_perform(m, &still);
                CURLMsg *msg;
                int left;
                while ((msg = curl_multi_info_read(m, &left))) {
                        if (msg->msg != CURLMSG_DONE)
                                continue;
                        long status = 0;
                        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
                        if (msg->data.result != CURLE_OK || status != 200) {
                                fprintf(stderr, "bench: warm-up failed: %s, HTTP %ld\n", curl_easy_strerror(msg->data.result), status);
                                return 1;
                        }
                        curl_multi_remove_handle(m, msg->easy_handle);
                        in_flight--;
                        warmed++;
                }
                curl_multi_poll(m, NULL, 0, 5, NULL);
        }
        printf("%s-connect-all %.1f s\n", name, (now_mono_usec() - warm_start) / 1e6);
        start = now_mono_usec() + 100000;
        for (uint64_t i = 0; i < n; i++)
                t[i].next_usec = start + i * 1000000u / n;
        uint64_t end = start + seconds * 1000000u;
        unsigned running = 0;
        for (;;) {
                uint64_t now = now_mono_usec();
                bool pending = false;
                for (uint64_t i = 0; i < n; i++) {
                        Terminal *x = &t[i];
                        if (x->busy || x->next_usec >= end)
                                continue;
                        pending = true;
                        if (x->next_usec > now)
                                continue;
                        size_t len;
                        free(x->body);
                        if (ct_chain_next(&x->chain, x->sent, T0_USEC + x->sent * 1000000u, &x->body, &len) < 0)
                                return 1;
                        x->body = realloc(x->body, len + 2);
                        x->body[len] = '\n';
                        x->body[len + 1] = 0;
                        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
                        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, (long) len + 1);
                        x->started_usec = now;
                        x->busy = true;
                        x->next_usec += 1000000u;
                        curl_multi_add_handle(m, x->easy);
                }
                curl_multi_perform(m, (int *) &running);
                CURLMsg *msg;
                int left;
                while ((msg = curl_multi_info_read(m, &left))) {
                        if (msg->msg != CURLMSG_DONE)
                                continue;
                        Terminal *x;
                        long status = 0;
                        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &x);
                        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
                        uint64_t l = now_mono_usec() - x->started_usec;
                        long connects = 0;
                        curl_easy_getinfo(msg->easy_handle, CURLINFO_NUM_CONNECTS, &connects);
                        n_connects += (size_t) connects;
                        if (msg->data.result != CURLE_OK || status != 200)
                                failures++;
                        else
                                lat[n_lat++] = l;
                        x->sent++;
                        x->busy = false;
                        curl_multi_remove_handle(m, x->easy);
                }
                if (!pending && running == 0)
                        break;
                curl_multi_poll(m, NULL, 0, 5, NULL);
        }
        qsort(lat, n_lat, sizeof(uint64_t), cmp_u64);
        if (n_lat == 0)
                return 1;
        printf("%s-requests %zu count\n", name, n_lat);
        printf("%s-failures %zu count\n", name, failures);
        printf("%s-connections %zu count\n", name, n_connects);
        printf("%s-p50 %.1f ms\n", name, lat[n_lat / 2] / 1000.0);
        printf("%s-p99 %.1f ms\n", name, lat[n_lat * 99 / 100] / 1000.0);
        printf("%s-max %.1f ms\n", name, lat[n_lat - 1] / 1000.0);
        for (uint64_t i = 0; i < n; i++) {
                curl_easy_cleanup(t[i].easy);
                free(t[i].body);
        }
        curl_multi_cleanup(m);
        curl_slist_free_all(h);
        free(t);
        free(lat);
        return failures ? 1 : 0;
}

int main(int argc, char *argv[]) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        if (argc == 3 && strcmp(argv[1], "ids") == 0) {
                uint64_t n;
                if (parse_u64(argv[2], &n) < 0)
                        return 2;
                for (uint64_t i = 0; i < n; i++) {
                        char id[HOST_ID_LEN + 1];
                        ct_host_id((unsigned) i, id);
                        puts(id);
                }
                return 0;
        }
        if (argc == 10 && strcmp(argv[1], "drain") == 0)
                return drain(argv + 2);
        if (argc == 8 && strcmp(argv[1], "terminals") == 0)
                return terminals(argv + 2);
        fprintf(stderr, "usage: see the comment at the top of bench-collector-client.c\n");
        return 2;
}
