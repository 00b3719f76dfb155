"""TLS through the proxy, on each side, with the DataStax Python driver as the client:

- client side (ZDM_PROXY_TLS_*): one-way, mutual (a client without a certificate is refused),
  untrusted CA and wrong host name (both refused by the driver's own checks);
- origin side and target side (ZDM_{ORIGIN,TARGET}_TLS_*), against `zdm node --tls-*`: one-way,
  mutual, mutual without a client certificate, untrusted CA, wrong host name (refused unless
  ZDM_*_TLS_SKIP_HOSTNAME_VERIFICATION=true), expired CA; each failure must stop
  `zdm proxy --startup-timeout` with a message that says what is wrong and what to set;
- Astra secure connect bundle: a zip built here, a stand-in metadata service (HTTPS with mutual
  TLS, in this process: ../astra_standin.py) and a TLS `zdm node` standing in for the SNI proxy.

Certificates are made at test time (python3-cryptography), in a temporary directory.
"""
import datetime
import ipaddress
import socket
import os
import ssl
import subprocess
import sys
import time
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from cassandra.cluster import Cluster, NoHostAvailable  # noqa: E402

from astra_standin import MetadataService  # noqa: E402
from astra_standin import make_bundle as make_secure_connect_bundle  # noqa: E402
from zdm_procs import (ZDM_BIN, Node, Proxy, check_no_sanitizer_report,  # noqa: E402
                       wait_until)

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    MISSING_CRYPTOGRAPHY = None
except ImportError as e:  # every test fails on it (the pki fixture), never skips
    MISSING_CRYPTOGRAPHY = e

STARTUP_TIMEOUT_S = 3


# ---------------------------------------------------------------------------------------------
# Test PKI

