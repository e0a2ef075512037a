# SPDX-License-Identifier: GPL-2.0-or-later
"""A private cupsd for print tests (shared/TESTING.md "Print: a private cupsd"): its own config, spool,
state, cache, temp and log dirs under a temporary directory, a loopback port, ServerBin holding the
backend under test (0700 root, so cupsd runs it as root) with the system's other backends linked in.
Started with -f, stopped by its pid; every wait is a poll with a deadline."""

import os
import re
import shutil
import socket
import subprocess
import threading
import time

CUPSD = "/usr/sbin/cupsd"
SYSTEM_SERVERBIN = "/usr/lib/cups"
TOOLS = ("lpadmin", "lp", "lpstat", "ipptool")

# IPP job-state values (RFC 8011 5.3.7)
JOB_PENDING, JOB_HELD, JOB_PROCESSING, JOB_STOPPED, JOB_CANCELED, JOB_ABORTED, JOB_COMPLETED = 3, 4, 5, 6, 7, 8, 9
JOB_FINAL = (JOB_CANCELED, JOB_ABORTED, JOB_COMPLETED)


def missing_tools():
    """What this machine lacks for a private cupsd, or None."""
    if os.geteuid() != 0:
        return "needs root (cupsd runs a 0700 backend as root only when it runs as root itself)"
    if not os.access(CUPSD, os.X_OK):
        return "cupsd is not installed (Debian package cups-daemon)"
    for t in TOOLS:
        if not shutil.which(t):
            return f"{t} is not installed (Debian packages cups-client, cups-ipp-utils)"
    if not os.access(os.path.join(SYSTEM_SERVERBIN, "backend", "socket"), os.X_OK):
        return "the socket backend is missing (Debian package cups)"
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, predicate, timeout=30, interval=0.05):
    """Polls predicate until it returns a true value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


class Sink:
    """A TCP sink on 127.0.0.1 (what a socket:// printer is): keeps every connection's bytes."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.jobs = []  # bytes of each finished connection
        self.lock = threading.Lock()
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn):
        data = b""
        with conn:
            conn.settimeout(60)
            try:
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
        with self.lock:
            self.jobs.append(data)

    def received(self):
        with self.lock:
            return list(self.jobs)

    def stop(self):
        self.stopped = True
        self.sock.close()


