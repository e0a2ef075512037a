/* SPDX-License-Identifier: GPL-2.0-or-later */
/* POST /v1/events: an NDJSON batch of one terminal's journal records, stored whole or not at all. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <string.h>

#include "batch.h"
#include "log.h"
#include "server.h"
#include "strutil.h"

/* The precondition header of an agent's second batch in flight (docs/collector-api.md). */
#define FOLLOWS_HEADER "Mnguard-Follows"

int api_ingest(Server *srv, const Request *req, Reply *reply) {
        const char *host_id = req->peer->subject;
        IngestResult res = {};
        BatchError err;
        size_t received = 0;
        uint64_t follows;
        BatchIngestOptions opt = { .stream_min_bytes = BATCH_STREAM_MIN_BYTES };
        int r;

        const char *v = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, FOLLOWS_HEADER);
        if (v) {
                if (parse_u64(v, &follows) < 0 || follows > INT64_MAX) {
                        reply_error(reply, 400, "malformed", 0, FOLLOWS_HEADER " must be a sequence number");
                        return 0;
                }
                opt.follows = &follows;
        }
        r = batch_ingest(server_storage(srv), host_id, req->body, req->body_len, now_realtime_usec(), &opt, &res,
                         &received, &err);
        if (r == -ESTALE) {
                reply_error(reply, 412, "precondition-failed", 0,
                            "the host's last stored sequence is %" PRIu64 ", not %" PRIu64 "; nothing was stored",
                            res.last_sequence, follows);
                return 0;
        }
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
        /* an agent keeps two batches in flight only with a collector that says it honours Mnguard-Follows */
        json_object_object_add(o, "accepts_follows", json_object_new_boolean(true));
        reply_json(reply, 200, o);
        return 0;
}
