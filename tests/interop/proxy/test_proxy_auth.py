"""The authentication matrix through the proxy, as the reference ZDM proxy behaves.

| origin auth | target auth | client's credentials go to | the other cluster gets            |
|-------------|-------------|----------------------------|-----------------------------------|
| no          | no          | nobody                     | -                                 |
| yes         | no          | origin                     | - (no auth)                       |
| no          | yes         | target                     | - (no auth)                       |
| yes         | yes         | target                     | ORIGIN_USERNAME/PASSWORD          |
| yes         | yes + FORWARD_CLIENT_CREDENTIALS_TO_ORIGIN | origin | TARGET_USERNAME/PASSWORD |

Each row: correct credentials work and writes land on both clusters (checked on each node
directly); wrong credentials give the driver AuthenticationFailed (inside NoHostAvailable) and no
statement reaches either node; a client without credentials is refused. DSE's authenticator
(SASL mechanism name "PLAIN" first, then the credentials) works with DSEPlainTextAuthProvider
on the client side and for the proxy's own login. Passwords never appear in the proxy's output
(DEBUG logging) or in /metrics.
"""
import socket
import struct
import uuid

import pytest
from cassandra import AuthenticationFailed
from cassandra.auth import DSEPlainTextAuthProvider, PlainTextAuthProvider
from cassandra.cluster import NoHostAvailable

from conftest import connect
from cql_wire import AUTH_RESPONSE, frame, query, read_frame, startup
from zdm_procs import Node, Proxy, wait_until

# Distinctive passwords, so a leak is found by a plain substring search.
ORIGIN_PROXY = ("proxy_o", "Pw-OrigProxy-7c1e")
ORIGIN_APP = ("app_o", "Pw-OrigApp-90ab")
TARGET_PROXY = ("proxy_t", "Pw-TgtProxy-55d2")
TARGET_APP = ("app_t", "Pw-TgtApp-3f4e")
PASSWORDS = [ORIGIN_PROXY[1], ORIGIN_APP[1], TARGET_PROXY[1], TARGET_APP[1]]

STATEMENT_OPCODES = ("QUERY", "PREPARE", "EXECUTE", "BATCH", "REGISTER")

_proxies = []  # every proxy this module started, checked for leaked passwords at the end


def _users(*pairs):
    args = []
    for name, password in pairs:
        args += ["--user", "%s:%s" % (name, password)]
    return args


@pytest.fixture(scope="module")
def nodes():
    started = {}
    try:
        started["plain_origin"] = Node(cluster_name="plain-origin")
        started["plain_target"] = Node("--prepared-id-salt", "t", cluster_name="plain-target")
        started["auth_origin"] = Node(*_users(ORIGIN_PROXY, ORIGIN_APP), cluster_name="auth-origin")
        started["auth_target"] = Node("--prepared-id-salt", "t", *_users(TARGET_PROXY, TARGET_APP),
                                      cluster_name="auth-target")
        started["dse_origin"] = Node("--authenticator", "DseAuthenticator",
                                     *_users(ORIGIN_PROXY, ORIGIN_APP), cluster_name="dse-origin")
        started["dse_target"] = Node("--authenticator", "DseAuthenticator", "--prepared-id-salt",
                                     "t", *_users(TARGET_PROXY, TARGET_APP),
                                     cluster_name="dse-target")
        # Separate nodes for async reads, whose late copies must not disturb the request counts
        # other tests compare.
        started["async_origin"] = Node(*_users(ORIGIN_PROXY, ORIGIN_APP), cluster_name="a-origin")
        started["async_target"] = Node("--prepared-id-salt", "t", *_users(TARGET_PROXY, TARGET_APP),
                                       cluster_name="a-target")
        started["async_dse_origin"] = Node("--authenticator", "DseAuthenticator",
                                           *_users(ORIGIN_PROXY, ORIGIN_APP),
                                           cluster_name="a-dse-origin")
        started["async_dse_target"] = Node("--authenticator", "DseAuthenticator",
                                           "--prepared-id-salt", "t",
                                           *_users(TARGET_PROXY, TARGET_APP),
                                           cluster_name="a-dse-target")
        yield started
    finally:
        for n in started.values():
            n.stop()


def _proxy_settings(origin_auth, target_auth, forward=False):
    s = {"LOG_LEVEL": "DEBUG"}
    if origin_auth:
        s["ORIGIN_USERNAME"], s["ORIGIN_PASSWORD"] = ORIGIN_PROXY
    if target_auth:
        s["TARGET_USERNAME"], s["TARGET_PASSWORD"] = TARGET_PROXY
    if forward:
        s["FORWARD_CLIENT_CREDENTIALS_TO_ORIGIN"] = "true"
    return s


