/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

/* The terminal's stable host id: 32 hex digits created on first start and kept in the state dir
 * (identity.json) with a fingerprint of the machine id. When the machine id changes (an image
 * cloned to another terminal, where first boot makes a new machine id) the clone gets a new host
 * id, and the old one is reported so the change can be recorded. */

#define HOST_ID_LEN 32

typedef struct HostIdentity {
        char host_id[HOST_ID_LEN + 1];
        char previous_host_id[HOST_ID_LEN + 1]; /* set when changed_machine */
        bool created;          /* no identity existed: first start */
        bool changed_machine;  /* identity existed for another machine id: a clone */
} HostIdentity;

/* machine_id_path is normally /etc/machine-id (MNGUARD_MACHINE_ID_FILE overrides it for tests).
 * A missing machine id is tolerated (containers): the fingerprint is then empty. */
int host_identity_load(const char *state_dir, const char *machine_id_path, HostIdentity *ret);

/* Removes the identity (image preparation). */
int host_identity_remove(const char *state_dir);
