# SPDX-License-Identifier: GPL-2.0-or-later
"""Harness for the console tests: a real collector (tests/collector/collectortest.py) serving the console's
files, operator accounts made with `mnguard-collector operator add`, hosts enrolled and fed with records of
real journals (console-events: agent-started with a version, policy-applied with a serial, then events),
and an HTTPS client that signs in like the browser does (session cookie, X-CSRF-Token)."""

import base64
import http.cookies
import json
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "collector"))
import collectortest as ct  # noqa: E402

CONSOLE_EVENTS = os.environ.get("MNGUARD_CONSOLE_EVENTS", "console-events")
MNGUARDCTL = os.environ.get("MNGUARDCTL", "mnguardctl")
POLICY_TOOL = os.environ.get("MNGUARD_POLICY_TOOL", "mnguard-policy")
CONSOLE_DIR = os.environ.get("MNGUARD_CONSOLE_DIR",
                             os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "collector", "console"))
ARTIFACTS = os.environ.get("MNGUARD_TEST_ARTIFACTS", "")

HOUR = 3600 * 1000000
MINUTE = 60 * 1000000
PASSWORDS = {"alice": "alice-correct-horse-1", "kanri": "kanri-battery-staple-2", "bob": "bob-password-333333"}

# name, version, policy serial, events after agent-started and policy-applied, first timestamp (hours ago),
# step, withheld sequences (a gap)
HOSTS = [
    dict(n=1, name="mn-pc-0001", version="0.1.0", serial=2026112601, count=60, start_h=31, step=30 * MINUTE),
    dict(n=2, name="mn-pc-0002", version="0.2.0", serial=2026112602, count=30, start_h=3, step=5 * MINUTE),
    dict(n=3, name="mn-pc-0003", version="0.2.0", serial=2026112602, count=20, start_h=2, step=5 * MINUTE,
         gap=(8, 12)),
    dict(n=4, name="mn-pc-0004", count=0),   # enrolled, never reported: silent
]


def now_usec():
    return int(time.time() * 1000000)


def host_id(n):
    return "%08x" % (0xc0de0000 + n) + "5eed0123456789abcdef0123"


