"""OCSP stapling through real handshakes, glasstls against itself, both versions: a
good staple checked, revoked refused with certificate_revoked, bad staples (expired,
for another certificate, unsigned) with bad_certificate_status_response, what
"request" and "require" make of a missing staple, must-staple certificates, and the
server's staple renewed when it expires."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from cryptography import x509

from glasstls import CertifiedKey
from glasstls.constants import TLS12, TLS13, ExtensionType as X
from glasstls.crypto.devpki import Issued, make_leaf
from glasstls.errors import AlertDescription, ConfigError
from glasstls.handshake import stapling
from glasstls.messages.extensions import StatusRequest, find_typed
from glasstls.ocsp import StapleCallback, StapleFile
from glasstls.trace import CERTIFICATE_STATUS, OCSP_STATUS, RECEIVED, SENT, TraceEvent
from glasstls.trust import CertificateReason, CertificateRejected
from helpers import ocsp as make
from helpers.pump import client_config, connect, server_config
from pki import pki

TEST_PKI = pki("ecdsa-p256")
LEAF = TEST_PKI.leaf.certificate
NOW = dt.datetime.now(dt.UTC)
VERSIONS = {"TLS13": TLS13, "TLS12": TLS12}
# The leaf with its issuer, so that the server can check a staple's signature too.
WITH_ISSUER = CertifiedKey((LEAF, TEST_PKI.ca.certificate), TEST_PKI.leaf.key)


class Steps(list[TraceEvent]):
    def __call__(self, event: TraceEvent) -> None:
        self.append(event)

    def find(self, step: str, action: str | None = None) -> list[TraceEvent]:
        return [e for e in self if e.step == step and action in (None, e.action)]


def _pair(version: int, staple: bytes | None, mode: str = "request", *,
          certified: CertifiedKey = WITH_ISSUER, steps: Steps | None = None,
          server_steps: Steps | None = None, unchecked: bool = False):  # type: ignore[no-untyped-def]
    source = None
    if staple is not None:
        source = (make.Unchecked(staple) if unchecked
                  else StapleCallback(lambda leaf: staple))
    return connect(client_config(TEST_PKI, ocsp_stapling=mode, versions=(version,),
                                 trace=steps),
                   server_config(TEST_PKI, certificates=(certified,), ocsp_staple=source,
                                 trace=server_steps))


def _refused(pair, alert: AlertDescription, reason: CertificateReason) -> str:  # type: ignore[no-untyped-def]
    assert pair.client.alert_sent == alert, pair.client.error
    assert isinstance(pair.client.error, CertificateRejected)
    assert pair.client.error.reason is reason
    assert pair.server.connection.negotiated is None
    return str(pair.client.error)


@pytest.mark.parametrize("version_name", VERSIONS)
def test_a_good_staple_is_checked_and_reported(version_name: str) -> None:
    steps, server_steps = Steps(), Steps()
    der = make.response(TEST_PKI.ca, LEAF)
    pair = _pair(VERSIONS[version_name], der, steps=steps, server_steps=server_steps)
    assert pair.complete
    client, server = pair.client.negotiated, pair.server.negotiated
    assert (client.ocsp_status, client.ocsp_response) == ("good", der)
    assert server.ocsp_response == der and server.ocsp_status is None
    [check] = steps.find(OCSP_STATUS)
    assert check.details["result"] == "ok" and check.details["responder"] == "the issuer"
    assert check.details["serial"] == format(LEAF.serial_number, "x")
    if version_name == "TLS12":
        # RFC 6066 §8: an empty status_request in ServerHello, then CertificateStatus.
        assert steps.find(CERTIFICATE_STATUS, RECEIVED)[0].details["ocsp_response_bytes"] == (
            len(der))
        assert "status_request" in steps.find("ServerHello", RECEIVED)[0].details["extensions"]
    else:
        # RFC 8446 §4.4.2.1: in the leaf's CertificateEntry.
        assert not steps.find(CERTIFICATE_STATUS)
        [sent] = [e for e in server_steps if e.action == SENT and "ocsp_staple_bytes" in e.details]
        assert sent.details["ocsp_staple_bytes"] == len(der)
    # The server's trace says what it vouches with, on the message that carries it.
    [carrier] = [e for e in server_steps if e.action == SENT and "staple_status" in e.details]
    assert carrier.step == ("CertificateStatus" if version_name == "TLS12"
                            else "CompressedCertificate")
    assert carrier.details["staple_status"] == "good"
    assert carrier.details["staple_serial"] == format(LEAF.serial_number, "x")
    assert carrier.details["staple_responder"] == TEST_PKI.ca.certificate.subject.rfc4514_string()
    assert carrier.details["staple_next_update"] == check.details["next_update"]


@pytest.mark.parametrize("version_name", VERSIONS)
def test_a_revoked_certificate_is_certificate_revoked(version_name: str) -> None:
    steps = Steps()
    pair = _pair(VERSIONS[version_name], make.response(TEST_PKI.ca, LEAF, "revoked"),
                 steps=steps)
    text = _refused(pair, AlertDescription.certificate_revoked, CertificateReason.OCSP_REVOKED)
    assert "key_compromise" in text and "stapled" in text
    assert pair.server.alerts_received == [AlertDescription.certificate_revoked]
    [check] = steps.find(OCSP_STATUS)
    assert check.details["result"] == "failed"


@pytest.mark.parametrize("version_name", VERSIONS)
def test_an_expired_staple_is_bad_certificate_status_response(version_name: str) -> None:
    expired = make.response(TEST_PKI.ca, LEAF, this_update=NOW - dt.timedelta(days=3),
                            next_update=NOW - dt.timedelta(hours=1))
    pair = _pair(VERSIONS[version_name], expired, unchecked=True)
    text = _refused(pair, AlertDescription.bad_certificate_status_response,
                    CertificateReason.OCSP_BAD_RESPONSE)
    assert "expired" in text


@pytest.mark.parametrize("version_name", VERSIONS)
def test_a_staple_for_another_certificate_is_refused(version_name: str) -> None:
    other = make.response(TEST_PKI.ca, TEST_PKI.client.certificate)
    pair = _pair(VERSIONS[version_name], other, unchecked=True)
    text = _refused(pair, AlertDescription.bad_certificate_status_response,
                    CertificateReason.OCSP_BAD_RESPONSE)
    assert "not for this certificate" in text


def test_a_staple_signed_by_a_stranger_is_refused() -> None:
    forged = make.response(TEST_PKI.ca, LEAF, signer=make.impostor(TEST_PKI.ca),
                           include_signer=False)
    pair = _pair(TLS13, forged, unchecked=True)
    assert "signature" in _refused(pair, AlertDescription.bad_certificate_status_response,
                                   CertificateReason.OCSP_BAD_RESPONSE)


def test_a_delegated_responder_is_accepted_through_the_handshake() -> None:
    responder = make.responder(TEST_PKI.ca)
    pair = _pair(TLS13, make.response(TEST_PKI.ca, LEAF, signer=responder))
    assert pair.complete and pair.client.negotiated.ocsp_status == "good"


@pytest.mark.parametrize("version_name", VERSIONS)
def test_no_staple_is_fine_when_requested_and_refused_when_required(version_name: str) -> None:
    version = VERSIONS[version_name]
    steps = Steps()
    requested = _pair(version, None, "request", steps=steps)
    assert requested.complete and requested.client.negotiated.ocsp_status is None
    assert steps.find(OCSP_STATUS)[0].details["result"] == "no staple"
    required = _pair(version, None, "require")
    assert "require" in _refused(required, AlertDescription.bad_certificate_status_response,
                                 CertificateReason.OCSP_MISSING)


def test_an_unknown_status_passes_when_requested_and_fails_when_required() -> None:
    unknown = make.response(TEST_PKI.ca, LEAF, "unknown")
    assert _pair(TLS13, unknown, "request").client.negotiated.ocsp_status == "unknown"
    _refused(_pair(TLS13, unknown, "require"), AlertDescription.bad_certificate_status_response,
             CertificateReason.OCSP_UNKNOWN)


@pytest.mark.parametrize("version_name", VERSIONS)
def test_stapling_off_sends_no_status_request_and_gets_no_staple(version_name: str) -> None:
    server_steps = Steps()
    pair = connect(client_config(TEST_PKI, versions=(VERSIONS[version_name],)),
                   server_config(TEST_PKI, keep_client_hello=True, trace=server_steps,
                                 ocsp_staple=StapleCallback(
                                     lambda leaf: make.response(TEST_PKI.ca, leaf))))
    assert pair.complete
    hello = pair.server.connection.client_hello
    assert hello is not None and find_typed(hello.extensions, X.status_request,
                                            StatusRequest) is None
    assert pair.client.negotiated.ocsp_response == b""
    assert not any("ocsp_staple_bytes" in e.details for e in server_steps)


def _must_staple_leaf() -> Issued:
    return make_leaf(TEST_PKI.ca, ("localhost",), must_staple=True)


@pytest.mark.parametrize("version_name", VERSIONS)
def test_a_must_staple_certificate_needs_a_staple_whenever_stapling_is_on(
        version_name: str) -> None:
    leaf = _must_staple_leaf()
    certified = CertifiedKey((leaf.certificate, TEST_PKI.ca.certificate), leaf.key)
    version = VERSIONS[version_name]
    missing = _pair(version, None, "request", certified=certified)
    assert "RFC 7633" in _refused(missing, AlertDescription.bad_certificate_status_response,
                                  CertificateReason.OCSP_MISSING)
    stapled = _pair(version, make.response(TEST_PKI.ca, leaf.certificate), "request",
                    certified=certified)
    assert stapled.complete and stapled.client.negotiated.ocsp_status == "good"


@pytest.mark.pure_python_reference(
    reason="makes the server staple unasked by patching stapling.wants_staple, which the "
           "compiled server calls directly")
def test_an_unsolicited_staple_is_unsupported_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    # A server that staples though the client did not ask (RFC 8446 §4.4.2).
    monkeypatch.setattr(stapling, "wants_staple", lambda hello: True)
    pair = _pair(TLS13, make.response(TEST_PKI.ca, LEAF), "off")
    assert pair.client.alert_sent == AlertDescription.unsupported_extension


def test_a_resumed_handshake_needs_no_staple_even_when_required() -> None:
    client = client_config(TEST_PKI, ocsp_stapling="require")
    server = server_config(TEST_PKI, certificates=(WITH_ISSUER,), ocsp_staple=StapleCallback(
        lambda leaf: make.response(TEST_PKI.ca, leaf)))
    assert connect(client, server).client.negotiated.ocsp_status == "good"
    resumed = connect(client, server)
    assert resumed.complete and resumed.client.negotiated.resumed
    assert resumed.client.negotiated.ocsp_status is None


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_the_server_asks_for_a_new_staple_once_the_old_one_expired() -> None:
    clock = Clock()
    fetched: list[float] = []

    def fetch(leaf: x509.Certificate) -> bytes:
        fetched.append(clock.now)
        moment = dt.datetime.fromtimestamp(clock.now, dt.UTC)
        return make.response(TEST_PKI.ca, leaf, this_update=moment - dt.timedelta(minutes=1),
                             next_update=moment + dt.timedelta(hours=1))

    server = server_config(TEST_PKI, certificates=(WITH_ISSUER,), clock=clock,
                           ocsp_staple=StapleCallback(fetch))
    seen = []
    for advance in (0, 600, 2900, 700):  # the first staple expires after 3600 s
        clock.now += advance
        pair = connect(client_config(TEST_PKI, ocsp_stapling="require", clock=clock,
                                     session_cache=None), server)
        assert pair.complete
        seen.append(pair.client.negotiated.ocsp_response)
    assert len(fetched) == 2
    assert seen[0] == seen[1] == seen[2] != seen[3]


def test_a_staple_file_is_served_and_a_missing_one_is_a_config_error(tmp_path: Path) -> None:
    der = make.response(TEST_PKI.ca, LEAF)
    source = StapleFile(make.write(tmp_path / "leaf.ocsp", der))
    pair = connect(client_config(TEST_PKI, ocsp_stapling="require"),
                   server_config(TEST_PKI, ocsp_staple=source))
    assert pair.client.negotiated.ocsp_response == der
    with pytest.raises(ConfigError):
        StapleFile(tmp_path / "absent.ocsp")


def test_a_server_never_staples_a_response_for_another_certificate() -> None:
    source = StapleCallback(lambda leaf: make.response(TEST_PKI.ca, TEST_PKI.client.certificate))
    pair = connect(client_config(TEST_PKI, ocsp_stapling="request"),
                   server_config(TEST_PKI, certificates=(WITH_ISSUER,), ocsp_staple=source))
    assert pair.complete and pair.client.negotiated.ocsp_response == b""
    assert source.last_problem is not None and "not for this certificate" in source.last_problem


def test_ocsp_stapling_takes_three_values() -> None:
    with pytest.raises(ConfigError, match="ocsp_stapling"):
        client_config(TEST_PKI, ocsp_stapling="yes")


@pytest.mark.parametrize("version_name", VERSIONS)
def test_a_staple_callback_that_raises_leaves_the_handshake_without_a_staple(
        version_name: str) -> None:
    def broken(leaf: x509.Certificate) -> bytes:
        raise ConnectionRefusedError("OCSP responder down")

    source = StapleCallback(broken)
    pair = connect(client_config(TEST_PKI, ocsp_stapling="request",
                                 versions=(VERSIONS[version_name],)),
                   server_config(TEST_PKI, certificates=(WITH_ISSUER,), ocsp_staple=source))
    assert pair.complete
    negotiated = pair.client.negotiated
    assert negotiated.ocsp_response == b"" and negotiated.ocsp_status is None
    assert "OCSP responder down" in (source.last_problem or "")


def test_with_verification_off_the_staple_is_shown_not_judged() -> None:
    # --insecure: the certificate is not checked, so neither is its staple (a revoked
    # one included); the trace still says what the staple says.
    steps = Steps()
    der = make.response(TEST_PKI.ca, LEAF, "revoked")
    pair = connect(client_config(TEST_PKI, ocsp_stapling="require", verify_certificates=False,
                                 check_hostname=False, trace=steps),
                   server_config(TEST_PKI, ocsp_staple=StapleCallback(lambda leaf: der)))
    assert pair.complete
    assert pair.client.negotiated.ocsp_response == der
    assert pair.client.negotiated.ocsp_status is None
    [shown] = steps.find(OCSP_STATUS)
    assert shown.details["result"] == "not checked (certificate verification is off)"
    assert shown.details["status"] == "revoked"


@pytest.mark.parametrize("version_name", VERSIONS)
def test_the_server_trace_says_why_it_staples_nothing(version_name: str) -> None:
    server_steps = Steps()
    expired = make.response(TEST_PKI.ca, LEAF, this_update=NOW - dt.timedelta(days=3),
                            next_update=NOW - dt.timedelta(hours=1))
    pair = _pair(VERSIONS[version_name], expired, server_steps=server_steps)
    assert pair.complete and pair.client.negotiated.ocsp_response == b""
    [why] = server_steps.find(OCSP_STATUS)
    assert why.details["result"] == "no staple"
    assert "expired" in why.details["reason"], why.details
