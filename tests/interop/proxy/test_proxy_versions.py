"""Protocol versions through the proxy: v3, v4, v5 (segments, LZ4 segments), DSE_V1/DSE_V2
pass-through, the driver's downgrade when the clusters speak different versions,
ZDM_BLOCKED_PROTOCOL_VERSIONS and ZDM_CONTROL_CONN_MAX_PROTOCOL_VERSION."""
import os
import re
import socket
import struct
import subprocess
import uuid

import pytest
from cassandra.cluster import Cluster, NoHostAvailable

from conftest import assert_negotiated, require_codec
from cql_wire import OPTIONS, frame, read_frame
from zdm_procs import ZDM_BIN, Node, Proxy, check_no_sanitizer_report, wait_until

ALL = "3,4,5,dse_v1,dse_v2"


@pytest.fixture(scope="module")
def nodes():
    started = {}
    try:
        started["v345_a"] = Node(cluster_name="v345-a")
        started["v345_b"] = Node("--prepared-id-salt", "b", cluster_name="v345-b")
        started["v34"] = Node("--protocol-versions", "3,4", cluster_name="v34")
        started["dse_a"] = Node("--protocol-versions", ALL, cluster_name="dse-a")
        started["dse_v1_only"] = Node("--protocol-versions", "3,4,dse_v1",
                                      cluster_name="dse-v1-only")
        started["dse_b"] = Node("--protocol-versions", ALL, "--prepared-id-salt", "b",
                                cluster_name="dse-b")
        yield started
    finally:
        for n in started.values():
            n.stop()


@pytest.fixture(scope="module")
def proxies(nodes):
    made = {}

    def get(origin, target, **settings):
        key = (origin, target, tuple(sorted(settings.items())))
        if key not in made:
            made[key] = Proxy(nodes[origin], nodes[target], settings=settings)
        return made[key]

    yield get
    for p in made.values():
        p.stop()


def _cluster(proxy, **kwargs):
    return Cluster(contact_points=[proxy.host], port=proxy.port, connect_timeout=10, **kwargs)


def _roundtrip(proxy, origin, target, expect_version, **kwargs):
    """Connects through the proxy, checks the negotiated version, writes (simple, prepared, a
    large value spanning v5 segments) and reads back, then checks both nodes directly."""
    ks = "ver_%s" % uuid.uuid4().hex[:10]
    require_codec(kwargs.get("compression"))
    cluster = _cluster(proxy, **kwargs)
    try:
        session = cluster.connect()
        assert cluster.protocol_version == expect_version
        if "compression" in kwargs:
            assert_negotiated(cluster, kwargs["compression"])
        session.execute("CREATE KEYSPACE %s WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}" % ks)
        session.execute("CREATE TABLE %s.t (k int PRIMARY KEY, v text)" % ks)
        insert = session.prepare("INSERT INTO %s.t (k, v) VALUES (?, ?)" % ks)
        big = "y" * 150000
        for k in range(5):
            session.execute(insert, (k, big if k == 0 else "v%d" % k))
        session.execute("INSERT INTO %s.t (k, v) VALUES (9, 'simple')" % ks)
        want = sorted([(0, big)] + [(k, "v%d" % k) for k in range(1, 5)] + [(9, "simple")])
        assert sorted(tuple(r) for r in session.execute("SELECT k, v FROM %s.t" % ks)) == want
    finally:
        cluster.shutdown()
    for node in (origin, target):
        direct = Cluster(contact_points=[node.host], port=node.port, protocol_version=4,
                         connect_timeout=10)
        try:
            s = direct.connect()
            assert sorted(tuple(r) for r in s.execute("SELECT k, v FROM %s.t" % ks)) == want
        finally:
            direct.shutdown()


VERSIONS = [(3, False), (4, False), (5, False), (4, "lz4"), (5, "lz4")]


@pytest.mark.parametrize("version,compression", VERSIONS,
                         ids=["v%d%s" % (v, "-" + c if c else "") for v, c in VERSIONS])
def test_driver_versions_pass_through(nodes, proxies, version, compression):
    _roundtrip(proxies("v345_a", "v345_b"), nodes["v345_a"], nodes["v345_b"], version,
               protocol_version=version, compression=compression)


