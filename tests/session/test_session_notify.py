#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""mnguard-session's notifications, end to end: mnguardd (root) on a umockdev testbed, and an
unprivileged user's session — a session D-Bus with python3-dbusmock's notification daemon — running
mnguard-session. Asserted on the Notify calls the mock received and on what the daemon sent.

Run under umockdev-wrapper (it sets LD_PRELOAD); the user's session gets a clean environment."""

import json
import time
import os
import signal
import socket
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from sessiontest import (DaemonTestCase, UserSession, USER_UID, require, skip_all, user_dir,  # noqa: E402
                         wait_for)

if "umockdev-preload" not in os.environ.get("LD_PRELOAD", ""):
    skip_all("not running under umockdev-wrapper (LD_PRELOAD lacks libumockdev-preload)")
require("dbus-run-session")

import gi  # noqa: E402
gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev  # noqa: E402

DATA = os.path.join(HERE, "..", "data", "devices")
HUB = "/sys/devices/pci0000:00/0000:00:14.0/usb1"
STORM = 50

POLICY = """mnguard-policy: 1
serial: {serial}
name: "テスト"
contact: "情報政策課 (内線 1234)"
media:
  - name: 情報政策課-001
    match: {{vendor: "0781", product: "5581", serial: "4C530001230101117384"}}
    access: read-write
{extra}"""

STORM_RULE = """  - name: 配布用
    match: {vendor: "4242", product: "4242"}
    access: read-only
"""


def is_device_blocked(c):
    return "blocked" in c["summary"] and ("Device" in c["summary"] or "devices" in c["summary"])


def is_policy(c):
    return "Security policy updated" in c["summary"]


