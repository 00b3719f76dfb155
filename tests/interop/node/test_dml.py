"""Writes and their Cassandra semantics: collections, counters, batches, LWT, TTL, WRITETIME."""
import datetime
import time

from cassandra.query import BatchStatement, BatchType, SimpleStatement

from zdm_procs import wait_until


def test_collection_operations(session, keyspace):
    session.execute("CREATE TABLE c (k int PRIMARY KEY, l list<int>, s set<text>, m map<text, int>)")
    session.execute("INSERT INTO c (k, l, s, m) VALUES (1, [1, 2], {'a'}, {'x': 1})")
    session.execute("UPDATE c SET l = l + [3], s = s + {'b', 'c'}, m = m + {'y': 2} WHERE k = 1")
    session.execute("UPDATE c SET l = [0] + l WHERE k = 1")
    session.execute("UPDATE c SET l[1] = 10, m['x'] = 100 WHERE k = 1")
    session.execute("UPDATE c SET s = s - {'a'}, m = m - {'y'} WHERE k = 1")
    row = session.execute("SELECT l, s, m FROM c WHERE k = 1").one()
    assert row.l == [0, 10, 2, 3]
    assert set(row.s) == {"b", "c"}
    assert dict(row.m) == {"x": 100}
    session.execute("DELETE l[0], m['x'] FROM c WHERE k = 1")
    session.execute("UPDATE c SET l = l - [3] WHERE k = 1")
    row = session.execute("SELECT l, s, m FROM c WHERE k = 1").one()
    assert row.l == [10, 2]
    assert row.m is None
    prepared = session.prepare("UPDATE c SET s = s + ? WHERE k = ?")
    session.execute(prepared, ({"z"}, 1))
    assert set(session.execute("SELECT s FROM c WHERE k = 1").one().s) == {"b", "c", "z"}


def test_counters(session, keyspace):
    session.execute("CREATE TABLE hits (page text PRIMARY KEY, n counter)")
    inc = session.prepare("UPDATE hits SET n = n + ? WHERE page = ?")
    for _ in range(5):
        session.execute(inc, (2, "home"))
    session.execute("UPDATE hits SET n = n - 3 WHERE page = 'home'")
    assert session.execute("SELECT n FROM hits WHERE page = 'home'").one().n == 7
    batch = BatchStatement(batch_type=BatchType.COUNTER)
    batch.add(inc, (1, "home"))
    batch.add(inc, (1, "about"))
    session.execute(batch)
    rows = {r.page: r.n for r in session.execute("SELECT page, n FROM hits")}
    assert rows == {"home": 8, "about": 1}


def test_batches_logged_and_unlogged(session, keyspace):
    session.execute("CREATE TABLE b (k int, c int, v text, PRIMARY KEY (k, c))")
    insert = session.prepare("INSERT INTO b (k, c, v) VALUES (?, ?, ?)")
    for batch_type in (BatchType.LOGGED, BatchType.UNLOGGED):
        batch = BatchStatement(batch_type=batch_type)
        for c in range(10):
            batch.add(insert, (int(batch_type.value), c, "v%d" % c))
        batch.add(SimpleStatement("DELETE FROM b WHERE k = %s AND c = %s"), (int(batch_type.value), 9))
        session.execute(batch)
        rows = list(session.execute("SELECT c FROM b WHERE k = %s", (int(batch_type.value),)))
        assert [r.c for r in rows] == list(range(9))
    session.execute("BEGIN BATCH USING TIMESTAMP 1000 INSERT INTO b (k, c, v) VALUES (5, 1, 'x'); "
                    "UPDATE b SET v = 'y' WHERE k = 5 AND c = 2; APPLY BATCH")
    rows = list(session.execute("SELECT c, v, WRITETIME(v) AS wt FROM b WHERE k = 5"))
    assert [(r.c, r.v, r.wt) for r in rows] == [(1, "x", 1000), (2, "y", 1000)]


def test_lightweight_transactions(session, keyspace):
    session.execute("CREATE TABLE users (name text PRIMARY KEY, email text, version int)")
    first = session.execute("INSERT INTO users (name, email, version) VALUES ('ann', 'a@x', 1) IF NOT EXISTS")
    assert first.was_applied
    second = session.execute("INSERT INTO users (name, email, version) VALUES ('ann', 'b@x', 1) IF NOT EXISTS")
    assert not second.was_applied
    assert second.one().email == "a@x"
    ok = session.execute("UPDATE users SET email = 'c@x', version = 2 WHERE name = 'ann' IF version = 1")
    assert ok.was_applied
    stale = session.execute("UPDATE users SET email = 'd@x' WHERE name = 'ann' IF version = 1")
    assert not stale.was_applied
    assert stale.one().version == 2
    assert not session.execute("DELETE FROM users WHERE name = 'bob' IF EXISTS").was_applied
    assert session.execute("DELETE FROM users WHERE name = 'ann' IF EXISTS").was_applied
    assert session.execute("SELECT * FROM users WHERE name = 'ann'").one() is None


