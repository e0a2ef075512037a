/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The mnguard device URI, which keeps a queue's real ("inner") device URI inside it (docs/print.md).
 * Pure string handling: no I/O, no logging.
 *
 *   mnguard:/ENC                     the inner URI has no user info
 *   mnguard://USERINFO@wrapped/ENC   the inner URI's user info, lifted out: cupsd drops the user info
 *                                    from the device-uri it shows to everyone, and it could not do so
 *                                    for a password hidden inside ENC (shown: mnguard://wrapped/ENC,
 *                                    which decodes to the inner URI without its user info)
 *
 * ENC is the inner URI (without its user info) with every byte outside [A-Za-z0-9-._~] written as %XX.
 * Decoding is strict: anything else is refused, so one inner URI has exactly one mnguard URI. */

#include <stdbool.h>
#include <stddef.h>

#define PRINT_URI_SCHEME       "mnguard"
#define PRINT_URI_WRAPPED_HOST "wrapped"
#define PRINT_URI_MAX          1023 /* bytes in a device URI: CUPS keeps HTTP_MAX_URI (1024) with the NUL */
#define PRINT_SCHEME_MAX       63   /* bytes in a URI scheme, which names a backend file */
#define PRINT_URI_NEST_MAX     4    /* wrappers inside wrappers (beh:/…/socket://…) looked through */

/* Checks an inner device URI: printable ASCII only (no spaces, no controls), a scheme of
 * [A-Za-z][A-Za-z0-9+.-]* followed by ':', at most PRINT_URI_MAX bytes, and not itself an mnguard URI.
 * Returns 0, -EINVAL, -ENAMETOOLONG, or -ELOOP for an mnguard URI. */
int print_uri_check_inner(const char *inner);

/* Copies the scheme of uri (which must pass print_uri_check_inner() or be an mnguard URI) into buf.
 * Returns 0 or -EINVAL / -ENAMETOOLONG. */
int print_uri_scheme(const char *uri, char *buf, size_t size);

/* Whether uri's scheme is "mnguard". */
bool print_uri_is_wrapped(const char *uri);

/* Builds the mnguard URI for inner. Returns 0 and a new string, -EINVAL/-ELOOP for a bad inner URI,
 * -ENAMETOOLONG when the result would exceed PRINT_URI_MAX, or -ENOMEM. */
int print_uri_wrap(const char *inner, char **ret);

/* Recovers the inner URI from an mnguard URI. Returns 0 and a new string, -EINVAL for anything that is
 * not exactly what print_uri_wrap() produces (bad escapes, stray characters, a nested mnguard URI …),
 * -ENAMETOOLONG, or -ENOMEM. */
int print_uri_unwrap(const char *uri, char **ret_inner);

/* The inner URI as CUPS shows it (argv[0] of a backend): the password dropped from the user info, the
 * user name kept. Returns 0 and a new string or -ENOMEM. */
int print_uri_sanitize(const char *inner, char **ret);

/* The URI without its user info at all, as cupsd 2.4 shows device URIs over IPP. */
int print_uri_strip_userinfo(const char *uri, char **ret);

/* Whether jobs to this inner URI leave as files rather than on paper: file:, virtual PDF printers
 * (cups-pdf:, …), Braille files (cups-brf:). Looks through wrapper backends such as beh:. */
bool print_uri_is_export(const char *inner);

/* Whether inner is file:/dev/null (CUPS' only file: URI while FileDevice is off): output is discarded. */
bool print_uri_is_discard(const char *inner);
