/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ticket.h"

#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exception.h"
#include "fileio.h"
#include "journal.h"
#include "macro.h"
#include "sign-io.h"
#include "strutil.h"

static int parse_device(const char *s, Exception *e) {
        /* VVVV:PPPP:SERIAL */
        char v[5] = {}, p[5] = {};
        if (strlen(s) < 11 || s[4] != ':' || s[9] != ':')
                return -EINVAL;
        memcpy(v, s, 4);
        memcpy(p, s + 5, 4);
        if (parse_hex4(v, &e->vendor) < 0 || parse_hex4(p, &e->product) < 0)
                return -EINVAL;
        e->serial = strdup(s + 10);
        return e->serial ? 0 : -ENOMEM;
}

int verb_ticket(int argc, char **argv) {
        static const struct option options[] = {
                { "key", required_argument, NULL, 'k' }, { "host", required_argument, NULL, 'H' },
                { "device", required_argument, NULL, 'd' }, { "access", required_argument, NULL, 'a' },
                { "from", required_argument, NULL, 'f' }, { "until", required_argument, NULL, 'u' },
                { "reason", required_argument, NULL, 'r' }, { "output", required_argument, NULL, 'o' }, {} };
        const char *key = NULL, *host = NULL, *out = NULL;
        Exception e = {};
        int c, ret = 2;
        bool have_from = false, have_until = false, have_access = false;

        optind = 0;
        /* getopt wants argv[0] to be a program name: the verb's arguments start at argv[0] */
        while ((c = getopt_long(argc + 1, argv - 1, "k:H:d:a:f:u:r:o:", options, NULL)) >= 0)
                switch (c) {
                case 'k': key = optarg; break;
                case 'H': host = optarg; break;
                case 'd':
                        if (parse_device(optarg, &e) < 0) {
                                fprintf(stderr, "mnguard-policy ticket: --device wants VVVV:PPPP:SERIAL\n");
                                goto finish;
                        }
                        break;
                case 'a': {
                        int a = media_access_from_string(optarg);
                        if (a != MEDIA_READ_ONLY && a != MEDIA_READ_WRITE) {
                                fprintf(stderr, "mnguard-policy ticket: --access is read-only or read-write\n");
                                goto finish;
                        }
                        e.access = (MediaAccess) a;
                        have_access = true;
                        break;
                }
                case 'f':
                case 'u':
                        if (journal_timestamp_parse(optarg, strlen(optarg), c == 'f' ? &e.not_before_usec : &e.not_after_usec) < 0) {
                                fprintf(stderr, "mnguard-policy ticket: times are RFC 3339, e.g. 2026-11-26T09:00:00+09:00\n");
                                goto finish;
                        }
                        *(c == 'f' ? &have_from : &have_until) = true;
                        break;
                case 'r':
                        free(e.reason);
                        e.reason = strdup(optarg);
                        break;
                case 'o': out = optarg; break;
                default: goto finish;
                }
        if (!key || !host || !e.serial || !have_access || !have_from || !have_until || optind != argc + 1) {
                fprintf(stderr, "mnguard-policy ticket: needs --key, --host, --device, --access, --from and --until\n");
                goto finish;
        }
        if (strlen(host) != 32) {
                fprintf(stderr, "mnguard-policy ticket: --host is the terminal's 32-digit host id (mnguardctl status)\n");
                goto finish;
        }
        memcpy(e.host_id, host, 33);
        if (e.not_before_usec >= e.not_after_usec) {
                fprintf(stderr, "mnguard-policy ticket: --from must be before --until\n");
                goto finish;
        }
        if (sodium_init() < 0)
                goto finish;
        unsigned char rnd[EXCEPTION_ID_HEX / 2];
        randombytes_buf(rnd, sizeof(rnd));
        sodium_bin2hex(e.id, sizeof(e.id), rnd, sizeof(rnd));

        _cleanup_free_ char *line = NULL, *sig = NULL, *data = NULL, *ktext = NULL, *file = NULL;
        size_t klen;
        SignSecretKey sk;
        unsigned kline = 0;
        if (exception_format(&e, &line) < 0)
                goto finish;
        if (read_full_file(key, SIGN_MAX_TEXT, &ktext, &klen) < 0 || sign_secret_key_parse(ktext, klen, &sk, &kline) < 0) {
                fprintf(stderr, "%s: error: cannot read the secret key\n", key);
                goto finish;
        }
        int r = sign_detached(&sk, SIGN_CONTEXT_TICKET, line, strlen(line), &sig);
        sign_secret_key_wipe(&sk);
        if (r < 0 || asprintf(&data, "%s\n%s", line, sig) < 0)
                goto finish;
        if (!out) {
                if (asprintf(&file, "ticket-%s.mnguard", e.id) < 0)
                        goto finish;
                out = file;
        }
        r = write_file_atomic(out, data, strlen(data), 0644);
        if (r < 0) {
                fprintf(stderr, "mnguard-policy ticket: cannot write %s: %s\n", out, strerror(-r));
                goto finish;
        }
        printf("%s: ticket %s for host %s, device %04x:%04x %s, %s\n", out, e.id, e.host_id, e.vendor, e.product,
               e.serial, media_access_to_string(e.access));
        ret = 0;
finish:
        exception_clear(&e);
        return ret;
}