class Cupsd:
    def __init__(self, base, backend, env=None):
        self.base = base
        self.port = free_port()
        self.server = f"127.0.0.1:{self.port}"
        self.etc = os.path.join(base, "etc")
        self.lib = os.path.join(base, "lib")
        self.logs = os.path.join(base, "log")
        for d in ("etc", "spool", "state", "cache", "tmp", "log", "lib", "lib/backend"):
            os.makedirs(os.path.join(base, d), exist_ok=True)
        os.chmod(base, 0o755)
        os.chmod(os.path.join(base, "lib"), 0o755)
        os.chmod(os.path.join(base, "lib", "backend"), 0o755)
        # ServerBin: the system's filters, drivers, …; backend/ with the system's backends and ours.
        for name in os.listdir(SYSTEM_SERVERBIN):
            if name != "backend":
                os.symlink(os.path.join(SYSTEM_SERVERBIN, name), os.path.join(self.lib, name))
        sysback = os.path.join(SYSTEM_SERVERBIN, "backend")
        for name in os.listdir(sysback):
            os.symlink(os.path.join(sysback, name), os.path.join(self.lib, "backend", name))
        self.backend = os.path.join(self.lib, "backend", "mnguard")
        shutil.copyfile(backend, self.backend)
        os.chown(self.backend, 0, 0)
        os.chmod(self.backend, 0o700)

        setenv = "".join(f"SetEnv {k} {v}\n" for k, v in (env or {}).items())
        with open(os.path.join(self.etc, "cupsd.conf"), "w") as f:
            f.write(f"""LogLevel debug
Listen 127.0.0.1:{self.port}
Browsing No
BrowseLocalProtocols none
WebInterface No
DefaultAuthType None
JobRetryLimit 0
PreserveJobHistory Yes
MaxJobs 0
DirtyCleanInterval 0
<Location />
  Order allow,deny
  Allow all
</Location>
<Location /admin>
  Order allow,deny
  Allow all
</Location>
<Policy default>
  JobPrivateAccess all
  JobPrivateValues none
  SubscriptionPrivateAccess all
  SubscriptionPrivateValues none
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
""")
        with open(os.path.join(self.etc, "cups-files.conf"), "w") as f:
            f.write(f"""ServerRoot {self.etc}
RequestRoot {base}/spool
StateDir {base}/state
CacheDir {base}/cache
TempDir {base}/tmp
ServerBin {self.lib}
DataDir /usr/share/cups
DocumentRoot /usr/share/cups/doc-root
AccessLog {self.logs}/access_log
ErrorLog {self.logs}/error_log
PageLog {self.logs}/page_log
User lp
Group lp
SystemGroup root
FileDevice No
Printcap {base}/printcap
{setenv}""")
        self.proc = None

    def start(self, timeout=30):
        self.stderr = open(os.path.join(self.logs, "cupsd.stderr"), "wb")
        self.proc = subprocess.Popen(
            [CUPSD, "-f", "-c", os.path.join(self.etc, "cupsd.conf"), "-s", os.path.join(self.etc, "cups-files.conf")],
            stdout=subprocess.DEVNULL, stderr=self.stderr,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C"})

        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"cupsd exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                return False
        wait_until("cupsd to listen", up, timeout)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.stderr.close()

    def log(self):
        """The interesting end of cupsd's logs: job lines and warnings/errors, for failure messages."""
        out = []
        for name in ("cupsd.stderr", "error_log"):
            try:
                with open(os.path.join(self.logs, name), errors="replace") as f:
                    out += [line for line in f.read().splitlines()
                            if line[:1] in ("E", "W") or ("[Job" in line and "envp[" not in line)]
            except OSError:
                pass
        return "\n".join(out)[-6000:]

    def run(self, *cmd, check=True, input=None):
        env = dict(os.environ, LANG="C", CUPS_SERVER=self.server)
        p = subprocess.run(list(cmd), capture_output=True, env=env, input=input)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout!r}\n{p.stderr!r}")
        return p

    @property
    def printers_conf(self):
        return os.path.join(self.etc, "printers.conf")

    def device_uri_in_conf(self, queue):
        """The DeviceURI cupsd saved (DirtyCleanInterval 0: at once) for queue."""
        with open(self.printers_conf) as f:
            inside = False
            for line in f:
                line = line.rstrip("\n")
                if line.startswith("<Printer ") or line.startswith("<DefaultPrinter "):
                    inside = line.split(" ", 1)[1] == queue + ">"
                elif inside and line.startswith("DeviceURI "):
                    return line.split(" ", 1)[1]
        return None

    def add_queue(self, name, uri):
        self.run("lpadmin", "-h", self.server, "-p", name, "-E", "-v", uri)

    def submit(self, queue, path, title="job", user=None, options=("raw",)):
        """Submits a file with lp; returns the job id. user sets requesting-user-name (-U)."""
        cmd = ["lp", "-h", self.server, "-d", queue, "-t", title]
        if user is not None:
            cmd += ["-U", user]
        for o in options:
            cmd += ["-o", o]
        cmd.append(path)
        out = self.run(*cmd).stdout.decode()
        m = re.search(r"request id is \S+-(\d+)", out)
        if not m:
            raise AssertionError(f"lp said: {out}")
        return int(m.group(1))

    def job_attrs(self, job_id):
        """job-state and job-printer-state-message of a job, asked with ipptool."""
        uri = f"ipp://{self.server}/jobs/{job_id}"
        test = os.path.join(self.base, "get-job.test")
        with open(test, "w") as f:
            f.write('{\n OPERATION Get-Job-Attributes\n GROUP operation-attributes-tag\n'
                    ' ATTR charset attributes-charset utf-8\n ATTR naturalLanguage attributes-natural-language en\n'
                    ' ATTR uri job-uri $uri\n ATTR name requesting-user-name root\n'
                    ' ATTR keyword requested-attributes job-state,job-printer-state-message,job-state-reasons\n'
                    ' STATUS successful-ok\n'
                    ' DISPLAY job-state\n DISPLAY job-printer-state-message\n DISPLAY job-state-reasons\n}\n')
        p = self.run("ipptool", "-t", "-v", uri, test, check=False)
        out = p.stdout.decode(errors="replace")
        state = re.search(r"job-state \(enum\) = (\S+)", out)
        msg = re.search(r"job-printer-state-message \(textWithoutLanguage\) = (.*)", out)
        names = {"pending": 3, "pending-held": 4, "processing": 5, "processing-stopped": 6, "canceled": 7,
                 "aborted": 8, "completed": 9}
        s = state.group(1) if state else None
        return {"state": names.get(s, int(s) if s and s.isdigit() else None),
                "message": msg.group(1) if msg else "", "raw": out}

    def wait_job(self, job_id, timeout=60):
        """Waits for the job to reach a final state; returns its attributes."""
        return wait_until(f"job {job_id} to finish:\n{self.log()}",
                          lambda: (lambda a: a if a["state"] in JOB_FINAL else None)(self.job_attrs(job_id)),
                          timeout)
