"""Connection settings of `zdm migrate` / `zdm validate` (docs/migrate.md "Connection settings"):
the proxy's ZDM_ORIGIN_*/ZDM_TARGET_* settings from the environment or from its YAML file
(`--config`), overridden by --origin/--target.

- one-way TLS to target with hostname verification (a test CA, a certificate for 127.0.0.1);
- TLS failures exit 2 naming the problem, with nothing written on target: an untrusted CA, a
  certificate for another IP (accepted with ZDM_TARGET_TLS_SKIP_HOSTNAME_VERIFICATION=true), a
  target that requires TLS while no TLS setting is given;
- mutual TLS to origin, and the same without the client certificate (exit 2);
- the proxy's YAML file with contact points, ports and credentials and no ZDM_* variable; --target
  over the file's target; an unknown key (exit 2 naming it); ZDM_ORIGIN_USERNAME/PASSWORD;
- an Astra secure connect bundle for target (ZDM_TARGET_SECURE_CONNECT_BUNDLE_PATH): the metadata
  service asked with the bundle's client certificate, every connection through the SNI proxy with
  SNI = the node's host id (stand-ins in ../astra_standin.py); a bundle the service refuses, a host
  id the SNI proxy does not know and a file that is not a bundle all exit 2 with nothing written.

Certificates are made at test time (pki.py, python3-cryptography: missing means failure).
"""
import ssl

import pytest

from astra_standin import MetadataService, SniProxy, make_bundle, metadata_answer
from pki import MISSING, Pki
from zdm_migrate import (SEC, T0, Node, assert_completed_migration, assert_exit,
                         assert_no_differences, assert_tables_equal, check_report, connect,
                         create_keyspace, keyspaces, migrate, run_zdm, validate, write_many)

KS = "settings_ks"
ROWS = 25


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    if MISSING is not None:
        pytest.fail("python3-cryptography is not installed (apt-get install python3-cryptography); "
                    "the TLS tests need it to make certificates: %s" % MISSING)
    p = Pki(str(tmp_path_factory.mktemp("pki")))
    ca = p.ca("ca")
    other_ca = p.ca("other_ca")
    p.issue("node", ca, ips=["127.0.0.1"])           # what zdm connects to
    p.issue("other_ip", ca, ips=["127.0.0.2"])       # trusted CA, another address
    p.issue("untrusted", other_ca, ips=["127.0.0.1"])  # right address, unknown issuer
    p.issue("client", ca, client=True)               # mutual TLS
    return p


@pytest.fixture
def start_node():
    """start_node(*args, cluster_name=...) -> a `zdm node` stopped after the test."""
    started = []

    def start(*args, cluster_name):
        n = Node(*args, cluster_name=cluster_name)
        started.append(n)
        return n

    yield start
    for n in started:
        n.stop()


@pytest.fixture
def open_session():
    """open_session(node, **connect_kwargs) -> a driver session closed after the test."""
    clusters = []

    def open_(node, **kwargs):
        cluster, session = connect(node, **kwargs)
        clusters.append(cluster)
        return session

    yield open_
    for c in clusters:
        c.shutdown()


def tls_args(pki, cert, require_client_cert=False):
    args = ["--tls-cert", pki.cert(cert), "--tls-key", pki.key(cert)]
    if require_client_cert:
        args += ["--tls-ca", pki.path("ca.pem"), "--tls-require-client-cert"]
    return args


def ssl_context(pki, ca="ca.pem", cert=None, check_hostname=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki.path(ca))
    ctx.check_hostname = check_hostname
    ctx.verify_mode = ssl.CERT_REQUIRED
    if cert:
        ctx.load_cert_chain(pki.cert(cert), pki.key(cert))
    return ctx


def fill_origin(osess, tables=("t",)):
    """KS.<table> (k int, v text, n bigint) with ROWS rows, writetimes chosen per row."""
    create_keyspace(osess, KS)
    for table in tables:
        osess.execute("CREATE TABLE %s.%s (k int PRIMARY KEY, v text, n bigint)" % (KS, table))
        write_many(osess, "INSERT INTO %s.%s (k, v, n) VALUES (?, ?, ?) USING TIMESTAMP ?" % (KS, table),
                   [(k, "%s-%d" % (table, k), k * 1000, T0 + k * SEC) for k in range(ROWS)])


def assert_copied(res, osess, tsess, table="t"):
    assert_exit(res, 0)
    check_report(res, "migrate", "completed")
    assert_completed_migration(res, KS, table, ROWS)
    assert_tables_equal(osess, tsess, KS, table)


