/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mnguardctl devices: what the policy decides for each plugged-in device. A dry run: it reads
 * sysfs/udev and the policy and changes nothing. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <libudev.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "device-json.h"
#include "device.h"
#include "fileio.h"
#include "json-util.h"
#include "macro.h"
#include "policy.h"
#include "strutil.h"
#include "subject.h"

#define TABLE_COLUMNS  7
#define TABLE_CELL_MAX 64   /* bytes of one table cell before it is cut with "…" */
#define MESSAGE_MAX    4096 /* bytes of a diagnostic or file name written to the terminal */

/* The parser fills in the fail-closed defaults for everything this leaves out. */
static const char builtin_policy[] = "mnguard-policy: 1\nserial: 0\nname: built-in defaults\n";

DEFINE_TRIVIAL_CLEANUP_FUNC(Policy *, policy_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev *, udev_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

typedef struct DevicesArgs {
        const char *policy;
        const char *user;
        const char *date;
        bool json;
} DevicesArgs;

/* The devices and what was decided for each, index by index. */
typedef struct Listing {
        MnDevice **devices;
        size_t n;
        PolicyDecision *decisions;
        bool **blocked; /* per device: one bool per interface */
} Listing;

static void listing_done(Listing *l) {
        for (size_t i = 0; l->blocked && i < l->n; i++)
                free(l->blocked[i]);
        free(l->blocked);
        free(l->decisions);
        mn_devices_free(l->devices, l->n);
}

static void help(FILE *f) {
        fprintf(f,
                "Usage: mnguardctl [OPTIONS] devices [--policy FILE] [--user USER] [--date YYYY-MM-DD] [--json]\n"
                "\n"
                "Lists every USB device that is not a hub and every removable disk not on USB, with what\n"
                "the policy decides for it. Changes nothing on the system.\n"
                "\n"
                "  --policy FILE  Policy to evaluate (default %s if present,\n"
                "                 else the built-in fail-closed defaults)\n"
                "  --user USER    Decide for this user and their groups (default: nobody logged in,\n"
                "                 so rules limited to users do not apply)\n"
                "  --date DATE    Decide as on this local date (default today), for rules with 'until'\n"
                "  --json         One JSON array, one object per device\n"
                "  -h, --help     Show this help\n",
                CTL_POLICY_DEFAULT);
}

static int parse_args(int argc, char *argv[], DevicesArgs *a) {
        enum { ARG_POLICY = 0x100, ARG_USER, ARG_DATE, ARG_JSON };
        static const struct option options[] = {
                { "help",   no_argument,       NULL, 'h'        },
                { "policy", required_argument, NULL, ARG_POLICY },
                { "user",   required_argument, NULL, ARG_USER   },
                { "date",   required_argument, NULL, ARG_DATE   },
                { "json",   no_argument,       NULL, ARG_JSON   },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help(stdout);
                        return 0;
                case ARG_POLICY:
                        a->policy = optarg;
                        break;
                case ARG_USER:
                        a->user = optarg;
                        break;
                case ARG_DATE:
                        a->date = optarg;
                        break;
                case ARG_JSON:
                        a->json = true;
                        break;
                default:
                        fprintf(stderr, "Try 'mnguardctl devices --help'.\n");
                        return -EINVAL;
                }
        if (optind < argc) {
                _cleanup_free_ char *e = terminal_escape(argv[optind], MESSAGE_MAX);
                fprintf(stderr, "mnguardctl devices: unexpected argument '%s'\n", e ?: "?");
                return -EINVAL;
        }
        if (a->policy && isempty(a->policy)) {
                fprintf(stderr, "mnguardctl devices: --policy needs a file\n");
                return -EINVAL;
        }
        return 1;
}

static void print_diagnostics(const char *path, const PolicyDiagnostics *d) {
        _cleanup_free_ char *p = terminal_escape(path, MESSAGE_MAX);

        for (size_t i = 0; i < d->n; i++) {
                /* Messages may quote the file: escape them like any untrusted text. */
                _cleanup_free_ char *m = terminal_escape(d->items[i].message, MESSAGE_MAX);
                if (d->items[i].line > 0)
                        fprintf(stderr, "%s:%u:%u: error: %s\n", p ?: "?", d->items[i].line, d->items[i].column,
                                m ?: "(out of memory)");
                else
                        fprintf(stderr, "%s: error: %s\n", p ?: "?", m ?: "(out of memory)");
        }
        if (d->truncated)
                fprintf(stderr, "%s: error: too many errors, stopped after %d\n", p ?: "?", POLICY_MAX_DIAGNOSTICS);
        if (d->n == 0)
                fprintf(stderr, "%s: error: not a valid policy\n", p ?: "?");
}

/* Returns an exit code. *ret_source names where the policy came from. */
static int load_policy(const char *path, Policy **ret, const char **ret_source) {
        _cleanup_(policy_diagnostics_clear) PolicyDiagnostics diags = {};
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        if (!path && access(CTL_POLICY_DEFAULT, F_OK) >= 0)
                path = CTL_POLICY_DEFAULT;

        if (!path) {
                r = policy_parse(builtin_policy, strlen(builtin_policy), ret, &diags);
                if (r < 0) {
                        fprintf(stderr, "mnguardctl: the built-in policy does not parse: %s\n", strerror(-r));
                        return CTL_EXIT_RUNTIME;
                }
                *ret_source = "built-in defaults";
                return CTL_EXIT_OK;
        }

        r = read_full_file(path, POLICY_MAX_FILE_SIZE, &data, &size);
        if (r < 0) {
                _cleanup_free_ char *p = terminal_escape(path, MESSAGE_MAX);
                if (r == -EFBIG)
                        fprintf(stderr, "%s: error: policy larger than %d bytes\n", p ?: "?", POLICY_MAX_FILE_SIZE);
                else
                        fprintf(stderr, "mnguardctl: cannot read policy %s: %s\n", p ?: "?", strerror(-r));
                return r == -ENOMEM ? CTL_EXIT_RUNTIME : CTL_EXIT_USAGE;
        }
        r = policy_parse(data, size, ret, &diags);
        if (r == -ENOMEM) {
                fprintf(stderr, "mnguardctl: out of memory\n");
                return CTL_EXIT_RUNTIME;
        }
        if (r < 0) {
                print_diagnostics(path, &diags);
                return CTL_EXIT_USAGE;
        }
        *ret_source = path;
        return CTL_EXIT_OK;
}

static int parse_date(const char *s, int64_t *ret) {
        int v[3] = {};
        static const int start[3] = { 0, 5, 8 }, len[3] = { 4, 2, 2 };

        if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
                return -EINVAL;
        for (int f = 0; f < 3; f++)
                for (int i = start[f]; i < start[f] + len[f]; i++) {
                        if (s[i] < '0' || s[i] > '9')
                                return -EINVAL;
                        v[f] = v[f] * 10 + (s[i] - '0');
                }
        return civil_to_days(v[0], v[1], v[2], ret);
}

static int local_today(int64_t *ret) {
        time_t t = time(NULL);
        struct tm tm;

        if (!localtime_r(&t, &tm))
                return -EOVERFLOW;
        return civil_to_days(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, ret);
}

static int print_json(const Listing *l) {
        _cleanup_(json_object_putp) json_object *a = json_object_new_array();

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++) {
                json_object *o = mn_device_to_json(l->devices[i], &l->decisions[i], l->blocked[i]);
                if (!o || json_object_array_add(a, o) < 0) {
                        json_object_put(o);
                        return -ENOMEM;
                }
        }
        _cleanup_free_ char *s = NULL;
        int r = mn_json_to_string(a, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE, &s);
        if (r < 0)
                return r;
        fputs(s, stdout);
        fputc('\n', stdout);
        return 0;
}

