#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The real agent draining a backlog to the real collector (issue 6: "Drain a 1,000,000-event backlog from
one agent: >= 50,000 events/s into SQLite and into PostgreSQL"). Unlike bench-collector.py (a C client
posting pre-made gzip batches), this runs mnguardd itself: its reporter reads the journal, gzips, posts and
advances on the collector's acks.

For each backend: a collector (SQLite, or a private PostgreSQL cluster), an enrollment token, an agent state
directory seeded by bench-reporter-seed with N device-blocked records written through the journal library as
mnguardd writes them (~690 bytes each; user and serial change with every record, cycling through
BENCH_REPORTER_USERS=4 and BENCH_REPORTER_SERIALS=50 — one terminal's few users and sticks, as bench-collector.py's
records; 200 and 5,000 make the collector's indexes work harder), THEN mnguardd started with the collector in agent.conf, so the whole journal is a backlog. The
collector's acked sequence for the host is polled (`mnguard-collector hosts --json`, every BENCH_REPORTER_POLL
s, default 0.2) until it reaches N. Prints "name value unit":

  reporter-drain-{sqlite,postgresql}          events/s from the first ack > 0 (first batch stored) to ack N
  reporter-drain-*-total                      events/s over the whole run: N / (mnguardd exec -> ack N),
                                              including the daemon's start (journal checks) and enrollment
  reporter-drain-*-seconds, -total-seconds    the two intervals
  reporter-drain-*-ready-seconds              mnguardd exec -> READY=1 (opening and checking the journal)
  reporter-drain-*-first-ack-seconds          mnguardd exec -> first ack > 0 (start, enrollment, 1st batch)
  reporter-drain-*-agent-cpu                  mnguardd's CPU seconds (all threads) in the drain interval
  reporter-drain-*-collector-cpu              mnguard-collector's CPU seconds in the drain interval
  reporter-drain-*-postgres-cpu               the PostgreSQL server's CPU seconds in it (backends alive)
  reporter-drain-*-agent-cpu-per-1000        mnguardd's CPU ms per 1,000 records
  reporter-drain-*-agent-rss-peak, -after     mnguardd's VmHWM, and VmRSS once the backlog is acked (MiB)
  reporter-drain-*-agent-cpu-total            mnguardd's CPU seconds from its start to ack N
  reporter-seed-*, reporter-record-bytes-*    seconds to seed the journal (not timed as the drain), and the
                                              mean record size as journaled

At the end the collector must hold exactly the N seeded records for the host (rows with sequence 1..N, each
once, all device-blocked) with its chain intact; otherwise the script fails (exit 1).

Usage: bench-reporter.py BUILD_DIR (root: mnguardd and PostgreSQL need it). Knobs: BENCH_REPORTER_EVENTS
(1,000,000), BENCH_REPORTER_SQLITE=0 / BENCH_REPORTER_PG=0 skip a backend, BENCH_REPORTER_POLL (0.2 s),
BENCH_REPORTER_PG_SETTINGS (server options for the private cluster), BENCH_REPORTER_PERF=PREFIX records
mnguardd with `perf record --call-graph dwarf` during the drain into PREFIX-BACKEND.data and writes
`perf report` views to PREFIX-BACKEND.txt (the sampling slows the agent somewhat),
BENCH_REPORTER_KEEP=1 keeps the temporary directory. The machine's load average is printed as "#" lines:
the figures mean little on a busy machine."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "build"))
sys.path.insert(0, os.path.join(here, "..", "collector"))
sys.path.insert(0, os.path.join(here, "..", "integration"))
os.environ.setdefault("MNGUARD_COLLECTOR", os.path.join(build, "collector", "mnguard-collector"))
os.environ.setdefault("MNGUARDD", os.path.join(build, "agent", "mnguardd"))
os.environ.setdefault("MNGUARDCTL", os.path.join(build, "agent", "mnguardctl"))
import collectortest as ct  # noqa: E402
import mnguardtest as mt  # noqa: E402

SEED = os.path.join(build, "tests", "bench", "bench-reporter-seed")
EVENTS = int(os.environ.get("BENCH_REPORTER_EVENTS", "1000000"))
POLL = float(os.environ.get("BENCH_REPORTER_POLL", "0.2"))
PG_SETTINGS = os.environ.get("BENCH_REPORTER_PG_SETTINGS", "")
PERF = os.environ.get("BENCH_REPORTER_PERF", "")
USERS = os.environ.get("BENCH_REPORTER_USERS", "4")
SERIALS = os.environ.get("BENCH_REPORTER_SERIALS", "50")
STALL = 120  # seconds without the ack moving: the drain is stuck
TICK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print("# " + msg, file=sys.stderr, flush=True)