def assert_nothing_written(tsess, res, run_state=True):
    """Target has neither the migrated keyspace nor (a failure at connect time) zdm_migration."""
    ks = keyspaces(tsess)
    assert KS not in ks, "keyspace %s was created on target despite exit %s\n%s" % (
        KS, res.code, res.describe())
    if run_state:
        assert "zdm_migration" not in ks, \
            "zdm_migration was created on target despite a failure to connect\n" + res.describe()


def assert_names(res, what, words, cluster):
    """The output names the cluster and the problem (any of `words`, case-insensitive)."""
    low = res.output.lower()
    assert cluster.lower() in low, "the message must say which cluster (%s)\n%s" % (cluster, res.describe())
    assert any(w.lower() in low for w in words), \
        "the message must name the problem: %s (one of %r)\n%s" % (what, words, res.describe())


TLS_WORDS = ["tls", "ssl"]
UNTRUSTED_WORDS = ["trusted", "issuer", "unknown ca", "TLS_SERVER_CA_PATH", "self-signed",
                   "self signed"]
HOSTNAME_WORDS = ["not valid for", "hostname", "host name", "name mismatch", "does not match",
                  "SKIP_HOSTNAME_VERIFICATION"]
CLIENT_CERT_WORDS = ["client certificate", "client cert", "certificate required", "CLIENT_CERT_PATH"]
MIGRATE = ["--keyspaces", KS, "--create-schema"]


# ---------------------------------------------------------------------------------------------
# TLS


def test_one_way_tls_to_target_with_hostname_verification(pki, origin, osess, start_node, open_session):
    fill_origin(osess)
    target = start_node(*tls_args(pki, "node"), cluster_name="tls-target")
    tsess = open_session(target, ssl_context=ssl_context(pki))
    env = {"ZDM_TARGET_TLS_SERVER_CA_PATH": pki.path("ca.pem")}
    res = migrate(origin, target, *MIGRATE, env=env)
    assert_copied(res, osess, tsess)
    res = validate(origin, target, "--keyspaces", KS, env=env)
    assert_exit(res, 0)
    check_report(res, "validate", "completed")
    assert_no_differences(res)


def test_untrusted_ca_exits_2_and_writes_nothing(pki, origin, osess, start_node, open_session):
    fill_origin(osess)
    target = start_node(*tls_args(pki, "untrusted"), cluster_name="tls-untrusted")
    tsess = open_session(target, ssl_context=ssl_context(pki, ca="other_ca.pem"))
    res = migrate(origin, target, *MIGRATE, env={"ZDM_TARGET_TLS_SERVER_CA_PATH": pki.path("ca.pem")})
    assert_exit(res, 2)
    assert_nothing_written(tsess, res)
    assert_names(res, "TLS", TLS_WORDS, "target")
    assert_names(res, "the certificate is not signed by a trusted CA", UNTRUSTED_WORDS, "target")


def test_certificate_for_another_ip_exits_2_unless_hostname_verification_is_skipped(
        pki, origin, osess, start_node, open_session):
    fill_origin(osess)
    target = start_node(*tls_args(pki, "other_ip"), cluster_name="tls-other-ip")
    tsess = open_session(target, ssl_context=ssl_context(pki, check_hostname=False))
    env = {"ZDM_TARGET_TLS_SERVER_CA_PATH": pki.path("ca.pem")}
    res = migrate(origin, target, *MIGRATE, env=env)
    assert_exit(res, 2)
    assert_nothing_written(tsess, res)

    env["ZDM_TARGET_TLS_SKIP_HOSTNAME_VERIFICATION"] = "true"
    copied = migrate(origin, target, *MIGRATE, env=env)
    assert_copied(copied, osess, tsess)
    # Last, so that a vague message does not hide the checks above.
    assert_names(res, "TLS", TLS_WORDS, "target")
    assert_names(res, "the certificate is not valid for 127.0.0.1", HOSTNAME_WORDS, "target")


def test_target_requiring_tls_without_tls_settings_exits_2(pki, origin, osess, start_node,
                                                           open_session):
    fill_origin(osess)
    target = start_node(*tls_args(pki, "node"), cluster_name="tls-required")
    tsess = open_session(target, ssl_context=ssl_context(pki))
    res = migrate(origin, target, *MIGRATE, timeout=60)
    assert_exit(res, 2)
    assert_nothing_written(tsess, res)
    assert_names(res, "target speaks TLS, no TLS setting was given", TLS_WORDS, "target")


