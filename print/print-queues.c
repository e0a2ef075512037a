/* SPDX-License-Identifier: GPL-2.0-or-later */
/* CUPS queues over IPP (see print-queues.h). */
#include "print-queues.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "print-uri.h"
#include "strutil.h"

static void ipp_deletep(ipp_t **p) {
        if (*p)
                ippDelete(*p);
}

/* Maps an IPP status to an errno. */
static int ipp_errno(ipp_status_t s) {
        switch (s) {
        case IPP_STATUS_ERROR_NOT_AUTHORIZED:
        case IPP_STATUS_ERROR_FORBIDDEN:
        case IPP_STATUS_ERROR_NOT_AUTHENTICATED:
        case IPP_STATUS_ERROR_CUPS_AUTHENTICATION_CANCELED:
                return -EACCES;
        case IPP_STATUS_ERROR_NOT_FOUND:
                return -ENOENT;
        case IPP_STATUS_ERROR_SERVICE_UNAVAILABLE:
                return -ECONNREFUSED;
        default:
                return -EIO;
        }
}

int print_queues_connect(const char *server, http_t **ret) {
        char host[PRINT_SERVER_MAX + 1];
        int port = ippPort();

        if (!server)
                server = cupsServer();
        if (isempty(server) || strlen(server) > PRINT_SERVER_MAX)
                return -EINVAL;
        memcpy(host, server, strlen(server) + 1);
        if (host[0] != '/') {
                /* host, host:port, [v6], [v6]:port */
                char *colon = strrchr(host, ':');
                char *bracket = strrchr(host, ']');
                if (colon && (!bracket || colon > bracket) && (host[0] != '[' || bracket)) {
                        uint64_t p;
                        if (parse_u64(colon + 1, &p) < 0 || p == 0 || p > 65535)
                                return -EINVAL;
                        port = (int) p;
                        *colon = 0;
                }
                if (host[0] == '[') {
                        size_t n = strlen(host);
                        if (n < 3 || host[n - 1] != ']')
                                return -EINVAL;
                        memmove(host, host + 1, n - 2);
                        host[n - 2] = 0;
                }
        }
        http_t *http = httpConnect2(host, port, NULL, AF_UNSPEC, cupsEncryption(), 1, PRINT_IPP_TIMEOUT_MSEC, NULL);
        if (!http)
                return -ECONNREFUSED;
        *ret = http;
        return 0;
}

void print_queues_free(PrintQueue *q, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(q[i].name);
                free(q[i].device_uri);
        }
        free(q);
}

int print_queues_list(http_t *http, PrintQueue **ret, size_t *ret_n, const char **ret_error) {
        static const char *const attrs[] = { "printer-name", "device-uri", "printer-type" };
        _cleanup_(ipp_deletep) ipp_t *response = NULL;
        PrintQueue *q = NULL;
        size_t n = 0;

        ipp_t *req = ippNewRequest(IPP_OP_CUPS_GET_PRINTERS);
        if (!req)
                return -ENOMEM;
        ippAddStrings(req, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes", (int) ELEMENTSOF(attrs), NULL,
                      attrs);
        ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", NULL, cupsUser());
        response = cupsDoRequest(http, req, "/"); /* frees req */
        if (!response || cupsLastError() > IPP_STATUS_OK_CONFLICTING) {
                if (ret_error)
                        *ret_error = cupsLastErrorString();
                /* no printers at all is "not found" */
                if (cupsLastError() == IPP_STATUS_ERROR_NOT_FOUND) {
                        *ret = NULL;
                        *ret_n = 0;
                        return 0;
                }
                return ipp_errno(cupsLastError());
        }

        const char *name = NULL, *uri = NULL;
        int type = 0;
        for (ipp_attribute_t *a = ippFirstAttribute(response);; a = ippNextAttribute(response)) {
                /* a printer's attributes end at a group separator or the end */
                if (!a || ippGetGroupTag(a) != IPP_TAG_PRINTER) {
                        if (name && !(type & CUPS_PRINTER_CLASS)) {
                                if (n >= PRINT_QUEUES_MAX) {
                                        print_queues_free(q, n);
                                        return -E2BIG;
                                }
                                PrintQueue *nq = reallocarray(q, n + 1, sizeof(PrintQueue));
                                if (!nq) {
                                        print_queues_free(q, n);
                                        return -ENOMEM;
                                }
                                q = nq;
                                q[n] = (PrintQueue) {
                                        .name = strndup(name, PRINT_QUEUE_NAME_MAX),
                                        .device_uri = strndup(uri ?: "", PRINT_URI_MAX),
                                };
                                n++;
                                if (!q[n - 1].name || !q[n - 1].device_uri) {
                                        print_queues_free(q, n);
                                        return -ENOMEM;
                                }
                        }
                        name = uri = NULL;
                        type = 0;
                        if (!a)
                                break;
                        continue;
                }
                const char *an = ippGetName(a);
                if (!an)
                        continue;
                if (streq(an, "printer-name") && ippGetValueTag(a) == IPP_TAG_NAME)
                        name = ippGetString(a, 0, NULL);
                else if (streq(an, "device-uri") && ippGetValueTag(a) == IPP_TAG_URI)
                        uri = ippGetString(a, 0, NULL);
                else if (streq(an, "printer-type") && ippGetValueTag(a) == IPP_TAG_ENUM)
                        type = ippGetInteger(a, 0);
        }
        *ret = q;
        *ret_n = n;
        return 0;
}

