"""Reads: token-range scans, paging, prepared and named binds, filtering, limits, errors."""
import pytest
from cassandra import AlreadyExists, InvalidRequest, Unauthorized
from cassandra.protocol import SyntaxException
from cassandra.query import SimpleStatement

MIN_TOKEN = -(2 ** 63)
MAX_TOKEN = 2 ** 63 - 1


def test_token_range_scans_return_every_row_exactly_once(session, keyspace):
    session.execute("CREATE TABLE r (k int, c int, v int, PRIMARY KEY (k, c))")
    insert = session.prepare("INSERT INTO r (k, c, v) VALUES (?, ?, ?)")
    expected = set()
    for k in range(500):
        for c in range(k % 3 + 1):
            session.execute(insert, (k, c, k + c))
            expected.add((k, c))
    # Split the ring into 16 ranges (start, end], as a migrator does.
    step = (MAX_TOKEN - MIN_TOKEN) // 16
    bounds = [MIN_TOKEN + i * step for i in range(16)] + [MAX_TOKEN]
    scan = session.prepare("SELECT k, c, token(k) AS t FROM r WHERE token(k) > ? AND token(k) <= ?")
    seen = []
    for start, end in zip(bounds, bounds[1:]):
        for row in session.execute(scan, (start, end)):
            assert start < row.t <= end
            seen.append((row.k, row.c))
    # MIN_TOKEN itself is never a real token, so (MIN, ...] covers the whole ring.
    assert len(seen) == len(expected)
    assert set(seen) == expected
    tokens = [r.t for r in session.execute("SELECT token(k) AS t FROM r")]
    assert tokens == sorted(tokens)


def test_paging_over_10k_rows(session, keyspace):
    session.execute("CREATE TABLE p (k int, c int, PRIMARY KEY (k, c))")
    insert = session.prepare("INSERT INTO p (k, c) VALUES (?, ?)")
    from cassandra.concurrent import execute_concurrent_with_args
    execute_concurrent_with_args(session, insert, [(i % 50, i) for i in range(10000)], concurrency=64)
    statement = SimpleStatement("SELECT k, c FROM p", fetch_size=100)
    result = session.execute(statement)
    pages = 1
    rows = list(result.current_rows)
    while result.has_more_pages:
        result.fetch_next_page()
        rows.extend(result.current_rows)
        pages += 1
    assert len(rows) == 10000
    assert len(set(rows)) == 10000
    assert pages >= 100
    single = list(session.execute(SimpleStatement("SELECT c FROM p WHERE k = 7", fetch_size=33)))
    assert [r.c for r in single] == sorted(i for i in range(10000) if i % 50 == 7)


def test_prepared_positional_and_named_binds(session, keyspace):
    session.execute("CREATE TABLE n (k text, c int, v text, PRIMARY KEY (k, c))")
    named = session.prepare("INSERT INTO n (k, c, v) VALUES (:key, :col, :val) USING TTL :ttl")
    session.execute(named, {"key": "a", "col": 1, "val": "one", "ttl": 1000})
    session.execute(named, {"key": "a", "col": 2, "val": "two", "ttl": 1000})
    sel = session.prepare("SELECT c, v FROM n WHERE k = ? AND c >= ? LIMIT ?")
    assert [(r.c, r.v) for r in session.execute(sel, ("a", 2, 10))] == [(2, "two")]
    sel_named = session.prepare("SELECT v FROM n WHERE k = :k AND c IN :cs")
    assert sorted(r.v for r in session.execute(sel_named, {"k": "a", "cs": [1, 2]})) == ["one", "two"]
    # Routing metadata: the driver computes the routing key from pk_indexes.
    bound = sel.bind(("a", 2, 10))
    assert bound.routing_key == b"a"


def test_filtering_limits_distinct(session, keyspace):
    session.execute("CREATE TABLE f (k int, c int, v int, s int static, PRIMARY KEY (k, c))")
    for k in range(5):
        session.execute("UPDATE f SET s = %s WHERE k = %s", (k * 10, k))
        for c in range(4):
            session.execute("INSERT INTO f (k, c, v) VALUES (%s, %s, %s)", (k, c, c % 2))
    with pytest.raises(InvalidRequest):
        session.execute("SELECT * FROM f WHERE v = 1")
    assert len(list(session.execute("SELECT * FROM f WHERE v = 1 ALLOW FILTERING"))) == 10
    assert len(list(session.execute("SELECT * FROM f LIMIT 7"))) == 7
    assert len(list(session.execute("SELECT * FROM f PER PARTITION LIMIT 1"))) == 5
    assert sorted((r.k, r.s) for r in session.execute("SELECT DISTINCT k, s FROM f")) == \
        [(k, k * 10) for k in range(5)]
    row = session.execute("SELECT c AS col, v AS val FROM f WHERE k = 1 AND c = 3").one()
    assert (row.col, row.val) == (3, 1)


def test_errors_map_to_driver_exceptions(session, keyspace):
    session.execute("CREATE TABLE e (k int PRIMARY KEY, v text)")
    with pytest.raises(SyntaxException):
        session.execute("SELEKT * FROM e")
    with pytest.raises(InvalidRequest):
        session.execute("SELECT nope FROM e")
    with pytest.raises(InvalidRequest):
        session.execute("SELECT * FROM no_such_table")
    with pytest.raises(InvalidRequest):
        session.execute("INSERT INTO e (k, v) VALUES ('not an int', 'x')")
    with pytest.raises(AlreadyExists):
        session.execute("CREATE TABLE e (k int PRIMARY KEY)")
    session.execute("CREATE TABLE IF NOT EXISTS e (k int PRIMARY KEY)")
    with pytest.raises(Unauthorized):
        session.execute("INSERT INTO system.local (key) VALUES ('x')")
    with pytest.raises(InvalidRequest):
        session.execute("USE no_such_keyspace")
