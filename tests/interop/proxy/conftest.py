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


def connect(host, port, keyspace=None, protocol_version=4, **kwargs):
    cluster = Cluster(contact_points=[host], port=port, protocol_version=protocol_version,
                      connect_timeout=10, **kwargs)
    return cluster, cluster.connect(keyspace)


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


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