def test_mutual_tls_to_origin(pki, target, tsess, start_node, open_session):
    origin = start_node(*tls_args(pki, "node", require_client_cert=True), cluster_name="mtls-origin")
    osess = open_session(origin, ssl_context=ssl_context(pki, cert="client"))
    fill_origin(osess)
    env = {"ZDM_ORIGIN_TLS_SERVER_CA_PATH": pki.path("ca.pem")}
    # Without the client certificate: refused by origin.
    res = migrate(origin, target, *MIGRATE, env=env)
    assert_exit(res, 2)
    assert_nothing_written(tsess, res)

    env.update({"ZDM_ORIGIN_TLS_CLIENT_CERT_PATH": pki.cert("client"),
                "ZDM_ORIGIN_TLS_CLIENT_KEY_PATH": pki.key("client")})
    copied = migrate(origin, target, *MIGRATE, env=env)
    assert_copied(copied, osess, tsess)
    assert_names(res, "TLS", TLS_WORDS + ["certificate"], "origin")
    assert_names(res, "origin requires a client certificate", CLIENT_CERT_WORDS, "origin")


# ---------------------------------------------------------------------------------------------
# The proxy's YAML file, and credentials from the environment


def yaml_file(path, origin, target_host, target_port, extra=""):
    with open(path, "w") as f:
        f.write("# the proxy's settings (keys: ZDM_* names in lower case, without ZDM_)\n"
                "origin_contact_points: %s\n"
                "origin_port: %d\n"
                "origin_username: ouser\n"
                "origin_password: \"o-secret\"\n"
                "target_contact_points: %s\n"
                "target_port: %d\n"
                "target_username: tuser\n"
                "target_password: \"t-secret\"\n%s"
                % (origin.host, origin.port, target_host, target_port, extra))
    return str(path)


def test_yaml_config_file_target_flag_and_unknown_key(start_node, open_session, tmp_path):
    origin = start_node("--user", "ouser:o-secret", cluster_name="yaml-origin")
    target = start_node("--user", "tuser:t-secret", "--prepared-id-salt", "t", cluster_name="yaml-target")
    osess = open_session(origin, auth=("ouser", "o-secret"))
    tsess = open_session(target, auth=("tuser", "t-secret"))
    fill_origin(osess, tables=("t", "t2"))
    closed = start_node(cluster_name="closed")
    dead_port = closed.port
    closed.stop()                      # a port nobody listens on any more

    # An unknown key (a typo) is refused, naming it; nothing is written.
    bad = yaml_file(tmp_path / "bad.yaml", origin, target.host, target.port,
                    extra="target_tls_server_ca_pth: /nowhere/ca.pem\n")
    res = run_zdm(["migrate", "--config", bad] + MIGRATE)
    assert_exit(res, 2)
    assert "target_tls_server_ca_pth" in res.output, \
        "the message must name the unknown key\n" + res.describe()
    assert_nothing_written(tsess, res)

    # The file alone (run_zdm's environment holds no ZDM_* variable): contact points, ports and
    # each cluster's credentials come from it.
    good = yaml_file(tmp_path / "proxy.yaml", origin, target.host, target.port)
    res = run_zdm(["migrate", "--config", good, "--tables", KS + ".t", "--create-schema"])
    assert_copied(res, osess, tsess, "t")
    # With a file, ZDM_* variables are ignored (docs/migrate.md, as for the proxy).
    res = run_zdm(["migrate", "--config", good, "--tables", KS + ".t"],
                  env={"ZDM_TARGET_PORT": str(dead_port), "ZDM_ORIGIN_PASSWORD": "wrong"})
    assert_exit(res, 0)
    check_report(res, "migrate", "completed")

    # --target wins over the file's target contact points and port (the file's credentials stay).
    elsewhere = yaml_file(tmp_path / "elsewhere.yaml", origin, "127.0.0.2", dead_port)
    res = run_zdm(["migrate", "--config", elsewhere, "--target", "%s:%d" % (target.host, target.port),
                   "--tables", KS + ".t2", "--create-schema"])
    assert_copied(res, osess, tsess, "t2")


