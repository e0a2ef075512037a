/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <json-c/json.h>

#include "policy.h"

/* Normalized JSON of what an agent enforces: every default made explicit, effective modes resolved. */
json_object *policy_to_json(const Policy *p);

/* Names of the classes in a mask, as a JSON array. */
json_object *usb_class_mask_to_json(UsbClassMask m);

/* "YYYY-MM-DD" of a day count; buf must hold 11 bytes. */
const char *policy_format_date(int64_t days, char buf[static 11]);
