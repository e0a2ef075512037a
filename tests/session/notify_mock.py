#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Runs inside dbus-run-session as the session's user: starts python3-dbusmock's notification_daemon
template on that session bus, prints {"address": …} once it owns org.freedesktop.Notifications, then
answers JSON lines on stdin: {"op":"calls"} → the Notify calls so far; {"op":"clear"}."""

import json
import os
import subprocess
import sys

import dbus
from dbusmock import DBusTestCase

MOCK_IFACE = "org.freedesktop.DBus.Mock"


def plain(v):
    if isinstance(v, (dbus.String, str)):
        return str(v)
    if isinstance(v, (dbus.Boolean, bool)):
        return bool(v)
    if isinstance(v, (int, dbus.Byte, dbus.Int16, dbus.Int32, dbus.Int64, dbus.UInt16, dbus.UInt32, dbus.UInt64)):
        return int(v)
    if isinstance(v, (dict, dbus.Dictionary)):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, dbus.Array, dbus.Struct)):
        return [plain(x) for x in v]
    return str(v)


def main():
    proc, obj = DBusTestCase.spawn_server_template("notification_daemon", {}, stdout=subprocess.DEVNULL)
    print(json.dumps({"address": os.environ["DBUS_SESSION_BUS_ADDRESS"]}), flush=True)
    try:
        for line in sys.stdin:
            op = json.loads(line).get("op")
            if op == "calls":
                out = []
                for _ts, method, args in obj.GetCalls(dbus_interface=MOCK_IFACE):
                    if str(method) != "Notify":
                        continue
                    a = plain(args)
                    out.append({"app_name": a[0], "replaces_id": a[1], "icon": a[2], "summary": a[3],
                                "body": a[4], "hints": a[6], "timeout": a[7]})
                print(json.dumps(out, ensure_ascii=False), flush=True)
            elif op == "clear":
                obj.ClearCalls(dbus_interface=MOCK_IFACE)
                print("[]", flush=True)
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
