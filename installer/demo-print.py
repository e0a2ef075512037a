#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The demo's printers: a private cupsd with the mnguard CUPS backend, two queues put behind it, one job
each; the policy lets one through and cancels the other.

  demo-print.py --backend PATH --mnguardctl PATH --state DIR --runtime DIR --dir DIR [--user NAME]

The cupsd (tests/print/cupstest.py, as the print tests run it: its own configuration, spool and logs
under DIR, a free loopback port, the backend copied in as 0700 root so that cupsd runs it as root) asks
the running mnguardd (DIR --runtime) for every job. Both queues print to one TCP sink on 127.0.0.1
standing in for the printers, so what reached "the printer" can be counted. Prints the commands and what
they did; exits 0 when the allowed job arrived and the other was cancelled, 1 otherwise, 77 (and why)
when this machine cannot run a private cupsd (not root, CUPS not installed). cupsd is stopped on every
way out. Used by installer/demo.sh (run it from there)."""

import argparse
import ctypes
import importlib.util
import os
import shlex
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CUPSTEST = os.path.join(HERE, "..", "tests", "print", "cupstest.py")
SKIP = 77

ALLOWED_QUEUE = "mn-floor2-mfp"   # named by the published policy's print rule "2F 複合機"
BLOCKED_QUEUE = "annex-printer"   # named by no rule: defaults.print (block) decides


def die_with_parent():
    """SIGTERM to this process when its parent goes, whatever killed it (prctl PR_SET_PDEATHSIG); it is
    kept across exec. Returns False when the parent is already gone."""
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    return os.getppid() == parent


def load_cupstest():
    spec = importlib.util.spec_from_file_location("cupstest", CUPSTEST)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def pdf(pages):
    """A small PDF with the given number of pages (the backend counts them: the rule has max-pages)."""
    body = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    body += b"2 0 obj << /Type /Pages /Count %d >> endobj\n" % pages
    for i in range(pages):
        body += b"%d 0 obj << /Type /Page /Parent 2 0 R >> endobj\n" % (i + 3)
    return body + b"%%EOF\n"


def show(cmd, note=None):
    line = "$ " + " ".join(shlex.quote(c) for c in cmd)
    print(line + (f"   ({note})" if note else ""), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", required=True)
    ap.add_argument("--mnguardctl", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--runtime", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--user", default="tanaka")
    a = ap.parse_args()

    ct = load_cupstest()
    why = ct.missing_tools()
    if why:
        print(f"(skipped: a private cupsd cannot run here: {why})")
        return SKIP
    # SIGTERM (also when demo.sh is killed) unwinds like Ctrl-C, through the finally below: cupsd stops.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if not die_with_parent():
        return 1

    os.makedirs(a.dir, exist_ok=True)
    sink = ct.Sink()
    cups = ct.Cupsd(os.path.join(a.dir, "cups"), a.backend,
                    env={"MNGUARD_STATE_DIR": a.state, "MNGUARD_RUNTIME_DIR": a.runtime})
    try:
        cups.start()
        print(f"(a private cupsd on {cups.server} with the mnguard backend; both printers are a TCP sink on "
              f"127.0.0.1:{sink.port} that counts what it receives)")
        printer = f"socket://127.0.0.1:{sink.port}"
        for q in (ALLOWED_QUEUE, BLOCKED_QUEUE):
            cmd = ["lpadmin", "-h", cups.server, "-p", q, "-E", "-v", printer]
            show(cmd)
            cups.run(*cmd)

        ctl = [a.mnguardctl, "--runtime-dir", a.runtime, "print"]
        for verb, args in (("wrap", [ALLOWED_QUEUE, BLOCKED_QUEUE]), ("status", [])):
            cmd = ctl + [verb, "-h", cups.server] + args
            show(["mnguardctl", "print", verb, "-h", cups.server] + args)
            p = subprocess.run(cmd, capture_output=True, text=True)
            sys.stdout.write(p.stdout)
            if p.returncode != 0:
                sys.stdout.write(p.stderr)
                print(f"mnguardctl print {verb} exited with status {p.returncode}")
                return 1

        doc = os.path.join(a.dir, "juminhyo.pdf")
        with open(doc, "wb") as f:
            f.write(pdf(2))
        os.chmod(doc, 0o644)
        ok = True
        for q, title, want in ((ALLOWED_QUEUE, "住民票 写し", ct.JOB_COMPLETED),
                               (BLOCKED_QUEUE, "課税台帳", ct.JOB_CANCELED)):
            before = len(sink.received())
            show(["lp", "-h", cups.server, "-d", q, "-U", a.user, "-t", title, "-o", "raw", doc])
            job = cups.submit(q, doc, title=title, user=a.user)
            st = cups.wait_job(job)
            if want == ct.JOB_COMPLETED:
                ct.wait_until("the printer to receive the job", lambda: len(sink.received()) > before, 30)
            got = sink.received()[before:]
            name = {ct.JOB_COMPLETED: "completed", ct.JOB_CANCELED: "canceled", ct.JOB_ABORTED: "aborted"}.get(
                st["state"], str(st["state"]))
            print(f"job {q}-{job}: {name}; the printer received "
                  + (f"{sum(len(g) for g in got)} bytes" if got else "nothing"))
            if st["message"] and st["state"] != ct.JOB_COMPLETED:
                msg = st["message"].replace('\\"', '"')  # ipptool shows quotes escaped
                print(f"  what the user sees (lpstat -l, the print dialog): {msg}")
            if st["state"] != want or (want == ct.JOB_CANCELED) == bool(got):
                print(f"  unexpected! cupsd's log:\n{cups.log()}")
                ok = False
        return 0 if ok else 1
    finally:
        cups.stop()
        sink.stop()


if __name__ == "__main__":
    sys.exit(main())
