/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Policy format 1: YAML tree -> typed Policy, reporting every problem with its line and column. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "policy.h"
#include "strutil.h"
#include "policy-internal.h"
#include "yaml-tree.h"

void policy_diagnostics_clear(PolicyDiagnostics *d) {
        if (!d)
                return;
        for (size_t i = 0; i < d->n; i++)
                free(d->items[i].message);
        free(d->items);
        *d = (PolicyDiagnostics) {};
}

static void principals_clear(PolicyPrincipals *p) {
        for (size_t i = 0; i < p->n; i++)
                free(p->names[i]);
        free(p->names);
}

Policy *policy_free(Policy *p) {
        if (!p)
                return NULL;
        free(p->name);
        free(p->contact);
        for (size_t i = 0; i < p->n_media; i++) {
                MediaRule *r = &p->media[i];
                free(r->name);
                free(r->match.serial);
                free(r->match.fs_uuid);
                free(r->match.fs_label);
                free(r->match.bus);
                principals_clear(&r->users);
        }
        free(p->media);
        for (size_t i = 0; i < p->n_print; i++) {
                free(p->print[i].name);
                free(p->print[i].printer);
                principals_clear(&p->print[i].users);
        }
        free(p->print);
        for (size_t i = 0; i < p->clipboard.n_protected_apps; i++)
                free(p->clipboard.protected_apps[i]);
        free(p->clipboard.protected_apps);
        for (size_t i = 0; i < p->clipboard.n_allowed_apps; i++)
                free(p->clipboard.allowed_apps[i]);
        free(p->clipboard.allowed_apps);
        free(p);
        return NULL;
}

/* --- sections --- */

static const char *const access_words[] = { "block", "read-only", "read-write" };

static bool parse_defaults(Ctx *c, const YNode *n, Policy *p) {
        static const char *const keys[] = { "storage", "usb-classes-blocked", "print", "clipboard" };
        const YNode *v[ELEMENTSOF(keys)];
        static const char *const allow_block[] = { "allow", "block" };
        bool ok;
        int w;

        if (!expect_type(c, n, YNODE_MAPPING, "defaults"))
                return false;
        ok = walk_map(c, n, "defaults", keys, ELEMENTSOF(keys), v);
        if (v[0]) {
                if (get_word(c, v[0], "defaults.storage", access_words, ELEMENTSOF(access_words), &w))
                        p->defaults.storage = (MediaAccess) w;
                else
                        ok = false;
        }
        if (v[1]) {
                UsbClassMask m;
                if (!get_class_list(c, v[1], "defaults.usb-classes-blocked", &m))
                        ok = false;
                else if (m & (USB_CLASS_BIT(USB_CLASS_HID) | USB_CLASS_BIT(USB_CLASS_HUB))) {
                        report(c, at(v[1]), "defaults.usb-classes-blocked must not list hid or hub: a default "
                               "never cuts off keyboards, mice or everything behind a hub (name such a device "
                               "in a media rule instead)");
                        ok = false;
                } else if ((m & USB_CLASS_BIT(USB_CLASS_STORAGE)) && v[0] && p->defaults.storage != MEDIA_BLOCK) {
                        report(c, at(v[1]), "defaults.usb-classes-blocked lists storage, but defaults.storage is "
                               "%s: remove storage from the list (defaults.storage decides storage)",
                               media_access_to_string(p->defaults.storage));
                        ok = false;
                } else
                        p->defaults.usb_classes_blocked = m;
        }
        if (v[2]) {
                if (get_word(c, v[2], "defaults.print", allow_block, 2, &w))
                        p->defaults.print = w == 0 ? PRINT_ALLOW : PRINT_BLOCK;
                else
                        ok = false;
        }
        if (v[3]) {
                if (get_word(c, v[3], "defaults.clipboard", allow_block, 2, &w))
                        p->defaults.clipboard_allow = w == 0;
                else
                        ok = false;
        }
        return ok;
}

