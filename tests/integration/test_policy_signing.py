#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Signed policies on the terminal: mnguard-policy keygen/sign/verify, the daemon refusing forged,
unknown-key, older, garbage and misattributed policies (keeping the previous one in force, with a
policy-rejected event), and mnguardctl policy import for offline terminals."""

import json
import os
import shutil
import signal
import subprocess
import time
import unittest

from mnguardtest import DaemonTestCase

TOOL = os.environ.get("MNGUARD_POLICY", "mnguard-policy")

POLICY = """mnguard-policy: 1
serial: {serial}
name: "署名 {serial}"
"""


def tool(*args, check=True):
    p = subprocess.run([TOOL, *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"mnguard-policy {' '.join(args)}: {p.returncode}\n{p.stdout}{p.stderr}")
    return p


class Signing(DaemonTestCase):
    def setUp(self):
        super().setUp()
        self.keys = os.path.join(self.tmp, "keys")
        os.makedirs(self.keys)
        tool("keygen", os.path.join(self.keys, "it"))
        tool("keygen", os.path.join(self.keys, "rogue"))
        self.assertEqual(os.stat(os.path.join(self.keys, "it.key")).st_mode & 0o777, 0o600)

    def signed(self, serial, key="it"):
        path = os.path.join(self.tmp, f"p{serial}-{key}.yaml")
        with open(path, "w") as f:
            f.write(POLICY.format(serial=serial))
        tool("sign", path, "--key", os.path.join(self.keys, key + ".key"))
        return path, path + ".sig"

    def install(self, d, path, sig):
        shutil.copy(path, os.path.join(d.config, "policy.yaml"))
        if sig:
            shutil.copy(sig, os.path.join(d.config, "policy.yaml.sig"))
        elif os.path.exists(os.path.join(d.config, "policy.yaml.sig")):
            os.unlink(os.path.join(d.config, "policy.yaml.sig"))

    def serial(self, d):
        return json.loads(d.ctl("status", "--json").stdout)["policy"]["serial"]

    def wait_rejections(self, d, n):
        deadline = time.monotonic() + 10
        while len(d.events("--action", "policy-rejected")) < n:
            self.assertLess(time.monotonic(), deadline, "no policy-rejected event")
            time.sleep(0.02)
        return d.events("--action", "policy-rejected")[-1]

    def test_tool_verify(self):
        path, sig = self.signed(5)
        out = tool("verify", path, sig, "--key", os.path.join(self.keys, "it.pub")).stdout
        self.assertIn("good signature", out)
        self.assertEqual(tool("verify", path, sig, "--key", os.path.join(self.keys, "rogue.pub"), check=False).returncode, 1)
        with open(path, "a") as f:
            f.write("# changed\n")
        p = tool("verify", path, sig, "--key", os.path.join(self.keys, "it.pub"), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("bad signature", p.stderr)
        # an invalid policy is not signed at all
        bad = os.path.join(self.tmp, "bad.yaml")
        with open(bad, "w") as f:
            f.write("mnguard-policy: 1\nserial: x\n")
        p = tool("sign", bad, "--key", os.path.join(self.keys, "it.key"), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("bad.yaml:2:9: error:", p.stderr)
        self.assertFalse(os.path.exists(bad + ".sig"))

    def test_daemon_refuses_and_keeps_previous(self):
        d = self.daemon()
        shutil.copy(os.path.join(self.keys, "it.pub"), os.path.join(d.config, "policy-signing.pub"))
        self.install(d, *self.signed(10))
        d.start()
        self.assertEqual(self.serial(d), 10)
        applied = d.events("--action", "policy-applied")[-1]
        self.assertEqual(len(applied["mnguard"]["key_id"]), 16)

        cases = []
        # unsigned
        unsigned = os.path.join(self.tmp, "unsigned.yaml")
        with open(unsigned, "w") as f:
            f.write(POLICY.format(serial=11))
        cases.append(("unsigned", unsigned, None, "no signature file"))
        # forged: changed after signing
        path, sig = self.signed(12)
        with open(path, "a") as f:
            f.write("mode: audit\n")
        cases.append(("forged", path, sig, "bad signature"))
        # unknown key
        cases.append(("unknown key", *self.signed(13, key="rogue"), "not trusted"))
        # older serial, well signed
        cases.append(("older", *self.signed(9), "not greater"))
        # a signature made for another file
        other, other_sig = self.signed(14)
        mine = os.path.join(self.tmp, "mine.yaml")
        with open(mine, "w") as f:
            f.write(POLICY.format(serial=15))
        cases.append(("signature of another file", mine, other_sig, "bad signature"))
        # garbage bytes (refused by the parser, before any signature is looked at)
        garbage = os.path.join(self.tmp, "garbage.yaml")
        with open(garbage, "wb") as f:
            f.write(b"mnguard-policy: 1\nserial: 16\nname: [unclosed\n")
        sig_text = subprocess.run([TOOL, "sign", other, "--key", os.path.join(self.keys, "it.key"), "-o",
                                   os.path.join(self.tmp, "x.sig")], capture_output=True)
        self.assertEqual(sig_text.returncode, 0)
        cases.append(("garbage", garbage, os.path.join(self.tmp, "x.sig"), "invalid YAML"))

        for i, (what, path, sig, reason) in enumerate(cases, start=1):
            self.install(d, path, sig)
            d.signal(signal.SIGHUP)
            rej = self.wait_rejections(d, i)
            self.assertIn(reason, rej["event"]["reason"], what)
            self.assertEqual(self.serial(d), 10, f"{what}: the previous policy must stay in force")

        # and a good one still goes through
        self.install(d, *self.signed(20))
        d.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while self.serial(d) != 20:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        d.stop()

    def test_import_offline(self):
        d = self.daemon()
        shutil.copy(os.path.join(self.keys, "it.pub"), os.path.join(d.config, "policy-signing.pub"))
        d.start()
        self.assertEqual(self.serial(d), 0)
        path, sig = self.signed(30)
        out = d.ctl("policy", "import", path, sig).stdout
        self.assertTrue(out.startswith("in force: policy 30"), out)
        self.assertEqual(self.serial(d), 30)
        out = d.ctl("policy", "import", path, sig).stdout     # the same bytes again
        self.assertTrue(out.startswith("already in force: policy 30"), out)
        with open(os.path.join(d.config, "policy.yaml")) as f:
            self.assertIn("serial: 30", f.read())
        # refused: rogue key, older serial
        p = d.ctl("policy", "import", *self.signed(31, key="rogue"), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("not trusted", p.stderr)
        p = d.ctl("policy", "import", *self.signed(29), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("not greater", p.stderr)
        self.assertEqual(self.serial(d), 30)
        self.assertEqual(len(d.events("--action", "policy-rejected")), 2)
        rej = d.events("--action", "policy-rejected")[-1]
        self.assertEqual((rej["mnguard"]["policy_serial"], rej["mnguard"]["offered_serial"],
                          rej["mnguard"]["offered_origin"]), (30, 29, "import"))
        # the imported policy survives a restart
        d.stop()
        d.start()
        self.assertEqual(self.serial(d), 30)
        d.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
