/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "policy-json.h"

#include <stdio.h>

#include "strutil.h"

json_object *usb_class_mask_to_json(UsbClassMask m) {
        json_object *a = json_object_new_array();
        for (int c = 0; c < _USB_CLASS_MAX; c++)
                if (m & USB_CLASS_BIT(c))
                        json_object_array_add(a, json_object_new_string(usb_class_to_string(c)));
        return a;
}

const char *policy_format_date(int64_t days, char buf[static 11]) {
        int y, m, d;
        days_to_civil(days, &y, &m, &d);
        snprintf(buf, 11, "%04d-%02d-%02d", y, m, d);
        return buf;
}

static json_object *principals_to_json(const PolicyPrincipals *pr) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < pr->n; i++)
                json_object_array_add(a, json_object_new_string(pr->names[i]));
        return a;
}

static json_object *strings_to_json(char *const *v, size_t n) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

static const char *effective_mode(const Policy *p, PolicyMode m) {
        return policy_mode_to_string(p->mode == POLICY_MODE_AUDIT || m == POLICY_MODE_AUDIT ? POLICY_MODE_AUDIT
                                                                                              : POLICY_MODE_ENFORCE);
}

static void add_str(json_object *o, const char *k, const char *v) {
        if (v)
                json_object_object_add(o, k, json_object_new_string(v));
}

static json_object *media_rule_to_json(const Policy *p, const MediaRule *r) {
        json_object *o = json_object_new_object(), *m = json_object_new_object();
        char buf[11];

        json_object_object_add(o, "name", json_object_new_string(r->name));
        if (r->match.has_vendor) {
                snprintf(buf, sizeof(buf), "%04x", r->match.vendor);
                add_str(m, "vendor", buf);
        }
        if (r->match.has_product) {
                snprintf(buf, sizeof(buf), "%04x", r->match.product);
                add_str(m, "product", buf);
        }
        add_str(m, "serial", r->match.serial);
        add_str(m, "fs-uuid", r->match.fs_uuid);
        add_str(m, "fs-label", r->match.fs_label);
        add_str(m, "bus", r->match.bus);
        if (r->match.classes)
                json_object_object_add(m, "classes", usb_class_mask_to_json(r->match.classes));
        json_object_object_add(o, "match", m);
        add_str(o, "access", media_access_to_string(r->access));
        json_object_object_add(o, "users", r->users.n ? principals_to_json(&r->users) : NULL);
        json_object_object_add(o, "until", r->has_until ? json_object_new_string(policy_format_date(r->until_days, buf))
                                                        : NULL);
        add_str(o, "mode", effective_mode(p, r->mode));
        json_object_object_add(o, "line", json_object_new_int((int) r->line));
        return o;
}

static json_object *print_rule_to_json(const Policy *p, const PrintRule *r) {
        json_object *o = json_object_new_object();
        add_str(o, "name", r->name);
        add_str(o, "printer", r->printer);
        json_object_object_add(o, "users", r->users.n ? principals_to_json(&r->users) : NULL);
        add_str(o, "access", r->access == PRINT_ALLOW ? "allow" : "block");
        json_object_object_add(o, "max-pages", r->max_pages ? json_object_new_int64(r->max_pages) : NULL);
        add_str(o, "mode", effective_mode(p, r->mode));
        json_object_object_add(o, "line", json_object_new_int((int) r->line));
        return o;
}

json_object *policy_to_json(const Policy *p) {
        json_object *o = json_object_new_object(), *d = json_object_new_object(), *c = json_object_new_object();
        json_object *media = json_object_new_array(), *print = json_object_new_array();

        json_object_object_add(o, "mnguard-policy", json_object_new_int((int) p->format));
        json_object_object_add(o, "serial", json_object_new_uint64(p->serial));
        add_str(o, "name", p->name);
        json_object_object_add(o, "contact", p->contact ? json_object_new_string(p->contact) : NULL);
        add_str(o, "mode", policy_mode_to_string(p->mode));

        add_str(d, "storage", media_access_to_string(p->defaults.storage));
        json_object_object_add(d, "usb-classes-blocked", usb_class_mask_to_json(p->defaults.usb_classes_blocked));
        add_str(d, "print", p->defaults.print == PRINT_ALLOW ? "allow" : "block");
        add_str(d, "clipboard", p->defaults.clipboard_allow ? "allow" : "block");
        json_object_object_add(o, "defaults", d);

        for (size_t i = 0; i < p->n_media; i++)
                json_object_array_add(media, media_rule_to_json(p, &p->media[i]));
        json_object_object_add(o, "media", media);
        for (size_t i = 0; i < p->n_print; i++)
                json_object_array_add(print, print_rule_to_json(p, &p->print[i]));
        json_object_object_add(o, "print", print);

        json_object_object_add(c, "protected-apps",
                               strings_to_json(p->clipboard.protected_apps, p->clipboard.n_protected_apps));
        json_object_object_add(c, "allowed-apps", strings_to_json(p->clipboard.allowed_apps, p->clipboard.n_allowed_apps));
        json_object_object_add(c, "allow-within-app", json_object_new_boolean(p->clipboard.allow_within_app));
        json_object_object_add(c, "detect-individual-number",
                               json_object_new_boolean(p->clipboard.detect_individual_number));
        json_object_object_add(o, "clipboard", c);
        return o;
}
