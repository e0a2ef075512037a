#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""mnguardd on a umockdev testbed: coldplug, hotplug, policy changes, audit mode, lockout guard and
hostile device strings, asserted on the sysfs "authorized" files and the journal.

Run under umockdev-wrapper (it sets LD_PRELOAD); the daemon inherits the testbed."""

import json
import os
import signal
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from mnguardtest import DaemonTestCase, skip_all  # noqa: E402

if "umockdev-preload" not in os.environ.get("LD_PRELOAD", ""):
    skip_all("not running under umockdev-wrapper (LD_PRELOAD lacks libumockdev-preload)")

import gi  # noqa: E402
gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev  # noqa: E402

DATA = os.path.join(HERE, "..", "data", "devices")
HUB = "/sys/devices/pci0000:00/0000:00:14.0/usb1"

POLICY = """mnguard-policy: 1
serial: {serial}
name: "テスト {serial}"
mode: {mode}
media:
  - name: 情報政策課-001
    match: {{vendor: "0781", product: "5581", serial: "4C530001230101117384"}}
    access: read-write
{extra}"""


class UsbTestBase(DaemonTestCase):
    """A testbed with the demo devices and helpers; no tests of its own."""

    def setUp(self):
        super().setUp()
        self.tb = UMockdev.Testbed.new()
        self.assertTrue(self.tb.add_from_file(os.path.join(DATA, "demo.umockdev")))
        self.sys = self.tb.get_sys_dir()

    def tearDown(self):
        super().tearDown()
        del self.tb

    def authorized(self, rel):
        with open(f"{self.sys}{HUB[4:]}/{rel}/authorized") as f:
            return f.read().strip()

    def wait(self, cond, what, timeout=10):
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                self.fail(f"timed out waiting for {what}")
            time.sleep(0.005)

    def start(self, serial=1, mode="enforce", extra=""):
        # libumockdev set UMOCKDEV_DIR with setenv(); os.environ does not see that
        d = self.daemon(env={"UMOCKDEV_DIR": self.tb.get_root_dir()})
        d.write_policy(POLICY.format(serial=serial, mode=mode, extra=extra))
        return d.start()

    def add_stick(self, port, serial, manufacturer="SanDisk", product="Cruzer Blade", vid="0781", pid="5581"):
        dev = self.tb.add_device(
            "usb", port, HUB,
            ["idVendor", vid, "idProduct", pid, "serial", serial, "manufacturer", manufacturer,
             "product", product, "bDeviceClass", "00", "bNumInterfaces", " 1", "bConfigurationValue", "1",
             "authorized", "1", "busnum", "1", "devnum", "20"],
            ["DEVTYPE", "usb_device", "DEVNAME", f"/dev/bus/usb/001/0{port[-1]}0", "ID_VENDOR_ID", vid,
             "ID_MODEL_ID", pid])
        self.tb.add_device(
            "usb", f"{port}:1.0", dev,
            ["bInterfaceClass", "08", "bInterfaceSubClass", "06", "bInterfaceProtocol", "50",
             "bInterfaceNumber", "00", "authorized", "1"],
            ["DEVTYPE", "usb_interface"])
        return dev



class UsbDaemon(UsbTestBase):
    def test_coldplug(self):
        d = self.start()
        # decided before READY=1: no waiting needed
        self.assertEqual(self.authorized("1-1"), "0", "unregistered stick")
        self.assertEqual(self.authorized("1-2"), "1", "registered stick")
        self.assertEqual(self.authorized("1-2/1-2:1.0"), "1")
        self.assertEqual(self.authorized("1-3"), "1", "keyboard")
        self.assertEqual(self.authorized("1-4"), "1", "mouse")
        self.assertEqual(self.authorized("1-5"), "0", "BadUSB composite cut whole")
        self.assertEqual(self.authorized("1-6"), "1", "MTP phone keeps charging/ADB")
        self.assertEqual(self.authorized("1-6/1-6:1.0"), "0", "MTP interface cut")
        self.assertEqual(self.authorized("1-6/1-6:1.1"), "1", "ADB kept")
        self.assertEqual(self.authorized("1-7"), "0", "RNDIS tether")

        ev = d.events("--action", "device-*")
        by = {}
        for e in ev:
            by.setdefault(e["device"].get("serial") or e["device"]["syspath"], []).append(e)
        blocked = [e for e in by["4C530009990101117384"] if e["event"]["action"] == "device-blocked"]
        self.assertEqual(len(blocked), 1)
        self.assertEqual(blocked[0]["mnguard"]["rule"], "default")
        self.assertEqual(blocked[0]["mnguard"]["cut"], ["storage"])
        self.assertEqual(blocked[0]["device"]["vendor"], "0781")
        self.assertEqual(blocked[0]["event"]["outcome"], "success")
        allowed = [e for e in by["4C530001230101117384"] if e["event"]["action"] == "device-allowed"]
        self.assertEqual(allowed[0]["mnguard"]["rule"], "情報政策課-001")
        self.assertEqual(allowed[0]["mnguard"]["storage"], "read-write")
        phone = [e for e in by["28021FDH2000ZK"] if e["event"]["action"] == "device-blocked"][0]
        self.assertEqual(phone["mnguard"]["decision"], "partial")
        self.assertEqual(phone["mnguard"]["cut"], ["still-image"])
        self.assertTrue(all(e["mnguard"].get("coldplug") for e in ev if e["event"]["action"] == "device-connected"))
        d.stop()

    def test_hotplug_and_removal(self):
        d = self.start()
        path = self.add_stick("1-9", "HOTPLUG0001")
        self.tb.uevent(path, "add")
        self.wait(lambda: self.authorized("1-9") == "0", "hotplugged stick cut")
        self.wait(lambda: any(e["device"].get("serial") == "HOTPLUG0001" for e in d.events("--action", "device-blocked")),
                  "device-blocked recorded")
        self.tb.uevent(path, "remove")
        self.tb.remove_device(path)
        self.wait(lambda: [e for e in d.events("--action", "device-removed", "--device", "HOTPLUG0001")],
                  "device-removed recorded")
        rm = d.events("--action", "device-removed", "--device", "HOTPLUG0001")[0]
        self.assertEqual(rm["mnguard"]["decision"], "block")
        self.assertEqual(d.events("--device", "0781:5581", "--action", "device-connected")[-1]["device"]["serial"],
                         "HOTPLUG0001")
        d.stop()

    def test_policy_change_live(self):
        d = self.start(serial=1)
        self.assertEqual(self.authorized("1-1"), "0")
        self.assertEqual(self.authorized("1-2"), "1")
        # allow the unregistered stick read-only, block the registered one
        d.write_policy(POLICY.format(serial=2, mode="enforce", extra="").replace(
            "access: read-write", "access: block") + """  - name: now-allowed
    match: {serial: "4C530009990101117384"}
    access: read-only
