#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Responder console benchmark (issue 12): the latency of the console's API pages over real HTTPS with a
signed-in session, against the real collector on a database of HOSTS terminals and EVENTS records (seeded
through the enrollment and bulk ingest paths by bench-console-seed). Prints "name value unit":

  console-seed-{enroll,build}                      seeding speed
  console-<page>-<backend>-p50 / -max  ms          each page, REPEAT times (different hosts, users, devices)

Pages: hosts (by name, by last seen, by events of the last 24 h, a search, silent only), one host's timeline
(newest first; and filtered by action), a device and a user across all hosts, the policy serials, the access
log, the evidence export of one host.

Usage: bench-console.py BUILD_DIR. Sizes: BENCH_CONSOLE_EVENTS (10,000,000), BENCH_CONSOLE_HOSTS (10,000),
BENCH_CONSOLE_REPEAT (20); BENCH_CONSOLE_BACKENDS=sqlite,postgresql picks backends (BENCH_CONSOLE_PG=0 skips
PostgreSQL). Everything lives in a temporary directory."""

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "build"))
sys.path.insert(0, os.path.join(here, "..", "console"))
os.environ.setdefault("MNGUARD_COLLECTOR", os.path.join(build, "collector", "mnguard-collector"))
import consoletest as cs  # noqa: E402

SEED = os.path.join(build, "tests", "bench", "bench-console-seed")
EVENTS = int(os.environ.get("BENCH_CONSOLE_EVENTS", "10000000"))
HOSTS = int(os.environ.get("BENCH_CONSOLE_HOSTS", "10000"))
REPEAT = int(os.environ.get("BENCH_CONSOLE_REPEAT", "20"))
PASSWORD = "bench-password-123"


def log(msg):
    print("# " + msg, file=sys.stderr, flush=True)


def host_id(n):
    # as ct_host_id() in tests/collector/collector-test-util.c
    return "%08x%08x%08x%08x" % (0x5f0c2a8e, n, 0x1f8a3c6b, (n * 2654435761) & 0xffffffff)


def pages(rng):
    """(name, path) for one round; a different host, user and device each time."""
    h = host_id(rng.randrange(HOSTS))
    user = "user%02d" % rng.randrange(40)
    device = "4C5300012301%08d" % rng.randrange(500)
    return [
        ("hosts-by-name", "/v1/console/hosts?sort=name&offset=%d" % (rng.randrange(max(1, HOSTS // 100)) * 100)),
        ("hosts-by-last-seen", "/v1/console/hosts?sort=last_seen&order=desc"),
        ("hosts-by-events-24h", "/v1/console/hosts?sort=events_24h&order=desc"),
        ("hosts-search", "/v1/console/hosts?q=pc-0%d" % rng.randrange(10, 99)),
        ("hosts-silent", "/v1/console/hosts?silent=1"),
        ("timeline", "/v1/events?order=desc&limit=100&host=" + h),
        ("timeline-action", "/v1/events?order=desc&limit=100&action=device-blocked&host=" + h),
        ("device-all-hosts", "/v1/events?order=desc&limit=100&device=" + device),
        ("user-all-hosts", "/v1/events?order=desc&limit=100&user=" + user),
        ("serials", "/v1/console/serials"),
        ("access-log", "/v1/console/access?limit=100"),
        ("export-host", "/v1/console/export?host=" + h),
    ]


def seed(con, name):
    """Fills the storage (bench-console-seed) and, for PostgreSQL, does what autovacuum does after such a
    load (statistics, visibility map: without them the planner knows nothing of the new rows)."""
    now = int(time.time() * 1000000)
    storage = con.c.storage or "sqlite:" + os.path.join(con.c.dir, "collector.db")
    log(f"{name}: seeding {HOSTS} hosts, {EVENTS} events")
    out = subprocess.run([SEED, storage, str(EVENTS), str(HOSTS), str(now)], check=True, capture_output=True, text=True)
    sys.stdout.write(out.stdout)
    sys.stdout.flush()
    return now


def analyze(con, name):
    if con.pg:
        t = time.monotonic()
        con.pg.sql("VACUUM ANALYZE")
        print(f"console-seed-analyze-{name} {time.monotonic() - t:.1f} s", flush=True)


def measure(con, name):
    """Starts the collector, signs in, times every page REPEAT times; prints the figures."""
    p = con.operator_add("bench", "auditor", PASSWORD)
    assert p.returncode == 0, p.stderr
    con.start()
    s = cs.Session(con)
    status, reply = s.login("bench", PASSWORD)
    assert status == 200, reply
    rng = random.Random(42)
    times, sizes = {}, {}
    for _ in range(REPEAT):
        for page, path in pages(rng):
            t = time.monotonic()
            status, hdrs, data = s.get(path)
            times.setdefault(page, []).append((time.monotonic() - t) * 1000)
            assert status == 200, (path, status, data[:300])
            sizes.setdefault(page, []).append(len(data))
    for page, ms in times.items():
        ms.sort()
        print(f"console-{page}-{name}-p50 {statistics.median(ms):.1f} ms")
        print(f"console-{page}-{name}-max {ms[-1]:.1f} ms")
        print(f"console-{page}-{name}-bytes {int(statistics.median(sizes[page]))} B")
    sys.stdout.flush()
    s.close()


def run(name, work):
    con = cs.Console(work, name)        # a private PostgreSQL cluster for "postgresql"
    try:
        seed(con, name)
        analyze(con, name)
        measure(con, name)
    finally:
        con.stop()


def main():
    if not os.access(SEED, os.X_OK):
        print(f"bench-console: {SEED} not built", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="mnguard-bench-console-") as base:
        os.chmod(base, 0o755)           # the PostgreSQL cluster below runs as user postgres
        wanted = os.environ.get("BENCH_CONSOLE_BACKENDS", "sqlite,postgresql").split(",")
        backends = ["sqlite"] if "sqlite" in wanted else []
        if "postgresql" in wanted and os.environ.get("BENCH_CONSOLE_PG", "1") != "0":
            why = cs.ct.Postgres.available()
            if why:
                log("PostgreSQL skipped: " + why)
            else:
                backends.append("postgresql")
        for name in backends:
            work = os.path.join(base, name)
            os.makedirs(work)
            run(name, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