class SessionNotify(DaemonTestCase):
    def setUp(self):
        super().setUp()
        self.tb = UMockdev.Testbed.new()
        self.assertTrue(self.tb.add_from_file(os.path.join(DATA, "demo.umockdev")))
        self.serial = 1
        self.extra = ""
        self.session = UserSession(user_dir(self.tmp, "home"), os.path.join(self.tmp, "run"))

    def tearDown(self):
        # the helper stops cleanly on SIGTERM (under ASan: with no leak or error found)
        helper_ran = self.session.helper is not None
        rc = self.session.stop_helper()
        log = self.session.helper_log_text()
        self.session.stop()
        super().tearDown()
        del self.tb
        if helper_ran:
            self.assertEqual(rc, 0, "mnguard-session did not exit cleanly:\n" + log)

    def add_stick(self, port, serial, vid="0781", pid="5581"):
        dev = self.tb.add_device(
            "usb", port, HUB,
            ["idVendor", vid, "idProduct", pid, "serial", serial, "manufacturer", "SanDisk", "product",
             "Cruzer Blade", "bDeviceClass", "00", "bNumInterfaces", " 1", "bConfigurationValue", "1",
             "authorized", "1", "busnum", "1", "devnum", "20"],
            ["DEVTYPE", "usb_device", "ID_VENDOR_ID", vid, "ID_MODEL_ID", pid])
        self.tb.add_device(
            "usb", f"{port}:1.0", dev,
            ["bInterfaceClass", "08", "bInterfaceSubClass", "06", "bInterfaceProtocol", "50",
             "bInterfaceNumber", "00", "authorized", "1"],
            ["DEVTYPE", "usb_interface"])
        return dev

    def authorized(self, port):
        with open(f"{self.tb.get_sys_dir()}{HUB[4:]}/{port}/authorized") as f:
            return f.read().strip()

    def start_daemon(self):
        d = self.daemon(env={"UMOCKDEV_DIR": self.tb.get_root_dir()})
        d.write_policy(POLICY.format(serial=self.serial, extra=self.extra))
        return d.start()

    def bump_policy(self, d, extra=None):
        self.serial += 1
        if extra is not None:
            self.extra = extra
        d.write_policy(POLICY.format(serial=self.serial, extra=self.extra))
        d.signal(signal.SIGHUP)
        return self.serial

    def policy_notified(self, serial):
        return [c for c in self.session.calls() if is_policy(c) and f"serial {serial})" in c["body"]]

    def ready(self, d, timeout=30):
        """Waits until the helper is subscribed: bumps the policy until its notification arrives."""
        deadline_rounds = int(timeout / 2)
        for _ in range(deadline_rounds):
            serial = self.bump_policy(d)
            try:
                return wait_for(lambda: self.policy_notified(serial), "policy notification", timeout=2, interval=0.05)
            except AssertionError:
                continue
        self.fail("mnguard-session never subscribed:\n" + self.session.helper_log_text())

    def test_blocked_device_one_notification(self):
        d = self.start_daemon()
        self.session.start_helper("--no-clipboard")
        self.ready(d)
        self.add_stick("1-9", "HOTPLUG0001")  # umockdev sends the "add" uevents
        wait_for(lambda: self.authorized("1-9") == "0", "stick cut")
        calls = self.session.wait_calls(is_device_blocked, "device-blocked notification")
        # a barrier: a later notification, so anything the stick still caused has been shown
        self.ready(d)
        calls = [c for c in self.session.calls() if is_device_blocked(c)]
        self.assertEqual(len(calls), 1, calls)
        c = calls[0]
        self.assertEqual(c["app_name"], "mnguard")
        # Japanese first, English beside it
        self.assertIn("この機器は使用できません", c["summary"])
        self.assertIn("Device blocked", c["summary"])
        self.assertLess(c["summary"].index("使用できません"), c["summary"].index("Device blocked"))
        self.assertIn("Cruzer Blade (0781:5581)", c["body"])
        self.assertIn("登録された媒体ではない", c["body"])
        self.assertIn("情報政策課 (内線 1234) に申請してください", c["body"])
        self.assertIn("apply (申請) to 情報政策課 (内線 1234)", c["body"])
        self.assertEqual(c["hints"].get("urgency"), 2)
        self.assertEqual(c["hints"].get("x-mnguard-count"), 1)
        self.assertEqual(c["icon"], "drive-removable-media")

    def test_storm_folded_into_one(self):
        self.extra = STORM_RULE
        for i in range(STORM):
            self.add_stick(f"1-{10 + i}", f"STORM{i:04d}", vid="4242", pid="4242")
        d = self.start_daemon()
        self.assertEqual(self.authorized("1-10"), "1")
        self.session.start_helper("--no-clipboard")
        self.ready(d)
        # the registered rule goes: every one of them is re-decided and blocked at once
        serial = self.bump_policy(d, extra="")
        wait_for(lambda: all(self.authorized(f"1-{10 + i}") == "0" for i in range(STORM)), "storm cut")
        blocked = {e["device"].get("serial") for e in d.events("--action", "device-blocked")}
        self.assertEqual(len({s for s in blocked if s.startswith("STORM")}), STORM)
        wait_for(lambda: self.policy_notified(serial), "policy notification")
        calls = self.session.wait_calls(is_device_blocked, "storm notification")
        self.ready(d)  # barrier
        calls = [c for c in self.session.calls() if is_device_blocked(c)]
        self.assertEqual(len(calls), 1, [c["summary"] for c in calls])
        self.assertEqual(calls[0]["hints"].get("x-mnguard-count"), STORM)
        self.assertIn(f"{STORM} 台の機器の使用を止めました", calls[0]["summary"])
        self.assertIn(f"{STORM} devices blocked", calls[0]["summary"])

    def test_reconnects_after_daemon_restart(self):
        d = self.start_daemon()
        self.session.start_helper("--no-clipboard")
        self.ready(d)
        d.stop()
        d.start()
        self.ready(d)
        self.add_stick("1-9", "AFTERRESTART")
        self.session.wait_calls(is_device_blocked, "notification after the daemon restarted")
        self.assertIsNone(self.session.helper.poll())

    def test_user_gets_seat_events_not_others(self):
        """The daemon's broadcast: an unprivileged subscriber gets policy and device events of no
        particular user, and not root's own or the daemon's internal ones."""
        d = self.start_daemon()
        sock_path = os.path.join(d.runtime, "control.sock")
        code = ("import socket,sys\n"
                "s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
                "s.sendall(b'{\"verb\":\"subscribe\"}\\n')\n"
                "f=s.makefile()\n"
                "for l in f: print(l, end='', flush=True)\n")
        p = subprocess.Popen(["/usr/bin/python3", "-c", code, sock_path], stdout=subprocess.PIPE, text=True,
                             **self.session.user_kw())
        try:
            self.assertEqual(json.loads(self.session._readline(p.stdout, 10, "subscribe reply")), {"ok": True})
            d.ctl("note", "secret admin note")
            serial = self.bump_policy(d)
            seen = []

            def read_until(action):
                while not any(e["event"]["action"] == action for e in seen):
                    seen.append(json.loads(self.session._readline(p.stdout, 15, "events"))["event"])

            # the reload (a signal) and the stick's uevent are separate event sources of the
            # daemon's loop: plug the stick in only once the policy's event has arrived
            read_until("policy-applied")
            self.add_stick("1-9", "SEATWIDE01")
            read_until("device-blocked")
            actions = [e["event"]["action"] for e in seen]
            self.assertNotIn("admin-note", actions)
            self.assertNotIn("agent-started", actions)
            self.assertTrue(any(e["mnguard"].get("policy_serial") == serial for e in seen))
        finally:
            p.terminate()
            p.wait()

    def test_wayland_says_unguarded(self):
        d = self.start_daemon()
        self.session.start_helper(env={"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"})
        calls = self.session.wait_calls(lambda c: "Clipboard not guarded" in c["summary"], "Wayland notice")
        self.assertIn("クリップボードは保護されていません", calls[0]["summary"])
        self.assertIn("Wayland", calls[0]["body"])
        # and it is on record, for the session's own user
        deadline = time.monotonic() + 15
        while not d.events("--action", "clipboard-unguarded"):
            self.assertLess(time.monotonic(), deadline, "no clipboard-unguarded event")
            time.sleep(0.05)
        ev = d.events("--action", "clipboard-unguarded")[0]
        self.assertIn("wayland", ev["event"]["reason"])
        self.assertEqual(ev["user"]["id"], USER_UID)
        d.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
