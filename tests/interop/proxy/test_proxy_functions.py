"""ZDM_REPLACE_CQL_FUNCTIONS: now() and uuid() in writes through `zdm proxy` store byte-identical
values on origin and target. Each node is read directly and the stored bytes compared.

Control: the same writes through a proxy without the setting store different values on the two
nodes (each node evaluates its own now()/uuid()), so the equality checks can fail.
"""
import re
import uuid

import pytest
from cassandra.query import BatchStatement, BatchType, SimpleStatement

from conftest import StatementSpy, connect
from zdm_procs import Proxy


@pytest.fixture(scope="module")
def replacing_proxy(origin, target):
    p = Proxy(origin, target, settings={"REPLACE_CQL_FUNCTIONS": "true"})
    yield p
    p.stop()


# (protocol version, compression): the driver compresses with LZ4 (v4: frames, v5: segments;
# connect() fails if it does not), so rewritten frames are re-compressed; v3 has byte-sized query
# flags.
@pytest.fixture(scope="module", params=[(4, True), (5, True), (4, False), (3, True)],
                ids=["v4-lz4", "v5-lz4", "v4-plain", "v3"])
def replacing_session(request, replacing_proxy):
    version, compression = request.param
    cluster, session = connect(replacing_proxy.host, replacing_proxy.port,
                               protocol_version=version, compression=compression)
    assert cluster.protocol_version == version
    yield session
    cluster.shutdown()


@pytest.fixture
def ftable(proxy_session):
    """A fresh table with timeuuid, uuid and timestamp columns on both clusters."""
    ks = "fn_%s" % uuid.uuid4().hex[:12]
    proxy_session.execute("CREATE KEYSPACE %s WITH replication = "
                          "{'class': 'SimpleStrategy', 'replication_factor': 1}" % ks)
    proxy_session.execute("CREATE TABLE %s.f (k int PRIMARY KEY, t timeuuid, u uuid, n int, "
                          "ts timestamp)" % ks)
    yield "%s.f" % ks
    proxy_session.execute("DROP KEYSPACE IF EXISTS %s" % ks)


def stored(session, table, k):
    """(t, u, ts) of row k as read directly from one node; uuids as their 16 raw bytes."""
    rows = list(session.execute("SELECT t, u, ts FROM " + table + " WHERE k = %s", (k,)))
    assert len(rows) == 1, "row %d missing" % k
    r = rows[0]
    return (r.t.bytes if r.t else None, r.u.bytes if r.u else None, r.ts)


def assert_identical(origin_session, target_session, table, k, want_t=True, want_u=True):
    o = stored(origin_session, table, k)
    t = stored(target_session, table, k)
    assert o == t, "row %d differs: origin %r, target %r" % (k, o, t)
    if want_t:
        assert o[0] is not None and uuid.UUID(bytes=o[0]).version == 1, o
    if want_u:
        assert o[1] is not None and uuid.UUID(bytes=o[1]).version == 4, o
        assert uuid.UUID(bytes=o[1]).variant == uuid.RFC_4122
    return o


def test_query_insert_and_update(replacing_session, origin_session, target_session, ftable):
    s = replacing_session
    s.execute("INSERT INTO " + ftable + " (k, t, u) VALUES (1, now(), uuid())")
    s.execute("INSERT INTO " + ftable + " (k, t, u, ts) VALUES (2, NOW(), system.uuid(), "
              "toTimestamp(now()))")
    s.execute(SimpleStatement("INSERT INTO " + ftable + " (k, t, u) VALUES (%s, now(), uuid())"),
              (3,))
    first = assert_identical(origin_session, target_session, ftable, 1)
    second = assert_identical(origin_session, target_session, ftable, 2)
    assert first != second  # fresh values per request
    assert stored(origin_session, ftable, 2)[2] is not None
    assert_identical(origin_session, target_session, ftable, 3)

    s.execute("UPDATE " + ftable + " SET t = now(), u = uuid() WHERE k = 1")
    updated = assert_identical(origin_session, target_session, ftable, 1)
    assert updated[:2] != first[:2]
    # now() values of one proxy increase.
    assert uuid.UUID(bytes=updated[0]).time > uuid.UUID(bytes=first[0]).time


def test_prepared_positional_and_named(replacing_session, origin_session, target_session,
                                       ftable, origin, target):
    s = replacing_session
    positional = s.prepare("INSERT INTO " + ftable + " (k, t, u, n) VALUES (?, now(), uuid(), ?)")
    # The client binds only its own markers: the proxy's are hidden from the metadata.
    assert [c.name for c in positional.column_metadata] == ["k", "n"]
    if s.cluster.protocol_version >= 4:  # v3 PREPARED metadata has no partition key indexes
        assert positional.routing_key_indexes == [0]
    named = s.prepare("INSERT INTO " + ftable + " (k, t, n, ts) "
                      "VALUES (:k, now(), :n, toTimestamp(now()))")
    assert [c.name for c in named.column_metadata] == ["k", "n"]
    update = s.prepare("UPDATE " + ftable + " SET t = now(), u = ? WHERE k = ?")
    assert [c.name for c in update.column_metadata] == ["u", "k"]

    for k in range(10, 15):
        s.execute(positional, (k, k * 10))
    s.execute(named, {"k": 20, "n": 7})
    s.execute(named, {"n": 8, "k": 21})
    client_uuid = uuid.uuid4()
    s.execute(update, (client_uuid, 10))

    values = {assert_identical(origin_session, target_session, ftable, k)
              for k in range(11, 15)}
    assert len(values) == 4  # each EXECUTE got fresh values
    for k in (20, 21):
        assert_identical(origin_session, target_session, ftable, k, want_u=False)
    row10 = assert_identical(origin_session, target_session, ftable, 10)
    assert row10[1] == client_uuid.bytes
    assert list(origin_session.execute("SELECT n FROM " + ftable + " WHERE k = 21"))[0].n == 8
    assert list(target_session.execute("SELECT n FROM " + ftable + " WHERE k = 13"))[0].n == 130

    # A cluster forgets its statements (restart): the driver re-prepares the original text
    # through the proxy, which rewrites it again, and retries the EXECUTE. The other cluster has
    # applied the first attempt already, so the retry must carry the same values (same client
    # timestamp: a last-write-wins tie, which Cassandra breaks by the greater value).
    k = 16
    for forget in ([target], [origin], [origin, target]):
        for node in forget:
            node.admin("POST", "/prepared/clear")
        for _ in range(3):  # with one value, a tie could pick the right one by chance
            s.execute(positional, (k, k * 10))
            assert_identical(origin_session, target_session, ftable, k)
            k += 1
            for node in forget:
                node.admin("POST", "/prepared/clear")


