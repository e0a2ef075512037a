/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "device.h"
#include "policy.h"

/* The object `mnguardctl devices --json` prints for one physical device (DESIGN.md):
 *   syspath, name, bus, vendor/product ("0781", or null), serial, manufacturer, model, optical,
 *   classes [names], authorized (USB only), filesystems [{devnode, type, uuid, label}],
 *   interfaces [{name, syspath, class/subclass/protocol ("08"), function, label, keyboard, mouse,
 *   decision}], and with a decision: decision, rule, audit, reason, blocked [class names],
 *   storage (only when the device has storage).
 * dec and interface_blocked (one bool per interface) may be NULL to describe the device alone.
 * Returns a new object, or NULL on allocation failure. */
json_object *mn_device_to_json(const MnDevice *d, const PolicyDecision *dec, const bool *interface_blocked);

/* Adds the device fields of an event record (DESIGN.md "device"): vendor, product, serial,
 * manufacturer, model, bus, syspath, classes. Strings are the sanitized device strings. */
int mn_device_event_fields(json_object *device, const MnDevice *d);
