"""`zdm migrate` keeps every cell: every CQL type, per-cell writetimes and TTLs, statics,
clustering order, primary-key-only rows, empty values vs nulls (docs/migrate.md "What is kept")."""
import datetime
import decimal
import uuid

from cassandra.util import Date, Duration, Time

from zdm_migrate import (T0, assert_completed_migration, assert_exit, assert_tables_equal,
                         check_report, count_rows, create_keyspace, migrate, on_both,
                         read_cell, table_entry, write, write_many)

KS = "fid"

SCALARS = [
    ("c_ascii", "ascii", "hello ascii"),
    ("c_bigint", "bigint", -9223372036854775808),
    ("c_blob", "blob", b"\x00\x01\xfe\xff"),
    ("c_boolean", "boolean", True),
    ("c_date", "date", Date(datetime.date(2024, 2, 29))),
    ("c_decimal", "decimal", decimal.Decimal("-12345678901234567890.000123")),
    ("c_double", "double", 2.718281828459045),
    ("c_duration", "duration", Duration(months=14, days=3, nanoseconds=7200000000123)),
    ("c_float", "float", 1.5),
    ("c_inet", "inet", "2001:db8::ff00:42:8329"),
    ("c_int", "int", -2147483648),
    ("c_smallint", "smallint", -32768),
    ("c_text", "text", "zürich ✓ 東京"),
    ("c_time", "time", Time(datetime.time(23, 59, 59, 999999))),
    ("c_timestamp", "timestamp", datetime.datetime(2026, 11, 30, 12, 34, 56, 789000)),
    ("c_timeuuid", "timeuuid", uuid.UUID("d2177dd0-eaa2-11de-a572-001b779c76e3")),
    ("c_tinyint", "tinyint", -128),
    ("c_uuid", "uuid", uuid.UUID("123e4567-e89b-12d3-a456-426614174000")),
    ("c_varint", "varint", 123456789012345678901234567890),
]

OTHERS = [
    ("c_list", "list<int>"),
    ("c_set", "set<text>"),
    ("c_map", "map<text, int>"),
    ("c_flist", "frozen<list<int>>"),
    ("c_fset", "frozen<set<text>>"),
    ("c_fmap", "frozen<map<text, int>>"),
    ("c_nested", "frozen<map<int, frozen<list<text>>>>"),
    ("c_tuple", "tuple<int, text, boolean>"),
    ("c_udt", "frozen<addr>"),
    ("c_udts", "list<frozen<addr>>"),
]

KEY = "pk = ? AND pk2 = ? AND ck1 = ? AND ck2 = ?"


def create_schema(sessions):
    cols = ", ".join("%s %s" % (n, t) for n, t, _ in SCALARS) + ", " + \
        ", ".join("%s %s" % (n, t) for n, t in OTHERS)
    on_both(sessions,
            "CREATE TYPE %s.addr (street text, zip int, tags frozen<set<text>>)" % KS,
            "CREATE TABLE %s.all_types (pk int, pk2 text, ck1 int, ck2 text, st text static, "
            "st_n int static, %s, PRIMARY KEY ((pk, pk2), ck1, ck2)) "
            "WITH CLUSTERING ORDER BY (ck1 DESC, ck2 ASC)" % (KS, cols),
            # Collections whose writetime origin cannot tell, in a row without a row marker.
            "CREATE TABLE %s.coll_wt (k int PRIMARY KEY, a int, b text, l list<int>, s set<int>, "
            "m map<int, text>)" % KS,
            # Nulls must not become tombstones on target.
            "CREATE TABLE %s.nulls_t (k int PRIMARY KEY, a text, b text)" % KS)