int print_queue_set_device_uri(http_t *http, const char *queue, const char *uri, const char **ret_error) {
        _cleanup_(ipp_deletep) ipp_t *response = NULL;
        char printer_uri[HTTP_MAX_URI];

        if (isempty(queue) || strlen(queue) > PRINT_QUEUE_NAME_MAX || isempty(uri) || strlen(uri) > PRINT_URI_MAX)
                return -EINVAL;
        if (httpAssembleURIf(HTTP_URI_CODING_ALL, printer_uri, sizeof(printer_uri), "ipp", NULL, "localhost",
                             ippPort(), "/printers/%s", queue) < HTTP_URI_STATUS_OK)
                return -EINVAL;
        ipp_t *req = ippNewRequest(IPP_OP_CUPS_ADD_MODIFY_PRINTER);
        if (!req)
                return -ENOMEM;
        ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", NULL, printer_uri);
        ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", NULL, cupsUser());
        ippAddString(req, IPP_TAG_PRINTER, IPP_TAG_URI, "device-uri", NULL, uri);
        response = cupsDoRequest(http, req, "/admin/");
        if (!response || cupsLastError() > IPP_STATUS_OK_CONFLICTING) {
                if (ret_error)
                        *ret_error = cupsLastErrorString();
                return ipp_errno(cupsLastError());
        }
        return 0;
}

/* The DeviceURI of queue in printers.conf (a new string in *ret), or NULL. */
static int conf_device_uri(const char *conf, const char *queue, char **ret) {
        bool in_queue = false;
        *ret = NULL;
        for (const char *line = conf; line && *line;) {
                const char *end = strchr(line, '\n');
                size_t n = end ? (size_t) (end - line) : strlen(line);
                if (n > 0 && line[n - 1] == '\r')
                        n--;
                const char *name = NULL;
                if (n > 9 && strncmp(line, "<Printer ", 9) == 0)
                        name = line + 9;
                else if (n > 16 && strncmp(line, "<DefaultPrinter ", 16) == 0)
                        name = line + 16;
                if (name) {
                        size_t l = (size_t) (line + n - name);
                        in_queue = l > 1 && name[l - 1] == '>' && l - 1 == strlen(queue) &&
                                   strncmp(name, queue, l - 1) == 0;
                } else if (n >= 9 && strncmp(line, "</Printer", 9) == 0)
                        in_queue = false;
                else if (in_queue && n > 10 && strncmp(line, "DeviceURI ", 10) == 0) {
                        if (n - 10 > PRINT_URI_MAX)
                                return 0;
                        *ret = strndup(line + 10, n - 10);
                        return *ret ? 0 : -ENOMEM;
                }
                line = end ? end + 1 : NULL;
        }
        return 0;
}

int print_queues_apply_conf(PrintQueue *q, size_t n, const char *conf) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *full = NULL, *shown = NULL;
                int r = conf_device_uri(conf, q[i].name, &full);
                if (r < 0)
                        return r;
                if (!full)
                        continue;
                r = print_uri_strip_userinfo(full, &shown);
                if (r < 0)
                        return r;
                if (!streq(shown, q[i].device_uri))
                        continue; /* printers.conf is behind cupsd: keep what cupsd says */
                free(q[i].device_uri);
                q[i].device_uri = TAKE_PTR(full);
                q[i].full = true;
        }
        return 0;
}

PrintQueueStatus print_queue_status(const char *device_uri) {
        _cleanup_free_ char *inner = NULL;

        if (print_uri_is_wrapped(device_uri))
                return print_uri_unwrap(device_uri, &inner) >= 0 ? PRINT_QUEUE_WRAPPED : PRINT_QUEUE_BROKEN;
        if (print_uri_is_discard(device_uri))
                return PRINT_QUEUE_DISCARD;
        return PRINT_QUEUE_UNGUARDED;
}

const char *print_queue_status_to_string(PrintQueueStatus s) {
        switch (s) {
        case PRINT_QUEUE_WRAPPED: return "guarded";
        case PRINT_QUEUE_UNGUARDED: return "unguarded";
        case PRINT_QUEUE_DISCARD: return "discard";
        case PRINT_QUEUE_BROKEN: return "broken";
        }
        return "unknown";
}

int print_queue_can_wrap(const char *device_uri) {
        char scheme[PRINT_SCHEME_MAX + 1];
        int r = print_uri_check_inner(device_uri);
        if (r < 0)
                return r;
        r = print_uri_scheme(device_uri, scheme, sizeof(scheme));
        if (r < 0)
                return r;
        if (streq(scheme, "file"))
                return -EOPNOTSUPP;
        return 0;
}
