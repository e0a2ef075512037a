#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The demo's desktop user: mnguard-session in a session of its own, with a notification server to show
what the user would see.

  demo-session.py --mnguard-session PATH --runtime DIR --localedir DIR --dir DIR

A session D-Bus (dbus-run-session) with python3-dbusmock's notification daemon standing in for the
desktop's notification server, and the real mnguard-session (--no-clipboard: there is no X display)
connected to the mnguardd of --runtime; as user nobody when run as root, as the session tests run it
(tests/session/sessiontest.py, reused). Prints "ready" once the helper has connected to the daemon,
then one line "notice JSON" ({"summary", "body", "urgency"}) for each notification as it is shown.
Exits 77 (and says why) when python3-dbusmock or dbus-run-session is missing; "error MESSAGE" on
failure. SIGTERM stops the helper and the session bus. Used by installer/demo.sh (run it from there)."""

import argparse
import ctypes
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SESSIONTEST = os.path.join(HERE, "..", "tests", "session", "sessiontest.py")
SKIP = 77


def die_with_parent():
    """SIGTERM to this process when its parent goes, whatever killed it (prctl PR_SET_PDEATHSIG); it is
    kept across exec. Returns False when the parent is already gone."""
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    return os.getppid() == parent


def load_sessiontest():
    spec = importlib.util.spec_from_file_location("sessiontest", SESSIONTEST)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def missing():
    if not shutil.which("dbus-run-session"):
        return "dbus-run-session is not installed (Debian package dbus)"
    p = subprocess.run(["/usr/bin/python3", "-c", "import dbusmock, dbus"], capture_output=True)
    if p.returncode != 0:
        return "python3-dbusmock is not installed"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mnguard-session", required=True)
    ap.add_argument("--runtime", required=True)
    ap.add_argument("--localedir", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--timeout", type=float, default=30)
    a = ap.parse_args()

    why = missing()
    if why:
        print(f"skip {why}", flush=True)
        return SKIP
    st = load_sessiontest()
    st.MNGUARD_SESSION = a.mnguard_session
    os.makedirs(a.dir, exist_ok=True)
    session = None
    stopping = False

    def on_term(*_):
        nonlocal stopping
        stopping = True
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    if not die_with_parent():  # demo.sh killed: SIGTERM, and the session is stopped below
        return 1
    try:
        session = st.UserSession(st.user_dir(a.dir, "home"), a.runtime)
        session.start_helper("--no-clipboard", env={"MNGUARD_LOCALEDIR": a.localedir})
        deadline = time.monotonic() + a.timeout
        while "Connected to the daemon" not in session.helper_log_text():
            if stopping:
                return 1
            if session.helper.poll() is not None or time.monotonic() > deadline:
                print(f"error mnguard-session did not connect:\n{session.helper_log_text()}".replace("\n", " | "),
                      flush=True)
                return 1
            time.sleep(0.02)
        print("ready", flush=True)
        shown = 0
        while not stopping:
            calls = session.calls()
            for c in calls[shown:]:
                print("notice " + json.dumps({"summary": c["summary"], "body": c["body"],
                                              "urgency": c["hints"].get("urgency")}, ensure_ascii=False),
                      flush=True)
            shown = len(calls)
            time.sleep(0.05)
        return 0
    except Exception as e:  # one line for demo.sh, whatever went wrong
        print(f"error {e}".replace("\n", " | "), flush=True)
        return 1
    finally:
        if session:
            session.stop_helper()
            session.stop()


if __name__ == "__main__":
    sys.exit(main())
