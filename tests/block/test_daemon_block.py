#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""mnguardd's block layer on real loop devices seen through a real udevd (agent.conf removable-media:
loop*): a blocked medium mounted by hand is denied and detached, a registered read-only medium mounts
read-only, a registered read-write medium has every file written recorded with its SHA-256 and a
summary on device-removed, and a blocked medium mounted before the daemon started is detached too."""

import errno
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from blocktest import Env, check, errno_of, log, mounted_at, reset_loop, run, sha256_of, wait_until  # noqa: E402
from mnguardtest import Daemon  # noqa: E402

RW_UUID = "2c5e28ba-2fa1-11d2-883f-0016d3cca427"
POLICY = f"""mnguard-policy: 1
serial: 2026112601
name: "ブロック"
media:
  - name: 配布用-RO
    match: {{fs-label: MNRO}}
    access: read-only
  - name: 情報政策課-RW
    match: {{fs-uuid: "{RW_UUID}"}}
    access: read-write
"""


def attach(env, image):
    """Like env.loop(), but the leftovers of earlier runs are cleared BEFORE the image is attached:
    clearing them after would race with the daemon, which sets the read-only flag on the change event."""
    dev = run("losetup", "-f").stdout.strip()
    reset_loop(dev)
    run("losetup", dev, image)
    env.loops.append(dev)
    return dev


def events(d, action):
    return d.events("--action", action)


def main():
    env = Env(need_udevd=True)
    early = env.loop(env.image("early.img", "ext4", label="MNEARLY"))
    env.settle()
    early_point = env.mountpoint("early")
    env.mount(early, early_point)          # mounted before the daemon starts
    check(mounted_at(early_point), "early medium not mounted")

    d = Daemon(os.path.join(env.dir, "daemon"))
    with open(os.path.join(d.config, "agent.conf"), "w") as f:
        f.write('removable-media: ["loop*"]\n')
    d.write_policy(POLICY)
    try:
        d.start()
        # coldplug: the blocked medium that was mounted already is detached (before READY=1)
        wait_until(lambda: not mounted_at(early_point), 10, "early blocked mount detached")
        check(events(d, "mount-blocked"), "no mount-blocked event for the early mount")

        ro = attach(env, env.image("ro.img", "ext4", label="MNRO"))
        rw = attach(env, env.image("rw.img", "ext4", label="MNRW", uuid=RW_UUID))
        blk = attach(env, env.image("blk.img", "ext4", label="MNUNREG"))
        env.settle()
        for dev, action in ((ro, "device-read-only"), (rw, "device-allowed"), (blk, "device-blocked")):
            wait_until(lambda a=action, dv=os.path.basename(dev): any(
                e["device"]["syspath"].endswith("/" + dv) for e in events(d, a)), 20, f"{dev}: {action}")

        # blocked: mounted by hand, denied and detached
        point = env.mountpoint("blk")
        env.mount(blk, point, check=False)
        wait_until(lambda: not mounted_at(point), 10, "blocked mount detached")
        blocked = [e for e in events(d, "mount-blocked") if e.get("mount", {}).get("point") == point]
        check(blocked, f"no mount-blocked event naming {point}")
        # the medium's device fields, as on its device-* records: the physical device is known
        check(blocked[-1]["device"].get("syspath", "").endswith("/" + os.path.basename(blk)),
              f"mount-blocked without the medium's syspath: {blocked[-1]['device']}")

        # read-only: the kernel refuses writes
        check(run("blockdev", "--getro", ro).stdout.strip() == "1", f"{ro} is not read-only")
        rpoint = env.mountpoint("ro")
        env.mount(ro, rpoint)
        check(mounted_at(rpoint), "read-only medium did not mount")
        check(errno_of(lambda: open(os.path.join(rpoint, "x"), "w")) in (errno.EROFS, errno.EACCES),
              "write to read-only medium did not fail")
        env.umount(rpoint)

        # read-write: every file written is recorded with its SHA-256
        wpoint = env.mountpoint("rw")
        env.mount(rw, wpoint)
        # the audit starts when the daemon sees the mount (recorded as media-mounted); writes made in the
        # first moment after mount(8) returns, before that, are not seen (docs/block-devices.md)
        mm = wait_until(lambda: [e for e in events(d, "media-mounted") if e.get("mount", {}).get("point") == wpoint], 20,
                        "media-mounted with the write audit on")[-1]
        # the same names as the other block events: mount.point, mount.fs_type, device.devnode
        check(mm["mount"].get("fs_type") == "ext4" and mm["device"].get("devnode") == rw and "file" not in mm,
              f"media-mounted fields: {mm}")
        check(mm["mnguard"].get("write_audit") is True and mm["mnguard"].get("rule") == "情報政策課-RW", f"{mm}")
        files = {f"doc{i}.txt": os.urandom(1000 + i) for i in range(3)}
        for name, data in files.items():
            with open(os.path.join(wpoint, name), "wb") as f:
                f.write(data)
        want = {name: sha256_of(os.path.join(wpoint, name)) for name in files}
        wait_until(lambda: len(events(d, "file-written")) >= 3, 20, "file-written events")
        got = {os.path.basename(e["file"]["path"]): e["file"]["hash"]["sha256"] for e in events(d, "file-written")}
        for name, h in want.items():
            check(got.get(name) == h, f"{name}: recorded {got.get(name)}, want {h}")
        # file records carry the device fields of the medium's device-allowed record (all but classes:
        # vendor, product and serial when it has them, so `events --device` finds them; its syspath)
        allowed = [e for e in events(d, "device-allowed")
                   if e["device"]["syspath"].endswith("/" + os.path.basename(rw))][-1]["device"]
        ident = {k: v for k, v in allowed.items() if k != "classes"}
        for e in events(d, "file-written") + [mm]:
            got_ident = {k: e["device"].get(k) for k in ident}
            check(got_ident == ident, f"{e['event']['action']}: device {e['device']}, want {ident}")
        env.umount(wpoint)
        env.detach(rw)
        wait_until(lambda: [e for e in events(d, "device-removed") if e["device"]["syspath"].endswith("/" + os.path.basename(rw))],
                   20, "device-removed for the read-write medium")
        rem = [e for e in events(d, "device-removed") if e["device"]["syspath"].endswith("/" + os.path.basename(rw))][-1]
        check(rem["mnguard"].get("files_written") == 3, f"summary: {rem['mnguard']}")
        check(json.loads(d.ctl("verify", "--json").stdout)["intact"], "journal chain broken")
        log("daemon block layer: ok")
    finally:
        if d.proc and d.proc.poll() is None:
            d.stop()
        else:
            log(d.log_text())


if __name__ == "__main__":
    main()
