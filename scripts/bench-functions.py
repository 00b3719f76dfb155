#!/usr/bin/python3
"""CPU cost of ZDM_REPLACE_CQL_FUNCTIONS in `zdm proxy`: proxy CPU seconds (utime + stime from
/proc/PID/stat) per 100k requests, for

  prepared INSERT with now()                         (setting on)
  the same INSERT with a client-bound timeuuid       (setting on)
  a plain prepared INSERT                            (setting on, and off)
  simple (QUERY) INSERT with now() / with a literal  (setting on)

Starts an origin and a target `zdm node` (--threads 1) and two proxies (ZDM_PROXY_THREADS=1), one
with the setting and one without. Client `raw` (default): hand-built protocol v4 frames on one
connection, --concurrency requests pipelined per window, which keeps the proxy busy so that its
per-request CPU is not dominated by wake-ups. Client `driver`: the Python driver's
cassandra.concurrent.execute_concurrent_with_args (realistic but slow: a few thousand requests/s).
Cases take turns for --rounds rounds; the median is reported. Both nodes' stored values are
spot-checked afterwards.

Usage: /usr/bin/python3 scripts/bench-functions.py BUILD_DIR [--requests 100000] [--rounds 3]
       [--client raw|driver] [--protocol 4 (driver)] [--concurrency 128]
"""
import argparse
import os
import socket
import struct
import statistics
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "interop"))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- raw pipelined client (protocol v4, no compression): drives the proxy near saturation, so
# its per-request CPU is not dominated by the wake-ups of a slow client.
HEADER = struct.Struct(">BBhBi")
OP_STARTUP, OP_READY, OP_QUERY, OP_RESULT, OP_PREPARE, OP_EXECUTE = 0x01, 0x02, 0x07, 0x08, 0x09, 0x0A
ONE = 0x0001


def _string_map(entries):
    out = struct.pack(">H", len(entries))
    for k, v in entries.items():
        for x in (k.encode(), v.encode()):
            out += struct.pack(">H", len(x)) + x
    return out


def _value(b):
    return struct.pack(">i", len(b)) + b


class RawClient:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.sock.sendall(self.frame(0, OP_STARTUP, _string_map({"CQL_VERSION": "3.0.0"})))
        op, _ = self.read_one()
        assert op == OP_READY, op

    @staticmethod
    def frame(stream, opcode, body):
        return HEADER.pack(0x04, 0, stream, opcode, len(body)) + body

    def read_one(self):
        while True:
            if len(self.buf) >= 9:
                _, _, _, op, length = HEADER.unpack_from(self.buf, 0)
                if len(self.buf) >= 9 + length:
                    body = bytes(self.buf[9:9 + length])
                    del self.buf[:9 + length]
                    return op, body
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def request(self, opcode, body):
        self.sock.sendall(self.frame(0, opcode, body))
        return self.read_one()

    def prepare(self, cql):
        q = cql.encode()
        op, body = self.request(OP_PREPARE, struct.pack(">i", len(q)) + q)
        assert op == OP_RESULT, body
        kind, idlen = struct.unpack_from(">iH", body, 0)
        assert kind == 4
        return body[6:6 + idlen]

    def run(self, bodies, opcode, window):
        """Sends every body (window frames in flight at most); returns the number of errors."""
        errors = 0
        i = 0
        n = len(bodies)
        while i < n:
            batch = bodies[i:i + window]
            self.sock.sendall(b"".join(self.frame(j, opcode, b) for j, b in enumerate(batch)))
            i += len(batch)
            # Parse the whole window's answers from the buffer in bulk.
            got = 0
            while got < len(batch):
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    raise ConnectionError("closed")
                self.buf += chunk
                pos = 0
                while len(self.buf) - pos >= 9:
                    _, _, _, op, length = HEADER.unpack_from(self.buf, pos)
                    if len(self.buf) - pos < 9 + length:
                        break
                    if op != OP_RESULT:
                        errors += 1
                    pos += 9 + length
                    got += 1
                del self.buf[:pos]
        return errors


