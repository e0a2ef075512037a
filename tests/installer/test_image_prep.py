#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""installer/image-prep.sh on an image root made by installer/install.sh: the installed mnguardd runs on
it (on a umockdev testbed, never this machine's devices) and leaves real state; image-prep removes what
belongs to the terminal and keeps configuration and policy; the "clone" then starts as a new host that
enforces the kept policy at once.

Run under umockdev-wrapper, as root (install.sh creates files owned by root)."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from mnguardtest import Daemon, skip_all  # noqa: E402

BUILD = os.environ.get("MNGUARD_BUILD")
SOURCE = os.environ.get("MNGUARD_SOURCE")
if not BUILD or not SOURCE:
    skip_all("MNGUARD_BUILD/MNGUARD_SOURCE not set (run through ctest)")
if os.geteuid() != 0:
    skip_all("needs root (install.sh installs files owned by root)")
if "umockdev-preload" not in os.environ.get("LD_PRELOAD", ""):
    skip_all("not running under umockdev-wrapper (LD_PRELOAD lacks libumockdev-preload)")
for tool in ("systemd-sysusers", "systemd-tmpfiles", "systemctl"):
    if not shutil.which(tool):
        skip_all(f"{tool} is not installed (Debian package systemd)")
with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
    if "CMAKE_INSTALL_PREFIX:PATH=/usr\n" not in f.read():
        skip_all("this build is not configured for /usr (install.sh needs that)")

import gi  # noqa: E402
gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev  # noqa: E402

DEVICES = os.path.join(SOURCE, "tests", "data", "devices", "demo.umockdev")
INSTALL = os.path.join(SOURCE, "installer", "install.sh")
IMAGE_PREP = os.path.join(SOURCE, "installer", "image-prep.sh")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def tree(top):
    """path → sha256 of every file below top."""
    out = {}
    for d, _, files in os.walk(top):
        for name in files:
            p = os.path.join(d, name)
            out[os.path.relpath(p, top)] = sha256(p)
    return out


class ImagePrep(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mnguard-image-prep-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.root = os.path.join(self.tmp, "image")
        os.mkdir(self.root)
        p = subprocess.run([INSTALL, "--root", self.root, "--build", BUILD], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, f"install.sh failed:\n{p.stdout}\n{p.stderr}")
        self.state = os.path.join(self.root, "var", "lib", "mnguard")
        self.etc = os.path.join(self.root, "etc", "mnguard")
        self.tb = UMockdev.Testbed.new()
        self.assertTrue(self.tb.add_from_file(DEVICES))
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            if d.proc and d.proc.poll() is None:
                d.kill()
        del self.tb

    def terminal(self, name, machine_id):
        """The installed daemon on the image root's config and state, as a terminal with this machine id."""
        base = os.path.join(self.tmp, name)
        os.makedirs(base)
        mid = os.path.join(base, "machine-id")
        with open(mid, "w") as f:
            f.write(machine_id + "\n")
        d = Daemon(base, env={"UMOCKDEV_DIR": self.tb.get_root_dir(), "MNGUARD_MACHINE_ID_FILE": mid})
        d.config, d.state = self.etc, self.state
        self.daemons.append(d)
        return d

    def start(self, d):
        import mnguardtest
        saved = mnguardtest.MNGUARDD
        mnguardtest.MNGUARDD = os.path.join(self.root, "usr", "sbin", "mnguardd")  # the installed binary
        try:
            return d.start()
        finally:
            mnguardtest.MNGUARDD = saved

    def image_prep(self, *args):
        return subprocess.run([IMAGE_PREP, "--root", self.root, *args], capture_output=True, text=True)

    def test_image_prep_then_first_boot_of_a_clone(self):
        # The master terminal: the installed daemon with the shipped agent.conf and default policy.
        master = self.start(self.terminal("master", "11111111111111111111111111111111"))
        status = json.loads(master.ctl("status", "--json").stdout)
        self.assertNotIn("agent.conf", master.log_text(), "the shipped agent.conf is accepted")
        policy = status["policy"]
        self.assertEqual(policy["serial"], 1, status)
        old_host = status["host_id"]
        self.assertTrue(old_host, status)
        # IT puts its own policy in force on the master (here: policy.yaml replaced, SIGHUP).
        with open(os.path.join(SOURCE, "tests", "data", "devices", "demo-policy.yaml")) as f:
            own_policy = f.read()
        master.write_policy(own_policy)
        own_serial = int(next(line.split(":")[1] for line in own_policy.splitlines() if line.startswith("serial:")))
        master.signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while json.loads(master.ctl("status", "--json").stdout)["policy"]["serial"] != own_serial:
            self.assertLess(time.monotonic(), deadline, "the new policy was not applied:\n" + master.log_text())
            time.sleep(0.02)
        self.assertEqual(master.stop(), 0)

        state_before = set(os.listdir(self.state))
        for f in ("identity.json", "journal.db", "policy.snapshot", "policy.last-good.yaml"):
            self.assertIn(f, state_before, f"the daemon left {f}")
        # What a reporter and exceptions leave there, and a journal set aside as corrupt.
        for f in ("client.key", "client.crt", "client.csr", "enrollment.json", "tickets-used",
                  "journal.db.corrupt-20261126T000000Z", "journal.db.corrupt-20261126T000000Z-wal"):
            with open(os.path.join(self.state, f), "w") as fh:
                fh.write("x\n")
        etc_before = tree(self.etc)
        kept = {f for f in state_before if f.startswith("policy.last-good.") or f == "policy.snapshot"}
        # mnguard-udev decides from the snapshot while the daemon is not running yet (early boot of a
        # clone): it must be the image's policy.
        with open(os.path.join(self.state, "policy.snapshot")) as f:
            self.assertEqual(f.read(), own_policy)
        kept_sums = {f: sha256(os.path.join(self.state, f)) for f in kept}

        dry = self.image_prep("--dry-run")
        self.assertEqual(dry.returncode, 0, dry.stderr)
        self.assertIn("would remove", dry.stdout)
        self.assertIn("identity.json", set(os.listdir(self.state)), "--dry-run removes nothing")

        p = self.image_prep()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(set(os.listdir(self.state)), kept, p.stdout)
        self.assertEqual({f: sha256(os.path.join(self.state, f)) for f in kept}, kept_sums)
        self.assertEqual(tree(self.etc), etc_before, "configuration untouched")
        self.assertEqual(oct(os.stat(self.state).st_mode & 0o777), "0o700")
        for f in ("identity.json", "journal.db", "client.key", "enrollment.json", "tickets-used"):
            self.assertIn(f"removed {self.state}/{f}", p.stdout)

        # Running it again is harmless.
        again = self.image_prep()
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(set(os.listdir(self.state)), kept)

        # First boot of a clone (another machine id): a new host, the kept policy in force at once.
        clone = self.start(self.terminal("clone", "22222222222222222222222222222222"))
        status = json.loads(clone.ctl("status", "--json").stdout)
        new_host = status["host_id"]
        self.assertTrue(new_host)
        self.assertNotEqual(new_host, old_host, "the clone is a new host")
        self.assertEqual(status["policy"]["serial"], own_serial, "the image's policy, in force before any contact")
        events = clone.events()
        self.assertEqual(events[0]["event"]["sequence"], 1, "the clone's journal starts afresh")
        self.assertFalse([e for e in events if e["event"]["action"] == "host-id-changed"],
                         "no identity was left to change from")
        self.assertTrue(all(e["host"]["id"] == new_host for e in events))
        self.assertEqual(set(os.listdir(self.state)) >= {"identity.json", "journal.db", "policy.snapshot"}, True)
        self.assertEqual(clone.stop(), 0)

    def test_reset_machine_id_and_refusals(self):
        mid = os.path.join(self.root, "etc", "machine-id")
        with open(mid, "w") as f:
            f.write("33333333333333333333333333333333\n")
        p = self.image_prep("--reset-machine-id")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(os.path.getsize(mid), 0, "emptied: systemd makes a new one at first boot")
        self.assertEqual(self.image_prep("--bogus").returncode, 2)
        self.assertIn("--root DIR", subprocess.run([IMAGE_PREP, "--help"], capture_output=True, text=True).stdout)
        # A state directory that is a symbolic link is not followed.
        shutil.rmtree(self.state)
        target = os.path.join(self.tmp, "elsewhere")
        os.mkdir(target)
        with open(os.path.join(target, "identity.json"), "w") as f:
            f.write("{}")
        os.symlink(target, self.state)
        p = self.image_prep()
        self.assertNotEqual(p.returncode, 0)
        self.assertTrue(os.path.exists(os.path.join(target, "identity.json")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
