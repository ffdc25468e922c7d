"""TLS through the real binary: the one HTTP client trusts Mozilla's roots
compiled in, plus the certificates of SSL_CERT_FILE, and nothing else.

An Alpha Vantage stand-in serves HTTPS with a certificate from a test CA made
here: with the CA in SSL_CERT_FILE the function gets its rows; without it the
certificate is unknown and the call fails as `upstream_failed`, so the key is
never sent to a server the function cannot authenticate."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl

import pytest
from conftest import SECRET, SENTINEL
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from test_behaviour import quote

from emulators import alpha_vantage as av


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca_and_server(tmp_path):
    """A test CA and a server certificate for 127.0.0.1 it signed; returns
    (ca.pem, server cert chain path, server key path)."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("secret-fetch test CA")).issuer_name(_name("secret-fetch test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_pem = tmp_path / "ca.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = tmp_path / "server.pem"
    chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path = tmp_path / "server.key"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca_pem, chain, key_path


@pytest.fixture
def https_alpha_vantage(tmp_path):
    ca_pem, chain, key_path = make_ca_and_server(tmp_path)
    server = av.make_server("127.0.0.1", 0, [SENTINEL])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.start("alpha-vantage-https")
    port = server.server_address[1]
    yield f"https://127.0.0.1:{port}/query", ca_pem, server.state
    server.shutdown()


def test_a_private_ca_in_ssl_cert_file_is_trusted(stack, https_alpha_vantage):
    url, ca_pem, state = https_alpha_vantage
    fn = stack.start_function(env={"ALPHA_VANTAGE_SECRET": SECRET, "ALPHA_VANTAGE_BASE_URL": url,
                                   "SSL_CERT_FILE": str(ca_pem)})
    try:
        failed, body = fn.invoke(quote("IBM"))
        assert not failed, body
        assert body["rows"][0]["symbol"] == "IBM"
    finally:
        fn.stop()


def test_an_unknown_certificate_authority_is_refused_before_the_key_is_sent(stack, https_alpha_vantage):
    url, _, state = https_alpha_vantage
    fn = stack.start_function(env={"ALPHA_VANTAGE_SECRET": SECRET, "ALPHA_VANTAGE_BASE_URL": url})
    try:
        before = state.stats()
        failed, body = fn.invoke(quote("IBM"))
        assert failed and body["errorType"] == "upstream_failed", body
        assert state.stats() == before, "no request got through the handshake"
    finally:
        fn.stop()


def test_an_unreadable_ssl_cert_file_stops_the_function_at_start_up(stack, tmp_path):
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate")
    fn = stack.start_function(env={"ALPHA_VANTAGE_SECRET": SECRET, "SSL_CERT_FILE": str(bogus)})
    try:
        fn.proc.wait(10)
        assert fn.proc.returncode != 0
        assert "SSL_CERT_FILE" in fn.output()
    finally:
        fn.stop()


def amazon_linux_2023_trust_store(root, extra_ca_pem):
    """The CA layout of Amazon Linux 2023 (and so of provided:al2023) under
    `root`: the extracted PEM bundle, OpenSSL's trust-format bundle beside
    it, and the symlinks OpenSSL-era software opens (`/etc/pki/tls/cert.pem`,
    `/etc/pki/tls/certs/ca-bundle.crt`, `ca-bundle.trust.crt`). The bundle
    is Mozilla's roots (certifi's copy, the same lineage) plus `extra_ca_pem`.
    """
    import certifi

    extracted = root / "etc/pki/ca-trust/extracted"
    (extracted / "pem").mkdir(parents=True)
    (extracted / "openssl").mkdir(parents=True)
    ca = extra_ca_pem.read_text()
    bundle = extracted / "pem/tls-ca-bundle.pem"
    bundle.write_text(open(certifi.where()).read() + "\n# secret-fetch test CA\n" + ca)
    body = ca.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    (extracted / "openssl/ca-bundle.trust.crt").write_text(
        "# secret-fetch test CA\n-----BEGIN TRUSTED CERTIFICATE-----" + body + "-----END TRUSTED CERTIFICATE-----\n")
    certs = root / "etc/pki/tls/certs"
    certs.mkdir(parents=True)
    (certs / "ca-bundle.crt").symlink_to("../../ca-trust/extracted/pem/tls-ca-bundle.pem")
    (certs / "ca-bundle.trust.crt").symlink_to("../../ca-trust/extracted/openssl/ca-bundle.trust.crt")
    (root / "etc/pki/tls/cert.pem").symlink_to("../ca-trust/extracted/pem/tls-ca-bundle.pem")
    return root / "etc/pki"


def test_the_amazon_linux_2023_system_bundle_can_be_named(stack, https_alpha_vantage, tmp_path):
    """SSL_CERT_FILE=/etc/pki/tls/certs/ca-bundle.crt on provided:al2023 (a
    symlink to the extracted bundle of ~120-150 roots) adds that bundle."""
    url, ca_pem, _ = https_alpha_vantage
    pki = amazon_linux_2023_trust_store(tmp_path / "al2023", ca_pem)
    for name in ("tls/certs/ca-bundle.crt", "tls/cert.pem"):
        fn = stack.start_function(env={"ALPHA_VANTAGE_SECRET": SECRET, "ALPHA_VANTAGE_BASE_URL": url,
                                       "SSL_CERT_FILE": str(pki / name)})
        try:
            failed, body = fn.invoke(quote("IBM"))
            assert not failed, (name, body)
            assert body["rows"][0]["symbol"] == "IBM"
        finally:
            fn.stop()


def test_the_openssl_trust_format_bundle_is_refused_with_the_file_to_use(stack, https_alpha_vantage, tmp_path):
    """Amazon Linux's ca-bundle.trust.crt holds only OpenSSL TRUSTED
    CERTIFICATE blocks, which no rustls loader reads: naming it stops the
    function at start-up with the bundle to name instead, rather than
    starting with none of the roots the user meant to add."""
    url, ca_pem, _ = https_alpha_vantage
    pki = amazon_linux_2023_trust_store(tmp_path / "al2023", ca_pem)
    fn = stack.start_function(env={"ALPHA_VANTAGE_SECRET": SECRET, "ALPHA_VANTAGE_BASE_URL": url,
                                   "SSL_CERT_FILE": str(pki / "tls/certs/ca-bundle.trust.crt")})
    try:
        fn.proc.wait(10)
        assert fn.proc.returncode != 0
        out = fn.output()
        assert "TRUSTED CERTIFICATE" in out and "/etc/pki/tls/certs/ca-bundle.crt" in out, out
    finally:
        fn.stop()


def test_an_empty_ssl_cert_file_leaves_the_compiled_in_roots(stack, https_alpha_vantage, tmp_path):
    """Some AWS images set SSL_CERT_FILE to an empty file (the .NET ones, to
    spare OpenSSL its default load): the function starts, says so, and
    trusts Mozilla's roots only — the test CA's server is still refused."""
    url, _, state = https_alpha_vantage
    empty = tmp_path / "empty-certificates.crt"
    empty.write_text("")
    fn = stack.start_function(env={"ALPHA_VANTAGE_SECRET": SECRET, "ALPHA_VANTAGE_BASE_URL": url,
                                   "SSL_CERT_FILE": str(empty)})
    try:
        before = state.stats()
        failed, body = fn.invoke(quote("IBM"))
        assert failed and body["errorType"] == "upstream_failed", body
        assert state.stats() == before
        assert "SSL_CERT_FILE names an empty file" in fn.output()
    finally:
        fn.stop()
