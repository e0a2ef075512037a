# SPDX-License-Identifier: GPL-2.0-or-later
"""Harness for the collector tests: a private PostgreSQL cluster, a collector started in a temporary
directory (waiting for its READY=1 on a notify socket, no sleeps), HTTPS clients with client
certificates, certificates made with the openssl CLI, events made by the real journal library."""

import gzip
import http.client
import json
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

COLLECTOR = os.environ.get("MNGUARD_COLLECTOR", "mnguard-collector")
MAKE_EVENTS = os.environ.get("MNGUARD_MAKE_EVENTS", "make-events")
PG_BIN = "/usr/lib/postgresql/15/bin"
SKIP = 77


def skip_all(why):
    print(f"SKIP: {why}")
    sys.exit(SKIP)


def run(cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, **kw)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Postgres:
    """A private PostgreSQL 15 cluster in base, run as user postgres (initdb refuses root)."""

    def __init__(self, base):
        self.base = base
        self.data = os.path.join(base, "pgdata")
        self.port = free_port()
        self.started = False
        self.settings = ""      # more "-c name=value" options for the server

    @staticmethod
    def available():
        if not os.path.exists(os.path.join(PG_BIN, "initdb")):
            return "PostgreSQL 15 binaries not installed (package postgresql-15)"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "no user postgres"
        if os.geteuid() != 0:
            return "needs root to run PostgreSQL as user postgres"
        if not shutil.which("runuser"):
            return "runuser missing"
        return None

    def _as_postgres(self, args, check=True):
        return run(["runuser", "-u", "postgres", "--"] + args, check=check)

    def init(self):
        os.chmod(self.base, 0o755)
        os.makedirs(self.data)
        shutil.chown(self.data, "postgres", "postgres")
        self._as_postgres([f"{PG_BIN}/initdb", "-D", self.data, "-A", "trust", "--no-sync", "-U", "postgres"])

    def start(self):
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.data} "
                f"-c fsync=off -c max_connections=200 {self.settings}")
        self._as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data, "-w", "-t", "60", "-l",
                           os.path.join(self.data, "log"), "-o", opts, "start"])
        self.started = True

    def stop(self, mode="fast"):
        if self.started:
            self._as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data, "-w", "-m", mode, "stop"], check=False)
            self.started = False

    @property
    def conninfo(self):
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def sql(self, query, dbname="postgres"):
        out = self._as_postgres([f"{PG_BIN}/psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                                 "-d", dbname, "-At", "-c", query])
        return out.stdout.strip()


class Collector:
    """A mnguard-collector serving from base/c with the given storage spec."""

    def __init__(self, base, storage=None, extra=None):
        self.base = base
        self.dir = os.path.join(base, "c")
        self.storage = storage
        self.extra = extra or []
        self.proc = None
        self.port = None
        self.log = None

    def cli(self, *args, check=True):
        cmd = [COLLECTOR, args[0], "--dir", self.dir]
        if self.storage:
            cmd += ["--storage", self.storage]
        return run(cmd + list(args[1:]), check=check)

    def init_ca(self):
        run([COLLECTOR, "init-ca", "--dir", self.dir])

    def start(self, timeout=30):
        notify_path = os.path.join(self.base, f"notify-{os.getpid()}.sock")
        if os.path.exists(notify_path):
            os.unlink(notify_path)
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(notify_path)
        ns.settimeout(timeout)
        env = dict(os.environ, NOTIFY_SOCKET=notify_path)
        cmd = [COLLECTOR, "serve", "--dir", self.dir, "--listen", "127.0.0.1:0"] + self.extra
        if self.storage:
            cmd += ["--storage", self.storage]
        self.log = open(os.path.join(self.base, "collector.log"), "a")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=self.log)
        try:
            while True:
                msg = ns.recv(4096).decode()
                fields = dict(line.split("=", 1) for line in msg.splitlines() if "=" in line)
                if "STATUS" in fields and "port" in fields["STATUS"]:
                    self.port = int(fields["STATUS"].rsplit(" ", 1)[1])
                if fields.get("READY") == "1":
                    break
        except socket.timeout:
            self.stop()
            raise RuntimeError("collector did not become ready; see " + self.log.name)
        finally:
            ns.close()
            os.unlink(notify_path)

    def stop(self):
        """Stops the collector; raises when it did not exit cleanly (sanitizer reports, leaks, crashes)."""
        rc = 0
        if self.proc:
            self.proc.terminate()
            try:
                rc = self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = -9
            self.proc = None
        if self.log:
            self.log.close()
            self.log = None
            with open(os.path.join(self.base, "collector.log"), errors="replace") as f:
                text = f.read()
            if rc != 0 or "Sanitizer" in text or "runtime error:" in text:
                raise RuntimeError(f"collector exited with {rc}:\n" + text[-4000:])

    def token(self, *args):
        return self.cli("enroll-token", *args).stdout.strip()

    @property
    def ca(self):
        return os.path.join(self.dir, "ca.crt")


class Client:
    """HTTPS client; cert/key optional (no client certificate)."""

    def __init__(self, collector, cert=None, key=None, ca=None):
        self.collector = collector
        self.ctx = ssl.create_default_context(cafile=ca or collector.ca)
        self.ctx.check_hostname = False
        if cert:
            self.ctx.load_cert_chain(cert, key)
        self.conn = None

    def connect(self):
        return http.client.HTTPSConnection("127.0.0.1", self.collector.port, context=self.ctx, timeout=60)

    def request(self, method, path, body=None, headers=None):
        """Returns (status, headers dict, body bytes). Keeps one connection, reconnecting when closed."""
        for attempt in range(2):
            if self.conn is None:
                self.conn = self.connect()
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                data = resp.read()
                hdrs = {k.lower(): v for k, v in resp.getheaders()}
                if hdrs.get("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return resp.status, hdrs, data
            except (ConnectionError, http.client.RemoteDisconnected, ssl.SSLError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, method, path, body=None, headers=None):
        status, hdrs, data = self.request(method, path, body, headers)
        return status, (json.loads(data) if data else None)

    def post_events(self, lines, gz=False, follows=None):
        body = "".join(l + "\n" for l in lines).encode()
        headers = {"Content-Type": "application/x-ndjson"}
        if follows is not None:
            headers["Mnguard-Follows"] = str(follows)
        if gz:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return self.json("POST", "/v1/events", body, headers)

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None


def make_key_csr(base, name, cn):
    key = os.path.join(base, name + ".key")
    csr = os.path.join(base, name + ".csr")
    run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", key, "-subj", "/CN=" + cn, "-out", csr])
    return key, csr


def enroll(collector, base, name, host_id, token, host_name="mn-pc"):
    """Enrolls host_id; returns (status, reply, cert path, key path)."""
    key, csr = make_key_csr(base, name, host_id)
    client = Client(collector)
    with open(csr) as f:
        body = json.dumps({"token": token, "csr": f.read(), "host_name": host_name})
    status, reply = client.json("POST", "/v1/enroll", body, {"Content-Type": "application/json"})
    client.close()
    cert = os.path.join(base, name + ".crt")
    if status == 200:
        with open(cert, "w") as f:
            f.write(reply["certificate"])
    return status, reply, cert, key


def foreign_ca_cert(base, cn):
    """A client certificate for cn from a CA the collector does not know."""
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", os.path.join(base, "evil-ca.key"), "-out", os.path.join(base, "evil-ca.crt"),
         "-subj", "/CN=evil CA", "-days", "2"])
    key, csr = make_key_csr(base, "evil", cn)
    ext = os.path.join(base, "evil.ext")
    with open(ext, "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    cert = os.path.join(base, "evil.crt")
    run(["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(base, "evil-ca.crt"), "-CAkey",
         os.path.join(base, "evil-ca.key"), "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext])
    return cert, key


def make_events(base, host_id, host_name, count, start_usec, step_usec, tag=""):
    """count records of a new real journal (the agent's chain), without the manifest line."""
    journal = os.path.join(base, f"journal-{host_id}{tag}.db")
    out = run([MAKE_EVENTS, journal, host_id, host_name, str(count), str(start_usec), str(step_usec)]).stdout
    lines = [l for l in out.splitlines() if l and "mnguard_manifest" not in l]
    assert len(lines) == count, (len(lines), count)
    return lines


def bench_storages(base, prefix, pg_settings, log):
    """The benchmarks' backends: (name, storage spec or None for SQLite, Postgres or None); PREFIX_SQLITE=0 and
    PREFIX_PG=0 in the environment leave one out. A private PostgreSQL cluster is started for its turn."""
    if os.environ.get(prefix + "_SQLITE", "1") != "0":
        yield "sqlite", None, None
    if os.environ.get(prefix + "_PG", "1") == "0":
        return
    why = Postgres.available()
    if why:
        log("PostgreSQL skipped: " + why)
        return
    pg = Postgres(base)
    pg.settings = pg_settings
    pg.init()
    pg.start()
    try:
        yield "postgresql", "postgresql:" + pg.conninfo, pg
    finally:
        pg.stop()
