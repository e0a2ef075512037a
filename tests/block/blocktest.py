# SPDX-License-Identifier: GPL-2.0-or-later
"""Shared by the block tests: real loop devices with ext4 and exfat-fuse images, a udevd when none
runs, and block-driver (the modules in an sd-event loop) as a child whose JSON lines are collected.

Everything made is undone at exit, on failure too: the driver is stopped, mounts below the test's
temporary directory are detached, loop devices detached (once exfat-fuse has let go of them), the
udevd the test started is stopped by its pid, the directory removed. Waits are on conditions with
deadlines, never fixed sleeps."""

import atexit
import ctypes
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77
UDEVD = "/lib/systemd/systemd-udevd"


def skip(reason):
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


def log(msg):
    print(msg, flush=True)


def wait_until(pred, timeout, what):
    """Polls pred (a cheap check of kernel state) until true; fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def run(*cmd, check=True, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def mountinfo():
    """[(mount id, major:minor, mount point, fstype, source, options)] of this namespace."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            l, r = left.split(), right.split()
            point = l[4].encode().decode("unicode_escape")
            out.append((int(l[0]), l[2], point, r[0], r[1], l[5]))
    return out


def mounted_at(path):
    return [m for m in mountinfo() if m[2] == path]


_libc = ctypes.CDLL(None, use_errno=True)


def sys_mount(source, target, fstype, flags=0, data=None):
    r = _libc.mount(source.encode(), target.encode(), fstype.encode(), ctypes.c_ulong(flags),
                    data.encode() if data else None)
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), target)


def sha256_of(path):
    return run("sha256sum", path).stdout.split()[0]


def holders_gone(dev):
    """No process holds dev open any more (exfat-fuse exits some time after its unmount)."""
    name = os.path.basename(dev)
    try:
        return not os.listdir(f"/sys/class/block/{name}/holders") and not _fuse_daemon_on(dev)
    except FileNotFoundError:
        return True


def _fuse_daemon_on(dev):
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if args and b"exfat" in os.path.basename(args[0]) and dev.encode() in args:
            return True
    return False