static bool parse_match(Ctx *c, const YNode *n, MediaRule *r) {
        static const char *const keys[] = { "vendor", "product", "serial", "fs-uuid", "fs-label", "bus",
                                            "classes" };
        const YNode *v[ELEMENTSOF(keys)];
        MediaMatch *m = &r->match;
        char *s;
        bool ok;

        if (!expect_type(c, n, YNODE_MAPPING, "match"))
                return false;
        ok = walk_map(c, n, "match", keys, ELEMENTSOF(keys), v);
        for (int i = 0; i < 2; i++) {
                if (!v[i])
                        continue;
                const char *what = keys[i];
                if (v[i]->type == YNODE_SCALAR && v[i]->plain && plain_is_non_string(v[i]->value)) {
                        report(c, at(v[i]), "%s must be a quoted string of 4 hex digits: write %s: \"%s\"", what,
                               what, v[i]->value);
                        ok = false;
                        continue;
                }
                if (!get_text(c, v[i], what, 16, true, &s)) {
                        ok = false;
                        continue;
                }
                uint16_t id;
                if (parse_hex4(s, &id) < 0) {
                        report(c, at(v[i]), "%s must be 4 hex digits like \"0781\", not '%s'", what, s);
                        ok = false;
                } else if (i == 0) {
                        m->has_vendor = true;
                        m->vendor = id;
                } else {
                        m->has_product = true;
                        m->product = id;
                }
                free(s);
        }
        if (v[2] && !get_text(c, v[2], "serial", POLICY_MAX_NAME, true, &m->serial))
                ok = false;
        if (v[3] && !get_text(c, v[3], "fs-uuid", 64, true, &m->fs_uuid))
                ok = false;
        if (v[4] && !get_text(c, v[4], "fs-label", POLICY_MAX_NAME, true, &m->fs_label))
                ok = false;
        if (v[5]) {
                if (get_text(c, v[5], "bus", 32, true, &m->bus)) {
                        for (const char *q = m->bus; *q; q++)
                                if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-' || *q == '_')) {
                                        report(c, at(v[5]), "bus must be a lowercase bus name like usb, mmc, "
                                               "ata or scsi, not '%s'", m->bus);
                                        ok = false;
                                        break;
                                }
                } else
                        ok = false;
        }
        if (v[6]) {
                if (!get_class_list(c, v[6], "match.classes", &m->classes))
                        ok = false;
                else if (m->classes == 0) {
                        report(c, at(v[6]), "match.classes is empty");
                        ok = false;
                }
        }
        bool any = false;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                any |= v[i] != NULL;
        if (!any) {
                report(c, at(n), "match has no key: name at least one of vendor, product, serial, fs-uuid, "
                       "fs-label, bus, classes");
                ok = false;
        }
        return ok;
}

static bool parse_name(Ctx *c, const YNode *parent, const YNode *n, const char *what, char **ret) {
        if (!n) {
                report(c, at(parent), "%s has no name", what);
                return false;
        }
        return get_text(c, n, "name", POLICY_MAX_NAME, false, ret);
}

static bool parse_media_rule(Ctx *c, const YNode *n, MediaRule *r) {
        static const char *const keys[] = { "name", "match", "access", "users", "until", "mode" };
        const YNode *v[ELEMENTSOF(keys)];
        bool ok;
        int w;

        r->mode = _POLICY_MODE_INHERIT;
        r->line = n->line;
        r->column = n->column;
        if (!expect_type(c, n, YNODE_MAPPING, "a media rule"))
                return false;
        ok = walk_map(c, n, "a media rule", keys, ELEMENTSOF(keys), v);
        ok &= parse_name(c, n, v[0], "media rule", &r->name);
        if (!v[1]) {
                report(c, at(n), "media rule has no match");
                ok = false;
        } else
                ok &= parse_match(c, v[1], r);
        if (!v[2]) {
                report(c, at(n), "media rule has no access (expected block, read-only or read-write)");
                ok = false;
        } else if (get_word(c, v[2], "access", access_words, ELEMENTSOF(access_words), &w))
                r->access = (MediaAccess) w;
        else
                ok = false;
        if (v[3])
                ok &= get_principals(c, v[3], "users", &r->users);
        if (v[4]) {
                r->has_until = get_date(c, v[4], "until", &r->until_days);
                ok &= r->has_until;
        }
        if (v[5])
                ok &= get_mode(c, v[5], "mode", &r->mode);
        return ok;
}

