"""The Python driver through `zdm proxy` in front of two `zdm node`s, checked on each node."""
import re
import time

import pytest
from cassandra import WriteTimeout
from cassandra.cluster import Cluster
from cassandra.policies import RoundRobinPolicy

from conftest import StatementSpy, connect, free_port
from zdm_procs import Proxy, wait_until


def rows(session, cql, *args):
    return sorted(tuple(r) for r in session.execute(cql, args))


def test_readiness_and_liveness(proxy):
    status, body = proxy.http("/health/readiness")
    assert status == 200, body
    assert '"Status":"UP"' in body
    assert proxy.http("/health/liveness")[0] == 200


def test_writes_land_on_both_clusters(proxy_session, origin_session, target_session, table):
    for k in range(5):
        proxy_session.execute("INSERT INTO " + table + " (k, v) VALUES (%s, %s)", (k, "v%d" % k))
    expected = [(k, "v%d" % k) for k in range(5)]
    assert rows(origin_session, "SELECT k, v FROM " + table) == expected
    assert rows(target_session, "SELECT k, v FROM " + table) == expected


def test_reads_come_only_from_the_primary(proxy_session, origin, target, origin_session,
                                          target_session, table):
    # One key, a different value on each cluster (written directly): the answer names the
    # cluster that served it. The spies count the reads of this table that reach each node, so
    # a read also sent to target fails the test even when origin's answer is the one returned.
    origin_session.execute("INSERT INTO " + table + " (k, v) VALUES (1, 'from-origin')")
    target_session.execute("INSERT INTO " + table + " (k, v) VALUES (1, 'from-target')")
    select = proxy_session.prepare("SELECT k, v FROM " + table + " WHERE k = ?")
    reads = "SELECT .* FROM " + re.escape(table)
    with StatementSpy(origin, reads) as on_origin, StatementSpy(target, reads) as on_target:
        for _ in range(3):
            assert rows(proxy_session, "SELECT k, v FROM " + table + " WHERE k = 1") == \
                [(1, "from-origin")]
            assert [tuple(r) for r in proxy_session.execute(select, (1,))] == [(1, "from-origin")]
        assert on_origin.count() == 6  # the spies do see the reads that arrive
        assert on_target.count() == 0


def test_target_as_primary_serves_reads_from_target(origin, target, origin_session,
                                                    target_session, proxy_session, table):
    origin_session.execute("INSERT INTO " + table + " (k, v) VALUES (2, 'from-origin')")
    target_session.execute("INSERT INTO " + table + " (k, v) VALUES (2, 'from-target')")
    p = Proxy(origin, target, settings={"PRIMARY_CLUSTER": "TARGET"})
    try:
        cluster, session = connect(p.host, p.port)
        try:
            assert rows(session, "SELECT k, v FROM " + table + " WHERE k = 2") == \
                [(2, "from-target")]
            session.execute("INSERT INTO " + table + " (k, v) VALUES (3, 'both')")
            assert rows(origin_session, "SELECT v FROM " + table + " WHERE k = 3") == [("both",)]
            assert rows(target_session, "SELECT v FROM " + table + " WHERE k = 3") == [("both",)]
        finally:
            cluster.shutdown()
    finally:
        p.stop()


def test_prepared_statements_work_when_target_ids_differ(proxy_session, origin_session,
                                                         target_session, table):
    insert = proxy_session.prepare("INSERT INTO " + table + " (k, v) VALUES (?, ?)")
    select = proxy_session.prepare("SELECT v FROM " + table + " WHERE k = ?")
    for k in range(10):
        proxy_session.execute(insert, (k, "p%d" % k))
    assert rows(origin_session, "SELECT count(*) FROM " + table) == [(10,)]
    assert rows(target_session, "SELECT count(*) FROM " + table) == [(10,)]
    assert list(proxy_session.execute(select, (4,)))[0].v == "p4"
    batch_stmt = "BEGIN BATCH INSERT INTO " + table + " (k, v) VALUES (100, 'b') APPLY BATCH"
    proxy_session.execute(batch_stmt)
    from cassandra.query import BatchStatement
    b = BatchStatement()
    b.add(insert, (200, "pb"))
    b.add(insert, (201, "pb"))
    proxy_session.execute(b)
    assert rows(target_session, "SELECT k FROM " + table + " WHERE k IN (100, 200, 201)") == \
        [(100,), (200,), (201,)]


