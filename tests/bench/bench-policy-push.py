#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Central policy delivery (issue 7): publish -> applied on every terminal (prints "name value unit").

N real mnguardd processes (default 100), each with its own config/state/runtime directories and host id,
run unprivileged (as "nobody" when started by root: no device watch or fanotify is needed) and enrolled to
one real mnguard-collector (SQLite, mutual TLS); each long-polls it for its group's policy. A signed policy
is published with `mnguard-collector policy publish` at time T; each agent's latency is the @timestamp of
its policy-applied event in its own journal (read with `mnguardctl --journal FILE events --json`) minus T.
The bench waits for the events through each agent's control socket (subscribe), not by polling.

  policy-push-apply-p50/p99/max    latency over all agents and rounds (ms)
  policy-push-round-max-p50        the slowest agent of a round, median over the rounds (ms)
  policy-push-round-spread-p50     slowest minus fastest agent of a round, median (ms): the fan-out itself;
                                   the rest is mostly the collector noticing a publish made by another
                                   process (it reads the database every 250 ms)
  policy-push-publish-cli          the publishing command's own run time, median (ms)
  policy-push-agent-rss(-anon)     an idle long-polling agent's resident memory (anonymous part), median (KiB)
  policy-push-agent-stop-p50/max   SIGTERM -> exit with a request held open (ms)

The agents are enrolled offline (`mnguard-collector issue-host-cert`, docs/operations.md) before they start;
BENCH_POLICY_PUSH_ENROLL=token makes all of them enroll over the network at once instead.

Usage: bench-policy-push.py BUILD_DIR. Knobs: BENCH_POLICY_PUSH_AGENTS (100), BENCH_POLICY_PUSH_ROUNDS (10).
Everything lives in a temporary directory that is removed afterwards (BENCH_POLICY_PUSH_KEEP=1 keeps it)."""

import datetime
import json
import os
import pwd
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "build"))
sys.path.insert(0, os.path.join(here, "..", "collector"))
os.environ.setdefault("MNGUARD_COLLECTOR", os.path.join(build, "collector", "mnguard-collector"))
import collectortest as ct  # noqa: E402

MNGUARDD = os.path.join(build, "agent", "mnguardd")
MNGUARDCTL = os.path.join(build, "agent", "mnguardctl")
POLICY_TOOL = os.path.join(build, "policy", "mnguard-policy")
AGENTS = int(os.environ.get("BENCH_POLICY_PUSH_AGENTS", "100"))
ROUNDS = int(os.environ.get("BENCH_POLICY_PUSH_ROUNDS", "10"))
ENROLL = os.environ.get("BENCH_POLICY_PUSH_ENROLL", "offline")  # or "token": every agent enrolls at once
DEADLINE = 120  # seconds for any one wait

POLICY = """mnguard-policy: 1
serial: {serial}
name: "bench {serial}"
mode: enforce
media:
  - name: 情報政策課-001
    match: {{vendor: "0781", product: "5581", serial: "4C530001230101117384"}}
    access: read-write