static bool parse_print_rule(Ctx *c, const YNode *n, PrintRule *r) {
        static const char *const keys[] = { "name", "printer", "users", "access", "max-pages", "mode" };
        static const char *const words[] = { "allow", "block" };
        const YNode *v[ELEMENTSOF(keys)];
        bool ok;
        int w;

        r->mode = _POLICY_MODE_INHERIT;
        r->line = n->line;
        r->column = n->column;
        if (!expect_type(c, n, YNODE_MAPPING, "a print rule"))
                return false;
        ok = walk_map(c, n, "a print rule", keys, ELEMENTSOF(keys), v);
        ok &= parse_name(c, n, v[0], "print rule", &r->name);
        if (!v[1]) {
                report(c, at(n), "print rule has no printer (a queue name or glob like \"mn-floor2-*\")");
                ok = false;
        } else
                ok &= get_text(c, v[1], "printer", POLICY_MAX_NAME, true, &r->printer);
        if (v[2])
                ok &= get_principals(c, v[2], "users", &r->users);
        if (!v[3]) {
                report(c, at(n), "print rule has no access (expected allow or block)");
                ok = false;
        } else if (get_word(c, v[3], "access", words, 2, &w))
                r->access = w == 0 ? PRINT_ALLOW : PRINT_BLOCK;
        else
                ok = false;
        if (v[4]) {
                uint64_t pages;
                if (get_uint(c, v[4], "max-pages", 1, 1000000, &pages))
                        r->max_pages = (uint32_t) pages;
                else
                        ok = false;
        }
        if (v[5])
                ok &= get_mode(c, v[5], "mode", &r->mode);
        return ok;
}

static bool parse_clipboard(Ctx *c, const YNode *n, Policy *p) {
        static const char *const keys[] = { "protected-apps", "allowed-apps", "allow-within-app",
                                            "detect-individual-number" };
        const YNode *v[ELEMENTSOF(keys)];
        bool ok;

        if (!expect_type(c, n, YNODE_MAPPING, "clipboard"))
                return false;
        ok = walk_map(c, n, "clipboard", keys, ELEMENTSOF(keys), v);
        if (v[0])
                ok &= get_app_list(c, v[0], "clipboard.protected-apps", &p->clipboard.protected_apps,
                                   &p->clipboard.n_protected_apps);
        if (v[1])
                ok &= get_app_list(c, v[1], "clipboard.allowed-apps", &p->clipboard.allowed_apps,
                                   &p->clipboard.n_allowed_apps);
        if (v[2])
                ok &= get_bool(c, v[2], "clipboard.allow-within-app", &p->clipboard.allow_within_app);
        if (v[3])
                ok &= get_bool(c, v[3], "clipboard.detect-individual-number",
                               &p->clipboard.detect_individual_number);
        return ok;
}

typedef struct NameRef {
        const char *name;
        unsigned line, column;
} NameRef;

static int nameref_cmp(const void *a, const void *b) {
        const NameRef *x = a, *y = b;
        int r = strcmp(x->name, y->name);
        if (r != 0)
                return r;
        return x->line < y->line ? -1 : x->line > y->line;
}

/* Rule names appear in every event they decide: they must be unique across media and print rules.
 * Sorting keeps this O(n log n) for policies with tens of thousands of rules. */
static bool check_unique_names(Ctx *c, const Policy *p) {
        size_t n = p->n_media + p->n_print, k = 0;
        if (n < 2)
                return true;
        _cleanup_free_ NameRef *v = calloc(n, sizeof(NameRef));
        if (!v) {
                c->oom = true;
                return false;
        }
        for (size_t i = 0; i < p->n_media; i++)
                if (p->media[i].name)
                        v[k++] = (NameRef) { p->media[i].name, p->media[i].line, p->media[i].column };
        for (size_t i = 0; i < p->n_print; i++)
                if (p->print[i].name)
                        v[k++] = (NameRef) { p->print[i].name, p->print[i].line, p->print[i].column };
        qsort(v, k, sizeof(NameRef), nameref_cmp);
        bool ok = true;
        for (size_t i = 1; i < k; i++)
                if (streq(v[i].name, v[i - 1].name)) {
                        size_t first = i - 1;
                        while (first > 0 && streq(v[first - 1].name, v[i].name))
                                first--;
                        report(c, v[i].line, v[i].column, "duplicate rule name '%s' (first used at line %u)",
                               v[i].name, v[first].line);
                        ok = false;
                }
        return ok;
}

