"""``glasstls client`` against a server presenting each scenario's certificate:
the accepted ones exit 0; the refused ones exit 5 with one line that states the
facts (subject, issuer, dates and the clock, the names asked for and held, the
CRL) and the next step (--cafile, --servername, --insecure)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from cli.cli_helpers import run_glasstls
from glasstls import CertifiedKey, ServerConfig, TLSError
from interop.driver import GlassServer, GlassSocket
from peers import require_binary

from .scenarios import Scenario, make_scenarios

CERTIFICATE = 5
# Facts each refusal must state, by OpenSSL's verify code; "{host}" is the name asked.
FACTS = {
    18: ["self-signed", "CN=localhost", "not in the trust store", "--cafile"],
    19: ["self-signed certificate CN=Untrusted Root", "--cafile"],
    20: ["sent no intermediate for", "--cafile"],
    10: ["expired on", "the clock says", "--insecure"],
    9: ["not valid until", "the clock says"],
    62: ["not valid for '{host}'", "it holds", "--servername"],
    64: ["not valid for '{host}'", "IP:127.0.0.1", "--servername"],
    26: ["key usage"],
    23: ["revoked on", "according to the CRL from", "issued"],
    3: ["no CRL from"],
    12: ["the CRL from", "expired on", "the clock says"],
    11: ["the CRL from", "is not valid until"],
    8: ["not signed by its issuer"],
    34: ["critical extension", "1.3.6.1.4.1.55555.1"],
    47: ["permitted names"],
    66: ["RSA 1024"],
    79: ["CN=Not A CA", "not a CA"],
}


def _server_scenarios() -> list[str]:
    from .test_differential import _NAMES

    # The command has no switch for the common-name fallback, and it always accepts
    # partial chains (any --cafile certificate is an anchor, as ClientConfig's default).
    return [name for name in _NAMES if "client" not in name.split("-")[-2:]
            and not name.endswith("with-fallback") and "partial-chain" not in name
            and not name.endswith("without-its-root")]


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Scenario]:
    made = make_scenarios(tmp_path_factory.mktemp("cli-scenarios"), require_binary("openssl"))
    return {scenario.name: scenario for scenario in made}


@pytest.fixture
def presenting() -> Iterator[list[GlassServer]]:
    started: list[GlassServer] = []
    yield started
    for server in started:
        server.stop()


def _answer(glass: GlassSocket) -> None:
    with contextlib.suppress(TLSError, OSError):
        glass.handshake()
        glass.send(glass.receive_until(b"\n"))
        glass.close()


@pytest.mark.parametrize("name", _server_scenarios())
def test_glasstls_client_exit_code_and_message(name: str, scenarios: dict[str, Scenario],
                                               presenting: list[GlassServer]) -> None:
    scenario = scenarios[name]
    assert scenario.role == "server"
    config = ServerConfig(certificates=(CertifiedKey.from_files(scenario.chain, scenario.key),))
    server = GlassServer(config, _answer, timeout=20)
    presenting.append(server)
    options = ["--crl-check", "chain" if scenario.flags & 8 else "leaf"] if scenario.flags else []
    result = run_glasstls("client", f"127.0.0.1:{server.port}", "--cafile",
                          str(scenario.cafile), "--servername", scenario.host, *options,
                          stdin="ping\n")
    if scenario.expected_glasstls == 0:
        assert result.code == 0, result.describe()
        assert result.stdout == "ping\n"
        return
    assert result.code == CERTIFICATE, result.describe()
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("glasstls client: error: certificate rejected: "), line
    words = FACTS.get(scenario.code, []) if scenario.glasstls_code is None else [
        scenario.glasstls_says]
    for word in words:
        assert word.format(host=scenario.host) in line, result.describe()


def test_every_refusal_code_has_its_facts_listed(scenarios: dict[str, Scenario]) -> None:
    codes = {scenarios[name].code for name in _server_scenarios()} - {0}
    assert codes <= set(FACTS), codes - set(FACTS)