/* Columns a valid UTF-8 string takes on a terminal: East Asian wide characters take two, combining
 * marks none. Approximate and locale-independent, which is all a table needs. */
static unsigned codepoint_width(uint32_t cp) {
        static const struct { uint32_t from, to; } wide[] = {
                { 0x1100, 0x115f },   { 0x2e80, 0x303e },   { 0x3041, 0x33ff },   { 0x3400, 0x4dbf },
                { 0x4e00, 0x9fff },   { 0xa000, 0xa4cf },   { 0xac00, 0xd7a3 },   { 0xf900, 0xfaff },
                { 0xfe30, 0xfe4f },   { 0xff00, 0xff60 },   { 0xffe0, 0xffe6 },   { 0x1f300, 0x1f64f },
                { 0x1f900, 0x1f9ff }, { 0x20000, 0x3fffd },
        };
        if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f))
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(wide); i++)
                if (cp >= wide[i].from && cp <= wide[i].to)
                        return 2;
        return 1;
}

static size_t display_width(const char *s) {
        const uint8_t *p = (const uint8_t *) s;
        size_t n = strlen(s), w = 0;

        for (size_t i = 0; i < n;) {
                size_t l = utf8_sequence_length(p + i, n - i);
                uint32_t cp;
                if (l == 0) {
                        w++;
                        i++;
                        continue;
                }
                static const uint8_t lead_mask[5] = { 0, 0x7f, 0x1f, 0x0f, 0x07 };
                cp = p[i] & lead_mask[l];
                for (size_t k = 1; k < l; k++)
                        cp = cp << 6 | (p[i + k] & 0x3f);
                w += codepoint_width(cp);
                i += l;
        }
        return w;
}

