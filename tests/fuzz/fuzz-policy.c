/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the policy parser, then everything an agent does with a parsed policy. */
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "policy-json.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Policy *p = NULL;
        PolicyDiagnostics d;

        if (policy_parse((const char *) data, size, &p, &d) == 0) {
                json_object *o = policy_to_json(p);
                (void) json_object_to_json_string(o);
                json_object_put(o);

                PolicyInterface ifs[2] = { { USB_CLASS_STORAGE }, { USB_CLASS_HID } };
                const char *uuids[1] = { "1234-ABCD" }, *labels[1] = { "LABEL" }, *groups[1] = { "mn-operators" };
                PolicyDevice dev = { .bus = "usb", .has_ids = true, .vendor = 0x0781, .product = 0x5581,
                                     .serial = "4C530001230101117384", .fs_uuids = uuids, .fs_labels = labels,
                                     .n_fs = 1, .interfaces = ifs, .n_interfaces = 2, .is_storage = true };
                PolicySubject s = { .user = "tanaka", .groups = groups, .n_groups = 1 };
                PolicyDecision dec;
                bool cut[2];
                policy_decide_device(p, &dev, &s, 20783, &dec, cut);
                PrintDecision pd;
                policy_decide_print(p, "mn-floor2-a", &s, 3, &pd);
                policy_free(p);
        }
        policy_diagnostics_clear(&d);
        return 0;
}
