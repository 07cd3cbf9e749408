"""The same certificates through Python's ``ssl`` (OpenSSL) and through glasstls:
the same verdict, and for a refusal the same ``verify_code`` and ``verify_message``.

Where glasstls deliberately differs, the scenario says so and why (the list is
in docs/ssl-compat.md); the test then checks glasstls's own verdict and that
OpenSSL's is still what the scenario records.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from .scenarios import Scenario, make_scenarios
from .verdicts import VERIFIERS, Verdict, run

_NAMES = [
    "openssl-req-x509-as-anchor", "openssl-req-x509-untrusted",
    "openssl-cn-only-client-certificate", "openssl-cn-only-v1-client-certificate",
    "openssl-rsa-1024-leaf", "trustme-leaf", "trustme-leaf-by-ip", "trustme-leaf-wrong-ip",
    "trustme-with-intermediate", "trustme-intermediate-not-sent",
    "trustme-client-certificate", "self-signed-ca-false-as-anchor",
    "self-signed-ca-false-untrusted", "plain-chain", "wrong-name", "expired", "not-yet-valid",
    "wildcard", "wildcard-two-labels-deep", "client-only-eku-on-a-server",
    "key-usage-without-signing", "critical-unknown-extension", "common-name-only-server",
    "common-name-only-server-with-fallback", "ed25519-leaf", "ed25519-ca",
    "name-constraints-permitted", "name-constraints-violated", "intermediate-with-ca-false",
    "expired-intermediate", "untrusted-root-sent", "server-only-eku-on-a-client",
    "crl-leaf-revoked", "crl-leaf-not-revoked", "crl-missing", "crl-expired",
    "crl-chain-intermediate-revoked", "crl-chain-all-good",
    "crl-leaf-check-ignores-the-intermediate", "crl-not-yet-valid", "crl-bad-signature",
    "intermediate-as-partial-chain-anchor", "intermediate-in-store-without-its-root",
]


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory, openssl_path: str
              ) -> dict[str, Scenario]:
    made = make_scenarios(tmp_path_factory.mktemp("scenarios"), openssl_path)
    return {scenario.name: scenario for scenario in made}


@pytest.fixture(scope="module")
def own_certificate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """The verifying server's own certificate, for the client-certificate scenarios."""
    directory = tmp_path_factory.mktemp("own")
    issued = trustme.CA().issue_cert("localhost")
    issued.cert_chain_pems[0].write_to_path(str(directory / "cert.pem"))
    issued.private_key_pem.write_to_path(str(directory / "key.pem"))
    yield directory / "cert.pem", directory / "key.pem"


def test_every_scenario_is_run(scenarios: dict[str, Scenario]) -> None:
    assert sorted(scenarios) == sorted(_NAMES)


@pytest.mark.parametrize("name", _NAMES)
def test_glasstls_and_openssl_agree(name: str, scenarios: dict[str, Scenario],
                                    own_certificate: tuple[Path, Path]) -> None:
    scenario = scenarios[name]
    theirs = run(scenario, VERIFIERS["ssl"], own_certificate)
    ours = run(scenario, VERIFIERS["glasstls"], own_certificate)
    assert theirs.code == scenario.code, f"OpenSSL's verdict changed: {theirs.message}"
    assert ours.code == scenario.expected_glasstls, _describe(ours)
    if scenario.glasstls_code is not None:
        assert scenario.why, "a deliberate difference needs its reason"
        assert scenario.glasstls_says in str(ours.error)
        return
    assert ours.message == theirs.message
    if ours.code:
        # Beside OpenSSL's words, glasstls's exception says what was wrong.
        assert theirs.message in str(ours.error)
        assert scenario_facts(scenario) <= set(str(ours.error).split())


def scenario_facts(scenario: Scenario) -> set[str]:
    """Words every refusal for this scenario must contain beyond OpenSSL's message."""
    if scenario.code in (62, 64):
        return {f"'{scenario.host}'"}
    return set()


def _describe(verdict: Verdict) -> str:
    return f"glasstls gave {verdict.code}: {verdict.message} ({verdict.error!r})"