class Pki:
    """CAs and certificates written as PEM files under `root`."""

    def __init__(self, root):
        self.root = root
        now = datetime.datetime.now(datetime.timezone.utc)
        self.now = now
        self.ca = self._ca("zdm test CA", now - datetime.timedelta(days=1),
                           now + datetime.timedelta(days=30))
        self.other_ca = self._ca("untrusted CA", now - datetime.timedelta(days=1),
                                 now + datetime.timedelta(days=30))
        self.expired_ca = self._ca("expired CA", now - datetime.timedelta(days=30),
                                   now - datetime.timedelta(days=1))
        self.files = {}
        self.write("ca.pem", self.ca)
        self.write("other_ca.pem", self.other_ca)
        self.write("expired_ca.pem", self.expired_ca)
        # A node certificate valid for 127.0.0.1 (what the proxy connects to) and localhost.
        self.issue("node", self.ca, ips=["127.0.0.1"], dns=["localhost"])
        # Valid for another name only.
        self.issue("wrongname", self.ca, dns=["wrong.example.com"])
        # Right name, untrusted issuer.
        self.issue("badca", self.other_ca, ips=["127.0.0.1"])
        # Expired, from the trusted CA.
        self.issue("expired", self.ca, ips=["127.0.0.1"],
                   valid=(now - datetime.timedelta(days=10), now - datetime.timedelta(days=1)))
        # Client certificates (mutual TLS).
        self.issue("client", self.ca, client=True)
        self.issue("client_other", self.other_ca, client=True)

    def path(self, name):
        return os.path.join(self.root, name)

    @staticmethod
    def _key():
        return ec.generate_private_key(ec.SECP256R1())

    def _ca(self, cn, not_before, not_after):
        key = self._key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(not_before).not_valid_after(not_after)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, key_cert_sign=True,
                                             crl_sign=True, encipher_only=False,
                                             decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        return cert, key

    def write(self, filename, cert_and_key):
        cert, _ = cert_and_key
        with open(self.path(filename), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, name, issuer, ips=(), dns=(), client=False, valid=None):
        issuer_cert, issuer_key = issuer
        key = self._key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "zdm test " + name)])
        builder = (x509.CertificateBuilder().subject_name(subject)
                   .issuer_name(issuer_cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(valid[0] if valid else self.now - datetime.timedelta(hours=1))
                   .not_valid_after(valid[1] if valid else self.now + datetime.timedelta(days=10))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                                  critical=True))
        sans = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        sans += [x509.DNSName(d) for d in dns]
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        usage = x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH if client else \
            x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        cert = builder.sign(issuer_key, hashes.SHA256())
        with open(self.path(name + ".pem"), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(self.path(name + ".key"), "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))

    def cert(self, name):
        return self.path(name + ".pem")

    def key(self, name):
        return self.path(name + ".key")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    if MISSING_CRYPTOGRAPHY is not None:
        pytest.fail("the TLS tests make their certificates with the Python module 'cryptography', "
                    "which does not load (%s): run scripts/install-deps.sh (it installs "
                    "python3-cryptography)" % MISSING_CRYPTOGRAPHY, pytrace=False)
    return Pki(str(tmp_path_factory.mktemp("pki")))


def tls_node(pki, cert, cluster_name, require_client_cert=False):
    args = ["--tls-cert", pki.cert(cert), "--tls-key", pki.key(cert)]
    if require_client_cert:
        args += ["--tls-ca", pki.path("ca.pem"), "--tls-require-client-cert"]
    return Node(*args, cluster_name=cluster_name)


@pytest.fixture(scope="module")
def tls_nodes(pki):
    """TLS nodes by certificate: node (good), mutual (requires a client certificate), wrongname,
    badca."""
    nodes = {}
    try:
        nodes["node"] = tls_node(pki, "node", "tls-good")
        nodes["mutual"] = tls_node(pki, "node", "tls-mutual", require_client_cert=True)
        nodes["wrongname"] = tls_node(pki, "wrongname", "tls-wrongname")
        nodes["badca"] = tls_node(pki, "badca", "tls-badca")
        nodes["expired"] = tls_node(pki, "expired", "tls-expired")
        yield nodes
    finally:
        for n in nodes.values():
            n.stop()


def client_context(pki, ca="ca.pem", cert=None, check_hostname=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki.path(ca))
    ctx.check_hostname = check_hostname
    ctx.verify_mode = ssl.CERT_REQUIRED
    if cert:
        ctx.load_cert_chain(pki.cert(cert), pki.key(cert))
    return ctx


def roundtrip(host, port, ssl_context=None):
    """Creates a keyspace and table, writes and reads a row; returns the value read."""
    cluster = Cluster(contact_points=[host], port=port, protocol_version=4, connect_timeout=10,
                      ssl_context=ssl_context)
    try:
        session = cluster.connect()
        ks = "tls_%s" % uuid.uuid4().hex[:10]
        session.execute("CREATE KEYSPACE %s WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}" % ks)
        session.execute("CREATE TABLE %s.kv (k int PRIMARY KEY, v text)" % ks)
        session.execute("INSERT INTO %s.kv (k, v) VALUES (1, 'through tls')" % ks)
        row = session.execute("SELECT v FROM %s.kv WHERE k = 1" % ks).one()
        return ks, row.v
    finally:
        cluster.shutdown()


def read_back(node, ks, ssl_context=None):
    """The row written by roundtrip, read from one node directly."""
    cluster = Cluster(contact_points=[node.host], port=node.port, protocol_version=4,
                      connect_timeout=10, ssl_context=ssl_context)
    try:
        row = cluster.connect().execute("SELECT v FROM %s.kv WHERE k = 1" % ks).one()
        return row.v if row else None
    finally:
        cluster.shutdown()


def run_proxy_expect_failure(origin, target, settings):
    """Runs `zdm proxy --startup-timeout` that must fail; returns (exit code, output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZDM_")}
    env.update({
        "ZDM_ORIGIN_CONTACT_POINTS": origin.host, "ZDM_ORIGIN_PORT": str(origin.port),
        "ZDM_TARGET_CONTACT_POINTS": target.host, "ZDM_TARGET_PORT": str(target.port),
        "ZDM_PROXY_LISTEN_ADDRESS": "127.0.0.1", "ZDM_PROXY_LISTEN_PORT": "0",
        "ZDM_METRICS_ADDRESS": "127.0.0.1", "ZDM_METRICS_PORT": "0", "ZDM_PROXY_THREADS": "1",
    })
    for k, v in settings.items():
        env["ZDM_" + k] = str(v)
    proc = subprocess.run([ZDM_BIN, "proxy", "--startup-timeout", str(STARTUP_TIMEOUT_S)],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=STARTUP_TIMEOUT_S + 30)
    print(proc.stdout)
    check_no_sanitizer_report("zdm proxy", proc.stdout)
    return proc.returncode, proc.stdout


def tls_log(proxy):
    """The proxy's log lines about TLS handshakes (printed: pytest -s shows them)."""
    print("\n".join(l for l in proxy.output.splitlines() if "TLS handshake" in l))


def last_line(output):
    lines = [l for l in output.splitlines() if l.startswith("zdm proxy:") or l.startswith("  ")]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Client side: the proxy's listener (ZDM_PROXY_TLS_*)

def proxy_tls_settings(pki, cert="node", require=False):
    s = {"PROXY_TLS_CA_PATH": pki.path("ca.pem"), "PROXY_TLS_CERT_PATH": pki.cert(cert),
         "PROXY_TLS_KEY_PATH": pki.key(cert)}
    if require:
        s["PROXY_TLS_REQUIRE_CLIENT_AUTH"] = "true"
    return s


def test_client_side_one_way_and_untrusted_ca(pki, origin, target):
    p = Proxy(origin, target, settings=proxy_tls_settings(pki))
    try:
        ks, v = roundtrip(p.host, p.port, client_context(pki))
        assert v == "through tls"
        assert read_back(origin, ks) == "through tls"
        assert read_back(target, ks) == "through tls"
        # A client that trusts another CA refuses the proxy.
        with pytest.raises(NoHostAvailable) as e:
            roundtrip(p.host, p.port, client_context(pki, ca="other_ca.pem"))
        assert "certificate verify failed" in str(e.value)
        wait_until(lambda: "refused the proxy's certificate, ZDM_PROXY_TLS_CERT_PATH" in p.output,
                   what="the proxy's log of the refused handshake")
        # A plain-text client gets nowhere either.
        with pytest.raises(NoHostAvailable):
            roundtrip(p.host, p.port)
        wait_until(lambda: "the client does not speak TLS" in p.output,
                   what="the proxy's log of a plain-text client")
    finally:
        tls_log(p)
        p.stop()


def test_client_side_mutual_requires_a_client_certificate(pki, origin, target):
    p = Proxy(origin, target, settings=proxy_tls_settings(pki, require=True))
    try:
        ks, v = roundtrip(p.host, p.port, client_context(pki, cert="client"))
        assert v == "through tls"
        assert read_back(origin, ks) == "through tls"
        assert read_back(target, ks) == "through tls"
        with pytest.raises(NoHostAvailable):
            roundtrip(p.host, p.port, client_context(pki))  # no client certificate
        wait_until(lambda: "ZDM_PROXY_TLS_REQUIRE_CLIENT_AUTH is true" in p.output,
                   what="the proxy's log of a client without a certificate")
        with pytest.raises(NoHostAvailable):
            roundtrip(p.host, p.port, client_context(pki, cert="client_other"))  # untrusted one
        wait_until(lambda: "the client's certificate was refused" in p.output,
                   what="the proxy's log of an untrusted client certificate")
    finally:
        tls_log(p)
        p.stop()


def test_client_side_wrong_host_name_is_refused_by_the_driver(pki, origin, target):
    p = Proxy(origin, target, settings=proxy_tls_settings(pki, cert="wrongname"))
    try:
        with pytest.raises(NoHostAvailable) as e:
            roundtrip(p.host, p.port, client_context(pki))
        assert "127.0.0.1" in str(e.value)
        # Hostname checking is the client's choice here.
        ks, v = roundtrip(p.host, p.port, client_context(pki, check_hostname=False))
        assert v == "through tls"
        assert read_back(origin, ks) == "through tls"
        assert read_back(target, ks) == "through tls"
    finally:
        tls_log(p)
        p.stop()


def test_proxy_tls_with_an_expired_ca_stops_startup(pki, origin, target):
    settings = proxy_tls_settings(pki)
    settings["PROXY_TLS_CA_PATH"] = pki.path("expired_ca.pem")
    code, out = run_proxy_expect_failure(origin, target, settings)
    assert code != 0
    assert "ZDM_PROXY_TLS_CA_PATH" in out and "expired" in out


# ---------------------------------------------------------------------------------------------
# Cluster side: origin and target (ZDM_{ORIGIN,TARGET}_TLS_*)

SIDES = ["ORIGIN", "TARGET"]


def endpoints(side, tls, plain):
    """(origin, target) with `tls` on `side` and the plain node on the other."""
    return (tls, plain) if side == "ORIGIN" else (plain, tls)


@pytest.mark.parametrize("side", SIDES)
def test_cluster_side_one_way(side, pki, tls_nodes, origin, target):
    plain = target if side == "ORIGIN" else origin
    node = tls_nodes["node"]
    o, t = endpoints(side, node, plain)
    p = Proxy(o, t, settings={side + "_TLS_SERVER_CA_PATH": pki.path("ca.pem")})
    try:
        ks, v = roundtrip(p.host, p.port)
        assert v == "through tls"
        assert read_back(node, ks, client_context(pki)) == "through tls"
        assert read_back(plain, ks) == "through tls"
        assert "one-way TLS, hostname verification on" in p.output
    finally:
        p.stop()


@pytest.mark.parametrize("side", SIDES)
def test_cluster_side_mutual(side, pki, tls_nodes, origin, target):
    plain = target if side == "ORIGIN" else origin
    node = tls_nodes["mutual"]
    o, t = endpoints(side, node, plain)
    p = Proxy(o, t, settings={side + "_TLS_SERVER_CA_PATH": pki.path("ca.pem"),
                              side + "_TLS_CLIENT_CERT_PATH": pki.cert("client"),
                              side + "_TLS_CLIENT_KEY_PATH": pki.key("client")})
    try:
        ks, v = roundtrip(p.host, p.port)
        assert v == "through tls"
        assert read_back(node, ks, client_context(pki, cert="client")) == "through tls"
        assert read_back(plain, ks) == "through tls"
    finally:
        p.stop()


@pytest.mark.parametrize("side", SIDES)
def test_cluster_side_mutual_without_client_certificate_fails(side, pki, tls_nodes, origin,
                                                              target):
    plain = target if side == "ORIGIN" else origin
    o, t = endpoints(side, tls_nodes["mutual"], plain)
    code, out = run_proxy_expect_failure(o, t, {side + "_TLS_SERVER_CA_PATH": pki.path("ca.pem")})
    assert code != 0
    summary = last_line(out)
    assert "could not connect" in summary
    assert side + ":" in summary
    assert "ZDM_%s_TLS_CLIENT_CERT_PATH" % side in summary, summary


@pytest.mark.parametrize("side", SIDES)
def test_cluster_side_untrusted_ca_fails(side, pki, tls_nodes, origin, target):
    plain = target if side == "ORIGIN" else origin
    o, t = endpoints(side, tls_nodes["badca"], plain)
    code, out = run_proxy_expect_failure(o, t, {side + "_TLS_SERVER_CA_PATH": pki.path("ca.pem")})
    assert code != 0
    summary = last_line(out)
    assert "not signed by a trusted CA" in summary, summary
    assert "ZDM_%s_TLS_SERVER_CA_PATH" % side in summary, summary


@pytest.mark.parametrize("side", SIDES)
def test_cluster_side_wrong_host_name_fails_unless_verification_is_off(side, pki, tls_nodes,
                                                                       origin, target):
    plain = target if side == "ORIGIN" else origin
    node = tls_nodes["wrongname"]
    o, t = endpoints(side, node, plain)
    settings = {side + "_TLS_SERVER_CA_PATH": pki.path("ca.pem")}
    code, out = run_proxy_expect_failure(o, t, settings)
    assert code != 0
    summary = last_line(out)
    assert "not valid for" in summary and "127.0.0.1" in summary, summary
    assert "ZDM_%s_TLS_SKIP_HOSTNAME_VERIFICATION=true" % side in summary, summary

    settings[side + "_TLS_SKIP_HOSTNAME_VERIFICATION"] = "true"
    p = Proxy(o, t, settings=settings)
    try:
        ks, v = roundtrip(p.host, p.port)
        assert v == "through tls"
        # The node's certificate names another host: read it back without checking the name.
        assert read_back(node, ks, client_context(pki, check_hostname=False)) == "through tls"
        assert read_back(plain, ks) == "through tls"
        assert "hostname verification is OFF" in p.output
    finally:
        p.stop()


def test_cluster_side_expired_node_certificate_fails(pki, tls_nodes, origin, target):
    # One side is enough: the code path is the one of the other handshake failures.
    code, out = run_proxy_expect_failure(tls_nodes["expired"], target,
                                         {"ORIGIN_TLS_SERVER_CA_PATH": pki.path("ca.pem")})
    assert code != 0
    summary = last_line(out)
    assert "its certificate has expired" in summary, summary


@pytest.mark.parametrize("side", SIDES)
def test_cluster_side_expired_ca_fails_at_startup(side, pki, tls_nodes, origin, target):
    plain = target if side == "ORIGIN" else origin
    o, t = endpoints(side, tls_nodes["node"], plain)
    code, out = run_proxy_expect_failure(
        o, t, {side + "_TLS_SERVER_CA_PATH": pki.path("expired_ca.pem")})
    assert code != 0
    assert "ZDM_%s_TLS_SERVER_CA_PATH" % side in out and "expired" in out, out


# ---------------------------------------------------------------------------------------------
# Astra secure connect bundle

def metadata_service(pki, answer):
    """The Astra metadata service stand-in (../astra_standin.py) with this suite's certificates."""
    return MetadataService(pki.cert("node"), pki.key("node"), pki.path("ca.pem"), answer)


def make_bundle(pki, path, port, cert="client"):
    make_secure_connect_bundle(path, port, pki.path("ca.pem"), pki.cert(cert), pki.key(cert))



def test_secure_connect_bundle_origin(pki, target, tmp_path):
    # The "SNI proxy": a TLS node that requires the bundle's client certificate (it ignores SNI).
    sni = tls_node(pki, "node", "astra", require_client_cert=True)
    service = None
    p = None
    try:
        ctx = client_context(pki, cert="client")
        cluster = Cluster(contact_points=[sni.host], port=sni.port, protocol_version=4,
                          connect_timeout=10, ssl_context=ctx)
        host_id = str(cluster.connect().execute("SELECT host_id FROM system.local").one().host_id)
        cluster.shutdown()
        service = metadata_service(pki, lambda: {
            "version": 1, "region": "local",
            "contact_info": {"type": "sni_proxy", "local_dc": "dc1",
                             "contact_points": [host_id],
                             "sni_proxy_address": "127.0.0.1:%d" % sni.port}})
        bundle = str(tmp_path / "secure-connect-test.zip")
        make_bundle(pki, bundle, service.port)
        p = Proxy(sni, target, settings={"ORIGIN_CONTACT_POINTS": "",
                                         "ORIGIN_SECURE_CONNECT_BUNDLE_PATH": bundle})
        ks, v = roundtrip(p.host, p.port)
        assert v == "through tls"
        assert read_back(sni, ks, ctx) == "through tls"
        assert read_back(target, ks) == "through tls"
        # The proxy asked the metadata service, presenting the bundle's certificate.
        assert service.requests, "the metadata service was not asked"
        path, peer = service.requests[0]
        assert path == "/metadata"
        assert any(("commonName", "zdm test client") in rdn for rdn in peer["subject"])
        assert "Astra metadata: SNI proxy 127.0.0.1:%d, 1 host id(s), datacenter 'dc1'" % \
            sni.port in p.output
        # Request connections went through the SNI proxy with SNI = host id: the node metrics
        # label says so.
        assert "127.0.0.1:%d/%s" % (sni.port, host_id) in p.http("/metrics")[1]
    finally:
        if p:
            p.stop()
        if service:
            service.stop()
        sni.stop()


def test_secure_connect_bundle_errors(pki, origin, target, tmp_path):
    # A bundle whose client certificate the metadata service does not trust.
    service = metadata_service(pki, lambda: {})
    try:
        bundle = str(tmp_path / "bad-cert.zip")
        make_bundle(pki, bundle, service.port, cert="client_other")
        code, out = run_proxy_expect_failure(origin, target, {
            "TARGET_CONTACT_POINTS": "", "TARGET_SECURE_CONNECT_BUNDLE_PATH": bundle})
        assert code != 0
        summary = last_line(out)
        assert "Astra metadata service https://127.0.0.1:%d/metadata" % service.port in summary, \
            summary
        assert "client certificate" in summary, summary
    finally:
        service.stop()
    # Not a zip at all: startup stops at once, naming the setting.
    not_zip = tmp_path / "not-a-bundle.zip"
    not_zip.write_text("hello")
    code, out = run_proxy_expect_failure(origin, target, {
        "TARGET_CONTACT_POINTS": "", "TARGET_SECURE_CONNECT_BUNDLE_PATH": str(not_zip)})
    assert code != 0
    assert "ZDM_TARGET_SECURE_CONNECT_BUNDLE_PATH" in out, out


@pytest.mark.parametrize("side", SIDES)
def test_cluster_side_tls_node_without_tls_settings_names_the_setting(side, pki, tls_nodes,
                                                                     origin, target):
    """A node that only speaks TLS, and a proxy with no TLS settings for it: the failure says the
    node may require TLS and which setting to set (not just "connection closed")."""
    plain = target if side == "ORIGIN" else origin
    o, t = endpoints(side, tls_nodes["node"], plain)
    code, out = run_proxy_expect_failure(o, t, {})
    assert code != 0
    summary = last_line(out)
    assert "the node may require TLS: set ZDM_%s_TLS_SERVER_CA_PATH" % side in summary, summary


def test_silent_tls_node_times_out_once(pki, target):
    """A node that accepts TCP and never answers the TLS handshake: the failure comes after the
    connection timeout, once (no second handshake to explain it), and says so."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    silent = Node.__new__(Node)  # only host and port are read by run_proxy_expect_failure
    silent.host, silent.port = "127.0.0.1", listener.getsockname()[1]
    try:
        started = time.monotonic()
        code, out = run_proxy_expect_failure(silent, target, {
            "ORIGIN_TLS_SERVER_CA_PATH": pki.path("ca.pem"),
            "ORIGIN_CONNECTION_TIMEOUT_MS": "1000"})
        elapsed = time.monotonic() - started
    finally:
        listener.close()
    assert code != 0
    first = next(l for l in out.splitlines() if "ORIGIN control connection to" in l)
    assert "no answer within 1000 ms (the connection timeout) while negotiating TLS" in first, out
    # Attempts are 1 s each (plus backoff): a doubled timeout would fit at most 1 in 3 s.
    assert out.count("no answer within 1000 ms") >= 2, out
    assert elapsed < STARTUP_TIMEOUT_S + 10
