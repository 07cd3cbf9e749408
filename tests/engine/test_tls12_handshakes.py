"""TLS 1.2 in memory: every suite × group, RSA key transport and its switch, version
negotiation between every mix of 1.2 and 1.3 peers, and the RFC 8446 §4.1.3
downgrade sentinel."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from glasstls import AlertDescription, ClientConfig, ServerConfig
from glasstls.constants import (
    DOWNGRADE_TLS11,
    DOWNGRADE_TLS12,
    TLS12,
    TLS13,
    CipherSuite,
    ExtensionType as X,
    HandshakeType as H,
    NamedGroup,
    SignatureScheme,
)
from glasstls.crypto.suites import SUITES
from glasstls.messages.extensions import SupportedVersions, UnknownExtension
from glasstls.messages.handshake import ClientHello, serialize
from helpers.pump import CLIENT_TO_SERVER, SERVER_TO_CLIENT, Hook, KeyLog, Pair, connect
from helpers.tls12 import (
    client12,
    client_hello_of,
    edit_client_hello,
    edit_server_hello,
    first_flight_messages,
    first_transfer,
    once,
    plaintext_records,
    replace_message,
    rewrite_messages,
    server12,
    server_hello_of,
    with_extensions,
    without_extension,
)
from pki import pki

C = CipherSuite
ECDSA_PKI = pki("ecdsa-p256")
RSA_PKI = pki("rsa-2048")

ECDHE_SUITES = (
    C.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, C.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    C.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    C.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, C.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    C.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
)
RSA_SUITES = (C.TLS_RSA_WITH_AES_128_GCM_SHA256, C.TLS_RSA_WITH_AES_256_GCM_SHA384)
GROUPS = (NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1)


def pki_for(suite: int) -> object:
    return RSA_PKI if SUITES[suite].authentication == "RSA" else ECDSA_PKI


def assert_data_flows(pair: Pair) -> None:
    pair.client.connection.send(b"ping from the client")
    pair.server.connection.send(b"pong from the server")
    pair.pump()
    assert pair.server.data == b"ping from the client"
    assert pair.client.data == b"pong from the server"


# -- every suite and group ----------------------------------------------------------------


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: NamedGroup(g).name)
@pytest.mark.parametrize("suite", ECDHE_SUITES, ids=lambda s: CipherSuite(s).name)
def test_tls12_ecdhe_suite_and_group_agree_on_both_sides_and_carry_data(
        suite: int, group: int) -> None:
    test_pki = pki_for(suite)
    client_log, server_log = KeyLog(), KeyLog()
    # The group is pinned on the server: a client listing only x25519 may not be
    # sent a P-256 ECDSA certificate (RFC 8422 §5.3).
    pair = connect(client12(test_pki, cipher_suites=(suite,), keylog=client_log),
                   server12(test_pki, groups=(group,), keylog=server_log))
    assert pair.client.error is None and pair.server.error is None
    name = SUITES[suite].name
    expected_scheme = (SignatureScheme.ecdsa_secp256r1_sha256.name
                       if SUITES[suite].authentication == "ECDSA"
                       else SignatureScheme.rsa_pss_rsae_sha256.name)
    for side in (pair.client, pair.server):
        done = side.negotiated
        assert (done.version, done.cipher_suite, done.group) == (
            "TLSv1.2", name, NamedGroup(group).name)
        assert done.key_exchange == f"ECDHE {NamedGroup(group).name}"
        assert done.signature_scheme == expected_scheme
        assert done.extended_master_secret is True
        assert not done.resumed
    assert pair.client.negotiated.peer_certificates == test_pki.certified.chain_der
    # Both sides logged the same master secret for the same client random.
    assert client_log.lines == server_log.lines and len(client_log.lines) == 1
    assert server_hello_of(pair).cipher_suite == suite
    assert_data_flows(pair)


@pytest.mark.parametrize("suite", RSA_SUITES, ids=lambda s: CipherSuite(s).name)
def test_tls12_rsa_key_transport_suite_completes_when_both_sides_enable_it(suite: int) -> None:
    pair = connect(client12(RSA_PKI, cipher_suites=(suite,), enable_rsa_key_exchange=True),
                   server12(RSA_PKI, enable_rsa_key_exchange=True))
    assert pair.client.error is None and pair.server.error is None
    for side in (pair.client, pair.server):
        done = side.negotiated
        assert (done.version, done.cipher_suite) == ("TLSv1.2", SUITES[suite].name)
        assert (done.key_exchange, done.group, done.signature_scheme) == ("RSA", None, None)
        assert done.extended_master_secret is True
    # No ServerKeyExchange in RSA key transport: Certificate then ServerHelloDone.
    server_flight = [m[0] for m in first_flight_messages(first_transfer(pair, SERVER_TO_CLIENT))]
    assert server_flight == [2, 11, 14]
    assert_data_flows(pair)


def test_rsa_key_exchange_is_off_by_default_so_an_rsa_only_client_gets_handshake_failure(
) -> None:
    server = server12(RSA_PKI)
    assert not server.enable_rsa_key_exchange
    pair = connect(client12(RSA_PKI, cipher_suites=RSA_SUITES, enable_rsa_key_exchange=True),
                   server)
    assert pair.server.alert_sent == AlertDescription.handshake_failure
    assert pair.client.alerts_received == [AlertDescription.handshake_failure]
    assert "RSA key exchange" in str(pair.server.error)


def test_client_without_the_switch_never_offers_rsa_key_transport_suites() -> None:
    config = client12(RSA_PKI)
    assert set(RSA_SUITES) <= set(config.cipher_suites)  # listed, but not enabled
    pair = connect(config, server12(RSA_PKI, enable_rsa_key_exchange=True))
    offered = client_hello_of(pair).cipher_suites
    assert not set(RSA_SUITES) & set(offered)
    assert pair.client.negotiated.key_exchange.startswith("ECDHE")


def test_server_with_rsa_key_exchange_enabled_still_prefers_forward_secret_suites() -> None:
    pair = connect(client12(RSA_PKI, enable_rsa_key_exchange=True),
                   server12(RSA_PKI, enable_rsa_key_exchange=True))
    assert set(RSA_SUITES) <= set(client_hello_of(pair).cipher_suites)
    assert pair.server.negotiated.key_exchange.startswith("ECDHE")


# -- version negotiation ------------------------------------------------------------------

BOTH = (TLS13, TLS12)


@pytest.mark.parametrize(("client_versions", "server_versions", "expected"), [
    ((TLS12,), BOTH, "TLSv1.2"),
    (BOTH, (TLS12,), "TLSv1.2"),
    (BOTH, BOTH, "TLSv1.3"),
    ((TLS12,), (TLS12,), "TLSv1.2"),
], ids=["1.2-client-1.3-server", "1.3-client-1.2-server", "both-1.3", "both-1.2-only"])
def test_version_negotiation_picks_the_highest_common_version(
        client_versions: tuple[int, ...], server_versions: tuple[int, ...],
        expected: str) -> None:
    pair = connect(ClientConfig(trust=ECDSA_PKI.trust, versions=client_versions),
                   ServerConfig(certificates=(ECDSA_PKI.certified,), versions=server_versions))
    assert pair.client.error is None and pair.server.error is None
    assert pair.client.negotiated.version == pair.server.negotiated.version == expected
    assert_data_flows(pair)


def test_tls12_only_client_offers_no_supported_versions_and_legacy_version_tls12() -> None:
    hello = client_hello_of(connect(client12(ECDSA_PKI), server12(ECDSA_PKI)))
    assert hello.legacy_version == TLS12
    assert X.supported_versions not in [e.type for e in hello.extensions]


def test_tls12_only_client_to_tls13_only_server_is_protocol_version() -> None:
    pair = connect(client12(ECDSA_PKI),
                   ServerConfig(certificates=(ECDSA_PKI.certified,), versions=(TLS13,)))
    assert pair.server.alert_sent == AlertDescription.protocol_version
    assert pair.client.alerts_received == [AlertDescription.protocol_version]


def legacy_hello(legacy_version: int, supported: tuple[int, ...] | None = None) -> bytes:
    """A hand-built ClientHello of an old client: no TLS 1.2 nor 1.3 in sight."""
    extensions = () if supported is None else (SupportedVersions(supported),)
    hello = ClientHello(legacy_version, bytes(range(32)), b"",
                        (C.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 0x002F, 0x00FF), b"\x00",
                        extensions)
    return bytes([22, 3, 1]) + len(serialize(hello)).to_bytes(2, "big") + serialize(hello)


@pytest.mark.parametrize("server_versions", [BOTH, (TLS12,)], ids=["1.3-server", "1.2-server"])
@pytest.mark.parametrize(("legacy_version", "supported"), [
    (0x0301, None), (0x0302, None), (0x0303, (0x0302, 0x0301)),
], ids=["tls1.0-hello", "tls1.1-hello", "supported_versions-1.1-1.0"])
def test_client_offering_only_tls10_or_tls11_gets_protocol_version(
        server_versions: tuple[int, ...], legacy_version: int,
        supported: tuple[int, ...] | None) -> None:
    pair = Pair(client12(ECDSA_PKI),
                ServerConfig(certificates=(ECDSA_PKI.certified,), versions=server_versions))
    pair.deliver(pair.server, legacy_hello(legacy_version, supported))
    assert pair.server.alert_sent == AlertDescription.protocol_version
    # A fatal alert in the clear, and nothing else: no ServerHello.
    assert plaintext_records(pair.server.connection.data_to_send()) == [
        (21, bytes([2, AlertDescription.protocol_version]))]


def test_server_hello_selecting_tls11_is_protocol_version_for_the_client() -> None:
    pair = Pair(client12(ECDSA_PKI), server12(ECDSA_PKI),
                hook=edit_server_hello(lambda h: dataclasses.replace(h, legacy_version=0x0302)))
    pair.pump()
    assert pair.client.alert_sent == AlertDescription.protocol_version
    assert pair.server.alerts_received == [AlertDescription.protocol_version]


def test_tls13_only_client_receiving_a_tls12_server_hello_is_protocol_version() -> None:
    # A man in the middle strips supported_versions and adds a TLS 1.2 suite: the
    # server answers with TLS 1.2, which this client never offered.
    def to_tls12(hello: ClientHello) -> ClientHello:
        hello = without_extension(X.supported_versions)(hello)
        return dataclasses.replace(hello, cipher_suites=(
            *hello.cipher_suites, C.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256))

    pair = connect(ClientConfig(trust=ECDSA_PKI.trust, versions=(TLS13,)),
                   ServerConfig(certificates=(ECDSA_PKI.certified,)),
                   hook=edit_client_hello(to_tls12))
    assert server_hello_of(pair).legacy_version == TLS12
    assert pair.client.alert_sent == AlertDescription.protocol_version


# -- downgrade protection (RFC 8446 §4.1.3) -----------------------------------------------


def test_tls13_server_negotiating_tls12_puts_the_downgrade_sentinel_in_its_random() -> None:
    pair = connect(client12(ECDSA_PKI), ServerConfig(certificates=(ECDSA_PKI.certified,)))
    assert server_hello_of(pair).random[-8:] == DOWNGRADE_TLS12
    # A TLS 1.2-only client must accept it: the server told the truth.
    assert pair.client.negotiated.version == "TLSv1.2"


def test_tls12_only_server_sends_no_sentinel_and_a_tls13_client_accepts_tls12() -> None:
    pair = connect(ClientConfig(trust=ECDSA_PKI.trust), server12(ECDSA_PKI))
    assert server_hello_of(pair).random[-8:] not in (DOWNGRADE_TLS12, DOWNGRADE_TLS11)
    assert pair.client.negotiated.version == "TLSv1.2"


def test_downgrade_attack_stripping_supported_versions_is_caught_by_the_sentinel() -> None:
    # The faithful attack: both peers support TLS 1.3; a man in the middle removes
    # supported_versions (and the 1.3-only key_share) from the ClientHello. The
    # server, seeing a 1.2 client, negotiates 1.2 honestly and marks its random;
    # the client notices the mark at the ServerHello, before any key exchange.
    def strip(hello: ClientHello) -> ClientHello:
        return without_extension(X.key_share)(without_extension(X.supported_versions)(hello))

    pair = connect(ClientConfig(trust=ECDSA_PKI.trust),
                   ServerConfig(certificates=(ECDSA_PKI.certified,)),
                   hook=edit_client_hello(strip))
    assert server_hello_of(pair).random[-8:] == DOWNGRADE_TLS12
    assert pair.client.alert_sent == AlertDescription.illegal_parameter
    assert "downgrade" in str(pair.client.error)
    assert pair.server.alerts_received == [AlertDescription.illegal_parameter]
    # The client stopped at the ServerHello: it sent no ClientKeyExchange.
    client_records = plaintext_records(pair.sent(CLIENT_TO_SERVER))
    assert [t for t, _ in client_records] == [22, 21]
    assert client_records[1][1] == bytes([2, AlertDescription.illegal_parameter])
    assert not pair.client.connection.handshake_complete


@pytest.mark.parametrize("sentinel", [DOWNGRADE_TLS12, DOWNGRADE_TLS11], ids=["tls12", "tls11"])
def test_tls13_client_aborts_on_a_sentinel_written_into_a_tls12_server_hello(
        sentinel: bytes) -> None:
    # The client's check alone: a 1.2-only server (no sentinel of its own) whose
    # ServerHello.random is given either sentinel in flight.
    pair = connect(ClientConfig(trust=ECDSA_PKI.trust), server12(ECDSA_PKI),
                   hook=edit_server_hello(
                       lambda h: dataclasses.replace(h, random=h.random[:24] + sentinel)))
    assert pair.client.alert_sent == AlertDescription.illegal_parameter
    assert pair.server.alerts_received == [AlertDescription.illegal_parameter]



# -- the client checks the server's choices -----------------------------------------------


@pytest.mark.parametrize("chosen", [C.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                                    C.TLS_AES_128_GCM_SHA256],
                         ids=["tls12-suite-not-offered", "tls13-suite"])
def test_tls12_server_hello_with_a_suite_not_offered_is_illegal_parameter(chosen: int) -> None:
    pair = connect(client12(ECDSA_PKI, cipher_suites=(C.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,)),
                   server12(ECDSA_PKI),
                   hook=edit_server_hello(lambda h: dataclasses.replace(h, cipher_suite=chosen)))
    assert pair.client.alert_sent == AlertDescription.illegal_parameter


def test_tls12_server_hello_with_compression_is_illegal_parameter() -> None:
    pair = connect(client12(ECDSA_PKI), server12(ECDSA_PKI), hook=edit_server_hello(
        lambda h: dataclasses.replace(h, legacy_compression_method=1)))
    assert pair.client.alert_sent == AlertDescription.illegal_parameter


def test_tls12_client_hello_without_null_compression_is_illegal_parameter() -> None:
    pair = connect(client12(ECDSA_PKI), server12(ECDSA_PKI), hook=edit_client_hello(
        lambda h: dataclasses.replace(h, legacy_compression_methods=b"\x01")))
    assert pair.server.alert_sent == AlertDescription.illegal_parameter


def edit_server_key_exchange(change: Callable[[bytes], bytes]) -> Hook:
    return once(SERVER_TO_CLIENT, lambda data: rewrite_messages(
        data, replace_message(H.server_key_exchange, change)))


def test_server_key_exchange_with_a_bad_signature_is_decrypt_error() -> None:
    pair = connect(client12(ECDSA_PKI), server12(ECDSA_PKI),
                   hook=edit_server_key_exchange(lambda m: m[:-1] + bytes([m[-1] ^ 1])))
    assert pair.client.alert_sent == AlertDescription.decrypt_error
    assert pair.server.alerts_received == [AlertDescription.decrypt_error]


def test_server_key_exchange_public_key_swapped_in_flight_is_decrypt_error() -> None:
    # The signature covers both randoms and the ECDHE parameters (RFC 8422 §5.4).
    # After the 4-byte header: curve_type(1) named_curve(2) public<1..255>; byte 9 is
    # the public key's second byte.
    pair = connect(client12(ECDSA_PKI), server12(ECDSA_PKI),
                   hook=edit_server_key_exchange(lambda m: m[:9] + bytes([m[9] ^ 1]) + m[10:]))
    assert pair.client.alert_sent == AlertDescription.decrypt_error


def test_server_key_exchange_for_a_group_not_offered_is_illegal_parameter() -> None:
    offered = (NamedGroup.x25519, NamedGroup.secp256r1)
    pair = connect(client12(ECDSA_PKI, groups=offered), server12(ECDSA_PKI),
                   hook=edit_server_key_exchange(
                       lambda m: m[:5] + int(NamedGroup.secp521r1).to_bytes(2, "big") + m[7:]))
    assert pair.client.alert_sent == AlertDescription.illegal_parameter


def test_server_certificate_of_the_wrong_key_type_for_the_suite_is_unsupported_certificate(
) -> None:
    # The server chose ECDHE-ECDSA; a man in the middle relabels it ECDHE-RSA.
    pair = connect(client12(ECDSA_PKI), server12(ECDSA_PKI), hook=edit_server_hello(
        lambda h: dataclasses.replace(h, cipher_suite=C.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)))
    assert pair.client.alert_sent == AlertDescription.unsupported_certificate


def test_tls12_server_hello_carrying_supported_versions_tls12_is_illegal_parameter() -> None:
    # RFC 8446 §4.2.1: a supported_versions selecting a version before TLS 1.3.
    pair = connect(ClientConfig(trust=ECDSA_PKI.trust), server12(ECDSA_PKI),
                   hook=edit_server_hello(with_extensions(
                       UnknownExtension(X.supported_versions, TLS12.to_bytes(2, "big")))))
    assert pair.client.alert_sent == AlertDescription.illegal_parameter
