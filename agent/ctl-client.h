/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* mnguardctl's side of the control socket (docs/control.md). */

#include <json-c/json.h>
#include <stddef.h>

#define CTL_CLIENT_LINE_MAX (128 * 1024) /* longest reply line accepted */

typedef struct CtlClient CtlClient;

/* Connects to RUNTIME_DIR/control.sock. -ENOENT/-ECONNREFUSED when the daemon is not running. */
int ctl_client_connect(const char *runtime_dir, CtlClient **ret);
CtlClient *ctl_client_free(CtlClient *c);

int ctl_client_send(CtlClient *c, json_object *request);

/* Reads one reply line. *ret_line stays valid until the next call. 0 at end of stream. */
int ctl_client_read_line(CtlClient *c, const char **ret_line, size_t *ret_len);

/* Sends request and reads one reply object; a {"ok":false} reply becomes -errno with *ret_error
 * (static or owned by the reply) describing it. */
int ctl_client_call(CtlClient *c, json_object *request, json_object **ret_reply, const char **ret_error);