"""


def log(msg):
    print("# " + msg, file=sys.stderr, flush=True)


def figure(name, value, unit):
    print(f"{name} {value} {unit}", flush=True)


def percentile(values, p):
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def parse_ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


class Agent:
    def __init__(self, base, index, trust, run_as):
        self.base = os.path.join(base, f"a{index:03d}")
        self.config = os.path.join(self.base, "etc")
        self.state = os.path.join(self.base, "state")
        self.runtime = os.path.join(self.base, "run")
        os.makedirs(self.config)
        shutil.copy(trust, os.path.join(self.config, "policy-signing.pub"))
        self.machine_id = os.path.join(self.base, "machine-id")
        with open(self.machine_id, "w") as f:
            f.write(os.urandom(16).hex() + "\n")
        self.run_as = run_as
        self.chown()
        self.proc = None
        self.sock = None
        self.buf = b""

    def chown(self):
        if self.run_as:
            for root, dirs, files in os.walk(self.base):
                for n in dirs + files + [""]:
                    os.chown(os.path.join(root, n), self.run_as.pw_uid, self.run_as.pw_gid)

    def configure(self, conf_text):
        with open(os.path.join(self.config, "agent.conf"), "w") as f:
            f.write(conf_text)
        self.chown()

    @property
    def host_id(self):
        with open(os.path.join(self.state, "identity.json")) as f:
            return json.load(f)["host_id"]

    def install_credentials(self, prefix, ca):
        """Offline enrollment as docs/operations.md describes it (the host marker last)."""
        for src, name, mode in ((prefix + ".key", "collector-client.key", 0o600),
                                (prefix + ".crt", "collector-client.crt", 0o644),
                                (ca, "collector-ca.crt", 0o644)):
            dst = os.path.join(self.state, name)
            shutil.copy(src, dst)
            os.chmod(dst, mode)
        with open(os.path.join(self.state, "collector-enrolled-host"), "w") as f:
            f.write(self.host_id + "\n")
        self.chown()

    def start(self, notify_path):
        env = dict(os.environ, NOTIFY_SOCKET=notify_path, MNGUARD_MACHINE_ID_FILE=self.machine_id)
        kw = {}
        if self.run_as:
            kw = dict(user=self.run_as.pw_uid, group=self.run_as.pw_gid, extra_groups=[])
        self.log = open(os.path.join(self.base, "mnguardd.log"), "ab")
        self.proc = subprocess.Popen([MNGUARDD, "--config-dir", self.config, "--state-dir", self.state,
                                      "--runtime-dir", self.runtime], env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, **kw)

    def subscribe(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(os.path.join(self.runtime, "control.sock"))
        self.sock.sendall(b'{"verb":"subscribe"}\n')
        self.sock.setblocking(False)

    def lines(self):
        """Complete lines received so far."""
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return []
        if not chunk:
            raise RuntimeError(f"agent {self.base} closed its socket")
        self.buf += chunk
        *done, self.buf = self.buf.split(b"\n")
        return [json.loads(l) for l in done if l.strip()]

    def journal_applied(self, serial):
        out = subprocess.run([MNGUARDCTL, "--journal", os.path.join(self.state, "journal.db"), "events",
                              "--action", "policy-applied", "--json"], check=True, capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            e = json.loads(line)
            if e.get("mnguard", {}).get("policy_serial") == serial:
                return parse_ts(e["@timestamp"])
        raise RuntimeError(f"agent {self.base}: no policy-applied {serial} in its journal")

    def memory_kib(self, field):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0


def wait_ready(ns, agents):
    """READY=1 from every agent (the notify datagrams carry no pid: counted)."""
    ready = 0
    deadline = time.monotonic() + DEADLINE
    while ready < len(agents):
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError(f"only {ready} of {len(agents)} agents ready")
        ns.settimeout(left)
        msg = ns.recv(4096).decode(errors="replace")
        if "READY=1" in msg.split("\n"):
            ready += 1
        for a in agents:
            if a.proc.poll() is not None:
                raise RuntimeError(f"agent {a.base} exited with {a.proc.returncode}")


def start_all(base, agents):
    """Starts the agents and waits for READY=1 from each. The notify socket is closed afterwards: nobody
    reads it any more, and a sender would block once its queue is full (sd_notify at stop, STATUS=)."""
    notify = os.path.join(base, "notify.sock")
    if os.path.exists(notify):
        os.unlink(notify)
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(notify)
    os.chmod(notify, 0o777)
    try:
        for a in agents:
            a.start(notify)
        wait_ready(ns, agents)
    finally:
        ns.close()
        os.unlink(notify)


def wait_condition(what, cond, interval=0.1):
    deadline = time.monotonic() + DEADLINE
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(interval)


def wait_applied(agents, serial):
    """Blocks on the agents' sockets until each has announced policy-applied for serial."""
    sel = selectors.DefaultSelector()
    pending = {a.sock.fileno(): a for a in agents}
    for a in agents:
        sel.register(a.sock, selectors.EVENT_READ, a)
    deadline = time.monotonic() + DEADLINE
    try:
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"{len(pending)} agents did not apply policy {serial}")
            for key, _ in sel.select(left):
                a = key.data
                for msg in a.lines():
                    ev = msg.get("event")
                    if (isinstance(ev, dict) and ev.get("event", {}).get("action") == "policy-applied" and
                            ev.get("mnguard", {}).get("policy_serial") == serial):
                        pending.pop(a.sock.fileno(), None)
    finally:
        sel.close()


