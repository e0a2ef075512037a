#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Print control end to end: the mnguard backend in a private cupsd, decided by a real mnguardd (or its
policy snapshot), delivering to a TCP sink; mnguardctl print wrap/unwrap/status/check."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from cupstest import JOB_CANCELED, JOB_COMPLETED, Cupsd, Sink, missing_tools, wait_until  # noqa: E402
from mnguardtest import MNGUARDCTL, DaemonTestCase, skip_all  # noqa: E402

BACKEND = os.environ.get("MNGUARD_BACKEND", "mnguard-backend")
CUPS_BACKEND_CANCEL = 5

POLICY = """mnguard-policy: 1
serial: 2026112601
name: "印刷テスト"
contact: "情報政策課（内線 1234）"
defaults:
  print: block
print:
  - name: 許可キュー
    printer: "ok-*"
    access: allow
  - name: 拒否キュー
    printer: "no-*"
    access: block
  - name: 枚数制限
    printer: "limit-*"
    access: allow
    max-pages: 2
  - name: PDF出力
    printer: "pdf-*"
    access: allow
  - name: 管理者のみ
    printer: "grp-*"
    users: ["@root"]
    access: allow
"""


def pdf(pages, salt=b""):
    """A small PDF with the given number of page objects (and some bytes that must arrive intact)."""
    body = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    body += b"2 0 obj << /Type /Pages /Count %d >> endobj\n" % pages
    for i in range(pages):
        body += b"%d 0 obj << /Type /Page /Parent 2 0 R >> endobj\n" % (i + 3)
    return body + bytes(range(256)) + salt + b"\n%%EOF\n"