@pytest.fixture(scope="module")
def proxies(nodes):
    """One proxy per row of the matrix, started lazily and stopped with the module."""
    made = {}

    def get(origin, target, origin_auth, target_auth, forward=False, **extra):
        key = (origin, target, forward, tuple(sorted(extra.items())))
        if key not in made:
            settings = _proxy_settings(origin_auth, target_auth, forward)
            settings.update(extra)
            p = Proxy(nodes[origin], nodes[target], settings=settings)
            made[key] = p
            _proxies.append(p)
        return made[key]

    yield get
    for p in made.values():
        p.stop()


def _direct(node, creds):
    auth = PlainTextAuthProvider(*creds) if creds else None
    return connect(node.host, node.port, auth_provider=auth)


def _statement_counts(node):
    requests = node.admin("GET", "/counters")["requests"]
    return {op: requests[op] for op in STATEMENT_OPCODES}


def _write_through_proxy_and_check_both(proxy, provider, origin, origin_creds, target,
                                        target_creds, **connect_args):
    ks = "auth_%s" % uuid.uuid4().hex[:10]
    cluster, session = connect(proxy.host, proxy.port, auth_provider=provider, **connect_args)
    try:
        session.execute("CREATE KEYSPACE %s WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}" % ks)
        session.execute("CREATE TABLE %s.t (k int PRIMARY KEY, v text)" % ks)
        insert = session.prepare("INSERT INTO %s.t (k, v) VALUES (?, ?)" % ks)
        for k in range(3):
            session.execute(insert, (k, "v%d" % k))
        assert sorted(tuple(r) for r in session.execute("SELECT k, v FROM %s.t" % ks)) == \
            [(0, "v0"), (1, "v1"), (2, "v2")]
    finally:
        cluster.shutdown()
    for node, creds in ((origin, origin_creds), (target, target_creds)):
        c, s = _direct(node, creds)
        try:
            assert sorted(tuple(r) for r in s.execute("SELECT k, v FROM %s.t" % ks)) == \
                [(0, "v0"), (1, "v1"), (2, "v2")], "rows missing on %s" % node.args
        finally:
            c.shutdown()


def _expect_refused(proxy, provider, origin, target, auth_failed=True):
    before = (_statement_counts(origin), _statement_counts(target))
    with pytest.raises(NoHostAvailable) as err:
        cluster, _ = connect(proxy.host, proxy.port, auth_provider=provider)
        cluster.shutdown()
    errors = list(err.value.errors.values())
    assert errors, err.value
    if auth_failed:
        assert all(isinstance(e, AuthenticationFailed) for e in errors), errors
    # Nothing but the handshake reached the clusters.
    assert (_statement_counts(origin), _statement_counts(target)) == before
    return errors


# (name, origin node, target node, origin auth, target auth, forward, good client credentials,
#  credentials the client must not be able to use)
ROWS = [
    ("none", "plain_origin", "plain_target", False, False, False, None, []),
    ("origin-only", "auth_origin", "plain_target", True, False, False, ORIGIN_APP,
     [("app_o", "wrong"), TARGET_APP]),
    ("target-only", "plain_origin", "auth_target", False, True, False, TARGET_APP,
     [("app_t", "wrong"), ORIGIN_APP]),
    ("both", "auth_origin", "auth_target", True, True, False, TARGET_APP,
     [("app_t", "wrong"), ORIGIN_APP]),
    ("both-forward-to-origin", "auth_origin", "auth_target", True, True, True, ORIGIN_APP,
     [("app_o", "wrong"), TARGET_APP]),
]


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_auth_matrix(nodes, proxies, row):
    name, o, t, o_auth, t_auth, forward, good, bad = row
    origin, target = nodes[o], nodes[t]
    proxy = proxies(o, t, o_auth, t_auth, forward)
    # Direct checks use the proxy's own users, which exist on each auth node.
    origin_creds = ORIGIN_PROXY if o_auth else None
    target_creds = TARGET_PROXY if t_auth else None
    provider = PlainTextAuthProvider(*good) if good else None
    _write_through_proxy_and_check_both(proxy, provider, origin, origin_creds, target,
                                        target_creds)
    if not o_auth and not t_auth:
        # Credentials the clusters never ask for are simply not used.
        _write_through_proxy_and_check_both(proxy, PlainTextAuthProvider("any", "thing"), origin,
                                            None, target, None)
        return
    for creds in bad:
        _expect_refused(proxy, PlainTextAuthProvider(*creds), origin, target)
    # No credentials at all: the driver cannot answer AUTHENTICATE.
    errors = _expect_refused(proxy, None, origin, target)
    assert any("requires authentication" in str(e) for e in errors), errors


