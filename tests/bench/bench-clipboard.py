#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""What a paste gains through the clipboard guard: the same paste (UTF8_STRING, 1 KiB and 1 MiB of
text, x-test-app as requestor) served by the owning application itself and served by mnguard-session
holding a protected application's data. Starts its own Xvfb, mnguardd and mnguard-session in a
temporary directory. Prints "name value unit" lines; p99 over many pastes.

Usage: bench-clipboard.py BUILD_DIR"""

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
APP = os.path.join(build, "tests/session/x-test-app")
SESSION = os.path.join(build, "session/mnguard-session")
DAEMON = os.path.join(build, "agent/mnguardd")
ROUNDS = {1024: 2000, 1024 * 1024: 500}

POLICY = """mnguard-policy: 1
serial: 1
name: "bench"
clipboard:
  protected-apps: ["mynumber-app"]
  detect-individual-number: true
"""


def readline(p, timeout=20):
    r, _, _ = select.select([p.stdout], [], [], timeout)
    if not r:
        raise RuntimeError("timed out")
    return p.stdout.readline().decode().strip()


def main():
    for f in (APP, SESSION, DAEMON):
        if not os.access(f, os.X_OK):
            print(f"bench-clipboard: {f} not built", file=sys.stderr)
            return 2
    if not shutil.which("Xvfb"):
        print("bench-clipboard: Xvfb not installed (Debian package xvfb)", file=sys.stderr)
        return 2
    os.makedirs("/tmp/.X11-unix", mode=0o1777, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="mnguard-bench-")
    procs = []
    env = dict(os.environ, MNGUARD_MACHINE_ID_FILE=os.path.join(tmp, "machine-id"))
    env.pop("WAYLAND_DISPLAY", None)
    try:
        with open(env["MNGUARD_MACHINE_ID_FILE"], "w") as f:
            f.write("0123456789abcdef0123456789abcdef\n")
        os.makedirs(os.path.join(tmp, "etc"))
        with open(os.path.join(tmp, "etc/policy.yaml"), "w") as f:
            f.write(POLICY)
        r, w = os.pipe()
        procs.append(subprocess.Popen(["Xvfb", "-displayfd", str(w), "-nolisten", "tcp"], pass_fds=[w],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        os.close(w)
        with os.fdopen(r) as f:
            env["DISPLAY"] = ":" + f.readline().strip()
        log = open(os.path.join(tmp, "log"), "wb")
        procs.append(subprocess.Popen([DAEMON, "--config-dir", f"{tmp}/etc", "--state-dir", f"{tmp}/state",
                                       "--runtime-dir", f"{tmp}/run"], env=env, stdout=log, stderr=log))
        procs.append(subprocess.Popen([SESSION, "--runtime-dir", f"{tmp}/run", "--no-notifications"], env=env,
                                      stdout=log, stderr=log))
        # the helper has the policy once it guards a protected owner
        for size, n in ROUNDS.items():
            text = os.path.join(tmp, f"text-{size}")
            with open(text, "wb") as f:
                f.write((b"abcdefghij" * (size // 10 + 1))[:size])
            figures = {}
            for mode, cls in (("direct", "plain-app"), ("guarded", "mynumber-app")):
                owner = subprocess.Popen([APP, "own", cls, "CLIPBOARD", text], env=env, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE)
                procs.append(owner)
                assert readline(owner) == "owned"
                if mode == "direct":
                    # the guard reads the text once (TARGETS and four text targets), finds nothing and
                    # leaves the selection with its owner
                    served = 0
                    while served < 5:
                        served += readline(owner).endswith("to mnguard-session")
                else:
                    deadline = time.monotonic() + 30
                    while subprocess.run([APP, "wait-owner", "mnguard-session", "CLIPBOARD", "1000"],
                                         env=env).returncode != 0:
                        if time.monotonic() > deadline:
                            raise RuntimeError("the guard did not take the protected selection")
                out = subprocess.run([APP, "bench", cls, "CLIPBOARD", str(n)], env=env, capture_output=True,
                                     check=True, text=True).stdout.split()
                count, p50, p99, mx, got = (int(x) for x in out)
                assert got == size, (got, size)
                figures[mode] = (p50, p99)
                owner.stdin.close()
                owner.terminate()
                owner.wait()
            label = "1k" if size == 1024 else "1m"
            for mode in ("direct", "guarded"):
                print(f"clipboard-paste-{label}-{mode}-p50 {figures[mode][0] / 1000:.3f} ms")
                print(f"clipboard-paste-{label}-{mode}-p99 {figures[mode][1] / 1000:.3f} ms")
            print(f"clipboard-paste-{label}-added-p99 {(figures['guarded'][1] - figures['direct'][1]) / 1000:.3f} ms")
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
