"""Fixtures for the `zdm journal` interop tests: a fresh `zdm node` per test, a Python driver
session on it, and journal directories written by tests/tools/journal_fill."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from zdm_procs import ZDM_BIN, Node  # noqa: E402

FILL_BIN = os.environ.get("JOURNAL_FILL_BIN",
                          os.path.join(HERE, "../../../build/tests/journal_fill"))


@pytest.fixture(scope="session", autouse=True)
def binaries():
    """Both binaries must exist and zdm must have `journal`; otherwise every test fails."""
    for path in (ZDM_BIN, FILL_BIN):
        if not os.path.exists(path):
            pytest.fail("%s does not exist" % path)
    p = subprocess.run([ZDM_BIN, "journal", "replay", "--help"], capture_output=True, text=True,
                       timeout=30)
    if p.returncode != 0:
        pytest.fail("`zdm journal replay --help` exits %d:\n%s%s" % (p.returncode, p.stdout, p.stderr))


@pytest.fixture
def node():
    n = Node(cluster_name="target")
    yield n
    n.stop()


@pytest.fixture
def session(node):
    from cassandra.cluster import Cluster
    cluster = Cluster([node.host], port=node.port, protocol_version=4)
    s = cluster.connect()
    s.execute("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', "
              "'replication_factor': 1}")
    s.execute("CREATE TABLE ks.t (id int PRIMARY KEY, v text)")
    yield s
    cluster.shutdown()
