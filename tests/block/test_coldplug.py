#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Coldplug: media mounted before the guard starts. A blocked medium already mounted is denied and
detached when the driver starts (through an fd held on the old mount: EPERM); an allowed read-write
medium already mounted is audited from the start. ext4 and exfat-fuse."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from blocktest import EPERM, Env, check, errno_of, log, mounted_at, sha256_of, wait_until  # noqa: E402

SECRET = b"resident register extract\n"


def main():
    env = Env()
    blocked = {}
    for fs in ("ext4", "exfat"):
        img = env.image(f"cold-blk-{fs}.img", fs, label="MNCOLD")
        env.populate(img, fs, {"a.txt": SECRET})
        dev = env.loop(img)
        point = env.mountpoint(f"cold-blk-{fs}")
        env.mount(dev, point, fs)
        fd = os.open(point, os.O_PATH | os.O_DIRECTORY)
        blocked[fs] = (dev, point, fd)

    rw_img = env.image("cold-rw.img", "ext4", label="MNCOLDRW")
    rw_dev = env.loop(rw_img)
    rw_point = env.mountpoint("cold-rw")
    env.mount(rw_dev, rw_point)
    with open(os.path.join(rw_point, "before.txt"), "wb") as f:
        f.write(b"written before the guard started: not recorded\n")

    args = ["--audit", rw_dev, "--deny-window-ms", "100"]
    for dev, _, _ in blocked.values():
        args += ["--block", dev]
    drv = env.driver(args)

    # Ready means coldplug is done: the blocked mounts are gone already.
    for fs, (dev, point, fd) in blocked.items():
        check(not mounted_at(point), f"{fs}: {point} still mounted after the guard started")
        ev = [e for e in drv.events("mount-blocked") if e["mount"]["point"] == point]
        check(len(ev) == 1 and ev[0]["event"]["outcome"] == "success" and ev[0]["mount"]["coldplug"] is True
              and ev[0]["device"]["devnode"] == dev, f"{fs}: mount-blocked {ev}")
        e = errno_of(lambda: os.open("a.txt", os.O_RDONLY, dir_fd=fd))
        check(e == EPERM, f"{fs}: open on a coldplugged blocked medium gave errno {e}")
        os.close(fd)
        drv.wait_for(lambda o, p=point: o.get("event", {}).get("action") == "file-open-denied"
                     and o["mount"]["point"] == p, 10, f"file-open-denied for {point}")
        log(f"{fs}: mounted before the guard: detached at start, open denied")

    added = [o for o in drv.lines if o.get("driver") == "audit-added" and o.get("target") == rw_point]
    check(len(added) == 1 and added[0]["coldplug"] is True and added[0]["error"] == 0, f"audit-added: {added}")
    data = os.urandom(300 * 1024)
    path = os.path.join(rw_point, "after.bin")
    with open(path, "wb") as f:
        f.write(data)
    ev = drv.wait_for(lambda o: o.get("event", {}).get("action") == "file-written"
                      and o.get("file", {}).get("path") == "/after.bin", 10, "file-written for /after.bin")[-1]
    check(ev["file"]["hash"]["sha256"] == sha256_of(path) and ev["file"]["size"] == len(data), f"{ev['file']}")
    check(not [e for e in drv.events("file-written") if e["file"].get("path") == "/before.txt"],
          "a write from before the audit started was recorded")
    env.umount(rw_point)
    done = drv.wait_for(lambda o: o.get("driver") == "audit-done", 10, "audit summary")[-1]["mnguard"]
    check(done["files_written"] == 1 and done["bytes_written"] == len(data), f"summary {done}")
    log("read-write medium mounted before the guard: audited from the start")
    drv.quit()
    log("coldplug: ok")


if __name__ == "__main__":
    main()
