"""Scope (--keyspaces, --tables, system keyspaces) and the schema check / --create-schema."""
import re
import uuid

import pytest

from zdm_migrate import (T0, assert_completed_migration, assert_exit, assert_tables_equal,
                         check_report, count_rows, create_keyspace, keyspaces, migrate, on_both,
                         tables_of, write_many)

SCOPE = {"sa": ["t1", "t2", "t3"], "sb": ["t1", "t2"], "sc": ["t1", "t2"]}


def test_scope_keyspaces_and_tables(origin, target, osess, tsess):
    rows = {}
    for i, (ks, tables) in enumerate(sorted(SCOPE.items())):
        for s in (osess, tsess):
            create_keyspace(s, ks)
        for j, t in enumerate(tables):
            on_both((osess, tsess), "CREATE TABLE %s.%s (k int, c int, v text, PRIMARY KEY (k, c))" % (ks, t))
            n = 10 + 7 * i + 3 * j       # a different row count per table
            write_many(osess, "INSERT INTO %s.%s (k, c, v) VALUES (?, ?, ?) USING TIMESTAMP ?" % (ks, t),
                       [(r % 4, r, "%s.%s.%d" % (ks, t, r), T0 + r) for r in range(n)])
            rows[(ks, t)] = n
    origin_keyspaces = keyspaces(osess)
    target_keyspaces = keyspaces(tsess)

    # sa and sb whole, sc.t1 by name; sa.t1 named too (must not be copied twice).
    res = migrate(origin, target, "--keyspaces", "sa,sb", "--tables", "sc.t1,sa.t1",
                  "--parallel-tables", "3", "--workers", "4")
    assert_exit(res, 0)
    rep = check_report(res, "migrate", "completed")
    expected = {("sa", "t1"), ("sa", "t2"), ("sa", "t3"), ("sb", "t1"), ("sb", "t2"), ("sc", "t1")}
    got = [(e["keyspace"], e["table"]) for e in rep["tables"]]
    assert sorted(got) == sorted(expected), "one report entry per table in scope expected\n" + res.describe()
    for ks, t in sorted(expected):
        assert_completed_migration(res, ks, t, rows[(ks, t)])
        assert_tables_equal(osess, tsess, ks, t)
    assert count_rows(tsess, "sc", "t2") == 0, "sc.t2 is out of scope but was copied"
    assert not any(e["keyspace"].startswith(("system", "dse_")) or e["keyspace"] == "zdm_migration"
                   for e in rep["tables"]), res.describe()
    # Origin is only read: no keyspace appears there (run state lives on target).
    assert keyspaces(osess) == origin_keyspaces
    after = keyspaces(tsess)
    assert set(after) - set(target_keyspaces) == {"zdm_migration"}, after
    assert "zdm_migration" not in keyspaces(osess)


def _schema_case(osess, tsess, origin_ddl, target_ddl, ks="sch"):
    for s in (osess, tsess):
        create_keyspace(s, ks)
    for ddl in origin_ddl:
        osess.execute(ddl)
    for ddl in target_ddl:
        tsess.execute(ddl)


def _target_rows(tsess, ks):
    return {t: count_rows(tsess, ks, t) for t in tables_of(tsess, ks)}


def test_schema_missing_table_exits_2_and_writes_nothing(origin, target, osess, tsess):
    _schema_case(osess, tsess,
                 ["CREATE TABLE sch.present (k int PRIMARY KEY, v text)",
                  "CREATE TABLE sch.absent_tbl (k int PRIMARY KEY, v text)"],
                 ["CREATE TABLE sch.present (k int PRIMARY KEY, v text)"])
    for k in range(20):
        osess.execute("INSERT INTO sch.present (k, v) VALUES (%d, 'x')" % k)
        osess.execute("INSERT INTO sch.absent_tbl (k, v) VALUES (%d, 'y')" % k)
    res = migrate(origin, target, "--keyspaces", "sch")
    assert_exit(res, 2)
    assert "absent_tbl" in res.output, "the message must name the missing table\n" + res.describe()
    assert _target_rows(tsess, "sch") == {"present": 0}, "rows were copied despite the schema error"
    assert "absent_tbl" not in tables_of(tsess, "sch")


@pytest.mark.parametrize("case", ["other_type", "missing_column", "other_clustering_order",
                                  "other_partition_key"])
def test_schema_difference_exits_2_and_names_it(origin, target, osess, tsess, case):
    origin_ddl = "CREATE TABLE sch.t (k int, c int, price_col int, note text, PRIMARY KEY (k, c)) " \
                 "WITH CLUSTERING ORDER BY (c DESC)"
    target_ddl, word = {
        "other_type": ("CREATE TABLE sch.t (k int, c int, price_col text, note text, PRIMARY KEY (k, c)) "
                       "WITH CLUSTERING ORDER BY (c DESC)", "price_col"),
        "missing_column": ("CREATE TABLE sch.t (k int, c int, note text, PRIMARY KEY (k, c)) "
                           "WITH CLUSTERING ORDER BY (c DESC)", "price_col"),
        "other_clustering_order": ("CREATE TABLE sch.t (k int, c int, price_col int, note text, "
                                   "PRIMARY KEY (k, c)) WITH CLUSTERING ORDER BY (c ASC)", "sch.t"),
        "other_partition_key": ("CREATE TABLE sch.t (k int, c int, price_col int, note text, "
                                "PRIMARY KEY ((k, c))) ", "sch.t"),
    }[case]
    _schema_case(osess, tsess, [origin_ddl, "CREATE TABLE sch.fine (k int PRIMARY KEY, v int)"],
                 [target_ddl, "CREATE TABLE sch.fine (k int PRIMARY KEY, v int)"])
    for k in range(10):
        osess.execute("INSERT INTO sch.t (k, c, price_col, note) VALUES (%d, 1, 5, 'n')" % k)
        osess.execute("INSERT INTO sch.fine (k, v) VALUES (%d, 1)" % k)
    res = migrate(origin, target, "--keyspaces", "sch")
    assert_exit(res, 2)
    if word == "sch.t":
        assert re.search(r'\bsch"?\."?t\b', res.output), "the message must name sch.t\n" + res.describe()
    else:
        assert word in res.output, "the message must name column %s\n%s" % (word, res.describe())
    assert _target_rows(tsess, "sch") == {"fine": 0, "t": 0}, "rows were copied despite the schema error"