class PrintTestCase(DaemonTestCase):
    def setUp(self):
        super().setUp()
        self.sink = Sink()
        self.d = self.daemon()
        self.d.write_policy(POLICY)
        self.d.start()
        self.cups = Cupsd(os.path.join(self.tmp, "cups"), BACKEND,
                          env={"MNGUARD_STATE_DIR": self.d.state, "MNGUARD_RUNTIME_DIR": self.d.runtime}).start()
        self.sink_uri = f"socket://127.0.0.1:{self.sink.port}"

    def tearDown(self):
        self.cups.stop()
        self.sink.stop()
        super().tearDown()

    def ctl_print(self, *args, check=True):
        p = self.d.ctl("print", *args[:1], "-h", self.cups.server, *args[1:], check=False)
        if check and p.returncode != 0:
            raise AssertionError(f"mnguardctl print {args} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
        return p

    def guarded_queue(self, name, uri=None):
        self.cups.add_queue(name, uri or self.sink_uri)
        self.ctl_print("wrap", name)
        return name

    def doc(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o644)
        return path

    def print_events(self):
        return self.d.events("--action", "print-*")

    def event_for(self, job_id, queue):
        ev = [e for e in self.print_events() if e.get("print", {}).get("job_id") == job_id
              and e["print"].get("queue") == queue]
        self.assertEqual(len(ev), 1, f"one event for job {job_id} on {queue}: {ev}")
        return ev[0]

    def run_backend(self, argv, device_uri, stdin=b"", env=None):
        """Runs the installed backend copy directly, as cupsd would (for inputs cupsd would not pass)."""
        e = {"PATH": "/usr/bin:/bin", "DEVICE_URI": device_uri, "PRINTER": "ok-direct",
             "MNGUARD_STATE_DIR": self.d.state, "MNGUARD_RUNTIME_DIR": self.d.runtime,
             "CUPS_SERVERROOT": self.cups.etc, "TMPDIR": os.path.join(self.cups.base, "tmp")}
        e.update(env or {})
        return subprocess.run([device_uri] + argv, executable=self.cups.backend, input=stdin, capture_output=True,
                              env=e)


class AllowBlock(PrintTestCase):
    def test_allowed_job_arrives_byte_for_byte_and_blocked_job_is_cancelled(self):
        self.guarded_queue("ok-1")
        self.guarded_queue("no-1")
        data = pdf(3, os.urandom(4096))
        path = self.doc("report.pdf", data)

        job = self.cups.submit("ok-1", path, title="住民票 写し", user="tanaka")
        a = self.cups.wait_job(job)
        self.assertEqual(a["state"], JOB_COMPLETED, a["raw"] + self.cups.log())
        wait_until("the sink to get the job", lambda: len(self.sink.received()) == 1)
        self.assertEqual(self.sink.received()[0], data)

        blocked = self.cups.submit("no-1", path, title="課税台帳", user="tanaka")
        b = self.cups.wait_job(blocked)
        self.assertEqual(b["state"], JOB_CANCELED, b["raw"])
        self.assertIn("セキュリティポリシーにより禁止", b["message"])
        self.assertIn("Printing is blocked by the security policy", b["message"])
        self.assertIn("拒否キュー", b["message"])
        self.assertIn("情報政策課（内線 1234）", b["message"])
        self.assertEqual(len(self.sink.received()), 1, "the blocked job reached the printer")

        sha = hashlib.sha256(data).hexdigest()
        ok = self.event_for(job, "ok-1")
        self.assertEqual(ok["event"]["action"], "print-allowed")
        self.assertEqual(ok["mnguard"]["rule"], "許可キュー")
        self.assertEqual(ok["user"]["name"], "tanaka")
        self.assertEqual(ok["print"]["title"], "住民票 写し")
        self.assertEqual(ok["print"]["pages"], 3)
        self.assertEqual(ok["print"]["sha256"], sha)
        self.assertEqual(ok["print"]["device_uri_scheme"], "socket")
        self.assertFalse(ok["print"]["export"])
        no = self.event_for(blocked, "no-1")
        self.assertEqual(no["event"]["action"], "print-blocked")
        self.assertEqual(no["mnguard"]["rule"], "拒否キュー")
        self.assertEqual(no["print"]["title"], "課税台帳")
        self.assertEqual(no["print"]["sha256"], sha)
        self.assertEqual(self.d.ctl("verify", "--json").returncode, 0)

    def test_audit_mode_prints_and_records_would_block(self):
        """DESIGN.md: audit-mode decisions carry outcome unknown, event.type ["info"] and mnguard.would."""
        self.d.write_policy(POLICY.replace("serial: 2026112601", "serial: 2026112602")
                            .replace('name: "印刷テスト"\n', 'name: "印刷テスト"\nmode: audit\n'))
        self.d.signal(signal.SIGHUP)
        wait_until("the audit policy in force",
                   lambda: json.loads(self.d.ctl("status", "--json").stdout)["policy"]["serial"] == 2026112602)
        self.guarded_queue("no-audit")
        job = self.cups.submit("no-audit", self.doc("audit.pdf", pdf(1)), title="監査", user="tanaka")
        self.assertEqual(self.cups.wait_job(job)["state"], JOB_COMPLETED, self.cups.log())
        ev = self.event_for(job, "no-audit")
        self.assertEqual(ev["event"]["action"], "print-blocked")
        self.assertEqual(ev["event"]["outcome"], "unknown")
        self.assertEqual(ev["event"].get("type"), ["info"])
        self.assertEqual(ev["mnguard"]["would"], "block")
        self.assertEqual(ev["mnguard"]["rule"], "拒否キュー")

    def test_page_limits(self):
        self.guarded_queue("limit-1")
        two = self.doc("two.pdf", pdf(2))
        three = self.doc("three.pdf", pdf(3))
        ps = self.doc("one.ps", b"%!PS-Adobe-3.0\n%%Pages: 1\n%%EndComments\n%%Page: 1 1\nshowpage\n%%EOF\n")
        text = self.doc("plain.txt", b"no page count in here\n")

        cases = [(two, (), JOB_COMPLETED), (three, (), JOB_CANCELED), (ps, (), JOB_COMPLETED),
                 (text, (), JOB_CANCELED), (ps, ("-n", "2"), JOB_COMPLETED), (ps, ("-n", "3"), JOB_CANCELED)]
        for path, extra, want in cases:
            job = self.cups.submit("limit-1", path, options=("raw",) + (("copies=" + extra[1],) if extra else ()))
            a = self.cups.wait_job(job)
            self.assertEqual(a["state"], want, f"{path} {extra}: {a['raw']}")
        msgs = {e["print"]["job_id"]: e for e in self.print_events()}
        self.assertEqual(len(msgs), len(cases))
        unknown = [e for e in msgs.values() if e["print"]["pages"] == 0]
        self.assertEqual(len(unknown), 1)
        self.assertEqual(unknown[0]["event"]["reason"], "page count unknown and the rule limits pages")
        self.assertEqual(sorted(e["print"]["copies"] for e in msgs.values())[-2:], [2, 3])

    def test_export_queue_and_privileges(self):
        # A file-writing backend (named like the virtual PDF printer) and a probe of who runs a 0755 one.
        out = os.path.join(self.tmp, "pdf-out")
        os.makedirs(out)
        fake = os.path.join(self.cups.lib, "backend", "cups-pdf")
        with open(fake, "w") as f:
            f.write(f'#!/bin/sh\nif [ $# -ge 6 ]; then cat "$6" > {out}/doc; else cat > {out}/doc; fi\n'
                    f'echo "$DEVICE_URI" > {out}/uri\nid -u > {out}/uid\n')
        os.chmod(fake, 0o700)
        probe = os.path.join(self.cups.lib, "backend", "probe")
        with open(probe, "w") as f:
            f.write(f'#!/bin/sh\nid -u > {out}/probe-uid\ncat > /dev/null\n')
        os.chmod(probe, 0o755)
        os.chmod(out, 0o777)

        self.guarded_queue("pdf-1", "cups-pdf:/")
        data = pdf(1, b"export")
        job = self.cups.submit("pdf-1", self.doc("e.pdf", data), title="export")
        self.assertEqual(self.cups.wait_job(job)["state"], JOB_COMPLETED, self.cups.log())
        with open(os.path.join(out, "doc"), "rb") as f:
            self.assertEqual(f.read(), data)
        with open(os.path.join(out, "uri")) as f:
            self.assertEqual(f.read().strip(), "cups-pdf:/")
        with open(os.path.join(out, "uid")) as f:
            self.assertEqual(f.read().strip(), "0")  # 0700: root, as cupsd would
        self.assertTrue(self.event_for(job, "pdf-1")["print"]["export"])

        self.guarded_queue("ok-probe", "probe://x")
        job = self.cups.submit("ok-probe", self.doc("p.pdf", pdf(1)), options=())
        self.assertEqual(self.cups.wait_job(job)["state"], JOB_COMPLETED, self.cups.log())
        with open(os.path.join(out, "probe-uid")) as f:
            self.assertEqual(f.read().strip(), "7")  # 0755: cupsd's User (lp), not root


class Fallback(PrintTestCase):
    def test_snapshot_decides_while_daemon_is_down_and_no_snapshot_cancels(self):
        self.guarded_queue("ok-1")
        self.guarded_queue("no-1")
        before = len(self.print_events())
        self.assertEqual(self.d.stop(), 0)
        self.assertTrue(os.path.exists(os.path.join(self.d.state, "policy.snapshot")))

        data = pdf(1, b"while down")
        path = self.doc("down.pdf", data)
        ok = self.cups.submit("ok-1", path)
        self.assertEqual(self.cups.wait_job(ok)["state"], JOB_COMPLETED, self.cups.log())
        wait_until("the sink to get the job", lambda: self.sink.received() == [data])
        no = self.cups.submit("no-1", path)
        b = self.cups.wait_job(no)
        self.assertEqual(b["state"], JOB_CANCELED)
        self.assertIn("拒否キュー", b["message"])

        os.unlink(os.path.join(self.d.state, "policy.snapshot"))
        gone = self.cups.submit("ok-1", path)
        c = self.cups.wait_job(gone)
        self.assertEqual(c["state"], JOB_CANCELED)
        self.assertIn("mnguard", c["message"])
        self.assertIn("no policy is available", c["message"])
        self.assertEqual(len(self.sink.received()), 1)

        # Nothing was journaled meanwhile (the daemon was down); it starts again cleanly.
        self.d.start()
        self.assertEqual(len(self.print_events()), before)


class Hostile(PrintTestCase):
    TITLE = b'q"uote\\back\x01ctl\x1b[31m\nnl\xff\xfeinvalid' + "長い".encode() * 2000

    def check_escaped(self, value, raw_line):
        self.assertNotRegex(raw_line, r"[\x00-\x1f\x7f]", "raw control characters in the JSON output")
        self.assertTrue(value.startswith('q"uote\\back\x01ctl\x1b[31m\nnl\ufffd\ufffdinvalid長い'), repr(value[:60]))
        self.assertLessEqual(len(value.encode()), 1024)

    def test_hostile_title_and_user_are_escaped(self):
        # Directly, with what cupsd itself would not let through.
        data = pdf(1, b"hostile")
        user = b'ev"il\\\x02\xc0\xafuser' + b"x" * 600
        p = self.run_backend([b"77", user, self.TITLE, b"1", b""], f"mnguard:/socket%3A%2F%2F127.0.0.1%3A{self.sink.port}",
                             stdin=data, env={"PRINTER": "ok-direct"})
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        wait_until("the sink to get the job", lambda: self.sink.received() == [data])

        raw = self.d.ctl("events", "--json", "--action", "print-*").stdout
        line = [x for x in raw.splitlines() if '"job_id":77' in x][0]
        ev = json.loads(line)
        self.check_escaped(ev["print"]["title"], line)
        self.assertTrue(ev["user"]["name"].startswith('ev"il\\\x02\ufffd\ufffduser'), repr(ev["user"]["name"]))
        self.assertLessEqual(len(ev["user"]["name"].encode()), 256)
        self.assertNotIn("id", ev["user"])  # no such user

        # Through cupsd, with whatever of it cupsd accepts as a job name.
        self.guarded_queue("ok-1")
        # (cupsd itself replaces a job-name with control characters by "Untitled".)
        job = self.cups.submit("ok-1", self.doc("h.pdf", pdf(1)), title='a"b\\c \'d\' <e> ' + "x" * 200)
        self.assertEqual(self.cups.wait_job(job)["state"], JOB_COMPLETED)
        title = self.event_for(job, "ok-1")["print"]["title"]
        self.assertTrue(title.startswith('a"b\\c \'d\' <e> x'), repr(title))

    def test_numeric_user_is_not_a_uid(self):
        # "0" must not become root, whose group matches the rule for @root: by the daemon, or the snapshot.
        uri = f"mnguard:/socket%3A%2F%2F127.0.0.1%3A{self.sink.port}"
        for daemon_up in (True, False):
            if not daemon_up:
                self.d.stop()
            p = self.run_backend([b"5", b"0", b"t", b"1", b""], uri, stdin=pdf(1), env={"PRINTER": "grp-1"})
            self.assertEqual(p.returncode, CUPS_BACKEND_CANCEL, p.stderr)
            p = self.run_backend([b"6", b"root", b"t", b"1", b""], uri, stdin=pdf(1), env={"PRINTER": "grp-1"})
            self.assertEqual(p.returncode, 0, p.stderr)
        wait_until("both allowed jobs at the sink", lambda: len(self.sink.received()) == 2)


class Device(PrintTestCase):
    def test_refuses_device_uris_that_escape_the_backend_directory(self):
        evil = os.path.join(self.cups.lib, "backend", "groupw")
        with open(evil, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(evil, 0o775)
        for uri in ["mnguard:/..%2F..%2F..%2Fbin%2Fsh%3Ax", "mnguard:/%2Fbin%2Fsh%3Ax", "mnguard:/sh",
                    "mnguard:/nosuchbackend%3A%2F%2Fx", "mnguard:/groupw%3A%2F%2Fx", "mnguard:/socket://x",
                    "mnguard:/mnguard%3A%2Fsocket%253A%252F%252Fx", "socket://127.0.0.1:1", "mnguard:/socket%3A%2F%2Fx%00y"]:
            p = self.run_backend([b"1", b"u", b"t", b"1", b""], uri, stdin=pdf(1))
            self.assertEqual(p.returncode, CUPS_BACKEND_CANCEL, uri)
            self.assertIn(b"ERROR: ", p.stderr, uri)
        self.assertEqual(self.sink.received(), [])
        self.assertEqual(self.print_events(), [])  # refused before anything was asked

    def test_discovery_and_usage(self):
        p = self.run_backend([], "")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout.decode(), r'^network mnguard "Unknown" "[^"]+"\n$')
        self.assertEqual(self.run_backend([b"1", b"2"], "").returncode, 1)


class Queues(PrintTestCase):
    def test_wrap_unwrap_status_check(self):
        self.cups.add_queue("ok-a", self.sink_uri)
        self.cups.add_queue("ok-b", f"ipp://127.0.0.1:1/printers/x?waitjob=false")
        self.cups.add_queue("null", "file:/dev/null")

        p = self.ctl_print("check", check=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("ok-a: unguarded", p.stdout)
        self.assertIn("ok-b: unguarded", p.stdout)
        self.assertNotIn("null", p.stdout)
        recorded = self.d.events("--action", "print-queue-unguarded")
        self.assertEqual(sum(e["print"]["queue"] == "ok-a" for e in recorded), 1, recorded)
        # a second check records nothing new
        self.ctl_print("check", check=False)
        self.assertEqual(len(self.d.events("--action", "print-queue-unguarded")), len(recorded))

        # --auto follows agent.conf: without print.auto-wrap nothing is wrapped...
        conf_dir = os.path.join(self.tmp, "auto-conf")
        os.makedirs(conf_dir, exist_ok=True)
        p = self.ctl_print("check", "--auto", "--config-dir", conf_dir, check=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        # ...a bad agent.conf is an error with line and column...
        with open(os.path.join(conf_dir, "agent.conf"), "w") as f:
            f.write("print:\n  auto-wrap: maybe\n")
        p = self.ctl_print("check", "--auto", "--config-dir", conf_dir, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("agent.conf:2:14: error:", p.stderr)
        # ...and with it, the queues are wrapped
        with open(os.path.join(conf_dir, "agent.conf"), "w") as f:
            f.write("print:\n  auto-wrap: true\n")
        p = self.ctl_print("check", "--auto", "--config-dir", conf_dir, "--json")
        rows = json.loads(p.stdout)
        self.assertEqual(sorted(r["queue"] for r in rows), ["ok-a", "ok-b"])
        self.assertTrue(all(r["wrapped"] for r in rows))
        self.assertEqual(self.ctl_print("check").returncode, 0)

        st = {r["queue"]: r for r in json.loads(self.ctl_print("status", "--json").stdout)}
        self.assertEqual(st["ok-a"]["status"], "guarded")
        self.assertEqual(st["ok-a"]["device_uri"], self.sink_uri)
        self.assertEqual(st["ok-b"]["device_uri"], "ipp://127.0.0.1:1/printers/x?waitjob=false")
        self.assertEqual(st["null"]["status"], "discard")
        lpstat = self.cups.run("lpstat", "-h", self.cups.server, "-v", "ok-a").stdout.decode()
        self.assertIn(f"mnguard:/socket%3A%2F%2F127.0.0.1%3A{self.sink.port}", lpstat)

        # A wrapped queue prints; wrapping again changes nothing.
        self.assertIn("already guarded", self.ctl_print("wrap", "--all").stdout)
        job = self.cups.submit("ok-a", self.doc("w.pdf", pdf(1)))
        self.assertEqual(self.cups.wait_job(job)["state"], JOB_COMPLETED)

        self.ctl_print("unwrap", "ok-a", "ok-b")
        lpstat = self.cups.run("lpstat", "-h", self.cups.server, "-v").stdout.decode()
        self.assertIn(f"device for ok-a: {self.sink_uri}", lpstat)
        self.assertIn("device for ok-b: ipp://127.0.0.1:1/printers/x?waitjob=false", lpstat)

        # What cannot be wrapped is said, not done.
        p = self.ctl_print("wrap", "null", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("file:", p.stderr)
        self.assertNotEqual(self.ctl_print("wrap", "nosuch", check=False).returncode, 0)
        self.assertNotEqual(self.ctl_print("wrap", check=False).returncode, 0)

    def test_user_info_is_lifted_and_kept(self):
        full = "ipp://tanaka:secret@127.0.0.1:1/printers/x"
        self.cups.add_queue("ok-cred", full)
        # cupsd never shows user info over IPP: printers.conf (root) has it.
        self.ctl_print("wrap", "ok-cred", "--printers-conf", self.cups.printers_conf)
        wrapped = "mnguard://tanaka:secret@wrapped/ipp%3A%2F%2F127.0.0.1%3A1%2Fprinters%2Fx"
        self.assertEqual(self.cups.device_uri_in_conf("ok-cred"), wrapped)
        lpstat = self.cups.run("lpstat", "-h", self.cups.server, "-v", "ok-cred").stdout.decode()
        self.assertNotIn("secret", lpstat)  # the lifted user info is hidden like any other
        st = json.loads(self.ctl_print("status", "--json", "--printers-conf", self.cups.printers_conf).stdout)
        self.assertEqual(st[0]["status"], "guarded")
        self.assertEqual(st[0]["device_uri"], "ipp://tanaka@127.0.0.1:1/printers/x")  # never the password

        # Unwrapping without the file would lose the user info: refused.
        p = self.ctl_print("unwrap", "ok-cred", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--printers-conf", p.stderr)
        self.ctl_print("unwrap", "ok-cred", "--printers-conf", self.cups.printers_conf)
        self.assertEqual(self.cups.device_uri_in_conf("ok-cred"), full)

        # Or the full URI given by hand.
        self.ctl_print("wrap", "ok-cred", "--device-uri", full)
        self.assertEqual(self.cups.device_uri_in_conf("ok-cred"), wrapped)


if __name__ == "__main__":
    why = missing_tools()
    if why:
        skip_all(why)
    if not os.access(BACKEND, os.X_OK) or not os.access(MNGUARDCTL, os.X_OK):
        skip_all("MNGUARD_BACKEND / MNGUARDCTL not built")
    unittest.main(verbosity=2)