def test_prepared_statements_survive_target_losing_them(proxy_session, target, target_session,
                                                        table):
    insert = proxy_session.prepare("INSERT INTO " + table + " (k, v) VALUES (?, ?)")
    proxy_session.execute(insert, (1, "before"))
    target.admin("POST", "/prepared/clear")
    # Target answers UNPREPARED; the proxy turns it into UNPREPARED for origin's id, the driver
    # re-prepares through the proxy and retries: the application sees no error.
    proxy_session.execute(insert, (2, "after"))
    assert rows(target_session, "SELECT k, v FROM " + table) == [(1, "before"), (2, "after")]
    # Same for a BATCH of prepared statements: target's UNPREPARED names target's id, which the
    # proxy maps back to origin's.
    target.admin("POST", "/prepared/clear")
    from cassandra.query import BatchStatement
    b = BatchStatement()
    b.add(insert, (3, "batch"))
    proxy_session.execute(b)
    assert rows(target_session, "SELECT k FROM " + table + " WHERE k = 3") == [(3,)]


def test_write_failing_on_target_reaches_the_client(proxy, proxy_session, target, origin_session,
                                                    table):
    before = proxy.metric("zdm_proxy_failed_writes_total", failed_on="target")
    rule = target.admin("POST", "/faults", {"action": "error", "error": "WRITE_TIMEOUT",
                                            "query": "INSERT INTO " + table.replace(".", "\\.")})
    try:
        with pytest.raises(WriteTimeout):
            proxy_session.execute("INSERT INTO " + table + " (k, v) VALUES (7, 'x')")
    finally:
        target.admin("DELETE", "/faults/%d" % rule["id"])
    # Origin applied it: the failure came from target only.
    assert rows(origin_session, "SELECT v FROM " + table + " WHERE k = 7") == [("x",)]
    assert proxy.metric("zdm_proxy_failed_writes_total", failed_on="target") == before + 1
    ks, name = table.split(".")
    assert proxy.metric("zdm_proxy_table_failed_requests_total", keyspace=ks, table=name,
                        failed_on="target") == 1
    assert proxy.metric("zdm_proxy_table_requests_total", keyspace=ks, table=name,
                        type="writes") >= 1


def test_async_reads_reach_the_secondary(origin, target, proxy_session, table):
    p = Proxy(origin, target, settings={"READ_MODE": "DUAL_ASYNC_ON_SECONDARY"})
    try:
        cluster, session = connect(p.host, p.port)
        try:
            select = session.prepare("SELECT v FROM " + table + " WHERE k = ?")
            target.admin("POST", "/counters/reset")
            origin.admin("POST", "/counters/reset")
            for k in range(20):
                session.execute("SELECT v FROM " + table + " WHERE k = %s", (k,))
                session.execute(select, (k,))

            def copies_on_target():
                c = target.admin("GET", "/counters")["requests"]
                return c["QUERY"] >= 20 and c["EXECUTE"] >= 20
            # The copies are fire-and-forget: they may land after the client has its answers.
            wait_until(copies_on_target, what="20 QUERY and 20 EXECUTE async copies on target")
            o = origin.admin("GET", "/counters")["requests"]
            assert o["QUERY"] >= 20 and o["EXECUTE"] >= 20
        finally:
            cluster.shutdown()
        assert p.metric("zdm_async_request_duration_seconds_count", type="reads") >= 40
    finally:
        p.stop()


def test_token_aware_driver_sees_the_fleet_of_three(origin, target, origin_session,
                                                   target_session, table):
    port = free_port()
    addresses = "127.0.0.1,127.0.0.2,127.0.0.3"
    fleet = []
    try:
        for i in range(3):
            fleet.append(Proxy(origin, target, listen="127.0.0.%d" % (i + 1), settings={
                "PROXY_LISTEN_PORT": port, "PROXY_TOPOLOGY_ADDRESSES": addresses,
                "PROXY_TOPOLOGY_INDEX": i}))
        cluster = Cluster(contact_points=["127.0.0.1"], port=port, protocol_version=4,
                          connect_timeout=10)
        session = cluster.connect()
        try:
            wait_until(lambda: len([h for h in cluster.metadata.all_hosts() if h.is_up]) == 3,
                       what="3 proxies up in the driver")
            hosts = sorted(h.address for h in cluster.metadata.all_hosts())
            assert hosts == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
            for k in range(30):
                session.execute("INSERT INTO " + table + " (k, v) VALUES (%s, 'fleet')", (k,))
            assert rows(session, "SELECT count(*) FROM " + table) == [(30,)]
            # Each proxy of the fleet took some of the writes, and each node holds all 30 rows.
            ks, name = table.split(".")
            for p in fleet:
                assert p.metric("zdm_proxy_table_requests_total", keyspace=ks, table=name,
                                type="writes") > 0, "no writes through %s" % p.host
            expected = [(k, "fleet") for k in range(30)]
            assert rows(origin_session, "SELECT k, v FROM " + table) == expected
            assert rows(target_session, "SELECT k, v FROM " + table) == expected
        finally:
            cluster.shutdown()
    finally:
        for p in fleet:
            p.stop()
