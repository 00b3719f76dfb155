"""`zdm preflight` against real `zdm node` processes (docs/preflight.md).

- two matching nodes: every check passes, exit 0, and the same in --json;
- a table missing on target and a column of another type: FAIL per table, exit 1;
- an unreachable target (a free port; a listener that never answers the CQL handshake): FAIL
  naming host:port and the settings, within the connection timeout;
- one of two contact points down: WARN naming it, exit 3;
- a counter table, a non-frozen list and a default TTL: WARN each, exit 3;
- wrong credentials on a node with PasswordAuthenticator: FAIL naming ZDM_TARGET_USERNAME;
- origin answering like Cassandra 2.2 (schema in system.schema_*, protocol v3/v4): the schema
  comparison works, the protocol difference warns; a v5-only target shares no version: FAIL;
- bad usage and configuration: exit 2;
- --proxies: statements prepared through a real `zdm proxy` with replace_cql_functions off (now()
  warns) and on (passes), a conditional INSERT (LWT warns); an address without an API fails.
"""
import json
import os
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from cassandra.auth import PlainTextAuthProvider  # noqa: E402
from cassandra.cluster import Cluster  # noqa: E402

import zdm_procs  # noqa: E402
from zdm_procs import Node, Proxy, free_port_on  # noqa: E402

ZDM_BIN = os.environ.get("ZDM_BIN") or zdm_procs.ZDM_BIN

EVERY_CHECK = ["origin reachable", "origin credentials", "target reachable", "target credentials",
               "protocol versions", "partitioners", "schema", "table features", "origin clock",
               "target clock"]


# ---------------------------------------------------------------------------------------------
# Helpers


class Run:
    def __init__(self, args, proc, elapsed):
        self.args = args
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.elapsed = elapsed

    def describe(self):
        return "zdm %s\nexit %s after %.1fs\n--- stdout ---\n%s--- stderr ---\n%s" % (
            " ".join(self.args), self.code, self.elapsed, self.stdout, self.stderr[-4000:])

    def checks(self):
        """{check name: (RESULT, detail, advice)} from the text output."""
        out = {}
        last = None
        for line in self.stdout.splitlines():
            if line[:6] in ("PASS  ", "WARN  ", "FAIL  "):
                name, _, detail = line[6:].partition(": ")
                out[name] = [line[:4], detail, ""]
                last = name
            elif line.startswith("      what to do: ") and last:
                out[last][2] = line[len("      what to do: "):]
        return {k: tuple(v) for k, v in out.items()}


def preflight(*args, env=None, timeout=120):
    """Runs `zdm preflight args...` without the test's ZDM_* variables (plus `env`)."""
    full = [str(a) for a in args]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ZDM_")}
    environment.update(env or {})
    start = time.monotonic()
    proc = subprocess.run([ZDM_BIN, "preflight"] + full, capture_output=True, text=True,
                          timeout=timeout, env=environment, stdin=subprocess.DEVNULL)
    return Run(full, proc, time.monotonic() - start)


def endpoints(origin, target):
    return ["--origin", "%s:%d" % (origin.host, origin.port),
            "--target", "%s:%d" % (target.host, target.port)]


def cql(node, *statements, protocol_version=4, auth=None):
    kwargs = {}
    if auth:
        kwargs["auth_provider"] = PlainTextAuthProvider(username=auth[0], password=auth[1])
    cluster = Cluster(contact_points=[node.host], port=node.port, protocol_version=protocol_version,
                      schema_metadata_enabled=False, connect_timeout=10, **kwargs)
    try:
        session = cluster.connect()
        for s in statements:
            session.execute(s, timeout=30)
    finally:
        cluster.shutdown()


KEYSPACE = ("CREATE KEYSPACE shop WITH replication = "
            "{'class': 'SimpleStrategy', 'replication_factor': 1}")
ORDERS = "CREATE TABLE shop.orders (id int, at timestamp, item text, PRIMARY KEY (id, at))"


@pytest.fixture
def nodes():
    """nodes(*args, cluster_name=...) -> a `zdm node`, stopped after the test."""
    started = []

    def start(*args, cluster_name="test"):
        n = Node(*args, cluster_name=cluster_name)
        started.append(n)
        return n

    yield start
    for n in started:
        n.stop()


@pytest.fixture
def origin(nodes):
    return nodes(cluster_name="origin")


@pytest.fixture
def target(nodes):
    return nodes("--prepared-id-salt", "target-salt", cluster_name="target")


# ---------------------------------------------------------------------------------------------
# Tests