def fill_all_types(s):
    t = "%s.all_types" % KS
    names = ", ".join(n for n, _, _ in SCALARS)
    marks = ", ".join("?" for _ in SCALARS)
    p1 = (1, "a")
    # Partition 1: statics at their own timestamps and TTL.
    write(s, "UPDATE %s USING TIMESTAMP ? SET st = ? WHERE pk = ? AND pk2 = ?" % t, (T0 + 900, "static-1") + p1)
    write(s, "UPDATE %s USING TIMESTAMP ? AND TTL ? SET st_n = ? WHERE pk = ? AND pk2 = ?" % t,
          (T0 + 950, 9000, 9) + p1)
    # r1: every scalar at T0+1000, then cells overwritten at other timestamps and TTLs.
    write(s, "INSERT INTO %s (pk, pk2, ck1, ck2, %s) VALUES (?, ?, ?, ?, %s) USING TIMESTAMP ?"
          % (t, names, marks), p1 + (3, "x") + tuple(v for _, _, v in SCALARS) + (T0 + 1000,))
    r1 = p1 + (3, "x")
    write(s, "UPDATE %s USING TIMESTAMP ? AND TTL ? SET c_text = ?, c_bigint = ? WHERE %s" % (t, KEY),
          (T0 + 2000, 86400, "updated later", 77) + r1)
    write(s, "UPDATE %s USING TIMESTAMP ? AND TTL ? SET c_int = ? WHERE %s" % (t, KEY),
          (T0 + 3000, 3600, 42) + r1)
    write(s, "UPDATE %s USING TIMESTAMP ? SET c_list = c_list + ?, c_set = c_set + ?, "
          "c_map = c_map + ? WHERE %s" % (t, KEY),
          (T0 + 1500, [1, 2, 3], {"b", "a"}, {"x": 1, "y": 2}) + r1)
    write(s, "UPDATE %s USING TIMESTAMP ? SET c_list = c_list + ? WHERE %s" % (t, KEY), (T0 + 2500, [4]) + r1)
    write(s, "UPDATE %s USING TIMESTAMP ? AND TTL ? SET c_tuple = ?, c_udt = ?, c_flist = ?, "
          "c_fset = ?, c_fmap = ?, c_nested = ?, c_udts = ? WHERE %s" % (t, KEY),
          (T0 + 1700, 7200, (7, "seven", False), ("Main St", 12345, {"t1", "t2"}), [3, 1, 2, 1],
           {"z", "a"}, {"k": -1}, {1: ["a", "b"], 2: []}, [("B", 2, None)]) + r1)
    write(s, "DELETE c_boolean FROM %s USING TIMESTAMP ? WHERE %s" % (t, KEY), (T0 + 1800,) + r1)
    # r2: a row that holds only its primary key.
    write(s, "INSERT INTO %s (pk, pk2, ck1, ck2) VALUES (?, ?, ?, ?) USING TIMESTAMP ?" % t,
          p1 + (2, "y", T0 + 1100))
    # r3: empty values (not nulls); every other column null.
    write(s, "INSERT INTO %s (pk, pk2, ck1, ck2, c_text, c_ascii, c_blob, c_flist) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?" % t,
          p1 + (1, "z", "", "", b"", [], T0 + 1200))
    # r4: same ck1 as r3 (ck2 ascending inside ck1 descending), the whole row with a TTL.
    write(s, "INSERT INTO %s (pk, pk2, ck1, ck2, c_int, c_text) VALUES (?, ?, ?, ?, ?, ?) "
          "USING TIMESTAMP ? AND TTL ?" % t, p1 + (1, "a", 1, "ttl row", T0 + 1250, 5000))
    # Partition 2: a static value and no clustering row. (An UPDATE: `zdm node` refuses the
    # static-only INSERT Cassandra accepts, "Some clustering keys are missing: ck1".)
    write(s, "UPDATE %s USING TIMESTAMP ? AND TTL ? SET st = ? WHERE pk = ? AND pk2 = ?" % t,
          (T0 + 1300, 6000, "static only", 2, "b"))
    # Partitions 3..12: five rows each, cells at different timestamps, some with TTLs.
    for pk in range(3, 13):
        for ck in range(5):
            key = (pk, "p%d" % pk, ck, "r")
            ttl = 10000 + pk * 10 + ck if ck % 2 else 0
            write(s, "INSERT INTO %s (pk, pk2, ck1, ck2, c_int, c_text, c_double, c_uuid) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ? AND TTL ?" % t,
                  key + (pk * 100 + ck, "v%d-%d" % (pk, ck), pk / 7.0, uuid.uuid4(), T0 + pk * 10 + ck, ttl))
            write(s, "UPDATE %s USING TIMESTAMP ? SET c_bigint = ?, c_varint = ? WHERE %s" % (t, KEY),
                  (T0 + 5000 + pk * 10 + ck, pk * ck, 10 ** (pk + ck)) + key)
            if ck == 2:
                write(s, "UPDATE %s USING TIMESTAMP ? SET c_map = c_map + ?, c_set = c_set + ? WHERE %s"
                      % (t, KEY), (T0 + 40 + pk, {"m%d" % pk: pk}, {"s%d" % pk}) + key)
        write(s, "UPDATE %s USING TIMESTAMP ? SET st = ? WHERE pk = ? AND pk2 = ?" % t,
              (T0 + 7000 + pk, "st%d" % pk, pk, "p%d" % pk))