def figure(name, value, unit, fmt="%.0f"):
    print(f"{name} {fmt % value} {unit}", flush=True)


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), or 0.0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def pg_cpu_seconds(pg):
    """The PostgreSQL server's CPU seconds: the postmaster and its living children (backends, WAL writer,
    checkpointer). Exited backends are not counted (the collector keeps its connections)."""
    if not pg:
        return 0.0
    try:
        with open(os.path.join(pg.data, "postmaster.pid")) as f:
            master = int(f.readline())
    except (OSError, ValueError):
        return 0.0
    total = cpu_seconds(master)
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == master:
                total += (int(fields[11]) + int(fields[12])) / TICK
        except (OSError, IndexError, ValueError):
            pass
    return total


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def host_entry(c, host_id):
    p = c.cli("hosts", "--json", check=False)
    if p.returncode != 0:
        return None     # a transient failure: polled again
    for h in json.loads(p.stdout)["hosts"]:
        if h["host_id"] == host_id:
            return h
    return None


def stored_counts(c, pg, host_id, n):
    """(rows, distinct sequences, rows with sequence 1..n, device-blocked rows, report-failed rows) of the
    host, counted in the collector's database."""
    q = ("SELECT count(*), count(DISTINCT e.seq), count(*) FILTER (WHERE e.seq BETWEEN 1 AND {n}), "
         "count(*) FILTER (WHERE e.action = 'device-blocked'), count(*) FILTER (WHERE e.action = 'report-failed') "
         "FROM event_rows e JOIN hosts h ON h.host_key = e.host_key WHERE h.host_id = '{h}'").format(n=n, h=host_id)
    if pg:
        return tuple(int(v) for v in pg.sql(q).split("|"))
    db = sqlite3.connect(f"file:{os.path.join(c.dir, 'collector.db')}?mode=ro", uri=True)
    try:
        return tuple(db.execute(q).fetchone())
    finally:
        db.close()


