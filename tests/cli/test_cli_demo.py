"""``glasstls demo`` through the real command line: every option exits 0, shows each
handshake step in order from both sides, and reports what the engine negotiated."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import is_subsequence, run_glasstls

C, S = "client", "server"
SENT, RECEIVED, LOCAL = "sent", "received", "local"

# Each side's steps in order, for a full handshake, an HTTP exchange and close. In TLS
# 1.3 certificates go compressed: both sides offer brotli (RFC 8879).
CLIENT_13 = [
    (C, SENT, "ClientHello"), (C, RECEIVED, "ServerHello"), (C, LOCAL, "KeyExchange"),
    (C, LOCAL, "KeyDerivation"), (C, RECEIVED, "EncryptedExtensions"),
    (C, RECEIVED, "CompressedCertificate"), (C, LOCAL, "CertificateVerification"),
    (C, RECEIVED, "CertificateVerify"), (C, RECEIVED, "Finished"), (C, LOCAL, "KeyDerivation"),
    (C, SENT, "Finished"), (C, LOCAL, "Established"), (C, SENT, "ApplicationData"),
    (C, RECEIVED, "ApplicationData"), (C, RECEIVED, "Close"), (C, SENT, "Close"),
]
SERVER_13 = [
    (S, RECEIVED, "ClientHello"), (S, SENT, "ServerHello"), (S, LOCAL, "KeyExchange"),
    (S, LOCAL, "KeyDerivation"), (S, SENT, "EncryptedExtensions"),
    (S, SENT, "CompressedCertificate"), (S, SENT, "CertificateVerify"), (S, SENT, "Finished"),
    (S, RECEIVED, "Finished"),
    (S, LOCAL, "Established"), (S, RECEIVED, "ApplicationData"), (S, SENT, "ApplicationData"),
    (S, SENT, "Close"),
]
CLIENT_13_MUTUAL = [
    (C, RECEIVED, "CertificateRequest"), (C, RECEIVED, "CompressedCertificate"),
    (C, LOCAL, "CertificateVerification"), (C, RECEIVED, "Finished"),
    (C, SENT, "CompressedCertificate"),
    (C, SENT, "CertificateVerify"), (C, SENT, "Finished"), (C, LOCAL, "Established"),
]
SERVER_13_MUTUAL = [
    (S, SENT, "CertificateRequest"), (S, SENT, "Finished"),
    (S, RECEIVED, "CompressedCertificate"),
    (S, LOCAL, "CertificateVerification"), (S, RECEIVED, "CertificateVerify"),
    (S, RECEIVED, "Finished"), (S, LOCAL, "Established"),
]
CLIENT_13_RETRY = [
    (C, SENT, "ClientHello"), (C, RECEIVED, "HelloRetryRequest"), (C, SENT, "ClientHello"),
    (C, RECEIVED, "ServerHello"), (C, LOCAL, "KeyExchange"), (C, LOCAL, "Established"),
]
SERVER_13_RETRY = [
    (S, RECEIVED, "ClientHello"), (S, SENT, "HelloRetryRequest"), (S, RECEIVED, "ClientHello"),
    (S, SENT, "ServerHello"), (S, LOCAL, "Established"),
]
CLIENT_12 = [
    (C, SENT, "ClientHello"), (C, RECEIVED, "ServerHello"), (C, RECEIVED, "Certificate"),
    (C, LOCAL, "CertificateVerification"), (C, RECEIVED, "ServerKeyExchange"),
    (C, RECEIVED, "ServerHelloDone"), (C, SENT, "ClientKeyExchange"), (C, LOCAL, "KeyExchange"),
    (C, LOCAL, "KeyDerivation"), (C, SENT, "ChangeCipherSpec"), (C, SENT, "Finished"),
    (C, RECEIVED, "ChangeCipherSpec"), (C, RECEIVED, "Finished"), (C, LOCAL, "Established"),
    (C, SENT, "ApplicationData"), (C, RECEIVED, "ApplicationData"), (C, RECEIVED, "Close"),
]
SERVER_12 = [
    (S, RECEIVED, "ClientHello"), (S, SENT, "ServerHello"), (S, SENT, "Certificate"),
    (S, SENT, "ServerKeyExchange"), (S, SENT, "ServerHelloDone"),
    (S, RECEIVED, "ClientKeyExchange"), (S, LOCAL, "KeyExchange"), (S, LOCAL, "KeyDerivation"),
    (S, RECEIVED, "ChangeCipherSpec"), (S, RECEIVED, "Finished"), (S, SENT, "ChangeCipherSpec"),
    (S, SENT, "Finished"), (S, LOCAL, "Established"), (S, RECEIVED, "ApplicationData"),
    (S, SENT, "ApplicationData"), (S, SENT, "Close"),
]
CLIENT_12_RSA = [
    (C, SENT, "ClientHello"), (C, RECEIVED, "ServerHello"), (C, RECEIVED, "Certificate"),
    (C, LOCAL, "CertificateVerification"), (C, RECEIVED, "ServerHelloDone"),
    (C, SENT, "ClientKeyExchange"), (C, LOCAL, "KeyDerivation"), (C, SENT, "Finished"),
    (C, RECEIVED, "Finished"), (C, LOCAL, "Established"), (C, SENT, "ApplicationData"),
]
SERVER_12_RSA = [
    (S, RECEIVED, "ClientHello"), (S, SENT, "ServerHello"), (S, SENT, "Certificate"),
    (S, SENT, "ServerHelloDone"), (S, RECEIVED, "ClientKeyExchange"),
    (S, LOCAL, "KeyDerivation"), (S, RECEIVED, "Finished"), (S, SENT, "Finished"),
    (S, LOCAL, "Established"),
]
CLIENT_12_MUTUAL = [
    (C, RECEIVED, "CertificateRequest"), (C, RECEIVED, "ServerHelloDone"),
    (C, SENT, "Certificate"), (C, SENT, "ClientKeyExchange"), (C, SENT, "CertificateVerify"),
    (C, SENT, "Finished"), (C, LOCAL, "Established"),
]

# options -> (client steps, server steps, expected negotiated values)
CASES: dict[str, tuple[list[Any], list[Any], dict[str, Any]]] = {
    "": (CLIENT_13, SERVER_13, {"version": "TLSv1.3", "group": "X25519MLKEM768"}),
    "--tls1.3": (CLIENT_13, SERVER_13, {"version": "TLSv1.3"}),
    "--tls1.2": (CLIENT_12, SERVER_12, {"version": "TLSv1.2", "group": "x25519"}),
    "--tls1.2 --rsa-key-exchange": (CLIENT_12_RSA, SERVER_12_RSA, {
        "version": "TLSv1.2", "key_exchange": "RSA", "group": None,
        "cipher_suite": "TLS_RSA_WITH_AES_128_GCM_SHA256"}),
    "--rsa-key-exchange": (CLIENT_12_RSA, SERVER_12_RSA, {"version": "TLSv1.2",
                                                          "key_exchange": "RSA"}),
    "--mutual": (CLIENT_13_MUTUAL, SERVER_13_MUTUAL, {"version": "TLSv1.3"}),
    "--tls1.2 --mutual": (CLIENT_12_MUTUAL, SERVER_12, {"version": "TLSv1.2"}),
    "--group secp256r1": (CLIENT_13_RETRY, SERVER_13_RETRY, {"version": "TLSv1.3",
                                                             "group": "secp256r1"}),
    "--tls1.2 --group secp384r1": (CLIENT_12, SERVER_12, {"version": "TLSv1.2",
                                                          "group": "secp384r1"}),
    "--suite TLS_CHACHA20_POLY1305_SHA256": (CLIENT_13, SERVER_13, {
        "cipher_suite": "TLS_CHACHA20_POLY1305_SHA256"}),
    "--suite ECDHE-RSA-AES256-GCM-SHA384": (CLIENT_12, SERVER_12, {
        "version": "TLSv1.2", "cipher_suite": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}),
}


def demo_json(options: str, *extra: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    result = run_glasstls("demo", "--json", *options.split(), *extra)
    assert result.code == 0, result.describe()
    lines = result.json_lines()
    assert lines[0]["event"] == "demo" and lines[-1]["event"] == "summary", result.describe()
    return lines, lines[-1]


def trace_of(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["event"] == "trace"]


def steps(trace: list[dict[str, Any]], side: str) -> list[tuple[str, str, str]]:
    return [(e["side"], e["action"], e["step"]) for e in trace if e["side"] == side]


def first(trace: list[dict[str, Any]], side: str, action: str, step: str) -> dict[str, Any]:
    return next(e for e in trace if (e["side"], e["action"], e["step"]) == (side, action, step))


@pytest.mark.parametrize("options", list(CASES), ids=lambda o: o or "default")
def test_demo_shows_every_step_in_order_and_the_negotiated_parameters(options: str) -> None:
    client_steps, server_steps, expected = CASES[options]
    lines, summary = demo_json(options)
    trace = trace_of(lines)
    assert is_subsequence(client_steps, steps(trace, C)), steps(trace, C)
    assert is_subsequence(server_steps, steps(trace, S)), steps(trace, S)
    # Time order, and each message is received after it was sent.
    timestamps = [e["timestamp"] for e in trace]
    assert timestamps == sorted(timestamps)
    for index, event in enumerate(trace):
        assert event["direction"] in ("client->server", "server->client", "")
        if event["action"] == RECEIVED and event["step"] not in ("Alert", "Close"):
            sender = "server" if event["side"] == C else "client"
            assert any((e["side"], e["action"], e["step"]) == (sender, SENT, event["step"])
                       for e in trace[:index]), event["step"]
    # The summary is the engine's HandshakeComplete, the same on both sides...
    negotiated, server_negotiated = summary["negotiated"], summary["server_negotiated"]
    for key, value in expected.items():
        if key == "key_exchange":
            assert negotiated[key] == value
        else:
            assert negotiated[key] == value, (key, negotiated)
    for key in ("version", "cipher_suite", "key_exchange", "group", "signature_scheme"):
        assert negotiated[key] == server_negotiated[key], key
    # ...and agrees with what the trace showed.
    for side in (C, S):
        established = first(trace, side, LOCAL, "Established")["details"]
        for key in ("version", "cipher_suite", "group", "signature_scheme"):
            assert established[key] == negotiated[key], (side, key)
    server_hello = first(trace, C, RECEIVED, "ServerHello")["details"]
    assert server_hello["cipher_suite"] == negotiated["cipher_suite"]
    assert server_hello["version"].replace(" ", "v") == negotiated["version"]
    assert summary["ok"] is True and summary["keys_match"] is True
    assert summary["bytes"]["client_to_server"] > 0 and summary["bytes"]["server_to_client"] > 0
    timed = {entry["step"] for entry in summary["time_per_step_ms"]}
    assert {"ClientHello", "ServerHello", "Established"} <= timed
    assert summary["authenticated"] == {"server": True, "client": "--mutual" in options}
    assert not any("secrets" in e for e in trace), "secret values without --show-secrets"
    exchanges = [line for line in lines if line["event"] == "exchange"]
    assert [x["title"] for x in exchanges] == ["HTTP request", "HTTP response"]
    assert "HTTP/1.1 200 OK" in exchanges[1]["text"]
    assert negotiated["cipher_suite"] in exchanges[1]["text"]


def test_client_hello_trace_names_what_the_client_offered() -> None:
    lines, _ = demo_json("")
    hello = first(trace_of(lines), C, SENT, "ClientHello")["details"]
    assert hello["supported_versions"] == ["TLS 1.3", "TLS 1.2"]
    assert "TLS_AES_128_GCM_SHA256" in hello["cipher_suites"]
    assert hello["supported_groups"][0] == "X25519MLKEM768"
    assert {"group": "X25519MLKEM768", "bytes": 1216} in hello["key_shares"]
    assert "ecdsa_secp256r1_sha256" in hello["signature_algorithms"]
    assert len(hello["random"]) == 64
    received = first(trace_of(lines), C, RECEIVED, "CompressedCertificate")["details"]
    assert received["algorithm"] == "brotli"
    assert received["compressed_length"] < received["uncompressed_length"]
    certificate = received["chain"][0]
    assert certificate["subject"].startswith("CN=localhost")
    assert certificate["issuer"].startswith("CN=glasstls demo CA")
    assert certificate["key"] == "ECDSA secp256r1"
    assert set(certificate["san"]) == {"localhost", "127.0.0.1"}
    verification = first(trace_of(lines), C, LOCAL, "CertificateVerification")["details"]
    assert verification["result"] == "ok" and verification["host_name"] == "localhost"
    exchange = first(trace_of(lines), C, LOCAL, "KeyExchange")["details"]
    assert exchange == {"group": "X25519MLKEM768", "hybrid": True, "client_share_bytes": 1216,
                        "server_share_bytes": 1120, "shared_secret_bytes": 64}


def test_text_output_has_the_same_steps_as_json() -> None:
    text = run_glasstls("demo")
    assert text.code == 0, text.describe()
    lines, _ = demo_json("")
    for side in (C, S):
        text_side = [s for s in text.text_steps() if s[0] == side]
        json_side = steps(trace_of(lines), side)
        cut = json_side.index((side, LOCAL, "Established")) + 1
        assert text_side[:cut] == json_side[:cut]
    assert "\x1b[" not in text.stdout, "colour codes on a pipe"
    for words in ("HTTP request", "HTTP response", "Summary", "time per step",
                  "client and server derived the same values", "--show-secrets"):
        assert words in text.stdout


def test_rsa_key_exchange_shows_the_encrypted_pre_master_secret_and_matching_keys() -> None:
    text = run_glasstls("demo", "--tls1.2", "--rsa-key-exchange")
    assert text.code == 0, text.describe()
    out = text.stdout
    assert "encrypts it to the server's RSA public key" in out
    assert "encrypted pre master secret (256 bytes)" in out
    assert "decrypts the pre-master secret with its RSA private key" in out
    # Without --show-secrets: fingerprints, equal on both sides, and no values.
    prints = re.findall(r"pre_master_secret\s+fingerprint (\w+)", out)
    assert len(prints) == 2 and prints[0] == prints[1], out
    masters = re.findall(r"master_secret\s+48 bytes\s+fingerprint (\w+)", out)
    assert len(masters) == 2 and masters[0] == masters[1]
    assert "client and server derived the same values" in out
    assert "RSA key transport" in out and "no forward secrecy" in out
    assert re.search(r"\b[0-9a-f]{96}\b", out) is None, "a 48-byte secret was printed"


def test_show_secrets_prints_the_values_and_both_sides_match(tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    lines, summary = demo_json("--tls1.2 --rsa-key-exchange", "--show-secrets",
                               "--keylog", str(keylog))
    trace = trace_of(lines)
    client_exchange = first(trace, C, SENT, "ClientKeyExchange")
    server_exchange = first(trace, S, RECEIVED, "ClientKeyExchange")
    assert client_exchange["details"]["encrypted_pre_master_secret"] == server_exchange[
        "details"]["encrypted_pre_master_secret"]
    pre_master = client_exchange["secrets"]["pre_master_secret"]
    assert len(pre_master) == 96 and pre_master == server_exchange["secrets"][
        "pre_master_secret"]
    client_keys = first(trace, C, LOCAL, "KeyDerivation")["secrets"]
    server_keys = first(trace, S, LOCAL, "KeyDerivation")["secrets"]
    assert client_keys == server_keys
    assert set(client_keys) >= {"master_secret", "client_write_key", "server_write_key"}
    assert summary["keys_match"] is True
    # The key log is the same master secret, under the client random.
    client_random = first(trace, C, SENT, "ClientHello")["details"]["random"]
    assert keylog.read_text().split() == ["CLIENT_RANDOM", client_random,
                                          client_keys["master_secret"]]


def test_show_secrets_in_text_prints_the_traffic_secrets_twice() -> None:
    text = run_glasstls("demo", "--show-secrets")
    assert text.code == 0, text.describe()
    secrets = re.findall(r"client_handshake_traffic_secret\s+32 bytes\s+([0-9a-f]{64})",
                         text.stdout)
    assert len(secrets) == 2 and secrets[0] == secrets[1]
    assert "the values above match" in text.stdout


def test_keylog_without_show_secrets_writes_tls13_secrets(tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    lines, _ = demo_json("", "--keylog", str(keylog))
    labels = [line.split()[0] for line in keylog.read_text().splitlines()]
    assert {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"} <= set(labels)
    random = first(trace_of(lines), C, SENT, "ClientHello")["details"]["random"]
    assert all(line.split()[1] == random for line in keylog.read_text().splitlines())


@pytest.mark.parametrize(("options", "message"), [
    ("--tls1.3 --rsa-key-exchange", "only in TLS 1.2"),
    ("--tls1.2 --group X25519MLKEM768", "only by TLS 1.3"),
    ("--tls1.3 --suite TLS_RSA_WITH_AES_128_GCM_SHA256", "only in TLS 1.2"),
    ("--tls1.2 --suite TLS_AES_128_GCM_SHA256", "TLS 1.3 suite"),
])
def test_demo_refuses_options_that_do_not_fit_together(options: str, message: str) -> None:
    result = run_glasstls("demo", *options.split())
    assert result.code == 2, result.describe()
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_unknown_group_is_a_usage_error() -> None:
    result = run_glasstls("demo", "--group", "p-521")
    assert result.code == 2 and "unknown group" in result.stderr


def test_the_installed_console_script_runs_the_demo() -> None:
    script = Path(sys.executable).with_name("glasstls")
    if not script.exists():
        found = shutil.which("glasstls")
        if found is None:
            pytest.skip("the glasstls console script is not installed")
        script = Path(found)
    result = run_glasstls(argv=[str(script), "demo", "--tls1.2"])
    assert result.code == 0, result.describe()
    assert "TLSv1.2" in result.stdout and "Summary" in result.stdout


@pytest.mark.parametrize("version", ["--tls1.3", "--tls1.2"])
def test_ocsp_staples_a_response_from_the_demo_ca_that_the_client_requires(
        version: str) -> None:
    lines, summary = demo_json(f"--ocsp {version}")
    trace = trace_of(lines)
    assert summary["negotiated"]["ocsp_status"] == "good"
    check = first(trace, C, LOCAL, "OCSPStatus")["details"]
    assert (check["result"], check["status"], check["responder"]) == ("ok", "good",
                                                                     "the issuer")
    # The server's trace says what it vouches with, on the message that carries it.
    carrier = "CertificateStatus" if version == "--tls1.2" else "CompressedCertificate"
    sent = first(trace, S, SENT, carrier)["details"]
    assert sent["staple_status"] == "good" and sent["staple_serial"] == check["serial"]
    assert sent["staple_responder"] == "CN=glasstls demo CA,O=glasstls development"
    text = run_glasstls("demo", "--ocsp", version)
    assert text.code == 0, text.describe()
    assert re.search(r"OCSP staple +checked by the client: serial [0-9a-f]+ is good; "
                     r"responder CN=glasstls demo CA", text.stdout + text.stderr)
