"""Loads the migrate benchmark table into a node: ROWS rows of ~100 bytes in 5 text columns.

Usage: /usr/bin/python3 scripts/bench_migrate_load.py HOST PORT ROWS [--wide]
  default: bench.rows (k bigint PRIMARY KEY, c1..c5 text), one partition per row;
  --wide:  bench.wide (p int, c bigint, c1..c5 text, PRIMARY KEY (p, c)), all rows in partition 0.
Cells of a row share one writetime (1,000,000 + k), so each row is one statement to copy.
"""
import sys
import time

from cassandra.cluster import Cluster
from cassandra.concurrent import execute_concurrent_with_args

host, port, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
wide = "--wide" in sys.argv
session = Cluster([host], port=port, protocol_version=4).connect()
session.execute("CREATE KEYSPACE IF NOT EXISTS bench WITH replication = "
                "{'class': 'SimpleStrategy', 'replication_factor': 1}")
if wide:
    session.execute("CREATE TABLE IF NOT EXISTS bench.wide (p int, c bigint, c1 text, c2 text, "
                    "c3 text, c4 text, c5 text, PRIMARY KEY (p, c))")
    insert = session.prepare("INSERT INTO bench.wide (p, c, c1, c2, c3, c4, c5) VALUES (0, ?, ?, ?, ?, ?, ?) "
                             "USING TIMESTAMP ?")
else:
    session.execute("CREATE TABLE IF NOT EXISTS bench.rows (k bigint PRIMARY KEY, c1 text, c2 text, "
                    "c3 text, c4 text, c5 text)")
    insert = session.prepare("INSERT INTO bench.rows (k, c1, c2, c3, c4, c5) VALUES (?, ?, ?, ?, ?, ?) "
                             "USING TIMESTAMP ?")
started = time.time()
batch = 20000
for first in range(0, rows, batch):
    args = []
    for k in range(first, min(rows, first + batch)):
        v = "%020d" % k
        args.append((k, v, v, v, v, v, 1_000_000 + k))
    execute_concurrent_with_args(session, insert, args, concurrency=256, raise_on_first_error=True)
print("loaded %d rows in %.1fs" % (rows, time.time() - started), file=sys.stderr)