/* "storage,hid"; with a partial verdict the cut functions are marked "!still-image". */
static char *classes_cell(UsbClassMask classes, UsbClassMask cut) {
        char buf[512];
        size_t o = 0;

        for (UsbClass c = 0; c < _USB_CLASS_MAX; c++) {
                if (!(classes & USB_CLASS_BIT(c)))
                        continue;
                int k = snprintf(buf + o, sizeof(buf) - o, "%s%s%s", o ? "," : "",
                                 (cut & USB_CLASS_BIT(c)) ? "!" : "", usb_class_to_string(c));
                if (k < 0 || (size_t) k >= sizeof(buf) - o)
                        break;
                o += (size_t) k;
        }
        return strdup(o ? buf : "-");
}

static char *escaped_cell(const char *s) {
        return terminal_escape(isempty(s) ? "-" : s, TABLE_CELL_MAX);
}

static int device_row(const MnDevice *d, const PolicyDecision *dec, char *cells[static TABLE_COLUMNS]) {
        char buf[64];
        _cleanup_free_ char *model = NULL;

        snprintf(buf, sizeof(buf), "%s%s", policy_verdict_to_string(dec->verdict),
                 dec->audit && dec->verdict != VERDICT_ALLOW ? " (audit)" : "");
        cells[0] = strdup(buf);
        cells[1] = escaped_cell(dec->rule);
        cells[2] = escaped_cell(d->bus);
        if (d->has_ids)
                snprintf(buf, sizeof(buf), "%04x:%04x", d->vendor, d->product);
        cells[3] = strdup(d->has_ids ? buf : "-");
        cells[4] = escaped_cell(d->serial);
        cells[5] = classes_cell(d->classes, dec->verdict == VERDICT_PARTIAL ? dec->blocked : 0);
        if (d->manufacturer && d->model && asprintf(&model, "%s %s", d->manufacturer, d->model) < 0)
                return -ENOMEM;
        cells[6] = escaped_cell(model ?: d->model ?: d->manufacturer);

        for (size_t i = 0; i < TABLE_COLUMNS; i++)
                if (!cells[i])
                        return -ENOMEM;
        return 0;
}

static void print_row(char *const cells[static TABLE_COLUMNS], const size_t widths[static TABLE_COLUMNS]) {
        for (size_t c = 0; c < TABLE_COLUMNS; c++) {
                fputs(cells[c], stdout);
                if (c + 1 == TABLE_COLUMNS)
                        break;
                for (size_t w = display_width(cells[c]); w < widths[c] + 2; w++)
                        fputc(' ', stdout);
        }
        fputc('\n', stdout);
}

static void free_cells(char **cells, size_t n) {
        for (size_t i = 0; cells && i < n; i++)
                free(cells[i]);
        free(cells);
}

static int print_table(const Listing *l, const Policy *p, const char *source, const char *user, const char *date) {
        static const char *const header[TABLE_COLUMNS] = { "DECISION", "RULE", "BUS", "ID", "SERIAL", "CLASSES", "MODEL" };
        size_t widths[TABLE_COLUMNS], n_cells = l->n * TABLE_COLUMNS;
        char **cells;
        bool partial = false;
        int r = 0;

        cells = calloc(n_cells ?: 1, sizeof(char *));
        if (!cells)
                return -ENOMEM;
        for (size_t c = 0; c < TABLE_COLUMNS; c++)
                widths[c] = strlen(header[c]);
        for (size_t i = 0; i < l->n && r >= 0; i++) {
                char **row = cells + i * TABLE_COLUMNS;
                r = device_row(l->devices[i], &l->decisions[i], row);
                for (size_t c = 0; r >= 0 && c < TABLE_COLUMNS; c++) {
                        size_t w = display_width(row[c]);
                        if (w > widths[c])
                                widths[c] = w;
                }
                partial = partial || l->decisions[i].verdict == VERDICT_PARTIAL;
        }
        if (r < 0) {
                free_cells(cells, n_cells);
                return r;
        }

        print_row((char *const *) header, widths);
        for (size_t i = 0; i < l->n; i++)
                print_row(cells + i * TABLE_COLUMNS, widths);
        free_cells(cells, n_cells);

        _cleanup_free_ char *name = terminal_escape(p->name, TABLE_CELL_MAX);
        _cleanup_free_ char *src = terminal_escape(source, MESSAGE_MAX);
        _cleanup_free_ char *who = terminal_escape(user ?: "(nobody)", TABLE_CELL_MAX);
        printf("\n%zu device%s. Policy \"%s\" (serial %" PRIu64 ", %s) from %s; user %s; date %s.\n", l->n,
               l->n == 1 ? "" : "s", name ?: "?", p->serial, policy_mode_to_string(p->mode), src ?: "?",
               who ?: "?", date);
        if (partial)
                printf("Functions marked ! are cut; the rest of the device is kept.\n");
        return 0;
}