def fill_coll_wt(s):
    t = "%s.coll_wt" % KS
    # Only UPDATEs: no row marker, so the row's newest writetime is T0+1000 (column a).
    write(s, "UPDATE %s USING TIMESTAMP ? SET a = ? WHERE k = ?" % t, (T0 + 1000, 1, 1))
    write(s, "UPDATE %s USING TIMESTAMP ? AND TTL ? SET b = ? WHERE k = ?" % t, (T0 + 500, 8000, "b", 1))
    write(s, "UPDATE %s USING TIMESTAMP ? SET l = l + ? WHERE k = ?" % t, (T0 + 10, [5, 6], 1))
    write(s, "UPDATE %s USING TIMESTAMP ? SET s = s + ?, m = m + ? WHERE k = ?" % t,
          (T0 + 20, {3, 1}, {1: "one"}, 1))
    write(s, "UPDATE %s USING TIMESTAMP ? SET l = l + ? WHERE k = ?" % t, (T0 + 30, [7], 1))
    for k in range(2, 6):
        write(s, "UPDATE %s USING TIMESTAMP ? SET a = ?, l = l + ? WHERE k = ?" % t, (T0 + k, k, [k, k], k))


def fill_nulls(s, ts):
    t = "%s.nulls_t" % KS
    write(s, "INSERT INTO %s (k, a) VALUES (?, ?) USING TIMESTAMP ?" % t, (1, "x", T0 + 100))
    write(s, "INSERT INTO %s (k) VALUES (?) USING TIMESTAMP ?" % t, (3, T0 + 100))
    # Target already holds an older b for k=1 (as if written there before): a null on origin
    # must not delete it.
    write(ts, "UPDATE %s USING TIMESTAMP ? SET b = ? WHERE k = ?" % t, (T0 + 50, "keep", 1))


def test_fidelity_every_type_writetimes_ttls(origin, target, osess, tsess):
    for s in (osess, tsess):
        create_keyspace(s, KS)
    create_schema((osess, tsess))
    fill_all_types(osess)
    fill_coll_wt(osess)
    fill_nulls(osess, tsess)
    rows = {t: count_rows(osess, KS, t) for t in ("all_types", "coll_wt", "nulls_t")}
    assert rows == {"all_types": 55, "coll_wt": 5, "nulls_t": 2}, rows

    res = migrate(origin, target, "--keyspaces", KS)
    assert_exit(res, 0)
    check_report(res, "migrate", "completed")
    for t, n in rows.items():
        assert_completed_migration(res, KS, t, n)
    e = table_entry(res, KS, "all_types")
    assert e["ranges_total"] >= 64, "default --splits is at least 64 ranges per table\n" + res.describe()
    assert e["cells_written"] > 0, res.describe()
    assert e["writetime_estimated"] > 0, \
        "rows with non-frozen collections must count writetime_estimated\n" + res.describe()
    assert table_entry(res, KS, "coll_wt")["writetime_estimated"] > 0, res.describe()
    assert table_entry(res, KS, "nulls_t")["writetime_estimated"] == 0, res.describe()

    assert_tables_equal(osess, tsess, KS, "all_types")
    assert_tables_equal(osess, tsess, KS, "coll_wt")
    # nulls_t equals origin except the cell target had before, which must survive.
    assert_tables_equal(osess, tsess, KS, "nulls_t", skip={((1,), "b")})
    assert read_cell(tsess, KS, "nulls_t", "b", "k = 1") == ("keep", T0 + 50, None), \
        "a null on origin was written to target as a tombstone"
    assert read_cell(tsess, KS, "nulls_t", "a", "k = 3") == (None, None, None), \
        "the primary-key-only row is missing on target"

    # Spot checks that are easy to read when the generic comparison passes for a wrong reason.
    r1 = "pk = 1 AND pk2 = 'a' AND ck1 = 3 AND ck2 = 'x'"
    assert read_cell(tsess, KS, "all_types", "c_int", r1)[:2] == (42, T0 + 3000)
    assert read_cell(tsess, KS, "all_types", "c_ascii", r1)[:2] == ("hello ascii", T0 + 1000)
    assert read_cell(tsess, KS, "all_types", "c_boolean", r1) == (None, None, None)
    assert read_cell(tsess, KS, "all_types", "c_list", r1, meta=False)[0] == ("list", (1, 2, 3, 4))
    empty = read_cell(tsess, KS, "all_types", "c_blob", "pk = 1 AND pk2 = 'a' AND ck1 = 1 AND ck2 = 'z'")
    assert empty[:2] == (b"", T0 + 1200), "an empty blob must stay an empty value, not a null"
    assert read_cell(tsess, KS, "all_types", "c_text",
                     "pk = 1 AND pk2 = 'a' AND ck1 = 1 AND ck2 = 'z'")[0] == ""
    static_only = list(tsess.execute("SELECT ck1, st, WRITETIME(st), TTL(st) FROM fid.all_types "
                                     "WHERE pk = 2 AND pk2 = 'b'"))
    assert len(static_only) == 1 and static_only[0][0] is None and static_only[0][1] == "static only" \
        and static_only[0][2] == T0 + 1300 and 5900 < static_only[0][3] <= 6000, static_only
    order = [(r.ck1, r.ck2) for r in tsess.execute(
        "SELECT ck1, ck2 FROM fid.all_types WHERE pk = 1 AND pk2 = 'a'")]
    assert order == [(3, "x"), (2, "y"), (1, "a"), (1, "z")], order

    # Non-frozen collections get the newest writetime of their row (T0+1000 for coll_wt k=1):
    # a collection deletion at T0+999 leaves them, one at T0+1000 removes them.
    for col in ("l", "s", "m"):
        tsess.execute("DELETE %s FROM fid.coll_wt USING TIMESTAMP %d WHERE k = 1" % (col, T0 + 999))
        assert read_cell(tsess, KS, "coll_wt", col, "k = 1", meta=False)[0] is not None, \
            "%s was written with a writetime older than its row's newest (T0+1000)" % col
        tsess.execute("DELETE %s FROM fid.coll_wt USING TIMESTAMP %d WHERE k = 1" % (col, T0 + 1000))
        assert read_cell(tsess, KS, "coll_wt", col, "k = 1", meta=False)[0] is None, \
            "%s was written with a writetime newer than its row's newest (T0+1000)" % col