@pytest.mark.parametrize("version,compression", [(3, False), (5, False), (5, "lz4")])
@pytest.mark.parametrize("dse", [False, True], ids=["password", "dse"])
def test_both_clusters_authenticate_in_every_protocol_version(nodes, proxies, version,
                                                              compression, dse):
    """v5 switches to segments after AUTHENTICATE: the relayed exchange and the proxy's own
    login both happen inside segments."""
    o, t = ("dse_origin", "dse_target") if dse else ("auth_origin", "auth_target")
    proxy = proxies(o, t, True, True)
    provider = (DSEPlainTextAuthProvider if dse else PlainTextAuthProvider)(*TARGET_APP)
    _write_through_proxy_and_check_both(proxy, provider, nodes[o], ORIGIN_PROXY, nodes[t],
                                        TARGET_PROXY, protocol_version=version,
                                        compression=compression)
    with pytest.raises(NoHostAvailable) as err:
        cluster, _ = connect(proxy.host, proxy.port, protocol_version=version,
                             compression=compression,
                             auth_provider=PlainTextAuthProvider("app_t", "wrong"))
        cluster.shutdown()
    assert all(isinstance(e, AuthenticationFailed) for e in err.value.errors.values())


def test_dse_authenticator_on_both_clusters(nodes, proxies):
    """DseAuthenticator on both: the client's DSEPlainTextAuthProvider talks "PLAIN" then the
    credentials to target through the proxy; the proxy does the same with its own user on
    origin."""
    origin, target = nodes["dse_origin"], nodes["dse_target"]
    proxy = proxies("dse_origin", "dse_target", True, True)
    _write_through_proxy_and_check_both(proxy, DSEPlainTextAuthProvider(*TARGET_APP), origin,
                                        ORIGIN_PROXY, target, TARGET_PROXY)
    # A plain provider works against DseAuthenticator too (DSE accepts a PLAIN token at once).
    _write_through_proxy_and_check_both(proxy, PlainTextAuthProvider(*TARGET_APP), origin,
                                        ORIGIN_PROXY, target, TARGET_PROXY)
    _expect_refused(proxy, DSEPlainTextAuthProvider("app_t", "wrong"), origin, target)
    # The proxy's own login to origin takes two AUTH_RESPONSEs per session ("PLAIN", then the
    # credentials), like a DSE driver's.
    before = origin.admin("GET", "/counters")["requests"]
    cluster, session = connect(proxy.host, proxy.port,
                               auth_provider=DSEPlainTextAuthProvider(*TARGET_APP))
    try:
        session.execute("SELECT release_version FROM system.local")
    finally:
        cluster.shutdown()
    after = origin.admin("GET", "/counters")["requests"]
    sessions = after["STARTUP"] - before["STARTUP"]
    assert sessions >= 1
    assert after["AUTH_RESPONSE"] - before["AUTH_RESPONSE"] == 2 * sessions


def test_dse_authenticator_origin_forwarded_and_password_target(nodes, proxies):
    """Client credentials to a DSE origin (FORWARD_CLIENT_CREDENTIALS_TO_ORIGIN), the proxy's
    own login to a PasswordAuthenticator target."""
    origin, target = nodes["dse_origin"], nodes["auth_target"]
    proxy = proxies("dse_origin", "auth_target", True, True, forward=True)
    _write_through_proxy_and_check_both(proxy, DSEPlainTextAuthProvider(*ORIGIN_APP), origin,
                                        ORIGIN_PROXY, target, TARGET_PROXY)
    _expect_refused(proxy, DSEPlainTextAuthProvider(*TARGET_APP), origin, target)


def test_secondary_login_failure_refuses_the_client(nodes, proxies):
    """Both clusters authenticate; the client's target login succeeds but origin refuses the
    proxy's own login (injected once the control connection is up): the client gets origin's
    AuthenticationFailed and no statement reaches either cluster."""
    origin, target = nodes["auth_origin"], nodes["auth_target"]
    proxy = proxies("auth_origin", "auth_target", True, True)
    rule = origin.admin("POST", "/faults", {"opcode": "AUTH_RESPONSE", "action": "error",
                                            "error": "BAD_CREDENTIALS",
                                            "message": "origin refuses the proxy user"})
    try:
        errors = _expect_refused(proxy, PlainTextAuthProvider(*TARGET_APP), origin, target)
        assert any("origin refuses the proxy user" in str(e) for e in errors), errors
    finally:
        origin.admin("DELETE", "/faults/%d" % rule["id"])
    _write_through_proxy_and_check_both(proxy, PlainTextAuthProvider(*TARGET_APP), origin,
                                        ORIGIN_PROXY, target, TARGET_PROXY)