@pytest.mark.parametrize("origin,target", [("v34", "v345_b"), ("v345_a", "v34")],
                         ids=["origin-v4-target-v5", "origin-v5-target-v4"])
def test_driver_is_downgraded_to_the_version_both_clusters_speak(nodes, proxies, origin, target):
    proxy = proxies(origin, target)
    # No protocol_version: the driver starts at its highest (DSE_V2) and steps down to v4.
    _roundtrip(proxy, nodes[origin], nodes[target], 4)
    # A driver pinned to v5 cannot step down: a clear refusal, not a hang.
    cluster = _cluster(proxy, protocol_version=5)
    try:
        with pytest.raises(NoHostAvailable) as err:
            cluster.connect()
        assert "ProtocolError" in str(err.value)
    finally:
        cluster.shutdown()


def test_blocked_protocol_versions(nodes, proxies):
    _roundtrip(proxies("v345_a", "v345_b", BLOCKED_PROTOCOL_VERSIONS="v5"), nodes["v345_a"],
               nodes["v345_b"], 4)
    _roundtrip(proxies("v345_a", "v345_b", BLOCKED_PROTOCOL_VERSIONS="v4,v5"), nodes["v345_a"],
               nodes["v345_b"], 3)
    # DSE versions blocked while both clusters speak them: plain v5.
    _roundtrip(proxies("dse_a", "dse_b", BLOCKED_PROTOCOL_VERSIONS="DseV1,DseV2"),
               nodes["dse_a"], nodes["dse_b"], 5)


@pytest.mark.parametrize("version", [0x41, 0x42], ids=["DSE_V1", "DSE_V2"])
def test_dse_versions_pass_through(nodes, proxies, version):
    proxy = proxies("dse_a", "dse_b")
    _roundtrip(proxy, nodes["dse_a"], nodes["dse_b"], version, protocol_version=version)


def test_dse_versions_negotiated_only_when_both_clusters_speak_them(nodes, proxies):
    # Both DSE-capable: an unpinned driver keeps DSE_V2.
    _roundtrip(proxies("dse_a", "dse_b"), nodes["dse_a"], nodes["dse_b"], 0x42)
    # Target without DSE versions: the driver ends at v5 (origin lists 5/v5 in SUPPORTED).
    _roundtrip(proxies("dse_a", "v345_b"), nodes["dse_a"], nodes["v345_b"], 5)
    # A DSE 5.1-like origin (v3, v4, DSE_V1) and a v5 target: v4, not a STARTUP refusal.
    _roundtrip(proxies("dse_v1_only", "v345_b"), nodes["dse_v1_only"], nodes["v345_b"], 4)
    # Both speak DSE_V1 at most: DSE_V1.
    _roundtrip(proxies("dse_v1_only", "dse_b"), nodes["dse_v1_only"], nodes["dse_b"], 0x41)


@pytest.mark.parametrize("version", [4, 5, 0x41, 0x42], ids=["v4", "v5", "DSE_V1", "DSE_V2"])
def test_async_reads_follow_the_client_version(nodes, proxies, version):
    """DUAL_ASYNC_ON_SECONDARY: the async connection speaks the client's version (segments only
    for v5), so reads reach the secondary in every version."""
    proxy = proxies("dse_a", "dse_b", READ_MODE="DUAL_ASYNC_ON_SECONDARY")
    target = nodes["dse_b"]
    cluster = _cluster(proxy, protocol_version=version)
    try:
        session = cluster.connect()
        before = target.admin("GET", "/counters")["statements"]["SELECT"]
        # Non-system reads are the ones sent async.
        ks = "asy_%s" % uuid.uuid4().hex[:10]
        session.execute("CREATE KEYSPACE %s WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}" % ks)
        session.execute("CREATE TABLE %s.t (k int PRIMARY KEY)" % ks)
        # Copies made before the async connection finished its handshake are dropped (by
        # design), so keep reading until five have arrived.

        def read_and_count():
            session.execute("SELECT k FROM %s.t" % ks)
            return target.admin("GET", "/counters")["statements"]["SELECT"] >= before + 5

        wait_until(read_and_count,
                   timeout=10, what="async reads on the secondary")
    finally:
        cluster.shutdown()


def _control_versions(proxy):
    found = dict(re.findall(r"(ORIGIN|TARGET) control connection to \S+ \(protocol (\S+)\)",
                            proxy.output))
    return found.get("ORIGIN"), found.get("TARGET")


