"""Records no honest peer sends, fed to a real engine (issue 12 items 1, 2, 8, 12):
empty records of each kind, floods of records that carry nothing (empty records,
warning alerts, ChangeCipherSpec), and handshake messages spread over too many
records. Each case gets the alert the RFC or BoringSSL gives it, and the bounds
(limits.py) are exact: the last record allowed passes, the next one fails."""

from __future__ import annotations

import time

import pytest

from glasstls import AlertDescription, ClientConnection, ServerConfig, ServerConnection, limits
from glasstls.constants import TLS12, CipherSuite
from glasstls.crypto.suites import SUITES
from glasstls.keyschedule import traffic_keys
from glasstls.record import Tls13Protection
from helpers.hostile import hostile_client_hello
from helpers.pump import (
    CLIENT_TO_SERVER,
    SERVER_TO_CLIENT,
    KeyLog,
    Pair,
    Side,
    client_config,
    connect,
    engine_of,
    fails_with,
    handshake_messages,
    record,
    sealed,
    server_config,
    split_records,
)
from pki import pki

TEST_PKI = pki("ecdsa-p256")
AES128 = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]
CCS = record(20, b"\x01")
EMPTY_LIMIT = limits.IN_A_ROW[limits.EMPTY_RECORDS]
WARNING_LIMIT = limits.IN_A_ROW[limits.WARNING_ALERTS]


def established(version: int = 0x0304, **server: object) -> Pair:
    versions = (version,)
    pair = connect(client_config(TEST_PKI, versions=versions),
                   server_config(TEST_PKI, versions=versions, **server))
    assert pair.complete
    return pair


def client_hello_records(pair: Pair) -> bytes:
    return pair.client.connection.data_to_send()




# -- item 1: empty records -----------------------------------------------------------------


@pytest.mark.parametrize("version", [0x0304, TLS12])
def test_protected_record_of_zero_bytes_is_bad_record_mac(version: int) -> None:
    # No ciphertext at all, not even an AEAD tag: it cannot be authentic.
    pair = established(version)
    pair.deliver(pair.server, bytes([23, 3, 3, 0, 0]))
    fails_with(pair.server, AlertDescription.bad_record_mac, "too short")


@pytest.mark.parametrize("length", [0, 1, 16])
def test_records_too_short_to_be_early_data_are_bad_record_mac_while_skipping_it(
        length: int) -> None:
    # A server that rejected 0-RTT skips records that do not decrypt, but one shorter
    # than a content type and a tag is never early data either.
    pair = Pair(client_config(TEST_PKI), server_config(TEST_PKI))
    pair.transfer(CLIENT_TO_SERVER)
    engine_of(pair.server.connection).skip_early_data(2**14)
    pair.deliver(pair.server, bytes([23, 3, 3, 0, length]) + bytes(length))
    fails_with(pair.server, AlertDescription.bad_record_mac, "too short")


@pytest.mark.parametrize("count", [1, 200_000])
def test_empty_plaintext_application_data_before_the_client_hello_is_unexpected_message(
        count: int) -> None:
    # RFC 8446 §5.1: application data is never unprotected (200,000 of these were
    # swallowed silently before).
    server = ServerConnection(server_config(TEST_PKI))
    side = Side(server)
    Pair(client_config(TEST_PKI), server).deliver(side, record(23, b"") * count)
    fails_with(side, AlertDescription.unexpected_message, "before the handshake")


def test_empty_application_data_inside_the_client_hello_is_unexpected_message() -> None:
    pair = Pair(client_config(TEST_PKI), server_config(TEST_PKI))
    hello = split_records(client_hello_records(pair))[0][5:]
    pair.deliver(pair.server, record(22, hello[:40]) + record(23, b"") + record(22, hello[40:]))
    fails_with(pair.server, AlertDescription.unexpected_message, "inside a fragmented")