@pytest.mark.parametrize("dse", [False, True], ids=["password", "dse"])
@pytest.mark.parametrize("forward", [False, True], ids=["default", "forward-to-origin"])
def test_async_reads_log_in_to_the_secondary(nodes, proxies, dse, forward):
    """DUAL_ASYNC_ON_SECONDARY: the async connection to target logs in (TARGET_USERNAME when
    configured, else the client's PLAIN token), also against DseAuthenticator, so reads reach
    it."""
    o, t = ("async_dse_origin", "async_dse_target") if dse else ("async_origin", "async_target")
    target = nodes[t]
    proxy = proxies(o, t, True, True, forward, READ_MODE="DUAL_ASYNC_ON_SECONDARY")
    creds = ORIGIN_APP if forward else TARGET_APP
    provider = (DSEPlainTextAuthProvider if dse else PlainTextAuthProvider)(*creds)
    ks = "asy_%s" % uuid.uuid4().hex[:10]
    cluster, session = connect(proxy.host, proxy.port, auth_provider=provider)
    try:
        session.execute("CREATE KEYSPACE %s WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}" % ks)
        session.execute("CREATE TABLE %s.t (k int PRIMARY KEY)" % ks)
        before = target.admin("GET", "/counters")["statements"]["SELECT"]
        # Copies made before the async connection finished its handshake are dropped (by
        # design), so keep reading until five have arrived.

        def read_and_count():
            session.execute("SELECT k FROM %s.t" % ks)
            return target.admin("GET", "/counters")["statements"]["SELECT"] >= before + 5

        wait_until(read_and_count,
                   timeout=10, what="async reads on target")
    finally:
        cluster.shutdown()


# ---------------------------------------------------------------------------------------------
# Raw frames: a client that skips authentication never reaches a cluster.

def _keyspace_exists(node, creds, ks):
    c, s = _direct(node, creds)
    try:
        return s.execute("SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name "
                         "= %s", (ks,)).one() is not None
    finally:
        c.shutdown()


@pytest.mark.parametrize("forward", [False, True])
def test_statements_before_authentication_never_reach_a_cluster(nodes, proxies, forward):
    origin, target = nodes["auth_origin"], nodes["auth_target"]
    proxy = proxies("auth_origin", "auth_target", True, True, forward)
    ks = "raw_%s" % uuid.uuid4().hex[:10]
    create = "CREATE KEYSPACE %s WITH replication = {'class': 'SimpleStrategy', " \
             "'replication_factor': 1}" % ks
    before = (_statement_counts(origin), _statement_counts(target))
    with socket.create_connection((proxy.host, proxy.port), timeout=10) as sock:
        sock.sendall(startup(4, stream=1))
        _, _, stream, opcode, body = read_frame(sock)
        assert (stream, opcode) == (1, 0x03), body  # AUTHENTICATE
        # A statement instead of AUTH_RESPONSE: refused by the proxy.
        sock.sendall(query(4, 2, create))
        _, _, stream, opcode, body = read_frame(sock)
        assert (stream, opcode) == (2, 0x00), body  # ERROR
        # Wrong credentials: BadCredentials (0x0100); later statements are not served.
        token = b"\x00app\x00wrong"
        sock.sendall(frame(4, 3, AUTH_RESPONSE, struct.pack(">i", len(token)) + token))
        _, _, stream, opcode, body = read_frame(sock)
        assert (stream, opcode) == (3, 0x00), body
        assert struct.unpack(">i", body[:4])[0] == 0x0100, body
        # The session is failed: statements get an error, not silence, and go nowhere.
        sock.sendall(query(4, 4, create))
        _, _, stream, opcode, body = read_frame(sock)
        assert (stream, opcode) == (4, 0x00), body
    assert (_statement_counts(origin), _statement_counts(target)) == before
    assert not _keyspace_exists(origin, ORIGIN_PROXY, ks)
    assert not _keyspace_exists(target, TARGET_PROXY, ks)


def test_passwords_never_appear_in_logs_or_metrics(nodes, proxies):
    """Runs last in this module: every proxy above logged at DEBUG level."""
    # Make sure at least the main rows ran (also when this test is selected alone).
    proxy = proxies("auth_origin", "auth_target", True, True)
    _write_through_proxy_and_check_both(proxy, PlainTextAuthProvider(*TARGET_APP),
                                        nodes["auth_origin"], ORIGIN_PROXY, nodes["auth_target"],
                                        TARGET_PROXY)
    _expect_refused(proxy, PlainTextAuthProvider("app_t", "Pw-TgtApp-3f4e-wrong"),
                    nodes["auth_origin"], nodes["auth_target"])
    checked = 0
    for p in _proxies:
        texts = [p.output]
        if p.proc.poll() is None:
            status, metrics = p.http("/metrics")
            assert status == 200
            texts.append(metrics)
        for text in texts:
            for password in PASSWORDS:
                assert password not in text, "password leaked by %s" % p.args
            checked += 1
    assert checked >= 2
