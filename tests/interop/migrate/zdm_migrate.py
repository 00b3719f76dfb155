"""Helpers for the `zdm migrate` / `zdm validate` interop tests (docs/migrate.md).

- run_zdm(args) -> Result(code, stdout, stderr, report): runs $ZDM_BIN with a --report file and
  returns its exit code, output and parsed JSON report (None when no report was written).
- migrate(origin, target, *args) / validate(...): the same with --origin/--target filled in.
- start_zdm(args): a background zdm (for SIGKILL/SIGTERM and concurrent runs); its
  output_so_far() reads what it logged while it runs.
- connect(node): a Python driver session to a Node.
- assert_tables_equal(origin_session, target_session, ks, table): cell by cell: values,
  WRITETIME() equal, TTL() within a few seconds, same rows in the same order.
- check_report(result, command, status): the report's shape (docs/migrate.md "What you see").
"""
import collections
import ipaddress
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.join(HERE, "..") not in sys.path:
    sys.path.insert(0, os.path.join(HERE, ".."))

from cassandra.auth import PlainTextAuthProvider  # noqa: E402
from cassandra.cluster import Cluster  # noqa: E402
from cassandra.concurrent import execute_concurrent_with_args  # noqa: E402
from cassandra.query import SimpleStatement  # noqa: E402
from cassandra.util import OrderedMapSerializedKey, SortedSet  # noqa: E402

import zdm_procs  # noqa: E402
from zdm_procs import Node, wait_until  # noqa: E402,F401

ZDM_BIN = os.environ.get("ZDM_BIN") or zdm_procs.ZDM_BIN

# Writetimes chosen by the tests lie an hour in the past (microseconds), so that a write at the
# current server time is always newer than them.
NOW_US = int(time.time() * 1_000_000)
T0 = NOW_US - 3600 * 1_000_000
SEC = 1_000_000

COUNT_FIELDS = ["ranges_total", "ranges_done", "ranges_failed", "ranges_done_before", "rows_read",
                "rows_written", "cells_written", "writetime_estimated", "missing", "mismatched",
                "extra", "fixed", "target_newer", "changed_during_validation"]
DIFF_FIELDS = ["missing", "mismatched", "extra", "target_newer"]

REPORT_DIR = tempfile.mkdtemp(prefix="zdm-migrate-tests-")
_seq = itertools.count()


# ---------------------------------------------------------------------------------------------
# Running zdm


class Result(collections.namedtuple("Result", "code stdout stderr report")):
    args = ()

    @property
    def output(self):
        return (self.stdout or "") + (self.stderr or "")

    def describe(self):
        def tail(text, n=4000):
            text = text or ""
            return text if len(text) <= n else "...\n" + text[-n:]
        return ("zdm %s\nexit code: %s\n--- stdout ---\n%s\n--- stderr ---\n%s\n--- report ---\n%s"
                % (" ".join(self.args), self.code, tail(self.stdout), tail(self.stderr),
                   json.dumps(self.report, indent=1)[:6000] if self.report is not None else None))


