"""Bad input: exit 2, a message that names the problem, nothing written to target."""
import time

import pytest

from zdm_migrate import (Node, assert_exit, assert_tables_equal, connect, count_rows,
                         create_keyspace, migrate, on_both, run_zdm, write_many)


def _setup(osess, tsess):
    for s in (osess, tsess):
        create_keyspace(s, "bad")
    on_both((osess, tsess), "CREATE TABLE bad.t (k int PRIMARY KEY, v text)")
    write_many(osess, "INSERT INTO bad.t (k, v) VALUES (?, ?)", [(k, "v%d" % k) for k in range(20)])


@pytest.mark.parametrize("case", ["unknown_keyspace", "unknown_table", "bad_write_consistency",
                                  "bad_read_consistency"])
def test_bad_scope_or_option_exits_2(origin, target, osess, tsess, case):
    _setup(osess, tsess)
    args, words = {
        "unknown_keyspace": (["--keyspaces", "bad,nosuch_ks"], ["nosuch_ks"]),
        "unknown_table": (["--tables", "bad.t,bad.nosuch_table"], ["nosuch_table"]),
        "bad_write_consistency": (["--keyspaces", "bad", "--write-consistency", "SUPERQUORUM"],
                                  ["SUPERQUORUM", "write-consistency"]),
        "bad_read_consistency": (["--keyspaces", "bad", "--read-consistency", "SUPERQUORUM"],
                                 ["SUPERQUORUM", "read-consistency"]),
    }[case]
    res = migrate(origin, target, *args)
    assert_exit(res, 2)
    assert any(w in res.output for w in words), \
        "the message must name the problem (one of %r)\n%s" % (words, res.describe())
    assert count_rows(tsess, "bad", "t") == 0, "rows were written despite exit 2"
    if res.report is not None:
        assert res.report.get("status") != "completed", res.describe()


@pytest.mark.parametrize("side", ["target", "origin"])
def test_unreachable_cluster_exits_2(origin, target, osess, tsess, side):
    _setup(osess, tsess)
    closed = Node(cluster_name="closed")
    port = closed.port
    closed.stop()                      # a port nobody listens on any more
    o = "127.0.0.1:%d" % (port if side == "origin" else origin.port)
    t = "127.0.0.1:%d" % (port if side == "target" else target.port)
    start = time.monotonic()
    res = run_zdm(["migrate", "--origin", o, "--target", t, "--keyspaces", "bad"], timeout=120)
    took = time.monotonic() - start
    assert_exit(res, 2)
    assert side in res.output.lower() or str(port) in res.output, \
        "the message must say which cluster is unreachable\n" + res.describe()
    assert took < 60, "a refused connection took %.0fs to report" % took
    assert count_rows(tsess, "bad", "t") == 0


def test_wrong_password_exits_2_and_right_one_works(origin, osess):
    target = Node("--user", "zdmuser:right-pw", "--prepared-id-salt", "t", cluster_name="auth-target")
    try:
        cluster, tsess = connect(target, auth=("zdmuser", "right-pw"))
        try:
            _setup(osess, tsess)
            args = ["--keyspaces", "bad"]
            for creds in ({"ZDM_TARGET_USERNAME": "zdmuser", "ZDM_TARGET_PASSWORD": "wrong-pw"}, {}):
                res = migrate(origin, target, *args, env=creds)
                assert_exit(res, 2)
                low = res.output.lower()
                assert any(w in low for w in ("password", "auth", "credential")), \
                    "the message must say authentication failed\n" + res.describe()
                assert "target" in low, "the message must say which cluster refused\n" + res.describe()
                assert count_rows(tsess, "bad", "t") == 0
            res = migrate(origin, target, *args,
                          env={"ZDM_TARGET_USERNAME": "zdmuser", "ZDM_TARGET_PASSWORD": "right-pw"})
            assert_exit(res, 0)
            assert_tables_equal(osess, tsess, "bad", "t")
        finally:
            cluster.shutdown()
    finally:
        target.stop()


def test_unknown_option_exits_2(origin, target, osess, tsess):
    _setup(osess, tsess)
    res = migrate(origin, target, "--keyspaces", "bad", "--no-such-option")
    assert_exit(res, 2)               # "bad usage" (docs/migrate.md exit codes)
    assert "--no-such-option" in res.output, res.describe()
    assert count_rows(tsess, "bad", "t") == 0