def test_create_schema_creates_keyspaces_types_and_tables(origin, target, osess, tsess):
    # Keyspace cs_new does not exist on target; keyspace cs_old does, without its table t2.
    create_keyspace(osess, "cs_new", "{'class': 'NetworkTopologyStrategy', 'dc1': 1}")
    create_keyspace(osess, "cs_old")
    create_keyspace(tsess, "cs_old")
    osess.execute("CREATE TYPE cs_new.phone (country int, number text)")
    osess.execute("CREATE TYPE cs_new.addr (street text, phones frozen<list<frozen<phone>>>)")
    osess.execute("CREATE TABLE cs_new.people (id uuid, seq int, name text static, home frozen<addr>, "
                  "tags set<text>, scores map<text, int>, pair tuple<int, text>, PRIMARY KEY ((id), seq)) "
                  "WITH CLUSTERING ORDER BY (seq DESC)")
    osess.execute("CREATE TABLE cs_new.hits (page text PRIMARY KEY, n counter)")
    for ks_t in ("cs_old.t1", "cs_old.t2"):
        osess.execute("CREATE TABLE %s (a int, b text, c blob, PRIMARY KEY ((a, b)))" % ks_t)
    tsess.execute("CREATE TABLE cs_old.t1 (a int, b text, c blob, PRIMARY KEY ((a, b)))")
    for i in range(12):
        osess.execute("INSERT INTO cs_new.people (id, seq, name, home, tags, scores, pair) VALUES "
                      "(%s, %d, 'n%d', {street: 's', phones: [{country: 41, number: '%d'}]}, {'a', 'b'}, "
                      "{'x': %d}, (%d, 'p')) USING TIMESTAMP %d"
                      % (uuid.UUID(int=i // 3 + 1), i, i, i, i, i, T0 + i))
        osess.execute("UPDATE cs_new.hits SET n = n + %d WHERE page = 'p%d'" % (i, i % 5))
        osess.execute("INSERT INTO cs_old.t1 (a, b, c) VALUES (%d, 'b', 0x0102) USING TIMESTAMP %d" % (i, T0 + i))
        osess.execute("INSERT INTO cs_old.t2 (a, b, c) VALUES (%d, 'b', 0x03) USING TIMESTAMP %d" % (i, T0 + i))

    res = migrate(origin, target, "--keyspaces", "cs_new,cs_old", "--create-schema")
    assert_exit(res, 0)
    check_report(res, "migrate", "completed")

    # The keyspace with origin's replication, the types (nested) and tables as on origin.
    repl = lambda s: dict(s.execute("SELECT replication FROM system_schema.keyspaces "
                                    "WHERE keyspace_name = 'cs_new'").one().replication)
    assert repl(tsess) == repl(osess)
    types = lambda s: sorted((r.type_name, tuple(r.field_names), tuple(r.field_types)) for r in s.execute(
        "SELECT type_name, field_names, field_types FROM system_schema.types WHERE keyspace_name = 'cs_new'"))
    assert types(tsess) == types(osess)
    for ks, t in (("cs_new", "people"), ("cs_new", "hits"), ("cs_old", "t2")):
        cols = lambda s: sorted(tuple(r) for r in s.execute(
            "SELECT column_name, kind, position, clustering_order, type FROM system_schema.columns "
            "WHERE keyspace_name = %s AND table_name = %s", (ks, t)))
        assert cols(tsess) == cols(osess), "%s.%s created on target differs from origin" % (ks, t)
    for ks, t, n in (("cs_new", "people", 12), ("cs_new", "hits", 5), ("cs_old", "t1", 12), ("cs_old", "t2", 12)):
        assert count_rows(tsess, ks, t) == n
        assert_tables_equal(osess, tsess, ks, t)


def test_schema_only_creates_the_tables_and_copies_nothing(origin, target, osess, tsess):
    """--schema-only: the schema step before phase 1 (so the proxy's writes find the tables on
    target); no run is recorded and no row copied. A second run finds nothing to create."""
    create_keyspace(osess, "so")
    osess.execute("CREATE TABLE so.t (a int PRIMARY KEY, b text)")
    for i in range(5):
        osess.execute("INSERT INTO so.t (a, b) VALUES (%d, 'x')" % i)
    res = migrate(origin, target, "--keyspaces", "so", "--schema-only")
    assert_exit(res, 0)
    assert "the schema is on target; no rows copied" in res.output, res.describe()
    cols = lambda s: sorted(tuple(r) for r in s.execute(
        "SELECT column_name, kind, type FROM system_schema.columns "
        "WHERE keyspace_name = 'so' AND table_name = 't'"))
    assert cols(tsess) == cols(osess)
    assert count_rows(tsess, "so", "t") == 0
    again = migrate(origin, target, "--keyspaces", "so", "--schema-only")
    assert_exit(again, 0)
    assert "creating on target" not in again.output, again.describe()