def test_origin_credentials_from_environment(target, tsess, start_node, open_session):
    origin = start_node("--user", "ouser:o-secret", cluster_name="auth-origin")
    osess = open_session(origin, auth=("ouser", "o-secret"))
    fill_origin(osess)
    res = migrate(origin, target, *MIGRATE)
    assert_exit(res, 2)
    assert_names(res, "authentication", ["auth", "password", "credential"], "origin")
    assert_nothing_written(tsess, res)

    res = migrate(origin, target, *MIGRATE,
                  env={"ZDM_ORIGIN_USERNAME": "ouser", "ZDM_ORIGIN_PASSWORD": "o-secret"})
    assert_copied(res, osess, tsess)


# ---------------------------------------------------------------------------------------------
# Astra secure connect bundles


def bundle_for(pki, path, service, cert="client"):
    make_bundle(str(path), service.port, pki.path("ca.pem"), pki.cert(cert), pki.key(cert))
    return str(path)


def astra_target(pki, target, tsess, host_ids=None):
    """(metadata service, SNI proxy) in front of the plain `target` node."""
    host_id = str(tsess.execute("SELECT host_id FROM system.local").one().host_id)
    sni = SniProxy(pki.cert("node"), pki.key("node"), pki.path("ca.pem"),
                   {host_id: (target.host, target.port)})
    ids = host_ids if host_ids is not None else [host_id]
    service = MetadataService(pki.cert("node"), pki.key("node"), pki.path("ca.pem"),
                              lambda: metadata_answer(ids, sni.port))
    return host_id, service, sni


def run_with_bundle(command, origin, bundle, *args):
    return run_zdm([command, "--origin", "%s:%d" % (origin.host, origin.port)] + list(args),
                   env={"ZDM_TARGET_SECURE_CONNECT_BUNDLE_PATH": bundle})


def test_secure_connect_bundle_for_target(pki, origin, osess, target, tsess, tmp_path):
    fill_origin(osess)
    host_id, service, sni = astra_target(pki, target, tsess)
    try:
        bundle = bundle_for(pki, tmp_path / "secure-connect-target.zip", service)
        res = run_with_bundle("migrate", origin, bundle, *MIGRATE)
        assert_copied(res, osess, tsess)
        assert "Astra metadata: SNI proxy 127.0.0.1:%d, 1 host id(s), datacenter 'dc1'" % sni.port \
            in res.output, res.describe()
        checked = run_with_bundle("validate", origin, bundle, "--keyspaces", KS)
        assert_exit(checked, 0)
        check_report(checked, "validate", "completed")
        assert_no_differences(checked)
    finally:
        service.stop()
        sni.stop()
    # Each run asked the metadata service with the bundle's client certificate ...
    assert [path for path, _ in service.requests] == ["/metadata", "/metadata"]
    assert all(any(("commonName", "zdm migrate test client") in rdn for rdn in peer["subject"])
               for _, peer in service.requests), service.requests
    # ... and every CQL connection named the node's host id as TLS server name (control
    # connection and a pool of 2 per run at least).
    assert len(sni.server_names) >= 6 and set(sni.server_names) == {host_id}, sni.server_names


def test_secure_connect_bundle_errors_exit_2_and_write_nothing(pki, origin, osess, target, tsess,
                                                               tmp_path):
    fill_origin(osess)
    setting = "ZDM_TARGET_SECURE_CONNECT_BUNDLE_PATH"
    # A host id the SNI proxy does not route: no connection can be made.
    _, service, sni = astra_target(pki, target, tsess, host_ids=["11111111-2222-3333-4444-555555555555"])
    try:
        res = run_with_bundle("migrate", origin, bundle_for(pki, tmp_path / "b1.zip", service), *MIGRATE)
        assert_exit(res, 2)
        assert_nothing_written(tsess, res)
        assert "11111111-2222-3333-4444-555555555555" in res.output, res.describe()
        # A bundle whose client certificate the metadata service does not trust.
        res = run_with_bundle("migrate", origin,
                              bundle_for(pki, tmp_path / "b2.zip", service, cert="untrusted"), *MIGRATE)
        assert_exit(res, 2)
        assert_nothing_written(tsess, res)
        assert setting in res.output and "metadata" in res.output, res.describe()
    finally:
        service.stop()
        sni.stop()
    # Not a zip at all.
    not_zip = tmp_path / "not-a-bundle.zip"
    not_zip.write_text("hello")
    res = run_with_bundle("migrate", origin, str(not_zip), *MIGRATE)
    assert_exit(res, 2)
    assert_nothing_written(tsess, res)
    assert setting in res.output, res.describe()
