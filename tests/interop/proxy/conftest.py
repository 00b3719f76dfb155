import importlib
import os
import socket
import sys
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from cassandra.cluster import Cluster  # noqa: E402

from zdm_procs import Node, Proxy  # noqa: E402


@pytest.fixture(scope="session")
def origin():
    n = Node(cluster_name="origin")
    yield n
    n.stop()


@pytest.fixture(scope="session")
def target():
    # A salt makes target's prepared ids differ from origin's, as two real clusters' may.
    n = Node("--prepared-id-salt", "target-salt", cluster_name="target")
    yield n
    n.stop()


@pytest.fixture(scope="session")
def proxy(origin, target):
    p = Proxy(origin, target)
    yield p
    p.stop()


# Driver modules of each compression (python3-lz4, python3-snappy).
_CODEC_MODULES = {"lz4": "lz4.block", "snappy": "snappy"}


def require_codec(compression):
    """Fails (never skips) when the driver lacks the codec for `compression` ("lz4", "snappy";
    True means lz4, which the driver prefers): without it the driver silently sends uncompressed
    frames, and a compression test would pass without compressing anything."""
    if not compression:
        return
    name = compression if isinstance(compression, str) else "lz4"
    try:
        importlib.import_module(_CODEC_MODULES[name])
        return
    except ImportError as e:
        missing = e
    pytest.fail("compression %s needs the Python module %s (%s): run scripts/install-deps.sh"
                % (name, _CODEC_MODULES[name], missing), pytrace=False)


def assert_negotiated(cluster, compression):
    """The driver's control connection uses `compression` (True: lz4; False: none)."""
    want = (compression if isinstance(compression, str) else "lz4") if compression else None
    got = cluster.control_connection._connection._compression_type
    assert got == want, "negotiated compression %r, asked for %r" % (got, compression)


def connect(host, port, keyspace=None, protocol_version=4, **kwargs):
    compression = kwargs.get("compression")
    require_codec(compression)
    cluster = Cluster(contact_points=[host], port=port, protocol_version=protocol_version,
                      connect_timeout=10, **kwargs)
    try:
        session = cluster.connect(keyspace)
        if compression is not None:
            assert_negotiated(cluster, compression)
    except BaseException:
        cluster.shutdown()
        raise
    return cluster, session


@pytest.fixture(scope="session")
def proxy_session(proxy):
    cluster, session = connect(proxy.host, proxy.port)
    yield session
    cluster.shutdown()


@pytest.fixture(scope="session")
def origin_session(origin):
    cluster, session = connect(origin.host, origin.port)
    yield session
    cluster.shutdown()


@pytest.fixture(scope="session")
def target_session(target):
    cluster, session = connect(target.host, target.port)
    yield session
    cluster.shutdown()


@pytest.fixture
def table(proxy_session):
    """A fresh keyspace and table created through the proxy (so on both clusters)."""
    ks = "ks_%s" % uuid.uuid4().hex[:12]
    proxy_session.execute("CREATE KEYSPACE %s WITH replication = "
                          "{'class': 'SimpleStrategy', 'replication_factor': 1}" % ks)
    proxy_session.execute("CREATE TABLE %s.kv (k int PRIMARY KEY, v text)" % ks)
    yield "%s.kv" % ks
    proxy_session.execute("DROP KEYSPACE IF EXISTS %s" % ks)


class StatementSpy:
    """Counts the statements matching `pattern` that reach `node`: one harmless fault rule (0 ms
    delay) per opcode, whose "fired" count the node's admin API reports. `pattern` is a regex
    searched in the statement text; an EXECUTE is matched by the text of its PREPARE. Rules are
    removed on exit. Only the first matching rule of a node fires, so patterns of spies used
    together on one node must not overlap."""

    def __init__(self, node, pattern, opcodes=("QUERY", "EXECUTE")):
        self.node = node
        self.pattern = pattern
        self.opcodes = opcodes
        self.ids = []

    def __enter__(self):
        for opcode in self.opcodes:
            rule = self.node.admin("POST", "/faults", {"opcode": opcode, "query": self.pattern,
                                                       "action": "delay", "delay_ms": 0})
            self.ids.append(rule["id"])
        return self

    def __exit__(self, *exc):
        for rule_id in self.ids:
            self.node.admin("DELETE", "/faults/%d" % rule_id)

    def count(self):
        return sum(r["fired"] for r in self.node.admin("GET", "/faults") if r["id"] in self.ids)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
