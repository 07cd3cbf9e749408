"""What client and server agree on: HelloRetryRequest and its cookie, ALPN, versions,
suites and groups in common, GREASE, and middlebox compatibility mode."""

from __future__ import annotations

import os
from collections.abc import Callable

from glasstls import AlertDescription
from glasstls.constants import (
    HELLO_RETRY_REQUEST_RANDOM,
    TLS12,
    TLS13,
    CipherSuite,
    ExtensionType as X,
    NamedGroup,
    is_grease,
)
from glasstls.crypto.groups import GROUPS
from glasstls.messages import extensions as ext, handshake as hs
from helpers.pump import (
    CLIENT_TO_SERVER,
    SERVER_TO_CLIENT,
    Pair,
    client_config,
    connect,
    record,
    server_config,
    split_records,
)
from pki import pki

TEST_PKI = pki("ecdsa-p256")


def handshake_records(pair: Pair, direction: str) -> list[bytes]:
    """The payloads of the unprotected handshake records sent one way."""
    return [r[5:] for r in split_records(pair.sent(direction)) if r[0] == 22]


def retry_pair(**server_overrides: object) -> Pair:
    """A client whose only key share (x25519) the server does not take."""
    return Pair(
        client_config(TEST_PKI, groups=(NamedGroup.x25519, NamedGroup.secp256r1),
                      key_share_groups=(NamedGroup.x25519,)),
        server_config(TEST_PKI, groups=(NamedGroup.secp256r1,), **server_overrides))


# -- HelloRetryRequest, client side ----------------------------------------------------------

def test_hello_retry_request_asks_for_the_servers_group_with_a_cookie_the_client_returns(
) -> None:
    pair = retry_pair().pump()
    assert pair.complete
    first, second = [hs.ClientHello.parse(m) for m in handshake_records(pair, CLIENT_TO_SERVER)]
    retry = hs.ServerHello.parse(handshake_records(pair, SERVER_TO_CLIENT)[0])
    assert retry.random == HELLO_RETRY_REQUEST_RANDOM
    assert ext.find_typed(retry.extensions, X.key_share, ext.KeyShare) == ext.KeyShare(
        selected_group=NamedGroup.secp256r1, where=ext.HRR)
    cookie = ext.find_typed(retry.extensions, X.cookie, ext.Opaque16)
    assert cookie is not None and len(cookie.data) >= 16
    # RFC 8446 §4.1.2: the second hello returns the cookie and the one requested share.
    assert ext.find_typed(second.extensions, X.cookie, ext.Opaque16) == cookie
    shares = ext.find_typed(second.extensions, X.key_share, ext.KeyShare)
    assert shares is not None and [e.group for e in shares.entries] == [NamedGroup.secp256r1]
    assert second.random == first.random
    assert second.legacy_session_id == first.legacy_session_id
    for side in (pair.client, pair.server):
        assert side.negotiated.group == "secp256r1"


def test_hello_retry_request_without_a_cookie_completes_the_handshake() -> None:
    pair = retry_pair(hello_retry_cookie=False).pump()
    assert pair.complete
    retry = hs.ServerHello.parse(handshake_records(pair, SERVER_TO_CLIENT)[0])
    assert retry.is_hello_retry_request
    assert ext.find(retry.extensions, X.cookie) is None
    assert pair.client.negotiated.group == "secp256r1"


def _is_retry(data: bytes) -> bool:
    return data[5 + 6:5 + 38] == HELLO_RETRY_REQUEST_RANDOM


def test_second_hello_retry_request_is_unexpected_message() -> None:
    # RFC 8446 §4.1.4: a client receiving a second HelloRetryRequest aborts.
    def twice(direction: str, data: bytes) -> bytes:
        if direction == SERVER_TO_CLIENT and _is_retry(data):
            return data + split_records(data)[0]
        return data

    pair = retry_pair(hello_retry_cookie=False)
    pair.hook = twice
    pair.pump()
    assert pair.client.alert_sent == AlertDescription.unexpected_message


def test_hello_retry_request_for_a_group_already_shared_is_illegal_parameter() -> None:
    # RFC 8446 §4.1.4: the selected group must not be one the client sent a share for.
    def ask_for_x25519(direction: str, data: bytes) -> bytes:
        if direction == SERVER_TO_CLIENT and _is_retry(data):
            return data.replace(b"\x00\x33\x00\x02\x00\x17", b"\x00\x33\x00\x02\x00\x1d", 1)
        return data

    pair = retry_pair(hello_retry_cookie=False)
    pair.hook = ask_for_x25519
    pair.pump()
    assert pair.client.alert_sent == AlertDescription.illegal_parameter


