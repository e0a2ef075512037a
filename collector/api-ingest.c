/* SPDX-License-Identifier: GPL-2.0-or-later */
/* POST /v1/events: an NDJSON batch of one terminal's journal records, stored whole or not at all. */
#include <errno.h>
#include <json-c/json.h>
#include <string.h>

#include "batch.h"
#include "log.h"
#include "server.h"

int api_ingest(Server *srv, const Request *req, Reply *reply) {
        const char *host_id = req->peer->subject;
        IngestResult res = {};
        BatchError err;
        size_t received = 0;
        int r;

        r = batch_ingest(server_storage(srv), host_id, req->body, req->body_len, now_realtime_usec(), NULL, &res,
                         &received, &err);
        if (r < 0 && err.status != 0) {
                const char *code = err.status == 403 ? "wrong-host" : err.status == 413 ? "batch-too-large" : "malformed";
                log_notice("Batch from host %s refused (%u): %s", host_id, err.status, err.message);
                reply_error(reply, (unsigned) err.status, code, err.line, "%s", err.message);
                return 0;
        }
        if (r == -ENOMEM) {
                log_oom();
                return r;
        }
        if (r < 0) {
                log_warning_errno(r, "Failed to store a batch from host %s: %m", host_id);
                reply_storage_error(reply, r);
                return 0;
        }
        if (res.n_flagged > 0)
                log_warning("Host %s: %zu records flagged by the chain check (chain %s).", host_id, res.n_flagged,
                            chain_state_to_string(res.chain));
        json_object *o = json_object_new_object();
        json_object_object_add(o, "acked_sequence", json_object_new_uint64(res.acked_sequence));
        json_object_object_add(o, "last_sequence", json_object_new_uint64(res.last_sequence));
        json_object_object_add(o, "received", json_object_new_uint64(received));
        json_object_object_add(o, "stored", json_object_new_uint64(res.n_stored));
        json_object_object_add(o, "duplicates", json_object_new_uint64(res.n_duplicates));
        json_object_object_add(o, "flagged", json_object_new_uint64(res.n_flagged));
        json_object_object_add(o, "conflicts", json_object_new_uint64(res.n_conflicts));
        json_object_object_add(o, "chain", json_object_new_string(chain_state_to_string(res.chain)));
        reply_json(reply, 200, o);
        return 0;
}
