/* SPDX-License-Identifier: GPL-2.0-or-later */
/* JSON description of a device and of what the policy decided for it. */
#include "device-json.h"

#include <errno.h>
#include <stdio.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

/* Adds v (NULL = JSON null) under key; v is consumed even on failure. */
static int add_value(json_object *o, const char *key, json_object *v) {
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int add_string(json_object *o, const char *key, const char *s) {
        json_object *v = NULL;

        if (s) {
                v = json_object_new_string(s);
                if (!v)
                        return -ENOMEM;
        }
        return add_value(o, key, v);
}

static int add_bool(json_object *o, const char *key, bool b) {
        json_object *v = json_object_new_boolean(b);
        if (!v)
                return -ENOMEM;
        return add_value(o, key, v);
}

static int add_hex(json_object *o, const char *key, unsigned value, int digits) {
        char buf[sizeof("ffff")];

        snprintf(buf, sizeof(buf), "%0*x", digits, value);
        return add_string(o, key, buf);
}

/* Like usb_class_mask_to_json() of policy-json.h, but NULL on allocation failure. */
static json_object *class_mask_to_json(UsbClassMask m) {
        _cleanup_(json_object_putp) json_object *a = json_object_new_array();
        if (!a)
                return NULL;
        for (UsbClass c = 0; c < _USB_CLASS_MAX; c++) {
                if (!(m & USB_CLASS_BIT(c)))
                        continue;
                json_object *s = json_object_new_string(usb_class_to_string(c));
                if (!s || json_object_array_add(a, s) < 0) {
                        json_object_put(s);
                        return NULL;
                }
        }
        return TAKE_PTR(a);
}

static json_object *filesystem_to_json(const MnFilesystem *f) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        if (!o || add_string(o, "devnode", f->devnode) < 0 || add_string(o, "type", f->type) < 0 ||
            add_string(o, "uuid", f->uuid) < 0 || add_string(o, "label", f->label) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static json_object *interface_to_json(const MnInterface *i, const bool *blocked) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        if (!o || add_string(o, "name", i->sysname) < 0 || add_string(o, "syspath", i->syspath) < 0 ||
            add_hex(o, "class", i->cls, 2) < 0 || add_hex(o, "subclass", i->subclass, 2) < 0 ||
            add_hex(o, "protocol", i->protocol, 2) < 0 ||
            add_string(o, "function", usb_class_to_string(i->function)) < 0 ||
            add_string(o, "label", i->label) < 0 || add_bool(o, "keyboard", i->keyboard) < 0 ||
            add_bool(o, "mouse", i->mouse) < 0)
                return NULL;
        if (blocked && add_string(o, "decision", *blocked ? "block" : "allow") < 0)
                return NULL;
        return TAKE_PTR(o);
}

static int add_decision(json_object *o, const MnDevice *d, const PolicyDecision *dec) {
        int r;

        if ((r = add_string(o, "decision", policy_verdict_to_string(dec->verdict))) < 0 ||
            (r = add_string(o, "rule", dec->rule ?: POLICY_RULE_DEFAULT)) < 0 ||
            (r = add_bool(o, "audit", dec->audit)) < 0 ||
            (r = add_string(o, "reason", dec->reason)) < 0)
                return r;
        if (d->classes & USB_CLASS_BIT(USB_CLASS_STORAGE)) {
                /* A blocked device has no storage access, whatever the rule or default said. */
                MediaAccess a = dec->verdict == VERDICT_BLOCK ? MEDIA_BLOCK : dec->storage;
                if ((r = add_string(o, "storage", media_access_to_string(a))) < 0)
                        return r;
        }
        json_object *b = class_mask_to_json(dec->blocked);
        if (!b)
                return -ENOMEM;
        return add_value(o, "blocked", b);
}

json_object *mn_device_to_json(const MnDevice *d, const PolicyDecision *dec, const bool *interface_blocked) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *a;

        if (!o || add_string(o, "syspath", d->syspath) < 0 || add_string(o, "name", d->sysname) < 0 ||
            add_string(o, "bus", d->bus) < 0)
                return NULL;
        if (d->has_ids) {
                if (add_hex(o, "vendor", d->vendor, 4) < 0 || add_hex(o, "product", d->product, 4) < 0)
                        return NULL;
        } else if (add_value(o, "vendor", NULL) < 0 || add_value(o, "product", NULL) < 0)
                return NULL;
        if (add_string(o, "serial", d->serial) < 0 || add_string(o, "manufacturer", d->manufacturer) < 0 ||
            add_string(o, "model", d->model) < 0 || add_bool(o, "optical", d->optical) < 0)
                return NULL;

        a = class_mask_to_json(d->classes);
        if (!a || add_value(o, "classes", a) < 0)
                return NULL;

        if (dec && add_decision(o, d, dec) < 0)
                return NULL;
        if (d->has_authorized && add_bool(o, "authorized", d->authorized) < 0)
                return NULL;

        a = json_object_new_array();
        if (!a || add_value(o, "filesystems", a) < 0)
                return NULL;
        for (size_t i = 0; i < d->n_fs; i++) {
                json_object *f = filesystem_to_json(&d->fs[i]);
                if (!f || json_object_array_add(a, f) < 0) {
                        json_object_put(f);
                        return NULL;
                }
        }
        if (d->fs_truncated && add_bool(o, "filesystems_truncated", true) < 0)
                return NULL;

        a = json_object_new_array();
        if (!a || add_value(o, "interfaces", a) < 0)
                return NULL;
        for (size_t i = 0; i < d->n_interfaces; i++) {
                json_object *f = interface_to_json(&d->interfaces[i], interface_blocked ? &interface_blocked[i] : NULL);
                if (!f || json_object_array_add(a, f) < 0) {
                        json_object_put(f);
                        return NULL;
                }
        }
        return TAKE_PTR(o);
}

int mn_device_event_fields(json_object *device, const MnDevice *d) {
        int r;
        if (d->has_ids) {
                if ((r = add_hex(device, "vendor", d->vendor, 4)) < 0 || (r = add_hex(device, "product", d->product, 4)) < 0)
                        return r;
        }
        if ((d->serial && (r = add_string(device, "serial", d->serial)) < 0) ||
            (d->manufacturer && (r = add_string(device, "manufacturer", d->manufacturer)) < 0) ||
            (d->model && (r = add_string(device, "model", d->model)) < 0) ||
            (d->bus && (r = add_string(device, "bus", d->bus)) < 0) ||
            (r = add_string(device, "syspath", d->syspath)) < 0)
                return r;
        json_object *classes = class_mask_to_json(d->classes);
        if (!classes)
                return -ENOMEM;
        return add_value(device, "classes", classes);
}
