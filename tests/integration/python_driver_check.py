#!/usr/bin/python3
"""Connects the DataStax Python driver to a running zdm node and exercises it.

Run by node_python_driver_test.cpp against an in-process server (or by hand against
`zdm node --listen 127.0.0.1:0 --admin 127.0.0.1:0`). Exit status 0 means every check passed;
each failure prints what was expected.

  python_driver_check.py --port P [--admin-port A] [--user name:password] [--expect-version N]
                         [--protocol-version N] [--compression lz4|snappy]
"""
import argparse
import json
import sys
import urllib.request

from cassandra import WriteTimeout
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, NoHostAvailable
from cassandra.policies import RoundRobinPolicy


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def admin(port, method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=body.encode() if body else None)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def connect(args, user=None, password=None):
    kwargs = dict(contact_points=["127.0.0.1"], port=args.port, connect_timeout=10,
                  control_connection_timeout=10, load_balancing_policy=RoundRobinPolicy())
    if args.protocol_version:
        kwargs["protocol_version"] = args.protocol_version
    if args.compression:
        kwargs["compression"] = args.compression
    if user is not None:
        kwargs["auth_provider"] = PlainTextAuthProvider(username=user, password=password)
    cluster = Cluster(**kwargs)
    return cluster, cluster.connect()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--admin-port", type=int)
    p.add_argument("--user")
    p.add_argument("--expect-version", type=int)
    p.add_argument("--protocol-version", type=int)
    p.add_argument("--compression")
    args = p.parse_args()

    user = password = None
    if args.user:
        user, password = args.user.split(":", 1)
        try:
            c, _ = connect(args, user, password + "-wrong")
            c.shutdown()
            fail("a wrong password was accepted")
        except NoHostAvailable as e:
            if "incorrect" not in str(e):
                fail(f"wrong password: unexpected error {e}")

    cluster, session = connect(args, user, password)
    try:
        if args.expect_version and cluster.protocol_version != args.expect_version:
            fail(f"negotiated protocol v{cluster.protocol_version}, expected "
                 f"v{args.expect_version}")
        row = session.execute("SELECT release_version, cluster_name FROM system.local").one()
        if not row or not row.release_version:
            fail("system.local has no release_version")

        session.execute("CREATE KEYSPACE IF NOT EXISTS drv WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}")
        session.execute("CREATE TABLE IF NOT EXISTS drv.kv (k int PRIMARY KEY, v text)")
        insert = session.prepare("INSERT INTO drv.kv (k, v) VALUES (?, ?)")
        for i in range(50):
            session.execute(insert, (i, f"value-{i}"))
        select = session.prepare("SELECT v FROM drv.kv WHERE k = ?")
        got = session.execute(select, (7,)).one()
        if got is None or got.v != "value-7":
            fail(f"read back {got!r}, expected value-7")
        # Earlier runs against the same node may have added rows 100 and 101.
        count = len([r for r in session.execute("SELECT k FROM drv.kv") if r.k < 50])
        if count != 50:
            fail(f"full scan returned {count} rows below 50, expected 50")

        if args.admin_port:
            rule = admin(args.admin_port, "POST", "/faults",
                         json.dumps({"action": "error", "error": "WRITE_TIMEOUT",
                                     "opcode": "EXECUTE", "query": "^INSERT INTO drv",
                                     "count": 1}))
            try:
                session.execute(insert, (100, "x"))
                fail("the injected WRITE_TIMEOUT did not reach the driver")
            except WriteTimeout:
                pass
            session.execute(insert, (101, "y"))  # count=1: the rule is spent
            admin(args.admin_port, "DELETE", "/faults")
            counters = admin(args.admin_port, "GET", "/counters")
            if counters["requests"]["EXECUTE"] < 50:
                fail(f"counters saw {counters['requests']['EXECUTE']} EXECUTEs")
            print(f"fault rule {rule['id']} fired; counters {counters['requests']}")
        print(f"OK: protocol v{cluster.protocol_version}", flush=True)
    finally:
        cluster.shutdown()


if __name__ == "__main__":
    main()