class Console:
    """A collector with the console, its accounts and its seeded hosts."""

    def __init__(self, base, backend):
        self.base = base
        self.pg = None
        storage = None
        if backend == "postgresql":
            why = ct.Postgres.available()
            if why:
                ct.skip_all(why)
            self.pg = ct.Postgres(base)
            self.pg.init()
            self.pg.start()
            storage = "postgresql:" + self.pg.conninfo
        self.c = ct.Collector(base, storage, extra=["--console-dir", CONSOLE_DIR])
        self.c.init_ca()
        self.hosts = {}

    def cmd(self, *args):
        cmd = [ct.COLLECTOR] + list(args) + ["--dir", self.c.dir]
        if self.c.storage:
            cmd += ["--storage", self.c.storage]
        return cmd

    def operator_add(self, name, role, password, via_file=False):
        if via_file:
            path = os.path.join(self.base, name + ".pw")
            with open(path, "w") as f:
                f.write(password + "\n")
            os.chmod(path, 0o600)
            return subprocess.run(self.cmd("operator", "add", name, "--role", role, "--password-file", path),
                                  capture_output=True, text=True)
        return subprocess.run(self.cmd("operator", "add", name, "--role", role), input=password + "\n",
                              capture_output=True, text=True)

    def trust_signing_key(self):
        """An IT signing key (mnguard-policy keygen) the collector trusts for publishing."""
        self.key = os.path.join(self.base, "it")
        ct.run([POLICY_TOOL, "keygen", self.key])
        with open(self.key + ".pub") as f, open(os.path.join(self.c.dir, "policy-signing.pub"), "w") as o:
            o.write(f.read())

    def signed_policy(self, serial, name):
        """(policy bytes, signature bytes) signed with the trusted key."""
        path = os.path.join(self.base, "policy-%d.yaml" % serial)
        with open(path, "w") as f:
            f.write('mnguard-policy: 1\nserial: %d\nname: "%s"\ndefaults:\n  storage: block\n' % (serial, name))
        ct.run([POLICY_TOOL, "sign", path, "--key", self.key + ".key", "-o", path + ".sig"])
        with open(path, "rb") as f, open(path + ".sig", "rb") as g:
            return f.read(), g.read()

    def publish_body(self, serial, name, group="default"):
        data, sig = self.signed_policy(serial, name)
        return json.dumps({"group": group, "data": base64.b64encode(data).decode(),
                           "signature": base64.b64encode(sig).decode()})

    def publish(self, serial, name, group="default"):
        """mnguard-collector policy publish, as IT does."""
        self.signed_policy(serial, name)
        path = os.path.join(self.base, "policy-%d.yaml" % serial)
        return subprocess.run(self.cmd("policy", "publish", "--group", group, path, path + ".sig"), capture_output=True,
                              text=True, check=True)

    def start(self):
        self.c.start()

    def stop(self):
        try:
            self.c.stop()
        finally:
            if self.pg:
                self.pg.stop()

    def seed(self):
        """Enrolls HOSTS and posts their records; self.hosts[n] = dict(id, lines, journal, ...)."""
        now = now_usec()
        for h in HOSTS:
            hid = host_id(h["n"])
            status, reply, cert, key = ct.enroll(self.c, self.base, "h%d" % h["n"], hid, self.c.token(), h["name"])
            assert status == 200, reply
            info = dict(h, id=hid, lines=[], journal=None)
            if h["count"]:
                journal = os.path.join(self.base, "journal-%d.db" % h["n"])
                start = now - h["start_h"] * HOUR
                out = ct.run([CONSOLE_EVENTS, journal, hid, h["name"], h["version"], str(h["serial"]), str(h["count"]),
                              str(start), str(h["step"])]).stdout
                lines = [l for l in out.splitlines() if l and "mnguard_manifest" not in l]
                assert len(lines) == h["count"] + 2
                info["lines"], info["journal"] = lines, journal
                sent = lines
                if "gap" in h:
                    lo, hi = h["gap"]
                    sent = [l for l in lines if not lo <= json.loads(l)["event"]["sequence"] <= hi]
                client = ct.Client(self.c, cert, key)
                for i in range(0, len(sent), 25):
                    status, reply = client.post_events(sent[i:i + 25])
                    assert status == 200, reply
                client.close()
            self.hosts[h["n"]] = info
        return self.hosts

    def sql(self, query, args=()):
        """Rows of a query on the collector's database (read-only)."""
        if self.pg:
            q = query
            for a in args:
                q = q.replace("?", "'" + str(a).replace("'", "''") + "'", 1)
            out = self.pg.sql(q)
            return [tuple(line.split("|")) for line in out.splitlines() if line]
        db = sqlite3.connect(f"file:{self.c.dir}/collector.db?mode=ro", uri=True)
        try:
            return [tuple(str(v) for v in row) for row in db.execute(query, args).fetchall()]
        finally:
            db.close()


class Session:
    """An HTTPS client that signs in to the console as a browser does."""

    def __init__(self, console, cert=None, key=None):
        self.client = ct.Client(console.c, cert, key)
        self.cookie = None
        self.csrf = ""

    def login(self, name, password):
        body = json.dumps({"name": name, "password": password})
        status, hdrs, data = self.client.request("POST", "/v1/console/login", body, {"Content-Type": "application/json"})
        reply = json.loads(data) if data else None
        if status == 200:
            jar = http.cookies.SimpleCookie()
            jar.load(hdrs["set-cookie"])
            self.cookie = jar["__Host-mnguard-session"].value
            self.set_cookie = hdrs["set-cookie"]
            self.csrf = reply["csrf"]
        return status, reply

    def headers(self, extra=None):
        h = dict(extra or {})
        if self.cookie:
            h["Cookie"] = "__Host-mnguard-session=" + self.cookie
        return h

    def get(self, path, headers=None):
        return self.client.request("GET", path, None, self.headers(headers))

    def get_json(self, path):
        status, hdrs, data = self.get(path)
        return status, (json.loads(data) if data else None)

    def post(self, path, body=b"", csrf=True, headers=None):
        h = self.headers(headers)
        if csrf and self.csrf:
            h["X-CSRF-Token"] = self.csrf
        status, hdrs, data = self.client.request("POST", path, body, h)
        return status, (json.loads(data) if data else None)

    def close(self):
        self.client.close()


def verify_export(path):
    """mnguardctl --journal FILE verify --json: (exit status, result)."""
    p = subprocess.run([MNGUARDCTL, "--journal", path, "verify", "--json"], capture_output=True, text=True)
    try:
        result = json.loads(p.stdout)
    except ValueError:
        result = {"stdout": p.stdout, "stderr": p.stderr}
    return p.returncode, result


def manifest(text):
    last = [l for l in text.splitlines() if l][-1]
    return json.loads(last)["mnguard_manifest"]


def artifacts_dir():
    d = ARTIFACTS or os.path.join(os.getcwd(), "console-artifacts")
    os.makedirs(d, exist_ok=True)
    return d
