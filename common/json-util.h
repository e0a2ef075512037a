/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <json-c/json.h>

/* Serializes o with json-c (flags as for json_object_to_json_string_ext()) and escapes what json-c
 * leaves raw although a terminal may act on it: DEL (U+007F) and the C1 controls (U+0080..U+009F)
 * become \u007f..\u009f. The result is the same JSON value and contains no control byte but the
 * newlines of pretty printing. Returns 0 and a new string, or -ENOMEM. */
int mn_json_to_string(json_object *o, int flags, char **ret);