def test_fidelity_vector(origin, target, osess, tsess):
    # zdm node supports vector<float, n>: a refusal of the DDL is a failure, never a skip.
    for s in (osess, tsess):
        create_keyspace(s, "fidv")
        s.execute("CREATE TABLE fidv.vec (k int PRIMARY KEY, v vector<float, 3>, w text)")
    # The driver has no vector codec: literals in, raw bytes out (compared as bytes).
    for k in range(10):
        osess.execute("INSERT INTO fidv.vec (k, v, w) VALUES (%d, [%d.5, -2.0, 3.25], 'w%d') "
                      "USING TIMESTAMP %d AND TTL %d" % (k, k, k, T0 + k, 3000 + k))
        osess.execute("UPDATE fidv.vec USING TIMESTAMP %d SET w = 'later' WHERE k = %d" % (T0 + 100 + k, k))
    res = migrate(origin, target, "--tables", "fidv.vec")
    assert_exit(res, 0)
    check_report(res, "migrate", "completed")
    assert_completed_migration(res, "fidv", "vec", 10)
    assert_tables_equal(osess, tsess, "fidv", "vec")
    v = read_cell(tsess, "fidv", "vec", "v", "k = 3")
    assert v[1] == T0 + 3 and isinstance(v[0], bytes) and len(v[0]) == 12, v


def test_wide_partition_paged_in_small_pages(origin, target, osess, tsess):
    for s in (osess, tsess):
        create_keyspace(s, "wide")
    on_both((osess, tsess), "CREATE TABLE wide.t (k int, c int, v text, n bigint, PRIMARY KEY (k, c)) "
                            "WITH CLUSTERING ORDER BY (c DESC)")
    rows = [(0, c, "wide-%d" % c, c, T0 + c, 30000 if c % 7 == 0 else 0) for c in range(5000)]
    rows += [(k, c, "small", k, T0 + k, 0) for k in range(1, 51) for c in range(2)]
    write_many(osess, "INSERT INTO wide.t (k, c, v, n) VALUES (?, ?, ?, ?) USING TIMESTAMP ? AND TTL ?",
               rows, concurrency=64)
    write_many(osess, "UPDATE wide.t USING TIMESTAMP ? SET n = ? WHERE k = ? AND c = ?",
               [(T0 + 90000 + c, -c, 0, c) for c in range(0, 5000, 3)], concurrency=64)
    assert count_rows(osess, "wide", "t") == len(rows)
    res = migrate(origin, target, "--tables", "wide.t", "--page-size", "100")
    assert_exit(res, 0)
    check_report(res, "migrate", "completed")
    assert_completed_migration(res, "wide", "t", len(rows))
    assert_tables_equal(osess, tsess, "wide", "t")
