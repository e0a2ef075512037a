#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The write audit on real loop devices: files copied to an allowed read-write medium give
file-written with the right SHA-256 (checked against sha256sum), size, user and process; a file above
the hash cap is recorded with hash_skipped; renames and deletes are recorded; a burst of small files
gives one file-written each and loses none; the summary at unmount adds up. ext4 (fanotify filesystem
mark, FID mode) and exfat-fuse (the FUSE fallback)."""

import hashlib
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from blocktest import Env, check, log, run, sha256_of, wait_until  # noqa: E402

HASH_MAX = 1024 * 1024
BURST_EXT4 = 10000
BURST_EXFAT = 10000


def make_sources(env):
    src = env.mountpoint("src")
    files = {
        "empty.bin": b"",
        "one.txt": b"x",
        "住民票 控え.txt": "マイナンバー 123456789018\n".encode() * 100,
        "random-100k.bin": os.urandom(100 * 1024),
        "sub/random-700k.bin": os.urandom(700 * 1024),
        "sub/big-over-cap.bin": os.urandom(2 * 1024 * 1024),
    }
    for rel, data in files.items():
        p = os.path.join(src, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
    return src, files


def written(drv, path):
    return [e for e in drv.events("file-written") if e.get("file", {}).get("path") == path]


def copy_and_check(env, drv, point, src, files):
    run("cp", "-r", src + "/.", point)
    evs = {}
    for rel, data in files.items():
        path = "/" + rel
        evs[rel] = drv.wait_for(lambda o, p=path: o.get("event", {}).get("action") == "file-written"
                                and o.get("file", {}).get("path") == p, 20, f"file-written for {path}")[-1]
    for rel, data in files.items():
        ev, f = evs[rel], evs[rel]["file"]
        check(f["name"] == os.path.basename(rel), f"name: {f}")
        check(f["size"] == len(data), f"{rel}: size {f['size']}, written {len(data)}")
        check(f["uid"] == 0, f"{rel}: file uid {f}")
        if len(data) > HASH_MAX:
            check(f.get("hash_skipped") is True and "hash" not in f, f"{rel} above the cap: {f}")
        else:
            want = sha256_of(os.path.join(src, rel))
            check(f.get("hash", {}).get("sha256") == want, f"{rel}: sha256 {f.get('hash')}, sha256sum {want}")
            check(sha256_of(os.path.join(point, rel)) == want, f"{rel}: the medium holds something else")
        check(ev["event"]["outcome"] == "success", f"{rel}: {ev['event']}")
        check(ev["process"]["pid"] > 0, f"{rel}: process {ev['process']}")
        if "executable" in ev["process"]:
            check(os.path.basename(ev["process"]["executable"]) == "cp", f"{rel}: process {ev['process']}")
        if "user" in ev:
            check(ev["user"] == {"id": 0, "name": "root"}, f"{rel}: user {ev['user']}")
        check(ev["mnguard"]["rule"] == "test-read-write", f"{rel}: {ev['mnguard']}")
    check(any("executable" in evs[r]["process"] for r in evs), "no file-written event named its process")
    log(f"copied {len(files)} files: sizes, SHA-256 (sha256sum), hash_skipped above {HASH_MAX} bytes, process, user")


def rename_and_delete(drv, point, dirname):
    """dirname: a directory that exists on the medium (a new one for ext4, one made before the audit
    started for FUSE, whose directories are marked one by one)."""
    with open(os.path.join(point, "moved.txt"), "wb") as f:
        f.write(b"to be moved\n")
    drv.wait_for(lambda o: o.get("event", {}).get("action") == "file-written"
                 and o.get("file", {}).get("path") == "/moved.txt", 10, "file-written for /moved.txt")
    os.rename(os.path.join(point, "moved.txt"), os.path.join(point, dirname, "moved-again.txt"))
    ren = drv.wait_for(lambda o: o.get("event", {}).get("action") == "file-renamed", 10, "file-renamed")[-1]
    check(ren["file"]["old_path"] == "/moved.txt" and ren["file"]["path"] == f"/{dirname}/moved-again.txt"
          and ren["file"]["type"] == "file", f"file-renamed: {ren['file']}")

    os.unlink(os.path.join(point, dirname, "moved-again.txt"))
    os.mkdir(os.path.join(point, "gone"))
    os.rmdir(os.path.join(point, "gone"))
    dels = drv.wait_for(lambda o: o.get("event", {}).get("action") == "file-deleted", 10, "file-deleted", count=2)
    byp = {d["file"]["path"]: d for d in dels}
    check(byp.get(f"/{dirname}/moved-again.txt", {}).get("file", {}).get("type") == "file", f"file-deleted: {dels}")
    check(byp.get("/gone", {}).get("file", {}).get("type") == "dir", f"directory deleted: {dels}")
    # In order: written, renamed, deleted.
    seq = [o for o in drv.lines if o.get("event", {}).get("action", "").startswith("file-")]
    i_w = max(i for i, o in enumerate(seq) if o["event"]["action"] == "file-written" and o["file"]["path"] == "/moved.txt")
    i_r = seq.index(ren)
    i_d = seq.index(byp[f"/{dirname}/moved-again.txt"])
    check(i_w < i_r < i_d, f"events out of order: written {i_w}, renamed {i_r}, deleted {i_d}")
    log("rename and deletes recorded, in order")


def burst(drv, point, n):
    d = os.path.join(point, "burst")
    os.mkdir(d)
    want = {}
    t0 = time.monotonic()
    for i in range(n):
        data = f"file {i} of the burst\n".encode()
        fd = os.open(os.path.join(d, f"f{i:05d}"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, data)
        os.close(fd)
        want[f"/burst/f{i:05d}"] = hashlib.sha256(data).hexdigest()
    t1 = time.monotonic()
    pred = lambda o: (o.get("event", {}).get("action") == "file-written"  # noqa: E731
                      and o.get("file", {}).get("path", "").startswith("/burst/"))
    evs = drv.wait_for(pred, 90, f"{n} file-written events of the burst", count=n)
    t2 = time.monotonic()
    got = {}
    for e in evs:
        p = e["file"]["path"]
        check(p not in got, f"{p} recorded twice")
        got[p] = e["file"].get("hash", {}).get("sha256")
    check(len(got) == n and got == want, f"burst: {len(got)} recorded of {n}, "
          f"{sum(1 for p in want if got.get(p) != want[p])} missing or with a wrong hash")
    check(not drv.events("file-audit-overflow"), "the kernel queue overflowed")
    log(f"burst of {n} files: all recorded with the right SHA-256; written in {t1 - t0:.2f}s, "
        f"all events out {t2 - t0:.2f}s after the first write ({n / (t2 - t0):.0f} files/s)")
    return n


def summary_check(drv, point):
    done = drv.wait_for(lambda o: o.get("driver") == "audit-done" and o.get("target") == point, 30,
                        f"the audit summary of {point}")[-1]["mnguard"]
    w = [e for e in drv.events("file-written") if e["mount"]["point"] == point]
    check(done["files_written"] == len(w), f"summary files_written {done['files_written']}, events {len(w)}")
    check(done["bytes_written"] == sum(e["file"].get("size", 0) for e in w), f"summary bytes: {done}")
    check(done["files_renamed"] == len([e for e in drv.events("file-renamed") if e["mount"]["point"] == point]),
          f"summary renames: {done}")
    check(done["files_deleted"] == len([e for e in drv.events("file-deleted") if e["mount"]["point"] == point]),
          f"summary deletes: {done}")
    check(done["hash_skipped"] == 1 and done["hash_failed"] == 0 and done["events_lost"] == 0, f"summary: {done}")
    log(f"summary at unmount: {done}")


def audit_medium(env, fs, label, burst_n):
    img = env.image(f"rw-{fs}.img", fs, size_mb=64 if fs == "ext4" else 128, label=label,
                    extra=("-b", "1024", "-N", "16384") if fs == "ext4" else ())
    if fs == "exfat":
        env.populate(img, fs, {"olddir/keep.txt": b"there before\n"})
    dev = env.loop(img)
    drv = env.driver(["--audit", dev, "--hash-max", str(HASH_MAX)])
    point = env.mountpoint(f"rw-{fs}")
    env.mount(dev, point, fs)
    added = drv.wait_for(lambda o: o.get("driver") == "audit-added" and o.get("target") == point, 10,
                         "the audit to start")[-1]
    check(added["error"] == 0, f"audit-added: {added}")
    check(added["fuse"] == (fs == "exfat"), f"fuse fallback: {added}")
    check(not added.get("dirent_unsupported"), f"deletes and renames not audited on this kernel: {added}")

    src, files = make_sources(env)
    copy_and_check(env, drv, point, src, files)
    rename_and_delete(drv, point, "sub" if fs == "ext4" else "olddir")
    burst(drv, point, burst_n)
    env.umount(point)
    summary_check(drv, point)
    drv.command("stats")
    st = drv.wait_for(lambda o: o.get("driver") == "stats", 5, "stats")[-1]
    log(f"{fs}: stats {st}")
    drv.quit()
    env.detach(dev)


def main():
    env = Env()
    audit_medium(env, "ext4", "MNRW", BURST_EXT4)
    audit_medium(env, "exfat", "MNRWX", BURST_EXFAT)
    log("write audit: ok")


if __name__ == "__main__":
    main()