def _client_handshake_record(content_type: int, payload: bytes) -> tuple[Pair, bytes]:
    """A pair whose server has sent its flight, and a record sealed under the client's
    handshake traffic key (its first)."""
    keylog = KeyLog()
    pair = Pair(client_config(TEST_PKI, cipher_suites=(AES128.id,)),
                server_config(TEST_PKI, keylog=keylog))
    pair.transfer(CLIENT_TO_SERVER)
    pair.server.connection.data_to_send()  # the flight, which the client never reads
    protection = Tls13Protection(AES128, *traffic_keys(
        AES128, keylog.secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"]))
    return pair, protection.seal(content_type, payload, b"\x03\x03", 0)


def test_empty_protected_handshake_record_with_handshake_keys_is_unexpected_message() -> None:
    # RFC 9846 §5.4: a zero-length Handshake inner plaintext MUST be refused so.
    pair, empty = _client_handshake_record(22, b"")
    pair.deliver(pair.server, empty)
    fails_with(pair.server, AlertDescription.unexpected_message, "empty protected handshake")


@pytest.mark.parametrize("version", [0x0304, TLS12])
@pytest.mark.parametrize("content_type", [22, 21])
def test_empty_protected_handshake_or_alert_record_after_the_handshake_is_unexpected_message(
        version: int, content_type: int) -> None:
    # RFC 8446 §5.4 (an empty alert was decode_error before); RFC 5246 §6.2.1 forbids
    # empty handshake and alert fragments in TLS 1.2 as well.
    pair = established(version)
    pair.deliver(pair.server, sealed(pair.client, content_type, b""))
    fails_with(pair.server, AlertDescription.unexpected_message, "empty protected")


def test_empty_protected_alert_during_the_handshake_is_unexpected_message() -> None:
    pair, empty = _client_handshake_record(21, b"")
    pair.deliver(pair.server, empty)
    fails_with(pair.server, AlertDescription.unexpected_message, "empty protected alert")


@pytest.mark.parametrize("version", [0x0304, TLS12])
def test_empty_application_data_records_are_allowed_up_to_the_bound_in_a_row(
        version: int) -> None:
    # RFC 8446 §5.4 allows them (traffic analysis); BoringSSL takes 32 in a row.
    pair = established(version)
    for _ in range(3):  # data resets the count
        empties = b"".join(sealed(pair.client, 23, b"") for _ in range(EMPTY_LIMIT))
        pair.deliver(pair.server, empties + sealed(pair.client, 23, b"data"))
    assert pair.server.error is None
    assert pair.server.data == b"data" * 3
    one_more = b"".join(sealed(pair.client, 23, b"") for _ in range(EMPTY_LIMIT + 1))
    pair.deliver(pair.server, one_more)
    fails_with(pair.server, AlertDescription.unexpected_message,
               f"more than {EMPTY_LIMIT} empty records in a row")


def test_empty_records_are_counted_on_the_traced_path_too() -> None:
    traced: list[object] = []
    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI, trace=traced.append))
    pair.deliver(pair.server, b"".join(sealed(pair.client, 23, b"")
                                       for _ in range(EMPTY_LIMIT + 1)))
    fails_with(pair.server, AlertDescription.unexpected_message, "empty records")


# -- item 2 and 8: records that carry nothing, in floods -----------------------------------------


def _hello_then(pair: Pair, records: bytes) -> None:
    """The client's hello, then ``records``, to the server in one delivery."""
    pair.deliver(pair.server, client_hello_records(pair) + records)


def test_change_cipher_spec_records_in_tls13_count_as_empty_records() -> None:
    # RFC 8446 §5 drops them during the handshake without saying how many; BoringSSL
    # counts each as an empty record (kMaxEmptyRecords = 32).
    pair = Pair(client_config(TEST_PKI), server_config(TEST_PKI))
    _hello_then(pair, CCS * EMPTY_LIMIT)
    assert pair.server.error is None
    pair.deliver(pair.server, CCS)
    fails_with(pair.server, AlertDescription.unexpected_message,
               f"more than {EMPTY_LIMIT} empty records in a row")


def test_a_client_drops_as_many_change_cipher_spec_records_as_a_server() -> None:
    # Between the server's ServerHello and its Finished, on the client's side.
    pair = Pair(client_config(TEST_PKI), server_config(TEST_PKI))
    pair.transfer(CLIENT_TO_SERVER)
    server_hello, *rest = split_records(pair.server.connection.data_to_send())
    pair.deliver(pair.client, server_hello + CCS * (EMPTY_LIMIT + 1) + b"".join(rest))
    fails_with(pair.client, AlertDescription.unexpected_message, "empty records")


def test_a_handshake_record_resets_the_count_of_change_cipher_spec_records() -> None:
    pair = Pair(client_config(TEST_PKI, middlebox_compatibility=False),
                server_config(TEST_PKI))
    pair.transfer(CLIENT_TO_SERVER)
    flight = pair.server.connection.data_to_send()
    server_hello, *rest = split_records(flight)
    padded = CCS * EMPTY_LIMIT + server_hello + CCS * EMPTY_LIMIT
    pair.deliver(pair.client, padded + b"".join(r for r in rest if r[0] != 20))
    pair.pump()
    assert pair.complete


