"""Every command's ``--json`` output, line by line, against docs/json-schema.json:
one key style, machine values, errors as ``{"event": "error"}`` with the exit code."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import Result, Start, glasstls_argv, run_glasstls, s_server
from jsonschema import Draft202012Validator

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "json-schema.json")
                    .read_text())
VALIDATOR = Draft202012Validator(SCHEMA)


def validated(lines: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lines, once each is known to follow the schema."""
    lines = list(lines)
    assert lines, "no JSON lines"
    for line in lines:
        errors = sorted(VALIDATOR.iter_errors(line), key=lambda e: list(e.path))
        assert not errors, f"{line}\n" + "\n".join(e.message for e in errors[:5])
    return lines


def events(result: Result) -> list[str]:
    return [line["event"] for line in validated(result.json_lines())]


def test_the_schema_itself_is_valid() -> None:
    Draft202012Validator.check_schema(SCHEMA)


def test_the_schema_refuses_human_values_and_mixed_key_styles() -> None:
    """The schema is not a rubber stamp: what the issue complained about fails it."""
    good = {"event": "session_saved", "file": "s.bin", "version": "TLSv1.3", "lifetime": 60}
    assert VALIDATOR.is_valid(good)
    for bad in ({**good, "version": "TLS 1.3"}, {**good, "Lifetime": 60},
                {"event": "error", "message": "x", "exit_code": "3"},
                {"event": "data", "data": "x", "ALPN": "none"}):
        assert not VALIDATOR.is_valid(bad), bad


@pytest.mark.parametrize("options", [[], ["--tls1.2", "--rsa-key-exchange", "--mutual"],
                                     ["--ocsp", "--tls1.2"]])
def test_demo(options: list[str]) -> None:
    result = run_glasstls("demo", "--json", *options)
    assert result.code == 0, result.describe()
    kinds = events(result)
    assert kinds[0] == "demo" and kinds[-1] == "summary" and "trace" in kinds


def test_client_and_server_with_everything_on(processes: Start, cli_environment: Path,
                                              tmp_path: Path) -> None:
    server = processes(glasstls_argv("server", "--port", "0", "--json", "--trace",
                                     "--client-auth", "optional"))
    listening = json.loads(server.wait_for(r"^\{.*\"listening\".*\}$").group(0))
    port, ca = listening["port"], str(cli_environment / "ca.pem")
    first = run_glasstls("client", f"localhost:{port}", "--cafile", ca, "--json", "--trace",
                         "--showcerts", "--http", "/", "--sess-out", str(tmp_path / "s.bin"))
    assert first.code == 0, first.describe()
    kinds = events(first)
    assert {"trace", "connected", "certificate_chain", "response", "session_saved"} <= set(kinds)
    connected = next(line for line in first.json_lines() if line["event"] == "connected")
    assert connected["resumed"] is False and connected["alpn"] is None  # server: no ALPN
    assert connected["verified"] is True and connected["version"] == "TLSv1.3"
    assert connected["client_certificate"] == {"requested": True, "sent": False,
                                               "subject": None}
    second = run_glasstls("client", f"localhost:{port}", "--cafile", ca, "--json",
                          "--sess-in", str(tmp_path / "s.bin"), "--tls1.3", stdin="hello")
    assert second.code == 0, second.describe()
    assert [line["resumed"] for line in validated(second.json_lines())
            if line["event"] == "connected"] == [True]
    insecure = run_glasstls("client", f"127.0.0.1:{port}", "--json", "--insecure",
                            "--http", "/", "-o", str(tmp_path / "body"))
    assert events(insecure)[0] == "warning" and "response" in events(insecure)
    refused = run_glasstls("client", f"localhost:{port}", "--json", "--http", "/")
    assert refused.code == 5, refused.describe()  # the development CA is not trusted
    assert events(refused) == ["error"] and refused.json_lines()[0]["exit_code"] == 5
    assert refused.stderr == ""
    server.process.send_signal(signal.SIGINT)
    assert server.wait() == 0, server.describe()
    kinds = [line["event"] for line in validated(
        json.loads(line) for line in server.stdout.splitlines())]
    assert {"listening", "trace", "connected", "closed", "failed", "stopping",
            "stopped"} <= set(kinds)


