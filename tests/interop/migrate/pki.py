"""Test certificates for the migrate TLS tests, made with python3-cryptography (a Debian package
the project installs): CAs and certificates signed by them, written as PEM files under a directory.

    pki = Pki(directory)
    ca = pki.ca("ca")                                   # ca.pem
    pki.issue("node", ca, ips=["127.0.0.1"])            # node.pem, node.key (server)
    pki.issue("client", ca, client=True)                # client.pem, client.key (client auth)

MISSING is the ImportError when python3-cryptography is not installed (callers fail with it).
"""
import datetime
import ipaddress
import os

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    MISSING = None
except ImportError as e:  # reported by the tests as a failure, never a skip
    MISSING = e


class Pki:
    def __init__(self, root):
        if MISSING is not None:
            raise RuntimeError("python3-cryptography is needed to make test certificates: %s" % MISSING)
        self.root = root
        self.now = datetime.datetime.now(datetime.timezone.utc)

    def path(self, filename):
        return os.path.join(self.root, filename)

    def cert(self, name):
        return self.path(name + ".pem")

    def key(self, name):
        return self.path(name + ".key")

    def _name(self, cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def _write(self, name, cert, key):
        with open(self.cert(name), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(self.key(name), "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))

    def ca(self, name):
        """A self-signed CA valid from yesterday for 30 days; returns (cert, key)."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = self._name("zdm migrate test " + name)
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(self.now - datetime.timedelta(days=1))
                .not_valid_after(self.now + datetime.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, key_cert_sign=True, crl_sign=True,
                                             encipher_only=False, decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        self._write(name, cert, key)
        return cert, key

    def issue(self, name, issuer, ips=(), client=False):
        """A certificate signed by `issuer` for these IP addresses (subject alternative names),
        for server or (client=True) client authentication."""
        issuer_cert, issuer_key = issuer
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder().subject_name(self._name("zdm migrate test " + name))
                   .issuer_name(issuer_cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(self.now - datetime.timedelta(hours=1))
                   .not_valid_after(self.now + datetime.timedelta(days=10))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client
                                                         else ExtendedKeyUsageOID.SERVER_AUTH]),
                                  critical=False))
        if ips:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]),
                critical=False)
        self._write(name, builder.sign(issuer_key, hashes.SHA256()), key)