def start_perf(pid, data):
    # DWARF unwinding: the build has no frame pointers
    return subprocess.Popen(["perf", "record", "-q", "-F", "499", "--call-graph", "dwarf,16384", "-o", data,
                             "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_perf(proc, data, report):
    """perf report of mnguardd: by thread and library, by symbol, and the agent's own functions with what
    they call (children)."""
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=300)
    views = [["--no-children", "--sort", "pid,dso", "-g", "none"],
             ["--no-children", "--sort", "dso,symbol", "-g", "none", "--percent-limit", "0.3"],
             ["--children", "--sort", "symbol", "-g", "none", "--percent-limit", "2"]]
    with open(report, "w") as f:
        for v in views:
            f.flush()
            subprocess.run(["perf", "report", "-i", data, "--stdio"] + v, stdout=f, stderr=subprocess.DEVNULL)
    log(f"perf report of mnguardd written to {report} (data {data})")


def drain(name, spec, pg, work):
    os.makedirs(work)
    os.chmod(work, 0o755)
    c = ct.Collector(work, spec)
    c.init_ca()
    c.start()
    d = None
    try:
        agent = os.path.join(work, "agent")
        os.makedirs(agent)
        machine_id = os.path.join(agent, "machine-id")
        with open(machine_id, "w") as f:
            f.write(os.urandom(16).hex() + "\n")
        d = mt.Daemon(agent, env={"MNGUARD_MACHINE_ID_FILE": machine_id})

        log(f"{name}: seeding {EVENTS} events ({USERS} users, {SERIALS} serials) into {d.journal}")
        out = subprocess.run([SEED, d.state, machine_id, str(EVENTS), USERS, SERIALS], check=True,
                             capture_output=True, text=True)
        seed = dict(line.split(" ", 1) for line in out.stdout.splitlines())
        host_id = seed["host_id"]
        n = int(seed["last_sequence"])
        if n != EVENTS:
            raise RuntimeError(f"seeded journal ends at {n}, not {EVENTS}")
        figure(f"reporter-seed-{name}", float(seed["seed_seconds"]), "s", "%.1f")
        figure(f"reporter-record-bytes-{name}", float(seed["record_bytes_avg"]), "bytes")

        with open(os.path.join(d.config, "agent.conf"), "w") as f:
            f.write("collector:\n"
                    f"  url: https://127.0.0.1:{c.port}\n"
                    f"  ca: {c.ca}\n"
                    f"  enrollment-token: {c.token()}\n")

        log(f"{name}: load average before the drain {loadavg()}")
        t_start = time.monotonic()
        d.start(timeout=300)
        pid, cpid = d.proc.pid, c.proc.pid
        t_ready = time.monotonic()
        first = None            # (time, ack, agent cpu, collector cpu, postgres cpu) at the first ack > 0
        perf = None
        last_ack, last_move = 0, time.monotonic()
        while True:
            h = host_entry(c, host_id)
            now = time.monotonic()
            ack = h["acked_sequence"] if h else 0
            if ack > 0 and first is None:
                first = (now, ack, cpu_seconds(pid), cpu_seconds(cpid), pg_cpu_seconds(pg))
                if PERF:
                    perf = start_perf(pid, f"{PERF}-{name}.data")
            if ack >= n:
                end = (now, ack, cpu_seconds(pid), cpu_seconds(cpid), pg_cpu_seconds(pg))
                break
            if ack != last_ack:
                last_ack, last_move = ack, now
            elif now - last_move > STALL:
                raise RuntimeError(f"the ack stayed at {ack} of {n} for {STALL} s; agent log:\n" + d.log_text())
            if d.proc.poll() is not None:
                raise RuntimeError(f"mnguardd exited with {d.proc.returncode}:\n" + d.log_text())
            time.sleep(POLL)
        if perf:
            stop_perf(perf, f"{PERF}-{name}.data", f"{PERF}-{name}.txt")
        log(f"{name}: load average after the drain {loadavg()}")

        seconds = end[0] - first[0]
        total = end[0] - t_start
        drained = n - first[1]
        if drained > 0 and seconds > 0:
            figure(f"reporter-drain-{name}", drained / seconds, "events/s")
        else:
            log(f"{name}: the backlog was drained within one poll: no drain rate (raise BENCH_REPORTER_EVENTS)")
        figure(f"reporter-drain-{name}-total", n / total, "events/s")
        figure(f"reporter-drain-{name}-seconds", seconds, "s", "%.2f")
        figure(f"reporter-drain-{name}-total-seconds", total, "s", "%.2f")
        figure(f"reporter-drain-{name}-ready-seconds", t_ready - t_start, "s", "%.2f")
        figure(f"reporter-drain-{name}-first-ack-seconds", first[0] - t_start, "s", "%.2f")
        agent_cpu = end[2] - first[2]
        figure(f"reporter-drain-{name}-agent-cpu", agent_cpu, "s", "%.2f")
        figure(f"reporter-drain-{name}-agent-cpu-per-1000", agent_cpu / drained * 1000 * 1000 if drained else 0,
               "ms", "%.2f")
        figure(f"reporter-drain-{name}-agent-cpu-total", end[2], "s", "%.2f")
        figure(f"reporter-drain-{name}-collector-cpu", end[3] - first[3], "s", "%.2f")
        if pg:
            figure(f"reporter-drain-{name}-postgres-cpu", end[4] - first[4], "s", "%.2f")

        with open(f"/proc/{d.proc.pid}/status") as f:
            status = dict(l.split(":", 1) for l in f if ":" in l)
        # the agent's peak (batches in flight) and what it holds once the backlog is sent
        figure(f"reporter-drain-{name}-agent-rss-peak", int(status["VmHWM"].split()[0]) / 1024, "MiB", "%.1f")
        figure(f"reporter-drain-{name}-agent-rss-after", int(status["VmRSS"].split()[0]) / 1024, "MiB", "%.1f")
        log(f"{name}: agent after the drain: RssAnon {status['RssAnon'].strip()}, RssFile {status['RssFile'].strip()}")
        d.stop()
        failures = [line for line in d.log_text().splitlines() if "retrying" in line or "refused" in line]
        for line in failures[:5]:
            log(f"{name}: agent: {line}")

        rows, distinct, backlog, blocked, failed = stored_counts(c, pg, host_id, n)
        h = host_entry(c, host_id)
        log(f"{name}: collector holds {rows} rows of the host ({backlog} of sequences 1..{n}, {blocked} "
            f"device-blocked), acked {h['acked_sequence']}, chain {h['chain']}")
        problems = []
        if backlog != n or blocked != n:
            problems.append(f"{backlog} rows with sequences 1..{n} and {blocked} device-blocked rows, not {n}")
        if distinct != rows:
            problems.append(f"{rows - distinct} sequences stored twice")
        if failed:
            problems.append(f"{failed} report-failed events")
        if h["chain"] != "intact":
            problems.append("chain " + h["chain"])
        if problems:
            raise RuntimeError(f"{name}: " + "; ".join(problems))
    finally:
        if d and d.proc and d.proc.poll() is None:
            d.kill()
        c.stop()


def main():
    for exe in (SEED, mt.MNGUARDD, ct.COLLECTOR):
        if not os.access(exe, os.X_OK):
            print(f"bench-reporter: {exe} not built", file=sys.stderr)
            return 2
    if os.geteuid() != 0:
        print("# bench-reporter: skipped (mnguardd needs root)")
        return 0
    keep = os.environ.get("BENCH_REPORTER_KEEP") == "1"
    base = tempfile.mkdtemp(prefix="mnguard-bench-reporter-")
    rc = 0
    try:
        os.chmod(base, 0o755)
        for name, spec, pg in ct.bench_storages(base, "BENCH_REPORTER", PG_SETTINGS, log):
            try:
                drain(name, spec, pg, os.path.join(base, name))
            except (RuntimeError, AssertionError, subprocess.CalledProcessError) as e:
                print(f"bench-reporter: {name}: {e}", file=sys.stderr)
                rc = 1
    finally:
        if keep:
            log("kept " + base)
        else:
            shutil.rmtree(base, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
