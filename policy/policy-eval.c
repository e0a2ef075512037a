/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Pure evaluation: device (or print job) + subject + date -> decision with the rule that made it. */
#include <fnmatch.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "policy.h"

bool policy_subject_matches(const PolicyPrincipals *pr, const PolicySubject *s) {
        if (pr->n == 0)
                return true;
        if (!s || !s->user)
                return false;
        for (size_t i = 0; i < pr->n; i++) {
                const char *name = pr->names[i];
                if (name[0] != '@') {
                        if (streq(name, s->user))
                                return true;
                        continue;
                }
                for (size_t g = 0; g < s->n_groups; g++)
                        if (s->groups[g] && streq(name + 1, s->groups[g]))
                                return true;
        }
        return false;
}

static bool any_fs_equal(const char *const *v, size_t n, const char *want, bool nocase) {
        for (size_t i = 0; i < n; i++)
                if (v[i] && (nocase ? strcasecmp(v[i], want) : strcmp(v[i], want)) == 0)
                        return true;
        return false;
}

static bool media_matches(const MediaMatch *m, const PolicyDevice *d, UsbClassMask classes) {
        /* Cheapest keys first: most rules fail on the ids. */
        if (m->has_vendor && (!d->has_ids || d->vendor != m->vendor))
                return false;
        if (m->has_product && (!d->has_ids || d->product != m->product))
                return false;
        if (m->classes && !(m->classes & classes))
                return false;
        if (m->serial && (!d->serial || !streq(d->serial, m->serial)))
                return false;
        if (m->bus && (!d->bus || !streq(d->bus, m->bus)))
                return false;
        if (m->fs_uuid && !any_fs_equal(d->fs_uuids, d->n_fs, m->fs_uuid, true))
                return false;
        if (m->fs_label && !any_fs_equal(d->fs_labels, d->n_fs, m->fs_label, false))
                return false;
        return true;
}

static bool rule_is_audit(const Policy *p, PolicyMode rule_mode) {
        return p->mode == POLICY_MODE_AUDIT || rule_mode == POLICY_MODE_AUDIT;
}

