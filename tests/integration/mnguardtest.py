# SPDX-License-Identifier: GPL-2.0-or-later
"""Shared harness for mnguard's integration tests: starts the real daemon in temporary directories,
waits for its sd_notify READY=1 (no sleeps), runs mnguardctl, talks to the control socket."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

MNGUARDD = os.environ.get("MNGUARDD", "mnguardd")
MNGUARDCTL = os.environ.get("MNGUARDCTL", "mnguardctl")
SKIP = 77


def skip_all(why):
    print(f"SKIP: {why}")
    sys.exit(SKIP)


class Daemon:
    """One mnguardd with its own config/state/runtime dirs under base."""

    def __init__(self, base, env=None):
        self.base = base
        self.config = os.path.join(base, "etc")
        self.state = os.path.join(base, "state")
        self.runtime = os.path.join(base, "run")
        os.makedirs(self.config, exist_ok=True)
        self.env = dict(os.environ)
        self.env.setdefault("MNGUARD_MACHINE_ID_FILE", os.path.join(base, "machine-id"))
        if env:
            self.env.update(env)
        if not os.path.exists(self.env["MNGUARD_MACHINE_ID_FILE"]):
            with open(self.env["MNGUARD_MACHINE_ID_FILE"], "w") as f:
                f.write("0123456789abcdef0123456789abcdef\n")
        self.proc = None
        self.log = None

    @property
    def journal(self):
        return os.path.join(self.state, "journal.db")

    def write_policy(self, text):
        path = os.path.join(self.config, "policy.yaml")
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.rename(path + ".tmp", path)

    def start(self, timeout=20):
        notify_path = os.path.join(self.base, "notify.sock")
        if os.path.exists(notify_path):
            os.unlink(notify_path)
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(notify_path)
        env = dict(self.env)
        env["NOTIFY_SOCKET"] = notify_path
        self.log = open(os.path.join(self.base, "mnguardd.log"), "ab")
        self.proc = subprocess.Popen(
            [MNGUARDD, "--config-dir", self.config, "--state-dir", self.state, "--runtime-dir", self.runtime],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("mnguardd did not report READY=1 in time:\n" + self.log_text())
                if self.proc.poll() is not None:
                    raise AssertionError(f"mnguardd exited with {self.proc.returncode}:\n" + self.log_text())
                ns.settimeout(min(left, 0.5))
                try:
                    msg = ns.recv(4096).decode(errors="replace")
                except socket.timeout:
                    continue
                if "READY=1" in msg.split("\n"):
                    return self
        finally:
            ns.close()

    def log_text(self):
        try:
            with open(os.path.join(self.base, "mnguardd.log"), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("mnguardd did not stop on SIGTERM")
        if self.log:
            self.log.close()
            self.log = None
        return self.proc.returncode if self.proc else None

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        if self.log:
            self.log.close()
            self.log = None

    def ctl(self, *args, journal=None, check=True, user=None, input=None):
        cmd = []
        if user is not None:
            cmd += user
        cmd += [MNGUARDCTL, "--runtime-dir", self.runtime]
        if journal:
            cmd += ["--journal", journal]
        cmd += list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, env=self.env, input=input)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
        return p

    def events(self, *filters, journal=None):
        p = self.ctl("events", "--json", *filters, journal=journal)
        return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(os.path.join(self.runtime, "control.sock"))
        return s


def call(sock, request, timeout=20):
    """Sends one request, reads one reply line."""
    sock.settimeout(timeout)
    sock.sendall((json.dumps(request) + "\n").encode())
    buf = b""
    while b"\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("daemon closed the connection")
        buf += chunk
    return json.loads(buf.split(b"\n", 1)[0])


class DaemonTestCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mnguard-test-")
        os.chmod(self.tmp, 0o755)  # unprivileged test users must reach the socket
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            try:
                if d.proc and d.proc.poll() is None:
                    d.kill()
            except Exception:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def daemon(self, **kw):
        d = Daemon(self.tmp, **kw)
        self.daemons.append(d)
        return d