def test_every_check_passes_on_two_matching_nodes(origin, target):
    for n in (origin, target):
        cql(n, KEYSPACE, ORDERS, "CREATE TABLE shop.users (id uuid PRIMARY KEY, tags set<text>)")
    r = preflight(*endpoints(origin, target), "--keyspaces", "shop")
    assert r.code == 0, r.describe()
    checks = r.checks()
    assert sorted(checks) == sorted(EVERY_CHECK), r.describe()
    assert all(result == "PASS" for result, _, _ in checks.values()), r.describe()
    assert "%s:%d answered" % (origin.host, origin.port) in checks["origin reachable"][1]
    assert "2 table(s) of shop" in checks["schema"][1], r.describe()
    assert "up to v5" in checks["protocol versions"][1], r.describe()

    j = preflight(*endpoints(origin, target), "--keyspaces", "shop", "--json")
    assert j.code == 0, j.describe()
    report = json.loads(j.stdout)
    assert report["worst"] == "pass"
    assert sorted(c["name"] for c in report["checks"]) == sorted(EVERY_CHECK)
    for c in report["checks"]:
        assert set(c) == {"name", "result", "detail", "advice"}
        assert c["result"] == "pass", c


def test_a_table_missing_on_target_fails(origin, target):
    cql(origin, KEYSPACE, ORDERS, "CREATE TABLE shop.payments (id int PRIMARY KEY, amount decimal)")
    cql(target, KEYSPACE, ORDERS)
    r = preflight(*endpoints(origin, target), "--keyspaces", "shop")
    assert r.code == 1, r.describe()
    checks = r.checks()
    result, detail, advice = checks["schema shop.payments"]
    assert result == "FAIL", r.describe()
    assert "table shop.payments does not exist on target" in detail
    assert "--schema-only" in advice
    assert "schema shop.orders" not in checks, r.describe()


def test_a_column_of_another_type_fails(origin, target):
    cql(origin, KEYSPACE, ORDERS)
    cql(target, KEYSPACE,
        "CREATE TABLE shop.orders (id int, at timestamp, item int, PRIMARY KEY (id, at))")
    r = preflight(*endpoints(origin, target), "--keyspaces", "shop", "--json")
    assert r.code == 1, r.describe()
    report = json.loads(r.stdout)
    assert report["worst"] == "fail"
    failed = [c for c in report["checks"] if c["result"] == "fail"]
    assert [c["name"] for c in failed] == ["schema shop.orders"], r.describe()
    assert failed[0]["detail"] == "column 'item' is text on origin but int on target"
    assert failed[0]["advice"]


def test_an_unreachable_cluster_fails_naming_the_address_and_settings(origin):
    cql(origin, KEYSPACE, ORDERS)
    port = free_port_on("127.0.0.1")
    r = preflight("--origin", "%s:%d" % (origin.host, origin.port),
                  "--target", "127.0.0.1:%d" % port, "--keyspaces", "shop")
    assert r.code == 1, r.describe()
    checks = r.checks()
    result, detail, advice = checks["target reachable"]
    assert result == "FAIL"
    assert "127.0.0.1:%d" % port in detail
    assert "ZDM_TARGET_CONTACT_POINTS" in advice and "ZDM_TARGET_PORT" in advice
    assert checks["origin reachable"][0] == "PASS"
    # What needs both clusters is said to be skipped, not passed.
    assert "protocol versions" not in checks and "schema" not in checks, r.describe()
    assert "not checked" in r.stdout


def test_a_cluster_that_never_answers_fails_within_the_connection_timeout(origin):
    # Accepts TCP connections (the kernel's backlog) but never answers STARTUP.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        port = silent.getsockname()[1]
        r = preflight("--origin", "%s:%d" % (origin.host, origin.port),
                      "--target", "127.0.0.1:%d" % port,
                      env={"ZDM_TARGET_CONNECTION_TIMEOUT_MS": "3000"})
    finally:
        silent.close()
    assert r.code == 1, r.describe()
    result, detail, advice = r.checks()["target reachable"]
    assert result == "FAIL"
    assert "127.0.0.1:%d" % port in detail
    assert "ZDM_TARGET_CONNECTION_TIMEOUT_MS (3000 ms)" in advice
    # One connection timeout, not the 30 s default nor one per protocol version tried (v5, v4,
    # v3: 9 s); the bound leaves room for a loaded machine.
    assert r.elapsed < 6 * zdm_procs.SLOWDOWN, r.describe()