void policy_decide_device(const Policy *p, const PolicyDevice *dev, const PolicySubject *subject,
                          int64_t today, PolicyDecision *ret, bool *ret_interface_blocked) {
        UsbClassMask classes = dev->is_storage ? USB_CLASS_BIT(USB_CLASS_STORAGE) : 0;
        for (size_t i = 0; i < dev->n_interfaces; i++)
                classes |= USB_CLASS_BIT(dev->interfaces[i].cls);

        *ret = (PolicyDecision) { .storage = MEDIA_BLOCK };

        for (size_t i = 0; i < p->n_media; i++) {
                const MediaRule *r = &p->media[i];
                if (!media_matches(&r->match, dev, classes))
                        continue;
                if (r->has_until && today > r->until_days)
                        continue;
                if (!policy_subject_matches(&r->users, subject))
                        continue;

                ret->rule = r->name;
                ret->audit = rule_is_audit(p, r->mode);
                if (r->access == MEDIA_BLOCK) {
                        ret->verdict = VERDICT_BLOCK;
                        ret->blocked = classes;
                        ret->reason = "blocked by rule";
                } else {
                        ret->storage = r->access;
                        ret->verdict = !(classes & USB_CLASS_BIT(USB_CLASS_STORAGE)) ? VERDICT_ALLOW
                                       : r->access == MEDIA_READ_ONLY                ? VERDICT_READ_ONLY
                                                                                     : VERDICT_READ_WRITE;
                        ret->reason = "allowed by rule";
                }
                for (size_t k = 0; ret_interface_blocked && k < dev->n_interfaces; k++)
                        ret_interface_blocked[k] = r->access == MEDIA_BLOCK;
                return;
        }

        /* No rule: the defaults, interface by interface. */
        UsbClassMask blocked_mask = p->defaults.usb_classes_blocked;
        size_t n_blocked = 0;
        bool has_hid = classes & USB_CLASS_BIT(USB_CLASS_HID);

        ret->rule = POLICY_RULE_DEFAULT;
        ret->audit = p->mode == POLICY_MODE_AUDIT;
        ret->storage = p->defaults.storage;

        for (size_t k = 0; k < dev->n_interfaces; k++) {
                bool b = blocked_mask & USB_CLASS_BIT(dev->interfaces[k].cls);
                n_blocked += b;
                if (b)
                        ret->blocked |= USB_CLASS_BIT(dev->interfaces[k].cls);
                if (ret_interface_blocked)
                        ret_interface_blocked[k] = b;
        }

        if (dev->n_interfaces == 0) {
                /* A disk that is not on USB: the storage default decides it whole. */
                if (!dev->is_storage) {
                        ret->verdict = VERDICT_ALLOW;
                        ret->reason = "no function the policy restricts";
                } else if (p->defaults.storage == MEDIA_BLOCK) {
                        ret->verdict = VERDICT_BLOCK;
                        ret->blocked = USB_CLASS_BIT(USB_CLASS_STORAGE);
                        ret->reason = "default storage block";
                } else {
                        ret->verdict = p->defaults.storage == MEDIA_READ_ONLY ? VERDICT_READ_ONLY : VERDICT_READ_WRITE;
                        ret->reason = "default storage access";
                }
                return;
        }

        if (n_blocked > 0 && has_hid) {
                /* An input device that also brings a blocked function (BadUSB): cut it whole. */
                ret->verdict = VERDICT_BLOCK;
                ret->blocked = classes;
                ret->reason = "input device combined with blocked functions (BadUSB guard)";
                for (size_t k = 0; ret_interface_blocked && k < dev->n_interfaces; k++)
                        ret_interface_blocked[k] = true;
                return;
        }
        if (n_blocked == dev->n_interfaces) {
                ret->verdict = VERDICT_BLOCK;
                ret->reason = (ret->blocked & USB_CLASS_BIT(USB_CLASS_STORAGE)) ? "default storage block"
                                                                                 : "default class block";
        } else if (n_blocked > 0) {
                ret->verdict = VERDICT_PARTIAL;
                ret->reason = "default class block";
        } else if (classes & USB_CLASS_BIT(USB_CLASS_STORAGE)) {
                ret->verdict = p->defaults.storage == MEDIA_READ_ONLY ? VERDICT_READ_ONLY : VERDICT_READ_WRITE;
                ret->reason = "default storage access";
        } else {
                ret->verdict = VERDICT_ALLOW;
                ret->reason = "no function the policy restricts";
        }
}

const char *policy_verdict_to_string(PolicyVerdict v) {
        switch (v) {
        case VERDICT_ALLOW: return "allow";
        case VERDICT_READ_ONLY: return "read-only";
        case VERDICT_READ_WRITE: return "read-write";
        case VERDICT_PARTIAL: return "partial";
        case VERDICT_BLOCK: return "block";
        }
        return "block";
}

void policy_decide_print(const Policy *p, const char *queue, const PolicySubject *subject, uint32_t pages,
                         PrintDecision *ret) {
        for (size_t i = 0; i < p->n_print; i++) {
                const PrintRule *r = &p->print[i];
                if (fnmatch(r->printer, queue, 0) != 0)
                        continue;
                if (!policy_subject_matches(&r->users, subject))
                        continue;
                ret->rule = r->name;
                ret->audit = rule_is_audit(p, r->mode);
                if (r->access == PRINT_ALLOW && r->max_pages && (pages == 0 || pages > r->max_pages)) {
                        ret->access = PRINT_BLOCK;
                        ret->reason = pages == 0 ? "page count unknown and the rule limits pages"
                                                 : "more pages than the rule allows";
                } else {
                        ret->access = r->access;
                        ret->reason = r->access == PRINT_ALLOW ? "allowed by rule" : "blocked by rule";
                }
                return;
        }
        ret->rule = POLICY_RULE_DEFAULT;
        ret->audit = p->mode == POLICY_MODE_AUDIT;
        ret->access = p->defaults.print;
        ret->reason = p->defaults.print == PRINT_ALLOW ? "default print allow" : "default print block";
}