static bool parse_rules(Ctx *c, const YNode *n, const char *what, size_t max, size_t elem_size, void **ret,
                        size_t *ret_n, bool (*parse_one)(Ctx *, const YNode *, void *)) {
        if (!expect_type(c, n, YNODE_SEQUENCE, what))
                return false;
        if (n->n_items > max) {
                report(c, at(n), "%s has %zu rules, at most %zu are allowed", what, n->n_items, max);
                return false;
        }
        if (n->n_items == 0)
                return true;
        *ret = calloc(n->n_items, elem_size);
        if (!*ret) {
                c->oom = true;
                return false;
        }
        bool ok = true;
        for (size_t i = 0; i < n->n_items; i++) {
                ok &= parse_one(c, n->items[i], (char *) *ret + i * elem_size);
                (*ret_n)++;
                if (c->oom || c->diags->truncated)
                        return false;
        }
        return ok;
}

static bool parse_media_one(Ctx *c, const YNode *n, void *r) {
        return parse_media_rule(c, n, r);
}

static bool parse_print_one(Ctx *c, const YNode *n, void *r) {
        return parse_print_rule(c, n, r);
}

/* Checks that hold for the raw bytes, before YAML sees them, so their messages can be precise. */
static bool check_bytes(Ctx *c, const char *data, size_t size) {
        bool ok = true, blank = true, in_comment = false;
        unsigned line = 1, col = 1, tabs = 0;
        size_t bad;

        if (size > POLICY_MAX_FILE_SIZE) {
                report(c, 0, 0, "file is %zu bytes, at most %d are allowed", size, POLICY_MAX_FILE_SIZE);
                return false;
        }
        if (!utf8_is_valid(data, size, &bad)) {
                for (size_t i = 0; i < bad; i++)
                        if (data[i] == '\n') {
                                line++;
                                col = 1;
                        } else if (((unsigned char) data[i] & 0xC0) != 0x80)
                                col++;
                report(c, line, col, "invalid UTF-8 (byte 0x%02x): a policy must be UTF-8 text",
                       (unsigned char) data[bad]);
                return false;
        }
        line = col = 1;
        for (size_t i = 0; i < size; i++) {
                unsigned char ch = (unsigned char) data[i];
                if (ch == 0) {
                        report(c, line, col, "NUL byte: a policy must be text");
                        return false;
                }
                if (ch == '\t') {
                        if (tabs++ < 10)
                                report(c, line, col, "tab character: indent with spaces");
                        ok = false;
                }
                if (ch == '#')
                        in_comment = true;
                if (!in_comment && ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
                        blank = false;
                if (ch == '\n') {
                        line++;
                        col = 1;
                        in_comment = false;
                } else if ((ch & 0xC0) != 0x80)
                        col++;
        }
        if (blank) {
                report(c, 0, 0, "empty policy: expected at least 'mnguard-policy: 1', 'serial' and 'name'");
                return false;
        }
        return ok;
}

static void set_defaults(Policy *p) {
        /* Fail closed: whatever the file does not say is blocked. */
        p->mode = POLICY_MODE_ENFORCE;
        p->defaults.storage = MEDIA_BLOCK;
        p->defaults.usb_classes_blocked = USB_CLASSES_BLOCKED_DEFAULT;
        p->defaults.print = PRINT_BLOCK;
        p->defaults.clipboard_allow = false;
        p->clipboard.allow_within_app = true;
        p->clipboard.detect_individual_number = true;
}

static bool parse_root(Ctx *c, const YNode *root, Policy *p) {
        static const char *const keys[] = { "mnguard-policy", "serial", "name", "contact", "mode", "defaults",
                                            "media", "print", "clipboard" };
        const YNode *v[ELEMENTSOF(keys)];
        bool ok;

        if (!root || (root->type == YNODE_SCALAR && root->plain && root->length == 0)) {
                report(c, 0, 0, "empty policy: expected at least 'mnguard-policy: 1', 'serial' and 'name'");
                return false;
        }
        if (!expect_type(c, root, YNODE_MAPPING, "the policy"))
                return false;
        ok = walk_map(c, root, "the policy", keys, ELEMENTSOF(keys), v);

        /* The format version decides how to read everything else: stop if it is wrong. */
        if (!v[0]) {
                report(c, at(root), "missing 'mnguard-policy: 1' (the policy format version)");
                return false;
        }
        uint64_t fmt;
        if (!get_uint(c, v[0], "mnguard-policy", 0, UINT32_MAX, &fmt))
                return false;
        if (fmt != POLICY_FORMAT_VERSION) {
                report(c, at(v[0]), "unsupported policy format %llu (this mnguard reads format %d)",
                       (unsigned long long) fmt, POLICY_FORMAT_VERSION);
                return false;
        }
        p->format = (unsigned) fmt;

        if (!v[1]) {
                report(c, at(root), "missing 'serial' (a number that increases with each published policy, "
                       "e.g. 2026112601)");
                ok = false;
        } else
                ok &= get_uint(c, v[1], "serial", 0, UINT64_MAX, &p->serial);
        if (!v[2]) {
                report(c, at(root), "missing 'name'");
                ok = false;
        } else
                ok &= get_text(c, v[2], "name", POLICY_MAX_NAME, false, &p->name);
        if (v[3])
                ok &= get_text(c, v[3], "contact", POLICY_MAX_NAME, false, &p->contact);
        if (v[4])
                ok &= get_mode(c, v[4], "mode", &p->mode);
        if (v[5])
                ok &= parse_defaults(c, v[5], p);
        if (v[6])
                ok &= parse_rules(c, v[6], "media", POLICY_MAX_MEDIA_RULES, sizeof(MediaRule), (void **) &p->media,
                                  &p->n_media, parse_media_one);
        if (v[7])
                ok &= parse_rules(c, v[7], "print", POLICY_MAX_PRINT_RULES, sizeof(PrintRule), (void **) &p->print,
                                  &p->n_print, parse_print_one);
        if (v[8])
                ok &= parse_clipboard(c, v[8], p);
        if (!c->oom && !c->diags->truncated)
                ok &= check_unique_names(c, p);

        /* defaults.storage decides storage; keep the class mask consistent with it. */
        if (p->defaults.storage == MEDIA_BLOCK)
                p->defaults.usb_classes_blocked |= USB_CLASS_BIT(USB_CLASS_STORAGE);
        else
                p->defaults.usb_classes_blocked &= ~USB_CLASS_BIT(USB_CLASS_STORAGE);
        return ok;
}

static int diag_cmp(const void *a, const void *b) {
        const PolicyDiagnostic *x = a, *y = b;
        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        if (x->column != y->column)
                return x->column < y->column ? -1 : 1;
        return 0;
}

int policy_parse(const char *data, size_t size, Policy **ret_policy, PolicyDiagnostics *diags) {
        Ctx c = { .diags = diags };
        YNode *root = NULL;
        Policy *p = NULL;
        bool ok = false;

        *diags = (PolicyDiagnostics) {};
        if (!check_bytes(&c, data, size))
                goto finish;

        YTreeError err = {};
        int r = ytree_parse(data, size, POLICY_MAX_DEPTH, POLICY_MAX_STRING, &root, &err);
        if (r == -ENOMEM) {
                c.oom = true;
                goto finish;
        }
        if (r < 0) {
                report(&c, err.line, err.column, "%s", err.message);
                goto finish;
        }

        p = calloc(1, sizeof(Policy));
        if (!p) {
                c.oom = true;
                goto finish;
        }
        set_defaults(p);
        ok = parse_root(&c, root, p);

finish:
        ytree_free(root);
        /* Report in file order; problems at one position keep the order they were found in. */
        for (size_t i = 1; i < diags->n; i++)
                for (size_t j = i; j > 0 && diag_cmp(&diags->items[j - 1], &diags->items[j]) > 0; j--) {
                        PolicyDiagnostic t = diags->items[j];
                        diags->items[j] = diags->items[j - 1];
                        diags->items[j - 1] = t;
                }
        if (c.oom) {
                policy_free(p);
                return -ENOMEM;
        }
        if (!ok || diags->n > 0) {
                policy_free(p);
                return -EINVAL;
        }
        *ret_policy = p;
        return 0;
}

const char *media_access_to_string(MediaAccess a) {
        return (unsigned) a < ELEMENTSOF(access_words) ? access_words[a] : "block";
}

int media_access_from_string(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(access_words); i++)
                if (streq(s, access_words[i]))
                        return (int) i;
        return -EINVAL;
}

const char *policy_mode_to_string(PolicyMode m) {
        return m == POLICY_MODE_AUDIT ? "audit" : "enforce";
}
