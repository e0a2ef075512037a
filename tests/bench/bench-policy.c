/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Policy benchmarks: decisions per second for a 100-rule policy on one core, and parse + validate
 * time of a policy with 10,000 media rules. Prints "name value unit" lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "policy.h"
#include "test-helpers.h"

static double now_s(void) {
        return (double) now_mono_usec() / 1e6;
}

static Policy *parse_or_die(const TextBuf *b) {
        Policy *p = NULL;
        PolicyDiagnostics d;
        if (policy_parse(b->data, b->len, &p, &d) < 0) {
                fprintf(stderr, "benchmark policy does not parse: %s\n", d.n ? d.items[0].message : "?");
                exit(1);
        }
        policy_diagnostics_clear(&d);
        return p;
}

/* 100 rules as a municipality writes them: registered sticks by serial, models by ids, discs by
 * fs-uuid, card readers by label, a few class rules, some per user or group, some expiring. */
static void hundred_rules(TextBuf *b) {
        tb_printf(b, "mnguard-policy: 1\nserial: 1\nname: bench\nmedia:\n");
        for (int i = 0; i < 60; i++)
                tb_printf(b, "  - name: stick-%d\n    match: {vendor: \"0781\", product: \"5581\", serial: \"4C5300012301%08d\"}\n"
                             "    access: %s\n%s", i, i, i % 2 ? "read-only" : "read-write",
                          i % 3 == 0 ? "    users: [\"@mn-operators\", tanaka]\n    until: 2030-03-31\n" : "");
        for (int i = 0; i < 20; i++)
                tb_printf(b, "  - {name: model-%d, match: {vendor: \"%04x\", product: \"%04x\"}, access: read-only}\n", i,
                          0x1000 + i, 0x2000 + i);
        for (int i = 0; i < 10; i++)
                tb_printf(b, "  - {name: disc-%d, match: {fs-uuid: \"%04X-%04X\"}, access: read-only}\n", i, i, i);
        for (int i = 0; i < 8; i++)
                tb_printf(b, "  - {name: sd-%d, match: {fs-label: \"配布用-%d\", bus: mmc}, access: read-only}\n", i, i);
        tb_printf(b, "  - {name: phones, match: {classes: [still-image]}, access: block}\n");
        tb_printf(b, "  - {name: tethers, match: {classes: [network]}, access: block}\n");
}

static void bench_eval(void) {
        TextBuf b = {};
        hundred_rules(&b);
        Policy *p = parse_or_die(&b);
        tb_free(&b);

        enum { N_DEV = 64 };
        static char serials[N_DEV][32];
        static PolicyInterface ifs[N_DEV][2];
        PolicyDevice devs[N_DEV];
        const char *uuids[1] = { "FFFF-FFFF" }, *labels[1] = { "OTHER" }, *groups[2] = { "users", "mn-operators" };
        for (int i = 0; i < N_DEV; i++) {
                /* half registered sticks (spread over the rule list), half unknown: worst case, all rules tried */
                snprintf(serials[i], sizeof(serials[i]), "4C5300012301%08d", i % 2 ? i : 1000 + i);
                ifs[i][0].cls = USB_CLASS_STORAGE;
                ifs[i][1].cls = i % 4 == 3 ? USB_CLASS_HID : USB_CLASS_STORAGE;
                devs[i] = (PolicyDevice) { .bus = "usb", .has_ids = true, .vendor = 0x0781, .product = 0x5581,
                                           .serial = serials[i], .fs_uuids = uuids, .fs_labels = labels, .n_fs = 1,
                                           .interfaces = ifs[i], .n_interfaces = i % 4 == 3 ? 2 : 1,
                                           .is_storage = true };
        }
        PolicySubject s = { .user = "sato", .groups = groups, .n_groups = 2 };

        const long n = 5000000;
        unsigned long sink = 0;
        double best = 1e9;
        for (int round = 0; round < 3; round++) {
                double t0 = now_s();
                for (long i = 0; i < n; i++) {
                        PolicyDecision dec;
                        bool cut[2];
                        policy_decide_device(p, &devs[i % N_DEV], &s, 20783, &dec, cut);
                        sink += dec.verdict;
                }
                double t = now_s() - t0;
                if (t < best)
                        best = t;
        }
        /* Unknown device: every one of the 100 rules is tried. */
        PolicyDevice unknown = devs[0];
        unknown.vendor = 0x9999;
        double t0 = now_s();
        for (long i = 0; i < n; i++) {
                PolicyDecision dec;
                policy_decide_device(p, &unknown, &s, 20783, &dec, NULL);
                sink += dec.verdict;
        }
        double t_unknown = now_s() - t0;
        printf("policy_eval_100_rules_mixed %.0f decisions/s\n", (double) n / best);
        printf("policy_eval_100_rules_no_match %.0f decisions/s\n", (double) n / t_unknown);
        printf("policy_eval_ns_per_decision %.1f ns\n", best * 1e9 / (double) n);
        if (sink == 42)
                puts("");
        policy_free(p);
}

static void bench_parse(void) {
        TextBuf b = {};
        tb_printf(&b, "mnguard-policy: 1\nserial: 2026112601\nname: 媒体管理簿 10000\nmedia:\n");
        for (int i = 0; i < 10000; i++)
                tb_printf(&b, "- {name: m%05d, match: {vendor: \"0781\", serial: \"4C53%08d\"}, access: %s}\n", i, i,
                          i % 2 ? "read-only" : "read-write");
        double best = 1e9;
        for (int round = 0; round < 7; round++) {
                double t0 = now_s();
                Policy *p = parse_or_die(&b);
                double t = now_s() - t0;
                if (p->n_media != 10000)
                        exit(1);
                policy_free(p);
                if (t < best)
                        best = t;
        }
        printf("policy_parse_10000_rules %.1f ms\n", best * 1e3);
        printf("policy_parse_10000_rules_size %zu bytes\n", b.len);
        tb_free(&b);
}

int main(int argc, char **argv) {
        bench_eval();
        bench_parse();
        return 0;
}
