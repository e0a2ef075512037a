# SPDX-License-Identifier: GPL-2.0-or-later
"""Policy publishing and ticket queueing at the collector (issue 7), over real HTTPS with mutual TLS, on
SQLite or on a private PostgreSQL cluster: `mnguard-collector policy publish`, `ticket queue`,
`assign-group`, POST /v1/policy (admin only), GET /v1/policies and the terminals' long-poll GET /v1/policy.
Asserts on replies, exit statuses and database rows."""

import base64
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import collectortest as ct  # noqa: E402

BACKEND = sys.argv.pop(1) if len(sys.argv) > 1 else "sqlite"
TOOL = os.environ.get("MNGUARD_POLICY_TOOL")

POLICY = """mnguard-policy: 1
serial: {serial}
name: "{name}"
defaults:
  storage: block
"""


def iso(minutes):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + minutes * 60))


def hid(n):
    return "%08x" % (0xb0111c70 + n) + "0123456789abcdef01234567"


class PublishTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not TOOL:
            ct.skip_all("MNGUARD_POLICY_TOOL is not set")
        cls.tmp = tempfile.TemporaryDirectory(prefix="mnguard-publish-")
        cls.base = cls.tmp.name
        cls.pg = None
        storage = None
        if BACKEND == "postgresql":
            cls.pg = ct.Postgres(cls.base)
            cls.pg.init()
            cls.pg.start()
            storage = "postgresql:" + cls.pg.conninfo
        cls.c = ct.Collector(cls.base, storage)
        cls.c.init_ca()
        # the collector trusts the IT key; "rogue" is a key nobody trusts
        for k in ("it", "rogue"):
            ct.run([TOOL, "keygen", os.path.join(cls.base, k)])
        with open(os.path.join(cls.base, "it.pub")) as f, open(os.path.join(cls.c.dir, "policy-signing.pub"), "w") as o:
            o.write(f.read())
        cls.c.start()
        for name, role in (("alice", "auditor"), ("bob", "admin")):
            cls.c.cli("operator-cert", "--name", name, "--role", role, "--out", os.path.join(cls.base, name))
        cls.auditor = ct.Client(cls.c, os.path.join(cls.base, "alice.crt"), os.path.join(cls.base, "alice.key"))
        cls.admin = ct.Client(cls.c, os.path.join(cls.base, "bob.crt"), os.path.join(cls.base, "bob.key"))
        cls.hosts = {}
        cls.serial = 100

    @classmethod
    def tearDownClass(cls):
        for _, cl in cls.hosts.values():
            cl.close()
        cls.auditor.close()
        cls.admin.close()
        cls.c.stop()
        if cls.pg:
            cls.pg.stop()
        cls.tmp.cleanup()

    # ---- helpers ----

    def host(self, n, group=None):
        if n in self.hosts:
            return self.hosts[n]
        h = hid(n)
        token = self.c.token(*(["--group", group] if group else []))
        status, reply, cert, key = ct.enroll(self.c, self.base, f"h{n}", h, token, f"mn-pc-{n:04d}")
        self.assertEqual(status, 200, reply)
        self.hosts[n] = (h, ct.Client(self.c, cert, key))
        return self.hosts[n]

    def next_serial(self):
        PublishTest.serial += 1
        return PublishTest.serial

    def policy(self, serial, key="it", name=None, tamper=False):
        """Writes a policy and its signature; returns (policy path, sig path, bytes)."""
        path = os.path.join(self.base, f"policy-{serial}-{key}.yaml")
        data = POLICY.format(serial=serial, name=name or f"policy {serial}")
        with open(path, "w") as f:
            f.write(data)
        ct.run([TOOL, "sign", path, "--key", os.path.join(self.base, key + ".key"), "-o", path + ".sig"])
        if tamper:
            data = data.replace('name: "policy', 'name: "tampered')
            with open(path, "w") as f:
                f.write(data)
        return path, path + ".sig", data.encode()

    def publish(self, serial, group=None, check=True, **kw):
        path, sig, data = self.policy(serial, **kw)
        args = ["policy", "publish", "--json"] + (["--group", group] if group else []) + [path, sig]
        return self.c.cli(*args, check=check), data

    def rows(self, table, where=""):
        q = f"SELECT count(*) FROM {table} {where}"
        if self.pg:
            return int(self.pg.sql(q))
        db = sqlite3.connect(f"file:{self.c.dir}/collector.db?mode=ro", uri=True)
        try:
            return db.execute(q).fetchone()[0]
        finally:
            db.close()

    def poll(self, client, serial=0, after=0, wait=0):
        status, reply = client.json("GET", f"/v1/policy?serial={serial}&tickets-after={after}&wait={wait}")
        self.assertEqual(status, 200, reply)
        return reply

    def current(self, client):
        return self.poll(client)["serial"]

    # ---- publishing from the command line ----

    def test_publish_checks(self):
        s = self.next_serial()
        out, data = self.publish(s, group="checks")
        rec = json.loads(out.stdout)
        self.assertEqual((rec["group"], rec["serial"], rec["name"]), ("checks", s, f"policy {s}"))
        self.assertEqual(len(rec["key_id"]), 16)
        self.assertEqual(self.rows("policies", f"WHERE grp = 'checks' AND serial = {s}"), 1)

        # the same serial again, an older one, a forged file, an untrusted key, garbage: refused, nothing stored
        for kw, serial, what in (({}, s, "stale-serial"), ({}, s - 1, "stale-serial"),
                                 ({"tamper": True}, s + 1, "bad-signature"), ({"key": "rogue"}, s + 2, "bad-signature")):
            r, _ = self.publish(serial, group="checks", check=False, **kw)
            self.assertEqual(r.returncode, 1, (what, r.stderr))
            self.assertIn(what, r.stderr)
        garbage = os.path.join(self.base, "garbage.yaml")
        with open(garbage, "w") as f:
            f.write("mnguard-policy: 1\nserial: [1\n")
        r = self.c.cli("policy", "publish", "--group", "checks", garbage, garbage, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"garbage\.yaml:\d+:\d+: error: ")
        self.assertEqual(self.rows("policies", "WHERE grp = 'checks'"), 1)

        listed = json.loads(self.c.cli("policy", "list", "--group", "checks", "--json").stdout)
        self.assertEqual([p["serial"] for p in listed], [s])
        self.assertEqual(self.c.cli("policy", "publish", "--group", "bad group!", garbage, garbage, check=False).returncode, 1)

    def test_no_trusted_keys_no_publish(self):
        os.rename(os.path.join(self.c.dir, "policy-signing.pub"), os.path.join(self.c.dir, "keys.away"))
        try:
            r, _ = self.publish(self.next_serial(), group="nokeys", check=False)
            self.assertEqual(r.returncode, 1)
            self.assertIn("policy-signing.pub", r.stderr)
        finally:
            os.rename(os.path.join(self.c.dir, "keys.away"), os.path.join(self.c.dir, "policy-signing.pub"))
        self.assertEqual(self.rows("policies", "WHERE grp = 'nokeys'"), 0)

    # ---- what terminals get ----

    def test_poll_returns_exact_bytes(self):
        h, cl = self.host(1, group="exact")
        self.assertNotIn("policy", self.poll(cl))
        s = self.next_serial()
        _, data = self.publish(s, group="exact")
        reply = self.poll(cl)
        self.assertEqual((reply["group"], reply["serial"]), ("exact", s))
        self.assertEqual(base64.b64decode(reply["policy"]["data"]), data)
        with open(os.path.join(self.base, f"policy-{s}-it.yaml.sig"), "rb") as f:
            self.assertEqual(base64.b64decode(reply["policy"]["signature"]), f.read())
        # up to date: nothing but the serial
        again = self.poll(cl, serial=s)
        self.assertEqual(again["serial"], s)
        self.assertNotIn("policy", again)
        self.assertEqual(again["tickets"], [])

    def test_long_poll_woken_by_cli_publish(self):
        h, cl = self.host(2, group="wake")
        cur = self.current(cl)
        result = {}

        def waiter():
            t0 = time.monotonic()
            result["reply"] = self.poll(cl, serial=cur, wait=55)
            result["elapsed"] = time.monotonic() - t0
        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(1.0)
        self.assertTrue(t.is_alive(), "the request was not held open")
        s = self.next_serial()
        self.publish(s, group="wake")
        t.join(60)
        self.assertFalse(t.is_alive())
        self.assertEqual(result["reply"]["policy"]["serial"], s)
        # answered because of the publish, long before the 55 s the terminal allowed
        self.assertLess(result["elapsed"], 30)

    def test_long_poll_expires_without_news(self):
        h, cl = self.host(3, group="quiet")
        t0 = time.monotonic()
        reply = self.poll(cl, serial=0, wait=2)
        self.assertGreaterEqual(time.monotonic() - t0, 1.5)
        self.assertNotIn("policy", reply)
        self.assertEqual(reply["serial"], 0)
        status, r = cl.json("GET", "/v1/policy?wait=61")
        self.assertEqual((status, r["error"]), (400, "bad-argument"))
        status, r = cl.json("GET", "/v1/policy?serial=abc")
        self.assertEqual(status, 400)

    def test_groups_and_assign(self):
        h, cl = self.host(4, group="kiosk")
        s_def = self.next_serial()
        self.publish(s_def, group="tower")
        self.assertNotIn("policy", self.poll(cl))       # not its group
        s_kiosk = self.next_serial()
        self.publish(s_kiosk, group="kiosk")
        self.assertEqual(self.poll(cl)["policy"]["serial"], s_kiosk)
        out = self.c.cli("assign-group", "--group", "tower", h).stdout
        self.assertIn("tower", out)
        reply = self.poll(cl)
        self.assertEqual((reply["group"], reply["policy"]["serial"]), ("tower", s_def))
        r = self.c.cli("assign-group", "--group", "tower", hid(99), check=False)
        self.assertEqual(r.returncode, 1)
        r = self.c.cli("assign-group", "--group", "tower", "not-a-host", check=False)
        self.assertEqual(r.returncode, 1)

    # ---- publishing over HTTPS ----

    def test_http_publish_roles(self):
        h, cl = self.host(5, group="web")
        s = self.next_serial()
        path, sig, data = self.policy(s)
        with open(sig, "rb") as f:
            body = json.dumps({"group": "web", "data": base64.b64encode(data).decode(),
                               "signature": base64.b64encode(f.read()).decode()})
        status, r = self.auditor.json("POST", "/v1/policy", body, {"Content-Type": "application/json"})
        self.assertEqual((status, r["error"]), (403, "wrong-role"))
        status, r = cl.json("POST", "/v1/policy", body, {"Content-Type": "application/json"})
        self.assertEqual((status, r["error"]), (403, "wrong-role"))
        self.assertEqual(self.rows("policies", "WHERE grp = 'web'"), 0)

        result = {}
        t = threading.Thread(target=lambda: result.setdefault("reply", self.poll(cl, serial=0, wait=55)))
        # nothing published for "web" yet: the request waits; the admin's publish wakes it
        t.start()
        time.sleep(0.5)
        status, r = self.admin.json("POST", "/v1/policy", body, {"Content-Type": "application/json"})
        self.assertEqual(status, 200, r)
        self.assertEqual(r["serial"], s)
        t.join(30)
        self.assertFalse(t.is_alive())
        self.assertEqual(result["reply"]["policy"]["serial"], s)

        status, r = self.admin.json("POST", "/v1/policy", body, {"Content-Type": "application/json"})
        self.assertEqual((status, r["error"]), (409, "stale-serial"))
        for bad in (b"{", b"[]", json.dumps({"group": "web", "data": "!!", "signature": ""}).encode()):
            status, r = self.admin.json("POST", "/v1/policy", bad, {"Content-Type": "application/json"})
            self.assertEqual(status, 400, bad)
        status, listed = self.auditor.json("GET", "/v1/policies?group=web")
        self.assertEqual((status, [p["serial"] for p in listed]), (200, [s]))
        self.assertEqual(listed[0]["published_by"], "bob")
        self.assertEqual(self.auditor.json("GET", "/v1/policies")[0], 200)
        self.assertEqual(cl.json("GET", "/v1/policies")[0], 403)

    # ---- tickets ----

    def ticket(self, name, host, key="it"):
        path = os.path.join(self.base, name + ".ticket")
        ct.run([TOOL, "ticket", "--key", os.path.join(self.base, key + ".key"), "--host", host,
                "--device", "0781:5581:4C530001", "--access", "read-only", "--from", iso(-5), "--until", iso(60),
                "-o", path])
        return path

    def test_tickets(self):
        h, cl = self.host(6, group="tickets")
        other, _ = self.host(7, group="tickets")
        reply = self.poll(cl)
        after = reply["tickets_after"]
        path = self.ticket("t6", h)
        q = json.loads(self.c.cli("ticket", "queue", "--json", path).stdout)
        self.assertEqual(q["host_id"], h)
        self.c.cli("ticket", "queue", "--json", self.ticket("t7", other))
        reply = self.poll(cl, after=after)
        self.assertEqual(len(reply["tickets"]), 1)         # not the other host's
        with open(path, "rb") as f:
            self.assertEqual(base64.b64decode(reply["tickets"][0]["data"]), f.read())
        self.assertEqual(reply["tickets_after"], q["id"])
        self.assertEqual(self.poll(cl, after=reply["tickets_after"])["tickets"], [])
        # queued twice, an untrusted signer: refused
        self.assertEqual(self.c.cli("ticket", "queue", path, check=False).returncode, 1)
        r = self.c.cli("ticket", "queue", self.ticket("rogue", h, key="rogue"), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("bad-signature", r.stderr)
        self.assertEqual(self.rows("tickets", f"WHERE host_id = '{h}'"), 1)

        # a waiting terminal is woken by a ticket for it (over HTTPS, admin)
        result = {}
        t = threading.Thread(target=lambda: result.setdefault("reply", self.poll(cl, serial=reply["serial"],
                                                                                   after=reply["tickets_after"], wait=55)))
        t.start()
        time.sleep(0.5)
        with open(self.ticket("t6b", h), "rb") as f:
            body = json.dumps({"data": base64.b64encode(f.read()).decode()})
        self.assertEqual(self.auditor.json("POST", "/v1/tickets", body)[0], 403)
        status, r = self.admin.json("POST", "/v1/tickets", body)
        self.assertEqual(status, 200, r)
        t.join(30)
        self.assertFalse(t.is_alive())
        self.assertEqual(len(result["reply"]["tickets"]), 1)

    # ---- stopping with requests held ----

    def test_stop_while_held(self):
        base = os.path.join(self.base, "second")
        os.makedirs(base)
        c2 = ct.Collector(base, self.c.storage)
        c2.dir = self.c.dir                 # same CA and database: a second collector
        c2.start()
        h, cl = self.host(8, group="held")
        client = ct.Client(c2)
        client.ctx = cl.ctx
        result = {}
        t = threading.Thread(target=lambda: result.setdefault("reply", client.json("GET", "/v1/policy?wait=55")))
        t.daemon = True
        t.start()
        time.sleep(1.0)
        self.assertTrue(t.is_alive())
        # published through the first collector: the second notices through the database
        s = self.next_serial()
        self.publish(s, group="held")
        t.join(30)
        self.assertFalse(t.is_alive())
        self.assertEqual(result["reply"][1]["policy"]["serial"], s)
        # held again, then the collector stops: answered (nothing new), and it exits cleanly
        result.clear()
        t = threading.Thread(target=lambda: result.setdefault("reply", client.json("GET", f"/v1/policy?serial={s}&wait=55")))
        t.start()
        time.sleep(1.0)
        c2.stop()               # raises unless it exited 0 without sanitizer reports
        t.join(30)
        self.assertFalse(t.is_alive())
        status, reply = result["reply"]         # answered before the connection closed
        self.assertEqual(status, 200, reply)
        self.assertNotIn("policy", reply)
        client.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
