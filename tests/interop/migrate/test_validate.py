"""`zdm validate`: each kind of difference found, reported, written to --diff-file, re-checked
with --keys-from and repaired by --fix; no false differences under live proxy traffic."""
import json
import random
import threading
import time

from zdm_migrate import (SEC, T0, assert_exit, assert_no_differences, assert_tables_equal,
                         check_report, connect, count_rows, create_keyspace, migrate, on_both,
                         read_cell, table_entry, validate, write, write_many)
from zdm_procs import Proxy

KS = "val"


def _counts(result, table):
    e = table_entry(result, KS, table)
    return {f: e[f] for f in ("missing", "mismatched", "extra", "target_newer")}


def _read_diffs(path):
    with open(path) as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    diffs = []
    for line in lines:
        d = json.loads(line)
        for field in ("keyspace", "table", "kind", "key", "key_hex", "columns"):
            assert field in d, "diff line without %r: %s" % (field, line)
        diffs.append(d)
    return diffs


def _key(d):
    return (d["table"], d["kind"], int(str(d["key"]["k"])))


def _value(v):
    """A value of a diff line: the doc does not fix the spelling; text may come as a CQL literal."""
    if isinstance(v, str) and len(v) >= 2 and v[0] == v[-1] == "'":
        return v[1:-1].replace("''", "'")
    return v


def _column(d, name):
    cols = [c for c in d["columns"] if c.get("name") == name]
    assert len(cols) == 1, "diff line should list column %s once: %r" % (name, d)
    for field in ("origin", "target", "origin_writetime", "target_writetime"):
        assert field in cols[0], "diff column without %r: %r" % (field, d)
    return cols[0]


