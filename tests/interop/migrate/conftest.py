"""Fixtures for the `zdm migrate` / `zdm validate` interop tests: a fresh origin and target
`zdm node` per test (so tests never see each other's data or run state) and driver sessions on
them. Helpers live in zdm_migrate.py."""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from zdm_migrate import ZDM_BIN, Node, connect  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def zdm_binary():
    """The binary must have both subcommands; otherwise every test fails (never skips)."""
    if not os.path.exists(ZDM_BIN):
        pytest.fail("ZDM_BIN %s does not exist" % ZDM_BIN)
    for command in ("migrate", "validate"):
        p = subprocess.run([ZDM_BIN, command, "--help"], capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            pytest.fail("`%s %s --help` exits %d: the subcommand is missing\n%s%s"
                        % (ZDM_BIN, command, p.returncode, p.stdout, p.stderr))
    return ZDM_BIN


@pytest.fixture
def origin():
    n = Node(cluster_name="origin")
    yield n
    n.stop()


@pytest.fixture
def target():
    n = Node("--prepared-id-salt", "target-salt", cluster_name="target")
    yield n
    n.stop()


@pytest.fixture
def osess(origin):
    cluster, session = connect(origin)
    yield session
    cluster.shutdown()


@pytest.fixture
def tsess(target):
    cluster, session = connect(target)
    yield session
    cluster.shutdown()
