#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""mnguardd's journal, identity, control socket and mnguardctl for responders, on the real daemon."""

import glob
import grp
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

from mnguardtest import DaemonTestCase, call

POLICY = """mnguard-policy: 1
serial: {serial}
name: "テスト {serial}"
media:
  - name: registered
    match: {{serial: "4C530001230101117384"}}
    access: read-write
"""


def actions(events):
    return [e["event"]["action"] for e in events]


class Lifecycle(DaemonTestCase):
    def test_start_stop_identity_and_events(self):
        d = self.daemon().start()
        st = json.loads(d.ctl("status", "--json").stdout)
        self.assertEqual(len(st["host_id"]), 32)
        self.assertEqual(st["policy"]["origin"], "built-in")
        self.assertEqual(st["policy"]["serial"], 0)
        host_id = st["host_id"]
        self.assertEqual(d.stop(), 0)

        # Journal read directly (daemon down): started then stopped, with host and reason.
        ev = d.events(journal=d.journal)
        self.assertEqual(actions(ev)[:2], ["agent-started", "agent-stopped"])
        self.assertEqual(ev[0]["host"]["id"], host_id)
        self.assertEqual(ev[0]["mnguard"]["version"], st["version"])
        self.assertTrue(ev[0]["mnguard"].get("first_start"))
        self.assertEqual(ev[1]["event"]["reason"], "SIGTERM")
        self.assertEqual([e["event"]["sequence"] for e in ev], [1, 2])

        # Same machine: same host id, sequences continue.
        d.start()
        self.assertEqual(json.loads(d.ctl("status", "--json").stdout)["host_id"], host_id)
        d.stop()
        ev = d.events(journal=d.journal)
        self.assertEqual([e["event"]["sequence"] for e in ev], [1, 2, 3, 4])
        self.assertNotIn("first_start", ev[2]["mnguard"])

        # A clone: the machine id changes, the host id with it, and that is recorded.
        with open(d.env["MNGUARD_MACHINE_ID_FILE"], "w") as f:
            f.write("fedcba9876543210fedcba9876543210\n")
        d.start()
        new_id = json.loads(d.ctl("status", "--json").stdout)["host_id"]
        self.assertNotEqual(new_id, host_id)
        changed = d.events("--action", "host-id-changed")
        self.assertEqual(len(changed), 1)
        self.assertEqual(changed[0]["mnguard"]["previous_host_id"], host_id)
        self.assertEqual(changed[0]["host"]["id"], new_id)
        d.stop()

    def test_policy_reload(self):
        d = self.daemon()
        d.write_policy(POLICY.format(serial=10))
        d.start()
        self.assertEqual(json.loads(d.ctl("status", "--json").stdout)["policy"]["serial"], 10)

        d.write_policy(POLICY.format(serial=11))
        d.signal(signal.SIGHUP)
        self.wait_for(lambda: json.loads(d.ctl("status", "--json").stdout)["policy"]["serial"] == 11)
        applied = d.events("--action", "policy-applied")
        self.assertEqual([e["mnguard"]["policy_serial"] for e in applied], [10, 11])

        # Older serial: refused, 11 stays in force.
        d.write_policy(POLICY.format(serial=9))
        d.signal(signal.SIGHUP)
        self.wait_for(lambda: len(d.events("--action", "policy-rejected")) == 1)
        rej = d.events("--action", "policy-rejected")[0]
        self.assertIn("not greater", rej["event"]["reason"])
        # policy_serial is the serial in force, as on every record; the refused policy is offered_*
        self.assertEqual(rej["mnguard"]["policy_serial"], 11)
        self.assertEqual(rej["mnguard"]["offered_serial"], 9)
        self.assertEqual(rej["mnguard"]["offered_origin"], "config")
        self.assertEqual(json.loads(d.ctl("status", "--json").stdout)["policy"]["serial"], 11)

        # Broken file: refused with line and column.
        d.write_policy("mnguard-policy: 1\nserial: 12\nname: x\nmedia: [ {name: a\n")
        d.signal(signal.SIGHUP)
        self.wait_for(lambda: len(d.events("--action", "policy-rejected")) == 2)
        rej = d.events("--action", "policy-rejected")[1]
        self.assertRegex(rej["event"]["reason"], r"policy\.yaml:\d+:\d+: ")
        self.assertEqual(rej["mnguard"]["policy_serial"], 11)
        self.assertNotIn("offered_serial", rej["mnguard"])  # not parsed: no serial to name
        d.stop()

        # Restart with an older policy file than the last good one: the rollback is refused.
        d.write_policy(POLICY.format(serial=5))
        d.start()
        st = json.loads(d.ctl("status", "--json").stdout)
        self.assertEqual(st["policy"]["serial"], 11)
        self.assertEqual(st["policy"]["origin"], "last-good")
        d.stop()

    def wait_for(self, cond, timeout=10):
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                self.fail("condition not met in time")
            time.sleep(0.02)


