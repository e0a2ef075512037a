#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""mnguardd.service's SystemCallFilter= against what the daemon really calls: the daemon runs under strace
on a umockdev testbed (start-up, coldplug, control verbs, a hot-plugged stick, a policy reload, stop),
and every system call it made must be allowed by the unit's allow and deny lists, expanded by
systemd-analyze syscall-filter. (The block-device path, fanotify and umount2, is not reached on a
testbed: those calls are named in the filter explicitly.)

Run under umockdev-wrapper."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import mnguardtest  # noqa: E402
from mnguardtest import Daemon, skip_all  # noqa: E402

SOURCE = os.environ.get("MNGUARD_SOURCE")
if not SOURCE:
    skip_all("MNGUARD_SOURCE not set (run through ctest)")
if os.environ.get("MNGUARD_SANITIZE") == "1":
    skip_all("a sanitizer build makes system calls of its own (the filter is for the packaged build)")
for tool in ("strace", "systemd-analyze"):
    if not shutil.which(tool):
        skip_all(f"{tool} is not installed")
if "umockdev-preload" not in os.environ.get("LD_PRELOAD", ""):
    skip_all("not running under umockdev-wrapper (LD_PRELOAD lacks libumockdev-preload)")
probe = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "true"], capture_output=True)
if probe.returncode != 0:
    skip_all("strace cannot trace here (ptrace not permitted)")

import gi  # noqa: E402
gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev  # noqa: E402

UNIT = os.path.join(SOURCE, "installer", "systemd", "mnguardd.service")
DEVICES = os.path.join(SOURCE, "tests", "data", "devices", "demo.umockdev")
HUB = "/sys/devices/pci0000:00/0000:00:14.0/usb1"
_groups = {}


def expand(name):
    """A system call name, or a @group expanded recursively with systemd-analyze."""
    if not name.startswith("@"):
        return {name}
    if name not in _groups:
        out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True, text=True).stdout
        members = set()
        for line in out.splitlines()[1:]:
            line = line.strip()
            if line and not line.startswith("#"):
                members |= expand(line)
        _groups[name] = members
    return _groups[name]


def unit_filter():
    allowed, denied = set(), set()
    with open(UNIT) as f:
        for line in f:
            m = re.match(r"^SystemCallFilter=(~?)(.*)$", line.strip())
            if not m:
                continue
            names = set()
            for word in m.group(2).split():
                names |= expand(word)
            (denied if m.group(1) else allowed).update(names)
    return allowed - denied


class Syscalls(unittest.TestCase):
    def test_daemon_stays_within_the_filter(self):
        allowed = unit_filter()
        self.assertIn("fanotify_init", allowed)
        self.assertIn("umount2", allowed)
        self.assertNotIn("mount", allowed)
        self.assertNotIn("init_module", allowed)

        tmp = tempfile.mkdtemp(prefix="mnguard-syscalls-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        tb = UMockdev.Testbed.new()
        self.assertTrue(tb.add_from_file(DEVICES))
        trace = os.path.join(tmp, "strace.out")
        real = mnguardtest.MNGUARDD
        wrapper = os.path.join(tmp, "mnguardd-traced")
        with open(wrapper, "w") as f:
            f.write(f"#!/bin/sh\nexec strace -f -qq -o '{trace}' '{real}' \"$@\"\n")
        os.chmod(wrapper, 0o755)
        mnguardtest.MNGUARDD = wrapper
        d = Daemon(tmp, env={"UMOCKDEV_DIR": tb.get_root_dir()})
        d.write_policy('mnguard-policy: 1\nserial: 1\nname: "syscalls"\n')
        try:
            d.start(timeout=60)
            d.ctl("status")
            d.ctl("events", "--json")
            d.ctl("verify")
            dev = tb.add_device(
                "usb", "1-9", HUB,
                ["idVendor", "0781", "idProduct", "5581", "serial", "SYSCALLS01", "bDeviceClass", "00",
                 "bNumInterfaces", " 1", "bConfigurationValue", "1", "authorized", "1"],
                ["DEVTYPE", "usb_device"])
            tb.add_device("usb", "1-9:1.0", dev,
                          ["bInterfaceClass", "08", "bInterfaceSubClass", "06", "bInterfaceProtocol", "50",
                           "bInterfaceNumber", "00", "authorized", "1"], ["DEVTYPE", "usb_interface"])
            tb.uevent(dev, "add")
            deadline = time.monotonic() + 20
            while not [e for e in d.events("--device", "SYSCALLS01") if e["event"]["action"] == "device-blocked"]:
                self.assertLess(time.monotonic(), deadline, "the hot-plugged stick was not decided:\n" + d.log_text())
                time.sleep(0.02)
            # Signals go to the daemon itself, not to strace in front of it.
            pid = json.loads(d.ctl("status", "--json").stdout)["pid"]
            d.write_policy('mnguard-policy: 1\nserial: 2\nname: "syscalls 2"\n')
            os.kill(pid, signal.SIGHUP)
            deadline = time.monotonic() + 20
            while json.loads(d.ctl("status", "--json").stdout)["policy"]["serial"] != 2:
                self.assertLess(time.monotonic(), deadline, "the policy was not reloaded:\n" + d.log_text())
                time.sleep(0.02)
            os.kill(pid, signal.SIGTERM)
            self.assertEqual(d.proc.wait(60), 0, d.log_text())
            d.stop()
        finally:
            mnguardtest.MNGUARDD = real
            if d.proc and d.proc.poll() is None:
                d.kill()

        used = set()
        with open(trace) as f:
            for line in f:
                m = re.match(r"^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]", line)
                if m and m.group(1) not in ("exit", "resumed"):
                    used.add(m.group(1))
        del tb
        self.assertGreater(len(used), 20, "strace saw the daemon's calls")
        # execve is strace starting the daemon (systemd does that before the filter applies).
        outside = sorted(used - allowed - {"execve"})
        self.assertEqual(outside, [], f"system calls mnguardd made that SystemCallFilter= denies: {outside}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
