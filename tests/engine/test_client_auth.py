"""Client certificates (mutual TLS), both versions, in memory: every ``client_auth``
policy against a client with a trusted certificate, with none and with an untrusted
one; the alerts for bad chains and bad signatures; ``certificate_callback``; TLS 1.3
post-handshake authentication (RFC 8446 §4.6.2); and the client's identity kept
across resumption."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from functools import cache

import pytest
from cryptography.hazmat.primitives import serialization

from glasstls import AlertDescription, CertifiedKey, ServerConfig, UsageError, trace as t
from glasstls.config import CertificateRequestInfo
from glasstls.constants import TLS12, TLS13, CipherSuite, HandshakeType, SignatureScheme
from glasstls.crypto.devpki import make_ca, make_leaf
from glasstls.crypto.suites import SUITES
from glasstls.events import (
    CertificateRequested,
    HandshakeComplete,
    PeerCertificateVerified,
)
from glasstls.messages import handshake as hs
from glasstls.session import ServerSessionCache, TicketKeys
from glasstls.trace import TraceEvent
from helpers.pump import (
    CLIENT_TO_SERVER,
    KeyLog,
    Pair,
    client_config,
    connect,
    reseal,
    server_config,
    split_records,
)
from pki import Pki, pki

TEST_PKI = pki("ecdsa-p256")
RSA_PKI = pki("rsa-2048")
AES128 = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]
VERSIONS = {"TLS13": TLS13, "TLS12": TLS12}
POLICIES = ("none", "optional", "required")
CLIENTS = ("trusted", "none", "untrusted")


@cache
def untrusted_pki() -> Pki:
    """A client certificate from a CA that the server does not trust."""
    ca = make_ca("glasstls untrusted client CA")
    return Pki(ca, make_leaf(ca, ("localhost",)), make_leaf(ca, ("stranger",), client=True))


@cache
def expired_client() -> CertifiedKey:
    now = dt.datetime.now(dt.UTC)
    leaf = make_leaf(TEST_PKI.ca, ("old client",), client=True,
                     not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=1))
    return CertifiedKey((leaf.certificate,), leaf.key)


def client_certificate(kind: str) -> CertifiedKey | None:
    return {"trusted": TEST_PKI.client_certified, "none": None,
            "untrusted": untrusted_pki().client_certified}[kind]


def mtls_server(policy: str = "required", **overrides: object) -> ServerConfig:
    options: dict[str, object] = {"client_auth": policy}
    if policy != "none":
        options["client_trust"] = TEST_PKI.trust
    return server_config(TEST_PKI, **{**options, **overrides})


def mtls_pair(version: int, policy: str, certificate: CertifiedKey | None,
              **server_overrides: object) -> Pair:
    return connect(client_config(TEST_PKI, versions=(version,), certificate=certificate),
                   mtls_server(policy, versions=(version,), **server_overrides))


def exchange(pair: Pair) -> None:
    pair.client.connection.send(b"ping")
    pair.server.connection.send(b"pong")
    pair.pump()
    assert pair.server.data.endswith(b"ping")
    assert pair.client.data.endswith(b"pong")


def refused_by_server(pair: Pair, alert: AlertDescription) -> None:
    """The server failed the handshake with ``alert`` and the client was told."""
    assert pair.server.alert_sent == alert, pair.server.error
    assert alert in pair.client.alerts_received
    assert not pair.server.of_type(HandshakeComplete)
    assert pair.client.connection.closed


# -- the policy matrix ---------------------------------------------------------------------------

MATRIX = list(itertools.product(VERSIONS, POLICIES, CLIENTS))


def expected_outcome(version: int, policy: str, client: str) -> AlertDescription | None:
    """None for a completed handshake, else the alert the server must send."""
    if policy == "none":
        return None
    if client == "untrusted":
        return AlertDescription.unknown_ca
    if client == "none" and policy == "required":
        # RFC 8446 §4.4.2.4: certificate_required; RFC 5246 §7.4.6: handshake_failure.
        return (AlertDescription.certificate_required if version == TLS13
                else AlertDescription.handshake_failure)
    return None


@pytest.mark.parametrize(("version_name", "policy", "client"), MATRIX)
def test_client_auth_policy_matrix_gives_the_right_outcome_and_alert(
        version_name: str, policy: str, client: str) -> None:
    version = VERSIONS[version_name]
    certificate = client_certificate(client)
    pair = mtls_pair(version, policy, certificate)
    alert = expected_outcome(version, policy, client)
    if alert is not None:
        refused_by_server(pair, alert)
        return
    assert pair.complete, (pair.client.error, pair.server.error)
    done = pair.server.negotiated
    assert done.version == ("TLSv1.3" if version == TLS13 else "TLSv1.2")
    if policy != "none" and client == "trusted":
        assert certificate is not None
        assert done.peer_certificates == certificate.chain_der
        assert done.verified_chain[0] == certificate.chain_der[0]
        assert done.verified_chain[-1] == TEST_PKI.ca.certificate.public_bytes(
            serialization.Encoding.DER)
    else:
        # Nothing asked for (policy none) or nothing sent: no client identity.
        assert done.peer_certificates == ()
        assert done.verified_chain == ()
    exchange(pair)


@pytest.mark.parametrize(("version_name", "policy"), list(itertools.product(VERSIONS, POLICIES)))
def test_certificate_request_is_sent_only_when_the_policy_asks_for_a_certificate(
        version_name: str, policy: str) -> None:
    version = VERSIONS[version_name]
    steps: list[TraceEvent] = []
    pair = connect(client_config(TEST_PKI, versions=(version,),
                                 certificate=TEST_PKI.client_certified, trace=steps.append),
                   mtls_server(policy, versions=(version,)))
    assert pair.complete
    requested = [e for e in steps if e.step == t.CERTIFICATE_REQUEST and e.action == t.RECEIVED]
    assert len(requested) == (0 if policy == "none" else 1)
    # TLS 1.3: compressed, since the server's request offers brotli (RFC 8879).
    sent = [e.step for e in steps if e.step in t.CERTIFICATE_STEPS and e.action == t.SENT]
    assert sent == ([] if policy == "none" else [
        t.COMPRESSED_CERTIFICATE if version == TLS13 else t.CERTIFICATE])


# -- bad chains and bad signatures -------------------------------------------------------------


@pytest.mark.parametrize("version_name", VERSIONS)
def test_expired_client_certificate_is_certificate_expired(version_name: str) -> None:
    pair = mtls_pair(VERSIONS[version_name], "optional", expired_client())
    refused_by_server(pair, AlertDescription.certificate_expired)


@pytest.mark.parametrize("version_name", VERSIONS)
def test_server_certificate_used_as_a_client_certificate_is_refused(version_name: str) -> None:
    # The test leaf has only the serverAuth extended key usage.
    pair = mtls_pair(VERSIONS[version_name], "required", TEST_PKI.certified)
    assert pair.server.alert_sent in (AlertDescription.unsupported_certificate,
                                      AlertDescription.bad_certificate), pair.server.error
    assert not pair.server.of_type(HandshakeComplete)


@pytest.mark.parametrize("version_name", VERSIONS)
def test_client_certificate_from_another_key_type_ca_is_unknown_ca(version_name: str) -> None:
    pair = mtls_pair(VERSIONS[version_name], "required", RSA_PKI.client_certified)
    refused_by_server(pair, AlertDescription.unknown_ca)


def test_tls13_client_certificate_verify_with_a_bad_signature_is_decrypt_error() -> None:
    # A man in the middle with the client's handshake traffic secret flips a bit of
    # the client's CertificateVerify signature (and changes nothing else).
    keys = KeyLog()
    resealed: list[bool] = []

    def corrupt(content_type: int, plaintext: bytes) -> tuple[int, bytes]:
        data = bytearray(plaintext)
        assert data[0] == HandshakeType.compressed_certificate
        certificate_verify = 4 + int.from_bytes(data[1:4], "big")
        assert data[certificate_verify] == HandshakeType.certificate_verify
        data[certificate_verify + 12] ^= 0x01
        return content_type, bytes(data)

    def hook(direction: str, data: bytes) -> bytes:
        secret = keys.secrets.get("CLIENT_HANDSHAKE_TRAFFIC_SECRET")
        if direction != CLIENT_TO_SERVER or secret is None or resealed:
            return data
        resealed.append(True)  # the client's second flight: [CCS] Certificate... Finished
        return b"".join(r if r[0] != 23 else reseal(r, AES128, secret, corrupt)
                        for r in split_records(data))

    pair = connect(client_config(TEST_PKI, versions=(TLS13,), keylog=keys,
                                 cipher_suites=(AES128.id,),
                                 certificate=TEST_PKI.client_certified),
                   mtls_server("required", versions=(TLS13,)), hook=hook)
    assert resealed
    refused_by_server(pair, AlertDescription.decrypt_error)


@pytest.mark.parametrize("version_name", VERSIONS)
def test_client_key_that_fits_no_requested_scheme_sends_no_certificate(
        version_name: str) -> None:
    # The server asks for ECDSA signatures only; the client's key is RSA.
    version = VERSIONS[version_name]
    ecdsa_only = (SignatureScheme.ecdsa_secp256r1_sha256, SignatureScheme.ecdsa_secp384r1_sha384)
    server = server_config(TEST_PKI, versions=(version,), client_auth="optional",
                           client_trust=RSA_PKI.trust, signature_schemes=ecdsa_only)
    pair = connect(client_config(TEST_PKI, versions=(version,),
                                 certificate=RSA_PKI.client_certified), server)
    assert pair.complete
    assert pair.server.negotiated.peer_certificates == ()


# -- certificate_callback ----------------------------------------------------------------------


@pytest.mark.parametrize("version_name", VERSIONS)
def test_certificate_callback_receives_the_ca_names_and_schemes_and_picks_a_certificate(
        version_name: str) -> None:
    version = VERSIONS[version_name]
    seen: list[CertificateRequestInfo] = []
    candidates = (untrusted_pki().client_certified, TEST_PKI.client_certified)

    def pick(info: CertificateRequestInfo) -> CertifiedKey | None:
        seen.append(info)
        for candidate in candidates:
            if info.accepts_issuer(candidate.chain[0].issuer):
                return candidate
        return None

    schemes = (SignatureScheme.ecdsa_secp256r1_sha256, SignatureScheme.rsa_pss_rsae_sha256)
    ca_name = TEST_PKI.ca.certificate.subject
    server = mtls_server("required", versions=(version,), client_ca_names=(ca_name,),
                         signature_schemes=schemes)
    pair = connect(client_config(TEST_PKI, versions=(version,), certificate_callback=pick),
                   server)
    assert pair.complete, (pair.client.error, pair.server.error)
    (info,) = seen
    assert info.certificate_authorities == (ca_name.public_bytes(),)
    assert info.signature_schemes == schemes
    assert info.version == version
    assert pair.server.negotiated.peer_certificates == TEST_PKI.client_certified.chain_der


@pytest.mark.parametrize("version_name", VERSIONS)
def test_certificate_callback_without_ca_names_accepts_any_issuer(version_name: str) -> None:
    version = VERSIONS[version_name]
    seen: list[CertificateRequestInfo] = []

    def pick(info: CertificateRequestInfo) -> CertifiedKey | None:
        seen.append(info)
        return TEST_PKI.client_certified

    pair = connect(client_config(TEST_PKI, versions=(version,), certificate_callback=pick),
                   mtls_server("required", versions=(version,)))
    assert pair.complete
    assert seen[0].certificate_authorities == ()
    assert seen[0].accepts_issuer(untrusted_pki().ca.certificate.subject)


@pytest.mark.parametrize("version_name", VERSIONS)
def test_certificate_callback_returning_none_sends_an_empty_certificate(
        version_name: str) -> None:
    version = VERSIONS[version_name]
    pair = connect(client_config(TEST_PKI, versions=(version,),
                                 certificate=TEST_PKI.client_certified,
                                 certificate_callback=lambda info: None),
                   mtls_server("required", versions=(version,)))
    refused_by_server(pair, expected_outcome(version, "required", "none"))  # type: ignore[arg-type]


@pytest.mark.parametrize("version_name", VERSIONS)
def test_certificate_callback_is_not_called_when_the_server_does_not_ask(
        version_name: str) -> None:
    calls: list[CertificateRequestInfo] = []
    pair = connect(client_config(TEST_PKI, versions=(VERSIONS[version_name],),
                                 certificate_callback=lambda info: calls.append(info)),
                   mtls_server("none", versions=(VERSIONS[version_name],)))
    assert pair.complete
    assert calls == []


# -- TLS 1.3 post-handshake authentication --------------------------------------------------------


def pha_pair(certificate: CertifiedKey | None, policy: str = "none",
             offer: bool = True, **server_overrides: object) -> Pair:
    """An established TLS 1.3 pair whose handshake authenticated no client."""
    server = server_config(TEST_PKI, versions=(TLS13,), client_auth=policy,
                           client_trust=TEST_PKI.trust, **server_overrides)
    pair = connect(client_config(TEST_PKI, versions=(TLS13,), post_handshake_auth=offer,
                                 certificate=certificate), server)
    assert pair.complete
    assert pair.server.negotiated.peer_certificates == ()
    pair.client.events.clear()
    pair.server.events.clear()
    return pair


def test_post_handshake_auth_verifies_the_clients_certificate_on_request() -> None:
    # client_auth="none": the handshake itself asks nothing; the application asks later.
    pair = pha_pair(TEST_PKI.client_certified)
    pair.server.connection.request_client_certificate()
    pair.pump()
    (requested,) = pair.client.of_type(CertificateRequested)
    assert len(requested.context) > 0  # RFC 8446 §4.6.2: a non-empty context
    (verified,) = pair.server.of_type(PeerCertificateVerified)
    assert verified.peer_certificates[0] == TEST_PKI.client_certified.chain_der[0]
    assert pair.server.error is None and pair.client.error is None
    exchange(pair)


def test_post_handshake_auth_can_be_asked_twice_with_fresh_contexts() -> None:
    pair = pha_pair(TEST_PKI.client_certified)
    for _ in range(2):
        pair.server.connection.request_client_certificate()
        pair.pump()
    contexts = [e.context for e in pair.client.of_type(CertificateRequested)]
    assert len(contexts) == 2 and contexts[0] != contexts[1]
    assert len(pair.server.of_type(PeerCertificateVerified)) == 2
    exchange(pair)


def test_post_handshake_auth_request_while_one_is_pending_is_a_usage_error() -> None:
    pair = pha_pair(TEST_PKI.client_certified)
    pair.server.connection.request_client_certificate()
    with pytest.raises(UsageError):
        pair.server.connection.request_client_certificate()


def test_post_handshake_auth_is_refused_when_the_client_did_not_offer_it() -> None:
    pair = pha_pair(TEST_PKI.client_certified, offer=False)
    with pytest.raises(UsageError):
        pair.server.connection.request_client_certificate()
    exchange(pair)


def test_client_that_did_not_offer_post_handshake_auth_refuses_a_certificate_request() -> None:
    # A CertificateRequest injected after the handshake (by a peer that holds the
    # server's traffic secret) is unexpected_message for a client that did not offer.
    keys = KeyLog()
    request = hs.serialize(hs.CertificateRequest13(b"\x01" * 8, ()))
    pair = Pair(client_config(TEST_PKI, versions=(TLS13,), cipher_suites=(AES128.id,),
                              certificate=TEST_PKI.client_certified),
                server_config(TEST_PKI, versions=(TLS13,), tickets=0, keylog=keys))
    pair.pump()
    assert pair.complete
    pair.server.connection.send(b"x")
    data = pair.server.connection.data_to_send()
    forged = reseal(data, AES128, keys.secrets["SERVER_TRAFFIC_SECRET_0"],
                    lambda content_type, plaintext: (22, request))
    pair.deliver(pair.client, forged)
    assert pair.client.alert_sent == AlertDescription.unexpected_message


@pytest.mark.parametrize("policy", ["none", "optional"])
def test_post_handshake_auth_empty_answer_is_accepted_unless_required(policy: str) -> None:
    pair = pha_pair(None, policy=policy)
    pair.server.connection.request_client_certificate()
    pair.pump()
    assert len(pair.client.of_type(CertificateRequested)) == 1
    assert pair.server.of_type(PeerCertificateVerified) == [PeerCertificateVerified(())]
    assert pair.server.error is None
    exchange(pair)


def test_post_handshake_auth_empty_answer_with_required_is_certificate_required() -> None:
    # client_auth="required" asks in the handshake too; a client that offered
    # post-handshake auth but has no certificate is refused at once.
    server = server_config(TEST_PKI, versions=(TLS13,), client_auth="required",
                           client_trust=TEST_PKI.trust)
    pair = connect(client_config(TEST_PKI, versions=(TLS13,), post_handshake_auth=True), server)
    refused_by_server(pair, AlertDescription.certificate_required)


def test_post_handshake_auth_after_a_required_handshake_with_an_empty_answer_fails() -> None:
    # The handshake authenticated the client; a later request answered with no
    # certificate is certificate_required under the "required" policy.
    state = {"certificate": TEST_PKI.client_certified}

    def pick(info: CertificateRequestInfo) -> CertifiedKey | None:
        return state["certificate"]

    server = server_config(TEST_PKI, versions=(TLS13,), client_auth="required",
                           client_trust=TEST_PKI.trust)
    pair = connect(client_config(TEST_PKI, versions=(TLS13,), post_handshake_auth=True,
                                 certificate_callback=pick), server)
    assert pair.complete
    state["certificate"] = None  # type: ignore[assignment]
    pair.server.connection.request_client_certificate()
    pair.pump()
    assert pair.server.alert_sent == AlertDescription.certificate_required
    assert AlertDescription.certificate_required in pair.client.alerts_received


def test_post_handshake_auth_with_an_untrusted_certificate_is_unknown_ca() -> None:
    pair = pha_pair(untrusted_pki().client_certified)
    pair.server.connection.request_client_certificate()
    pair.pump()
    assert pair.server.alert_sent == AlertDescription.unknown_ca
    assert AlertDescription.unknown_ca in pair.client.alerts_received


def test_post_handshake_auth_is_a_usage_error_on_tls12() -> None:
    pair = mtls_pair(TLS12, "optional", TEST_PKI.client_certified)
    assert pair.complete
    with pytest.raises(UsageError):
        pair.server.connection.request_client_certificate()


# -- the client's identity across resumption ---------------------------------------------


@pytest.mark.parametrize("version_name", VERSIONS)
def test_resumed_session_keeps_the_clients_certificate_without_asking_again(
        version_name: str) -> None:
    version = VERSIONS[version_name]
    client = client_config(TEST_PKI, versions=(version,), certificate=TEST_PKI.client_certified)
    server = mtls_server("required", versions=(version,))
    first = connect(client, server)
    assert first.complete and not first.server.negotiated.resumed
    # The resumed connection's client has no certificate at all: the session vouches.
    second = connect(dataclasses.replace(client, certificate=None), server)
    assert second.complete, (second.client.error, second.server.error)
    assert second.server.negotiated.resumed and second.client.negotiated.resumed
    assert second.server.negotiated.peer_certificates == TEST_PKI.client_certified.chain_der




@pytest.mark.parametrize("version_name", VERSIONS)
def test_required_server_does_not_resume_a_session_without_a_client_certificate(
        version_name: str) -> None:
    version = VERSIONS[version_name]
    keys, cache = TicketKeys(), ServerSessionCache()
    shared = {"ticket_keys": keys, "session_cache": cache, "versions": (version,)}
    lenient = mtls_server("optional", **shared)
    strict = mtls_server("required", **shared)
    client = client_config(TEST_PKI, versions=(version,))  # no certificate at all
    first = connect(client, lenient)
    assert first.complete and first.server.negotiated.peer_certificates == ()
    second = connect(client, strict)
    # Either refused, or a full handshake that asked for the certificate: never a
    # completed handshake without a client identity.
    assert not (second.server.connection.handshake_complete
                and second.server.negotiated.peer_certificates == ())




def test_post_handshake_auth_reports_the_certificates_the_client_sent() -> None:
    pair = pha_pair(TEST_PKI.client_certified)
    pair.server.connection.request_client_certificate()
    pair.pump()
    (verified,) = pair.server.of_type(PeerCertificateVerified)
    assert verified.peer_certificates == TEST_PKI.client_certified.chain_der


# -- more client keys and post-handshake corners ------------------------------------------------


@pytest.mark.parametrize("key_type", ["rsa-2048", "ecdsa-p384"])
@pytest.mark.parametrize("version_name", VERSIONS)
def test_client_certificates_of_other_key_types_authenticate(version_name: str,
                                                            key_type: str) -> None:
    version, other = VERSIONS[version_name], pki(key_type)
    server = server_config(TEST_PKI, versions=(version,), client_auth="required",
                           client_trust=other.trust)
    steps: list[TraceEvent] = []
    pair = connect(client_config(TEST_PKI, versions=(version,), trace=steps.append,
                                 certificate=other.client_certified), server)
    assert pair.complete, (pair.client.error, pair.server.error)
    assert pair.server.negotiated.peer_certificates == other.client_certified.chain_der
    (signed,) = [e for e in steps if e.step == t.CERTIFICATE_VERIFY and e.action == t.SENT]
    scheme = signed.details["signature_scheme"]
    if key_type == "rsa-2048" and version == TLS13:
        assert scheme.startswith("rsa_pss_rsae")  # RFC 8446 §4.4.3: no PKCS#1 v1.5
    elif key_type == "ecdsa-p384" and version == TLS13:
        assert scheme == "ecdsa_secp384r1_sha384"


def test_post_handshake_auth_after_key_updates_uses_the_current_traffic_secret() -> None:
    # RFC 8446 §4.4: the post-handshake Finished is keyed with the current
    # client_application_traffic_secret_N.
    pair = pha_pair(TEST_PKI.client_certified)
    pair.client.connection.key_update(request_peer_update=True)
    pair.pump()
    pair.server.connection.request_client_certificate()
    pair.pump()
    assert len(pair.server.of_type(PeerCertificateVerified)) == 1
    assert pair.server.error is None and pair.client.error is None
    exchange(pair)


def test_post_handshake_certificate_callback_receives_the_requests_ca_names() -> None:
    seen: list[CertificateRequestInfo] = []

    def pick(info: CertificateRequestInfo) -> CertifiedKey | None:
        seen.append(info)
        return TEST_PKI.client_certified

    ca_name = TEST_PKI.ca.certificate.subject
    server = server_config(TEST_PKI, versions=(TLS13,), client_trust=TEST_PKI.trust,
                           client_ca_names=(ca_name,))
    pair = connect(client_config(TEST_PKI, versions=(TLS13,), post_handshake_auth=True,
                                 certificate_callback=pick), server)
    assert pair.complete and seen == []  # client_auth="none": nothing asked yet
    pair.server.connection.request_client_certificate()
    pair.pump()
    (info,) = seen
    assert info.certificate_authorities == (ca_name.public_bytes(),)
    assert info.version == TLS13
    assert len(pair.server.of_type(PeerCertificateVerified)) == 1
