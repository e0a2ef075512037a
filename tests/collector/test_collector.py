# SPDX-License-Identifier: GPL-2.0-or-later
"""The collector over real HTTPS with mutual TLS, on SQLite or on a private PostgreSQL cluster (the same
suite; the backend is the first argument). Asserts on HTTP statuses and on rows in the database."""

import concurrent.futures
import copy
import gzip
import json
import os
import socket
import sqlite3
import ssl
import sys
import tempfile
import threading
import time
import unittest
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import collectortest as ct  # noqa: E402

BACKEND = sys.argv.pop(1) if len(sys.argv) > 1 else "sqlite"
T0 = 1764115200 * 1000000          # 2025-11-26T00:00:00Z
HOUR = 3600 * 1000000
DAY = 24 * HOUR


def hid(n):
    return "%08x" % (0xc011ec70 + n) + "0123456789abcdef01234567"


class CollectorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="mnguard-collector-")
        cls.base = cls.tmp.name
        cls.pg = None
        storage = None
        if BACKEND == "postgresql":
            cls.pg = ct.Postgres(cls.base)
            cls.pg.init()
            cls.pg.start()
            storage = "postgresql:" + cls.pg.conninfo
        cls.c = ct.Collector(cls.base, storage)
        cls.c.init_ca()
        cls.c.start()
        cls.op_cert = os.path.join(cls.base, "alice.crt")
        cls.c.cli("operator-cert", "--name", "alice", "--role", "auditor", "--out", os.path.join(cls.base, "alice"))
        cls.op = ct.Client(cls.c, cls.op_cert, os.path.join(cls.base, "alice.key"))
        cls.hosts = {}

    @classmethod
    def tearDownClass(cls):
        cls.op.close()
        cls.c.stop()
        if cls.pg:
            cls.pg.stop()
        cls.tmp.cleanup()

    # ---- helpers ----

    def host(self, n, name=None):
        """An enrolled host: (host id, client)."""
        if n in self.hosts:
            return self.hosts[n]
        h = hid(n)
        status, reply, cert, key = ct.enroll(self.c, self.base, f"h{n}", h, self.c.token(), name or f"mn-pc-{n:04d}")
        self.assertEqual(status, 200, reply)
        self.hosts[n] = (h, ct.Client(self.c, cert, key))
        return self.hosts[n]

    def count(self, host_id, table="events"):
        if self.pg:
            return int(self.pg.sql(f"SELECT count(*) FROM {table} WHERE host_id = '{host_id}'"))
        db = sqlite3.connect(f"file:{self.c.dir}/collector.db?mode=ro", uri=True)
        try:
            return db.execute(f"SELECT count(*) FROM {table} WHERE host_id = ?", (host_id,)).fetchone()[0]
        finally:
            db.close()

    def duplicates(self):
        q = "SELECT count(*) FROM (SELECT host_id, seq FROM events GROUP BY host_id, seq HAVING count(*) > 1) d"
        if self.pg:
            return int(self.pg.sql(q))
        db = sqlite3.connect(f"file:{self.c.dir}/collector.db?mode=ro", uri=True)
        try:
            return db.execute(q).fetchone()[0]
        finally:
            db.close()

    def body(self, host_id, seq):
        q = f"SELECT body FROM events WHERE host_id = '{host_id}' AND seq = {int(seq)}"
        if self.pg:
            return self.pg.sql(q)
        db = sqlite3.connect(f"file:{self.c.dir}/collector.db?mode=ro", uri=True)
        try:
            return db.execute(q).fetchone()[0]
        finally:
            db.close()

    def host_info(self, host_id):
        hosts = json.loads(self.c.cli("hosts", "--json").stdout)["hosts"]
        return next(h for h in hosts if h["host_id"] == host_id)

    def alerts(self, host_id):
        out = self.c.cli("alerts", "--host", host_id, "--json", "--limit", "0").stdout
        return [json.loads(l) for l in out.splitlines() if l]

    # ---- enrollment ----

    def test_enroll_tokens(self):
        once = self.c.token()
        status, reply, cert, key = ct.enroll(self.c, self.base, "e1", hid(100), once)
        self.assertEqual(status, 200, reply)
        self.assertEqual(reply["host_id"], hid(100))
        cl = ct.Client(self.c, cert, key)
        self.assertEqual(cl.json("GET", "/v1/health")[0], 200)
        cl.close()
        # the same one-time token again
        status, reply, _, _ = ct.enroll(self.c, self.base, "e2", hid(101), once)
        self.assertEqual((status, reply["error"]), (403, "token-used"))
        # unknown, and malformed
        status, reply, _, _ = ct.enroll(self.c, self.base, "e3", hid(102), "mngt-" + "0" * 64)
        self.assertEqual((status, reply["error"]), (403, "token-unknown"))
        status, reply, _, _ = ct.enroll(self.c, self.base, "e3", hid(102), "not a token")
        self.assertEqual((status, reply["error"]), (403, "token-unknown"))
        # expired: valid for one second
        short = self.c.token("--ttl", "1s")
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            time.sleep(0.1)
        status, reply, _, _ = ct.enroll(self.c, self.base, "e4", hid(103), short)
        self.assertEqual((status, reply["error"]), (403, "token-expired"))
        # a token for two terminals, in a group
        two = self.c.token("--uses", "2", "--group", "floor2")
        for i in (104, 105):
            status, reply, _, _ = ct.enroll(self.c, self.base, f"e{i}", hid(i), two)
            self.assertEqual(status, 200, reply)
            self.assertEqual(reply["group"], "floor2")
        status, reply, _, _ = ct.enroll(self.c, self.base, "e106", hid(106), two)
        self.assertEqual((status, reply["error"]), (403, "token-used"))
        # a request whose CN is not a host id does not take a use of the token
        t = self.c.token()
        status, reply, _, _ = ct.enroll(self.c, self.base, "e107", "Robert'); DROP TABLE hosts;--", t)
        self.assertEqual((status, reply["error"]), (400, "bad-csr"))
        status, reply, _, _ = ct.enroll(self.c, self.base, "e108", hid(108), t)
        self.assertEqual(status, 200, reply)

    # ---- ingest ----

    def test_ingest_ack_and_duplicates(self):
        h, cl = self.host(1)
        lines = ct.make_events(self.base, h, "mn-pc-0001", 50, T0, HOUR)
        status, r = cl.post_events(lines)
        self.assertEqual(status, 200, r)
        self.assertEqual((r["stored"], r["acked_sequence"], r["chain"]), (50, 50, "intact"))
        self.assertEqual(self.count(h), 50)
        status, r = cl.post_events(lines)
        self.assertEqual(status, 200, r)
        self.assertEqual((r["stored"], r["duplicates"], r["acked_sequence"]), (0, 50, 50))
        self.assertEqual(self.count(h), 50)
        # overlapping re-send: 41..50 again with 51..60 new
        more = ct.make_events(self.base, h, "mn-pc-0001", 60, T0, HOUR, tag="-b")
        self.assertEqual(more[:50], lines)   # the same events give the same chain
        status, r = cl.post_events(more[40:])
        self.assertEqual((r["stored"], r["duplicates"], r["acked_sequence"]), (10, 10, 60))
        self.assertEqual(self.count(h), 60)
        self.assertEqual(self.duplicates(), 0)
        info = self.host_info(h)
        self.assertEqual((info["acked_sequence"], info["last_sequence"], info["chain"]), (60, 60, "intact"))
        # an empty post is a heartbeat that tells the ack
        status, r = cl.post_events([])
        self.assertEqual((status, r["acked_sequence"]), (200, 60))

    def test_gzip_body(self):
        h, cl = self.host(2)
        lines = ct.make_events(self.base, h, "mn-pc-0002", 40, T0, HOUR)
        lines, more = lines[:30], lines[30:]
        status, r = cl.post_events(lines, gz=True)
        self.assertEqual((status, r["stored"], r["acked_sequence"]), (200, 30, 30))
        self.assertEqual(self.count(h), 30)
        head = "".join(l + "\n" for l in more[:5]).encode()
        tail = "".join(l + "\n" for l in more[5:]).encode()
        gz_headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
        # a corrupted CRC, or a size trailer that is not the body's: refused, nothing stored
        bad_crc = bytearray(gzip.compress(head + tail))
        bad_crc[-8] ^= 0xff
        bad_size = bytearray(gzip.compress(head + tail))
        bad_size[-4] ^= 0x01
        for body in (bad_crc, bad_size):
            status, r = cl.json("POST", "/v1/events", bytes(body), gz_headers)
            self.assertEqual((status, r["error"]), (400, "bad-gzip"))
        self.assertEqual(self.count(h), 30)
        # a header with its own CRC (FHCRC): checked, as zlib does
        def with_header_crc(data, good=True):
            header = bytes([0x1f, 0x8b, 8, 0x02, 0, 0, 0, 0, 0, 255])
            crc16 = zlib.crc32(header) & 0xffff
            if not good:
                crc16 ^= 0x1234
            deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
            raw = deflate.compress(data) + deflate.flush()
            return (header + crc16.to_bytes(2, "little") + raw + zlib.crc32(data).to_bytes(4, "little")
                    + (len(data) & 0xffffffff).to_bytes(4, "little"))
        status, r = cl.json("POST", "/v1/events", with_header_crc(head + tail, good=False), gz_headers)
        self.assertEqual((status, r["error"]), (400, "bad-gzip"))
        self.assertEqual(self.count(h), 30)
        status, r = cl.json("POST", "/v1/events", with_header_crc(b""), gz_headers)     # a heartbeat
        self.assertEqual((status, r["acked_sequence"]), (200, 30), r)
        # two gzip members one after the other (gzip -c a b): one body
        status, r = cl.json("POST", "/v1/events", gzip.compress(head) + gzip.compress(tail), gz_headers)
        self.assertEqual((status, r["stored"], r["acked_sequence"]), (200, 10, 40), r)
        self.assertEqual(self.count(h), 40)

    def test_gap_flagged_then_filled(self):
        h, cl = self.host(3)
        lines = ct.make_events(self.base, h, "mn-pc-0003", 30, T0, HOUR)
        cl.post_events(lines[:10])
        status, r = cl.post_events(lines[20:])
        self.assertEqual(status, 200, r)
        self.assertEqual((r["acked_sequence"], r["last_sequence"], r["chain"]), (10, 30, "gap"))
        info = self.host_info(h)
        self.assertEqual((info["chain"], info["acked_sequence"]), ("gap", 10))
        gaps = [a for a in self.alerts(h) if a["kind"] == "gap"]
        self.assertEqual((gaps[0]["sequence"], gaps[0]["sequence_end"]), (11, 20))
        status, r = cl.post_events(lines[10:20])
        self.assertEqual((r["acked_sequence"], r["chain"]), (30, "intact"))
        self.assertEqual(self.count(h), 30)
        self.assertEqual(self.host_info(h)["chain"], "intact")

    def test_forged_hash_flagged(self):
        h, cl = self.host(4)
        lines = ct.make_events(self.base, h, "mn-pc-0004", 10, T0, HOUR)
        cl.post_events(lines[:5])
        forged = lines[5].replace('"reason":"default storage block"', '"reason":"nothing happened"')
        self.assertNotEqual(forged, lines[5])
        status, r = cl.post_events([forged] + lines[6:])
        self.assertEqual(status, 200, r)
        self.assertEqual((r["stored"], r["chain"], r["acked_sequence"]), (5, "broken", 10))
        self.assertGreaterEqual(r["flagged"], 1)
        self.assertEqual(self.count(h), 10)          # kept, and flagged
        kinds = {a["kind"] for a in self.alerts(h)}
        self.assertIn("hash", kinds)
        self.assertEqual(self.host_info(h)["chain"], "broken")
        # the original record for 6 now conflicts with the stored forgery: kept as an alert, not a row
        status, r = cl.post_events([lines[5]])
        self.assertEqual((r["conflicts"], r["stored"]), (1, 0))
        self.assertIn("conflict", {a["kind"] for a in self.alerts(h)})
        self.assertEqual(self.count(h), 10)

    def test_link_that_does_not_follow(self):
        h, cl = self.host(5)
        first = ct.make_events(self.base, h, "mn-pc-0005", 20, T0, HOUR)
        other = ct.make_events(self.base, h, "mn-pc-0005", 20, T0 + 7, HOUR, tag="-other")
        cl.post_events(first[:10])
        status, r = cl.post_events(other[10:])      # 11..20 of another chain: each hashes right, 11 does not link
        self.assertEqual((status, r["stored"], r["chain"]), (200, 10, "broken"))
        links = [a for a in self.alerts(h) if a["kind"] == "link"]
        self.assertEqual(links[0]["sequence"], 11)

    # ---- big batches: stored piece by piece while the rest is parsed (BATCH_STREAM_MIN_BYTES) ----

    def big(self, n, count, start=T0, tag=""):
        h, cl = self.host(n)
        lines = ct.make_events(self.base, h, f"mn-pc-{n:04d}", count, start, 60 * 1000000, tag=tag)
        self.assertGreater(sum(len(l) for l in lines[:1000]), 256 * 1024)    # several pieces
        return h, cl, lines

    def test_big_batches_drain(self):
        h, cl, lines = self.big(20, 3000)
        for k in range(3):
            status, r = cl.post_events(lines[k * 1000:(k + 1) * 1000], gz=k == 1)
            self.assertEqual(status, 200, r)
            self.assertEqual((r["received"], r["stored"], r["acked_sequence"], r["chain"]),
                             (1000, 1000, 1000 * (k + 1), "intact"))
        self.assertEqual(self.count(h), 3000)
        self.assertEqual([a["kind"] for a in self.alerts(h) if a["kind"] != "enrolled"], [])
        # sent again (a lost reply): stored before, so the whole batch is checked against what is stored
        status, r = cl.post_events(lines[1000:2000])
        self.assertEqual((r["stored"], r["duplicates"], r["acked_sequence"]), (0, 1000, 3000))
        self.assertEqual((self.count(h), self.duplicates()), (3000, 0))
        # the stored bodies are the lines sent
        for seq in (1, 1000, 1001, 1500, 3000):
            self.assertEqual(self.body(h, seq), lines[seq - 1])

    def test_big_batch_gap_and_forgery_in_a_later_piece(self):
        h, cl, lines = self.big(21, 2000)
        self.assertEqual(cl.post_events(lines[:1000])[1]["acked_sequence"], 1000)
        forged = lines[1800].replace('"reason":"default storage block"', '"reason":"nothing happened"')
        second = lines[1000:1500] + lines[1510:1800] + [forged] + lines[1801:]
        status, r = cl.post_events(second)
        self.assertEqual(status, 200, r)
        self.assertEqual((r["stored"], r["acked_sequence"], r["last_sequence"], r["chain"]), (990, 1500, 2000, "broken"))
        alerts = self.alerts(h)
        gaps = [(a["sequence"], a["sequence_end"]) for a in alerts if a["kind"] == "gap"]
        self.assertEqual(gaps, [(1501, 1510)])
        self.assertEqual([a["sequence"] for a in alerts if a["kind"] == "hash"], [1801])
        self.assertEqual(self.count(h), 1990)
        self.assertEqual(cl.post_events(lines[1500:1510])[1]["acked_sequence"], 2000)

    def test_big_batch_out_of_order_and_repeated(self):
        h, cl, lines = self.big(22, 1000)
        # a sequence twice, in different pieces: refused naming the later line, nothing stored
        status, r = cl.post_events(lines[:900] + [lines[10]] + lines[900:])
        self.assertEqual((status, r["line"]), (400, 901), r)
        self.assertIn("appears twice", r["message"])
        self.assertEqual(self.count(h), 0)
        # lines in any order are stored as one batch all the same
        status, r = cl.post_events(lines[::-1])
        self.assertEqual(status, 200, r)
        self.assertEqual((r["stored"], r["acked_sequence"], r["chain"]), (1000, 1000, "intact"))
        self.assertEqual([a["kind"] for a in self.alerts(h) if a["kind"] != "enrolled"], [])

    def test_big_batch_into_a_new_month(self):
        # 2024-02-29T20:00Z, a record a minute: March begins at record 241, in a later piece of the batch
        h, cl, lines = self.big(23, 1000, start=1709236800 * 1000000)
        status, r = cl.post_events(lines)
        self.assertEqual((status, r["stored"], r["acked_sequence"]), (200, 1000, 1000), r)
        if self.pg:     # each month in its own partition
            self.assertEqual(int(self.pg.sql("SELECT count(*) FROM events_202402")), 240)
            self.assertEqual(int(self.pg.sql("SELECT count(*) FROM events_202403")), 760)

    def test_follows_precondition(self):
        # An agent's second batch in flight names the sequence it follows: stored only when the host's last
        # stored sequence is that one, else 412 with nothing stored (the first batch failed: no gap is made)
        h, cl, lines = self.big(24, 3000)
        small = lines[:10]
        status, r = cl.post_events(small[5:], follows=5)
        self.assertEqual((status, r["error"]), (412, "precondition-failed"), r)
        self.assertIn("last stored sequence is 0, not 5", r["message"])
        self.assertEqual(self.count(h), 0)
        self.assertEqual(cl.post_events(small, follows=0)[0], 200)
        self.assertEqual(self.count(h), 10)
        # the small-batch path
        status, r = cl.post_events(lines[20:30], follows=19)
        self.assertEqual((status, r["error"]), (412, "precondition-failed"), r)
        self.assertIn("last stored sequence is 10, not 19", r["message"])
        status, r = cl.post_events(lines[10:20], follows=10)
        self.assertEqual((status, r["stored"], r["acked_sequence"]), (200, 10, 20), r)
        # the piece path (a big batch), both ways, gzip'd as the agent sends it
        status, r = cl.post_events(lines[1000:2000], gz=True, follows=999)
        self.assertEqual((status, r["error"]), (412, "precondition-failed"), r)
        self.assertEqual(self.count(h), 20)
        status, r = cl.post_events(lines[20:1000], gz=True, follows=20)
        self.assertEqual((status, r["stored"], r["acked_sequence"], r["chain"]), (200, 980, 1000, "intact"), r)
        status, r = cl.post_events(lines[1000:2000], gz=True, follows=1000)
        self.assertEqual((status, r["stored"], r["acked_sequence"], r["chain"]), (200, 1000, 2000, "intact"), r)
        # a re-sent batch that does not follow the last stored sequence is refused too, not stored twice
        status, r = cl.post_events(lines[1000:2000], follows=1000)
        self.assertEqual(status, 412, r)
        self.assertEqual((self.count(h), self.duplicates()), (2000, 0))
        self.assertEqual([a["kind"] for a in self.alerts(h) if a["kind"] != "enrolled"], [])
        # a second batch that reaches the collector while the one it follows is not even sent is refused
        # after a short wait (a first batch on its way in is waited for: docs/collector-api.md)
        second = ct.Client(self.c)
        second.ctx = cl.ctx             # the same host's certificate, on a connection of its own
        started = time.monotonic()
        status, r = second.post_events(lines[2500:3000], gz=True, follows=2500)
        self.assertEqual((status, r["error"]), (412, "precondition-failed"), r)
        self.assertLess(time.monotonic() - started, 1.5)
        self.assertEqual(self.count(h), 2000)
        status, r = cl.post_events(lines[2000:2500], gz=True, follows=2000)
        self.assertEqual((status, r["acked_sequence"], r["accepts_follows"]), (200, 2500, True), r)
        status, r = second.post_events(lines[2500:3000], gz=True, follows=2500)
        second.close()
        self.assertEqual((status, r["stored"], r["acked_sequence"], r["chain"]), (200, 500, 3000, "intact"), r)
        self.assertEqual((self.count(h), self.duplicates()), (3000, 0))
        self.assertEqual([a["kind"] for a in self.alerts(h) if a["kind"] != "enrolled"], [])
        # a malformed header is refused; nothing stored
        for bad in ("-1", "1x", "", "9223372036854775808", "0x10"):
            status, r = cl.post_events(lines[2000:2010], follows=bad)
            self.assertEqual((status, r["error"]), (400, "malformed"), (bad, r))
        self.assertEqual(self.host_info(h)["last_sequence"], 3000)

    # ---- refusals ----

    def test_no_client_certificate(self):
        cl = ct.Client(self.c)
        status, r = cl.json("POST", "/v1/events", b"", {})
        self.assertEqual((status, r["error"]), (403, "client-certificate-required"))
        status, r = cl.json("GET", "/v1/hosts")
        self.assertEqual(status, 403)
        cl.close()

    def test_wrong_ca(self):
        h = hid(6)
        cert, key = ct.foreign_ca_cert(self.base, h)
        cl = ct.Client(self.c, cert, key)
        lines = ct.make_events(self.base, h, "mn-pc-0006", 5, T0, HOUR)
        status, r = cl.post_events(lines)
        self.assertEqual((status, r["error"]), (403, "client-certificate-invalid"))
        self.assertEqual(self.count(h), 0)
        cl.close()

    def test_other_hosts_events(self):
        a, cla = self.host(7)
        b, clb = self.host(8)
        lb = ct.make_events(self.base, b, "mn-pc-0008", 5, T0, HOUR)
        la = ct.make_events(self.base, a, "mn-pc-0007", 5, T0, HOUR)
        status, r = cla.post_events(lb)
        self.assertEqual((status, r["error"], r["line"]), (403, "wrong-host", 1))
        status, r = cla.post_events(la[:4] + lb[4:])
        self.assertEqual((status, r["error"], r["line"]), (403, "wrong-host", 5))
        # in the second half of a batch parsed on several threads
        big = ct.make_events(self.base, a, "mn-pc-0007", 900, T0, 60 * 1000000, tag="-big")
        status, r = cla.post_events(big[:800] + lb[:1] + big[801:])
        self.assertEqual((status, r["error"], r["line"]), (403, "wrong-host", 801))
        self.assertEqual((self.count(a), self.count(b)), (0, 0))

    def test_malformed_line(self):
        h, cl = self.host(9)
        lines = ct.make_events(self.base, h, "mn-pc-0009", 5, T0, HOUR)
        bad = lines[:2] + ['{"event": not json'] + lines[3:]
        status, r = cl.post_events(bad)
        self.assertEqual((status, r["error"], r["line"]), (400, "malformed", 3))
        self.assertIn("line 3", r["message"])
        # valid JSON, but not canonical (a space): the text would not be what was hashed
        spaced = lines[:3] + [lines[3].replace('":', '": ', 1)] + lines[4:]
        status, r = cl.post_events(spaced)
        self.assertEqual((status, r["line"]), (400, 4))
        # missing sequence
        status, r = cl.post_events(lines[:1] + ['{"event":{"action":"x"}}'])
        self.assertEqual((status, r["line"]), (400, 2))
        self.assertEqual(self.count(h), 0)
        # a batch big enough to be parsed on several threads: the first bad line is named all the same
        big = ct.make_events(self.base, h, "mn-pc-0009", 1200, T0, 60 * 1000000, tag="-big")
        self.assertGreater(sum(len(l) for l in big), 512 * 1024)
        for bad_at in (5, 700, 1199):
            broken = big[:bad_at] + ["{bad"] + big[bad_at + 1:]
            status, r = cl.post_events(broken)
            self.assertEqual((status, r["line"]), (400, bad_at + 1))
        two_bad = big[:100] + ["{bad"] + big[101:1000] + ["{worse"] + big[1001:]
        self.assertEqual(cl.post_events(two_bad)[1]["line"], 101)
        self.assertEqual(self.count(h), 0)
        status, r = cl.post_events(big)
        self.assertEqual((status, r["stored"], r["acked_sequence"]), (200, 1200, 1200))

    def test_oversized(self):
        h, cl = self.host(10)
        # Content-Length beyond the limit: refused before the body is read
        conn = cl.connect()
        conn.putrequest("POST", "/v1/events")
        conn.putheader("Content-Length", str(17 * 1024 * 1024))
        conn.endheaders()
        resp = conn.getresponse()
        self.assertEqual(resp.status, 413)
        conn.close()
        # too many records
        line = ct.make_events(self.base, h, "mn-pc-0010", 1, T0, HOUR)[0]
        status, r = cl.post_events([line] * 10001)
        self.assertEqual((status, r["error"]), (413, "batch-too-large"))
        # 10,001 records in order (stored piece by piece until the limit), or 10,000 and a malformed line:
        # refused at line 10,001 as one pass over the lines would, nothing stored
        many = ct.make_events(self.base, h, "mn-pc-0010", 10001, T0, 1000000, tag="-many")
        for body in (many, many[:10000] + ["{bad"], many[:10000] + ["{bad"] * 3):
            status, r = cl.post_events(body)
            self.assertEqual((status, r["error"], r["line"]), (413, "batch-too-large", 10001), r)
        self.assertEqual(self.count(h), 0)
        # a gzip bomb: small on the wire, beyond the bound inflated
        bomb = gzip.compress(b"\n" * (17 * 1024 * 1024))
        status, r = cl.json("POST", "/v1/events", bomb, {"Content-Encoding": "gzip"})
        self.assertEqual((status, r["error"]), (413, "body-too-large"))
        status, r = cl.json("POST", "/v1/events", b"not gzip", {"Content-Encoding": "gzip"})
        self.assertEqual(status, 400)
        self.assertEqual(self.count(h), 0)

    def test_endpoints_and_roles(self):
        h, cl = self.host(11)
        self.assertEqual(cl.json("GET", "/v1/nothing")[0], 404)
        self.assertEqual(cl.json("DELETE", "/v1/events")[0], 405)
        self.assertEqual(cl.json("GET", "/v1/events")[1]["error"], "wrong-role")     # hosts do not read history
        status, r = self.op.json("POST", "/v1/events", b"", {})
        self.assertEqual((status, r["error"]), (403, "wrong-role"))                    # operators do not ingest
        status, r = self.op.json("GET", "/v1/health")
        self.assertEqual((status, r["status"]), (200, "ok"))
        status, r = self.op.json("GET", "/v1/events?host=NOTAHOST")
        self.assertEqual(status, 400)

    def test_revoked(self):
        h, cl = self.host(12)
        self.assertEqual(cl.json("GET", "/v1/health")[0], 200)
        self.c.cli("revoke", "--host", h)
        status, r = cl.json("GET", "/v1/health")
        self.assertEqual((status, r["error"]), (403, "client-certificate-revoked"))

    # ---- queries ----

    def test_query_filters_and_paging(self):
        h, cl = self.host(13, "mn-pc-query")
        lines = ct.make_events(self.base, h, "mn-pc-query", 48, T0, HOUR)    # two days, one an hour
        self.assertEqual(cl.post_events(lines)[0], 200)
        recs = [json.loads(l) for l in lines]

        def get(query):
            status, hdrs, data = self.op.request("GET", "/v1/events?" + query)
            self.assertEqual(status, 200, data)
            return [json.loads(l) for l in data.decode().splitlines()], hdrs.get("mnguard-next-after")

        got, nxt = get(f"host={h}")
        self.assertEqual([r["event"]["sequence"] for r in got], list(range(1, 49)))
        self.assertIsNone(nxt)
        self.assertEqual(got[0], recs[0])       # the record as sent, byte for byte after parsing
        got, _ = get(f"host={h}&action=device-*")
        self.assertEqual(len(got), len([r for r in recs if r["event"]["action"].startswith("device-")]))
        got, _ = get(f"host={h}&user=tanaka")
        self.assertEqual(len(got), len([r for r in recs if r["user"]["name"] == "tanaka"]))
        serial = recs[3]["device"]["serial"]
        got, _ = get(f"host={h}&device={serial}")
        self.assertEqual(len(got), len([r for r in recs if r["device"]["serial"] == serial]))
        got, _ = get(f"host={h}&device=0781:5582")
        self.assertEqual(len(got), len([r for r in recs if r["device"]["product"] == "5582"]))
        got, _ = get(f"host={h}&since=2025-11-27T00:00:00Z&until=2025-11-27T06:00:00Z")
        self.assertEqual([r["event"]["sequence"] for r in got], list(range(25, 31)))
        got, _ = get(f"host={h}&order=desc&limit=3")
        self.assertEqual([r["event"]["sequence"] for r in got], [48, 47, 46])
        # paging through everything, 7 at a time
        seen, after = [], None
        while True:
            page, after = get(f"host={h}&limit=7" + (f"&after={after}" if after else ""))
            seen += [r["event"]["sequence"] for r in page]
            if not after:
                break
        self.assertEqual(seen, list(range(1, 49)))
        # the command line: same filters, NDJSON
        out = self.c.cli("query", "--host", h, "--action", "device-*", "--json").stdout.splitlines()
        self.assertEqual(len(out), len([r for r in recs if r["event"]["action"].startswith("device-")]))
        out = self.c.cli("query", "--host", h, "--since", "2025-11-27T00:00:00Z", "--limit", "5", "--json").stdout
        self.assertEqual([json.loads(l)["event"]["sequence"] for l in out.splitlines()], [25, 26, 27, 28, 29])
        table = self.c.cli("query", "--host", h, "--user", "sato").stdout
        self.assertIn("sato", table)
        self.assertEqual(len(table.splitlines()) - 1, len([r for r in recs if r["user"]["name"] == "sato"]))

    def test_attribute_filter_pages(self):
        """A user or device filter with a limit, paged both ways over 40 days (PostgreSQL reads such a query in
        time windows that grow after empty ones): every matching record once, in order, and nothing else."""
        h, cl = self.host(17, "mn-pc-pages")
        lines = ct.make_events(self.base, h, "mn-pc-pages", 120, T0, 8 * HOUR)       # 40 days
        self.assertEqual(cl.post_events(lines)[0], 200)
        recs = [json.loads(l) for l in lines]
        serial = recs[2]["device"]["serial"]

        def pages(query, limit):
            seen, after = [], None
            for _ in range(100):
                status, hdrs, data = self.op.request("GET", f"/v1/events?host={h}&{query}&limit={limit}" +
                                                     (f"&after={after}" if after else ""))
                self.assertEqual(status, 200, data)
                page = [json.loads(l)["event"]["sequence"] for l in data.decode().splitlines()]
                self.assertLessEqual(len(page), limit)
                seen += page
                after = hdrs.get("mnguard-next-after")
                if not after:
                    return seen
            self.fail("paging did not end")

        for query, want in ((f"user=tanaka", lambda r: r["user"]["name"] == "tanaka"),
                            (f"device={serial}", lambda r: r["device"]["serial"] == serial),
                            (f"device=0781:5582", lambda r: r["device"]["product"] == "5582")):
            seqs = [r["event"]["sequence"] for r in recs if want(r)]
            self.assertGreater(len(seqs), 1, query)      # a serial: every 50th record, 16 days apart
            for limit in (1, 3, 100):
                self.assertEqual(pages(query, limit), seqs, (query, limit))
                self.assertEqual(pages(query + "&order=desc", limit), seqs[::-1], (query, limit))
            # bounded on one side or both
            since = "2025-12-05T00:00:00Z"
            first = [r["event"]["sequence"] for r in recs if want(r) and r["@timestamp"] >= since]
            self.assertEqual(pages(query + f"&since={since}", 2), first, query)
            self.assertEqual(pages(query + f"&until={since}&order=desc", 2),
                             [q for q in seqs if q not in first][::-1], query)
        self.assertEqual(pages("user=nobody-at-all", 5), [])

    def test_attribute_filters_use_their_index(self):
        """PostgreSQL: the user, serial and vendor:product filters are answered through the GIN index events_attrs
        (with sequential and plain index scans turned off for the query's session, an expression the index does
        not match would be a failed query plan or a scan of another index, not a use of events_attrs)."""
        if not self.pg:
            self.skipTest("PostgreSQL only: SQLite has one btree index per attribute")
        h, cl = self.host(16, "mn-pc-attrs")
        lines = ct.make_events(self.base, h, "mn-pc-attrs", 24, T0, HOUR)
        self.assertEqual(cl.post_events(lines)[0], 200)
        recs = [json.loads(l) for l in lines]
        scans = ("SELECT coalesce(sum(s.idx_scan), 0) FROM pg_inherits i JOIN pg_stat_user_indexes s "
                 "ON s.indexrelid = i.inhrelid WHERE i.inhparent = 'events_attrs'::regclass")
        # every partition's index keeps the short pending list
        opts = self.pg.sql("SELECT string_agg(DISTINCT array_to_string(c.reloptions, ','), ';') FROM pg_inherits i "
                           "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events_attrs'::regclass")
        self.assertEqual(opts, "gin_pending_list_limit=512")
        self.pg.sql("ALTER DATABASE postgres SET enable_seqscan = off")
        self.pg.sql("ALTER DATABASE postgres SET enable_indexscan = off")
        try:
            serial = recs[5]["device"]["serial"]
            for args, want in ((["--user", "tanaka"], lambda r: r["user"]["name"] == "tanaka"),
                               (["--device", serial], lambda r: r["device"]["serial"] == serial),
                               (["--device", "0781:5582"], lambda r: r["device"]["product"] == "5582")):
                before = int(self.pg.sql(scans))
                # every host's (a host filter could be answered by a host index alone)
                out = [json.loads(l) for l in self.c.cli("query", *args, "--json").stdout.splitlines()]
                self.assertTrue(all(want(r) for r in out), args)
                self.assertEqual([r for r in out if r["host"]["id"] == h], [r for r in recs if want(r)], args)
                self.assertGreater(len(out), 0, args)
                # the statistics of the query's backend are flushed when its connection ends
                for _ in range(50):
                    if int(self.pg.sql(scans)) > before:
                        break
                    time.sleep(0.1)
                self.assertGreater(int(self.pg.sql(scans)), before, args)
        finally:
            self.pg.sql("ALTER DATABASE postgres RESET enable_seqscan")
            self.pg.sql("ALTER DATABASE postgres RESET enable_indexscan")

    def test_hosts_endpoint(self):
        h, cl = self.host(14, "mn-pc-hosts")
        cl.post_events(ct.make_events(self.base, h, "mn-pc-hosts", 3, T0, HOUR))
        status, r = self.op.json("GET", "/v1/hosts")
        self.assertEqual(status, 200)
        me = next(x for x in r["hosts"] if x["host_id"] == h)
        self.assertEqual((me["host_name"], me["last_sequence"], me["chain"]), ("mn-pc-hosts", 3, "intact"))
        self.assertIsNotNone(me["last_seen"])
        table = self.c.cli("hosts").stdout
        self.assertIn("mn-pc-hosts", table)

    # ---- the database going away (PostgreSQL) ----

    def test_postgresql_restart_during_ingest(self):
        if not self.pg:
            self.skipTest("PostgreSQL only")
        h, cl = self.host(15)
        lines = ct.make_events(self.base, h, "mn-pc-0015", 400, T0, 60 * 1000000)
        batches = [lines[i:i + 10] for i in range(0, len(lines), 10)]
        statuses = []
        restarted = threading.Event()

        def restart():
            self.pg.stop()
            restarted.set()
            self.pg.start()

        t = None
        for i, b in enumerate(batches):
            if i == 5:
                t = threading.Thread(target=restart)
                t.start()
                restarted.wait(60)
            deadline = time.monotonic() + 60
            while True:
                status, r = cl.post_events(b)
                statuses.append(status)
                if status == 200:
                    break
                self.assertEqual((status, r["error"]), (503, "storage-unavailable"))
                self.assertLess(time.monotonic(), deadline)
                if t:
                    t.join()       # the agent backs off; here: wait for the database to be back
        t.join()
        self.assertIn(503, statuses)
        self.assertEqual(r["acked_sequence"], 400)
        self.assertEqual(self.count(h), 400)
        self.assertEqual(self.duplicates(), 0)

    def test_postgresql_restart_pool_recovers(self):
        """After a database restart, the pooled connections that sat idle meanwhile are checked before their next
        use once one of them was found broken: requests go on working instead of answering 503 once per stale
        connection."""
        if not self.pg:
            self.skipTest("PostgreSQL only")
        clients = [copy.copy(self.op) for _ in range(12)]
        for c in clients:
            c.conn = None

        def burst():
            with concurrent.futures.ThreadPoolExecutor(len(clients)) as ex:
                return list(ex.map(lambda c: c.json("GET", "/v1/hosts")[0], clients))

        self.assertEqual(burst(), [200] * len(clients))      # the pool now holds several connections
        for c in clients:
            if c.conn:
                c.conn.close()
                c.conn = None
        self.pg.stop()
        self.pg.start()
        self.assertIn(self.op.json("GET", "/v1/hosts")[0], (200, 503))  # the first may meet a broken one
        statuses = burst() + burst()
        self.assertEqual(statuses, [200] * len(statuses))

    def test_concurrent_enrollment_and_ingest(self):
        """Many terminals enrolling at once while others post batches (the writer connection is shared by
        the worker threads: a statement finalized outside its lock once corrupted the SQLite file)."""
        n = 48
        token = self.c.token("--uses", str(n))
        keys = [ct.make_key_csr(self.base, f"conc{i}", hid(500 + i)) for i in range(n)]
        posters = [self.host(600 + i) for i in range(4)]
        results, errors = {}, []

        def enroll_one(i):
            try:
                key, csr = keys[i]
                client = ct.Client(self.c)
                with open(csr) as f:
                    body = json.dumps({"token": token, "csr": f.read(), "host_name": f"conc-{i}"})
                results[i] = client.json("POST", "/v1/enroll", body, {"Content-Type": "application/json"})[0]
                client.close()
            except Exception as e:      # noqa: BLE001 -- reported below
                errors.append(repr(e))

        def post(j):
            try:
                h, cl = posters[j]
                lines = ct.make_events(self.base, h, f"mn-pc-{600 + j:04d}", 200, T0, 1000, tag=f"c{j}")
                for k in range(0, 200, 20):
                    self.assertEqual(cl.post_events(lines[k:k + 20])[0], 200)
            except Exception as e:      # noqa: BLE001
                errors.append(repr(e))
        threads = [threading.Thread(target=enroll_one, args=(i,)) for i in range(n)]
        threads += [threading.Thread(target=post, args=(j,)) for j in range(len(posters))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        self.assertEqual(sorted(results.values()), [200] * n)
        for j, (h, cl) in enumerate(posters):
            self.assertEqual(self.count(h), 200)
            self.assertEqual(cl.json("GET", "/v1/health")[0], 200)
        if not self.pg:
            db = sqlite3.connect(f"file:{self.c.dir}/collector.db?mode=ro", uri=True)
            try:
                self.assertEqual(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
            finally:
                db.close()


# The storage format 1 (events keyed by the host id text), as a collector before format 2 made it: the upgrade
# test starts the current collector on such a database.
FORMAT1_SQLITE = """
CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE hosts (host_id TEXT PRIMARY KEY NOT NULL, host_name TEXT, grp TEXT,
  enrolled INTEGER NOT NULL DEFAULT 0, last_seen INTEGER NOT NULL DEFAULT 0,
  first_seq INTEGER NOT NULL DEFAULT 0, contiguous_seq INTEGER NOT NULL DEFAULT 0,
  last_seq INTEGER NOT NULL DEFAULT 0, n_events INTEGER NOT NULL DEFAULT 0,
  n_broken INTEGER NOT NULL DEFAULT 0, chain TEXT NOT NULL DEFAULT 'empty');
CREATE TABLE events (host_id TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,
  received INTEGER NOT NULL, action TEXT NOT NULL, user_name TEXT, dev_serial TEXT, dev_vidpid TEXT,
  flags INTEGER NOT NULL, hash BLOB NOT NULL, prev_hash BLOB NOT NULL, digest BLOB NOT NULL, body TEXT NOT NULL);
CREATE UNIQUE INDEX events_host_seq ON events (host_id, seq);
CREATE INDEX events_host_ts ON events (host_id, ts, seq);
CREATE INDEX events_ts ON events (ts, host_id, seq);
CREATE INDEX events_user ON events (user_name, ts) WHERE user_name IS NOT NULL;
INSERT INTO meta VALUES ('format', '1');
"""
FORMAT1_PG = """
CREATE TABLE mnguard_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE hosts (host_id text COLLATE "C" PRIMARY KEY, host_name text, grp text,
  enrolled bigint NOT NULL DEFAULT 0, last_seen bigint NOT NULL DEFAULT 0,
  first_seq bigint NOT NULL DEFAULT 0, contiguous_seq bigint NOT NULL DEFAULT 0,
  last_seq bigint NOT NULL DEFAULT 0, n_events bigint NOT NULL DEFAULT 0,
  n_broken bigint NOT NULL DEFAULT 0, chain text NOT NULL DEFAULT 'empty');
CREATE TABLE events (host_id text COLLATE "C" NOT NULL, seq bigint NOT NULL, ts bigint NOT NULL,
  received bigint NOT NULL, action text COLLATE "C" NOT NULL, user_name text COLLATE "C",
  dev_serial text COLLATE "C", dev_vidpid text COLLATE "C", flags integer NOT NULL, hash bytea NOT NULL,
  prev_hash bytea NOT NULL, digest bytea NOT NULL, body text NOT NULL) PARTITION BY RANGE (ts);
CREATE INDEX events_host_seq ON events (host_id, seq);
CREATE INDEX events_host_ts ON events (host_id, ts, seq);
CREATE INDEX events_ts ON events (ts, host_id, seq);
CREATE INDEX events_user ON events (user_name, ts) WHERE user_name IS NOT NULL;
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE TABLE events_202511 PARTITION OF events FOR VALUES FROM (1761955200000000) TO (1764547200000000);
INSERT INTO mnguard_meta VALUES ('format', '1');
"""


class UpgradeTest(unittest.TestCase):
    """A database of format 1 is converted at start: its records are read back and its chains go on."""

    def test_format1_converted(self):
        with tempfile.TemporaryDirectory(prefix="mnguard-collector-upgrade-") as base:
            pg = None
            storage = None
            if BACKEND == "postgresql":
                pg = ct.Postgres(base)
                pg.init()
                pg.start()
                storage = "postgresql:" + pg.conninfo
            try:
                self.run_upgrade(base, pg, storage)
            finally:
                if pg:
                    pg.stop()

    def run_upgrade(self, base, pg, storage):
        h = hid(90)
        lines = ct.make_events(base, h, "mn-pc-old", 6, T0, HOUR)
        recs = [json.loads(l) for l in lines]
        rows = []
        for rec in recs[:3]:
            ts = T0 + (rec["event"]["sequence"] - 1) * HOUR
            digest = rec["mnguard"]["hash"]
            rows.append((h, rec["event"]["sequence"], ts, ts, rec["event"]["action"], rec["mnguard"]["hash"],
                         rec["mnguard"]["prev_hash"], digest))
        c = ct.Collector(base, storage)
        if pg:
            pg.sql(FORMAT1_PG)
            pg.sql(f"INSERT INTO hosts (host_id, first_seq, contiguous_seq, last_seq, n_events, chain) "
                   f"VALUES ('{h}', 1, 3, 3, 3, 'intact')")
            for (hh, seq, ts, recv, action, hsh, prev, dig), line in zip(rows, lines):
                body = line.replace("'", "''")
                pg.sql(f"INSERT INTO events VALUES ('{hh}', {seq}, {ts}, {recv}, '{action}', NULL, NULL, NULL, 0, "
                       f"'\\x{hsh}', '\\x{prev}', '\\x{dig}', '{body}')")
        else:
            os.makedirs(c.dir, exist_ok=True)
            db = sqlite3.connect(os.path.join(c.dir, "collector.db"))
            db.executescript(FORMAT1_SQLITE)
            db.execute("INSERT INTO hosts (host_id, first_seq, contiguous_seq, last_seq, n_events, chain) "
                       "VALUES (?, 1, 3, 3, 3, 'intact')", (h,))
            for (hh, seq, ts, recv, action, hsh, prev, dig), line in zip(rows, lines):
                db.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, 0, ?, ?, ?, ?)",
                           (hh, seq, ts, recv, action, bytes.fromhex(hsh), bytes.fromhex(prev), bytes.fromhex(dig),
                            line))
            db.commit()
            db.close()
        c.init_ca()
        # converted by the first verb that opens it; the records as they were received
        out = c.cli("query", "--host", h, "--json").stdout
        self.assertEqual(out.splitlines(), lines[:3])

        def sql(q):
            if pg:
                return pg.sql(q)
            db = sqlite3.connect(f"file:{c.dir}/collector.db?mode=ro", uri=True)
            try:
                return "|".join(str(v) for v in db.execute(q).fetchone())
            finally:
                db.close()
        self.assertEqual(sql("SELECT value FROM " + ("mnguard_meta" if pg else "meta") + " WHERE key = 'format'"), "2")
        self.assertEqual(sql("SELECT count(*) FROM event_rows WHERE host_key IS NOT NULL"), "3")
        if pg:
            # the attribute btrees of earlier versions (here events_user) gave way to the one GIN index
            self.assertEqual(pg.sql("SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes "
                                    "WHERE tablename = 'event_rows'"),
                             "events_attrs,events_host_seq,events_host_ts,events_ts")

        # the chain goes on from the converted rows: a re-send is duplicates, the rest follows, intact
        c.cli("issue-host-cert", "--host", h, "--out", os.path.join(base, "old"))
        c.start()
        try:
            cl = ct.Client(c, os.path.join(base, "old.crt"), os.path.join(base, "old.key"))
            status, reply = cl.post_events(lines[1:])
            self.assertEqual(status, 200, reply)
            self.assertEqual((reply["duplicates"], reply["stored"], reply["acked_sequence"], reply["chain"]),
                             (2, 3, 6, "intact"))
            cl.close()
        finally:
            c.stop()
        self.assertEqual(c.cli("query", "--host", h, "--json").stdout.splitlines(), lines)

        # a format newer than this collector's is refused, with the reason
        if pg:
            pg.sql("UPDATE mnguard_meta SET value = '3' WHERE key = 'format'")
        else:
            db = sqlite3.connect(os.path.join(c.dir, "collector.db"))
            db.execute("UPDATE meta SET value = '3' WHERE key = 'format'")
            db.commit()
            db.close()
        r = c.cli("hosts", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("storage format is newer", r.stderr)


class LimitsTest(unittest.TestCase):
    """Slow clients and too many connections, on a collector with tight limits."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="mnguard-collector-limits-")
        cls.c = ct.Collector(cls.tmp.name, extra=["--idle-timeout", "2", "--connection-limit", "4"])
        cls.c.init_ca()
        cls.c.start()

    @classmethod
    def tearDownClass(cls):
        cls.c.stop()
        cls.tmp.cleanup()

    def tls(self):
        ctx = ssl.create_default_context(cafile=self.c.ca)
        ctx.check_hostname = False
        raw = socket.create_connection(("127.0.0.1", self.c.port), timeout=10)
        return ctx.wrap_socket(raw)

    def test_slow_client_closed(self):
        s = self.tls()
        s.sendall(b"POST /v1/enroll HTTP/1.1\r\nHost: x\r\n")     # and then nothing
        start = time.monotonic()
        try:
            data = s.recv(4096)
        except (ConnectionError, ssl.SSLError):
            data = b""
        self.assertEqual(data, b"")
        self.assertLess(time.monotonic() - start, 8)
        s.close()

    def test_connection_limit(self):
        held = [self.tls() for _ in range(4)]
        refused = False
        try:
            extra = self.tls()
            extra.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            refused = extra.recv(4096) == b""
            extra.close()
        except (ConnectionError, ssl.SSLError, OSError):
            refused = True
        self.assertTrue(refused, "a fifth connection was served")
        for s in held:
            s.close()
        # capacity comes back once connections close
        deadline = time.monotonic() + 10
        while True:
            try:
                s = self.tls()
                s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = s.recv(4096)
                s.close()
                if answer.startswith(b"HTTP/1.1 403"):
                    break
            except (ConnectionError, ssl.SSLError, OSError):
                pass
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.1)


if __name__ == "__main__":
    if BACKEND == "postgresql":
        why = ct.Postgres.available()
        if why:
            ct.skip_all(why)
    elif BACKEND != "sqlite":
        ct.skip_all("unknown backend " + BACKEND)
    unittest.main(verbosity=2)
