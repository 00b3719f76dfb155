"""Handshake variants through the proxy: protocol versions, compression, authentication,
version downgrade, and the proxy's own request deadline."""
import pytest
from cassandra import WriteTimeout, ConsistencyLevel
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import NoHostAvailable
from cassandra.query import SimpleStatement

from conftest import connect
from zdm_procs import Node, Proxy


@pytest.mark.parametrize("version,compression", [(3, False), (4, "lz4"), (4, "snappy"),
                                                 (5, False), (5, "lz4")])
def test_versions_and_compression_pass_through(proxy, origin_session, target_session, table,
                                               version, compression):
    # connect() fails when the driver lacks the codec or did not negotiate the compression.
    cluster, session = connect(proxy.host, proxy.port, protocol_version=version,
                               compression=compression)
    try:
        insert = session.prepare("INSERT INTO " + table + " (k, v) VALUES (?, ?)")
        big = "x" * 20000  # compressible, and large enough to span v5 segments
        for k in range(20):
            session.execute(insert, (k, big if k == 0 else "v%d" % k))
        got = sorted(tuple(r) for r in session.execute("SELECT k, v FROM " + table))
        assert len(got) == 20 and got[0] == (0, big)
        assert sorted(tuple(r) for r in target_session.execute("SELECT k, v FROM " + table)) == got
        assert sorted(tuple(r) for r in origin_session.execute("SELECT k, v FROM " + table)) == got
    finally:
        cluster.shutdown()


def test_driver_downgrades_when_a_cluster_only_speaks_v4():
    origin = Node("--protocol-versions", "3,4", cluster_name="origin-v4")
    target = Node(cluster_name="target-v5")
    try:
        p = Proxy(origin, target)
        try:
            # No protocol_version: the driver starts at its highest and steps down.
            from cassandra.cluster import Cluster
            cluster = Cluster(contact_points=[p.host], port=p.port, connect_timeout=10)
            session = cluster.connect()
            try:
                assert cluster.protocol_version == 4
                assert session.execute("SELECT release_version FROM system.local").one()
            finally:
                cluster.shutdown()
        finally:
            p.stop()
    finally:
        origin.stop()
        target.stop()


def test_auth_on_both_clusters_uses_client_credentials_for_target_and_configured_for_origin():
    origin = Node("--user", "proxyuser:proxypass", cluster_name="origin-auth")
    target = Node("--user", "app:secret", cluster_name="target-auth")
    try:
        p = Proxy(origin, target, settings={
            "ORIGIN_USERNAME": "proxyuser", "ORIGIN_PASSWORD": "proxypass",
            "TARGET_USERNAME": "app", "TARGET_PASSWORD": "secret"})
        try:
            # The client only knows target's user; origin gets the configured one.
            cluster, session = connect(p.host, p.port,
                                       auth_provider=PlainTextAuthProvider("app", "secret"))
            try:
                session.execute("CREATE KEYSPACE authks WITH replication = "
                                "{'class': 'SimpleStrategy', 'replication_factor': 1}")
                session.execute("CREATE TABLE authks.t (k int PRIMARY KEY)")
                session.execute("INSERT INTO authks.t (k) VALUES (1)")
            finally:
                cluster.shutdown()
            with pytest.raises(NoHostAvailable):
                cluster, _ = connect(p.host, p.port,
                                     auth_provider=PlainTextAuthProvider("app", "wrong"))
            # The write reached both clusters: each node, read directly with its own user.
            for node, user in ((origin, ("proxyuser", "proxypass")), (target, ("app", "secret"))):
                direct, s = connect(node.host, node.port,
                                    auth_provider=PlainTextAuthProvider(*user))
                try:
                    assert [tuple(r) for r in s.execute("SELECT k FROM authks.t")] == [(1,)], \
                        "row missing on %s" % node.args
                finally:
                    direct.shutdown()
        finally:
            p.stop()
    finally:
        origin.stop()
        target.stop()


def test_proxy_deadline_answers_a_real_timeout_error(origin, target, proxy_session, table):
    p = Proxy(origin, target, settings={"PROXY_REQUEST_TIMEOUT_MS": 300})
    rule = target.admin("POST", "/faults", {"action": "delay", "delay_ms": 1500,
                                            "query": "INSERT INTO " + table.replace(".", "\\.")})
    try:
        cluster, session = connect(p.host, p.port)
        try:
            stmt = SimpleStatement("INSERT INTO " + table + " (k, v) VALUES (1, 'slow')",
                                   consistency_level=ConsistencyLevel.LOCAL_QUORUM)
            with pytest.raises(WriteTimeout) as err:
                session.execute(stmt, timeout=5)
            assert "LOCAL_QUORUM" in str(err.value)
            target.admin("DELETE", "/faults/%d" % rule["id"])
            rule = None
            # The connection keeps working after the late answer arrives and is dropped.
            session.execute("INSERT INTO " + table + " (k, v) VALUES (2, 'fast')")
        finally:
            cluster.shutdown()
        assert p.metric("zdm_target_requests_failed_total", error="client_timeout") >= 1
    finally:
        if rule:
            target.admin("DELETE", "/faults/%d" % rule["id"])
        p.stop()
