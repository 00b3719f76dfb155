import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from cassandra.cluster import Cluster  # noqa: E402

from zdm_procs import Node  # noqa: E402


@pytest.fixture(scope="session")
def node():
    n = Node(cluster_name="interop")
    yield n
    n.stop()


def connect(node, protocol_version=4, keyspace=None, **kwargs):
    """A Cluster with the driver's default settings (schema metadata on, token-aware policy)."""
    cluster = Cluster(contact_points=[node.host], port=node.port,
                      protocol_version=protocol_version, **kwargs)
    session = cluster.connect(keyspace)
    return cluster, session


@pytest.fixture(scope="session")
def session(node):
    cluster, s = connect(node)
    yield s
    cluster.shutdown()


_counter = [0]


@pytest.fixture
def keyspace(session):
    """A fresh keyspace per test, so tests do not see each other's tables."""
    _counter[0] += 1
    name = "ks_%d_%d" % (os.getpid(), _counter[0])
    session.execute("CREATE KEYSPACE %s WITH replication = "
                    "{'class': 'SimpleStrategy', 'replication_factor': 1}" % name)
    session.set_keyspace(name)
    yield name
    session.execute("DROP KEYSPACE IF EXISTS %s" % name)
