"""A Cassandra 2.2 origin (`zdm node --cassandra-version 2.2`): schema from
system.schema_keyspaces/columnfamilies/columns/usertypes, no WRITETIME()/TTL() on any collection,
protocol v4 at most."""
import pytest
from cassandra import InvalidRequest

from zdm_migrate import (T0, Node, assert_completed_migration, assert_exit, assert_tables_equal,
                         check_report, connect, count_rows, create_keyspace, migrate, read_cell,
                         schema_columns, write)

TYPE = "CREATE TYPE %s.addr (street text, zip int)"
TABLE = ("CREATE TABLE %s.t (k int, c int, a text, b int, fl frozen<list<int>>, "
         "fm frozen<map<text, int>>, l list<text>, s set<int>, m map<int, text>, u frozen<addr>, "
         "tu frozen<tuple<int, text>>, PRIMARY KEY (k, c)) WITH CLUSTERING ORDER BY (c DESC)")
ROWS = 20


@pytest.fixture
def origin22():
    n = Node("--cassandra-version", "2.2", cluster_name="origin22")
    cluster, session = connect(n, protocol_version=4)
    yield n, session
    cluster.shutdown()
    n.stop()


def _fill(osess, ks):
    t = "%s.t" % ks
    for i in range(ROWS):
        key = (i // 4, i % 4)
        write(osess, "UPDATE %s USING TIMESTAMP ? SET a = ? WHERE k = ? AND c = ?" % t, (T0 + i, "a%d" % i) + key)
        write(osess, "UPDATE %s USING TIMESTAMP ? AND TTL ? SET b = ? WHERE k = ? AND c = ?" % t,
              (T0 + 100 + i, 5000, i) + key)
        write(osess, "UPDATE %s USING TIMESTAMP ? SET fl = ?, fm = ?, l = l + ?, s = s + ?, m = m + ? "
              "WHERE k = ? AND c = ?" % t,
              (T0 + 50 + i, [i, i], {"x": i}, ["e", "f"], {i, 100}, {i: "m"}) + key)
        write(osess, "UPDATE %s USING TIMESTAMP ? SET u = ?, tu = ? WHERE k = ? AND c = ?" % t,
              (T0 + 200 + i, ("street", i), (i, "t")) + key)
        if i % 5 == 0:
            # The truly newest cell is a frozen collection, whose writetime 2.2 cannot tell.
            write(osess, "UPDATE %s USING TIMESTAMP ? SET fl = ? WHERE k = ? AND c = ?" % t,
                  (T0 + 500 + i, [i, i, i]) + key)


def test_cassandra22_origin_node_answers_like_22(origin22):
    _, osess = origin22
    version = osess.execute("SELECT release_version FROM system.local").one()[0]
    assert version.startswith("2.2"), version
    create_keyspace(osess, "probe")
    osess.execute(TYPE % "probe")
    osess.execute(TABLE % "probe")
    with pytest.raises(InvalidRequest):
        osess.execute("SELECT WRITETIME(fl) FROM probe.t")
    assert list(osess.execute("SELECT columnfamily_name FROM system.schema_columnfamilies "
                              "WHERE keyspace_name = 'probe'")), "no system.schema_columnfamilies rows"


def test_cassandra22_origin_migrates_collections_and_udts(origin22, target, tsess):
    origin, osess = origin22
    for s in (osess, tsess):
        create_keyspace(s, "ks22")
        s.execute(TYPE % "ks22")
        s.execute(TABLE % "ks22")
    _fill(osess, "ks22")
    assert count_rows(osess, "ks22", "t") == ROWS

    res = migrate(origin, target, "--keyspaces", "ks22")
    assert_exit(res, 0)
    check_report(res, "migrate", "completed")
    e = assert_completed_migration(res, "ks22", "t", ROWS)
    assert e["writetime_estimated"] > 0, res.describe()
    # Values of every cell; writetimes and TTLs of the non-collection cells.
    assert_tables_equal(osess, tsess, "ks22", "t", origin_v22=True)
    # Frozen collections get their row's newest writetime origin can tell (u, tu at T0+200+i).
    for i in range(ROWS):
        where = "k = %d AND c = %d" % (i // 4, i % 4)
        for col in ("fl", "fm"):
            wt = read_cell(tsess, "ks22", "t", col, where)[1]
            assert wt == T0 + 200 + i, "%s of row %d: writetime %r, expected the row's newest %r" % (
                col, i, wt, T0 + 200 + i)


def test_cassandra22_origin_create_schema(origin22, target, tsess):
    origin, osess = origin22
    create_keyspace(osess, "ks22c")
    osess.execute(TYPE % "ks22c")
    osess.execute(TABLE % "ks22c")
    _fill(osess, "ks22c")
    # The same definitions made on the (Cassandra 4.0-like) target by hand, for reference.
    create_keyspace(tsess, "ref")
    tsess.execute(TYPE % "ref")
    tsess.execute(TABLE % "ref")

    res = migrate(origin, target, "--keyspaces", "ks22c", "--create-schema")
    assert_exit(res, 0)
    check_report(res, "migrate", "completed")
    assert_completed_migration(res, "ks22c", "t", ROWS)
    assert schema_columns(tsess, "ks22c", "t") == schema_columns(tsess, "ref", "t")
    types = [tuple(r) for ks in ("ks22c", "ref") for r in tsess.execute(
        "SELECT type_name, field_names, field_types FROM system_schema.types WHERE keyspace_name = %s", (ks,))]
    assert types[0] == types[1] and len(types) == 2, types
    assert count_rows(tsess, "ks22c", "t") == ROWS
    assert_tables_equal(osess, tsess, "ks22c", "t", origin_v22=True)