def test_hello_retry_request_for_a_group_never_offered_is_illegal_parameter() -> None:
    def ask_for_p384(direction: str, data: bytes) -> bytes:
        if direction == SERVER_TO_CLIENT and _is_retry(data):
            return data.replace(b"\x00\x33\x00\x02\x00\x17", b"\x00\x33\x00\x02\x00\x18", 1)
        return data

    pair = retry_pair(hello_retry_cookie=False)
    pair.hook = ask_for_p384
    pair.pump()
    assert pair.client.alert_sent == AlertDescription.illegal_parameter


# -- HelloRetryRequest, server side (the second ClientHello built by the test) ----------------


def _server_after_retry(second_hello: Callable[[hs.ClientHello, ext.Opaque16 | None],
                                               hs.ClientHello]) -> Pair:
    """Send the server a ClientHello it must retry, then the second hello made by
    ``second_hello(first hello, cookie from the HRR)``, through the plain record layer."""
    pair = retry_pair()
    client, server = pair.client.connection, pair.server
    first_record = client.data_to_send()
    pair.deliver(server, first_record)
    retry = hs.ServerHello.parse(split_records(server.connection.data_to_send())[0][5:])
    assert retry.is_hello_retry_request
    first = hs.ClientHello.parse(first_record[5:])
    cookie = ext.find_typed(retry.extensions, X.cookie, ext.Opaque16)
    second = second_hello(first, cookie)
    pair.deliver(server, record(20, b"\x01") + record(22, hs.serialize(second)))
    return pair


def _retried(first: hs.ClientHello, cookie: ext.Opaque16 | None, *,
             group: int = NamedGroup.secp256r1, random: bytes | None = None
             ) -> hs.ClientHello:
    share = GROUPS[group].generate(os.urandom)
    extensions: list[object] = []
    for extension in first.extensions:
        if extension.type == X.key_share:
            extension = ext.KeyShare((ext.KeyShareEntry(group, share.public),))
        extensions.append(extension)
    if cookie is not None:
        extensions.append(cookie)
    return hs.ClientHello(first.legacy_version, random or first.random,
                          first.legacy_session_id, first.cipher_suites,
                          first.legacy_compression_methods, tuple(extensions))  # type: ignore[arg-type]


def test_server_accepts_a_second_client_hello_that_returns_its_cookie() -> None:
    pair = _server_after_retry(_retried)
    assert pair.server.error is None
    server_hello = hs.ServerHello.parse(
        split_records(pair.server.connection.data_to_send())[0][5:])
    assert not server_hello.is_hello_retry_request
    share = ext.find_typed(server_hello.extensions, X.key_share, ext.KeyShare)
    assert share is not None and share.entries[0].group == NamedGroup.secp256r1


def test_server_refuses_a_forged_cookie_with_illegal_parameter() -> None:
    pair = _server_after_retry(
        lambda first, cookie: _retried(first, ext.Opaque16(X.cookie, bytes(32))))
    assert pair.server.alert_sent == AlertDescription.illegal_parameter
    assert "cookie" in str(pair.server.error)


def test_server_refuses_a_second_client_hello_without_the_cookie() -> None:
    pair = _server_after_retry(lambda first, cookie: _retried(first, None))
    assert pair.server.alert_sent == AlertDescription.illegal_parameter


def test_server_refuses_a_second_client_hello_with_another_random() -> None:
    pair = _server_after_retry(
        lambda first, cookie: _retried(first, cookie, random=b"\x01" * 32))
    assert pair.server.alert_sent == AlertDescription.illegal_parameter


def test_server_refuses_a_second_client_hello_without_the_requested_share() -> None:
    pair = _server_after_retry(
        lambda first, cookie: _retried(first, cookie, group=NamedGroup.x25519))
    assert pair.server.alert_sent == AlertDescription.illegal_parameter


def test_server_hello_retry_request_cookie_is_bound_to_the_first_hello() -> None:
    # Two different first hellos get two different cookies.
    cookies = []
    for _ in range(2):
        pair = retry_pair()
        pair.deliver(pair.server, pair.client.connection.data_to_send())
        retry = hs.ServerHello.parse(split_records(pair.server.connection.data_to_send())[0][5:])
        cookies.append(ext.find_typed(retry.extensions, X.cookie, ext.Opaque16))
    assert cookies[0] != cookies[1]


def test_server_that_has_a_key_share_it_likes_does_not_retry() -> None:
    pair = connect(client_config(TEST_PKI, key_share_groups=(NamedGroup.x25519,)),
                   server_config(TEST_PKI, groups=(NamedGroup.secp256r1, NamedGroup.x25519)))
    assert pair.complete
    retry_or_hello = hs.ServerHello.parse(handshake_records(pair, SERVER_TO_CLIENT)[0])
    assert not retry_or_hello.is_hello_retry_request
    assert pair.client.negotiated.group == "x25519"