def main():
    for tool in (MNGUARDD, MNGUARDCTL, POLICY_TOOL, os.environ["MNGUARD_COLLECTOR"]):
        if not os.access(tool, os.X_OK):
            print(f"bench-policy-push: {tool} not built", file=sys.stderr)
            return 2
    run_as = pwd.getpwnam("nobody") if os.geteuid() == 0 else None
    with tempfile.TemporaryDirectory(prefix="mnguard-bench-push-") as tmp:
        base = tmp
        if os.environ.get("BENCH_POLICY_PUSH_KEEP"):
            base = tempfile.mkdtemp(prefix="mnguard-bench-push-kept-")
            log("keeping " + base)
        os.chmod(base, 0o755)
        keys = os.path.join(base, "it")
        ct.run([POLICY_TOOL, "keygen", keys])
        c = ct.Collector(base, "sqlite:" + os.path.join(base, "collector.db"))
        c.init_ca()
        shutil.copy(keys + ".pub", os.path.join(c.dir, "policy-signing.pub"))
        c.start()
        agents = []
        try:
            ca = os.path.join(base, "collector-ca.crt")
            shutil.copy(c.ca, ca)
            os.chmod(ca, 0o644)
            conf = f"collector:\n  url: https://127.0.0.1:{c.port}\n  ca: {ca}\n"
            agents = [Agent(base, i, keys + ".pub", run_as) for i in range(AGENTS)]
            if ENROLL == "token":
                token = c.token("--uses", str(AGENTS))
                for a in agents:
                    a.configure(conf + f"  enrollment-token: {token}\n")
            else:
                # offline enrollment (docs/operations.md): a first start makes each agent's host id
                log(f"offline enrollment of {AGENTS} agents")
                start_all(base, agents)
                for a in agents:
                    a.proc.terminate()
                for a in agents:
                    a.proc.wait(timeout=30)
                    a.log.close()
                    prefix = os.path.join(base, "certs", a.host_id)
                    os.makedirs(os.path.dirname(prefix), exist_ok=True)
                    c.cli("issue-host-cert", "--host", a.host_id, "--out", prefix)
                    a.install_credentials(prefix, ca)
                    a.configure(conf)
            log(f"starting {AGENTS} agents{' as nobody' if run_as else ''}")
            start_all(base, agents)
            wait_condition("every agent enrolled", lambda: all(
                os.path.exists(os.path.join(a.state, "collector-enrolled-host")) for a in agents))
            for a in agents:
                a.subscribe()

            serial = 1
            latencies, round_max, spread, cli = [], [], [], []
            for r in range(ROUNDS + 1):
                serial += 1
                policy = os.path.join(base, f"policy-{serial}.yaml")
                with open(policy, "w") as f:
                    f.write(POLICY.format(serial=serial))
                ct.run([POLICY_TOOL, "sign", policy, "--key", keys + ".key", "-o", policy + ".sig"])
                t0 = time.time()
                m0 = time.monotonic()
                ct.run([ct.COLLECTOR, "policy", "publish", "--dir", c.dir, "--storage", c.storage,
                        "--group", "default", policy, policy + ".sig"])
                cli_ms = (time.monotonic() - m0) * 1000
                wait_applied(agents, serial)
                if r == 0:
                    # the first round shows every agent connected and long-polling; not measured
                    log(f"warm-up: policy {serial} applied on all {AGENTS} agents")
                    continue
                lat = [(a.journal_applied(serial) - t0) * 1000 for a in agents]
                latencies += lat
                round_max.append(max(lat))
                spread.append(max(lat) - min(lat))
                cli.append(cli_ms)
                log(f"round {r}: policy {serial}: p50 {statistics.median(lat):.0f} ms, max {max(lat):.0f} ms")

            figure("policy-push-agents", AGENTS, "count")
            figure("policy-push-rounds", ROUNDS, "count")
            figure("policy-push-apply-p50", f"{percentile(latencies, 50):.0f}", "ms")
            figure("policy-push-apply-p99", f"{percentile(latencies, 99):.0f}", "ms")
            figure("policy-push-apply-max", f"{max(latencies):.0f}", "ms")
            figure("policy-push-round-max-p50", f"{statistics.median(round_max):.0f}", "ms")
            figure("policy-push-round-spread-p50", f"{statistics.median(spread):.0f}", "ms")
            figure("policy-push-publish-cli", f"{statistics.median(cli):.0f}", "ms")
            figure("policy-push-agent-rss", int(statistics.median(a.memory_kib("VmRSS") for a in agents)), "KiB")
            figure("policy-push-agent-rss-anon", int(statistics.median(a.memory_kib("RssAnon") for a in agents)), "KiB")

            # stop: every agent has a request held open at the collector
            stops = []
            for a in agents:
                a.sock.close()
                m0 = time.monotonic()
                a.proc.send_signal(signal.SIGTERM)
                rc = a.proc.wait(timeout=30)
                stops.append((time.monotonic() - m0) * 1000)
                if rc != 0:
                    log(f"agent {a.base} exited with {rc}")
            figure("policy-push-agent-stop-p50", f"{statistics.median(stops):.0f}", "ms")
            figure("policy-push-agent-stop-max", f"{max(stops):.0f}", "ms")
        finally:
            for a in agents:
                if a.proc and a.proc.poll() is None:
                    a.proc.kill()
                    a.proc.wait()
            c.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