def test_a_contact_point_that_does_not_answer_warns(nodes):
    o = nodes(cluster_name="origin")
    t = nodes(cluster_name="target")
    # 127.0.0.2 is loopback too, but nothing listens there on the target's port.
    r = preflight("--origin", "%s:%d" % (o.host, o.port),
                  "--target", "127.0.0.1:%d,127.0.0.2:%d" % (t.port, t.port))
    assert r.code == 3, r.describe()
    result, detail, advice = r.checks()["target reachable"]
    assert result == "WARN", r.describe()
    assert "127.0.0.1:%d answered" % t.port in detail
    assert "did not answer: 127.0.0.2:%d" % t.port in detail
    assert "ZDM_TARGET_CONTACT_POINTS" in advice


def test_counters_non_frozen_lists_and_default_ttls_warn(origin, target):
    tables = [KEYSPACE, ORDERS,
              "CREATE TABLE shop.likes (id int PRIMARY KEY, n counter)",
              "CREATE TABLE shop.carts (id int PRIMARY KEY, items list<text>, "
              "saved frozen<list<text>>)",
              "CREATE TABLE shop.sessions (id uuid PRIMARY KEY, data blob) "
              "WITH default_time_to_live = 3600"]
    cql(origin, *tables)
    cql(target, *tables)
    r = preflight(*endpoints(origin, target), "--keyspaces", "shop")
    assert r.code == 3, r.describe()
    checks = r.checks()
    assert checks["counter table shop.likes"][0] == "WARN", r.describe()
    assert checks["non-frozen list shop.carts.items"][0] == "WARN", r.describe()
    assert "non-frozen list shop.carts.saved" not in checks, r.describe()
    assert checks["default TTL shop.sessions"][0] == "WARN", r.describe()
    assert "3600 s" in checks["default TTL shop.sessions"][1]
    for name in ("counter table shop.likes", "non-frozen list shop.carts.items",
                 "default TTL shop.sessions"):
        assert checks[name][2], "no advice for %s" % name
    assert not [n for n, c in checks.items() if c[0] == "FAIL"], r.describe()
    assert checks["schema"][0] == "PASS"


def test_wrong_credentials_fail_naming_the_settings(origin, nodes):
    secured = nodes("--user", "alice:secret", cluster_name="target")
    cql(origin, KEYSPACE, ORDERS)
    cql(secured, KEYSPACE, ORDERS, auth=("alice", "secret"))
    args = endpoints(origin, secured) + ["--keyspaces", "shop"]

    wrong = preflight(*args, env={"ZDM_TARGET_USERNAME": "alice",
                                  "ZDM_TARGET_PASSWORD": "not-the-password"})
    assert wrong.code == 1, wrong.describe()
    checks = wrong.checks()
    assert checks["target reachable"][0] == "PASS", wrong.describe()
    result, detail, advice = checks["target credentials"]
    assert result == "FAIL"
    assert "alice" in detail
    assert "ZDM_TARGET_USERNAME" in advice and "ZDM_TARGET_PASSWORD" in advice

    missing = preflight(*args)
    assert missing.code == 1, missing.describe()
    assert missing.checks()["target credentials"][0] == "FAIL", missing.describe()

    right = preflight(*args, env={"ZDM_TARGET_USERNAME": "alice", "ZDM_TARGET_PASSWORD": "secret"})
    assert right.code == 0, right.describe()
    assert right.checks()["target credentials"] == ("PASS", "accepted", "")


def test_origin_answering_like_cassandra_22(nodes):
    origin22 = nodes("--cassandra-version", "2.2", cluster_name="origin22")
    target = nodes(cluster_name="target")
    tables = [KEYSPACE, ORDERS, "CREATE TABLE shop.carts (id int PRIMARY KEY, items list<text>)"]
    cql(origin22, *tables)
    cql(target, *tables)
    r = preflight(*endpoints(origin22, target), "--keyspaces", "shop")
    assert r.code == 3, r.describe()
    checks = r.checks()
    assert "Cassandra 2.2.18, protocol v4" in checks["origin reachable"][1], r.describe()
    assert checks["schema"][0] == "PASS", r.describe()
    assert "2 table(s)" in checks["schema"][1]
    result, detail, _ = checks["protocol versions"]
    assert result == "WARN"
    assert "origin speaks up to v4, target up to v5" in detail
    assert "offer clients up to v4" in detail
    assert checks["non-frozen list shop.carts.items"][0] == "WARN"

    cql(origin22, "CREATE TABLE shop.extra (id int PRIMARY KEY, v text)")
    cql(target, "CREATE TABLE shop.extra (id int PRIMARY KEY, v bigint)")
    r = preflight(*endpoints(origin22, target), "--keyspaces", "shop")
    assert r.code == 1, r.describe()
    assert r.checks()["schema shop.extra"] == (
        "FAIL", "column 'v' is text on origin but bigint on target",
        r.checks()["schema shop.extra"][2]), r.describe()