def execute_body(prepared_id, values):
    return (struct.pack(">H", len(prepared_id)) + prepared_id + struct.pack(">HBH", ONE, 0x01,
                                                                              len(values))
            + b"".join(_value(v) for v in values))


def query_body(cql):
    q = cql.encode()
    return struct.pack(">i", len(q)) + q + struct.pack(">HB", ONE, 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--client", choices=["raw", "driver"], default="raw")
    ap.add_argument("--protocol", type=int, default=4, help="driver client only")
    ap.add_argument("--concurrency", type=int, default=128)
    ap.add_argument("--only", default="", help="run only cases whose name contains this")
    args = ap.parse_args()
    os.environ["ZDM_BIN"] = os.path.join(os.path.abspath(args.build), "apps", "zdm", "zdm")

    import zdm_procs
    from cassandra.cluster import Cluster
    from cassandra.concurrent import execute_concurrent_with_args

    origin = zdm_procs.Node("--threads", "1", cluster_name="origin")
    target = zdm_procs.Node("--threads", "1", "--prepared-id-salt", "t", cluster_name="target")
    on = zdm_procs.Proxy(origin, target, settings={"REPLACE_CQL_FUNCTIONS": "true",
                                                   "PROXY_THREADS": "1"})
    off = zdm_procs.Proxy(origin, target, settings={"PROXY_THREADS": "1"})
    clusters = []
    try:
        def session_for(host, port, keyspace=None):
            c = Cluster(contact_points=[host], port=port, protocol_version=args.protocol,
                        connect_timeout=10)
            clusters.append(c)
            return c.connect(keyspace)

        s_on = session_for(on.host, on.port)
        s_on.execute("CREATE KEYSPACE bench_fn WITH replication = "
                     "{'class': 'SimpleStrategy', 'replication_factor': 1}")
        s_on.execute("CREATE TABLE bench_fn.t (k int PRIMARY KEY, t timeuuid, n int)")

        n = args.requests
        keys = range(n)
        timeuuids = [uuid.uuid1() for _ in range(1000)]
        now_insert = "INSERT INTO bench_fn.t (k, t, n) VALUES (?, now(), ?)"
        bound_insert = "INSERT INTO bench_fn.t (k, t, n) VALUES (?, ?, ?)"
        plain_insert = "INSERT INTO bench_fn.t (k, n) VALUES (?, ?)"
        if args.client == "raw":
            raw_on, raw_off = RawClient(on.host, on.port), RawClient(off.host, off.port)
            i32 = struct.Struct(">i").pack

            # Bodies are built just before their case runs (not counted: proxy CPU only).
            def execute_case(client, cql, values):
                pid = client.prepare(cql)
                return lambda: (client, OP_EXECUTE, [execute_body(pid, values(k)) for k in keys])

            def query_case(client, text):
                return lambda: (client, OP_QUERY, [query_body(text(k)) for k in keys])
            cases = {
                "prepared INSERT now(), setting on":
                    execute_case(raw_on, now_insert, lambda k: [i32(k), i32(k)]),
                "prepared INSERT client timeuuid, setting on":
                    execute_case(raw_on, bound_insert,
                                 lambda k: [i32(k), timeuuids[k % 1000].bytes, i32(k)]),
                "prepared plain INSERT, setting on":
                    execute_case(raw_on, plain_insert, lambda k: [i32(k), i32(k)]),
                "prepared plain INSERT, setting off":
                    execute_case(raw_off, plain_insert, lambda k: [i32(k), i32(k)]),
                "simple INSERT now(), setting on":
                    query_case(raw_on, lambda k: "INSERT INTO bench_fn.t (k, t, n) VALUES "
                                                 "(%d, now(), %d)" % (k, k)),
                "simple INSERT literal timeuuid, setting on":
                    query_case(raw_on, lambda k: "INSERT INTO bench_fn.t (k, t, n) VALUES "
                                                 "(%d, %s, %d)" % (k, timeuuids[k % 1000], k)),
                "simple plain INSERT, setting on":
                    query_case(raw_on, lambda k: "INSERT INTO bench_fn.t (k, n) VALUES "
                                                 "(%d, %d)" % (k, k)),
                "simple plain INSERT, setting off":
                    query_case(raw_off, lambda k: "INSERT INTO bench_fn.t (k, n) VALUES "
                                                  "(%d, %d)" % (k, k)),
            }
            proxy_of = {id(raw_on): on, id(raw_off): off}

            def prepare_case(case):
                return case()

            def run_case(prepared):
                client, opcode, bodies = prepared
                errors = client.run(bodies, opcode, args.concurrency)
                assert errors == 0, errors
                return proxy_of[id(client)]
        else:
            s_on.execute("USE bench_fn")
            s_off = session_for(off.host, off.port, "bench_fn")
            cases = {
                "prepared INSERT now(), setting on":
                    (on, s_on, s_on.prepare(now_insert), [(k, k) for k in keys]),
                "prepared INSERT client timeuuid, setting on":
                    (on, s_on, s_on.prepare(bound_insert),
                     [(k, timeuuids[k % 1000], k) for k in keys]),
                "prepared plain INSERT, setting on":
                    (on, s_on, s_on.prepare(plain_insert), [(k, k) for k in keys]),
                "prepared plain INSERT, setting off":
                    (off, s_off, s_off.prepare(plain_insert), [(k, k) for k in keys]),
                "simple INSERT now(), setting on":
                    (on, s_on, "INSERT INTO t (k, t, n) VALUES (%s, now(), %s)",
                     [(k, k) for k in keys]),
                "simple INSERT literal timeuuid, setting on":
                    (on, s_on, "INSERT INTO t (k, t, n) VALUES (%s, %s, %s)",
                     [(k, timeuuids[k % 1000], k) for k in keys]),
            }

            def prepare_case(case):
                return case

            def run_case(case):
                proxy, session, stmt, params = case
                out = execute_concurrent_with_args(session, stmt, params,
                                                   concurrency=args.concurrency,
                                                   raise_on_first_error=True)
                assert all(ok for ok, _ in out)
                return proxy

        cases = {k: v for k, v in cases.items() if args.only in k}
        proxies = {"on": on, "off": off}
        results = {name: [] for name in cases}
        rates = {name: [] for name in cases}
        for r in range(args.rounds):
            for name, case in cases.items():
                prepared = prepare_case(case)
                before = {k: cpu_seconds(p.proc.pid) for k, p in proxies.items()}
                start = time.monotonic()
                proxy = run_case(prepared)
                wall = time.monotonic() - start
                key = "on" if proxy is on else "off"
                cpu = cpu_seconds(proxy.proc.pid) - before[key]
                results[name].append(cpu * 100000.0 / n)
                rates[name].append(n / wall)
                print("round %d: %-45s %.3f CPU s/100k  (%.0f req/s)"
                      % (r + 1, name, results[name][-1], rates[name][-1]), flush=True)

        # Spot check: the now() cases wrote identical values on both nodes.
        so = session_for(origin.host, origin.port, "bench_fn")
        st = session_for(target.host, target.port, "bench_fn")
        for k in (0, n // 2, n - 1):
            a = list(so.execute("SELECT t FROM t WHERE k = %s", (k,)))[0].t
            b = list(st.execute("SELECT t FROM t WHERE k = %s", (k,)))[0].t
            assert a == b, (k, a, b)

        print("\n%s client%s, %d requests per case, %d rounds, %d in flight; medians:"
              % (args.client, "" if args.client == "raw" else " (v%d)" % args.protocol, n,
                 args.rounds, args.concurrency))
        print("| case | proxy CPU s per 100k requests | CPU µs per request | req/s |")
        print("|---|---|---|---|")
        for name in cases:
            med = statistics.median(results[name])
            print("| %s | %.3f | %.2f | %.0f |" % (name, med, med * 10.0,
                                                   statistics.median(rates[name])))
    finally:
        for c in clusters:
            c.shutdown()
        for p in (on, off, origin, target):
            p.stop()


if __name__ == "__main__":
    main()
