# SPDX-License-Identifier: GPL-2.0-or-later
"""Harness for mnguard-session tests: a desktop session of an unprivileged user (nobody when the tests
run as root) — a session D-Bus with python3-dbusmock's notification daemon, optionally Xvfb — and
mnguard-session in it, talking to a real mnguardd (tests/integration/mnguardtest.py). Every wait is on
a condition with a deadline."""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from mnguardtest import DaemonTestCase, skip_all  # noqa: E402,F401

PY = "/usr/bin/python3"
MNGUARD_SESSION = os.environ.get("MNGUARD_SESSION", "mnguard-session")
X_TEST_APP = os.environ.get("X_TEST_APP", "x-test-app")
USER_UID = 65534 if os.geteuid() == 0 else os.geteuid()


def require(*programs):
    for p in programs:
        if not shutil.which(p) and not os.access(p, os.X_OK):
            skip_all(f"{p} not found (Debian packages: xvfb xclip dbus python3-dbusmock)")
    try:
        subprocess.run([PY, "-c", "import dbusmock, dbus"], check=True, capture_output=True)
    except subprocess.CalledProcessError:
        skip_all("python3-dbusmock is not installed for /usr/bin/python3")


def wait_for(cond, what, timeout=15, interval=0.01):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


class UserSession:
    """One user's desktop session under base (a directory the user can write)."""

    def __init__(self, base, runtime_dir, x=False):
        self.base = base
        self.runtime = runtime_dir
        self.procs = []
        self.logs = []
        self.env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "UMOCKDEV_DIR", "DISPLAY",
                                                                       "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS",
                                                                       "XDG_SESSION_TYPE")}
        self.env["HOME"] = base
        self.env["TMPDIR"] = base
        self.bus = None
        self.display = None
        self.helper = None
        self._start_bus()
        if x:
            self._start_x()

    def user_kw(self):
        if os.geteuid() == 0:
            return {"user": USER_UID, "group": USER_UID, "extra_groups": []}
        return {}

    def popen(self, cmd, **kw):
        kw.setdefault("env", self.env)
        # its own process group: stop() ends whatever it started too (dbus-daemon, the mock server)
        p = subprocess.Popen(cmd, **self.user_kw(), start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def _readline(self, f, timeout, what):
        return LineReader.of(f).readline(timeout, what)

    def _start_bus(self):
        self.bus = self.popen(["dbus-run-session", "--", PY, os.path.join(HERE, "notify_mock.py")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        msg = json.loads(self._readline(self.bus.stdout, 30, "the notification mock"))
        self.env["DBUS_SESSION_BUS_ADDRESS"] = msg["address"]

    def _start_x(self):
        r, w = os.pipe()
        log = open(os.path.join(self.base, "xvfb.log"), "wb")
        self.logs.append(log)
        self.popen(["Xvfb", "-displayfd", str(w), "-nolisten", "tcp", "-screen", "0", "640x480x24"],
                   pass_fds=[w], stdout=log, stderr=log)
        os.close(w)
        with os.fdopen(r) as f:
            self.display = ":" + self._readline(f, 30, "Xvfb").strip()
        self.env["DISPLAY"] = self.display

    def start_helper(self, *args, env=None):
        e = dict(self.env)
        if env:
            e.update(env)
        self.helper_log = open(os.path.join(self.base, "mnguard-session.log"), "ab")
        self.helper = self.popen([MNGUARD_SESSION, "--runtime-dir", self.runtime, "-v", *args], env=e,
                                 stdout=self.helper_log, stderr=subprocess.STDOUT)
        return self.helper

    def helper_log_text(self):
        try:
            with open(os.path.join(self.base, "mnguard-session.log"), errors="replace") as f:
                return f.read()[-6000:]
        except OSError:
            return ""

    def stop_helper(self):
        if self.helper and self.helper.poll() is None:
            self.helper.terminate()
            self.helper.wait(20)
        rc = self.helper.returncode if self.helper else None
        self.helper = None
        return rc

    # ---- notifications ----

    def calls(self):
        self.bus.stdin.write('{"op":"calls"}\n')
        self.bus.stdin.flush()
        return json.loads(self._readline(self.bus.stdout, 20, "the notification mock's calls"))

    def wait_calls(self, pred, what, timeout=20):
        return wait_for(lambda: [c for c in self.calls() if pred(c)], what, timeout, interval=0.05)

    # ---- X ----

    def x_app(self, *args, **kw):
        return self.popen([X_TEST_APP, *args], **kw)

    def run(self, cmd, input=None, timeout=30):
        return subprocess.run(cmd, env=self.env, capture_output=True, input=input, timeout=timeout,
                              **self.user_kw())

    def stop(self):
        for p in reversed(self.procs):
            try:
                if p.stdin:
                    p.stdin.close()
            except OSError:
                pass
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(10)
                    break
                except subprocess.TimeoutExpired:
                    continue
            for f in (p.stdout, p.stderr):
                if f:
                    f.close()
        self.procs = []
        for f in self.logs:
            f.close()
        self.logs = []
        if getattr(self, "helper_log", None):
            self.helper_log.close()
            self.helper_log = None


class LineReader:
    """Lines from a pipe with a deadline (select() does not see what a buffered reader holds)."""
    _readers = {}

    @classmethod
    def of(cls, f):
        r = cls._readers.get(id(f))
        if r is None or r.f is not f:
            r = cls._readers[id(f)] = cls(f)
        return r

    def __init__(self, f):
        self.f = f
        self.fd = f.fileno()
        self.buf = b""

    def readline(self, timeout, what):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.fd], [], [], max(left, 0))
            if not r:
                raise AssertionError(f"timed out waiting for {what}")
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise AssertionError(f"{what}: closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode() + "\n"


def user_dir(parent, name):
    d = os.path.join(parent, name)
    os.makedirs(d, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(d, USER_UID, USER_UID)
    return d


def ensure_x11_unix():
    # Xvfb run as a user cannot create the socket directory itself
    if not os.path.isdir("/tmp/.X11-unix"):
        os.makedirs("/tmp/.X11-unix", exist_ok=True)
        os.chmod("/tmp/.X11-unix", 0o1777)
