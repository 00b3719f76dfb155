"""Fixtures for operating a migration: two `zdm node`s (origin, target), a fleet of two real
`zdm proxy` processes with an admin token, and a way to run `zdm ctl` / `zdm status` /
`zdm cutover` against them."""
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from zdm_procs import ZDM_BIN, SLOWDOWN, Node, Proxy, free_port_on  # noqa: E402

TOKEN = "fleet-token-%s" % uuid.uuid4().hex[:8]
FLEET_HOSTS = ("127.0.0.1", "127.0.0.2")


@pytest.fixture(scope="session")
def origin():
    n = Node(cluster_name="origin")
    yield n
    n.stop()


@pytest.fixture(scope="session")
def target():
    n = Node("--prepared-id-salt", "target-salt", cluster_name="target")
    yield n
    n.stop()


class Fleet:
    """Proxies that share one CQL port and one admin port on loopback aliases, and advertise each
    other (proxy_topology_addresses), as a fleet on several machines would."""

    def __init__(self, proxies, cql_port, metrics_port):
        self.proxies = proxies
        self.cql_port = cql_port
        self.metrics_port = metrics_port

    def admin(self, i):
        return "%s:%d" % (self.proxies[i].host, self.metrics_port)

    def addresses(self):
        return ",".join(self.admin(i) for i in range(len(self.proxies)))

    def get(self, i, path):
        """The JSON of GET `path` on proxy i's operations API."""
        url = "http://%s%s" % (self.admin(i), path)
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.loads(resp.read().decode())

    def config(self, i):
        return self.get(i, "/api/v1/config")

    def status(self, i):
        return self.get(i, "/api/v1/status")


def two_free_ports(*hosts):
    first = free_port_on(*hosts)
    for _ in range(20):
        second = free_port_on(*hosts)
        if second != first:
            return first, second
    raise RuntimeError("no second free port")


@pytest.fixture
def fleet(origin, target):
    cql_port, metrics_port = two_free_ports(*FLEET_HOSTS)
    proxies = []
    try:
        for i, host in enumerate(FLEET_HOSTS):
            proxies.append(Proxy(origin, target, listen=host, settings={
                "PROXY_LISTEN_PORT": cql_port,
                "PROXY_TOPOLOGY_ADDRESSES": ",".join(FLEET_HOSTS),
                "PROXY_TOPOLOGY_INDEX": i,
                "METRICS_ADDRESS": host,
                "METRICS_PORT": metrics_port,
                "ADMIN_TOKEN": TOKEN,
            }))
        yield Fleet(proxies, cql_port, metrics_port)
    finally:
        for p in proxies:
            p.stop()


def zdm(*args, token=TOKEN, timeout=120):
    """Runs `zdm args...` with ZDM_ADMIN_TOKEN=token (None: unset); the CompletedProcess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZDM_")}
    if token is not None:
        env["ZDM_ADMIN_TOKEN"] = token
    return subprocess.run([ZDM_BIN] + [str(a) for a in args], env=env, capture_output=True,
                          text=True, timeout=timeout * SLOWDOWN)


def zdm_popen(*args, token=TOKEN):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZDM_")}
    env["ZDM_ADMIN_TOKEN"] = token
    return subprocess.Popen([ZDM_BIN] + [str(a) for a in args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def describe(result):
    return "exit %d\nstdout:\n%s\nstderr:\n%s" % (result.returncode, result.stdout, result.stderr)


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
