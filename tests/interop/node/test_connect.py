"""The Python driver connects to zdm node with every protocol version and compression."""
import pytest
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import NoHostAvailable

from conftest import connect
from zdm_procs import Node, wait_until


# Every version with every compression, except v5 with snappy: v5 segments are LZ4 or
# uncompressed (the driver would silently send them uncompressed).
@pytest.mark.parametrize("version,compression",
                         [(v, c) for v in (3, 4, 5) for c in (False, "lz4", "snappy")
                          if (v, c) != (5, "snappy")])
def test_connects_and_round_trips(node, version, compression):
    cluster, session = connect(node, protocol_version=version, compression=compression)
    try:
        assert cluster.protocol_version == version
        # The driver drops a compression whose codec module it lacks without a word.
        assert cluster.control_connection._connection._compression_type == (compression or None)
        local = session.execute("SELECT cluster_name, data_center, release_version FROM system.local").one()
        assert local.cluster_name == "interop"
        assert local.data_center == "dc1"
        ks = "conn_v%d_%s" % (version, compression or "none")
        session.execute("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}" % ks)
        session.execute("CREATE TABLE IF NOT EXISTS %s.kv (k int PRIMARY KEY, v text)" % ks)
        big = "x" * 100000  # larger than one v5 segment: multi-segment frames and compression
        insert = session.prepare("INSERT INTO %s.kv (k, v) VALUES (?, ?)" % ks)
        for k in range(20):
            session.execute(insert, (k, "%d-%s" % (k, big if k == 7 else "small")))
        rows = {r.k: r.v for r in session.execute("SELECT k, v FROM %s.kv" % ks)}
        assert len(rows) == 20
        assert rows[7] == "7-" + big
        assert rows[3] == "3-small"
    finally:
        cluster.shutdown()


def test_driver_builds_schema_metadata(node):
    cluster, session = connect(node)
    try:
        session.execute("CREATE KEYSPACE meta_ks WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}")
        session.execute("CREATE TYPE meta_ks.address (street text, zip int)")
        session.execute("CREATE TABLE meta_ks.events (tenant text, day date, at timeuuid, "
                        "body text, tags set<text>, addr frozen<address>, s int static, "
                        "PRIMARY KEY ((tenant, day), at)) WITH CLUSTERING ORDER BY (at DESC)")
        cluster.refresh_schema_metadata()
        ks = cluster.metadata.keyspaces["meta_ks"]
        table = ks.tables["events"]
        assert [c.name for c in table.partition_key] == ["tenant", "day"]
        assert [c.name for c in table.clustering_key] == ["at"]
        assert table.clustering_key[0].is_reversed
        assert table.columns["tags"].cql_type == "set<text>"
        assert table.columns["addr"].cql_type == "frozen<address>"
        assert table.columns["s"].is_static
        assert "address" in ks.user_types
        assert ks.user_types["address"].field_names == ["street", "zip"]
        # The token map is built: the driver can route by partition key.
        token_map = cluster.metadata.token_map
        assert token_map is not None
        assert len(cluster.metadata.all_hosts()) == 1
    finally:
        cluster.shutdown()


def test_schema_change_events_refresh_another_client(node):
    c1, s1 = connect(node)
    c2, s2 = connect(node)
    try:
        s1.execute("CREATE KEYSPACE evt_ks WITH replication = "
                   "{'class': 'SimpleStrategy', 'replication_factor': 1}")
        s1.execute("CREATE TABLE evt_ks.t (k int PRIMARY KEY)")
        # c2 never refreshes by hand: only the SCHEMA_CHANGE event pushed by the node can tell it.
        wait_until(lambda: "evt_ks" in c2.metadata.keyspaces
                   and "t" in c2.metadata.keyspaces["evt_ks"].tables,
                   what="client 2 to learn of evt_ks.t from a SCHEMA_CHANGE event")
    finally:
        c1.shutdown()
        c2.shutdown()


@pytest.fixture(scope="module")
def auth_node():
    n = Node("--user", "app:s3cret", "--user", "admin:adm1n", cluster_name="auth")
    yield n
    n.stop()


@pytest.mark.parametrize("version", [3, 4, 5])
def test_password_authentication(auth_node, version):
    cluster, session = connect(auth_node, protocol_version=version,
                               auth_provider=PlainTextAuthProvider("app", "s3cret"))
    try:
        assert session.execute("SELECT key FROM system.local").one().key == "local"
    finally:
        cluster.shutdown()


def test_wrong_password_is_an_authentication_error(auth_node):
    from cassandra import AuthenticationFailed
    with pytest.raises(NoHostAvailable) as info:
        connect(auth_node, auth_provider=PlainTextAuthProvider("app", "wrong"))
    errors = list(info.value.errors.values())
    assert errors and isinstance(errors[0], AuthenticationFailed), errors


def test_missing_credentials_are_refused(auth_node):
    with pytest.raises(NoHostAvailable):
        connect(auth_node)


def test_version_negotiation_downgrades_to_what_the_node_accepts():
    n = Node("--protocol-versions", "3,4", cluster_name="v34")
    try:
        # No protocol_version given: the driver starts high and downgrades on PROTOCOL_ERROR.
        from cassandra.cluster import Cluster
        cluster = Cluster(contact_points=[n.host], port=n.port)
        try:
            session = cluster.connect()
            assert cluster.protocol_version == 4
            assert session.execute("SELECT key FROM system.local").one().key == "local"
        finally:
            cluster.shutdown()
    finally:
        n.stop()