def test_validate_finds_each_kind_and_fix_repairs(origin, target, osess, tsess, tmp_path):
    for s in (osess, tsess):
        create_keyspace(s, KS)
    on_both((osess, tsess), "CREATE TABLE val.t (k int PRIMARY KEY, v text, w int)",
            "CREATE TABLE val.tn (k int PRIMARY KEY, v text)",
            "CREATE TABLE val.td (k int PRIMARY KEY, v text)")
    write_many(osess, "INSERT INTO val.t (k, v) VALUES (?, ?) USING TIMESTAMP ?",
               [(k, "v%d" % k, T0 + k) for k in range(200)])
    write_many(osess, "UPDATE val.t USING TIMESTAMP ? AND TTL ? SET w = ? WHERE k = ?",
               [(T0 + k + 1, 50000 if k % 3 == 0 else 0, k, k) for k in range(200)])
    for t in ("tn", "td"):
        write_many(osess, "INSERT INTO val.%s (k, v) VALUES (?, ?) USING TIMESTAMP ?" % t,
                   [(k, "%s%d" % (t, k), T0 + k) for k in range(20)])

    res = migrate(origin, target, "--keyspaces", KS)
    assert_exit(res, 0)
    clean = validate(origin, target, "--keyspaces", KS)
    assert_exit(clean, 0)
    check_report(clean, "validate", "completed")
    assert_no_differences(clean)
    assert clean.report["totals"]["changed_during_validation"] == 0, clean.describe()
    assert table_entry(clean, KS, "t")["rows_read"] > 0, clean.describe()

    # One of each kind of difference.
    write(osess, "INSERT INTO val.t (k, v, w) VALUES (?, ?, ?) USING TIMESTAMP ?",
          (1000, "only-on-origin", 1, T0 + 5000))                          # missing
    write(osess, "UPDATE val.t USING TIMESTAMP ? SET v = ? WHERE k = ?",
          (T0 + 10000, "changed-on-origin", 5))                           # mismatch: target's v5 is older
    write(osess, "UPDATE val.t USING TIMESTAMP ? SET w = ? WHERE k = ?",
          (T0 + 8 + 5 * SEC, 7, 7))                                       # mismatch: same value, writetime 5s apart
    write(tsess, "INSERT INTO val.t (k, v, w) VALUES (?, ?, ?) USING TIMESTAMP ?",
          (2000, "only-on-target", 2, T0 + 3000))                         # extra
    now = int(time.time() * SEC)
    write(tsess, "UPDATE val.tn USING TIMESTAMP ? SET v = ? WHERE k = ?",
          (now, "newer-on-target", 3))                                    # target_newer
    tsess.execute("DELETE FROM val.td WHERE k = 4")                        # missing (deleted on target)

    diff1 = str(tmp_path / "diff1.jsonl")
    found = validate(origin, target, "--keyspaces", KS, "--diff-file", diff1)
    assert_exit(found, 1)
    check_report(found, "validate")
    assert _counts(found, "t") == {"missing": 1, "mismatched": 2, "extra": 1, "target_newer": 0}, found.describe()
    assert _counts(found, "tn") == {"missing": 0, "mismatched": 0, "extra": 0, "target_newer": 1}, found.describe()
    assert _counts(found, "td") == {"missing": 1, "mismatched": 0, "extra": 0, "target_newer": 0}, found.describe()

    diffs = _read_diffs(diff1)
    assert sorted(_key(d) for d in diffs) == sorted([
        ("t", "missing", 1000), ("t", "mismatch", 5), ("t", "mismatch", 7), ("t", "extra", 2000),
        ("tn", "target_newer", 3), ("td", "missing", 4)]), diffs
    by_key = {_key(d): d for d in diffs}
    for d in diffs:
        assert d["keyspace"] == KS and len(d["key_hex"]) == 1, d
        assert d["key_hex"][0].lower().replace("0x", "") == "%08x" % _key(d)[2], d
    v5 = _column(by_key[("t", "mismatch", 5)], "v")
    assert (_value(v5["origin"]), _value(v5["target"]), v5["origin_writetime"], v5["target_writetime"]) == \
        ("changed-on-origin", "v5", T0 + 10000, T0 + 5), v5
    w7 = _column(by_key[("t", "mismatch", 7)], "w")
    assert (w7["origin_writetime"], w7["target_writetime"]) == (T0 + 8 + 5 * SEC, T0 + 8), w7
    tn3 = _column(by_key[("tn", "target_newer", 3)], "v")
    assert (_value(tn3["target"]), tn3["target_writetime"], tn3["origin_writetime"]) == ("newer-on-target", now, T0 + 3), tn3

    # A 10s writetime tolerance hides the 5s writetime difference, not the changed value.
    tolerant = validate(origin, target, "--keyspaces", KS, "--writetime-tolerance", "10s")
    assert_exit(tolerant, 1)
    assert _counts(tolerant, "t") == {"missing": 1, "mismatched": 1, "extra": 1, "target_newer": 0}, \
        tolerant.describe()

    # --fix repairs missing, mismatch and extra; target_newer is never overwritten.
    fix = validate(origin, target, "--tables", "val.t,val.tn", "--fix", "missing,mismatch,extra")
    assert fix.code in (0, 1), fix.describe()
    check_report(fix, "validate")
    assert table_entry(fix, KS, "t")["fixed"] >= 4, fix.describe()
    assert table_entry(fix, KS, "tn")["fixed"] == 0, fix.describe()
    assert table_entry(fix, KS, "tn")["target_newer"] == 1, fix.describe()
    assert read_cell(tsess, KS, "t", "v", "k = 2000") is None, "the extra row is still on target"
    assert_tables_equal(osess, tsess, KS, "t")        # values, writetimes and TTLs from origin
    assert read_cell(tsess, KS, "tn", "v", "k = 3")[:2] == ("newer-on-target", now), \
        "--fix overwrote a cell that is newer on target"

    after = validate(origin, target, "--tables", "val.t")
    assert_exit(after, 0)
    assert_no_differences(after)
    still = validate(origin, target, "--tables", "val.tn")
    assert_exit(still, 1)          # target_newer is a difference that remains
    assert _counts(still, "tn") == {"missing": 0, "mismatched": 0, "extra": 0, "target_newer": 1}, still.describe()

    # The extra row was deleted at its own newest writetime (T0+3000), not at "now": a later
    # write with an older-than-now timestamp survives.
    write(tsess, "INSERT INTO val.t (k, v) VALUES (?, ?) USING TIMESTAMP ?", (2000, "again", T0 + 3001))
    assert read_cell(tsess, KS, "t", "v", "k = 2000")[0] == "again", \
        "the extra row was deleted with a timestamp newer than its own cells"