def test_client_pipe_mode_and_usage_errors(openssl: str, processes: Start,
                                           pem: dict[str, Path]) -> None:
    _, port = s_server(openssl, processes, pem, "TLSv1.2", "-rev", "-naccept", "1")
    result = run_glasstls("client", f"localhost:{port}", "--cafile", str(pem["ca"]),
                          "--json", stdin="abc\n")
    assert result.code == 0, result.describe()
    assert "data" in events(result)
    usage = run_glasstls("client", "localhost:99999", "--json")
    assert usage.code == 2 and events(usage) == ["error"], usage.describe()


def test_server_usage_error_and_certs(tmp_path: Path) -> None:
    server = run_glasstls("server", "--json", "--alpn", "h2")
    assert server.code == 2 and events(server) == ["error"], server.describe()
    issued = run_glasstls("certs", "--dir", str(tmp_path), "--json", "app.test")
    assert issued.code == 0 and events(issued) == ["issued"], issued.describe()
    bad = run_glasstls("certs", "--dir", str(tmp_path), "--json", "bad name!")
    assert bad.code == 2 and events(bad) == ["error"], bad.describe()


def test_serve(processes: Start, cli_environment: Path) -> None:
    served = processes(glasstls_argv("serve", "--port", "0", "--json"))
    line = json.loads(served.wait_for(r"^\{.*\"listening\".*\}$").group(0))
    port = int(line["url"].rsplit(":", 1)[1].rstrip("/"))
    page = run_glasstls("client", f"localhost:{port}", "--cafile",
                        str(cli_environment / "ca.pem"), "--http", "/api/handshake")
    assert page.code == 0, page.describe()
    served.wait_for(r"\"event\": \"log\"")
    served.process.send_signal(signal.SIGTERM)
    assert served.wait() == 0
    assert {"listening", "log"} <= set(line["event"] for line in validated(
        json.loads(text) for text in served.stdout.splitlines()))


def test_client_and_server_with_an_ocsp_staple_and_compression(
        processes: Start, pem: dict[str, Path], tmp_path: Path) -> None:
    from helpers import ocsp as make_ocsp
    from pki import pki

    test_pki = pki("ecdsa-p256")
    staple = make_ocsp.write(tmp_path / "leaf.ocsp", make_ocsp.response(
        test_pki.ca, test_pki.leaf.certificate, "revoked"))
    server = processes(glasstls_argv("server", "--port", "0", "--json", "--trace", "--cert",
                                     str(pem["cert"]), "--key", str(pem["key"]),
                                     "--ocsp-response", str(staple)))
    port = json.loads(server.wait_for(r"^\{.*\"listening\".*\}$").group(0))["port"]
    # --insecure: the certificate is not checked, nor its staple, so the handshake
    # completes and both sides describe a revoked staple.
    client = run_glasstls("client", f"localhost:{port}", "--json", "--trace", "--insecure",
                          "--ocsp", "request", "--http", "/")
    assert client.code == 0, client.describe()
    connected = next(line for line in validated(client.json_lines())
                     if line["event"] == "connected")
    assert connected["certificate_compression"] == "brotli"
    assert connected["ocsp_staple"]["status"] == "revoked" and connected["ocsp_status"] is None
    server.process.send_signal(signal.SIGINT)
    assert server.wait() == 0, server.describe()
    lines = validated(json.loads(line) for line in server.stdout.splitlines())
    [served] = [line for line in lines if line["event"] == "connected"]
    assert served["ocsp_staple"]["revocation_reason"] == "key_compromise"
    assert any(line.get("details", {}).get("staple_status") == "revoked" for line in lines
               if line["event"] == "trace")


@pytest.mark.parametrize("argv", [
    ["client", "localhost:4433", "--json", "--no-such-flag"],
    ["client", "--json"],
    ["server", "--json", "--port", "not-a-number"],
    ["certs", "--json", "--key-type", "dsa"],
])
def test_argument_errors_are_json_lines_too(argv: list[str]) -> None:
    result = run_glasstls(*argv)
    assert result.code == 2, result.describe()
    assert events(result) == ["error"], result.describe()
    line = result.json_lines()[0]
    assert line["exit_code"] == 2 and line["message"].startswith("glasstls"), line
    assert "usage:" in result.stderr  # the usage stays on stderr, for a person


def test_argument_errors_without_json_stay_text() -> None:
    result = run_glasstls("client", "localhost:4433", "--no-such-flag")
    assert result.code == 2 and result.stdout == "", result.describe()
    assert "error: unrecognized arguments: --no-such-flag" in result.stderr
