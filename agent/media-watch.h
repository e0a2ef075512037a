/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The daemon's block layer (docs/block-devices.md): for every tracked device with storage, the disk's
 * read-only flag (BLKROSET) and the mount guard follow the decision; allowed read-write media are
 * write-audited while mounted, and their summary goes on device-removed. Uses block-enforce.c,
 * mount-guard.c and write-audit.c. */

#include <json-c/json.h>
#include <stdbool.h>

#include "device.h"
#include "policy.h"

typedef struct Manager Manager;
typedef struct MediaWatch MediaWatch;

#define MEDIA_WATCH_MAX_DISKS 8     /* disks (LUNs) of one device */
#define MEDIA_WATCH_MAX_DEVICES 4096

/* -EPERM (or another errno) when fanotify is not available: the caller runs without the block layer,
 * says so and records it. */
int media_watch_new(Manager *m, MediaWatch **ret);
MediaWatch *media_watch_free(MediaWatch *w);

/* Starts the mount guard (after the devices present were applied: their mounts are checked first). */
int media_watch_start(MediaWatch *w);

/* Applies a device's decision to its block devices. */
void media_watch_apply(MediaWatch *w, const MnDevice *d, const PolicyDecision *dec);

/* The device went away: forget its disks, and add its write summary to the device-removed event. */
void media_watch_device_removed(MediaWatch *w, const MnDevice *d, json_object *ev);
