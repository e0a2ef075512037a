#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Central policy delivery (issue 7) end to end: a real mnguard-collector (mutual TLS, SQLite) and a real
mnguardd on a umockdev testbed that long-polls it (docs/daemon.md "Policy delivery").

Asserted on what can be observed: the sysfs "authorized" attribute of the stick on port 1-1 (blocked by
the default), the events in the agent's journal and in the collector's database, the agent's state files.
The collector refuses bad signatures when a policy is published, so what a compromised collector could
send (forged signatures, garbage, replays, other documents' signatures, redirected tickets) is put straight
into its SQLite tables, as an attacker with the database would.

Run under umockdev-wrapper (it sets LD_PRELOAD); skipped otherwise."""

import base64
import datetime
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
for sub in ("umockdev", "collector", "integration"):
    sys.path.insert(0, os.path.join(HERE, "..", sub))

from test_daemon_usb import UsbTestBase  # noqa: E402  (skips unless under umockdev-wrapper)
import collectortest as ct  # noqa: E402
import mnguardtest as mt  # noqa: E402

TOOL = os.environ.get("MNGUARD_POLICY", "mnguard-policy")
STICK = "0781:5581:4C530009990101117384"   # the unregistered stick on port 1-1
DEADLINE = 30                               # seconds for any one condition

POLICY = """mnguard-policy: 1
serial: {serial}
name: "集中配布 {serial}"
mode: enforce
media:
  - name: 情報政策課-001
    match: {{vendor: "0781", product: "5581", serial: "4C530001230101117384"}}
    access: read-write
{extra}"""
ALLOW_STICK = """  - name: 持ち出し用-002
    match: {vendor: "0781", product: "5581", serial: "4C530009990101117384"}
    access: read-write
"""


def iso(delta_minutes):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=delta_minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def wait_for(what, cond, timeout=DEADLINE, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


for _tool in (ct.COLLECTOR, mt.MNGUARDD, mt.MNGUARDCTL, TOOL):
    if not shutil.which(_tool) and not os.access(_tool, os.X_OK):
        mt.skip_all(f"{_tool} not built")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def forged_signature(sig):
    """The signature file sig (bytes) with its signature replaced by 64 random bytes."""
    lines = sig.decode().splitlines()
    return ("\n".join(l if not l.startswith("signature:") else
                      "signature: " + base64.b64encode(os.urandom(64)).decode() for l in lines) + "\n").encode()


def ticket_signature(path):
    """The signature block of a ticket file (context "ticket")."""
    with open(path, "rb") as f:
        return b"".join(f.read().splitlines(keepends=True)[1:])


class PolicyPushBase(UsbTestBase):
    """A collector trusting the keys "it" and "rogue", an agent on the demo testbed trusting only "it",
    enrolled; the agent starts with a signed local policy of serial 1 (the stick on 1-1 blocked)."""

    agent_trusts_keys = True

    def setUp(self):
        super().setUp()
        self.c = self.d = None
        try:
            self.set_up_collector_and_agent()
        except BaseException:
            self.tearDown()   # unittest does not call it when setUp fails
            raise

    def set_up_collector_and_agent(self):
        self.keys = os.path.join(self.tmp, "keys")
        os.makedirs(self.keys)
        for k in ("it", "rogue"):
            subprocess.run([TOOL, "keygen", os.path.join(self.keys, k)], check=True, capture_output=True)
        self.files = os.path.join(self.tmp, "files")
        os.makedirs(self.files)

        self.db = os.path.join(self.tmp, "collector.db")
        self.port = ct.free_port()
        self.c = ct.Collector(self.tmp, "sqlite:" + self.db, extra=["--listen", f"127.0.0.1:{self.port}"])
        self.c.init_ca()
        with open(os.path.join(self.c.dir, "policy-signing.pub"), "w") as out:
            for k in ("it", "rogue"):
                with open(os.path.join(self.keys, k + ".pub")) as f:
                    out.write(f.read())
        self.c.start()
        self.assertEqual(self.c.port, self.port)

        self.d = self.daemon(env={"UMOCKDEV_DIR": self.tb.get_root_dir()})
        if self.agent_trusts_keys:
            shutil.copy(os.path.join(self.keys, "it.pub"), os.path.join(self.d.config, "policy-signing.pub"))
        policy, sig = self.sign("local-1", 1)
        shutil.copy(policy, os.path.join(self.d.config, "policy.yaml"))
        if self.agent_trusts_keys:
            shutil.copy(sig, os.path.join(self.d.config, "policy.yaml.sig"))
        with open(os.path.join(self.d.config, "agent.conf"), "w") as f:
            f.write("collector:\n"
                    f"  url: https://127.0.0.1:{self.port}\n"
                    f"  ca: {self.c.ca}\n"
                    f"  enrollment-token: {self.c.token()}\n")
        self.d.start()
        self.host = json.loads(self.d.ctl("status", "--json").stdout)["host_id"]
        wait_for("enrollment", lambda: os.path.exists(os.path.join(self.d.state, "collector-enrolled-host")))
        self.assertEqual(self.authorized("1-1"), "0")

    def tearDown(self):
        try:
            if self.d and self.d.proc and self.d.proc.poll() is None:
                self.assertEqual(self.d.stop(), 0, "mnguardd did not stop cleanly:\n" + self.d.log_text())
        finally:
            try:
                if self.c and self.c.proc:
                    self.c.stop()
            finally:
                super().tearDown()

    # ---- making and publishing documents ----

    def sign(self, name, serial, allow=False, key="it", text=None):
        """Writes a policy (or text) and its signature; returns their paths."""
        path = os.path.join(self.files, name + ".yaml")
        with open(path, "w") as f:
            f.write(text if text is not None else POLICY.format(serial=serial, extra=ALLOW_STICK if allow else ""))
        subprocess.run([TOOL, "sign", path, "--key", os.path.join(self.keys, key + ".key"), "-o", path + ".sig"],
                       check=True, capture_output=True)
        return path, path + ".sig"

    def collector_cli(self, verb, sub, *args, check=True):
        return ct.run([ct.COLLECTOR, verb, sub, "--dir", self.c.dir, "--storage", "sqlite:" + self.db] + list(args),
                      check=check)

    def publish(self, name, serial, allow=False, key="it", group="default"):
        policy, sig = self.sign(name, serial, allow=allow, key=key)
        self.collector_cli("policy", "publish", "--group", group, policy, sig)
        return policy, sig

    def insert_policy_row(self, serial, data, signature, group="default"):
        """What an attacker with the collector's database could publish: no checks at all."""
        with sqlite3.connect(self.db, timeout=30) as db:
            db.execute("INSERT INTO policies (grp, serial, name, key_id, published, published_by, data, signature) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (group, serial, f"inserted {serial}", "0000000000000000", int(time.time() * 1e6), "test",
                        data, signature))
        db.close()

    def ticket(self, name, host=None, device=STICK, key="it", access="read-only"):
        out = os.path.join(self.files, name)
        subprocess.run([TOOL, "ticket", "--key", os.path.join(self.keys, key + ".key"), "--host", host or self.host,
                        "--device", device, "--access", access, "--from", iso(-5), "--until", iso(60),
                        "--reason", "申請 #7", "-o", out], check=True, capture_output=True)
        return out

    @staticmethod
    def ticket_id(path):
        with open(path) as f:
            return json.loads(f.readline())["id"]

    # ---- observing ----

    def status(self):
        return json.loads(self.d.ctl("status", "--json").stdout)

    def events(self, action):
        return self.d.events("--action", action)

    def collector_events(self, action):
        p = self.c.cli("query", "--host", self.host, "--action", action, "--json", check=False)
        if p.returncode != 0:
            return []
        return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]

    def wait_authorized(self, value, what):
        wait_for(what, lambda: self.authorized("1-1") == value)

    def wait_event(self, action, pred, what):
        return wait_for(what, lambda: [e for e in self.events(action) if pred(e)])


