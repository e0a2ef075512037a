#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Collector benchmarks against the real binary (prints "name value unit"):

  collector-drain-{sqlite,postgresql}        one agent draining a backlog (default 1,000,000 events)
  collector-terminals-{sqlite,postgresql}-*  1,000 terminals posting one event a second each (30 s)
  collector-query-{sqlite,postgresql}-*      one host's 30 days out of 10,000,000 stored events; every host's
                                             30 days for a user or a device serial, first 100 rows
  collector-query-postgresql-analyzed-*      the same after VACUUM ANALYZE

Usage: bench-collector.py BUILD_DIR. Each part is bounded; everything lives in a temporary directory that is
removed afterwards. Sizes: BENCH_COLLECTOR_EVENTS, _TERMINALS, _SECONDS, _QUERY_EVENTS, _QUERY_HOSTS;
BENCH_COLLECTOR_BATCH (records per drain batch, default 5,000 as
the agent's collector.batch-records); BENCH_COLLECTOR_DRAINERS=N (N agents draining at once, EVENTS / N each, and their sum); BENCH_COLLECTOR_PG=0 skips PostgreSQL, BENCH_COLLECTOR_SQLITE=0 SQLite; BENCH_COLLECTOR_PARTS=drain,terminals,query
picks parts; BENCH_COLLECTOR_PG_SETTINGS adds server options to the private cluster (e.g. "-c shared_buffers=1GB")."""

import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "build"))
sys.path.insert(0, os.path.join(here, "..", "collector"))
os.environ.setdefault("MNGUARD_COLLECTOR", os.path.join(build, "collector", "mnguard-collector"))
import collectortest as ct  # noqa: E402

CLIENT = os.path.join(build, "tests", "bench", "bench-collector-client")
QUERY = os.path.join(build, "tests", "bench", "bench-collector-query")
EVENTS = int(os.environ.get("BENCH_COLLECTOR_EVENTS", "1000000"))
TERMINALS = int(os.environ.get("BENCH_COLLECTOR_TERMINALS", "1000"))
SECONDS = int(os.environ.get("BENCH_COLLECTOR_SECONDS", "30"))
QUERY_EVENTS = int(os.environ.get("BENCH_COLLECTOR_QUERY_EVENTS", "10000000"))
QUERY_HOSTS = int(os.environ.get("BENCH_COLLECTOR_QUERY_HOSTS", "1000"))
PARTS = os.environ.get("BENCH_COLLECTOR_PARTS", "drain,terminals,query").split(",")
PG_SETTINGS = os.environ.get("BENCH_COLLECTOR_PG_SETTINGS", "")
DRAINERS = int(os.environ.get("BENCH_COLLECTOR_DRAINERS", "1"))  # agents draining at once (each EVENTS / N)
BATCH = int(os.environ.get("BENCH_COLLECTOR_BATCH", "5000"))  # as the agent (REPORTER_BATCH_RECORDS_DEFAULT)


def drain_parallel(c, name, url, work):
    """DRAINERS agents at once, each with its own backlog of EVENTS / DRAINERS: each one's rate and their sum
    (the drains overlap: each client makes its records first, which takes about as long for each)."""
    procs = []
    per = EVENTS // DRAINERS
    for i in range(DRAINERS):
        hid = "%032x" % (0xd0 + i)
        c.cli("issue-host-cert", "--host", hid, "--out", os.path.join(work, f"drain{i}"))
    log(f"{name}: {DRAINERS} agents draining {per} events each")
    for i in range(DRAINERS):
        hid = "%032x" % (0xd0 + i)
        procs.append(subprocess.Popen([CLIENT, "drain", f"collector-drain-{name}-agent{i}", url, c.ca,
                                       os.path.join(work, f"drain{i}.crt"), os.path.join(work, f"drain{i}.key"),
                                       hid, str(per), str(BATCH)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    total = 0.0
    for p in procs:
        out, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError("drain client failed: " + err)
        sys.stdout.write(out)
        total += float(out.split()[1])
    print(f"collector-drain-{name}-{DRAINERS}-agents-sum {total:.0f} events/s", flush=True)


def log(msg):
    print("# " + msg, file=sys.stderr, flush=True)


def client(*args):
    out = subprocess.run([CLIENT] + [str(a) for a in args], check=True, capture_output=True, text=True)
    for line in out.stderr.splitlines():
        if line.startswith("bench: ") and "refused" in line:
            log(line[7:])
    sys.stdout.write(out.stdout)
    sys.stdout.flush()


def main():
    if not os.access(CLIENT, os.X_OK):
        print(f"bench-collector: {CLIENT} not built", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="mnguard-bench-collector-") as base:
        for name, spec, pg in ct.bench_storages(base, "BENCH_COLLECTOR", PG_SETTINGS, log):
            work = os.path.join(base, name)
            os.makedirs(work)
            c = ct.Collector(work, spec)
            c.init_ca()
            if "drain" in PARTS or "terminals" in PARTS:
                c.start()
                url = f"https://127.0.0.1:{c.port}"
                if "drain" in PARTS and DRAINERS <= 1:
                    drain_id = "d" * 32
                    c.cli("issue-host-cert", "--host", drain_id, "--out", os.path.join(work, "drain"))
                    log(f"{name}: draining {EVENTS} events")
                    client("drain", f"collector-drain-{name}", url, c.ca, os.path.join(work, "drain.crt"),
                           os.path.join(work, "drain.key"), drain_id, EVENTS, BATCH)
                elif "drain" in PARTS:
                    drain_parallel(c, name, url, work)
                if "terminals" in PARTS:
                    certs = os.path.join(work, "terminals")
                    os.makedirs(certs)
                    ids = subprocess.run([CLIENT, "ids", str(TERMINALS)], check=True, capture_output=True,
                                         text=True).stdout.split()
                    log(f"{name}: issuing {TERMINALS} terminal certificates")
                    for i, hid in enumerate(ids):
                        c.cli("issue-host-cert", "--host", hid, "--out", os.path.join(certs, f"t{i:04d}"))
                    log(f"{name}: {TERMINALS} terminals, one event a second each, for {SECONDS} s")
                    client("terminals", f"collector-terminals-{name}", url, c.ca, certs, TERMINALS, SECONDS)
                c.stop()
            if "query" in PARTS:
                qspec = spec or "sqlite:" + os.path.join(work, "query.db")
                if pg:
                    pg.sql("CREATE DATABASE query")
                    qspec = spec.replace("dbname=postgres", "dbname=query")
                log(f"{name}: building {QUERY_EVENTS} events of {QUERY_HOSTS} hosts for the query benchmark")
                out = subprocess.run([QUERY, f"collector-query-{name}", qspec, str(QUERY_EVENTS), str(QUERY_HOSTS)],
                                     check=True, capture_output=True, text=True)
                sys.stdout.write(out.stdout)
                sys.stdout.flush()
                if pg:
                    # the user and device filters use a GIN index and its pending list; the planner needs the
                    # statistics autovacuum gathers on a real database a while after such a load
                    pg.sql("VACUUM ANALYZE", dbname="query")
                    out = subprocess.run([QUERY, f"collector-query-{name}-analyzed", qspec, str(QUERY_EVENTS),
                                          str(QUERY_HOSTS), "query"], check=True, capture_output=True, text=True)
                    sys.stdout.write(out.stdout)
                    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
