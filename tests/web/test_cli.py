"""``glasstls serve`` as a command: what it prints, the development certificate,
its per-connection log, its errors and exit codes, stopping."""

from __future__ import annotations

import base64
import hashlib
import socket
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import glasstls
from glasstls import ClientConfig, TrustStore
from glasstls.cli import exitcodes
from glasstls.cli.main import build_parser

from .webclient import PATIENCE, get, serve_argv, serve_command, serve_environment


def test_serve_is_a_command() -> None:
    help_text = build_parser().format_help()
    assert "serve" in help_text


def test_without_arguments_it_prints_the_url_and_how_to_trust_the_ca(tmp_path: Path) -> None:
    with serve_command(tmp_path) as served:
        banner = served.banner
        url = served.url
        ca = tmp_path / "ca.pem"
        # The development PKI was made in the state directory.
        assert ca.exists() and (tmp_path / "cert.pem").exists()
        assert url == f"https://localhost:{served.port}/"
        assert f"{url}api/handshake" in banner
        assert f"curl --cacert {ca} {url}api/handshake" in banner
        assert "--ignore-certificate-errors-spki-list=" in banner
        leaf = x509.load_pem_x509_certificate((tmp_path / "cert.pem").read_bytes())
        spki = leaf.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
        assert served.spki_pin == base64.b64encode(hashlib.sha256(spki).digest()).decode()
        # Trusting that CA is enough to fetch the page.
        config = ClientConfig(trust=TrustStore.from_pem_file(ca))
        with glasstls.connect(("127.0.0.1", served.port), config=config,
                              server_hostname="localhost", timeout=PATIENCE) as sock:
            response = get(sock, "/")
        assert response.status == 200 and "Your browser\u2019s handshake" in response.text
        # One line for the connection, one for the request.
        served.wait_for_line(r"^127\.0\.0\.1:\d+ TLSv1\.3 TLS_\S+ X25519MLKEM768 JA4 t13d")
        served.wait_for_line(r"^127\.0\.0\.1:\d+ GET / 200$")
        assert served.stop() == exitcodes.OK  # SIGTERM: a clean stop


def test_the_development_certificate_is_reused(tmp_path: Path) -> None:
    with serve_command(tmp_path, "--quiet"):
        first = (tmp_path / "cert.pem").read_bytes()
    with serve_command(tmp_path, "--quiet"):
        assert (tmp_path / "cert.pem").read_bytes() == first


def test_quiet_prints_only_the_url(tmp_path: Path) -> None:
    with serve_command(tmp_path, "--quiet") as served:
        config = ClientConfig(trust=TrustStore.from_pem_file(tmp_path / "ca.pem"))
        with glasstls.connect(("127.0.0.1", served.port), config=config,
                              server_hostname="localhost", timeout=PATIENCE) as sock:
            assert get(sock, "/").status == 200
        served.stop()
        assert served.output.splitlines() == [
            f"glasstls serve: your browser's handshake at {served.url}"]


def test_own_certificate_files(tmp_path: Path) -> None:
    from pki import pki

    files = pki().write(tmp_path / "pki")
    with serve_command(tmp_path / "state", "--cert", str(files["cert"]), "--key",
                       str(files["key"])) as served:
        assert "SPKI pin" in served.banner
        assert not (tmp_path / "state" / "ca.pem").exists()
        config = ClientConfig(trust=pki().trust)
        with glasstls.connect(("127.0.0.1", served.port), config=config,
                              server_hostname="localhost", timeout=PATIENCE) as sock:
            report = get(sock, "/api/handshake").json()
        assert report["certificate_chain"][0]["serial"] == format(
            pki().leaf.certificate.serial_number, "x")


def run_serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(serve_argv(*args), capture_output=True, text=True,
                          timeout=PATIENCE, env=serve_environment(tmp_path), check=False)


@pytest.mark.parametrize(("arguments", "message"), [
    (("--cert", "missing.pem"), "missing.pem"),
    (("--key", "key.pem"), "--key needs --cert"),
    (("--ocsp-response", "none.ocsp"), "no OCSP response file at none.ocsp"),
    (("--certificate-compression", "lz4"), "unknown certificate compression algorithm 'lz4'"),
])
def test_bad_arguments_are_usage_errors(tmp_path: Path, arguments: tuple[str, ...],
                                        message: str) -> None:
    result = run_serve(tmp_path, *arguments, "--port", "0")
    assert result.returncode == exitcodes.USAGE
    assert message in result.stderr


def test_port_in_use_is_a_network_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_serve(tmp_path, "--port", str(port))
    assert result.returncode == exitcodes.NETWORK
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_ocsp_response_is_stapled_and_shown_and_compression_follows_its_flag(
        tmp_path: Path) -> None:
    from helpers import ocsp as make_ocsp
    from pki import pki

    files = pki().write(tmp_path / "pki")
    staple = make_ocsp.write(tmp_path / "leaf.ocsp", make_ocsp.response(
        pki().ca, pki().leaf.certificate))
    with serve_command(tmp_path / "state", "--cert", str(files["cert"]), "--key",
                       str(files["key"]), "--ocsp-response", str(staple),
                       "--certificate-compression", "zlib") as served:
        config = ClientConfig(trust=pki().trust, ocsp_stapling="require")
        with glasstls.connect(("127.0.0.1", served.port), config=config,
                              server_hostname="localhost", timeout=PATIENCE) as sock:
            assert sock.negotiated is not None and sock.negotiated.ocsp_status == "good"
            assert sock.negotiated.certificate_compression == "zlib"
            report = get(sock, "/api/handshake").json()
    assert report["negotiated"]["ocsp_staple"]["status"] == "good"
    assert report["negotiated"]["certificate_compression"]["algorithm"] == "zlib"


def test_an_unusable_ocsp_response_is_a_warning_not_an_error(tmp_path: Path) -> None:
    from helpers import ocsp as make_ocsp
    from pki import pki

    files = pki().write(tmp_path / "pki")
    # For another certificate: never stapled for this one, and serve says so.
    foreign = make_ocsp.write(tmp_path / "other.ocsp", make_ocsp.response(
        pki().ca, pki().client.certificate))
    with serve_command(tmp_path / "state", "--cert", str(files["cert"]), "--key",
                       str(files["key"]), "--ocsp-response", str(foreign)) as served:
        served.wait_for_line(r"^glasstls serve: warning: --ocsp-response .*other\.ocsp: the "
                             r"OCSP response is not stapled: it is not for this certificate")
        config = ClientConfig(trust=pki().trust, ocsp_stapling="request")
        with glasstls.connect(("127.0.0.1", served.port), config=config,
                              server_hostname="localhost", timeout=PATIENCE) as sock:
            assert sock.negotiated is not None and sock.negotiated.ocsp_response == b""
            assert get(sock, "/api/handshake").json()["negotiated"]["ocsp_staple"] is None