def test_ttl_and_writetime(session, keyspace):
    session.execute("CREATE TABLE t (k int PRIMARY KEY, a text, b text)")
    session.execute("INSERT INTO t (k, a) VALUES (1, 'keep') USING TIMESTAMP 123456789")
    session.execute("UPDATE t USING TTL 1 SET b = 'gone' WHERE k = 1")
    session.execute("INSERT INTO t (k, a) VALUES (2, 'short') USING TTL 1")
    row = session.execute("SELECT a, WRITETIME(a) AS wa, TTL(a) AS ta, TTL(b) AS tb FROM t WHERE k = 1").one()
    assert row.wa == 123456789
    assert row.ta is None
    assert row.tb in (0, 1)
    wait_until(lambda: session.execute("SELECT b FROM t WHERE k = 1").one().b is None, timeout=5,
               what="the TTL 1 cell to expire")
    assert session.execute("SELECT a FROM t WHERE k = 1").one().a == "keep"
    wait_until(lambda: session.execute("SELECT * FROM t WHERE k = 2").one() is None, timeout=5,
               what="the TTL 1 row to expire")


def test_last_write_wins_by_timestamp(session, keyspace):
    session.execute("CREATE TABLE lww (k int PRIMARY KEY, v text)")
    session.execute("INSERT INTO lww (k, v) VALUES (1, 'new') USING TIMESTAMP 2000")
    session.execute("INSERT INTO lww (k, v) VALUES (1, 'old') USING TIMESTAMP 1000")
    assert session.execute("SELECT v FROM lww WHERE k = 1").one().v == "new"
    # Equal timestamps: the greater value wins, as Cassandra.
    session.execute("INSERT INTO lww (k, v) VALUES (2, 'a') USING TIMESTAMP 5000")
    session.execute("INSERT INTO lww (k, v) VALUES (2, 'b') USING TIMESTAMP 5000")
    session.execute("INSERT INTO lww (k, v) VALUES (2, 'a') USING TIMESTAMP 5000")
    assert session.execute("SELECT v FROM lww WHERE k = 2").one().v == "b"
    session.execute("DELETE FROM lww USING TIMESTAMP 1500 WHERE k = 1")
    assert session.execute("SELECT v FROM lww WHERE k = 1").one().v == "new"
    session.execute("DELETE FROM lww USING TIMESTAMP 2500 WHERE k = 1")
    assert session.execute("SELECT v FROM lww WHERE k = 1").one() is None


def test_range_and_row_deletions(session, keyspace):
    session.execute("CREATE TABLE w (k int, c int, v int, PRIMARY KEY (k, c))")
    insert = session.prepare("INSERT INTO w (k, c, v) VALUES (?, ?, ?)")
    for c in range(10):
        session.execute(insert, (1, c, c * c))
    session.execute("DELETE FROM w WHERE k = 1 AND c >= 2 AND c < 5")
    session.execute("DELETE FROM w WHERE k = 1 AND c = 8")
    session.execute("DELETE v FROM w WHERE k = 1 AND c = 9")
    rows = [(r.c, r.v) for r in session.execute("SELECT c, v FROM w WHERE k = 1")]
    assert rows == [(0, 0), (1, 1), (5, 25), (6, 36), (7, 49), (9, None)]
    rows = [r.c for r in session.execute("SELECT c FROM w WHERE k = 1 AND c > 1 AND c <= 7 ORDER BY c DESC")]
    assert rows == [7, 6, 5]
    rows = [r.c for r in session.execute("SELECT c FROM w WHERE k = 1 AND c IN (0, 5, 8)")]
    assert rows == [0, 5]
    session.execute("DELETE FROM w WHERE k = 1")
    assert session.execute("SELECT * FROM w WHERE k = 1").one() is None


def test_json_insert_and_functions(session, keyspace):
    session.execute("CREATE TABLE j (id uuid PRIMARY KEY, name text, n int, at timestamp, tu timeuuid)")
    session.execute("INSERT INTO j JSON '{\"id\": \"123e4567-e89b-12d3-a456-426614174000\", \"name\": \"x\", \"n\": 3}'")
    row = session.execute("SELECT name, n FROM j WHERE id = 123e4567-e89b-12d3-a456-426614174000").one()
    assert (row.name, row.n) == ("x", 3)
    before = time.time()
    session.execute("INSERT INTO j (id, name, at, tu) VALUES (uuid(), 'gen', toTimestamp(now()), now())")
    rows = [r for r in session.execute("SELECT id, at, tu FROM j") if r.id.int != 0x123e4567e89b12d3a456426614174000]
    assert len(rows) == 1
    assert rows[0].id.version == 4
    assert rows[0].tu.version == 1
    # The driver gives timestamps as naive datetimes in UTC; a naive .timestamp() would read them
    # as local time (off by the machine's UTC offset).
    at = rows[0].at.replace(tzinfo=datetime.timezone.utc).timestamp()
    assert abs(at - before) < 60, (rows[0].at, before)
    tu = (rows[0].tu.time - 0x01B21DD213814000) / 1e7  # 100 ns since 1582-10-15 -> Unix seconds
    assert abs(tu - before) < 60, (rows[0].tu, before)
    count = session.execute("SELECT count(*) FROM j").one()
    assert count[0] == 2
