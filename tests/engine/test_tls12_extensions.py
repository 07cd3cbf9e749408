"""TLS 1.2 rules in memory: renegotiation refused, secure renegotiation indication,
extended master secret, ALPN, SNI, ec_point_formats, duplicate / unknown / unsolicited
extensions, session_ticket, ChangeCipherSpec timing, tampering, exporters and
TLS_FALLBACK_SCSV."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import pytest

from glasstls import AlertDescription, ClientConfig, ServerConfig
from glasstls.constants import TLS12, CipherSuite, ExtensionType as X, NamedGroup
from glasstls.crypto import prf
from glasstls.crypto.suites import SUITES
from glasstls.events import AlertReceived, SessionTicketReceived
from glasstls.messages.extensions import ALPN, Empty, RenegotiationInfo, U8List, UnknownExtension
from glasstls.messages.handshake import ClientHello, serialize
from glasstls.trace import KEY_EXCHANGE, TraceEvent
from helpers.pump import (
    CLIENT_TO_SERVER,
    SERVER_TO_CLIENT,
    KeyLog,
    Pair,
    connect,
    engine_of,
    handshake_messages,
    split_records,
)
from helpers.tls12 import (
    CCS,
    client12,
    client_hello_of,
    edit_client_hello,
    edit_server_hello,
    extension_types,
    first_transfer,
    forge_client_hello,
    frame,
    nth,
    once,
    plaintext_records,
    protection12,
    replacing_extension,
    reseal12,
    server12,
    server_hello_of,
    with_extensions,
    with_suites,
    without_extension,
)
from pki import pki

C = CipherSuite
TEST_PKI = pki("ecdsa-p256")
AES128 = C.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
AES256 = C.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384


def established(**client_options: Any) -> Pair:
    pair = connect(client12(TEST_PKI, **client_options), server12(TEST_PKI))
    assert pair.complete, (pair.client.error, pair.server.error)
    return pair


def forged(change: Any, client: ClientConfig | None = None,
           server: ServerConfig | None = None) -> Pair:
    """A pair whose client sends ``change(its ClientHello)`` as its own, then pumped."""
    pair = Pair(client or client12(TEST_PKI), server or server12(TEST_PKI))
    forge_client_hello(pair, change)
    return pair.pump()


def assert_data_flows(pair: Pair) -> None:
    before_client, before_server = pair.client.data, pair.server.data
    pair.client.connection.send(b"still talking")
    pair.server.connection.send(b"still listening")
    pair.pump()
    assert pair.server.data == before_server + b"still talking"
    assert pair.client.data == before_client + b"still listening"


# -- renegotiation is refused (RFC 5746 §4.2, §4.4; RFC 5246 §7.2.2) -------------------------


def test_client_answers_a_hello_request_with_a_no_renegotiation_warning_and_goes_on() -> None:
    pair = established()
    hello_request = bytes([0, 0, 0, 0])
    pair.deliver(pair.client, engine_of(pair.server.connection).record.seal(22, hello_request))
    assert pair.client.error is None
    pair.pump()
    assert pair.server.of_type(AlertReceived) == [
        AlertReceived(AlertDescription.no_renegotiation, fatal=False)]
    assert pair.server.error is None
    # The refusal is not a new handshake: no ClientHello followed the alert.
    assert_data_flows(pair)


def test_server_answers_a_second_client_hello_with_a_no_renegotiation_warning_and_goes_on(
) -> None:
    pair = established()
    second = Pair(client12(TEST_PKI), server12(TEST_PKI))
    client_hello = handshake_messages(
        plaintext_records(second.client.connection.data_to_send())[0][1])[0]
    pair.deliver(pair.server, engine_of(pair.client.connection).record.seal(22, client_hello))
    assert pair.server.error is None
    pair.pump()
    assert pair.client.of_type(AlertReceived) == [
        AlertReceived(AlertDescription.no_renegotiation, fatal=False)]
    assert pair.client.error is None
    assert_data_flows(pair)


# -- secure renegotiation indication (RFC 5746 §3) -----------------------------------------

EMPTY_RI = RenegotiationInfo(b"")


def test_default_client_signals_both_scsv_and_empty_renegotiation_info() -> None:
    pair = established()
    hello = client_hello_of(pair)
    assert C.TLS_EMPTY_RENEGOTIATION_INFO_SCSV in hello.cipher_suites
    assert EMPTY_RI in hello.extensions
    assert EMPTY_RI in server_hello_of(pair).extensions


@pytest.mark.parametrize("signal", ["scsv-only", "extension-only"])
def test_either_secure_renegotiation_signal_alone_is_accepted_and_answered(signal: str) -> None:
    def change(hello: ClientHello) -> ClientHello:
        if signal == "scsv-only":
            return without_extension(X.renegotiation_info)(hello)
        return with_suites(*(s for s in hello.cipher_suites
                             if s != C.TLS_EMPTY_RENEGOTIATION_INFO_SCSV))(hello)

    pair = forged(change)
    assert pair.complete
    # RFC 5746 §3.6: the server answers either signal with an empty renegotiation_info.
    assert EMPTY_RI in server_hello_of(pair).extensions


def test_client_with_neither_signal_gets_no_renegotiation_info_back() -> None:
    def change(hello: ClientHello) -> ClientHello:
        hello = without_extension(X.renegotiation_info)(hello)
        return with_suites(*(s for s in hello.cipher_suites
                             if s != C.TLS_EMPTY_RENEGOTIATION_INFO_SCSV))(hello)

    pair = forged(change)
    assert pair.complete
    assert X.renegotiation_info not in extension_types(server_hello_of(pair))


def test_non_empty_renegotiation_info_from_the_client_is_handshake_failure() -> None:
    pair = connect(client12(TEST_PKI), server12(TEST_PKI),
                   hook=edit_client_hello(replacing_extension(RenegotiationInfo(bytes(12)))))
    assert pair.server.alert_sent == AlertDescription.handshake_failure
    assert pair.client.alerts_received == [AlertDescription.handshake_failure]


def test_non_empty_renegotiation_info_from_the_server_is_handshake_failure() -> None:
    pair = connect(client12(TEST_PKI), server12(TEST_PKI),
                   hook=edit_server_hello(replacing_extension(RenegotiationInfo(bytes(24)))))
    assert pair.client.alert_sent == AlertDescription.handshake_failure
    assert pair.server.alerts_received == [AlertDescription.handshake_failure]


# -- extended master secret (RFC 7627) ------------------------------------------------------


class Secrets:
    """A trace callback keeping the secret values of a ``trace_secrets`` config."""

    def __init__(self) -> None:
        self.events: list[TraceEvent] = []

    def __call__(self, event: TraceEvent) -> None:
        self.events.append(event)

    def pre_master_secret(self) -> bytes:
        (value,) = [e.secrets["pre_master_secret"] for e in self.events
                    if e.step == KEY_EXCHANGE and "pre_master_secret" in e.secrets]
        return bytes.fromhex(value)


def handshake_on_the_wire_through_client_key_exchange(pair: Pair) -> bytes:
    """ClientHello .. ClientKeyExchange as they crossed the wire (the session hash input)."""
    client_first = handshake_messages(plaintext_records(
        first_transfer(pair, CLIENT_TO_SERVER))[0][1])
    server_first = handshake_messages(plaintext_records(
        first_transfer(pair, SERVER_TO_CLIENT))[0][1])
    second = [d for d, _ in pair.wire].index(CLIENT_TO_SERVER, 1)
    client_key_exchange = handshake_messages(plaintext_records(pair.wire[second][1])[0][1])
    assert [m[0] for m in client_key_exchange] == [16]
    return b"".join(client_first + server_first + client_key_exchange)


@pytest.mark.parametrize("suite", [AES128, AES256], ids=["sha256", "sha384"])
def test_extended_master_secret_is_the_prf_over_the_hash_of_the_handshake_through_cke(
        suite: int) -> None:
    secrets, keylog = Secrets(), KeyLog()
    pair = connect(client12(TEST_PKI, cipher_suites=(suite,), trace=secrets,
                            trace_secrets=True, keylog=keylog), server12(TEST_PKI))
    assert pair.client.negotiated.extended_master_secret is True
    assert pair.server.negotiated.extended_master_secret is True
    hash_name = SUITES[suite].hash_name
    session_hash = hashlib.new(hash_name,
                               handshake_on_the_wire_through_client_key_exchange(pair)).digest()
    expected = prf.prf(hash_name, secrets.pre_master_secret(), b"extended master secret",
                       session_hash, 48)
    assert keylog.secrets["CLIENT_RANDOM"] == expected


def test_without_extended_master_secret_both_sides_use_the_rfc5246_master_secret() -> None:
    secrets, keylog = Secrets(), KeyLog()
    pair = forged(without_extension(X.extended_master_secret),
                  client12(TEST_PKI, cipher_suites=(AES128,), trace=secrets,
                           trace_secrets=True, keylog=keylog))
    assert pair.complete
    assert pair.client.negotiated.extended_master_secret is False
    assert pair.server.negotiated.extended_master_secret is False
    assert X.extended_master_secret not in extension_types(server_hello_of(pair))
    expected = prf.master_secret("sha256", secrets.pre_master_secret(),
                                 client_hello_of(pair).random, server_hello_of(pair).random)
    assert keylog.secrets["CLIENT_RANDOM"] == expected


def test_server_requiring_extended_master_secret_refuses_a_client_without_it() -> None:
    pair = forged(without_extension(X.extended_master_secret),
                  server=server12(TEST_PKI, require_extended_master_secret=True))
    assert pair.server.alert_sent == AlertDescription.handshake_failure
    assert pair.client.alerts_received == [AlertDescription.handshake_failure]


def test_client_requiring_extended_master_secret_refuses_a_server_without_it() -> None:
    # The client's hello lacks the extension, so the server honestly answers without it.
    pair = forged(without_extension(X.extended_master_secret),
                  client12(TEST_PKI, require_extended_master_secret=True))
    assert pair.client.alert_sent == AlertDescription.handshake_failure
    assert pair.server.alerts_received == [AlertDescription.handshake_failure]


def test_extended_master_secret_stripped_from_the_server_hello_breaks_the_handshake() -> None:
    # The client then derives the RFC 5246 master secret, the server the extended one:
    # the client's Finished cannot be read by the server.
    pair = connect(client12(TEST_PKI), server12(TEST_PKI),
                   hook=edit_server_hello(without_extension(X.extended_master_secret)))
    assert not pair.complete
    assert pair.server.alert_sent == AlertDescription.bad_record_mac


# -- ALPN and SNI ----------------------------------------------------------------------------


def test_alpn_is_negotiated_in_tls12_by_the_server_preference() -> None:
    pair = connect(client12(TEST_PKI, alpn_protocols=("http/1.1", "h2")),
                   server12(TEST_PKI, alpn_protocols=("h2", "http/1.1")))
    assert pair.client.negotiated.alpn_protocol == pair.server.negotiated.alpn_protocol == "h2"
    assert ALPN((b"h2",)) in server_hello_of(pair).extensions


def test_alpn_without_a_protocol_in_common_is_no_application_protocol_in_tls12() -> None:
    pair = connect(client12(TEST_PKI, alpn_protocols=("h2",)),
                   server12(TEST_PKI, alpn_protocols=("http/1.1",)))
    assert pair.server.alert_sent == AlertDescription.no_application_protocol
    assert pair.client.alerts_received == [AlertDescription.no_application_protocol]


def test_server_hello_selecting_an_alpn_protocol_not_offered_is_illegal_parameter() -> None:
    pair = connect(client12(TEST_PKI, alpn_protocols=("h2",)),
                   server12(TEST_PKI, alpn_protocols=("h2",)),
                   hook=edit_server_hello(replacing_extension(ALPN((b"spdy/3",)))))
    assert pair.client.alert_sent == AlertDescription.illegal_parameter


def test_server_learns_the_server_name_and_acknowledges_it_in_tls12() -> None:
    pair = established()
    assert pair.server.negotiated.server_name == "localhost"
    assert Empty(X.server_name) in server_hello_of(pair).extensions


@pytest.mark.parametrize("server_name", [None, "127.0.0.1"])
def test_no_server_name_is_sent_without_a_host_name(server_name: str | None) -> None:
    # Without a name the host name check has nothing to check (tested elsewhere).
    pair = connect(client12(TEST_PKI, check_hostname=server_name is not None),
                   server12(TEST_PKI), server_name=server_name)
    assert pair.complete
    assert X.server_name not in extension_types(client_hello_of(pair))
    assert pair.server.negotiated.server_name is None
    assert X.server_name not in extension_types(server_hello_of(pair))


# -- ec_point_formats (RFC 8422 §5.1.2) -------------------------------------------------------

COMPRESSED_ONLY = U8List(X.ec_point_formats, b"\x01\x02")


def test_client_hello_without_uncompressed_points_is_illegal_parameter() -> None:
    pair = connect(client12(TEST_PKI), server12(TEST_PKI),
                   hook=edit_client_hello(replacing_extension(COMPRESSED_ONLY)))
    assert pair.server.alert_sent == AlertDescription.illegal_parameter
    assert pair.client.alerts_received == [AlertDescription.illegal_parameter]


def test_server_hello_without_uncompressed_points_is_illegal_parameter() -> None:
    pair = connect(client12(TEST_PKI), server12(TEST_PKI),
                   hook=edit_server_hello(replacing_extension(COMPRESSED_ONLY)))
    assert pair.client.alert_sent == AlertDescription.illegal_parameter
    assert pair.server.alerts_received == [AlertDescription.illegal_parameter]


def test_ec_point_formats_are_answered_with_uncompressed_only() -> None:
    pair = established()
    assert U8List(X.ec_point_formats, b"\x00") in server_hello_of(pair).extensions


# -- duplicate, unknown and unsolicited extensions ---------------------------------------------


def test_duplicate_extension_in_the_client_hello_is_illegal_parameter() -> None:
    pair = connect(client12(TEST_PKI), server12(TEST_PKI),
                   hook=edit_client_hello(with_extensions(Empty(X.extended_master_secret))))
    assert pair.server.alert_sent == AlertDescription.illegal_parameter
    assert "duplicate" in str(pair.server.error)


def test_duplicate_extension_in_the_server_hello_is_illegal_parameter() -> None:
    pair = connect(client12(TEST_PKI), server12(TEST_PKI),
                   hook=edit_server_hello(with_extensions(EMPTY_RI)))
    assert pair.client.alert_sent == AlertDescription.illegal_parameter


def test_unknown_extensions_in_the_client_hello_are_ignored() -> None:
    pair = forged(with_extensions(UnknownExtension(0xFE01, b"opaque data"),
                                  UnknownExtension(0x4242, b"")))
    assert pair.complete
    assert not {0xFE01, 0x4242} & set(extension_types(server_hello_of(pair)))


def test_unsolicited_extension_in_the_server_hello_is_unsupported_extension() -> None:
    # RFC 5246 §7.4.1.4: only extensions the client offered may come back.
    pair = connect(client12(TEST_PKI), server12(TEST_PKI),
                   hook=edit_server_hello(with_extensions(UnknownExtension(0xFE01, b""))))
    assert pair.client.alert_sent == AlertDescription.unsupported_extension


def test_session_ticket_extension_to_a_server_without_tickets_is_ignored() -> None:
    pair = connect(client12(TEST_PKI), server12(TEST_PKI, ticket_keys=None))
    assert pair.complete
    assert X.session_ticket in extension_types(client_hello_of(pair))
    assert X.session_ticket not in extension_types(server_hello_of(pair))
    assert pair.client.of_type(SessionTicketReceived) == []


def test_session_ticket_that_cannot_be_opened_falls_back_to_a_full_handshake() -> None:
    pair = forged(replacing_extension(UnknownExtension(X.session_ticket, bytes(range(200)))))
    assert pair.complete
    assert not pair.server.negotiated.resumed
    # The server promises and sends a fresh ticket.
    assert X.session_ticket in extension_types(server_hello_of(pair))
    assert len(pair.client.of_type(SessionTicketReceived)) == 1


# -- ChangeCipherSpec at the wrong time ------------------------------------------------------


def test_early_change_cipher_spec_before_client_key_exchange_is_unexpected_message() -> None:
    # The CVE-2014-0224 pattern: a CCS right after the ClientHello.
    pair = Pair(client12(TEST_PKI), server12(TEST_PKI),
                hook=once(CLIENT_TO_SERVER, lambda data: data + CCS))
    pair.pump()
    assert pair.server.alert_sent == AlertDescription.unexpected_message
    assert pair.client.alerts_received == [AlertDescription.unexpected_message]


def test_change_cipher_spec_between_server_hello_and_certificate_is_unexpected_message() -> None:
    def ccs_after_server_hello(data: bytes) -> bytes:
        (payload,) = [p for t, p in plaintext_records(data) if t == 22]
        server_hello, *rest = handshake_messages(payload)
        return frame([(22, server_hello), (20, b"\x01"), (22, b"".join(rest))])

    pair = connect(client12(TEST_PKI), server12(TEST_PKI),
                   hook=once(SERVER_TO_CLIENT, ccs_after_server_hello))
    assert pair.client.alert_sent == AlertDescription.unexpected_message


def test_change_cipher_spec_after_the_tls12_handshake_is_unexpected_message() -> None:
    pair = established()
    pair.deliver(pair.server, CCS)
    assert pair.server.alert_sent == AlertDescription.unexpected_message


def test_change_cipher_spec_instead_of_the_promised_new_session_ticket_is_unexpected() -> None:
    # RFC 5077 §3.3: a server that sent session_ticket must send NewSessionTicket
    # before its ChangeCipherSpec.
    def drop_ticket(data: bytes) -> bytes:
        records = split_records(data)
        assert records[0][0] == 22 and records[0][5] == 4, "expected NewSessionTicket first"
        return b"".join(records[1:])

    pair = connect(client12(TEST_PKI), server12(TEST_PKI),
                   hook=nth(SERVER_TO_CLIENT, 1, drop_ticket))
    assert pair.client.alert_sent == AlertDescription.unexpected_message


# -- tampering -------------------------------------------------------------------------------


def flip_last_byte_of_record(index: int) -> Any:
    def change(data: bytes) -> bytes:
        records = [bytearray(r) for r in split_records(data)]
        records[index][-1] ^= 0x01
        return b"".join(records)
    return change


@pytest.mark.parametrize("suite", [AES128, C.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256],
                         ids=["gcm", "chacha20"])
def test_tampered_tls12_application_data_is_bad_record_mac(suite: int) -> None:
    pair = established(cipher_suites=(suite,))
    pair.hook = once(CLIENT_TO_SERVER, flip_last_byte_of_record(0))
    pair.client.connection.send(b"important")
    pair.pump()
    assert pair.server.alert_sent == AlertDescription.bad_record_mac
    assert pair.server.data == b""


def test_tampered_client_finished_record_is_bad_record_mac() -> None:
    # The client's second flight: ClientKeyExchange, ChangeCipherSpec, Finished.
    pair = connect(client12(TEST_PKI), server12(TEST_PKI),
                   hook=nth(CLIENT_TO_SERVER, 1, flip_last_byte_of_record(2)))
    assert pair.server.alert_sent == AlertDescription.bad_record_mac
    assert pair.client.alerts_received == [AlertDescription.bad_record_mac]


def test_tampered_server_finished_record_is_bad_record_mac() -> None:
    # The server's second flight: NewSessionTicket, ChangeCipherSpec, Finished.
    pair = connect(client12(TEST_PKI), server12(TEST_PKI),
                   hook=nth(SERVER_TO_CLIENT, 1, flip_last_byte_of_record(-1)))
    assert pair.client.alert_sent == AlertDescription.bad_record_mac


def test_client_finished_with_wrong_verify_data_under_the_right_keys_is_decrypt_error() -> None:
    keylog = KeyLog()
    pair = Pair(client12(TEST_PKI, cipher_suites=(AES128,), keylog=keylog), server12(TEST_PKI))

    def wrong_verify_data(data: bytes) -> bytes:
        *before, finished = split_records(data)
        client_random, server_random = client_hello_of(pair).random, server_hello_of(pair).random
        master = keylog.secrets["CLIENT_RANDOM"]

        def protection() -> Any:
            return protection12(SUITES[AES128], master, client_random, server_random, "client")

        def flip(plaintext: bytes) -> bytes:
            assert plaintext[:4] == bytes([20, 0, 0, 12])
            return plaintext[:-1] + bytes([plaintext[-1] ^ 0x01])

        return b"".join(before) + reseal12(finished, protection(), protection(), flip)

    pair.hook = nth(CLIENT_TO_SERVER, 1, wrong_verify_data)
    pair.pump()
    assert pair.server.alert_sent == AlertDescription.decrypt_error
    assert pair.client.alerts_received == [AlertDescription.decrypt_error]


# -- exporters (RFC 5705) ----------------------------------------------------------------------


@pytest.mark.parametrize("suite", [AES128, AES256, C.TLS_RSA_WITH_AES_256_GCM_SHA384],
                         ids=lambda s: CipherSuite(s).name)
def test_tls12_exporters_are_equal_on_both_sides(suite: int) -> None:
    rsa = SUITES[suite].key_exchange == "RSA"
    test_pki = pki("rsa-2048") if rsa else TEST_PKI
    pair = connect(client12(test_pki, cipher_suites=(suite,), enable_rsa_key_exchange=rsa),
                   server12(test_pki, enable_rsa_key_exchange=rsa))
    assert pair.complete
    client, server = pair.client.connection, pair.server.connection
    values = set()
    for label, context, length in [("EXPORTER-test", None, 32), ("EXPORTER-test", b"", 32),
                                   ("EXPORTER-test", b"context", 32),
                                   ("EXPORTER-other", None, 32), ("EXPORTER-test", None, 100)]:
        value = client.export_keying_material(label, context, length)
        assert value == server.export_keying_material(label, context, length)
        assert len(value) == length
        values.add(value[:32])
    # RFC 5705 §4: no context and an empty context are different; so are labels.
    assert len(values) == 4


def test_tls12_exporter_differs_between_connections() -> None:
    first, second = established(), established()
    assert first.client.connection.export_keying_material("EXPORTER-test", None, 32) != (
        second.client.connection.export_keying_material("EXPORTER-test", None, 32))


# -- TLS_FALLBACK_SCSV (RFC 7507) --------------------------------------------------------------


def with_fallback_scsv(hello: ClientHello) -> ClientHello:
    return dataclasses.replace(hello, cipher_suites=(*hello.cipher_suites,
                                                     C.TLS_FALLBACK_SCSV))


def test_fallback_scsv_to_a_tls13_capable_server_is_inappropriate_fallback() -> None:
    pair = connect(client12(TEST_PKI), ServerConfig(certificates=(TEST_PKI.certified,)),
                   hook=edit_client_hello(with_fallback_scsv))
    assert pair.server.alert_sent == AlertDescription.inappropriate_fallback
    assert pair.client.alerts_received == [AlertDescription.inappropriate_fallback]


def test_fallback_scsv_to_a_tls12_only_server_is_accepted() -> None:
    # The client offers the server's highest version: not a downgrade.
    pair = forged(with_fallback_scsv)
    assert pair.complete
    assert pair.server.negotiated.version == "TLSv1.2"


def test_fallback_scsv_with_tls13_offered_negotiates_tls13() -> None:
    pair = Pair(ClientConfig(trust=TEST_PKI.trust),
                ServerConfig(certificates=(TEST_PKI.certified,)))
    forge_client_hello(pair, with_fallback_scsv)
    pair.pump()
    assert pair.complete
    assert pair.server.negotiated.version == "TLSv1.3"


# -- configuration -----------------------------------------------------------------------------


def test_tls12_only_client_can_restrict_its_groups_without_naming_key_shares() -> None:
    config = ClientConfig(trust=TEST_PKI.trust, versions=(TLS12,),
                          groups=(NamedGroup.secp256r1,))
    pair = connect(config, server12(TEST_PKI))
    assert pair.client.negotiated.group == "secp256r1"


def test_client_hello_bytes_round_trip_through_the_forging_helper() -> None:
    # The helper itself: an unchanged hello gives the same bytes and a normal handshake.
    pair = Pair(client12(TEST_PKI), server12(TEST_PKI))
    original = engine_of(pair.client.connection).transcript.messages()
    hello = forge_client_hello(pair, lambda h: h)
    assert serialize(hello) == original
    pair.pump()
    assert pair.complete


# -- warnings and HelloRequest during the handshake ---------------------------------------------

WARNING_UNRECOGNIZED_NAME = bytes([21, 3, 3, 0, 2, 1, AlertDescription.unrecognized_name])


def test_warning_alert_after_the_server_hello_does_not_end_a_tls12_handshake() -> None:
    # RFC 5246 §7.2: a warning is not fatal.
    pair = connect(client12(TEST_PKI), server12(TEST_PKI),
                   hook=once(SERVER_TO_CLIENT, lambda data: data + WARNING_UNRECOGNIZED_NAME))
    assert pair.complete
    assert pair.client.of_type(AlertReceived) == [
        AlertReceived(AlertDescription.unrecognized_name, fatal=False)]


def test_warning_alert_before_the_server_hello_does_not_end_a_tls12_handshake() -> None:
    pair = connect(client12(TEST_PKI), server12(TEST_PKI),
                   hook=once(SERVER_TO_CLIENT, lambda data: WARNING_UNRECOGNIZED_NAME + data))
    assert pair.client.of_type(AlertReceived)[:1] == [
        AlertReceived(AlertDescription.unrecognized_name, fatal=False)]
    assert pair.complete


@pytest.mark.parametrize("where", ["before-server-hello", "after-server-hello"])
def test_hello_request_during_the_handshake_is_ignored_by_the_client(where: str) -> None:
    hello_request = bytes([22, 3, 3, 0, 4, 0, 0, 0, 0])

    def insert(data: bytes) -> bytes:
        if where == "before-server-hello":
            return hello_request + data
        (payload,) = [p for t, p in plaintext_records(data) if t == 22]
        server_hello, *rest = handshake_messages(payload)
        return frame([(22, server_hello), (22, bytes(4)), (22, b"".join(rest))])

    pair = connect(client12(TEST_PKI), server12(TEST_PKI), hook=once(SERVER_TO_CLIENT, insert))
    assert pair.client.error is None
    assert pair.complete
