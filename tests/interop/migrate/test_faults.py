"""Faults during a run (docs/migrate.md "Bad input and faults"): a target node stalled mid-run, an
origin node killed mid-run (its ranges are read from the other replica) and origin range reads that
never get an answer are retried, nothing is lost and the final validation is clean; 10 MB cells are copied with bounded memory; the --metrics-port endpoint serves the
migrate counters while a run goes on."""
import hashlib
import os
import re
import signal
import time
import urllib.request

from cassandra.policies import WhiteListRoundRobinPolicy
from cassandra.query import SimpleStatement

from zdm_migrate import (REPORT_DIR, T0, Node, assert_exit, assert_no_differences,
                         assert_tables_equal, check_report, connect, count_rows, create_keyspace,
                         endpoints, migrate, on_both, start_zdm, table_entry, validate, wait_until,
                         write_many)
from zdm_procs import free_port_on, kill_now, send_signal

KS = "flt"
ROWS = 3000


def _fill(osess, tsess, rows=ROWS, replicas=()):
    """flt.t on both clusters, `rows` rows on origin with chosen writetimes, and a TTL and another
    writetime on one cell of each partition (so per-cell writetimes are checked too). `replicas`:
    more origin nodes that get the same writes (a replication factor the nodes do not have)."""
    for s in (osess, tsess) + tuple(replicas):
        create_keyspace(s, KS)
    on_both((osess, tsess) + tuple(replicas),
            "CREATE TABLE %s.t (k int, c int, v text, w bigint, PRIMARY KEY (k, c))" % KS)
    for s in (osess,) + tuple(replicas):
        write_many(s, "INSERT INTO %s.t (k, c, v, w) VALUES (?, ?, ?, ?) USING TIMESTAMP ?" % KS,
                   [(k, c, "value-%d-%d-%s" % (k, c, "x" * 40), k * 1000 + c, T0 + k * 10 + c)
                    for k in range(rows // 10) for c in range(10)], concurrency=64)
        write_many(s, "UPDATE %s.t USING TIMESTAMP ? AND TTL ? SET w = ? WHERE k = ? AND c = ?" % KS,
                   [(T0 + 100000 + k, 40000, -k, k, 0) for k in range(rows // 10)], concurrency=64)
        assert count_rows(s, KS, "t") == rows


def _check_completed(res, rows):
    assert_exit(res, 0)
    check_report(res, "migrate", "completed")
    e = table_entry(res, KS, "t")
    assert e["ranges_failed"] == 0, res.describe()
    assert e["ranges_total"] > 0 and e["ranges_done"] == e["ranges_total"], res.describe()
    # A range that was retried may count its rows again, never fewer.
    assert e["rows_read"] >= rows and e["rows_written"] >= rows, res.describe()
    return e


def _check_validate_clean(origin, target):
    v = validate(origin, target, "--tables", "%s.t" % KS)
    assert_exit(v, 0)
    check_report(v, "validate", "completed")
    assert_no_differences(v, (KS, "t"))
    assert table_entry(v, KS, "t")["ranges_failed"] == 0, v.describe()
    return v


def test_target_stalled_mid_run_is_retried(origin, target, osess, tsess):
    _fill(osess, tsess)
    # ~6 s at 500 rows/s: the stall below lands in the middle of the run.
    bg = start_zdm(["migrate"] + endpoints(origin, target) + [
        "--tables", "%s.t" % KS, "--max-rows-per-second", "500", "--page-size", "50",
        "--request-timeout-ms", "1000", "--retries", "8"])
    stopped = False
    try:
        wait_until(lambda: not bg.running() or count_rows(tsess, KS, "t") >= 300, timeout=90,
                   interval=0.3, what="migrate to copy its first 300 rows")
        assert bg.running(), ("migrate finished before the target could be stalled mid-run\n"
                              + bg.wait().describe())
        # A hung target: its process is frozen, connections stay open, nothing is answered.
        send_signal(target, signal.SIGSTOP)
        stopped = True
        time.sleep(3)
        assert bg.running(), ("migrate ended while target was stalled (it must wait and retry)\n"
                              + bg.wait().describe())
        send_signal(target, signal.SIGCONT)
        stopped = False
        res = bg.wait(180)
    finally:
        if stopped:
            send_signal(target, signal.SIGCONT)
        bg.kill()
    _check_completed(res, ROWS)
    assert count_rows(tsess, KS, "t") == ROWS
    _check_validate_clean(origin, target)
    assert_tables_equal(osess, tsess, KS, "t")


def test_origin_node_killed_mid_run_is_read_from_its_replica(target, tsess):
    # Origin: two nodes (127.0.0.2 and .3, one token each) listing each other in system.peers,
    # both holding every row (our nodes do not replicate, so the test writes to both).
    port = free_port_on("127.0.0.2", "127.0.0.3")
    a = Node("--peer", "127.0.0.3", cluster_name="killed", listen="127.0.0.2:%d" % port)
    b = Node("--peer", "127.0.0.2", cluster_name="killed", listen="127.0.0.3:%d" % port)
    clusters = []
    bg = None
    try:
        sessions = []
        for n in (a, b):
            c, sess = connect(n, load_balancing_policy=WhiteListRoundRobinPolicy([n.host]))
            clusters.append(c)
            sessions.append(sess)
        _fill(sessions[0], tsess, replicas=(sessions[1],))
        # Only 127.0.0.2 is given: 127.0.0.3 is found in its system.peers.
        bg = start_zdm(["migrate", "--origin", "127.0.0.2:%d" % port,
                        "--target", "%s:%d" % (target.host, target.port),
                        "--tables", "%s.t" % KS, "--max-rows-per-second", "500", "--page-size", "50",
                        "--request-timeout-ms", "1000", "--retries", "8"])
        wait_until(lambda: not bg.running() or count_rows(tsess, KS, "t") >= 300, timeout=90,
                   interval=0.3, what="migrate to copy its first 300 rows")
        assert bg.running(), ("migrate finished before the origin node could be killed mid-run\n"
                              + bg.wait().describe())
        kill_now(a)  # the node the control connection and half the ranges were on
        res = bg.wait(180)
        _check_completed(res, ROWS)
        assert count_rows(tsess, KS, "t") == ROWS
        assert_tables_equal(sessions[1], tsess, KS, "t")
        v = validate(b, target, "--tables", "%s.t" % KS)
        assert_exit(v, 0)
        assert_no_differences(v, (KS, "t"))
    finally:
        if bg:
            bg.kill()
        for c in clusters:
            c.shutdown()
        a.stop()
        b.stop()


def test_origin_reads_that_get_no_answer_are_retried(origin, target, osess, tsess):
    rows = 1000
    _fill(osess, tsess, rows)
    # The first 5 executions of a range read of flt.t on origin are never answered (the node
    # neither executes nor answers them); the PREPARE of the same text is answered normally.
    rule = origin.admin("POST", "/faults", {
        "action": "no_response", "opcode": "EXECUTE", "count": 5, "name": "silent-range-reads",
        "query": r'^SELECT .* FROM "?%s"?\."?t"? WHERE token\(' % KS})
    assert rule and "id" in rule, rule
    origin.admin("POST", "/counters/reset")
    started = time.monotonic()
    res = migrate(origin, target, "--tables", "%s.t" % KS, "--request-timeout-ms", "1000")
    elapsed = time.monotonic() - started
    _check_completed(res, rows)
    faults = origin.admin("GET", "/faults")
    fired = [f for f in faults if f.get("id") == rule["id"]]
    assert len(fired) == 1, faults
    assert fired[0]["fired"] == 5 and fired[0]["matched"] > 5, \
        "the no_response rule must have fired 5 times (and later reads matched it): %r" % fired[0]
    counters = origin.admin("GET", "/counters")
    assert counters["faults_fired"] == 5, counters
    # Each unanswered read costs at least the 1 s request timeout before it is retried.
    assert elapsed >= 1.0, "migrate took %.2fs: the unanswered reads did not wait for a timeout" % elapsed
    assert count_rows(tsess, KS, "t") == rows
    assert_tables_equal(osess, tsess, KS, "t")


def test_ten_megabyte_cells_copied_with_bounded_memory(origin, target, osess, tsess):
    rows, size = 24, 10 * 1024 * 1024
    for s in (osess, tsess):
        create_keyspace(s, "big")
    on_both((osess, tsess), "CREATE TABLE big.t (k int PRIMARY KEY, b blob)")
    digests = {}
    # One row at a time (the driver refuses several 10 MB requests at once on one connection);
    # a 10 MB request frame stays under the nodes' default 16 MiB frame limit, so no node option
    # is needed.
    insert = osess.prepare("INSERT INTO big.t (k, b) VALUES (?, ?) USING TIMESTAMP ?")
    for k in range(rows):
        b = os.urandom(size)  # random bytes: nothing to gain from compression
        digests[k] = hashlib.sha256(b).hexdigest()
        osess.execute(insert, (k, b, T0 + k))
    del b
    # Peak RSS of the migrate process alone (GNU time's %M: maximum resident set size, KiB).
    rss_file = os.path.join(REPORT_DIR, "rss-%d-%d.txt" % (os.getpid(), time.monotonic_ns()))
    res = migrate(origin, target, "--tables", "big.t",
                  wrapper=["/usr/bin/time", "-f", "%M", "-o", rss_file])
    assert_exit(res, 0)
    check_report(res, "migrate", "completed")
    e = table_entry(res, "big", "t")
    assert e["ranges_failed"] == 0 and e["ranges_done"] == e["ranges_total"], res.describe()
    assert e["rows_read"] == rows and e["rows_written"] == rows, res.describe()
    with open(rss_file) as f:
        peak_kib = int(f.read().split()[-1])
    # Why the bound holds (src/migrate/range_reader.hpp, range_job.hpp): the table is 240 MB but
    # it is never all in memory. A range's first page is one row and later pages adapt to ~8 MiB
    # (here one 10 MB row a page), a page that large is not read ahead, a range's writes in
    # flight are bounded by bytes (8 MiB; a 10 MB cell goes alone), and at most --workers (8)
    # ranges are in flight: what is resident is about a row per worker plus its copies on the way
    # to target, not the table (measured: 147-175 MiB, about 22 MiB of which is the process at
    # rest; holding the table would take well over 500 MiB). The bound is the 256 MiB.
    assert peak_kib < 256 * 1024, "zdm migrate peak RSS %.1f MiB, expected under 256 MiB (%d rows of 10 MB)\n%s" % (
        peak_kib / 1024, rows, res.describe())
    # Each blob, read back one row at a time (a full scan would be a 240 MB answer).
    osel = osess.prepare("SELECT b, WRITETIME(b) FROM big.t WHERE k = ?")
    tsel = tsess.prepare("SELECT b, WRITETIME(b) FROM big.t WHERE k = ?")
    for k in range(rows):
        o = osess.execute(osel, (k,)).one()
        t = tsess.execute(tsel, (k,)).one()
        assert o is not None and hashlib.sha256(o[0]).hexdigest() == digests[k]
        assert t is not None, "row k=%d missing on target" % k
        assert len(t[0]) == size and hashlib.sha256(t[0]).hexdigest() == digests[k], \
            "row k=%d: target blob (%d bytes) differs from origin's" % (k, len(t[0]))
        assert t[1] == o[1] == T0 + k, "row k=%d: writetime origin %r target %r" % (k, o[1], t[1])
    n = len(list(tsess.execute(SimpleStatement("SELECT k FROM big.t", fetch_size=100))))
    assert n == rows


_METRICS_LINE = re.compile(r"metrics on ([^\s:]+):(\d+)/metrics")
_SAMPLE = re.compile(r'^(\w+)(?:\{(.*)\})?\s+(\S+)$')


def _scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as resp:
        assert resp.status == 200
        return resp.read().decode()


def _samples(text, name):
    """[(labels dict, value)] of metric `name` in a Prometheus text exposition."""
    out = []
    for line in text.splitlines():
        m = _SAMPLE.match(line.strip())
        if not m or m.group(1) != name:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out.append((labels, float(m.group(3))))
    return out


def _value(text, name, **labels):
    found = [v for l, v in _samples(text, name) if all(l.get(k) == x for k, x in labels.items())]
    return found[0] if found else None


def test_metrics_port_serves_migrate_counters(origin, target, osess, tsess):
    _fill(osess, tsess)
    bg = start_zdm(["migrate"] + endpoints(origin, target) + [
        "--tables", "%s.t" % KS, "--max-rows-per-second", "500", "--page-size", "50",
        "--metrics-port", "0"])
    try:
        m = wait_until(lambda: _METRICS_LINE.search(bg.output_so_far()) or not bg.running(),
                       timeout=30, interval=0.1, what="the 'metrics on HOST:PORT/metrics' log line")
        assert m is not True and hasattr(m, "group"), \
            "no 'metrics on HOST:PORT/metrics' line\n" + bg.wait().describe()
        port = int(m.group(2))
        assert port > 0, m.group(0)
        seen = {}

        def read_counted():
            if not bg.running():
                return True
            text = _scrape(port)
            seen["text"] = text
            v = _value(text, "zdm_migrate_rows_total", keyspace=KS, table="t", op="read")
            return v is not None and v > 0

        wait_until(read_counted, timeout=60, interval=0.2,
                   what='zdm_migrate_rows_total{keyspace="flt",table="t",op="read"} > 0')
        assert bg.running(), ("migrate finished before its metrics could be read while running\n"
                              + bg.wait().describe())
        during = seen["text"]
        read_during = _value(during, "zdm_migrate_rows_total", keyspace=KS, table="t", op="read")
        total_during = _value(during, "zdm_migrate_ranges", status="total")
        assert total_during is not None, 'no zdm_migrate_ranges{status="total"} in:\n' + during
        assert read_during < ROWS, "rows read %r while running: the run was not in progress" % read_during
        # The last scrape before the process ends.
        last = during
        while bg.running():
            try:
                last = _scrape(port)
            except OSError:
                break
            time.sleep(0.2)
        res = bg.wait(120)
    finally:
        bg.kill()
    _check_completed(res, ROWS)
    e = table_entry(res, KS, "t")
    assert total_during == e["ranges_total"], \
        'zdm_migrate_ranges{status="total"} was %r, the report says ranges_total %d' % (total_during, e["ranges_total"])
    assert _value(last, "zdm_migrate_ranges", status="total") == e["ranges_total"], last
    read_last = _value(last, "zdm_migrate_rows_total", keyspace=KS, table="t", op="read")
    assert read_during <= read_last <= e["rows_read"], (read_during, read_last, e["rows_read"])
    done_last = _value(last, "zdm_migrate_ranges", status="done")
    assert done_last is not None and 0 < done_last <= e["ranges_total"], last
