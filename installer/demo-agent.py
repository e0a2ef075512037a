#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The demo's simulated terminal: a umockdev testbed with the demo devices and the real mnguardd on it.

  demo-agent.py --mnguardd PATH --devices FILE --dir DIR [--timeout SEC]

DIR holds etc/ (policy.yaml, agent.conf), state/ and run/ for the daemon, and mnguardd.log. The daemon
is started with umockdev's preload library, so /sys and the uevents it sees are the testbed's; it never
touches this machine's devices. Prints "ready TESTBED_DIR" once the daemon sent READY=1 (coldplug done),
then reads one command per line on stdin and answers one line on stdout:

  plug PORT SERIAL EXPECT   a USB stick (0781:5581) appears at PORT (e.g. 1-9); answers once its
                            sysfs "authorized" reads EXPECT ("ok authorized=EXPECT")
  unplug PORT               the stick is removed ("ok")
  authorized PATH           prints the "authorized" value of PATH below the root hub (e.g. 1-1)
  await PATH EXPECT         answers once that value reads EXPECT ("ok authorized=EXPECT"): the daemon
                            acting on something else than a plug (a new policy)
  stop                      SIGTERM to the daemon; answers "stopped STATUS" and exits

Any failure is answered with "error MESSAGE" (the daemon's log is printed on stderr) and ends the helper.
Used by installer/demo.sh (run it from there)."""

import argparse
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time

import gi

gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev  # noqa: E402

HUB = "/sys/devices/pci0000:00/0000:00:14.0/usb1"
PRELOAD = "libumockdev-preload.so.0"

# The sysfs "descriptors" of a SanDisk Cruzer Blade as the kernel shows them: device (18 bytes), then
# configuration 1 with one mass-storage interface (08/06/50, bulk-only) and its two bulk endpoints. The
# daemon reads them for a device just plugged in (its interfaces may not all be in sysfs yet).
STICK_DESCRIPTORS = bytes.fromhex(
    "12 01 00 02 00 00 00 40 81 07 81 55 00 01 01 02 03 01"  # device 0781:5581, one configuration
    " 09 02 20 00 01 01 00 80 32"                             # configuration 1: 32 bytes, one interface
    " 09 04 00 00 02 08 06 50 00"                             # interface 0: storage, SCSI, bulk-only
    " 07 05 81 02 00 02 00 07 05 02 02 00 02 00")             # bulk IN, bulk OUT


def stick_record(dev, port, serial):
    """A USB stick (0781:5581) at dev with one mass-storage interface, in umockdev-record's format. Only the
    properties a kernel uevent has (SUBSYSTEM, DEVTYPE, DEVNAME, …): what udev adds (ID_*) is left out."""
    return "\n".join([
        f"P: {dev[4:]}",
        "E: SUBSYSTEM=usb", "E: DEVTYPE=usb_device", "E: DEVNAME=/dev/bus/usb/001/029", "E: BUSNUM=001",
        "E: DEVNUM=029", "E: PRODUCT=781/5581/100",
        "A: idVendor=0781", "A: idProduct=5581", f"A: serial={serial}", "A: manufacturer=SanDisk",
        "A: product=Cruzer Blade", "A: bDeviceClass=00", "A: bNumInterfaces= 1", "A: bConfigurationValue=1",
        "A: authorized=1", "A: busnum=1", "A: devnum=29", "H: descriptors=" + STICK_DESCRIPTORS.hex().upper(),
        "",
        f"P: {dev[4:]}/{port}:1.0",
        "E: SUBSYSTEM=usb", "E: DEVTYPE=usb_interface", "E: INTERFACE=8/6/80", "E: PRODUCT=781/5581/100",
        "A: bInterfaceClass=08", "A: bInterfaceSubClass=06", "A: bInterfaceProtocol=50", "A: bInterfaceNumber=00",
        "A: authorized=1",
        "", ""])


def die_with_parent():
    """SIGTERM to this process when its parent goes, whatever killed it (prctl PR_SET_PDEATHSIG); it is
    kept across exec. Returns False when the parent is already gone."""
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    return os.getppid() == parent


def fail(msg, log=None):
    if log and os.path.exists(log):
        with open(log, errors="replace") as f:
            sys.stderr.write(f.read()[-4000:])
    print(f"error {msg}", flush=True)
    sys.exit(1)


def wait_for(cond, timeout):
    """A condition on files the daemon writes (no event tells when a sysfs file changed): checked often,
    with a deadline."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mnguardd", required=True)
    ap.add_argument("--devices", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--timeout", type=float, default=30)
    a = ap.parse_args()
    # demo.sh gone (even killed with SIGKILL): SIGTERM, which unwinds main() below like SystemExit,
    # stopping the daemon and freeing the testbed (its directory goes with it).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if not die_with_parent():
        return 1

    tb = UMockdev.Testbed.new()
    if not tb.add_from_file(a.devices):
        fail(f"cannot load {a.devices}")
    sysdir = tb.get_sys_dir()
    log = os.path.join(a.dir, "mnguardd.log")
    notify = os.path.join(a.dir, "notify.sock")
    if os.path.exists(notify):
        os.unlink(notify)
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(notify)

    env = dict(os.environ)
    preload = env.get("LD_PRELOAD", "")
    env["LD_PRELOAD"] = f"{PRELOAD} {preload}".strip() if PRELOAD not in preload else preload
    env["UMOCKDEV_DIR"] = tb.get_root_dir()
    env["NOTIFY_SOCKET"] = notify
    env.setdefault("MNGUARD_MACHINE_ID_FILE", os.path.join(a.dir, "machine-id"))
    if not os.path.exists(env["MNGUARD_MACHINE_ID_FILE"]):
        with open(env["MNGUARD_MACHINE_ID_FILE"], "w") as f:
            f.write("d3m0d3m0d3m0d3m0d3m0d3m0d3m0d3m0\n")
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [a.mnguardd, "--config-dir", os.path.join(a.dir, "etc"), "--state-dir", os.path.join(a.dir, "state"),
             "--runtime-dir", os.path.join(a.dir, "run")],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent)  # this helper gone, whatever killed it: the daemon stops too

    def stop():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(a.timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def run():
        deadline = time.monotonic() + a.timeout
        ready = False
        while not ready:
            left = deadline - time.monotonic()
            if left <= 0:
                stop()
                fail("mnguardd did not report READY=1 in time", log)
            if proc.poll() is not None:
                fail(f"mnguardd exited with status {proc.returncode}", log)
            ns.settimeout(min(left, 0.5))
            try:
                ready = "READY=1" in ns.recv(4096).decode(errors="replace").split("\n")
            except socket.timeout:
                pass
        ns.close()
        os.unlink(notify)
        print(f"ready {tb.get_root_dir()}", flush=True)

        def authorized(rel):
            try:
                with open(f"{sysdir}{HUB[4:]}/{rel}/authorized") as f:
                    return f.read().strip()
            except OSError:
                return None

        sticks = {}
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            cmd, args = words[0], words[1:]
            if proc.poll() is not None:
                fail(f"mnguardd exited with status {proc.returncode}", log)
            if cmd == "plug" and len(args) == 3:
                port, serial, expect = args
                # One record (umockdev-record's format) for the device and its interface: add_from_string
                # sends no uevent, so the "add" below finds both and the descriptors in place, as the kernel's
                # does (add_device would announce the device before its interface and descriptors exist).
                dev = f"{HUB}/{port}"
                # umockdev leaves the /sys/bus/usb/devices links of a removed device behind, and aborts when
                # a device comes again at the same place: they go first.
                for name in (port, f"{port}:1.0"):
                    link = os.path.join(sysdir, "bus", "usb", "devices", name)
                    if os.path.islink(link) and not os.path.exists(link):
                        os.unlink(link)
                if not tb.add_from_string(stick_record(dev, port, serial)):
                    stop()
                    fail(f"cannot add a stick at {port}", log)
                sticks[port] = dev
                tb.uevent(dev, "add")
                if not wait_for(lambda: authorized(port) == expect, a.timeout):
                    stop()
                    fail(f"the stick at {port} did not become authorized={expect} (it is {authorized(port)})", log)
                print(f"ok authorized={expect}", flush=True)
            elif cmd == "unplug" and len(args) == 1 and args[0] in sticks:
                dev = sticks.pop(args[0])
                tb.uevent(dev, "remove")
                tb.remove_device(dev)
                print("ok", flush=True)
            elif cmd == "authorized" and len(args) == 1:
                print(authorized(args[0]), flush=True)
            elif cmd == "await" and len(args) == 2:
                port, expect = args
                if not wait_for(lambda: authorized(port) == expect, a.timeout):
                    stop()
                    fail(f"{port} did not become authorized={expect} (it is {authorized(port)})", log)
                print(f"ok authorized={expect}", flush=True)
            elif cmd == "stop":
                print(f"stopped {stop()}", flush=True)
                return 0
            else:
                stop()
                fail(f"unknown command: {line.strip()}")
        stop()
        return 0


    try:
        return run()
    finally:
        stop()  # on every way out (a failure, SIGTERM): the daemon does not outlive this helper

if __name__ == "__main__":
    sys.exit(main())