def reset_loop(dev):
    """Clears the read-only flags and drops the partitions of an attached loop device."""
    name = os.path.basename(dev)
    try:
        parts = [p for p in os.listdir(f"/sys/class/block/{name}") if p.startswith(name + "p")]
    except FileNotFoundError:
        return
    for node in [dev] + ["/dev/" + p for p in parts]:
        subprocess.run(["blockdev", "--setrw", node], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if parts:
        r = subprocess.run(["partx", "-d", dev], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            log(f"partx -d {dev}: {r.stderr.strip()}")


class Driver:
    """block-driver as a child; every JSON line it prints lands in self.lines."""

    def __init__(self, args, env=None):
        exe = os.environ.get("BLOCK_DRIVER")
        if not exe:
            skip("BLOCK_DRIVER not set (run through ctest)")
        self.proc = subprocess.Popen([exe] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.lines = []
        self.cond = threading.Condition()
        self.eof = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.err = []
        self.err_reader = threading.Thread(target=self._read_err, daemon=True)
        self.err_reader.start()
        self.wait_for(lambda o: o.get("driver") == "ready", 20, "the driver to start")

    def _read(self):
        for line in self.proc.stdout:
            try:
                o = json.loads(line)
            except ValueError:
                o = {"driver": "garbage", "line": line}
            with self.cond:
                self.lines.append(o)
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def _read_err(self):
        for line in self.proc.stderr:
            self.err.append(line)
            sys.stderr.write("driver: " + line)

    def matching(self, pred):
        with self.cond:
            return [o for o in self.lines if pred(o)]

    def wait_for(self, pred, timeout, what, count=1):
        """Waits until count lines match pred; returns them all."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [o for o in self.lines if pred(o)]
                if len(found) >= count:
                    return found
                if self.eof:
                    raise AssertionError(f"driver exited while waiting for {what}: {''.join(self.err)}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting for {what} "
                                         f"({len(found)}/{count} seen)")
                self.cond.wait(left)

    def events(self, action):
        return self.matching(lambda o: o.get("event", {}).get("action") == action)

    def command(self, cmd, timeout=20):
        n = len(self.matching(lambda o: o.get("driver") == "reply"))
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        # Commands are answered in order: the next reply is this one's.
        return self.wait_for(lambda o: o.get("driver") == "reply", timeout, f"reply to {cmd}", count=n + 1)[n]

    def quit(self, timeout=30):
        """Stops the driver cleanly and checks it exited 0 (under ASan: no leaks)."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        rc = self.proc.wait(timeout)
        self.reader.join(timeout)
        self.err_reader.join(timeout)
        assert rc == 0, f"driver exited with {rc}: {''.join(self.err)}"

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Env:
    """Temporary directory, loop devices, mounts, udevd, drivers: all undone by cleanup()."""

    def __init__(self, need_udevd=True):
        if os.geteuid() != 0:
            skip("needs root (loop devices, mounts, fanotify)")
        if not os.path.exists("/dev/loop-control"):
            skip("no loop devices (/dev/loop-control missing)")
        exe = os.environ.get("BLOCK_DRIVER")
        if not exe:
            skip("BLOCK_DRIVER not set (run through ctest)")
        probe = subprocess.run([exe, "--probe"], stderr=subprocess.PIPE, text=True)
        if probe.returncode != 0:
            skip(f"fanotify: {probe.stderr.strip()}")
        self.dir = tempfile.mkdtemp(prefix="mnguard-block-")
        self.loops = []
        self.drivers = []
        self.udevd = None
        atexit.register(self.cleanup)
        for s in (signal.SIGTERM, signal.SIGINT):
            signal.signal(s, lambda *_: sys.exit(1))
        try:
            r = run("losetup", "-f", check=False)
        except FileNotFoundError:
            skip("losetup missing")
        if r.returncode != 0:
            skip(f"no free loop device: {r.stderr.strip()}")
        if need_udevd:
            self.start_udevd()

    # udevd

    def start_udevd(self):
        if run("udevadm", "control", "--ping", "-t", "2", check=False).returncode == 0:
            return  # one runs already: use it, leave it
        if not os.access(UDEVD, os.X_OK):
            skip(f"{UDEVD} missing (Debian package udev)")
        # In the foreground as our child, so that it is stopped by its own pid.
        self.udevd = subprocess.Popen([UDEVD], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: run("udevadm", "control", "--ping", "-t", "1", check=False).returncode == 0,
                   20, "udevd to answer")

    def settle(self):
        run("udevadm", "settle", "-t", "30", check=False)

    # images and loop devices

    def image(self, name, fs, size_mb=32, label=None, uuid=None, extra=()):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.truncate(size_mb * 1024 * 1024)
        if fs == "ext4":
            cmd = ["mkfs.ext4", "-q", "-F"]
            if label:
                cmd += ["-L", label]
            if uuid:
                cmd += ["-U", uuid]
            run(*cmd, *extra, path)
        elif fs == "exfat":
            if not shutil.which("mkfs.exfat"):
                skip("mkfs.exfat missing (Debian package exfatprogs)")
            cmd = ["mkfs.exfat"] + (["-L", label] if label else []) + list(extra)
            run(*cmd, path)
        return path

    def loop(self, image):
        dev = run("losetup", "-f", "--show", image).stdout.strip()
        self.loops.append(dev)
        # Partitions added by hand (partx) and the read-only flag set by BLKROSET outlive a detach:
        # drop what an earlier run may have left.
        reset_loop(dev)
        return dev

    def mountpoint(self, name):
        p = os.path.join(self.dir, name)
        os.makedirs(p, exist_ok=True)
        return p

    def mount(self, dev, point, fs="ext4", opts=None, check=True):
        if fs == "exfat":
            if not shutil.which("mount.exfat-fuse"):
                skip("mount.exfat-fuse missing (Debian package exfat-fuse)")
            cmd = ["mount", "-t", "exfat-fuse"]
        else:
            cmd = ["mount", "-t", fs]
        if opts:
            cmd += ["-o", opts]
        return run(*cmd, dev, point, check=check)

    def populate(self, image, fs, files):
        """Writes files {relative path: bytes} into an image before any guard looks."""
        dev = self.loop(image)
        point = self.mountpoint("populate")
        self.mount(dev, point, fs)
        for rel, data in files.items():
            p = os.path.join(point, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
        self.umount(point)
        self.detach(dev)

    def umount(self, point, lazy=False):
        run("umount", *(["-l"] if lazy else []), point)
        wait_until(lambda: not mounted_at(point), 20, f"{point} to be unmounted")

    def detach(self, dev):
        wait_until(lambda: holders_gone(dev), 20, f"{dev} to be released")
        reset_loop(dev)
        run("losetup", "-d", dev)
        if dev in self.loops:
            self.loops.remove(dev)

    def driver(self, args):
        d = Driver(args)
        self.drivers.append(d)
        return d

    # cleanup

    def cleanup(self):
        for d in self.drivers:
            try:
                d.kill()
            except Exception as e:  # keep cleaning
                log(f"cleanup: driver: {e}")
        for m in sorted(mountinfo(), key=lambda m: -len(m[2])):
            if m[2].startswith(self.dir + "/"):
                subprocess.run(["umount", "-l", m[2]], stderr=subprocess.DEVNULL)
        for dev in list(self.loops):
            try:
                wait_until(lambda: holders_gone(dev), 10, f"{dev} to be released")
            except AssertionError as e:
                log(f"cleanup: {e}")
            reset_loop(dev)
            subprocess.run(["losetup", "-d", dev], stderr=subprocess.DEVNULL)
        self.loops = []
        if self.udevd:
            self.udevd.terminate()
            try:
                self.udevd.wait(10)
            except subprocess.TimeoutExpired:
                self.udevd.kill()
                self.udevd.wait()
            self.udevd = None
        shutil.rmtree(self.dir, ignore_errors=True)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def errno_of(fn):
    try:
        fn()
    except OSError as e:
        return e.errno
    return 0


EPERM, ENOENT, EROFS = errno.EPERM, errno.ENOENT, errno.EROFS
