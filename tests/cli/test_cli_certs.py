"""``glasstls certs``: a development CA and certificates in a folder that glasstls
(and anything else) accepts once the CA is trusted."""

from __future__ import annotations

import ipaddress
import json
import stat
from pathlib import Path

from cli_helpers import run_glasstls
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from glasstls import CertifiedKey, ClientConfig, ServerConfig, TrustStore
from helpers.pump import Pair


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_default_certificate_for_localhost_and_how_to_trust_the_ca(tmp_path: Path) -> None:
    result = run_glasstls("certs", "--dir", str(tmp_path))
    assert result.code == 0, result.describe()
    ca, cert = tmp_path / "ca.pem", tmp_path / "localhost+2.pem"
    key = tmp_path / "localhost+2-key.pem"
    san = load(cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
    assert load(cert).issuer == load(ca).subject
    for private in (key, tmp_path / "ca-key.pem"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    for words in ("Created the CA", f"--cafile {ca}", f"curl --cacert {ca}",
                  f"SSL_CERT_FILE={ca}", "Keep", "private"):
        assert words in result.stdout


def test_the_ca_is_reused_and_files_are_not_overwritten_without_force(tmp_path: Path) -> None:
    first = run_glasstls("certs", "--dir", str(tmp_path), "api.test", "10.1.2.3", "--json")
    assert first.code == 0, first.describe()
    written = json.loads(first.stdout)
    assert written["ca_created"] is True and written["names"] == ["api.test", "10.1.2.3"]
    ca_before = (tmp_path / "ca.pem").read_bytes()
    second = run_glasstls("certs", "--dir", str(tmp_path), "other.test", "--key-type",
                          "rsa-2048", "--days", "30")
    assert second.code == 0 and "Reused the CA" in second.stdout, second.describe()
    assert (tmp_path / "ca.pem").read_bytes() == ca_before
    again = run_glasstls("certs", "--dir", str(tmp_path), "api.test", "10.1.2.3")
    assert again.code == 2 and "already exists" in again.stderr
    forced = run_glasstls("certs", "--dir", str(tmp_path), "api.test", "10.1.2.3", "--force")
    assert forced.code == 0, forced.describe()
    leaf = load(tmp_path / "other.test.pem")
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert 29 <= lifetime.days <= 31
    assert leaf.public_key().key_size == 2048  # type: ignore[union-attr]


def test_client_certificates_are_for_client_authentication(tmp_path: Path) -> None:
    result = run_glasstls("certs", "--dir", str(tmp_path), "--client", "alice")
    assert result.code == 0, result.describe()
    usage = load(tmp_path / "alice-client.pem").extensions.get_extension_for_class(
        x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_a_glasstls_handshake_accepts_the_files(tmp_path: Path) -> None:
    assert run_glasstls("certs", "--dir", str(tmp_path), "app.test").code == 0
    assert run_glasstls("certs", "--dir", str(tmp_path), "--client", "bob").code == 0
    trust = TrustStore.from_pem_file(tmp_path / "ca.pem")
    server = ServerConfig(
        certificates=(CertifiedKey.from_files(tmp_path / "app.test.pem",
                                              tmp_path / "app.test-key.pem"),),
        client_auth="required", client_trust=trust)
    client = ClientConfig(trust=trust, certificate=CertifiedKey.from_files(
        tmp_path / "bob-client.pem", tmp_path / "bob-client-key.pem"))
    pair = Pair(client, server, server_name="app.test").pump()
    assert pair.complete, (pair.client.error, pair.server.error)
    assert pair.server.negotiated.peer_certificates


def test_a_broken_ca_in_the_folder_is_reported(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate")
    (tmp_path / "ca-key.pem").write_text("not a key")
    result = run_glasstls("certs", "--dir", str(tmp_path))
    assert result.code == 2 and "cannot reuse the CA" in result.stderr, result.describe()


def test_names_that_are_not_dns_names_or_addresses_are_refused(tmp_path: Path) -> None:
    for bad in ("bad name!", "trailing-.example", "a..b", "x" * 64 + ".example", "*"):
        result = run_glasstls("certs", "--dir", str(tmp_path), bad)
        assert result.code == 2, result.describe()
        assert f"{bad!r} is not a DNS name or IP address" in result.stderr
    assert not (tmp_path / "ca.pem").exists()  # nothing was written
    ok = run_glasstls("certs", "--dir", str(tmp_path), "*.app.test", "app-1.test", "::1")
    assert ok.code == 0, ok.describe()


def test_a_leaf_never_outlives_its_ca(tmp_path: Path) -> None:
    result = run_glasstls("certs", "--dir", str(tmp_path), "--ca-days", "30", "--days",
                          "400", "--json")
    assert result.code == 0, result.describe()
    assert json.loads(result.stdout)["capped_at_ca_expiry"] is True
    ca, leaf = load(tmp_path / "ca.pem"), load(tmp_path / "localhost+2.pem")
    assert leaf.not_valid_after_utc == ca.not_valid_after_utc
    text = run_glasstls("certs", "--dir", str(tmp_path), "app.test", "--days", "400")
    assert "capped at the CA's expiry" in text.stdout, text.describe()


def test_the_trust_hints_name_the_right_variables_and_the_issued_name(tmp_path: Path) -> None:
    result = run_glasstls("certs", "--dir", str(tmp_path), "myapp.test")
    assert result.code == 0, result.describe()
    ca = tmp_path / "ca.pem"
    assert f"Python requests:  REQUESTS_CA_BUNDLE={ca}" in result.stdout
    assert f"--servername myapp.test --cafile {ca}" in result.stdout
    assert "--resolve myapp.test:8443:127.0.0.1 https://myapp.test:8443/" in result.stdout
    assert "localhost:8443" not in result.stdout
