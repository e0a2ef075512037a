#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""agent.conf's removable patterns ("loop*") on real loop devices seen through a real udevd: the loop
devices are classified as removable media with the filesystem label and UUID udev probed, decided by a
policy (registered read-only by fs-label, registered read-write by fs-uuid, the rest blocked by the
defaults) and enforced the way mnguardd will: the read-only one mounts read-only, the read-write one
is audited, the blocked one is detached. Unbound loop devices are not media."""

import errno
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from blocktest import Env, check, errno_of, log, mounted_at, run, wait_until  # noqa: E402

RW_UUID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
POLICY = f"""mnguard-policy: 1
serial: 2026112601
name: "ブロックデバイス試験"
defaults:
  storage: block
  usb-classes-blocked: [storage]
media:
  - name: 配布用-RO
    match: {{fs-label: MNRO}}
    access: read-only
  - name: 情報政策課-RW
    match: {{fs-uuid: "{RW_UUID}"}}
    access: read-write
"""


def udev_prop(dev, key):
    for line in run("udevadm", "info", "--query=property", dev).stdout.splitlines():
        k, _, v = line.partition("=")
        if k == key:
            return v
    return None


def main():
    env = Env(need_udevd=True)
    ro = env.loop(env.image("ro.img", "ext4", label="MNRO"))
    rw = env.loop(env.image("rw.img", "ext4", label="MNRW", uuid=RW_UUID))
    blk = env.loop(env.image("blk.img", "exfat", label="MNUNREG"))
    env.settle()
    for dev, label in ((ro, "MNRO"), (rw, "MNRW"), (blk, "MNUNREG")):
        wait_until(lambda d=dev, l=label: udev_prop(d, "ID_FS_LABEL") == l, 20, f"udev to probe {dev}")
    policy = os.path.join(env.dir, "policy.yaml")
    with open(policy, "w") as f:
        f.write(POLICY)

    drv = env.driver(["--policy", policy, "--patterns", "loop*, nbd*"])
    decided = {o["devnode"]: o for o in drv.lines if o.get("driver") == "decided"}
    for dev in (ro, rw, blk):
        check(dev in decided, f"{dev} not classified as removable media: {sorted(decided)}")
        check(decided[dev]["extra_removable"] is True, f"{dev}: {decided[dev]}")
    # Unbound loop devices hold no medium.
    for d, o in decided.items():
        size = int(open(f"/sys/class/block/{os.path.basename(d)}/size").read())
        check(size > 0, f"unbound {d} listed as a medium")

    fs_ro = decided[ro]["filesystems"][0]
    check(fs_ro["label"] == "MNRO" and fs_ro["type"] == "ext4", f"ro filesystems: {decided[ro]}")
    check(decided[rw]["filesystems"][0]["uuid"] == RW_UUID, f"rw filesystems: {decided[rw]}")
    check(decided[blk]["filesystems"][0]["type"] == "exfat", f"blocked filesystems: {decided[blk]}")
    check(decided[ro]["storage"] == "read-only" and decided[ro]["rule"] == "配布用-RO", f"{decided[ro]}")
    check(decided[rw]["storage"] == "read-write" and decided[rw]["rule"] == "情報政策課-RW", f"{decided[rw]}")
    check(decided[blk]["storage"] == "block" and decided[blk]["rule"] == "default", f"{decided[blk]}")

    # Read-only: BLKROSET was set at decision time; the mount comes up read-only.
    p = env.mountpoint("ro")
    env.mount(ro, p)
    check("ro" in mounted_at(p)[-1][5].split(","), "read-only medium mounted read-write")
    e = errno_of(lambda: open(os.path.join(p, "x"), "wb").write(b"x"))
    check(e == errno.EROFS, f"write to the read-only medium gave errno {e}")
    env.umount(p)

    # Read-write: audited.
    p = env.mountpoint("rw")
    env.mount(rw, p)
    drv.wait_for(lambda o: o.get("driver") == "audit-added" and o.get("target") == p, 10, "audit of the rw medium")
    with open(os.path.join(p, "report.csv"), "wb") as f:
        f.write(b"id,name\n1,tanaka\n")
    ev = drv.wait_for(lambda o: o.get("event", {}).get("action") == "file-written", 10, "file-written")[-1]
    check(ev["file"]["path"] == "/report.csv", f"{ev['file']}")
    env.umount(p)

    # Blocked: detached (and read-only underneath).
    p = env.mountpoint("blk")
    env.mount(blk, p, "exfat", check=False)
    wait_until(lambda: not mounted_at(p), 10, "the blocked medium to be detached")
    ev = drv.wait_for(lambda o: o.get("event", {}).get("action") == "mount-blocked", 10, "mount-blocked")[-1]
    check(ev["mnguard"]["rule"] == "default" and ev["device"]["devnode"] == blk, f"{ev}")
    drv.quit()
    log("removable patterns: loop devices classified, decided and enforced")


if __name__ == "__main__":
    main()
