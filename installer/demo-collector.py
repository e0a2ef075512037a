#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The demo's collector: becomes `mnguard-collector serve` and says on stdout where it listens.

  demo-collector.py --collector PATH --dir DIR --log FILE [--timeout SEC]

Binds a notify socket, then execs `mnguard-collector serve --dir DIR --listen 127.0.0.1:0` (a free port:
no fixed port can collide) with NOTIFY_SOCKET set, as systemd runs it (Type=notify); so the collector
keeps this process's id and is the caller's own child (demo.sh stops it with SIGTERM and waits for it).
Its output goes to FILE. A forked watcher reads the socket and writes "ready PORT" on the original
stdout once READY=1 and "STATUS=Listening on port N" have come, or "error MESSAGE" when they do not
within SEC seconds (default 30) or the collector exits first. Used by installer/demo.sh (run it from
there)."""

import argparse
import ctypes
import os
import signal
import socket
import sys
import tempfile
import time


def die_with_parent():
    """SIGTERM to this process when its parent goes, whatever killed it (prctl PR_SET_PDEATHSIG); it is
    kept across exec. Returns False when the parent is already gone."""
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    return os.getppid() == parent


def watch(ns, out, collector_pid, timeout):
    """The watcher (forked): READY=1 and the port from the notify socket."""
    port = None
    ready = False
    deadline = time.monotonic() + timeout
    msg = None
    while not (ready and port):
        left = deadline - time.monotonic()
        if left <= 0:
            msg = "error the collector did not report READY=1 in time"
            break
        try:
            os.kill(collector_pid, 0)
        except ProcessLookupError:
            msg = "error the collector exited"
            break
        ns.settimeout(min(left, 0.25))
        try:
            data = ns.recv(4096).decode(errors="replace")
        except socket.timeout:
            continue
        for line in data.split("\n"):
            key, _, value = line.partition("=")
            if key == "READY" and value == "1":
                ready = True
            elif key == "STATUS" and value.startswith("Listening on port "):
                port = value.rsplit(" ", 1)[1]
    os.write(out, ((msg or f"ready {port}") + "\n").encode())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--collector", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--timeout", type=float, default=30)
    a = ap.parse_args()

    sockdir = tempfile.mkdtemp(prefix="mnguard-demo-notify.")
    notify = os.path.join(sockdir, "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(notify)
    log = os.open(a.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    out = os.dup(1)
    collector_pid = os.getpid()
    sys.stdout.flush()
    if os.fork() == 0:
        # the watcher: the socket and the original stdout; the directory goes once it is done
        os.close(log)
        try:
            watch(ns, out, collector_pid, a.timeout)
        finally:
            ns.close()
            os.unlink(notify)
            os.rmdir(sockdir)
            os._exit(0)
    # this process: becomes the collector, which demo.sh (its parent) stops; should demo.sh be killed
    # without a chance to, the collector gets SIGTERM all the same
    if not die_with_parent():
        os._exit(1)
    ns.close()
    os.close(out)
    os.dup2(log, 1)
    os.dup2(log, 2)
    fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(fd, 0)
    os.close(fd)
    env = dict(os.environ, NOTIFY_SOCKET=notify)
    os.execve(a.collector, [a.collector, "serve", "--dir", a.dir, "--listen", "127.0.0.1:0"], env)


if __name__ == "__main__":
    sys.exit(main())