class Journal(DaemonTestCase):
    def test_note_events_verify_export(self):
        d = self.daemon().start()
        seqs = [int(d.ctl("note", f"note {i} 申請済み").stdout) for i in range(5)]
        self.assertEqual(seqs, sorted(seqs))
        notes = d.events("--action", "admin-*")
        self.assertEqual([e["event"]["sequence"] for e in notes], seqs)
        self.assertEqual(notes[2]["mnguard"]["note"], "note 2 申請済み")
        self.assertEqual(notes[0]["user"]["id"], os.getuid())
        self.assertEqual(len(d.events("--action", "admin-note", "--limit", "2")), 2)
        self.assertEqual([e["event"]["sequence"] for e in d.events("--action", "admin-note", "--reverse")],
                         list(reversed(seqs)))
        self.assertEqual(d.events("--since", "1h", "--action", "admin-note")[0]["event"]["sequence"], seqs[0])
        self.assertEqual(d.events("--until", "2000-01-01", "--action", "admin-note"), [])

        out = json.loads(d.ctl("verify", "--json").stdout)
        self.assertTrue(out["intact"])
        self.assertGreaterEqual(out["records"], 6)

        export = os.path.join(self.tmp, "evidence.ndjson")
        d.ctl("export", "-o", export)
        lines = open(export).read().splitlines()
        manifest = json.loads(lines[-1])["mnguard_manifest"]
        self.assertEqual(manifest["count"], len(lines) - 1)
        self.assertEqual(manifest["last_sequence"], json.loads(lines[-2])["event"]["sequence"])
        d.ctl("verify", journal=export)

        # One changed character in the evidence is found, at its sequence.
        rec = json.loads(lines[3])
        rec["mnguard"]["note"] = "forged"
        lines[3] = json.dumps(rec, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        forged = os.path.join(self.tmp, "forged.ndjson")
        with open(forged, "w") as f:
            f.write("\n".join(lines) + "\n")
        p = d.ctl("verify", "--json", journal=forged, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(json.loads(p.stdout)["fault_sequence"], rec["event"]["sequence"])
        d.stop()

    def test_crash_mid_burst_loses_nothing_acknowledged(self):
        """kill -9 in the middle of a burst of 10,000 events: after a restart the chain verifies, there
        is no sequence gap, and every event a client was told was recorded is there."""
        d = self.daemon().start()
        s = d.connect()
        acked = []
        done = threading.Event()

        def reader():
            buf = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for line in lines:
                        reply = json.loads(line)
                        if reply.get("ok"):
                            acked.append(reply["sequence"])
                        if len(acked) >= 3000 and not done.is_set():
                            done.set()
            except OSError:
                pass
            done.set()

        t = threading.Thread(target=reader)
        t.start()
        payload = b"".join(json.dumps({"verb": "note", "text": f"burst {i}"}).encode() + b"\n"
                           for i in range(10000))
        try:
            s.sendall(payload)
        except OSError:
            pass
        self.assertTrue(done.wait(60), "no acknowledgements arrived")
        d.kill()  # SIGKILL, mid-burst
        t.join(10)
        s.close()
        self.assertGreaterEqual(len(acked), 3000)
        self.assertLess(len(acked), 10000, "the burst finished before the kill; the test proves nothing")

        d.start()
        out = json.loads(d.ctl("verify", "--json").stdout)
        self.assertTrue(out["intact"], out)
        seqs = [e["event"]["sequence"] for e in d.events()]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "sequence gap after the crash")
        self.assertFalse(set(acked) - set(seqs), "acknowledged events are missing after the crash")
        d.stop()

    def test_corrupt_journal_set_aside(self):
        d = self.daemon().start()
        d.ctl("note", "before")
        d.stop()
        last = d.events(journal=d.journal)[-1]["event"]["sequence"]
        for suffix in ("-wal", "-shm"):
            if os.path.exists(d.journal + suffix):
                os.unlink(d.journal + suffix)
        with open(d.journal, "r+b") as f:
            f.write(os.urandom(4096))
        d.start()
        aside = glob.glob(d.journal + ".corrupt-*")
        self.assertTrue([a for a in aside if not a.endswith(("-wal", "-shm"))], "corrupt journal not kept")
        ev = d.events()
        corrupt = [e for e in ev if e["event"]["action"] == "journal-corrupt"]
        self.assertEqual(len(corrupt), 1)
        self.assertGreater(ev[0]["event"]["sequence"], last, "sequences must continue after the old journal")
        self.assertTrue(json.loads(d.ctl("verify", "--json").stdout)["intact"])
        d.stop()


class Access(DaemonTestCase):
    """Control socket ACL: SO_PEERCRED decides, per verb."""

    def setUp(self):
        super().setUp()
        if os.getuid() != 0:
            self.skipTest("needs root to run mnguardctl as other users")
        if not shutil.which("setpriv"):
            self.skipTest("setpriv (util-linux) not found")
        try:
            self.audit_gid = grp.getgrnam("mnguard-audit").gr_gid
        except KeyError:
            subprocess.run(["groupadd", "-r", "mnguard-audit"], check=True)
            self.audit_gid = grp.getgrnam("mnguard-audit").gr_gid

    def as_nobody(self, *groups):
        g = ["--groups", ",".join(str(x) for x in groups)] if groups else ["--clear-groups"]
        return ["setpriv", "--reuid=65534", "--regid=65534", *g, "--"]

    def test_acl(self):
        d = self.daemon().start()
        d.ctl("note", "secret history")
        # Anyone: status.
        self.assertEqual(d.ctl("status", user=self.as_nobody()).returncode, 0)
        # An unprivileged user may not read history, verify, export or write notes.
        for args in (["events"], ["verify"], ["export"], ["note", "x"]):
            p = d.ctl(*args, user=self.as_nobody(), check=False)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertIn("permission denied", p.stderr)
            self.assertNotIn("secret history", p.stdout)
        # A member of mnguard-audit may read, but not write notes.
        p = d.ctl("events", "--json", user=self.as_nobody(self.audit_gid))
        self.assertIn("secret history", p.stdout)
        self.assertEqual(d.ctl("verify", user=self.as_nobody(self.audit_gid)).returncode, 0)
        p = d.ctl("note", "x", user=self.as_nobody(self.audit_gid), check=False)
        self.assertNotEqual(p.returncode, 0)
        d.stop()


class HostileClients(DaemonTestCase):
    def test_bounds(self):
        d = self.daemon().start()
        # An oversized request line is refused and the connection closed.
        s = d.connect()
        s.settimeout(10)
        try:
            s.sendall(b"{" + b"x" * (70 * 1024))
        except OSError:
            pass
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        self.assertIn(b'"errno":90', data)  # EMSGSIZE, then the daemon hung up
        s.close()

        # Garbage and unknown verbs get errors, not crashes.
        s = d.connect()
        self.assertFalse(call(s, {"no": "verb"})["ok"])
        self.assertEqual(call(s, {"verb": "rm -rf"})["errno"], 95)
        self.assertFalse(call(s, {"verb": "events", "since": "yesterday"})["ok"])
        # a verb with an escaped NUL is not the verb before it
        self.assertEqual(call(s, {"verb": "status\u0000x"})["errno"], 74)    # EBADMSG
        self.assertTrue(call(s, {"verb": "status"})["ok"])
        s.close()

        # A client that asks for a big stream and never reads does not stall anybody else.
        for i in range(200):
            d.ctl("note", "y" * 1000)
        stalled = d.connect()
        stalled.sendall(b'{"verb":"export"}\n')
        t0 = time.monotonic()
        st = json.loads(d.ctl("status", "--json").stdout)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertGreaterEqual(st["clients"], 1)
        stalled.close()

        # Many idle connections: the daemon stays responsive and refuses beyond its bound.
        conns = []
        for _ in range(140):
            try:
                conns.append(d.connect())
            except OSError:
                break
        for c in conns:
            c.close()
        self.assertEqual(d.ctl("status").returncode, 0)
        d.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
