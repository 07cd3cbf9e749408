"""Hello fields no honest client sends, and the alert each gets (issue 12 items 3-7):
a TLS 1.3 hello's legacy_version, a session or ticket offered under another server
name, server names that are not host names, a second ClientHello that changes more
than a HelloRetryRequest allows, and key shares that are empty or of the wrong
size. Also: resumed TLS 1.2 connections write their key log line."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from glasstls import AlertDescription, ClientConnection
from glasstls.constants import (
    TLS12,
    TLS13,
    ExtensionType as X,
    HandshakeType as H,
    NamedGroup,
)
from glasstls.crypto.suites import SUITES
from glasstls.messages import extensions as ext
from glasstls.messages.handshake import ClientHello, ServerHello, serialize
from glasstls.session import ClientSession, ServerSessionCache, TicketKeys
from helpers.pump import (
    CLIENT_TO_SERVER,
    KeyLog,
    Pair,
    client_config,
    connect,
    server_config,
    split_records,
)
from helpers.tls12 import (
    edit_client_hello,
    first_flight_messages,
    forge_client_hello,
    nth,
    protection12,
    replace_message,
    rewrite_messages,
)
from pki import pki

TEST_PKI = pki("ecdsa-p256")


def refused(hook: Callable[[str, bytes], bytes], alert: AlertDescription, reason: str = "",
            versions: tuple[int, ...] = (TLS13, TLS12), **server: object) -> Pair:
    pair = connect(client_config(TEST_PKI, middlebox_compatibility=False),
                   server_config(TEST_PKI, versions=versions, **server), hook=hook)
    assert pair.server.alert_sent == alert, pair.server.error
    assert reason in str(pair.server.error)
    return pair


def replace_field(**fields: object) -> Callable[[ClientHello], ClientHello]:
    return lambda hello: dataclasses.replace(hello, **fields)


def replacing(new: ext.Extension) -> Callable[[ClientHello], ClientHello]:
    def change(hello: ClientHello) -> ClientHello:
        return dataclasses.replace(hello, extensions=tuple(
            new if e.type == new.type else e for e in hello.extensions))
    return change


# -- item 3: legacy_version ------------------------------------------------------------------


@pytest.mark.parametrize("legacy_version", [0x0301, 0x0302, 0x0304, 0x0300, 0x0200])
def test_tls13_hello_whose_legacy_version_is_not_0x0303_is_protocol_version(
        legacy_version: int) -> None:
    # RFC 9846 §4.1.2: a server receiving another value MUST abort with protocol_version.
    refused(edit_client_hello(replace_field(legacy_version=legacy_version)),
            AlertDescription.protocol_version, "legacy_version")


def test_a_hello_of_ssl3_is_protocol_version_even_for_tls12() -> None:
    # RFC 8446 Appendix D.5: legacy_version 0x0300 or below is protocol_version.
    def ssl3(hello: ClientHello) -> ClientHello:
        without = tuple(e for e in hello.extensions if e.type != X.supported_versions)
        return dataclasses.replace(hello, legacy_version=0x0300, extensions=without)

    refused(edit_client_hello(ssl3), AlertDescription.protocol_version, "SSL 3.0")


def test_a_tls12_server_ignores_the_legacy_version_of_a_hello_offering_both() -> None:
    # RFC 8446 §4.2.1: supported_versions decides; TLS 1.2 is negotiated, and the
    # legacy_version rule of TLS 1.3 hellos does not apply.
    pair = Pair(client_config(TEST_PKI, check_hostname=False),
                server_config(TEST_PKI, versions=(TLS12,)))
    forge_client_hello(pair, replace_field(legacy_version=0x0301))
    pair.pump()
    assert pair.complete and pair.server.negotiated.version == "TLSv1.2"


# -- item 4: resumption across server names -------------------------------------------------


def _resume(version: int, server_config_: object, first_name: str | None,
            second_name: str | None, tickets: bool) -> tuple[bool, bool]:
    """A session made under ``first_name``, offered under ``second_name``: whether
    (client, server) resumed."""
    config = client_config(TEST_PKI, versions=(version,), check_hostname=False,
                           session_cache=None)
    first = connect(ClientConnection(config, server_name=first_name), server_config_)
    assert first.complete
    session = first.client.connection.session
    assert isinstance(session, ClientSession)
    if version == TLS12:
        assert bool(session.ticket) == tickets
    second = connect(ClientConnection(config, server_name=second_name, session=session),
                     server_config_)
    assert second.complete, (second.client.error, second.server.error)
    return second.client.negotiated.resumed, second.server.negotiated.resumed


def _servers() -> list[tuple[str, int, object, bool]]:
    return [
        ("TLS 1.2 session id", TLS12, server_config(
            TEST_PKI, versions=(TLS12,), ticket_keys=None, session_cache=ServerSessionCache()),
         False),
        ("TLS 1.2 ticket", TLS12, server_config(
            TEST_PKI, versions=(TLS12,), ticket_keys=TicketKeys(), session_cache=None), True),
        ("TLS 1.3 ticket", TLS13, server_config(TEST_PKI, versions=(TLS13,)), True),
    ]


@pytest.mark.parametrize(("kind", "version", "server", "tickets"), _servers(),
                         ids=lambda value: value if isinstance(value, str) else "")
def test_a_session_is_resumed_under_its_own_server_name_only(
        kind: str, version: int, server: object, tickets: bool) -> None:
    # RFC 6066 §3: the server MUST NOT resume under another name (full handshake);
    # glasstls applies the same rule to TLS 1.3 tickets (RFC 9846 §4.2.11 leaves it
    # to the server) since it picks certificates by name.
    assert _resume(version, server, "a.example", "a.example", tickets) == (True, True)
    assert _resume(version, server, "a.example", "A.Example.", tickets) == (True, True)
    assert _resume(version, server, "a.example", "b.example", tickets) == (False, False)
    assert _resume(version, server, "a.example", None, tickets) == (False, False)
    assert _resume(version, server, None, "a.example", tickets) == (False, False)
    assert _resume(version, server, None, None, tickets) == (True, True)


# -- item 5: server names ---------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    b"bad\x00name.example", b"tab\tname", b"line\nfeed.example", b"caf\xc3\xa9.example",
    b"space name.example", b"a..b.example", b".leading.example", b"colon:443",
    b"[::1]", b"x" * 64 + b".example", b"slash/path", b"a" + b".b" * 127, b"..",
])
def test_a_server_name_that_is_not_a_host_name_is_illegal_parameter(name: bytes) -> None:
    # RFC 6066 §3: a HostName is an ASCII DNS name; nothing else reaches the application.
    refused(edit_client_hello(replacing(ext.ServerNameList(name))),
            AlertDescription.illegal_parameter, "not a DNS host name")


@pytest.mark.parametrize("name", [
    b"localhost", b"LOCALHOST", b"example.com.", b"xn--caf-dma.example", b"my_host.example",
    b"a-b.c-d.example", b"1.2.3.4", b"x" * 63 + b".example",
])
def test_host_names_in_every_allowed_form_are_served(name: bytes) -> None:
    pair = Pair(client_config(TEST_PKI, check_hostname=False), server_config(TEST_PKI))
    forge_client_hello(pair, replacing(ext.ServerNameList(name)))
    pair.pump()
    assert pair.complete, pair.server.error
    assert pair.server.negotiated.server_name == name.decode()


# -- item 6: the second ClientHello after a HelloRetryRequest --------------------------------


def _second_hello(change: Callable[[ClientHello], ClientHello]) -> Callable[[str, bytes], bytes]:
    def rewrite(raw: bytes) -> bytes:
        return serialize(change(ClientHello.parse(raw)))
    return nth(CLIENT_TO_SERVER, 1,
               lambda data: rewrite_messages(data, replace_message(H.client_hello, rewrite)))


RETRYING = {"groups": (NamedGroup.secp384r1,)}  # the client sends no share for it


def _swap_first_two(hello: ClientHello) -> ClientHello:
    first, second, *rest = hello.extensions
    return dataclasses.replace(hello, extensions=(second, first, *rest))


def _drop(ext_type: int) -> Callable[[ClientHello], ClientHello]:
    return lambda hello: dataclasses.replace(hello, extensions=tuple(
        e for e in hello.extensions if e.type != ext_type))


def _add_before_key_share(extension: ext.Extension) -> Callable[[ClientHello], ClientHello]:
    def change(hello: ClientHello) -> ClientHello:
        return dataclasses.replace(hello, extensions=(extension, *hello.extensions))
    return change


@pytest.mark.parametrize(("what", "change"), [
    ("extensions reordered", _swap_first_two),
    ("an extension removed", _drop(X.signature_algorithms)),
    ("an extension added", _add_before_key_share(ext.UnknownExtension(0x4444, b"x"))),
    ("supported_groups changed", replacing(ext.U16List(X.supported_groups,
                                                       (NamedGroup.secp384r1,)))),
    ("ALPN added", _add_before_key_share(ext.ALPN((b"h2",)))),
    ("cipher suites reordered", lambda hello: dataclasses.replace(
        hello, cipher_suites=tuple(reversed(hello.cipher_suites)))),
    ("legacy_version changed", replace_field(legacy_version=0x0301)),
    ("early_data added", _add_before_key_share(ext.EarlyDataIndication())),
])
def test_a_second_client_hello_that_changes_what_it_may_not_is_illegal_parameter(
        what: str, change: Callable[[ClientHello], ClientHello]) -> None:
    # RFC 8446 §4.1.2: only the key share, early_data, the cookie, pre_shared_key and
    # padding may change; the RFC names no alert, illegal_parameter as BoringSSL's tests.
    pair = refused(_second_hello(change), AlertDescription.illegal_parameter, **RETRYING)
    assert ServerHello.parse(first_flight_messages(pair.wire[1][1])[0]).is_hello_retry_request


def test_a_second_client_hello_may_change_its_padding() -> None:
    def padded(hello: ClientHello) -> ClientHello:
        others = tuple(e for e in hello.extensions if e.type != X.padding)
        assert len(others) < len(hello.extensions)  # the client pads its hellos
        return dataclasses.replace(hello, extensions=(
            *others, ext.UnknownExtension(X.padding, bytes(100))))

    # The server accepts the hello and sends its flight. The client's transcript keeps
    # its own hello, so the two sides' handshake keys differ: the client cannot read
    # the flight, and the server cannot read the client's alert, which is protected
    # with the client's handshake keys (RFC 8446 §6). bad_record_mac both ways, never
    # the illegal_parameter of a refused hello.
    pair = connect(client_config(TEST_PKI, middlebox_compatibility=False),
                   server_config(TEST_PKI, **RETRYING), hook=_second_hello(padded))
    assert pair.client.alert_sent == AlertDescription.bad_record_mac
    assert pair.server.alert_sent in (None, AlertDescription.bad_record_mac)
    assert [r[0] for r in split_records(pair.wire[3][1])][:2] == [22, 23]  # ServerHello, flight


def test_an_honest_retry_still_completes() -> None:
    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI, **RETRYING))
    assert pair.complete and pair.client.negotiated.group == "secp384r1"


# -- item 7: key shares --------------------------------------------------------------------------


def _shares(*entries: ext.KeyShareEntry) -> Callable[[ClientHello], ClientHello]:
    return replacing(ext.KeyShare(entries))


def test_an_empty_key_exchange_is_decode_error() -> None:
    # RFC 8446 §4.2.8: key_exchange<1..2^16-1>.
    refused(edit_client_hello(_shares(ext.KeyShareEntry(NamedGroup.x25519, b""))),
            AlertDescription.decode_error)


@pytest.mark.parametrize(("group", "size"), [
    (NamedGroup.x25519, 31), (NamedGroup.x25519, 33), (NamedGroup.secp256r1, 64),
    (NamedGroup.secp256r1, 66),
])
def test_a_key_share_of_the_wrong_size_for_its_group_is_illegal_parameter(
        group: int, size: int) -> None:
    # RFC 8446 §4.2.8.2, RFC 7748: a share of another size is not a share of the group.
    def change(hello: ClientHello) -> ClientHello:
        hello = _shares(ext.KeyShareEntry(group, b"\x04" + bytes(size - 1)))(hello)
        return replacing(ext.U16List(X.supported_groups, (group,)))(hello)

    refused(edit_client_hello(change), AlertDescription.illegal_parameter, "key share")


@pytest.mark.parametrize("shares", [(), ((0x0015, bytes(57)),)])
def test_only_groups_glasstls_does_not_implement_is_handshake_failure(
        shares: tuple[tuple[int, bytes], ...]) -> None:
    # secp224r1 and ffdhe2048: obsolete or not implemented, with or without a share.
    def change(hello: ClientHello) -> ClientHello:
        hello = _shares(*(ext.KeyShareEntry(g, k) for g, k in shares))(hello)
        return replacing(ext.U16List(X.supported_groups, (0x0015, 0x0100)))(hello)

    refused(edit_client_hello(change), AlertDescription.handshake_failure, "group")


# -- resumed TLS 1.2 connections in the key log ---------------------------------------------------


@pytest.mark.parametrize("tickets", [False, True])
def test_a_resumed_tls12_connection_writes_its_client_random_line(tickets: bool) -> None:
    # Without it, Wireshark and glasstls explain --pcap cannot read a resumed connection.
    client_log, server_log = KeyLog(), KeyLog()
    server = server_config(TEST_PKI, versions=(TLS12,), keylog=server_log,
                           ticket_keys=TicketKeys() if tickets else None,
                           session_cache=None if tickets else ServerSessionCache())
    config = client_config(TEST_PKI, versions=(TLS12,), keylog=client_log)
    first = connect(config, server)
    second = connect(ClientConnection(config, server_name="localhost",
                                      session=first.client.connection.session), server)
    assert second.client.negotiated.resumed and second.server.negotiated.resumed
    hello = ClientHello.parse(first_flight_messages(second.wire[0][1])[0])
    for log in (client_log, server_log):
        lines = [line.split() for line in log.lines if line.startswith("CLIENT_RANDOM")]
        assert [random for _, random, _ in lines][-1] == hello.random.hex()
        assert lines[-1][2] == lines[0][2]  # the session's master secret
    # The line decrypts the resumed connection: the server's Finished, under its key.
    server_flight = second.wire[1][1]
    server_hello = ServerHello.parse(first_flight_messages(server_flight)[0])
    suite = SUITES[server_hello.cipher_suite]
    reader = protection12(suite, bytes.fromhex(lines[-1][2]), hello.random,
                          server_hello.random, "server")
    finished = [r for r in split_records(server_flight) if r[0] == 22][-1]
    _, plaintext = reader.open(finished[:5], finished[5:])
    assert plaintext[0] == H.finished