int verb_devices(int argc, char *argv[], const CtlGlobals *g) {
        _cleanup_(policy_freep) Policy *policy = NULL;
        _cleanup_(mn_subject_freep) MnSubject *subject = NULL;
        _cleanup_(udev_unrefp) struct udev *udev = NULL;
        _cleanup_(listing_done) Listing l = {};
        DevicesArgs a = {};
        const char *source = NULL;
        int64_t today;
        char date[32];
        int r;

        r = parse_args(argc, argv, &a);
        if (r <= 0)
                return r < 0 ? CTL_EXIT_USAGE : CTL_EXIT_OK;

        r = load_policy(a.policy, &policy, &source);
        if (r != CTL_EXIT_OK)
                return r;

        if (a.user) {
                r = mn_subject_new(a.user, &subject);
                if (r < 0) {
                        _cleanup_free_ char *e = terminal_escape(a.user, TABLE_CELL_MAX);
                        if (r == -ESRCH || r == -EINVAL) {
                                fprintf(stderr, "mnguardctl devices: unknown user '%s'\n", e ?: "?");
                                return CTL_EXIT_USAGE;
                        }
                        fprintf(stderr, "mnguardctl devices: cannot resolve user '%s': %s\n", e ?: "?", strerror(-r));
                        return CTL_EXIT_RUNTIME;
                }
        }

        if (a.date) {
                r = parse_date(a.date, &today);
                if (r < 0) {
                        _cleanup_free_ char *e = terminal_escape(a.date, TABLE_CELL_MAX);
                        fprintf(stderr, "mnguardctl devices: --date wants YYYY-MM-DD, a real date, got '%s'\n", e ?: "?");
                        return CTL_EXIT_USAGE;
                }
        } else if ((r = local_today(&today)) < 0) {
                fprintf(stderr, "mnguardctl devices: cannot tell today's date: %s\n", strerror(-r));
                return CTL_EXIT_RUNTIME;
        }
        int y, m, d;
        days_to_civil(today, &y, &m, &d);
        snprintf(date, sizeof(date), "%04d-%02d-%02d", y, m, d);

        udev = udev_new();
        if (!udev) {
                fprintf(stderr, "mnguardctl devices: cannot use libudev: %m\n");
                return CTL_EXIT_RUNTIME;
        }
        r = mn_devices_enumerate(udev, &l.devices, &l.n);
        if (r < 0) {
                fprintf(stderr, "mnguardctl devices: cannot list devices: %s\n", strerror(-r));
                return CTL_EXIT_RUNTIME;
        }

        l.decisions = calloc(l.n ?: 1, sizeof(PolicyDecision));
        l.blocked = calloc(l.n ?: 1, sizeof(bool *));
        if (!l.decisions || !l.blocked) {
                fprintf(stderr, "mnguardctl devices: out of memory\n");
                return CTL_EXIT_RUNTIME;
        }
        for (size_t i = 0; i < l.n; i++) {
                r = mn_device_decide(l.devices[i], policy, subject ? &subject->subject : NULL, today,
                                     &l.decisions[i], &l.blocked[i]);
                if (r < 0) {
                        fprintf(stderr, "mnguardctl devices: out of memory\n");
                        return CTL_EXIT_RUNTIME;
                }
        }

        r = a.json ? print_json(&l) : print_table(&l, policy, source, subject ? subject->user : NULL, date);
        if (r < 0) {
                fprintf(stderr, "mnguardctl devices: %s\n", strerror(-r));
                return CTL_EXIT_RUNTIME;
        }
        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "mnguardctl devices: cannot write output: %m\n");
                return CTL_EXIT_RUNTIME;
        }
        (void) g;
        return CTL_EXIT_OK;
}
