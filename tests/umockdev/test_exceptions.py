#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Exception tickets (持ち出し申請) on a running daemon with simulated devices: a good ticket authorizes
its one device until it is removed; tickets for another host, expired, reused, unsigned or signed by an
untrusted key are refused and recorded."""

import datetime
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_daemon_usb import UsbTestBase  # noqa: E402  (skips unless under umockdev-wrapper)

TOOL = os.environ.get("MNGUARD_POLICY", "mnguard-policy")
STICK = "0781:5581:4C530009990101117384"   # the unregistered stick on port 1-1


def iso(delta_minutes):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=delta_minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Tickets(UsbTestBase):
    def setUp(self):
        super().setUp()
        self.keys = os.path.join(self.tmp, "keys")
        os.makedirs(self.keys)
        for k in ("it", "rogue"):
            subprocess.run([TOOL, "keygen", os.path.join(self.keys, k)], check=True, capture_output=True)

    def start_signed(self):
        d = self.daemon(env={"UMOCKDEV_DIR": self.tb.get_root_dir()})
        shutil.copy(os.path.join(self.keys, "it.pub"), os.path.join(d.config, "policy-signing.pub"))
        d.start()
        self.host = json.loads(d.ctl("status", "--json").stdout)["host_id"]
        return d

    def ticket(self, name, host=None, device=STICK, frm=-5, until=60, key="it", access="read-only"):
        out = os.path.join(self.tmp, name)
        subprocess.run([TOOL, "ticket", "--key", os.path.join(self.keys, key + ".key"), "--host", host or self.host,
                        "--device", device, "--access", access, "--from", iso(frm), "--until", iso(until),
                        "--reason", "申請 #42", "-o", out], check=True, capture_output=True)
        return out

    def test_ticket_lifecycle(self):
        d = self.start_signed()
        self.assertEqual(self.authorized("1-1"), "0")
        out = d.ctl("exception", "import", self.ticket("good")).stdout
        self.assertIn("granted", out)
        self.wait(lambda: self.authorized("1-1") == "1", "ticketed stick authorized")
        granted = d.events("--action", "exception-granted")
        self.assertEqual(len(granted), 1)
        tid = granted[0]["mnguard"]["ticket_id"]
        ro = [e for e in d.events("--action", "device-read-only") if e["device"].get("serial") == STICK.split(":")[2]]
        self.assertEqual(ro[-1]["mnguard"]["rule"], f"exception:{tid}")

        # single use: the same ticket again is refused
        p = d.ctl("exception", "import", os.path.join(self.tmp, "good"), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("used already", p.stderr)

        # the device leaves: the exception ends; plugged in again, it is blocked again
        path = "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1"
        self.tb.uevent(path, "remove")
        self.wait(lambda: d.events("--action", "exception-ended"), "exception-ended recorded")
        self.assertEqual(d.events("--action", "exception-ended")[0]["event"]["reason"], "device removed")
        self.tb.uevent(path, "add")
        self.wait(lambda: self.authorized("1-1") == "0", "stick blocked again")
        d.stop()

    def test_refusals(self):
        d = self.start_signed()
        cases = [
            ("other host", dict(host="0" * 32), "another host"),
            ("expired", dict(frm=-120, until=-60), "expired"),
            ("untrusted key", dict(key="rogue"), "not trusted"),
        ]
        for name, kw, why in cases:
            p = d.ctl("exception", "import", self.ticket(name.replace(" ", "-"), **kw), check=False)
            self.assertEqual(p.returncode, 1, name)
            self.assertIn(why, p.stderr, name)
        # a ticket whose bytes were changed after signing (the access raised)
        t = self.ticket("tampered")
        with open(t) as f:
            text = f.read()
        with open(t, "w") as f:
            f.write(text.replace('"read-only"', '"read-write"', 1))
        p = d.ctl("exception", "import", t, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("bad ticket signature", p.stderr)
        self.assertEqual(len(d.events("--action", "exception-rejected")), 4)
        self.assertEqual(self.authorized("1-1"), "0", "nothing was granted")
        d.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
