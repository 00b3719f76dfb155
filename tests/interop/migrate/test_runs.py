"""Run state: resume after SIGKILL, SIGTERM then resume, two processes sharing one run; failed
ranges retried, marked failed, and finished by --resume."""
import signal

from zdm_migrate import (T0, Node, assert_exit, assert_tables_equal, check_report, connect, count_rows,
                         create_keyspace, endpoints, migrate, on_both, start_zdm, table_entry,
                         wait_until, write_many)

ROWS = 3000


def _fill(osess, tsess):
    for s in (osess, tsess):
        create_keyspace(s, "runs")
    on_both((osess, tsess), "CREATE TABLE runs.t (k int, c int, v text, w bigint, PRIMARY KEY (k, c))")
    write_many(osess, "INSERT INTO runs.t (k, c, v, w) VALUES (?, ?, ?, ?) USING TIMESTAMP ?",
               [(k, c, "value-%d-%d-%s" % (k, c, "x" * 40), k * 1000 + c, T0 + k * 10 + c)
                for k in range(ROWS // 10) for c in range(10)], concurrency=64)
    write_many(osess, "UPDATE runs.t USING TIMESTAMP ? AND TTL ? SET w = ? WHERE k = ? AND c = ?",
               [(T0 + 100000 + k, 40000, -k, k, 0) for k in range(ROWS // 10)], concurrency=64)
    assert count_rows(osess, "runs", "t") == ROWS


def _start_slow(origin, target, *extra):
    """A migrate of runs.t slow enough (~7s) to be stopped mid-run."""
    return start_zdm(["migrate"] + endpoints(origin, target) +
                     ["--tables", "runs.t", "--page-size", "20", "--max-rows-per-second", "400",
                      "--lease", "3s"] + list(extra))


def _wait_some_progress(bg, tsess):
    wait_until(lambda: not bg.running() or count_rows(tsess, "runs", "t") >= 300, timeout=90,
               interval=0.3, what="migrate to copy its first 300 rows")
    assert bg.running(), ("migrate finished before it could be stopped mid-run "
                          "(--max-rows-per-second 400 should make 3000 rows take ~7s)\n"
                          + bg.wait().describe())


def _check_resumed(res, osess, tsess):
    assert_exit(res, 0)
    check_report(res, "migrate", "completed")
    e = table_entry(res, "runs", "t")
    assert e["ranges_done_before"] > 0, "a resumed run must say how many ranges were done before\n" + res.describe()
    assert e["ranges_done_before"] + e["ranges_done"] == e["ranges_total"], res.describe()
    assert e["ranges_failed"] == 0, res.describe()
    assert 0 < e["rows_read"] < ROWS, "the resumed run must read only the ranges not done\n" + res.describe()
    assert count_rows(tsess, "runs", "t") == ROWS
    assert_tables_equal(osess, tsess, "runs", "t")
    return e


def test_resume_after_sigkill(origin, target, osess, tsess):
    _fill(osess, tsess)
    bg = _start_slow(origin, target)
    try:
        _wait_some_progress(bg, tsess)
        bg.signal(signal.SIGKILL)
        killed = bg.wait(30)
    finally:
        bg.kill()
    assert killed.code == -signal.SIGKILL, killed.describe()
    assert count_rows(tsess, "runs", "t") < ROWS
    res = migrate(origin, target, "--tables", "runs.t", "--page-size", "20", "--lease", "3s", "--resume")
    _check_resumed(res, osess, tsess)


def test_sigterm_stops_cleanly_then_resume_completes(origin, target, osess, tsess):
    _fill(osess, tsess)
    bg = _start_slow(origin, target)
    try:
        _wait_some_progress(bg, tsess)
        bg.signal(signal.SIGTERM)
        stopped = bg.wait(60)
    finally:
        bg.kill()
    assert_exit(stopped, 1)
    check_report(stopped, "migrate", "interrupted")
    first = table_entry(stopped, "runs", "t")
    assert 0 < first["ranges_done"] < first["ranges_total"], stopped.describe()
    assert count_rows(tsess, "runs", "t") < ROWS
    res = migrate(origin, target, "--tables", "runs.t", "--page-size", "20", "--lease", "3s", "--resume")
    e = _check_resumed(res, osess, tsess)
    assert res.report["run_id"] == stopped.report["run_id"], "--resume must continue the interrupted run"
    assert e["ranges_done_before"] == first["ranges_done"], \
        "the interrupted run saved %d done ranges, the resumed one found %d" % (
            first["ranges_done"], e["ranges_done_before"])


def test_two_processes_share_one_run(origin, target, osess, tsess):
    _fill(osess, tsess)
    args = ["migrate"] + endpoints(origin, target) + [
        "--tables", "runs.t", "--run-id", "shared-run-1", "--page-size", "50",
        "--max-rows-per-second", "1000"]
    a = start_zdm(args)
    b = start_zdm(args)
    try:
        ra, rb = a.wait(180), b.wait(180)
    finally:
        a.kill()
        b.kill()
    for r in (ra, rb):
        assert_exit(r, 0)
        check_report(r, "migrate", "completed")
        assert r.report["run_id"] == "shared-run-1", r.describe()
    ea, eb = table_entry(ra, "runs", "t"), table_entry(rb, "runs", "t")
    assert ea["rows_read"] + eb["rows_read"] == ROWS, \
        "rows_read %d + %d != %d: a range was copied twice or not at all\n%s\n%s" % (
            ea["rows_read"], eb["rows_read"], ROWS, ra.describe(), rb.describe())
    assert ea["rows_written"] + eb["rows_written"] == ROWS
    assert ea["ranges_total"] == eb["ranges_total"]
    assert ea["ranges_done"] + eb["ranges_done"] == ea["ranges_total"], (ea, eb)
    assert ea["rows_read"] > 0 and eb["rows_read"] > 0, \
        "one process did all the work: the run was not shared (%r, %r)" % (ea, eb)
    assert count_rows(tsess, "runs", "t") == ROWS
    assert_tables_equal(osess, tsess, "runs", "t")


def _small_table(osess, tsess, ks="flt", rows=200):
    for s in (osess, tsess):
        create_keyspace(s, ks)
    on_both((osess, tsess), "CREATE TABLE %s.t (k int PRIMARY KEY, v text, w int)" % ks)
    write_many(osess, "INSERT INTO %s.t (k, v, w) VALUES (?, ?, ?) USING TIMESTAMP ?" % ks,
               [(k, "v%d" % k, k, T0 + k) for k in range(rows)])
    return rows


def test_transient_write_errors_are_retried(origin, osess):
    # Target answers the first 3 INSERT requests (PREPARE or EXECUTE) with WRITE_TIMEOUT.
    target = Node("--fault", "action=error,error=WRITE_TIMEOUT,count=3,query='^INSERT INTO flt'",
                  "--prepared-id-salt", "t", cluster_name="faulty-target")
    try:
        cluster, tsess = connect(target)
        try:
            rows = _small_table(osess, tsess)
            res = migrate(origin, target, "--keyspaces", "flt", "--retries", "5")
            assert_exit(res, 0)
            check_report(res, "migrate", "completed")
            e = table_entry(res, "flt", "t")
            assert e["ranges_failed"] == 0 and e["rows_read"] >= rows, res.describe()
            assert count_rows(tsess, "flt", "t") == rows
            assert_tables_equal(osess, tsess, "flt", "t")
        finally:
            cluster.shutdown()
    finally:
        target.stop()


def test_failing_ranges_are_marked_failed_then_resume_completes(origin, osess):
    target = Node("--prepared-id-salt", "t", cluster_name="faulty-target")
    try:
        cluster, tsess = connect(target)
        try:
            rows = _small_table(osess, tsess)
            target.admin("POST", "/faults", {"action": "error", "error": "WRITE_TIMEOUT",
                                             "query": "^INSERT INTO flt"})
            res = migrate(origin, target, "--keyspaces", "flt", "--retries", "2", timeout=300)
            assert_exit(res, 1)
            check_report(res, "migrate", "failed")
            e = table_entry(res, "flt", "t")
            assert e["ranges_failed"] > 0, res.describe()
            target.admin("DELETE", "/faults")
            again = migrate(origin, target, "--keyspaces", "flt", "--retries", "2", "--resume", timeout=300)
            assert_exit(again, 0)
            check_report(again, "migrate", "completed")
            assert table_entry(again, "flt", "t")["ranges_failed"] == 0, again.describe()
            assert count_rows(tsess, "flt", "t") == rows
            assert_tables_equal(osess, tsess, "flt", "t")
        finally:
            cluster.shutdown()
    finally:
        target.stop()
