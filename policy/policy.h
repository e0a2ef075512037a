/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The policy library: parses policy format 1 (DESIGN.md, docs/policy.md) into typed structures and
 * evaluates devices against it. It is pure: no I/O, no logging, no globals. The caller reads the file,
 * resolves the user's groups and supplies the date. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usb-class.h"

/* Limits against hostile input. Each is checked and reported with its own message. */
#define POLICY_MAX_FILE_SIZE     (1024 * 1024) /* bytes */
#define POLICY_MAX_MEDIA_RULES   16384
#define POLICY_MAX_PRINT_RULES   4096
#define POLICY_MAX_LIST_ITEMS    1024          /* users, protected-apps, classes */
#define POLICY_MAX_STRING        1024          /* bytes in any one scalar */
#define POLICY_MAX_NAME          256           /* bytes in a rule or policy name */
#define POLICY_MAX_DEPTH         8             /* nesting of mappings and sequences */
#define POLICY_MAX_DIAGNOSTICS   100           /* problems reported before giving up */
#define POLICY_FORMAT_VERSION    1

typedef enum PolicyMode {
        POLICY_MODE_ENFORCE,
        POLICY_MODE_AUDIT,
        _POLICY_MODE_INHERIT, /* a rule without its own mode takes the policy's */
} PolicyMode;

/* Access to storage media. Ordered from least to most permissive. */
typedef enum MediaAccess {
        MEDIA_BLOCK,
        MEDIA_READ_ONLY,
        MEDIA_READ_WRITE,
} MediaAccess;

typedef enum PrintAccess {
        PRINT_BLOCK,
        PRINT_ALLOW,
} PrintAccess;

typedef struct PolicyDiagnostic {
        unsigned line, column; /* 1-based; 0 when the problem concerns the whole file */
        char *message;
} PolicyDiagnostic;

typedef struct PolicyDiagnostics {
        PolicyDiagnostic *items;
        size_t n;
        bool truncated; /* more than POLICY_MAX_DIAGNOSTICS problems */
} PolicyDiagnostics;

/* A list of users and @groups. An empty list means "anyone". */
typedef struct PolicyPrincipals {
        char **names;
        size_t n;
} PolicyPrincipals;

typedef struct MediaMatch {
        bool has_vendor, has_product;
        uint16_t vendor, product;
        char *serial;
        char *fs_uuid;  /* compared case-insensitively */
        char *fs_label;
        char *bus;
        UsbClassMask classes; /* matches a device having any of these; 0 = not a match key */
} MediaMatch;

typedef struct MediaRule {
        char *name;
        unsigned line, column;
        MediaMatch match;
        MediaAccess access;
        PolicyPrincipals users;
        bool has_until;
        int64_t until_days; /* last day the rule applies, days since 1970-01-01 (local date) */
        PolicyMode mode;
} MediaRule;

typedef struct PrintRule {
        char *name;
        unsigned line, column;
        char *printer; /* fnmatch(3) glob on the CUPS queue name */
        PolicyPrincipals users;
        PrintAccess access;
        uint32_t max_pages; /* 0 = no limit */
        PolicyMode mode;
} PrintRule;

typedef struct PolicyDefaults {
        MediaAccess storage;
        UsbClassMask usb_classes_blocked;
        PrintAccess print;
        bool clipboard_allow;
} PolicyDefaults;

typedef struct PolicyClipboard {
        char **protected_apps;   /* X11 WM_CLASS class names whose clipboard is guarded */
        size_t n_protected_apps;
        char **allowed_apps;     /* applications that may paste from protected ones */
        size_t n_allowed_apps;
        bool allow_within_app;
        bool detect_individual_number;
} PolicyClipboard;

typedef struct Policy {
        unsigned format;
        uint64_t serial;
        char *name;
        char *contact; /* optional: whom the user asks for an exception (申請先), shown in notices */
        PolicyMode mode;
        PolicyDefaults defaults;
        MediaRule *media;
        size_t n_media;
        PrintRule *print;
        size_t n_print;
        PolicyClipboard clipboard;
} Policy;

/* Parses and validates a policy held in memory. On success returns 0 and *ret_policy. On failure
 * returns -EINVAL and fills diags with every problem found (or -ENOMEM). The caller frees diags
 * with policy_diagnostics_clear() in both cases. */
int policy_parse(const char *data, size_t size, Policy **ret_policy, PolicyDiagnostics *diags);

Policy *policy_free(Policy *p);
void policy_diagnostics_clear(PolicyDiagnostics *d);

const char *media_access_to_string(MediaAccess a);
int media_access_from_string(const char *s);
const char *policy_mode_to_string(PolicyMode m);

/* --- evaluation --- */

/* Who is at the terminal: the user name (NULL when nobody is logged in) and their group names. */
typedef struct PolicySubject {
        const char *user;
        const char *const *groups;
        size_t n_groups;
} PolicySubject;

typedef struct PolicyInterface {
        UsbClass cls; /* classified function, see usb-class.h */
} PolicyInterface;

/* What the policy sees of a device. Strings are the raw values; NULL when unknown. */
typedef struct PolicyDevice {
        const char *bus; /* "usb", "mmc", "ata", "scsi", ... */
        bool has_ids;
        uint16_t vendor, product;
        const char *serial;
        /* Filesystems found on the device (a stick may carry several partitions). */
        const char *const *fs_uuids;
        const char *const *fs_labels;
        size_t n_fs;
        const PolicyInterface *interfaces; /* USB interfaces; none for non-USB disks */
        size_t n_interfaces;
        bool is_storage; /* a non-USB disk, or a USB device with a storage interface */
} PolicyDevice;

typedef enum PolicyVerdict {
        VERDICT_ALLOW,      /* no storage, nothing cut */
        VERDICT_READ_ONLY,  /* storage allowed read-only, nothing else cut */
        VERDICT_READ_WRITE, /* storage allowed read-write, nothing else cut */
        VERDICT_PARTIAL,    /* some interfaces cut, the rest (incl. input) kept */
        VERDICT_BLOCK,      /* the whole device cut */
} PolicyVerdict;

#define POLICY_RULE_DEFAULT "default"

typedef struct PolicyDecision {
        PolicyVerdict verdict;
        MediaAccess storage;     /* access to the storage function, when the device has one */
        const char *rule;        /* name of the rule that decided, or "default"; owned by the policy */
        const char *reason;      /* short English reason, static */
        bool audit;              /* audit mode: would do this, enforce nothing */
        UsbClassMask blocked;    /* classes of the interfaces cut */
} PolicyDecision;

/* Decides a device. today is the local date in days since 1970-01-01. ret_interface_blocked, when
 * non-NULL, gets one bool per interface of dev (true = cut). Never fails: with nothing matching,
 * the defaults decide (and the defaults are fail-closed). */
void policy_decide_device(const Policy *p, const PolicyDevice *dev, const PolicySubject *subject,
                          int64_t today, PolicyDecision *ret, bool *ret_interface_blocked);

const char *policy_verdict_to_string(PolicyVerdict v);

/* Decides a print job. pages may be 0 when unknown (a max-pages rule then does not allow it). */
typedef struct PrintDecision {
        PrintAccess access;
        const char *rule;
        const char *reason;
        bool audit;
} PrintDecision;

void policy_decide_print(const Policy *p, const char *queue, const PolicySubject *subject, uint32_t pages,
                         PrintDecision *ret);

bool policy_subject_matches(const PolicyPrincipals *pr, const PolicySubject *s);
