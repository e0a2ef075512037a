# SPDX-License-Identifier: GPL-2.0-or-later
"""The console's API over real HTTPS against a real collector (SQLite, or a private PostgreSQL cluster: the
backend is the first argument), seeded through real enrollment and ingest. Asserts on HTTP statuses, on the
replies and on rows in the database: operator accounts, sessions, the cross-site checks, login throttling,
the host list (agent version and policy serial derived at ingest, silent hosts, sorting, filtering, paging),
the evidence export verified by mnguardctl, the access log."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import consoletest as cs  # noqa: E402

BACKEND = sys.argv.pop(1) if len(sys.argv) > 1 else "sqlite"


class ConsoleApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="mnguard-console-")
        cls.con = cs.Console(cls.tmp.name, BACKEND)
        try:
            for name, role, via_file in (("alice", "auditor", False), ("kanri", "admin", True), ("bob", "auditor", False)):
                p = cls.con.operator_add(name, role, cs.PASSWORDS[name], via_file)
                assert p.returncode == 0, p.stderr
            cls.con.c.cli("operator-cert", "--name", "certop", "--role", "auditor", "--out",
                          os.path.join(cls.tmp.name, "certop"))
            cls.con.trust_signing_key()
            cls.con.start()
            cls.hosts = cls.con.seed()
        except BaseException:
            cls.con.stop()
            cls.tmp.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.con.stop()
        cls.tmp.cleanup()

    def session(self, name="alice"):
        s = cs.Session(self.con)
        status, reply = s.login(name, cs.PASSWORDS[name])
        self.assertEqual(status, 200, reply)
        self.addCleanup(s.close)
        return s

    # ---- accounts ----

    def test_operator_verb(self):
        # the password is never an argument: too short, and a second add of the same name, are refused
        p = self.con.operator_add("shorty", "auditor", "short")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("12-1024", p.stderr)
        p = self.con.operator_add("alice", "admin", "another-long-password")
        self.assertNotEqual(p.returncode, 0)
        rows = self.con.sql("SELECT name, role, pwhash FROM operators ORDER BY name")
        names = {r[0]: r for r in rows}
        self.assertEqual(names["alice"][1], "auditor")
        self.assertEqual(names["kanri"][1], "admin")
        for r in rows:
            self.assertTrue(r[2].startswith("$argon2id$"), r[2])
            self.assertNotIn(cs.PASSWORDS.get(r[0], "-"), r[2])
        out = subprocess.run(self.con.cmd("operator", "list", "--json"), capture_output=True, text=True, check=True).stdout
        listed = [json.loads(l) for l in out.splitlines()]
        self.assertIn({"alice": "auditor"}, [{x["name"]: x["role"]} for x in listed])
        self.assertNotIn("pwhash", out)

    def test_login_and_session_cookie(self):
        s = cs.Session(self.con)
        self.addCleanup(s.close)
        status, reply = s.login("alice", cs.PASSWORDS["alice"])
        self.assertEqual(status, 200, reply)
        self.assertEqual(reply["role"], "auditor")
        cookie = s.set_cookie
        for attr in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age="):
            self.assertIn(attr, cookie)
        self.assertEqual(len(s.cookie), 64)
        # only the token's hash is stored
        rows = self.con.sql("SELECT operator FROM sessions")
        self.assertIn(("alice",), rows)
        if not self.con.pg:
            db_hashes = [r[0] for r in self.con.sql("SELECT hex(token_hash) FROM sessions")]
            self.assertNotIn(s.cookie.upper(), db_hashes)
        status, me = s.get_json("/v1/console/session")
        self.assertEqual(status, 200)
        self.assertEqual((me["name"], me["auth"], me["csrf"]), ("alice", "session", s.csrf))
        # sign out: the cookie is cleared and the session is gone server-side
        status, reply = s.post("/v1/console/logout")
        self.assertEqual(status, 200, reply)
        status, reply = s.get_json("/v1/console/hosts")
        self.assertEqual((status, reply["error"]), (403, "session-expired"))

    def test_unauthenticated_refused(self):
        anon = cs.Session(self.con)
        self.addCleanup(anon.close)
        for path in ("/v1/console/hosts", "/v1/console/session", "/v1/console/access", "/v1/console/serials",
                     "/v1/console/export?host=" + self.hosts[1]["id"], "/v1/events", "/v1/hosts", "/v1/policies"):
            status, hdrs, data = anon.get(path)
            self.assertEqual(status, 403, path)
            self.assertEqual(json.loads(data)["error"], "client-certificate-required", path)
        # a made-up or malformed cookie is no session either
        for cookie in ("0" * 64, "zz", "A" * 64):
            anon.cookie = cookie
            status, hdrs, data = anon.get("/v1/console/hosts")
            self.assertEqual((status, json.loads(data)["error"]), (403, "session-expired"), cookie)
        anon.cookie = None
        # the pages themselves are public (they hold no data) and come with a strict policy
        status, hdrs, data = anon.get("/console/")
        self.assertEqual(status, 200)
        self.assertIn("script-src 'self'", hdrs["content-security-policy"])
        self.assertNotIn("unsafe-inline", hdrs["content-security-policy"])
        self.assertNotIn(b"<script>", data)
        self.assertNotIn(self.hosts[1]["id"].encode(), data)
        status, hdrs, data = anon.get("/console/../collector.db")
        self.assertEqual(status, 404)
        status, hdrs, data = anon.get("/")
        self.assertEqual((status, hdrs.get("location")), (303, "/console/"))

    def test_login_failures_are_throttled(self):
        s = cs.Session(self.con)
        self.addCleanup(s.close)
        for i in range(5):
            status, reply = s.login("bob", "not-bobs-password-%d" % i)
            self.assertEqual((status, reply["error"]), (401, "login-failed"))
        # an unknown name gets the same answer
        status, reply = s.login("nobody", "whatever-password")
        self.assertEqual((status, reply["error"]), (401, "login-failed"))
        # locked now, even with the right password
        status, reply = s.login("bob", cs.PASSWORDS["bob"])
        self.assertEqual((status, reply["error"]), (429, "account-locked"))
        rows = self.con.sql("SELECT failures FROM operators WHERE name = ?", ("bob",))
        self.assertEqual(rows, [("5",)])
        # every attempt is in the access log
        rows = self.con.sql("SELECT status FROM access_log WHERE operator = ? AND auth = 'password'", ("bob",))
        self.assertEqual(sorted(int(r[0]) for r in rows), [401] * 5 + [429])
        # malformed logins
        status, hdrs, data = s.client.request("POST", "/v1/console/login", "name=bob", {"Content-Type": "text/plain"})
        self.assertEqual(status, 415)
        status, hdrs, data = s.client.request("POST", "/v1/console/login", '{"name":"bob"}',
                                              {"Content-Type": "application/json"})
        self.assertEqual(status, 400)

    def test_auditor_cannot_publish(self):
        hdr = {"Content-Type": "application/json"}
        body = self.con.publish_body(2026112699, "取手市 標準 (console test)")
        # an auditor's session, with the right CSRF token, and a policy signed with the trusted key
        aud = self.session("alice")
        status, reply = aud.post("/v1/policy", body, headers=hdr)
        self.assertEqual((status, reply["error"]), (403, "wrong-role"))
        status, reply = aud.post("/v1/tickets", json.dumps({"data": ""}), headers=hdr)
        self.assertEqual((status, reply["error"]), (403, "wrong-role"))
        # an auditor's certificate
        cert = cs.ct.Client(self.con.c, os.path.join(self.tmp.name, "certop.crt"), os.path.join(self.tmp.name, "certop.key"))
        self.addCleanup(cert.close)
        status, reply = cert.json("POST", "/v1/policy", body, hdr)
        self.assertEqual((status, reply["error"]), (403, "wrong-role"))
        # an admin's session: not without its token, not from another site
        adm = self.session("kanri")
        status, reply = adm.post("/v1/policy", body, csrf=False, headers=hdr)
        self.assertEqual((status, reply["error"]), (403, "csrf-token"))
        status, reply = adm.post("/v1/policy", body, headers=dict(hdr, Origin="https://evil.example"))
        self.assertEqual((status, reply["error"]), (403, "cross-origin"))
        status, reply = adm.post("/v1/policy", body, headers=dict(hdr, **{"Sec-Fetch-Site": "cross-site"}))
        self.assertEqual((status, reply["error"]), (403, "cross-origin"))
        self.assertEqual(self.con.sql("SELECT count(*) FROM policies WHERE serial = 2026112699"), [("0",)])
        # with it, from the collector's own origin: published, in the admin's name
        port = self.con.c.port
        status, reply = adm.post("/v1/policy", body, headers=dict(hdr, Origin="https://127.0.0.1:%d" % port,
                                                                   Host="127.0.0.1:%d" % port))
        self.assertEqual(status, 200, reply)
        self.assertEqual(reply["serial"], 2026112699)
        self.assertEqual(self.con.sql("SELECT published_by FROM policies WHERE serial = 2026112699"), [("kanri",)])
        status, listed = aud.get_json("/v1/policies")
        self.assertIn((2026112699, "kanri"), [(p["serial"], p["published_by"]) for p in listed])

    def test_certificate_operator_uses_console_api(self):
        cert = cs.ct.Client(self.con.c, os.path.join(self.tmp.name, "certop.crt"), os.path.join(self.tmp.name, "certop.key"))
        self.addCleanup(cert.close)
        status, reply = cert.json("GET", "/v1/console/hosts")
        self.assertEqual(status, 200)
        self.assertEqual(reply["total"], len(cs.HOSTS))
        status, reply = cert.json("GET", "/v1/console/session")
        self.assertEqual((reply["name"], reply["auth"]), ("certop", "certificate"))
        rows = self.con.sql("SELECT auth FROM access_log WHERE operator = ? AND path = ?", ("certop", "/v1/console/hosts"))
        self.assertIn(("certificate",), rows)

    # ---- the host list ----

    def test_hosts_derived_at_ingest(self):
        s = self.session()
        status, j = s.get_json("/v1/console/hosts?limit=500")
        self.assertEqual(status, 200)
        by_id = {h["host_id"]: h for h in j["hosts"]}
        self.assertEqual(j["total"], 4)
        h1, h2, h3, h4 = (by_id[self.hosts[n]["id"]] for n in (1, 2, 3, 4))
        self.assertEqual((h1["agent_version"], h1["policy_serial"]), ("0.1.0", 2026112601))
        self.assertEqual((h2["agent_version"], h2["policy_serial"]), ("0.2.0", 2026112602))
        self.assertEqual((h4["agent_version"], h4["policy_serial"]), (None, None))
        # the same in the hosts table (what the API shows is what ingest stored)
        rows = dict(self.con.sql("SELECT host_id, policy_serial FROM hosts"))
        self.assertEqual(rows[self.hosts[1]["id"]], "2026112601")
        # events in the last 24 hours: host 1 has records from 31 hours ago on
        t24 = cs.now_usec() - 24 * cs.HOUR
        expect = sum(1 for l in self.hosts[1]["lines"] if iso_usec(json.loads(l)["@timestamp"]) >= t24)
        self.assertLess(expect, h1["events"])
        self.assertIn(h1["events_24h"], (expect, expect - 1))     # one record may age out meanwhile
        self.assertEqual(h2["events_24h"], h2["events"])
        # chain states; the host that never reported is silent
        self.assertEqual((h1["chain"], h3["chain"], h4["chain"]), ("intact", "gap", "empty"))
        self.assertTrue(h4["silent"])
        self.assertFalse(h1["silent"])

    def test_hosts_filter_sort_page(self):
        s = self.session()
        ids = lambda j: [h["host_id"] for h in j["hosts"]]
        status, j = s.get_json("/v1/console/hosts?chain=gap")
        self.assertEqual(ids(j), [self.hosts[3]["id"]])
        status, j = s.get_json("/v1/console/hosts?silent=1")
        self.assertEqual(ids(j), [self.hosts[4]["id"]])
        status, j = s.get_json("/v1/console/hosts?serial=2026112602&sort=name")
        self.assertEqual(ids(j), [self.hosts[2]["id"], self.hosts[3]["id"]])
        status, j = s.get_json("/v1/console/hosts?version=0.1.0")
        self.assertEqual(ids(j), [self.hosts[1]["id"]])
        status, j = s.get_json("/v1/console/hosts?q=PC-0002")          # case-insensitive substring
        self.assertEqual(ids(j), [self.hosts[2]["id"]])
        status, j = s.get_json("/v1/console/hosts?q=%25")               # LIKE wildcards are literal
        self.assertEqual(j["total"], 0)
        status, j = s.get_json("/v1/console/hosts?sort=events&order=desc")
        self.assertEqual(ids(j)[0], self.hosts[1]["id"])
        status, j = s.get_json("/v1/console/hosts?sort=events_24h&order=asc")
        self.assertEqual(ids(j)[0], self.hosts[4]["id"])
        status, j = s.get_json("/v1/console/hosts?sort=name&order=desc&limit=2&offset=1")
        self.assertEqual((j["total"], ids(j)), (4, [self.hosts[3]["id"], self.hosts[2]["id"]]))
        status, j = s.get_json("/v1/console/hosts?host=" + self.hosts[2]["id"])
        self.assertEqual(ids(j), [self.hosts[2]["id"]])
        for bad in ("sort=bogus", "chain=odd", "limit=0", "limit=501", "host=XYZ", "silent_after=1", "serial=x"):
            status, j = s.get_json("/v1/console/hosts?" + bad)
            self.assertEqual((status, j["error"]), (400, "bad-argument"), bad)

    def test_serials(self):
        s = self.session()
        status, j = s.get_json("/v1/console/serials")
        self.assertEqual(status, 200)
        got = {(x["group"], x["policy_serial"]): x["hosts"] for x in j["serials"]}
        got.pop(("default", 2026112603), None)          # test_parallel_queries_are_each_recorded's host
        self.assertEqual(got, {("default", 2026112601): 1, ("default", 2026112602): 2, ("default", 0): 1})

    # ---- evidence export ----

    def test_export_time_range_is_the_agents_export(self):
        s = self.session()
        h = self.hosts[2]
        status, hdrs, data = s.get("/v1/console/export?host=" + h["id"])
        self.assertEqual(status, 200)
        self.assertIn("attachment", hdrs["content-disposition"])
        self.assertIn(h["id"], hdrs["content-disposition"])
        text = data.decode()
        # the records are byte for byte the agent's own export of its journal
        agent = subprocess.run([cs.MNGUARDCTL, "--journal", h["journal"], "export"], capture_output=True, text=True,
                               check=True).stdout
        self.assertEqual(text.splitlines()[:-1], agent.splitlines()[:-1])
        m, am = cs.manifest(text), cs.manifest(agent)
        for k in ("count", "first_sequence", "last_sequence", "first_prev_hash", "last_hash", "host_id", "format"):
            self.assertEqual(m[k], am[k], k)
        self.assertEqual(m["collector"]["exported_by"], "alice")
        path = os.path.join(self.tmp.name, "export-h2.ndjson")
        with open(path, "wb") as f:
            f.write(data)
        rc, result = cs.verify_export(path)
        self.assertEqual(rc, 0, result)
        self.assertTrue(result["intact"])
        self.assertEqual(result["records"], len(h["lines"]))
        # tampering with one byte is found
        lines = text.splitlines()
        self.assertIn('"outcome":"success"', lines[5])
        lines[5] = lines[5].replace('"outcome":"success"', '"outcome":"failure"')
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        rc, result = cs.verify_export(path)
        self.assertNotEqual(rc, 0)
        self.assertFalse(result["intact"])

    def test_export_filtered_verifies(self):
        s = self.session()
        h = self.hosts[1]
        status, hdrs, data = s.get("/v1/console/export?action=device-blocked&host=" + h["id"])
        self.assertEqual(status, 200)
        text = data.decode()
        m = cs.manifest(text)
        records = [json.loads(l) for l in text.splitlines()[:-1]]
        blocked = [r for r in records if r["event"]["action"] == "device-blocked"]
        self.assertEqual(records[0]["event"]["action"], "device-blocked")
        self.assertEqual(records[-1]["event"]["action"], "device-blocked")
        self.assertEqual(m["collector"]["filter"], {"action": "device-blocked"})
        self.assertEqual(m["collector"]["matching"], len(blocked))
        self.assertEqual(len(blocked), sum(1 for l in h["lines"] if '"action":"device-blocked"' in l))
        path = os.path.join(self.tmp.name, "export-h1.ndjson")
        with open(path, "wb") as f:
            f.write(data)
        rc, result = cs.verify_export(path)
        self.assertEqual((rc, result["intact"], result["records"]), (0, True, m["count"]), result)

    def test_export_across_a_gap_reports_it(self):
        s = self.session()
        status, hdrs, data = s.get("/v1/console/export?host=" + self.hosts[3]["id"])
        self.assertEqual(status, 200)
        path = os.path.join(self.tmp.name, "export-h3.ndjson")
        with open(path, "wb") as f:
            f.write(data)
        rc, result = cs.verify_export(path)
        self.assertNotEqual(rc, 0)
        self.assertEqual((result["fault"], result["fault_sequence"]), ("missing", 8), result)

    def test_export_of_nothing(self):
        s = self.session()
        status, hdrs, data = s.get("/v1/console/export?host=" + self.hosts[4]["id"])
        self.assertEqual(status, 200)
        self.assertEqual(cs.manifest(data.decode())["count"], 0)
        status, j = s.get_json("/v1/console/export")
        self.assertEqual(status, 400)

    # ---- the access log ----

    def test_access_log_records_who_looked_at_what(self):
        s = self.session()
        hid = self.hosts[2]["id"]
        status, hdrs, data = s.get("/v1/events?order=desc&limit=5&action=device-*&host=" + hid)
        self.assertEqual(status, 200)
        self.assertEqual(len(data.splitlines()), 5)
        rows = self.con.sql("SELECT operator, auth, method, path, query, status, records FROM access_log "
                            "WHERE host_id = ? AND path = '/v1/events'", (hid,))
        self.assertIn(("alice", "session", "GET", "/v1/events", "order=desc&limit=5&action=device-*&host=" + hid, "200", "5"),
                      rows)
        status, j = s.get_json("/v1/console/access?operator=alice&host=" + hid)
        self.assertEqual(status, 200)
        e = j["entries"][0]
        self.assertEqual((e["operator"], e["host_id"], e["path"], e["records"]), ("alice", hid, "/v1/events", 5))
        # reading the access log is itself recorded, but not as looking at that host
        rows = self.con.sql("SELECT COALESCE(host_id, '-') FROM access_log WHERE path = '/v1/console/access'")
        self.assertTrue(rows)
        self.assertEqual(set(rows), {("-",)})
        status, j = s.get_json("/v1/console/access?limit=1")
        self.assertEqual(len(j["entries"]), 1)
        self.assertIsNotNone(j["next_before"])
        status, j2 = s.get_json("/v1/console/access?limit=1&before=%d" % j["next_before"])
        self.assertLess(j2["entries"][0]["id"], j["entries"][0]["id"])

    def test_parallel_queries_are_each_recorded(self):
        """Operators' queries beside terminals' ingest: every query answered and recorded exactly once."""
        import threading
        before = int(self.con.sql("SELECT count(*) FROM access_log WHERE operator = 'alice' AND path = '/v1/events'")[0][0])
        hid = self.hosts[2]["id"]
        results = []

        def reader():
            s = cs.Session(self.con)
            try:
                assert s.login("alice", cs.PASSWORDS["alice"])[0] == 200
                for i in range(15):
                    status, hdrs, data = s.get("/v1/events?order=desc&limit=3&host=" + hid)
                    results.append((status, len(data.splitlines())))
            finally:
                s.close()

        def writer():
            # a new host's history arrives meanwhile, batch after batch (group commits with the access log)
            n = 90
            status, reply, cert, key = cs.ct.enroll(self.con.c, self.tmp.name, "par", cs.host_id(n), self.con.c.token(),
                                                    "mn-pc-par")
            assert status == 200, reply
            out = cs.ct.run([cs.CONSOLE_EVENTS, os.path.join(self.tmp.name, "par.db"), cs.host_id(n), "mn-pc-par", "0.3.0",
                             "2026112603", "60", str(cs.now_usec() - cs.HOUR), str(cs.MINUTE)]).stdout
            lines = [l for l in out.splitlines() if l and "mnguard_manifest" not in l]
            client = cs.ct.Client(self.con.c, cert, key)
            try:
                for i in range(0, len(lines), 5):
                    status, reply = client.post_events(lines[i:i + 5])
                    results.append((("ingest", status), 0))
            finally:
                client.close()

        threads = [threading.Thread(target=reader) for _ in range(6)] + [threading.Thread(target=writer)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        reads = [r for r in results if r[0] != ("ingest", 200)]
        self.assertEqual(reads, [(200, 3)] * 90)
        self.assertEqual(len(results), 90 + 13)
        after = int(self.con.sql("SELECT count(*) FROM access_log WHERE operator = 'alice' AND path = '/v1/events'")[0][0])
        self.assertEqual(after - before, 90)
        rows = dict(self.con.sql("SELECT host_id, policy_serial FROM hosts"))
        self.assertEqual(rows[cs.host_id(90)], "2026112603")

    def test_removed_operator_loses_the_session(self):
        p = self.con.operator_add("temp", "auditor", "temporary-password-1")
        self.assertEqual(p.returncode, 0, p.stderr)
        s = cs.Session(self.con)
        self.addCleanup(s.close)
        self.assertEqual(s.login("temp", "temporary-password-1")[0], 200)
        self.assertEqual(s.get_json("/v1/console/hosts")[0], 200)
        subprocess.run(self.con.cmd("operator", "remove", "temp"), check=True, capture_output=True)
        status, reply = s.get_json("/v1/console/hosts")
        self.assertEqual((status, reply["error"]), (403, "session-expired"))


def iso_usec(s):
    import datetime
    d = datetime.datetime.strptime(s[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
    return int(d.timestamp() * 1000000)


if __name__ == "__main__":
    unittest.main(verbosity=2)