class PolicyPush(PolicyPushBase):
    def test_publish_allows_then_blocks(self):
        policy2, _ = self.publish("allow-2", 2, allow=True)
        self.wait_authorized("1", "the published policy allowing the stick")
        applied = self.wait_event("policy-applied", lambda e: e["mnguard"].get("policy_serial") == 2,
                                  "policy-applied 2 in the agent's journal")[0]
        self.assertEqual(applied["mnguard"]["policy_origin"], "collector")
        self.assertEqual(self.status()["policy"]["serial"], 2)
        # the history reads "policy applied", then what it changed
        allowed = self.wait_event("device-allowed", lambda e: e["mnguard"].get("policy_serial") == 2,
                                  "the stick's device-allowed under policy 2")[0]
        self.assertLess(applied["event"]["sequence"], allowed["event"]["sequence"])
        # the collector has the agent's record of it
        at_collector = wait_for("policy-applied 2 at the collector",
                                lambda: [e for e in self.collector_events("policy-applied")
                                         if e["mnguard"].get("policy_serial") == 2])
        self.assertEqual(at_collector[0]["mnguard"]["key_id"], applied["mnguard"]["key_id"])
        # kept as the configured policy (with its signature), like an import
        with open(policy2, "rb") as a, open(os.path.join(self.d.config, "policy.yaml"), "rb") as b:
            self.assertEqual(a.read(), b.read())

        self.publish("block-3", 3)
        self.wait_authorized("0", "the published policy blocking the stick again")
        self.assertEqual(self.status()["policy"]["serial"], 3)
        wait_for("policy-applied 3 at the collector",
                 lambda: [e for e in self.collector_events("policy-applied") if e["mnguard"].get("policy_serial") == 3])

        # a restart keeps serial 3 and refuses nothing: the configured file is the published one
        self.assertEqual(self.d.stop(), 0)
        self.d.start()
        self.assertEqual(self.authorized("1-1"), "0")
        self.assertEqual(self.status()["policy"]["serial"], 3)
        self.assertEqual(self.events("policy-rejected"), [])

    def test_other_group_not_delivered(self):
        """A terminal takes its own group's policy only (this one enrolled into "default")."""
        self.publish("lab-2", 2, allow=True, group="lab")
        self.publish("default-3", 3)
        self.wait_event("policy-applied", lambda e: e["mnguard"].get("policy_serial") == 3, "policy 3 applied")
        self.assertEqual([e for e in self.events("policy-applied") if e["mnguard"].get("policy_serial") == 2], [])
        self.assertEqual(self.events("policy-rejected"), [])
        self.assertEqual(self.authorized("1-1"), "0")

    def test_refusals_keep_the_policy_in_force(self):
        allow2, allow2_sig = self.publish("allow-2", 2, allow=True)
        self.wait_authorized("1", "policy 2")
        _, block3_sig = self.publish("block-3", 3)
        self.wait_authorized("0", "policy 3")

        # the collector hands out only the newest policy of a group: one case after the other
        cases = [
            # signed with a key the collector trusts and the agent does not
            ("unknown key", "not trusted",
             lambda: self.publish("rogue-10", 10, allow=True, key="rogue")),
            # a forged signature: the trusted key's id, 64 random bytes
            ("forged signature", "bad signature",
             lambda: self.insert_policy_row(11, POLICY.format(serial=11, extra=ALLOW_STICK).encode(),
                                            forged_signature(read(block3_sig)))),
            # garbage bytes (mnguard-policy signs nothing that does not validate; the agent parses before it
            # checks the signature, and names the origin, line and column)
            ("garbage bytes", "collector:",
             lambda: self.insert_policy_row(12, b"\x00\xff" + os.urandom(400) + b":\n- [", read(block3_sig))),
            # a policy with the signature made for another file: policy 3's, and a ticket's
            ("another policy's signature", "bad signature",
             lambda: self.insert_policy_row(13, POLICY.format(serial=13, extra=ALLOW_STICK).encode(),
                                            read(block3_sig))),
            ("a ticket's signature", "bad signature",
             lambda: self.insert_policy_row(14, POLICY.format(serial=14, extra=ALLOW_STICK).encode(),
                                            ticket_signature(self.ticket("for-sig")))),
            # a replay: policy 2 (allowing the stick, validly signed) again, under a new row serial
            ("older serial", "serial 2 is not greater than 3 in force",
             lambda: self.insert_policy_row(20, read(allow2), read(allow2_sig))),
        ]
        for i, (name, why, make) in enumerate(cases):
            make()
            rejected = wait_for(f"policy-rejected for {name}",
                                lambda: (lambda ev: ev if len(ev) > i else None)(self.events("policy-rejected")))
            self.assertEqual(len(rejected), i + 1, f"{name}: refused once")
            self.assertIn(why, rejected[i]["event"]["reason"], name)
            self.assertEqual(self.authorized("1-1"), "0", f"{name}: the stick stayed blocked")
            self.assertEqual(self.status()["policy"]["serial"], 3, f"{name}: policy 3 stayed in force")

        # each refused policy was fetched once: a good one afterwards is taken, and nothing was refused twice
        self.publish("allow-21", 21, allow=True)
        self.wait_authorized("1", "policy 21 after the refusals")
        self.assertEqual(len(self.events("policy-rejected")), len(cases))
        self.assertEqual(self.events("policy-fetch-failed"), [])
        wait_for("the refusals at the collector", lambda: len(self.collector_events("policy-rejected")) == len(cases))

    def test_older_than_local_import(self):
        """A policy the collector publishes with a serial below the one in force (put there by an import on the
        terminal) is refused; the next newer one is taken."""
        policy, sig = self.sign("import-50", 50)
        self.d.ctl("policy", "import", policy, sig)
        self.assertEqual(self.status()["policy"]["serial"], 50)
        self.publish("allow-7", 7, allow=True)
        ev = self.wait_event("policy-rejected", lambda e: True, "policy 7 refused")[0]
        self.assertIn("serial 7 is not greater than 50 in force", ev["event"]["reason"])
        self.assertEqual(self.authorized("1-1"), "0")
        self.publish("allow-51", 51, allow=True)
        self.wait_authorized("1", "policy 51")

    def test_tickets(self):
        # queued for this host: granted, the stick authorized
        good = self.ticket("good")
        self.collector_cli("ticket", "queue", good)
        granted = self.wait_event("exception-granted", lambda e: True, "exception-granted")[0]
        self.assertEqual(granted["mnguard"]["ticket_id"], self.ticket_id(good))
        self.wait_authorized("1", "the ticketed stick")

        # queued for another host: the collector hands it to that host only
        other_host = "0" * 31 + "1"
        other = self.ticket("other-host", host=other_host)
        self.collector_cli("ticket", "queue", other)
        # ... and one for another host that a compromised database redirects here: refused by the agent
        redirected = self.ticket("redirected", host="f" * 32)
        with open(redirected, "rb") as f, sqlite3.connect(self.db, timeout=30) as db:
            db.execute("INSERT INTO tickets (host_id, ticket_id, queued, queued_by, data) VALUES (?, ?, ?, ?, ?)",
                       (self.host, self.ticket_id(redirected), int(time.time() * 1e6), "test", f.read()))
        db.close()
        ev = self.wait_event("exception-rejected", lambda e: True, "the redirected ticket refused")
        self.assertEqual(len(ev), 1)
        self.assertEqual(ev[0]["event"]["reason"], "ticket is for another host")
        self.assertEqual(ev[0]["mnguard"]["ticket_id"], self.ticket_id(redirected))
        self.assertEqual(len(self.events("exception-granted")), 1)
        wait_for("the refusal at the collector", lambda: self.collector_events("exception-rejected"))

        # what was received is remembered: a restart imports nothing again ("used already" would be recorded)
        with open(os.path.join(self.d.state, "collector-policy-fetch.json")) as f:
            state = json.load(f)
        self.assertEqual(state["host_id"], self.host)
        with sqlite3.connect(self.db) as db:
            last = db.execute("SELECT MAX(id) FROM tickets WHERE host_id = ?", (self.host,)).fetchone()[0]
        db.close()
        self.assertEqual(state["tickets_after"], last)
        self.assertEqual(self.d.stop(), 0)
        self.d.start()
        self.publish("after-restart", 5)
        self.wait_event("policy-applied", lambda e: e["mnguard"].get("policy_serial") == 5, "policy 5 applied")
        self.assertEqual(len(self.events("exception-rejected")), 1)
        self.assertEqual(len(self.events("exception-granted")), 1)

    def test_collector_restart(self):
        """A collector that goes away and comes back: the agent asks again and takes what was published meanwhile."""
        self.publish("allow-2", 2, allow=True)
        self.wait_authorized("1", "policy 2")
        self.c.stop()
        policy, sig = self.sign("block-3", 3)
        self.collector_cli("policy", "publish", "--group", "default", policy, sig)
        self.c.start()
        self.wait_authorized("0", "policy 3 published while the collector was down")


class PolicyPushUntrusted(PolicyPushBase):
    """An agent without policy-signing.pub (a standalone terminal) takes no policy from the network."""

    agent_trusts_keys = False

    def test_no_trusted_keys_refuses(self):
        self.publish("allow-2", 2, allow=True)
        ev = self.wait_event("policy-rejected", lambda e: True, "the policy refused")[0]
        self.assertIn("no trusted policy keys", ev["event"]["reason"])
        self.assertEqual(self.authorized("1-1"), "0")
        self.assertEqual(self.status()["policy"]["serial"], 1)
        # tickets likewise
        self.collector_cli("ticket", "queue", self.ticket("good"))
        self.wait_event("exception-rejected", lambda e: True, "the ticket refused")
        self.assertEqual(self.authorized("1-1"), "0")


if __name__ == "__main__":
    unittest.main(verbosity=2)