""")
        d.signal(signal.SIGHUP)
        self.wait(lambda: self.authorized("1-1") == "1", "newly allowed stick re-authorized")
        self.wait(lambda: self.authorized("1-2") == "0", "newly blocked stick cut")
        ro = [e for e in d.events("--action", "device-read-only") if e["device"].get("serial") == "4C530009990101117384"]
        self.assertEqual(ro[-1]["mnguard"]["rule"], "now-allowed")
        self.assertEqual(ro[-1]["mnguard"]["policy_serial"], 2)
        # the snapshot that mnguard-udev decides from follows the policy
        with open(os.path.join(d.state, "policy.snapshot")) as f:
            self.assertIn("serial: 2", f.read())
        d.stop()

    def test_audit_mode_writes_nothing(self):
        d = self.start(mode="audit")
        for dev in ("1-1", "1-5", "1-7", "1-6/1-6:1.0"):
            self.assertEqual(self.authorized(dev), "1", dev)
        ev = [e for e in d.events("--action", "device-blocked") if e["device"].get("serial") == "4C530009990101117384"]
        self.assertEqual(ev[0]["event"]["outcome"], "unknown")
        self.assertEqual(ev[0]["event"]["type"], ["info"])
        self.assertEqual(ev[0]["mnguard"]["would"], "block")
        d.stop()

    def test_lockout_guard_keeps_last_keyboard(self):
        # An explicit rule blocks the only plain keyboard: it stays, and that is recorded.
        d = self.start(extra="""  - name: no-logitech-keyboards
    match: {vendor: "046d", product: "c31c"}
    access: block
""")
        self.assertEqual(self.authorized("1-3"), "1")
        kb = [e for e in d.events("--action", "device-*") if e["device"].get("product") == "c31c"
              and e["event"]["action"] != "device-connected"][0]
        self.assertIn("lockout", kb["mnguard"])
        self.assertEqual(kb["mnguard"]["policy_decision"], "block")
        d.stop()

    def test_hostile_strings(self):
        d = self.start()
        evil = '"\\\x1b[31m\x07\x7f\u009b' + "A" * 300
        path = self.add_stick("1-8", "EVIL\"\\\x01SERIAL", manufacturer=evil, product="P\nRODUCT\u202e")
        self.tb.uevent(path, "add")
        self.wait(lambda: self.authorized("1-8") == "0", "hostile stick cut")
        p = d.ctl("events", "--json", "--action", "device-blocked")
        for line in p.stdout.splitlines():
            self.assertFalse(any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f for c in line), repr(line))
            json.loads(line)
        ev = [json.loads(l) for l in p.stdout.splitlines()]
        hostile = [e for e in ev if e["device"].get("serial", "").startswith("EVIL")][0]
        self.assertEqual(hostile["device"]["serial"], "EVIL\"\\\x01SERIAL")
        self.assertTrue(hostile["device"]["manufacturer"].startswith('"\\\x1b[31m'))
        table = d.ctl("events", "--action", "device-blocked").stdout
        self.assertFalse(any(ord(c) < 0x20 and c != "\n" for c in table))
        d.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
