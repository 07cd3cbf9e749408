"""``glasstls server --ocsp-response`` and ``glasstls client --ocsp``, with
``--certificate-compression`` on both: what each prints, its exit codes, and what a
bad argument says. Both ends are the commands, as a person would run them."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from cli_helpers import Result, Start, run_glasstls, start_glasstls_server, stop

from glasstls.cli import exitcodes
from helpers import ocsp as make_ocsp
from interop.processes import PeerProcess
from pki import pki

TEST_PKI = pki("ecdsa-p256")


def staple(tmp_path: Path, status: str) -> Path:
    return make_ocsp.write(tmp_path / f"{status}.ocsp", make_ocsp.response(
        TEST_PKI.ca, TEST_PKI.leaf.certificate, status))


def server(processes: Start, pem: dict[str, Path], *options: str) -> tuple[PeerProcess, int]:
    return start_glasstls_server(processes, "--cert", str(pem["cert"]), "--key",
                                 str(pem["key"]), *options)


def client(port: int, pem: dict[str, Path], *options: str) -> Result:
    return run_glasstls("client", f"localhost:{port}", "--cafile", str(pem["ca"]),
                        "--http", "/", *options)


@pytest.mark.parametrize("version", ["--tls1.3", "--tls1.2"])
def test_a_good_staple_is_checked_and_shown_by_both_ends(
        processes: Start, pem: dict[str, Path], tmp_path: Path, version: str) -> None:
    process, port = server(processes, pem, "--ocsp-response", str(staple(tmp_path, "good")))
    result = client(port, pem, "--ocsp", "require", version)
    assert result.code == 0, result.describe()
    serial = format(TEST_PKI.leaf.certificate.serial_number, "x")
    responder = TEST_PKI.ca.certificate.subject.rfc4514_string()
    assert re.search(rf"OCSP +stapled response checked: serial {serial} is good; "
                     rf"responder {re.escape(responder)}; this update 20", result.stderr), (
        result.stderr)
    # RFC 8879 is TLS 1.3 only: a TLS 1.2 certificate always goes as it is.
    compressed = re.search(r"compression +the certificate came compressed with brotli",
                           result.stderr)
    assert bool(compressed) == (version == "--tls1.3"), result.stderr
    process.wait_for(r"connected: .*OCSP staple sent \(good\)")
    stop(process)


def test_a_revoked_staple_refuses_the_server(processes: Start, pem: dict[str, Path],
                                             tmp_path: Path) -> None:
    process, port = server(processes, pem, "--ocsp-response",
                           str(staple(tmp_path, "revoked")))
    result = client(port, pem, "--ocsp", "request")
    assert result.code == exitcodes.CERTIFICATE, result.describe()
    assert "revoked" in result.stderr and "certificate_revoked" in result.stderr
    stop(process)


def test_require_refuses_a_server_without_a_staple_and_request_does_not(
        processes: Start, pem: dict[str, Path]) -> None:
    process, port = server(processes, pem)
    refused = client(port, pem, "--ocsp", "require")
    assert refused.code == exitcodes.CERTIFICATE, refused.describe()
    assert "bad_certificate_status_response" in refused.stderr
    accepted = client(port, pem, "--ocsp", "request")
    assert accepted.code == 0, accepted.describe()
    assert "OCSP " not in accepted.stderr  # nothing stapled, nothing to show
    stop(process)


def test_compression_none_and_a_chosen_codec(processes: Start, pem: dict[str, Path]) -> None:
    process, port = server(processes, pem, "--certificate-compression", "zstd,zlib")
    plain = client(port, pem, "--certificate-compression", "none")
    assert plain.code == 0, plain.describe()
    assert "came compressed" not in plain.stderr
    zlib = client(port, pem, "--certificate-compression", "brotli,zlib", "--json")
    assert zlib.code == 0, zlib.describe()
    [connected] = [json.loads(line) for line in (zlib.stdout + zlib.stderr).splitlines()
                   if '"event": "connected"' in line]
    assert connected["certificate_compression"] == "zlib"  # the one both have
    assert connected["ocsp_staple"] is None
    process.wait_for(r"connected: .*certificate compressed with zlib")
    stop(process)


@pytest.mark.parametrize(("command", "arguments", "message"), [
    ("server", ("--ocsp-response", "/nonexistent/leaf.ocsp"),
     "no OCSP response file at /nonexistent/leaf.ocsp"),
    ("server", ("--certificate-compression", "lz4"),
     "unknown certificate compression algorithm 'lz4'"),
    ("client", ("localhost:1", "--certificate-compression", "brotli,brotli"),
     "lists an algorithm twice"),
    ("client", ("localhost:1", "--ocsp", "always"), "invalid choice: 'always'"),
])
def test_bad_stapling_or_compression_arguments_are_usage_errors(
        command: str, arguments: tuple[str, ...], message: str) -> None:
    result = run_glasstls(command, *arguments)
    assert result.code == exitcodes.USAGE, result.describe()
    assert message in result.stderr


def test_an_expired_staple_file_is_a_warning_at_start_and_no_staple(
        processes: Start, pem: dict[str, Path], tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    expired = make_ocsp.write(tmp_path / "expired.ocsp", make_ocsp.response(
        TEST_PKI.ca, TEST_PKI.leaf.certificate, this_update=now - dt.timedelta(days=3),
        next_update=now - dt.timedelta(hours=1)))
    process, port = server(processes, pem, "--ocsp-response", str(expired))
    process.wait_for(rf"--ocsp-response {re.escape(str(expired))}: the OCSP response is not "
                     r"stapled: it has expired; clients that ask get no staple")
    result = client(port, pem, "--ocsp", "request")
    assert result.code == 0, result.describe()
    assert "OCSP " not in result.stderr
    stop(process)