def test_two_change_cipher_spec_records_in_a_row_in_tls12_are_unexpected_message() -> None:
    # TLS 1.2 has one ChangeCipherSpec per direction and handshake (RFC 5246 §7.1):
    # a second one, before the Finished it announces, is not dropped.
    pair = Pair(client_config(TEST_PKI, versions=(TLS12,)),
                server_config(TEST_PKI, versions=(TLS12,)))
    pair.transfer(CLIENT_TO_SERVER)
    pair.transfer(SERVER_TO_CLIENT)
    key_exchange, ccs, finished = split_records(pair.client.connection.data_to_send())
    assert ccs == CCS
    pair.deliver(pair.server, key_exchange + CCS + CCS + finished)
    fails_with(pair.server, AlertDescription.unexpected_message, "ChangeCipherSpec")


@pytest.mark.parametrize("during_handshake", [True, False])
def test_tls12_warning_alerts_are_allowed_up_to_the_bound_in_a_row(
        during_handshake: bool) -> None:
    # CVE-2016-8610: 10,000 warnings in one handshake were read. BoringSSL reads 4 in
    # a row (OpenSSL 5), then unexpected_message.
    warning = record(21, bytes([1, AlertDescription.unrecognized_name]))
    if during_handshake:
        pair = Pair(client_config(TEST_PKI, versions=(TLS12,)),
                    server_config(TEST_PKI, versions=(TLS12,)))
        _hello_then(pair, warning * WARNING_LIMIT)
        assert pair.server.error is None
        assert len(pair.server.alerts_received) == WARNING_LIMIT
        pair.deliver(pair.server, warning * 10_000)
    else:
        pair = established(TLS12)
        for _ in range(2):  # data resets the count
            pair.deliver(pair.server, b"".join(sealed(pair.client, 21, warning[5:])
                                               for _ in range(WARNING_LIMIT)))
            pair.deliver(pair.server, sealed(pair.client, 23, b"x"))
        assert pair.server.error is None
        pair.deliver(pair.server, b"".join(sealed(pair.client, 21, warning[5:])
                                           for _ in range(WARNING_LIMIT + 1)))
    fails_with(pair.server, AlertDescription.unexpected_message,
               f"more than {WARNING_LIMIT} warning alerts in a row")


def test_tls13_user_canceled_alerts_are_bounded_as_warnings() -> None:
    pair = established()
    canceled = bytes([1, AlertDescription.user_canceled])
    pair.deliver(pair.server, b"".join(sealed(pair.client, 21, canceled)
                                       for _ in range(WARNING_LIMIT + 1)))
    assert pair.server.alerts_received[:WARNING_LIMIT] == (
        [AlertDescription.user_canceled] * WARNING_LIMIT)
    fails_with(pair.server, AlertDescription.unexpected_message, "warning alerts")


def test_change_cipher_spec_rules_of_tls13_are_unchanged() -> None:
    # After the peer's Finished, protected, or of another value: unexpected_message.
    pair = established()
    pair.deliver(pair.server, CCS)
    fails_with(pair.server, AlertDescription.unexpected_message)
    pair = Pair(client_config(TEST_PKI), server_config(TEST_PKI))
    _hello_then(pair, record(20, b"\x02"))
    fails_with(pair.server, AlertDescription.unexpected_message, "malformed")
    pair = established()
    # The record layer sends TLS 1.3's change_cipher_spec unprotected whatever its keys
    # (RFC 8446 §5); a hostile peer protects one anyway, with the client's keys.
    protection = engine_of(pair.client.connection).record.write_protection
    pair.deliver(pair.server, protection.seal(20, b"\x01", b"\x03\x03", 0))
    fails_with(pair.server, AlertDescription.unexpected_message, "content type 20")


# -- item 12: handshake messages over many records -------------------------------------------


def _padded_hello(size: int) -> bytes:
    hello = hostile_client_hello(key_shares=0, groups=0, padding_to=size)
    assert len(hello) == size
    return hello


def _in_records(message: bytes, size: int) -> bytes:
    return b"".join(record(22, message[i:i + size]) for i in range(0, len(message), size))


def test_a_handshake_message_in_one_byte_records_is_read_up_to_the_fragment_bound() -> None:
    # 2,048 records and one per 32 bytes: a 2,000-byte hello in one-byte records is read.
    hello = _padded_hello(2000)
    server = ServerConnection(server_config(TEST_PKI))
    server.receive_data(_in_records(hello, 1))
    assert server.data_to_send()[:1] == b"\x16"