def test_logged_batch_with_query_and_prepared_children(replacing_session, origin_session,
                                                       target_session, ftable):
    s = replacing_session
    insert = s.prepare("INSERT INTO " + ftable + " (k, t, u, n) VALUES (?, now(), uuid(), ?)")
    b = BatchStatement(batch_type=BatchType.LOGGED)
    b.add("INSERT INTO " + ftable + " (k, t, u) VALUES (30, now(), uuid())")
    b.add(insert, (31, 1))
    b.add("UPDATE " + ftable + " SET t = now() WHERE k = %s", (32,))
    b.add(insert, (33, 2))
    s.execute(b)
    rows = [assert_identical(origin_session, target_session, ftable, k) for k in (30, 31, 33)]
    assert len({r[:2] for r in rows}) == 3
    assert_identical(origin_session, target_session, ftable, 32, want_u=False)


def test_batch_retried_after_one_cluster_forgot_gets_the_same_values(
        replacing_session, origin_session, target_session, ftable, origin, target):
    # As for EXECUTE: one cluster answers UNPREPARED for a prepared child while the other applies
    # the BATCH; the driver re-prepares and sends the same BATCH again, which must carry the same
    # now()/uuid() values (text children included), or the cluster that applied it twice keeps
    # the greater of two values (same client timestamp) and the clusters differ.
    s = replacing_session
    insert = s.prepare("INSERT INTO " + ftable + " (k, t, u, n) VALUES (?, now(), uuid(), ?)")
    k = 40
    for forget in ([target], [origin], [origin, target]):
        for _ in range(3):  # with one value, a tie could pick the right one by chance
            for node in forget:
                node.admin("POST", "/prepared/clear")
            b = BatchStatement(batch_type=BatchType.LOGGED)
            b.add("INSERT INTO " + ftable + " (k, t, u) VALUES (%s, now(), uuid())", (k,))
            b.add(insert, (k + 1, 1))
            s.execute(b)
            assert_identical(origin_session, target_session, ftable, k)
            assert_identical(origin_session, target_session, ftable, k + 1)
            k += 2


def test_reads_are_not_rewritten(replacing_session, ftable, origin):
    # A SELECT with now() goes to origin unchanged (the reference's rule); it must still work.
    # The spy counts statements reaching origin whose text (for EXECUTE: the prepared text) still
    # has now(): a rewritten read carries the proxy's literal or bind marker instead.
    select = "SELECT k FROM " + ftable + " WHERE k = 1 AND t = now() ALLOW FILTERING"
    prepared = replacing_session.prepare(select)
    with StatementSpy(origin, re.escape(ftable) + r" WHERE k = 1 AND t = now\(\)") as unchanged:
        assert list(replacing_session.execute(select)) == []
        assert list(replacing_session.execute(prepared)) == []
        assert unchanged.count() == 2


def test_without_the_setting_values_differ(proxy_session, origin_session, target_session,
                                           ftable):
    """Control: each node evaluates now()/uuid() itself."""
    proxy_session.execute("INSERT INTO " + ftable + " (k, t, u) VALUES (40, now(), uuid())")
    o = stored(origin_session, ftable, 40)
    t = stored(target_session, ftable, 40)
    assert o[0] != t[0] and o[1] != t[1]
    insert = proxy_session.prepare("INSERT INTO " + ftable + " (k, t, u) VALUES (?, now(), uuid())")
    assert [c.name for c in insert.column_metadata] == ["k"]
    proxy_session.execute(insert, (41,))
    assert stored(origin_session, ftable, 41)[:2] != stored(target_session, ftable, 41)[:2]


def test_statement_equal_to_a_rewritten_one_is_not_confused_with_it(replacing_session,
                                                                    origin_session,
                                                                    target_session, ftable):
    # "... VALUES (?, now())" is prepared as other text than "... VALUES (?, ?)": were the texts
    # equal, both would get one prepared id, and one of them the other's bind markers.
    s = replacing_session
    with_now = s.prepare("INSERT INTO " + ftable + " (k, t) VALUES (?, now())")
    plain = s.prepare("INSERT INTO " + ftable + " (k, t) VALUES (?, ?)")
    assert with_now.query_id != plain.query_id
    explicit = uuid.uuid1()
    s.execute(plain, (50, explicit))
    s.execute(with_now, (51,))
    s.execute(plain, (52, explicit))
    s.execute(with_now, (53,))
    for k in (50, 52):
        assert assert_identical(origin_session, target_session, ftable, k,
                                want_u=False)[0] == explicit.bytes
    for k in (51, 53):
        assert assert_identical(origin_session, target_session, ftable, k, want_u=False)[0] != \
            explicit.bytes