# -- ALPN -------------------------------------------------------------------------------------


def test_alpn_picks_the_servers_preferred_protocol_among_the_clients() -> None:
    pair = connect(client_config(TEST_PKI, alpn_protocols=("h2", "http/1.1")),
                   server_config(TEST_PKI, alpn_protocols=("http/1.1", "h2")))
    assert pair.client.negotiated.alpn_protocol == "http/1.1"
    assert pair.server.negotiated.alpn_protocol == "http/1.1"


def test_alpn_without_a_protocol_in_common_is_no_application_protocol() -> None:
    pair = connect(client_config(TEST_PKI, alpn_protocols=("h2",)),
                   server_config(TEST_PKI, alpn_protocols=("http/1.1",)))
    assert pair.server.alert_sent == AlertDescription.no_application_protocol
    assert pair.client.alerts_received == [AlertDescription.no_application_protocol]
    assert not pair.client.connection.handshake_complete


def test_alpn_offered_to_a_server_without_alpn_negotiates_none() -> None:
    pair = connect(client_config(TEST_PKI, alpn_protocols=("h2",)), server_config(TEST_PKI))
    assert pair.complete
    assert pair.client.negotiated.alpn_protocol is None


def test_alpn_configured_on_the_server_only_negotiates_none() -> None:
    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI, alpn_protocols=("h2",)))
    assert pair.complete
    assert pair.server.negotiated.alpn_protocol is None


def test_server_choosing_a_protocol_the_client_did_not_offer_is_illegal_parameter() -> None:
    # RFC 7301 §3.1; the choice travels in EncryptedExtensions, hence the reseal.
    from glasstls.crypto.suites import SUITES
    from helpers.pump import KeyLog, handshake_messages, reseal

    keylog = KeyLog()
    suite = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]

    def change(content_type: int, plaintext: bytes) -> tuple[int, bytes]:
        messages = handshake_messages(plaintext)
        encrypted_extensions = hs.EncryptedExtensions.parse(messages[0])
        swapped = tuple(ext.ALPN((b"h3",)) if e.type == X.application_layer_protocol_negotiation
                        else e for e in encrypted_extensions.extensions)
        messages[0] = hs.serialize(hs.EncryptedExtensions(swapped))
        return content_type, b"".join(messages)

    done: list[bool] = []

    def hook(direction: str, data: bytes) -> bytes:
        if direction == SERVER_TO_CLIENT and not done:
            done.append(True)
            return reseal(data, suite, keylog.secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"], change)
        return data

    pair = connect(client_config(TEST_PKI, alpn_protocols=("h2",), cipher_suites=(suite.id,)),
                   server_config(TEST_PKI, alpn_protocols=("h2",), keylog=keylog), hook=hook)
    assert pair.client.alert_sent == AlertDescription.illegal_parameter


# -- parameters in common ------------------------------------------------------------------


def test_no_cipher_suite_in_common_is_handshake_failure() -> None:
    pair = connect(
        client_config(TEST_PKI, cipher_suites=(CipherSuite.TLS_AES_128_GCM_SHA256,)),
        server_config(TEST_PKI, cipher_suites=(CipherSuite.TLS_CHACHA20_POLY1305_SHA256,)))
    assert pair.server.alert_sent == AlertDescription.handshake_failure
    assert pair.client.alerts_received == [AlertDescription.handshake_failure]


def test_no_group_in_common_is_handshake_failure() -> None:
    pair = connect(
        client_config(TEST_PKI, groups=(NamedGroup.x25519,), key_share_groups=(NamedGroup.x25519,)),
        server_config(TEST_PKI, groups=(NamedGroup.secp384r1,)))
    assert pair.server.alert_sent == AlertDescription.handshake_failure


def test_no_version_in_common_is_protocol_version() -> None:
    pair = connect(client_config(TEST_PKI, versions=(TLS13,)),
                   server_config(TEST_PKI, versions=(TLS12,)))
    assert pair.server.alert_sent == AlertDescription.protocol_version
    assert pair.client.alerts_received == [AlertDescription.protocol_version]


def test_server_preference_orders_suites_unless_turned_off() -> None:
    offered = (CipherSuite.TLS_CHACHA20_POLY1305_SHA256, CipherSuite.TLS_AES_256_GCM_SHA384)
    ours = (CipherSuite.TLS_AES_256_GCM_SHA384, CipherSuite.TLS_CHACHA20_POLY1305_SHA256)
    for preference, expected in ((True, ours[0]), (False, offered[0])):
        pair = connect(client_config(TEST_PKI, cipher_suites=offered),
                       server_config(TEST_PKI, cipher_suites=ours, server_preference=preference))
        assert pair.client.negotiated.cipher_suite == CipherSuite(expected).name


def test_server_learns_the_host_name_the_client_asked_for() -> None:
    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI))
    assert pair.server.negotiated.server_name == "localhost"
    assert pair.client.negotiated.server_name == "localhost"


