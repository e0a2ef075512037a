#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The mount guard on real loop devices: a blocked medium mounted by hand is denied (EPERM, files and
directories) and detached; mount-blocked and aggregated file-open-denied are recorded; a device
blocked after it was mounted is handled the same way; unblocking lets opens through again; ext4 and
exfat-fuse (fuseblk with the device as source)."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from blocktest import (EPERM, Env, check, errno_of, log, mounted_at, run, sys_mount,  # noqa: E402
                       wait_until)

FILES = {"a.txt": b"secret resident data\n", "dir/b.txt": b"more\n"}


def denied_total(drv, dev):
    return sum(e["mnguard"]["denied"] for e in drv.events("file-open-denied")
               if e.get("device", {}).get("devnode") == dev)


def expect_denied(drv, dev, before, n, what):
    drv.command("flush")
    wait_until(lambda: denied_total(drv, dev) >= before + n, 10, f"file-open-denied for {what}")
    drv.command("flush")
    got = denied_total(drv, dev) - before
    check(got == n, f"{what}: {got} denials recorded, {n} made")


def denied_reads(dir_fd, n):
    """n opens of a file and one of a directory through an fd on the detached mount: all EPERM."""
    for _ in range(n):
        e = errno_of(lambda: os.open("a.txt", os.O_RDONLY, dir_fd=dir_fd))
        check(e == EPERM, f"open of a file on blocked media gave errno {e}, not EPERM")
    e = errno_of(lambda: os.open("dir", os.O_RDONLY | os.O_DIRECTORY, dir_fd=dir_fd))
    check(e == EPERM, f"open of a directory on blocked media gave errno {e}, not EPERM")
    # And an ordinary program reading it.
    r = subprocess.run(["cat", f"/proc/self/fd/{dir_fd}/a.txt"], pass_fds=(dir_fd,),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(r.returncode != 0 and "Operation not permitted" in r.stderr and not r.stdout,
          f"cat on blocked media: rc {r.returncode}, stdout {r.stdout!r}, stderr {r.stderr!r}")
    return n + 2


def check_mount_blocked(drv, dev, point, fstype):
    evs = drv.wait_for(lambda o: o.get("event", {}).get("action") == "mount-blocked"
                       and o.get("mount", {}).get("point") == point, 10, f"mount-blocked for {point}")
    ev = evs[-1]
    check(ev["event"]["outcome"] == "success", f"mount-blocked outcome: {ev}")
    check(ev["device"]["devnode"] == dev, f"mount-blocked device: {ev['device']}")
    check(ev["mount"]["fs_type"] == fstype, f"mount-blocked fs_type: {ev['mount']}")
    check(ev["mnguard"]["rule"] == "test-block", f"mount-blocked rule: {ev}")
    return ev


def fresh_mount_ext4(env, drv, dev):
    """mount(2) of the blocked medium, an fd taken on it at once (the test wins that race against
    the guard: it is the next system call), then the guard denies and detaches it."""
    st_dev = os.stat(dev).st_rdev
    for attempt in range(10):
        point = env.mountpoint(f"fresh{attempt}")
        sys_mount(dev, point, "ext4")
        fd = os.open(point, os.O_PATH | os.O_DIRECTORY)
        blocked = drv.wait_for(lambda o: o.get("driver") == "blocked" and o.get("target") == point, 10,
                               f"the guard to block {point}")[-1]
        wait_until(lambda: not mounted_at(point), 5, f"{point} to be detached")
        check(blocked["mark_error"] == 0 and blocked["detach_error"] == 0, f"block failed: {blocked}")
        check(blocked["marked_usec"] <= blocked["detached_usec"], "detached before the deny mark went in")
        check_mount_blocked(drv, dev, point, "ext4")
        if os.fstat(fd).st_dev == st_dev:
            before = denied_total(drv, dev)
            n = denied_reads(fd, 20)
            expect_denied(drv, dev, before, n, "a fresh mount")
            os.close(fd)
            log(f"fresh mount: denied and detached, window {blocked['marked_usec'] - blocked['seen_usec']} µs "
                f"after the guard woke (attempt {attempt})")
            return
        os.close(fd)  # the guard was faster than our next system call: try again
    raise AssertionError("could not take an fd on a fresh mount before the guard detached it")


def by_hand(env, drv, dev, fs, fstype):
    """mount(8) as a user would: it says it worked, then the mount is gone and nothing is read."""
    point = env.mountpoint(f"hand-{fs}")
    r = env.mount(dev, point, fs, check=False)
    # mount(8) may already find it detached when it looks again (fuse): either way it must be gone.
    wait_until(lambda: not mounted_at(point), 5, f"{point} (mounted by hand) to be detached")
    check_mount_blocked(drv, dev, point, fstype)
    e = errno_of(lambda: open(os.path.join(point, "a.txt"), "rb").read())
    check(e != 0, "the file of a blocked medium was readable at its mount point")
    log(f"{fs}: mount(8) rc {r.returncode}, mount gone, read failed with errno {e}")


def blocked_after_mount(env, drv, dev, fs, fstype):
    """The mount won the race against the decision: blocking the device later denies and detaches."""
    point = env.mountpoint(f"late-{fs}")
    env.mount(dev, point, fs)
    drv.wait_for(lambda o: o.get("driver") == "mounted" and o.get("target") == point, 10, f"{point} reported")
    fd = os.open(point, os.O_PATH | os.O_DIRECTORY)
    with open(os.path.join(point, "a.txt"), "rb") as f:
        check(f.read() == FILES["a.txt"], "allowed medium not readable before blocking")
    r = drv.command(f"block {dev}")
    check(r["error"] == 0, f"block: {r}")
    # Done before the command returned: detached, and denied through the fd still held.
    check(not mounted_at(point), f"{point} still mounted after block")
    check_mount_blocked(drv, dev, point, fstype)
    # The caller was told it was mounted: it is told it went (the daemon stops auditing it there).
    drv.wait_for(lambda o: o.get("driver") == "unmounted" and o.get("target") == point, 10,
                 f"{point} reported gone")
    before = denied_total(drv, dev)
    n = denied_reads(fd, 5)
    expect_denied(drv, dev, before, n, f"{fs} blocked after mount")

    ev = [e for e in drv.events("file-open-denied") if e.get("device", {}).get("devnode") == dev][-1]
    check(ev["mount"]["point"] == point and ev["mount"]["fs_type"] == fstype, f"file-open-denied mount: {ev}")
    check(ev["process"]["pid"] > 0 and ev["user"]["id"] == 0, f"file-open-denied process/user: {ev}")
    check(ev["file"]["path"].endswith("a.txt") or ev["file"]["path"].endswith("dir"),
          f"file-open-denied sample path: {ev['file']}")

    # Unblocked: opens through the same fd work again (the mark is taken off at the first one).
    r = drv.command(f"unblock {dev}")
    check(r["error"] == 0, f"unblock: {r}")
    ffd = os.open("a.txt", os.O_RDONLY, dir_fd=fd)
    check(os.read(ffd, 100) == FILES["a.txt"], "unblocked medium not readable")
    os.close(ffd)
    os.close(fd)
    log(f"{fs}: blocked after mount: detached, {n} opens denied, readable again once unblocked")


def main():
    env = Env()
    img = env.image("blk.img", "ext4", label="MNBLOCK")
    env.populate(img, "ext4", FILES)
    ximg = env.image("blkx.img", "exfat", label="MNBLKX")
    env.populate(ximg, "exfat", FILES)
    dev = env.loop(img)
    xdev = env.loop(ximg)

    drv = env.driver(["--block", dev, "--block", xdev, "--deny-window-ms", "200"])
    fresh_mount_ext4(env, drv, dev)
    by_hand(env, drv, dev, "ext4", "ext4")
    by_hand(env, drv, xdev, "exfat", "fuseblk")
    r = drv.command(f"unblock {dev}")
    check(r["error"] == 0, f"unblock {dev}: {r}")
    r = drv.command(f"unblock {xdev}")
    check(r["error"] == 0, f"unblock {xdev}: {r}")
    blocked_after_mount(env, drv, dev, "ext4", "ext4")
    blocked_after_mount(env, drv, xdev, "exfat", "fuseblk")

    # An allowed medium is left alone.
    point = env.mountpoint("allowed")
    env.mount(dev, point)
    drv.wait_for(lambda o: o.get("driver") == "mounted" and o.get("target") == point, 10, "allowed mount reported")
    with open(os.path.join(point, "a.txt"), "rb") as f:
        check(f.read() == FILES["a.txt"], "allowed medium not readable")
    env.umount(point)
    drv.wait_for(lambda o: o.get("driver") == "unmounted" and o.get("target") == point, 10, "unmount reported")

    drv.command("stats")
    stats = drv.wait_for(lambda o: o.get("driver") == "stats", 5, "stats")[-1]
    check(stats["block_failures"] == 0, f"failures: {stats}")
    drv.quit()
    log("mount guard: ok")


if __name__ == "__main__":
    main()