def test_clusters_without_a_common_protocol_version_fail(nodes):
    origin22 = nodes("--cassandra-version", "2.2", cluster_name="origin22")
    v5_only = nodes("--protocol-versions", "5", cluster_name="target")
    r = preflight(*endpoints(origin22, v5_only))
    assert r.code == 1, r.describe()
    result, detail, advice = r.checks()["protocol versions"]
    assert result == "FAIL", r.describe()
    assert "origin speaks v3, v4; target speaks v5: no version in common" in detail
    assert advice


def test_bad_usage_and_configuration_exit_2(origin, target, tmp_path):
    ends = endpoints(origin, target)
    assert preflight(*ends, "--no-such-flag").code == 2
    r = preflight(*ends, "--keyspaces", "system_auth")
    assert r.code == 2 and "system keyspace" in r.stderr, r.describe()
    r = preflight(*ends, "--proxies", "127.0.0.1")
    assert r.code == 2 and "--proxies" in r.stderr, r.describe()
    r = preflight("--target", "%s:%d" % (target.host, target.port))
    assert r.code == 2 and "ZDM_ORIGIN_CONTACT_POINTS" in r.stderr, r.describe()
    bad = tmp_path / "proxy.yaml"
    bad.write_text("origin_contact_points: 127.0.0.1\nno_such_setting: 1\n")
    r = preflight("--config", str(bad))
    assert r.code == 2 and "no_such_setting" in r.stderr, r.describe()
    r = preflight("--config", str(tmp_path / "missing.yaml"))
    assert r.code == 2, r.describe()



# ---------------------------------------------------------------------------------------------
# --proxies: what running proxies saw (GET /api/v1/statements and /api/v1/config)


def prepare_through(proxy, *statements):
    """Prepares `statements` through the proxy (they land in its prepared cache)."""
    cluster = Cluster(contact_points=[proxy.host], port=proxy.port, protocol_version=4,
                      schema_metadata_enabled=False, connect_timeout=10)
    try:
        session = cluster.connect()
        for s in statements:
            session.prepare(s)
    finally:
        cluster.shutdown()


NOW_INSERT = "INSERT INTO shop.orders (id, at, item) VALUES (?, toTimestamp(now()), ?)"
LWT_INSERT = "INSERT INTO shop.users (id, name) VALUES (?, ?) IF NOT EXISTS"
PLAIN_SELECT = "SELECT * FROM shop.users WHERE id = ?"


def test_proxies_report_functions_without_replacement_and_lwts(origin, target):
    tables = [KEYSPACE, ORDERS, "CREATE TABLE shop.users (id int PRIMARY KEY, name text)"]
    cql(origin, *tables)
    cql(target, *tables)
    plain = Proxy(origin, target, settings={"REPLACE_CQL_FUNCTIONS": "false"})
    replacing = Proxy(origin, target, settings={"REPLACE_CQL_FUNCTIONS": "true"})
    try:
        prepare_through(plain, NOW_INSERT, LWT_INSERT, PLAIN_SELECT)
        prepare_through(replacing, NOW_INSERT, PLAIN_SELECT)
        a = "127.0.0.1:%d" % plain.metrics_port
        b = "127.0.0.1:%d" % replacing.metrics_port
        r = preflight(*endpoints(origin, target), "--keyspaces", "shop", "--proxies",
                      "%s,%s" % (a, b))
    finally:
        plain.stop()
        replacing.stop()
    assert r.code == 3, r.describe()
    checks = r.checks()
    result, detail, advice = checks["proxy %s functions" % a]
    assert result == "WARN", r.describe()
    assert NOW_INSERT in detail and "replace_cql_functions is off" in detail
    assert "ZDM_REPLACE_CQL_FUNCTIONS=true" in advice
    result, detail, advice = checks["proxy %s LWT" % a]
    assert result == "WARN", r.describe()
    assert LWT_INSERT in detail and PLAIN_SELECT not in detail
    assert "both clusters" in advice
    assert checks["proxy %s functions" % b][0] == "PASS", r.describe()
    assert "replace_cql_functions is on" in checks["proxy %s functions" % b][1]
    assert "proxy %s LWT" % b not in checks, r.describe()

def test_a_proxy_whose_api_cannot_be_read_fails(origin, target):
    port = free_port_on("127.0.0.1")
    r = preflight(*endpoints(origin, target), "--proxies", "127.0.0.1:%d" % port)
    assert r.code == 1, r.describe()
    result, detail, advice = r.checks()["proxy 127.0.0.1:%d API" % port]
    assert result == "FAIL"
    assert "127.0.0.1:%d" % port in detail
    assert "--proxies" in advice