def zdm_env(extra=None):
    """The test's environment without ZDM_* settings (they would configure the clusters)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZDM_")}
    env.update(extra or {})
    return env


def _with_report(args):
    args = [str(a) for a in args]
    if "--report" in args:
        return args, args[args.index("--report") + 1]
    path = os.path.join(REPORT_DIR, "report-%d-%d.json" % (os.getpid(), next(_seq)))
    return args + ["--report", path], path


def _load_report(path):
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return None
    with open(path) as f:
        text = f.read()
    try:
        return json.loads(text)
    except ValueError as e:
        raise AssertionError("report %s is not JSON (%s):\n%s" % (path, e, text[:3000]))


def run_zdm(args, env=None, timeout=240, wrapper=()):
    """Runs `$ZDM_BIN args... --report F` to completion; Result(code, stdout, stderr, report).
    `wrapper` is a command line put before the binary (e.g. /usr/bin/time -f %M -o FILE)."""
    full, path = _with_report(args)
    if os.path.exists(path):
        os.remove(path)
    try:
        p = subprocess.run(list(wrapper) + [ZDM_BIN] + full, capture_output=True, text=True, errors="replace",
                           timeout=timeout, env=zdm_env(env), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("zdm %s did not finish within %ss\n--- stdout ---\n%s\n--- stderr ---\n%s"
                             % (" ".join(full), timeout, e.stdout, e.stderr))
    r = Result(p.returncode, p.stdout, p.stderr, _load_report(path))
    r.args = full
    return r


def endpoints(origin, target):
    return ["--origin", "%s:%d" % (origin.host, origin.port),
            "--target", "%s:%d" % (target.host, target.port)]


def migrate(origin, target, *args, **kwargs):
    return run_zdm(["migrate"] + endpoints(origin, target) + list(args), **kwargs)


def validate(origin, target, *args, **kwargs):
    return run_zdm(["validate"] + endpoints(origin, target) + list(args), **kwargs)


class Background:
    """A zdm command running in the background, output to files (no pipe to fill)."""

    def __init__(self, args, env=None):
        self.args, self.report_path = _with_report(args)
        if os.path.exists(self.report_path):
            os.remove(self.report_path)
        base = os.path.join(REPORT_DIR, "bg-%d-%d" % (os.getpid(), next(_seq)))
        self._out = open(base + ".out", "w+", errors="replace")
        self._err = open(base + ".err", "w+", errors="replace")
        self.proc = subprocess.Popen([ZDM_BIN] + self.args, stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL, env=zdm_env(env))

    def running(self):
        return self.proc.poll() is None

    def output_so_far(self):
        """stdout + stderr written so far (the process may still be running)."""
        text = ""
        for f in (self._out, self._err):
            f.flush()
            with open(f.name, errors="replace") as r:
                text += r.read()
        return text

    def signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout=240):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            r = self._result()
            raise AssertionError("background zdm did not finish within %ss\n%s" % (timeout, r.describe()))
        return self._result()

    def _result(self):
        outs = []
        for f in (self._out, self._err):
            f.flush()
            f.seek(0)
            outs.append(f.read())
        r = Result(self.proc.returncode, outs[0], outs[1], _load_report(self.report_path))
        r.args = self.args
        return r

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def start_zdm(args, env=None):
    return Background(args, env)


def assert_exit(result, code):
    assert result.code == code, "expected exit code %d\n%s" % (code, result.describe())


# ---------------------------------------------------------------------------------------------
# Reports


def check_report(result, command, status=None):
    """The JSON report exists, has the documented shape, command and status (unless None);
    totals add up."""
    rep = result.report
    assert rep is not None, "no --report written\n" + result.describe()
    for field in ("command", "run_id", "status", "elapsed_s", "tables", "totals"):
        assert field in rep, "report has no %r\n%s" % (field, result.describe())
    assert rep["command"] == command, result.describe()
    if status is not None:
        assert rep["status"] == status, "expected status %r\n%s" % (status, result.describe())
    for entry in rep["tables"]:
        for field in ["keyspace", "table"] + COUNT_FIELDS:
            assert field in entry, "table entry without %r: %r" % (field, entry)
    for field in COUNT_FIELDS:
        assert field in rep["totals"], "totals without %r: %r" % (field, rep["totals"])
        assert rep["totals"][field] == sum(e[field] for e in rep["tables"]), \
            "totals.%s is not the sum of the tables'\n%s" % (field, result.describe())
    return rep


def table_entry(result, keyspace, table):
    """The one report entry of keyspace.table."""
    found = [e for e in (result.report or {}).get("tables", [])
             if e.get("keyspace") == keyspace and e.get("table") == table]
    assert len(found) == 1, "expected one report entry for %s.%s, found %d\n%s" % (
        keyspace, table, len(found), result.describe())
    return found[0]


def assert_no_differences(result, *tables):
    """Every difference counter is 0 (in the given (ks, table) entries, or in totals)."""
    entries = [table_entry(result, ks, t) for ks, t in tables] if tables else [result.report["totals"]]
    for e in entries:
        for f in DIFF_FIELDS:
            assert e[f] == 0, "%s = %r, expected 0\n%s" % (f, e[f], result.describe())


def assert_completed_migration(result, keyspace, table, rows):
    """A single-process, non-resumed migrate of keyspace.table copied `rows` rows, every range."""
    e = table_entry(result, keyspace, table)
    assert e["rows_read"] == rows, "%s.%s rows_read %r, origin has %d rows\n%s" % (
        keyspace, table, e["rows_read"], rows, result.describe())
    assert e["rows_written"] == rows, "%s.%s rows_written %r, origin has %d rows\n%s" % (
        keyspace, table, e["rows_written"], rows, result.describe())
    assert e["ranges_failed"] == 0, result.describe()
    assert e["ranges_total"] > 0 and e["ranges_done"] == e["ranges_total"], result.describe()
    return e


# ---------------------------------------------------------------------------------------------
# Driver sessions and data


def connect(node, protocol_version=4, keyspace=None, auth=None, **kwargs):
    """(cluster, session) on one Node. Schema metadata is off: the tests read system_schema
    themselves, and a 2.2-mode node answers with other schema tables."""
    if auth:
        kwargs["auth_provider"] = PlainTextAuthProvider(username=auth[0], password=auth[1])
    kwargs.setdefault("schema_metadata_enabled", False)
    cluster = Cluster(contact_points=[node.host], port=node.port, protocol_version=protocol_version,
                      connect_timeout=10, **kwargs)
    session = cluster.connect(keyspace)
    session.default_timeout = 30
    return cluster, session


def create_keyspace(session, ks, replication=None):
    replication = replication or "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    session.execute("CREATE KEYSPACE %s WITH replication = %s" % (ks, replication))


def on_both(sessions, *statements):
    for s in sessions:
        for st in statements:
            s.execute(st)


def write(session, cql, params=()):
    """Executes cql (prepared once per session) with params."""
    cache = session.__dict__.setdefault("_zdm_prepared", {})
    if cql not in cache:
        cache[cql] = session.prepare(cql)
    return session.execute(cache[cql], params)


def write_many(session, cql, rows, concurrency=32):
    ps = session.prepare(cql)
    for ok, res in execute_concurrent_with_args(session, ps, rows, concurrency=concurrency,
                                                raise_on_first_error=True):
        assert ok, res


def count_rows(session, ks, table):
    return len(list(session.execute(SimpleStatement("SELECT * FROM %s.%s" % (ks, table),
                                                    fetch_size=1000))))


def keyspaces(session):
    return sorted(r.keyspace_name for r in session.execute(
        "SELECT keyspace_name FROM system_schema.keyspaces"))


def tables_of(session, ks):
    return sorted(r.table_name for r in session.execute(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (ks,)))


# ---------------------------------------------------------------------------------------------
# Cell-by-cell comparison

Column = collections.namedtuple("Column", "name kind position clustering_order type")


def schema_columns(session, ks, table):
    """Columns of ks.table from system_schema (Cassandra 3.0+ node): partition key, clustering
    (by position), then static and regular columns by name."""
    rows = list(session.execute(
        "SELECT column_name, kind, position, clustering_order, type FROM system_schema.columns "
        "WHERE keyspace_name = %s AND table_name = %s", (ks, table)))
    assert rows, "no columns for %s.%s in system_schema" % (ks, table)
    cols = [Column(r.column_name, r.kind, r.position, r.clustering_order, r.type) for r in rows]
    order = {"partition_key": 0, "clustering": 1, "static": 2, "regular": 3}
    return sorted(cols, key=lambda c: (order[c.kind], c.position if c.kind in ("partition_key", "clustering") else 0, c.name))


def is_multicell(type_text):
    return type_text.startswith(("list<", "set<", "map<"))


def is_collection(type_text):
    return is_multicell(type_text) or type_text.startswith(("frozen<list<", "frozen<set<", "frozen<map<"))


def normalize(v):
    """Driver values made comparable across two sessions (maps, sets and UDTs keep their order)."""
    if v is None:
        return None
    if isinstance(v, (OrderedMapSerializedKey, dict)):
        return ("map", tuple((normalize(k), normalize(x)) for k, x in v.items()))
    if isinstance(v, (SortedSet, set, frozenset)):
        return ("set", tuple(normalize(x) for x in v))
    if isinstance(v, tuple) and hasattr(v, "_fields"):
        return ("udt", tuple(v._fields), tuple(normalize(x) for x in v))
    if isinstance(v, tuple):
        return ("tuple", tuple(normalize(x) for x in v))
    if isinstance(v, list):
        return ("list", tuple(normalize(x) for x in v))
    if isinstance(v, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(v)
    return v


def snapshot(session, ks, table, cols, with_meta):
    """OrderedDict primary key -> {column: (value, writetime, ttl)} in the node's read order.
    with_meta(column) says whether WRITETIME()/TTL() are selected for it (else None, None)."""
    keys = [c for c in cols if c.kind in ("partition_key", "clustering")]
    values = [c for c in cols if c.kind in ("static", "regular")]
    select = [c.name for c in keys]
    spec = []
    for c in values:
        meta = with_meta(c)
        select.append(c.name)
        if meta:
            select += ["WRITETIME(%s)" % c.name, "TTL(%s)" % c.name]
        spec.append((c.name, meta))
    stmt = SimpleStatement("SELECT %s FROM %s.%s" % (", ".join(select), ks, table), fetch_size=1000)
    out = collections.OrderedDict()
    for row in session.execute(stmt):
        row = list(row)
        key = tuple(normalize(v) for v in row[:len(keys)])
        i = len(keys)
        cells = {}
        for name, meta in spec:
            if meta:
                cells[name] = (normalize(row[i]), row[i + 1], row[i + 2])
                i += 3
            else:
                cells[name] = (normalize(row[i]), None, None)
                i += 1
        assert key not in out, "%s.%s: key %r read twice" % (ks, table, key)
        out[key] = cells
    return out


def assert_tables_equal(origin_session, target_session, ks, table, origin_v22=False, ttl_tolerance=5,
                        skip=()):
    """Target's ks.table equals origin's cell by cell: same rows in the same order, every value
    equal, WRITETIME() equal and TTL() within ttl_tolerance seconds, for every cell whose
    writetime origin can tell (not counters nor non-frozen collections; on a Cassandra 2.2
    origin no collection at all). `skip` lists (key, column) cells to leave out.
    Returns (origin snapshot, target snapshot)."""
    cols = schema_columns(target_session, ks, table)

    def with_meta(c):
        if c.type == "counter" or is_multicell(c.type):
            return False
        return not (origin_v22 and is_collection(c.type))

    o = snapshot(origin_session, ks, table, cols, with_meta)
    t = snapshot(target_session, ks, table, cols, with_meta)
    problems = []
    missing = [k for k in o if k not in t]
    extra = [k for k in t if k not in o]
    if missing:
        problems.append("%d rows missing on target, e.g. %r" % (len(missing), missing[:5]))
    if extra:
        problems.append("%d rows only on target, e.g. %r" % (len(extra), extra[:5]))
    if not missing and not extra and list(o) != list(t):
        problems.append("rows come back in another order on target")
    for key, cells in o.items():
        if key not in t:
            continue
        for name, (ov, ow, ottl) in cells.items():
            if (key, name) in skip:
                continue
            tv, tw, tttl = t[key][name]
            if ov != tv:
                problems.append("%r %s: value origin %r target %r" % (key, name, ov, tv))
            if ow != tw:
                problems.append("%r %s: writetime origin %r target %r" % (key, name, ow, tw))
            if (ottl is None) != (tttl is None) or (ottl is not None and abs(ottl - tttl) > ttl_tolerance):
                problems.append("%r %s: ttl origin %r target %r" % (key, name, ottl, tttl))
    assert not problems, "%s.%s differs on target (%d problems):\n%s" % (
        ks, table, len(problems), "\n".join(problems[:40]))
    return o, t


def read_cell(session, ks, table, column, where, meta=True):
    """(value, writetime, ttl) of one cell, or None when the row does not exist."""
    sel = column + (", WRITETIME(%s), TTL(%s)" % (column, column) if meta else "")
    row = session.execute("SELECT %s FROM %s.%s WHERE %s" % (sel, ks, table, where)).one()
    if row is None:
        return None
    return (normalize(row[0]), row[1], row[2]) if meta else (normalize(row[0]), None, None)