def test_validate_keys_from_rechecks_the_listed_rows(origin, target, osess, tsess, tmp_path):
    for s in (osess, tsess):
        create_keyspace(s, KS)
    on_both((osess, tsess), "CREATE TABLE val.t (k int PRIMARY KEY, v text, w int)")
    write_many(osess, "INSERT INTO val.t (k, v, w) VALUES (?, ?, ?) USING TIMESTAMP ?",
               [(k, "v%d" % k, k, T0 + k) for k in range(100)])
    assert_exit(migrate(origin, target, "--keyspaces", KS), 0)
    write(osess, "INSERT INTO val.t (k, v) VALUES (?, ?) USING TIMESTAMP ?", (500, "missing", T0 + 500))
    write(osess, "UPDATE val.t USING TIMESTAMP ? SET v = ? WHERE k = ?", (T0 + 600, "changed", 9))
    write(tsess, "INSERT INTO val.t (k, v) VALUES (?, ?) USING TIMESTAMP ?", (700, "extra", T0 + 700))
    diff = str(tmp_path / "diff.jsonl")
    found = validate(origin, target, "--keyspaces", KS, "--diff-file", diff)
    assert_exit(found, 1)
    expected = {"missing": 1, "mismatched": 1, "extra": 1, "target_newer": 0}
    assert _counts(found, "t") == expected, found.describe()
    # --keys-from re-checks just the rows of the diff file, with the same findings...
    again = validate(origin, target, "--keys-from", diff)
    assert_exit(again, 1)
    assert _counts(again, "t") == expected, again.describe()
    assert table_entry(again, KS, "t")["rows_read"] <= 3, "--keys-from read more than the 3 listed rows\n" + again.describe()
    # ... and, once they are repaired, finds them equal.
    assert validate(origin, target, "--keyspaces", KS, "--fix", "missing,mismatch,extra").code in (0, 1)
    clean = validate(origin, target, "--keys-from", diff)
    assert_exit(clean, 0)
    assert_no_differences(clean)


def test_validate_reports_nothing_under_live_proxy_traffic(origin, target, osess, tsess):
    proxy = Proxy(origin, target)
    try:
        cluster, psess = connect(proxy)
        try:
            _live(origin, target, osess, tsess, psess)
        finally:
            cluster.shutdown()
    finally:
        proxy.stop()


def _live(origin, target, osess, tsess, psess):
    psess.use_client_timestamp = False          # each cluster stamps the writes itself
    create_keyspace(psess, "live")
    psess.execute("CREATE TABLE live.t (k int, c int, v text, n int, PRIMARY KEY (k, c))")
    # Rows written before the proxy existed: on origin only.
    write_many(osess, "INSERT INTO live.t (k, c, v, n) VALUES (?, ?, ?, ?) USING TIMESTAMP ?",
               [(k, c, "old-%d-%d" % (k, c), k * c, T0 + k * 10 + c) for k in range(300) for c in range(10)])
    res = migrate(origin, target, "--keyspaces", "live")
    assert_exit(res, 0)
    assert count_rows(tsess, "live", "t") == 3000

    stop = threading.Event()
    stats = {"ops": 0, "errors": []}
    update = psess.prepare("UPDATE live.t SET v = ?, n = ? WHERE k = ? AND c = ?")
    insert = psess.prepare("INSERT INTO live.t (k, c, v, n) VALUES (?, ?, ?, ?)")
    delete = psess.prepare("DELETE FROM live.t WHERE k = ? AND c = ?")
    rnd = random.Random(7)

    def writer():
        i = 0
        while not stop.is_set():
            try:
                op = i % 5
                if op in (0, 1, 2):
                    psess.execute(update, ("new-%d" % i, i, rnd.randrange(300), rnd.randrange(10)))
                elif op == 3:
                    psess.execute(insert, (1000 + i, i % 10, "ins-%d" % i, i))
                else:
                    psess.execute(delete, (rnd.randrange(300), rnd.randrange(10)))
                stats["ops"] += 1
            except Exception as e:  # noqa: BLE001 - reported below
                stats["errors"].append(repr(e))
                if len(stats["errors"]) > 20:
                    return
            i += 1

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        time.sleep(1.0)
        ops_before = stats["ops"]
        during = validate(origin, target, "--keyspaces", "live", "--max-rows-per-second", "1500")
        ops_during = stats["ops"] - ops_before
    finally:
        stop.set()
        thread.join(30)
    assert not stats["errors"], stats["errors"][:5]
    assert ops_during >= 50, "only %d writes went through the proxy during validate" % ops_during
    assert_exit(during, 0)
    check_report(during, "validate", "completed")
    assert_no_differences(during)
    assert during.report["totals"]["rows_read"] > 0, during.describe()

    quiet = validate(origin, target, "--keyspaces", "live")
    assert_exit(quiet, 0)
    assert_no_differences(quiet)
