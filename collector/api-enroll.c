/* SPDX-License-Identifier: GPL-2.0-or-later */
/* POST /v1/enroll: a terminal trades an enrollment token and a certificate request for a client
 * certificate. The only endpoint reachable without a client certificate. */
#include <errno.h>
#include <json-c/json.h>
#include <string.h>

#include "journal.h"
#include "log.h"
#include "server.h"
#include "strutil.h"
#include "token.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free);

#define ENROLL_JSON_DEPTH 4

static const char *string_field(json_object *o, const char *key, size_t max, size_t *ret_len) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        size_t n = (size_t) json_object_get_string_len(v);
        if (n == 0 || n > max)
                return NULL;
        *ret_len = n;
        return json_object_get_string(v);
}

int api_enroll(Server *srv, const Request *req, Reply *reply) {
        _cleanup_(json_tokener_freep) json_tokener *tok = json_tokener_new_ex(ENROLL_JSON_DEPTH);
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_free_ char *host_name = NULL;
        IssuedCert cert = {};
        TokenRecord token;
        uint8_t hash[SHA256_SIZE];
        size_t token_len = 0, csr_len = 0, name_len = 0;
        char why[256] = "";
        int r;

        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, req->body, (int) req->body_len);
        if (!o || json_tokener_get_error(tok) != json_tokener_success ||
            (size_t) json_tokener_get_parse_end(tok) != req->body_len || !json_object_is_type(o, json_type_object)) {
                reply_error(reply, 400, "malformed", 0, "the body must be a JSON object {\"token\":…,\"csr\":…}");
                return 0;
        }
        const char *token_s = string_field(o, "token", 128, &token_len);
        const char *csr = string_field(o, "csr", CSR_PEM_MAX, &csr_len);
        const char *name = string_field(o, "host_name", HOST_NAME_MAX_BYTES, &name_len);
        if (!token_s || !csr) {
                reply_error(reply, 400, "malformed", 0, "\"token\" and \"csr\" (PEM, at most %u bytes) are required",
                            CSR_PEM_MAX);
                return 0;
        }
        if (name) {
                host_name = untrusted_sanitize(name, name_len, HOST_NAME_MAX_BYTES);
                if (!host_name)
                        return -ENOMEM;
        }

        /* Check the request before taking a use of the token. */
        const ServerConfig *cfg = server_config(srv);
        uint64_t now = now_realtime_usec();
        r = ca_sign_csr(server_ca(srv), csr, csr_len, cfg->cert_days, now, &cert, why, sizeof(why));
        if (r == -ENOMEM)
                return r;
        if (r == -ENOKEY) {
                reply_error(reply, 500, "no-ca-key", 0, "this collector has no CA key to sign with");
                return 0;
        }
        if (r < 0) {
                reply_error(reply, 400, "bad-csr", 0, "%s", why[0] ? why : "the certificate request was refused");
                return 0;
        }

        if (token_hash(token_s, token_len, hash) < 0)
                r = -ENOENT;
        else
                r = storage_token_consume(server_storage(srv), hash, now, &token);
        if (r < 0) {
                issued_cert_done(&cert);
                if (r == -ENOENT)
                        reply_error(reply, 403, "token-unknown", 0, "the enrollment token is not known");
                else if (r == -EKEYEXPIRED)
                        reply_error(reply, 403, "token-expired", 0, "the enrollment token has expired");
                else if (r == -EUSERS)
                        reply_error(reply, 403, "token-used", 0, "the enrollment token has been used up");
                else
                        return r;
                log_notice("Enrollment of %s refused: %s.", cert.subject[0] ? cert.subject : "a host",
                           r == -ENOENT ? "unknown token" : r == -EKEYEXPIRED ? "expired token" : "token used up");
                return 0;
        }

        CertRecord rec = { .kind = CERT_HOST, .issued_usec = now, .not_after_usec = cert.not_after_usec };
        memcpy(rec.serial, cert.serial, sizeof(rec.serial));
        memcpy(rec.subject, cert.subject, sizeof(rec.subject));
        memcpy(rec.group, token.group, sizeof(rec.group));
        r = storage_cert_add(server_storage(srv), &rec, host_name);
        if (r < 0) {
                issued_cert_done(&cert);
                return r;
        }
        log_info("Enrolled host %s (%s) in group %s, certificate %s.", rec.subject, host_name ?: "no name", rec.group,
                 rec.serial);

        char not_after[JOURNAL_TIMESTAMP_MAX];
        json_object *out = json_object_new_object();
        json_object_object_add(out, "host_id", json_object_new_string(rec.subject));
        json_object_object_add(out, "group", json_object_new_string(rec.group));
        json_object_object_add(out, "certificate", json_object_new_string(cert.pem));
        json_object_object_add(out, "ca", json_object_new_string(ca_cert_pem(server_ca(srv))));
        json_object_object_add(out, "serial", json_object_new_string(rec.serial));
        json_object_object_add(out, "not_after", json_object_new_string(journal_timestamp_format(cert.not_after_usec, not_after)));
        issued_cert_done(&cert);
        reply_json(reply, 200, out);
        return 0;
}