def test_control_connection_uses_min_of_setting_and_cluster(nodes, proxies):
    # Default (DseV2): each cluster's own maximum.
    p = proxies("dse_a", "v34")
    assert _control_versions(p) == ("DSE_V2", "v4")
    # Setting below what the clusters speak: the control connections use the setting...
    p = proxies("v345_a", "v345_b", CONTROL_CONN_MAX_PROTOCOL_VERSION="3")
    assert _control_versions(p) == ("v3", "v3")
    # ...but clients still get what both clusters list in SUPPORTED.
    _roundtrip(p, nodes["v345_a"], nodes["v345_b"], 5, protocol_version=5)
    # Setting above what a cluster speaks: that cluster's maximum.
    p = proxies("v34", "v345_b", CONTROL_CONN_MAX_PROTOCOL_VERSION="5")
    assert _control_versions(p) == ("v4", "v5")
    p = proxies("dse_a", "v345_b", CONTROL_CONN_MAX_PROTOCOL_VERSION="DseV1")
    assert _control_versions(p) == ("DSE_V1", "v5")


@pytest.mark.parametrize("value", ["2", "7", "v9", "DseV3"])
def test_bad_control_conn_max_protocol_version_is_a_config_error(nodes, value):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZDM_")}
    env.update({
        "ZDM_ORIGIN_CONTACT_POINTS": "127.0.0.1", "ZDM_ORIGIN_PORT": str(nodes["v345_a"].port),
        "ZDM_TARGET_CONTACT_POINTS": "127.0.0.1", "ZDM_TARGET_PORT": str(nodes["v345_b"].port),
        "ZDM_PROXY_LISTEN_PORT": "0", "ZDM_METRICS_PORT": "0",
        "ZDM_CONTROL_CONN_MAX_PROTOCOL_VERSION": value,
    })
    r = subprocess.run([ZDM_BIN, "proxy", "--startup-timeout", "5"], env=env,
                       capture_output=True, text=True, timeout=30)
    check_no_sanitizer_report("zdm proxy", r.stdout + r.stderr)
    assert r.returncode != 0
    assert "control_conn_max_protocol_version" in (r.stdout + r.stderr).lower()


# Raw frames: how the proxy refuses a version.

@pytest.mark.parametrize("requested", [5, 0x42, 6])
def test_refused_version_is_a_protocol_error_on_stream_0(nodes, proxies, requested):
    proxy = proxies("v34", "v345_b")
    with socket.create_connection((proxy.host, proxy.port), timeout=10) as sock:
        sock.sendall(frame(requested, 7, OPTIONS))
        version, _, stream, opcode, body = read_frame(sock)
    assert (version & 0x7F, stream, opcode) == (4, 0, 0x00)
    code, length = struct.unpack(">iH", body[:6])
    assert code == 0x000A  # PROTOCOL_ERROR
    message = body[6:6 + length].decode()
    assert "Invalid or unsupported protocol version (%d)" % requested in message
    assert "4/v4" in message and "5/v5" not in message


@pytest.mark.parametrize("requested,answered", [(4, 3), (0x42, 5), (5, 5)])
def test_blocked_version_refusal_suggests_the_next_served_version_below(nodes, proxies, requested,
                                                                         answered):
    """Drivers take the refusal's frame version as the version to retry with (the Node.js driver
    steps down one from a version it does not know, gocql uses it as is): with v4 blocked between
    served v3 and v5, a v4 request is answered in v3, not in v5 (a retry loop on v4 for the
    Node.js driver 4.8, which knows no v5)."""
    proxy = proxies("v345_a", "v345_b", BLOCKED_PROTOCOL_VERSIONS="v4")
    with socket.create_connection((proxy.host, proxy.port), timeout=10) as sock:
        sock.sendall(frame(requested, 7, OPTIONS))
        version, _, stream, opcode, body = read_frame(sock)
    if requested == 5:  # served: SUPPORTED on the request's stream
        assert (version & 0x7F, stream, opcode) == (5, 7, 0x06)
        return
    assert (version & 0x7F, stream, opcode) == (answered, 0, 0x00)
    message = body[6:6 + struct.unpack(">iH", body[:6])[1]].decode()
    assert "3/v3, 5/v5" in message and "4/v4" not in message