def test_a_handshake_message_over_more_records_than_the_bound_is_unexpected_message() -> None:
    hello = _padded_hello(limits.MAX_HELLO)
    bound = limits.max_fragments(len(hello) - 4)
    side = Side(ServerConnection(server_config(TEST_PKI)))
    Pair(client_config(TEST_PKI), side.connection).deliver(side, _in_records(hello, 1))
    fails_with(side, AlertDescription.unexpected_message, f"more than {bound} records")
    # Refused at the first record past the bound: what followed was never read.
    assert engine_of(side.connection).record.buffered == 6 * (len(hello) - bound - 1)


def test_the_fragment_count_is_per_message() -> None:
    # A flight of several messages, each in small records, completes.
    pair = connect(client_config(TEST_PKI, record_size_limit=64), server_config(TEST_PKI))
    assert pair.complete


def test_reading_one_byte_records_costs_the_same_per_record_at_any_length() -> None:
    # Linear: twice the records cost about twice the time (a ratio in one run). The two
    # lengths are measured in turn, the least of each kept, so that a burst of load on
    # the machine lands on both rather than on one.
    inputs = {size: _in_records(_padded_hello(size), 1) for size in (800, 1600)}
    best = dict.fromkeys(inputs, float("inf"))
    for _ in range(5):
        for size, records in inputs.items():
            server = ServerConnection(server_config(TEST_PKI))
            start = time.thread_time()
            server.receive_data(records[:-6 * 64])  # all but the end: no handshake work
            best[size] = min(best[size], time.thread_time() - start)
    ratio = best[1600] / best[800]
    assert ratio < 3, f"{ratio:.1f}x the time for 2x the records"


# -- item 14: what a peer may make a connection buffer before it proves anything ------------


def test_a_client_hello_announcing_more_than_the_hello_limit_is_refused_at_its_header() -> None:
    side = Side(ServerConnection(server_config(TEST_PKI)))
    header = bytes([1]) + (2**18).to_bytes(3, "big")
    Pair(client_config(TEST_PKI), side.connection).deliver(side, record(22, header))
    fails_with(side, AlertDescription.illegal_parameter, "larger than")


def test_a_client_hello_of_the_hello_limit_is_read() -> None:
    server = ServerConnection(server_config(TEST_PKI))
    server.receive_data(_in_records(_padded_hello(4 + limits.MAX_HELLO), 2**14))
    assert server.data_to_send()[:1] == b"\x16"
    side = Side(ServerConnection(server_config(TEST_PKI)))
    Pair(client_config(TEST_PKI), side.connection).deliver(
        side, _in_records(_padded_hello(5 + limits.MAX_HELLO), 2**14))
    fails_with(side, AlertDescription.illegal_parameter, "larger than")


def test_a_message_the_state_does_not_expect_is_refused_at_its_header() -> None:
    # A Certificate of 2^18 bytes announced to a server waiting for a ClientHello: the
    # first four bytes are enough to refuse it, nothing is buffered.
    side = Side(ServerConnection(server_config(TEST_PKI)))
    header = bytes([11]) + (2**18 - 1).to_bytes(3, "big")
    Pair(client_config(TEST_PKI), side.connection).deliver(side, record(22, header))
    fails_with(side, AlertDescription.unexpected_message, "received certificate")
    assert len(engine_of(side.connection).handshake_in) <= 4


def test_a_server_hello_announcing_more_than_the_hello_limit_is_refused_by_the_client() -> None:
    side = Side(ClientConnection(client_config(TEST_PKI), server_name="localhost"))
    header = bytes([2]) + (limits.MAX_HELLO + 1).to_bytes(3, "big")
    Pair(side.connection, server_config(TEST_PKI)).deliver(side, record(22, header))
    fails_with(side, AlertDescription.illegal_parameter, "larger than")


def test_a_tls12_client_key_exchange_announcing_more_than_the_hello_limit_is_refused() -> None:
    # Read before the client has proved anything (no client certificate asked for).
    pair = Pair(client_config(TEST_PKI, versions=(TLS12,)),
                server_config(TEST_PKI, versions=(TLS12,)))
    pair.transfer(CLIENT_TO_SERVER)
    pair.server.connection.data_to_send()  # its flight, which the client never reads
    header = bytes([16]) + (limits.MAX_HELLO + 1).to_bytes(3, "big")
    pair.deliver(pair.server, record(22, header))
    fails_with(pair.server, AlertDescription.illegal_parameter, "larger than")


