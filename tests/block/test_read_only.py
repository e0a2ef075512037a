#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""BLKROSET on a disk and its partitions (block-enforce), on real loop devices: set before the mount,
mount(2) read-write is refused, mount(8) falls back to read-only and writes fail with EROFS; a
partition that appears later is read-only too; clearing the flag makes the medium writable again.
ext4 on an MBR partition (partx makes loopNp1: the kernel here parses no partition tables) and
exfat-fuse on a whole disk."""

import errno
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from blocktest import Env, check, errno_of, log, mounted_at, run, sys_mount, wait_until  # noqa: E402


def write_mbr(image, start_sector=2048):
    """One Linux partition from start_sector to the end of the image."""
    size = os.path.getsize(image) // 512
    entry = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x83, b"\0\0\0", start_sector, size - start_sector)
    with open(image, "r+b") as f:
        f.seek(446)
        f.write(entry + b"\0" * 48 + b"\x55\xaa")


def getro(dev):
    return run("blockdev", "--getro", dev).stdout.strip() == "1"


def options(point):
    m = mounted_at(point)
    check(m, f"{point} not mounted")
    return m[-1][5].split(",")


def check_ro_result(rec, names, changed):
    """changed: {name: whether its state changed}."""
    nodes = {n["name"]: n for n in rec["block"]["nodes"]}
    check(set(nodes) == set(names), f"nodes {sorted(nodes)}, expected {sorted(names)}")
    for name in names:
        n = nodes[name]
        check("error" not in n, f"{name}: {n}")
        check(n["after"] == (1 if rec["block"]["read_only"] else 0), f"{name}: {n}")
        check(n["changed"] == changed[name], f"{name} changed {n['changed']}, expected {changed[name]}")
        check(n["partition"] == (name != names[0]), f"{name}: {n}")
    check(rec["error"] == 0, f"error {rec['error']}")


def partitioned_ext4(env, drv):
    img = env.image("part.img", "ext4", size_mb=48)  # overwritten below: mkfs on the partition
    with open(img, "r+b") as f:
        f.write(b"\0" * 1024 * 1024)
    write_mbr(img)
    dev = env.loop(img)
    run("partx", "-a", dev)
    part = dev + "p1"
    wait_until(lambda: os.path.exists(part), 10, f"{part} to appear")
    run("mkfs.ext4", "-q", "-F", "-L", "MNRO", part)
    base = os.path.basename(dev)

    r = drv.command(f"ro {dev}")
    rec = drv.matching(lambda o: o.get("driver") == "ro")[-1]
    check(r["error"] == 0, f"ro: {r}")
    # The partition read as read-only as soon as the disk was: its own flag is set all the same.
    check_ro_result(rec, [base, base + "p1"], {base: True, base + "p1": False})
    check(getro(dev) and getro(part), "BLKROGET does not say read-only")
    run("blockdev", "--setrw", dev)  # someone clears the disk's flag: the partition stays read-only
    check(getro(part), "the partition's own read-only flag was not set")
    run("blockdev", "--setro", dev)

    # Again: nothing changes.
    drv.command(f"ro {dev}")
    check_ro_result(drv.matching(lambda o: o.get("driver") == "ro")[-1], [base, base + "p1"],
                    {base: False, base + "p1": False})

    point = env.mountpoint("ro-ext4")
    e = errno_of(lambda: sys_mount(part, point, "ext4"))
    check(e in (errno.EACCES, errno.EROFS), f"mount(2) read-write of a read-only medium gave errno {e}")
    env.mount(part, point)  # mount(8) falls back to read-only
    check("ro" in options(point), f"mounted {options(point)}, not read-only")
    e = errno_of(lambda: open(os.path.join(point, "new.txt"), "wb").write(b"x"))
    check(e == errno.EROFS, f"write to a read-only medium gave errno {e}")
    env.umount(point)

    # A partition that appears after the flag was set is read-only too (the kernel checks the disk).
    run("partx", "-d", dev)
    wait_until(lambda: not os.path.exists(part), 10, f"{part} to go")
    run("partx", "-a", dev)
    wait_until(lambda: os.path.exists(part), 10, f"{part} to come back")
    check(getro(part), "a partition added to a read-only disk is writable")

    r = drv.command(f"rw {dev}")
    check(r["error"] == 0, f"rw: {r}")
    rec = drv.matching(lambda o: o.get("driver") == "rw")[-1]
    # The partition made anew above never had a flag of its own: clearing the disk's was enough.
    check_ro_result(rec, [base, base + "p1"], {base: True, base + "p1": False})
    check(not getro(dev) and not getro(part), "BLKROSET 0 did not take")
    env.mount(part, point)
    check("rw" in options(point), f"mounted {options(point)}, not read-write")
    with open(os.path.join(point, "new.txt"), "wb") as f:
        f.write(b"writable again\n")
    env.umount(point)
    log(f"ext4 on a partition: read-only mount, EROFS on write, rw again ({rec['changed']} nodes cleared)")
    return dev


def whole_disk_exfat(env, drv):
    img = env.image("ro.exfat", "exfat", label="MNROX")
    env.populate(img, "exfat", {"a.txt": b"registered medium\n"})
    dev = env.loop(img)
    r = drv.command(f"ro {dev}")
    check(r["error"] == 0, f"ro: {r}")
    base = os.path.basename(dev)
    check_ro_result(drv.matching(lambda o: o.get("driver") == "ro")[-1], [base], {base: True})
    r = drv.command(f"getro {dev}")
    check(drv.matching(lambda o: o.get("driver") == "getro")[-1]["read_only"], "getro says writable")

    point = env.mountpoint("ro-exfat")
    env.mount(dev, point, "exfat")
    with open(os.path.join(point, "a.txt"), "rb") as f:
        check(f.read() == b"registered medium\n", "read-only medium not readable")
    e = errno_of(lambda: open(os.path.join(point, "new.txt"), "wb").write(b"x"))
    check(e in (errno.EROFS, errno.EACCES, errno.EPERM), f"write to a read-only exfat medium gave errno {e}")
    check(not os.path.exists(os.path.join(point, "new.txt")), "a file was created on a read-only medium")
    env.umount(point)
    log(f"exfat-fuse on a whole disk: mounted, readable, write failed with errno {e}")


def main():
    env = Env()
    drv = env.driver([])
    partitioned_ext4(env, drv)
    whole_disk_exfat(env, drv)
    # Not a block device.
    r = drv.command(f"ro {env.dir}")
    check(r["error"] == -errno.ENOTBLK, f"ro on a directory: {r}")
    drv.quit()
    log("read-only: ok")


if __name__ == "__main__":
    main()