# -- GREASE and compatibility mode ---------------------------------------------------------------


def grease_rng(draw: bytes) -> Callable[[int], bytes]:
    """A random source whose first draw (the client's six GREASE choices: suite,
    group, version, two extensions, scheme) is ``draw``; os.urandom after that."""
    draws = [draw]
    return lambda n: draws.pop() if draws else os.urandom(n)


DISTINCT_GREASE = bytes([0, 1, 2, 3, 4, 5])
# The two GREASE extension types come from the 4th and 5th bytes of the draw.
COLLIDING_GREASE = bytes([0, 1, 2, 3, 3, 5])


def test_grease_client_hello_carries_grease_everywhere_and_is_accepted() -> None:
    pair = connect(client_config(TEST_PKI, grease=True, rng=grease_rng(DISTINCT_GREASE)),
                   server_config(TEST_PKI))
    assert pair.complete, pair.server.error
    hello = hs.ClientHello.parse(handshake_records(pair, CLIENT_TO_SERVER)[0])
    assert any(is_grease(s) for s in hello.cipher_suites)
    assert sum(is_grease(e.type) for e in hello.extensions) == 2
    groups = ext.find_typed(hello.extensions, X.supported_groups, ext.U16List)
    versions = ext.find_typed(hello.extensions, X.supported_versions, ext.SupportedVersions)
    shares = ext.find_typed(hello.extensions, X.key_share, ext.KeyShare)
    assert groups and any(is_grease(g) for g in groups.values)
    assert versions and any(is_grease(v) for v in versions.versions)
    assert shares and any(is_grease(e.group) for e in shares.entries)
    # The server picked real values.
    assert not is_grease(CipherSuite[pair.server.negotiated.cipher_suite])


def test_grease_client_never_sends_the_same_grease_extension_twice() -> None:
    pair = connect(client_config(TEST_PKI, grease=True, rng=grease_rng(COLLIDING_GREASE)),
                   server_config(TEST_PKI))
    assert pair.complete, pair.server.error


def test_grease_client_completes_a_hello_retry() -> None:
    pair = Pair(
        client_config(TEST_PKI, grease=True, rng=grease_rng(DISTINCT_GREASE),
                      groups=(NamedGroup.x25519, NamedGroup.secp384r1),
                      key_share_groups=(NamedGroup.x25519,)),
        server_config(TEST_PKI, groups=(NamedGroup.secp384r1,))).pump()
    assert pair.complete, pair.server.error
    first, second = [hs.ClientHello.parse(m) for m in handshake_records(pair, CLIENT_TO_SERVER)]
    # RFC 8701 §4: the same GREASE values in the second hello.
    assert [s for s in first.cipher_suites if is_grease(s)] == [
        s for s in second.cipher_suites if is_grease(s)]


def test_compatibility_mode_sends_a_session_id_and_change_cipher_spec_both_ways() -> None:
    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI))
    hello = hs.ClientHello.parse(handshake_records(pair, CLIENT_TO_SERVER)[0])
    server_hello = hs.ServerHello.parse(handshake_records(pair, SERVER_TO_CLIENT)[0])
    assert len(hello.legacy_session_id) == 32
    assert server_hello.legacy_session_id_echo == hello.legacy_session_id
    ccs = record(20, b"\x01")
    server_records = split_records(pair.sent(SERVER_TO_CLIENT))
    client_records = split_records(pair.sent(CLIENT_TO_SERVER))
    # RFC 8446 Appendix D.4: right after the ServerHello, and before the client's
    # second flight.
    assert server_records[1] == ccs
    assert client_records[1] == ccs


def test_without_compatibility_mode_no_session_id_and_no_change_cipher_spec() -> None:
    pair = connect(client_config(TEST_PKI, middlebox_compatibility=False),
                   server_config(TEST_PKI))
    assert pair.complete
    hello = hs.ClientHello.parse(handshake_records(pair, CLIENT_TO_SERVER)[0])
    assert hello.legacy_session_id == b""
    everything = split_records(pair.sent(CLIENT_TO_SERVER) + pair.sent(SERVER_TO_CLIENT))
    assert not [r for r in everything if r[0] == 20]