def test_a_tls12_server_key_exchange_announcing_more_than_the_hello_limit_is_refused() -> None:
    # The server's first flight but for its certificate: the client's smaller limit.
    pair = Pair(client_config(TEST_PKI, versions=(TLS12,)),
                server_config(TEST_PKI, versions=(TLS12,)))
    pair.transfer(CLIENT_TO_SERVER)
    flight = b"".join(r[5:] for r in split_records(pair.server.connection.data_to_send()))
    hello, certificate, key_exchange, *_ = handshake_messages(flight)
    assert key_exchange[0] == 12 and len(key_exchange) < 1000
    header = bytes([12]) + (limits.MAX_HELLO + 1).to_bytes(3, "big")
    pair.deliver(pair.client, record(22, hello + certificate + header))
    fails_with(pair.client, AlertDescription.illegal_parameter, "larger than")


def test_post_handshake_messages_of_a_fixed_size_are_refused_at_a_large_header() -> None:
    pair = established()
    header = bytes([24]) + (2**18 - 1).to_bytes(3, "big")  # a KeyUpdate of 256 KiB
    pair.deliver(pair.server, sealed(pair.client, 22, header))
    fails_with(pair.server, AlertDescription.illegal_parameter, "larger than")


def test_partial_client_hellos_hold_little_memory() -> None:
    # 1,000 connections each holding the most a hello may make them buffer: the limit,
    # not 2^18 bytes, and nothing past what arrived.
    import tracemalloc

    config = server_config(TEST_PKI)
    almost = _in_records(_padded_hello(4 + limits.MAX_HELLO), 2**14)[:-1]
    announcing_more = record(22, bytes([1]) + (2**18 - 1).to_bytes(3, "big") + bytes(1000))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        servers = []
        for _ in range(500):
            server = ServerConnection(config)
            server.receive_data(almost)
            servers.append(server)
        for _ in range(500):
            server = ServerConnection(config)
            with pytest.raises(Exception, match="larger than"):
                server.receive_data(announcing_more)
            servers.append(server)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # Each waiting hello holds its 16 KiB (not the record it came in), a refused one
    # only its connection (a refused one's error is garbage for the cyclic collector).
    waiting, refused = servers[:500], servers[500:]
    assert all(len(engine_of(s).handshake_in) == 2**14 for s in waiting)
    assert all(engine_of(s).record.buffered == 8 for s in waiting)  # the last record
    assert all(engine_of(s).record.buffered == 0 for s in refused)
    assert held < 500 * (limits.MAX_HELLO + 8192) + 500 * 8192, f"{held / 1e6:.1f} MB"



# -- rejected 0-RTT data: skipped, up to a budget -----------------------------------------------


def _early_client(session: object, early: bytes) -> ClientConnection:
    client = ClientConnection(client_config(TEST_PKI, enable_early_data=True,
                                            session_cache=None),
                              server_name="localhost", session=session)  # type: ignore[arg-type]
    assert client.send_early_data(early) == len(early)
    return client


def _ticket(server: ServerConfig) -> object:
    pair = connect(client_config(TEST_PKI, enable_early_data=True, session_cache=None), server)
    assert pair.client.connection.session is not None
    return pair.client.connection.session


def test_all_the_early_data_a_ticket_allows_is_skipped_when_rejected() -> None:
    # 100,000 bytes of 0-RTT in seven records, rejected as a replay the second time:
    # skipped whole (the budget counts each record's expansion), then the handshake.
    server = server_config(TEST_PKI, max_early_data_size=100_000)
    session = _ticket(server)
    early = bytes(100_000)
    first = Pair(_early_client(session, early), server).pump()
    assert first.server.data == early
    replay = Pair(_early_client(session, early), server).pump()
    assert replay.complete, replay.server.error
    assert not replay.server.negotiated.early_data_accepted


def test_rejected_early_data_past_the_budget_is_unexpected_message() -> None:
    # A server that cannot open the ticket skips BoringSSL's 16,384 bytes, no more.
    session = _ticket(server_config(TEST_PKI, max_early_data_size=1024))
    stranger = server_config(TEST_PKI, max_early_data_size=1024)
    junk = record(23, bytes(1000))
    for count, fails in ((16, False), (17, True)):
        pair = Pair(_early_client(session, b"GET /"), stranger)
        hello_and_early = pair.client.connection.data_to_send()
        pair.deliver(pair.server, hello_and_early + junk * count)
        if fails:
            fails_with(pair.server, AlertDescription.unexpected_message,
                       "more rejected early data")
        else:
            pair.pump()
            assert pair.complete, pair.server.error
