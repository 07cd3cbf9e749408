"""The record layer: framing, fragmentation, padding and AEAD protection
(RFC 8446 §5, RFC 5246 §6.2.3.3, RFC 5288, RFC 7905)."""

from __future__ import annotations

import itertools

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from hypothesis import given, settings, strategies as st

import glasstls.record as record_module
from glasstls.constants import CipherSuite
from glasstls.crypto.in_place import seals_in_place
from glasstls.crypto.suites import SUITES, TLS12_SUITES, TLS13_SUITES
from glasstls.errors import AlertDescription, BadRecordMac, DecodeError, TLSError
from glasstls.record import (
    MAX_CIPHERTEXT_13,
    Protection,
    RecordLayer,
    Tls12Protection,
    Tls13Protection,
)

AES128 = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]


def keys(suite: object, seed: int = 1) -> tuple[bytes, bytes]:
    return bytes([seed]) * suite.key_len, bytes([seed + 1]) * suite.iv_len  # type: ignore[attr-defined]


def tls13_pair(suite: object = AES128) -> tuple[RecordLayer, RecordLayer]:
    sender, receiver = RecordLayer(), RecordLayer()
    sender.write_protection = Tls13Protection(suite, *keys(suite))  # type: ignore[arg-type]
    receiver.read_protection = Tls13Protection(suite, *keys(suite))  # type: ignore[arg-type]
    return sender, receiver


def records_of(layer: RecordLayer, data: bytes) -> list[tuple[int, bytes]]:
    layer.feed(data)
    out = []
    while (item := layer.next_record()) is not None:
        out.append(item)
    return out


def failure(layer: RecordLayer, data: bytes) -> TLSError:
    layer.feed(data)
    with pytest.raises(TLSError) as caught:
        while layer.next_record() is not None:
            pass
    return caught.value


# -- TLS 1.3 protection ---------------------------------------------------------------------


@pytest.mark.parametrize("suite", TLS13_SUITES, ids=lambda s: s.name)
@settings(max_examples=50, deadline=None)
@given(content_type=st.sampled_from([21, 22, 23]), data=st.binary(min_size=1, max_size=600),
       padding=st.integers(0, 64))
def test_tls13_record_round_trips_with_its_inner_content_type(
        suite: object, content_type: int, data: bytes, padding: int) -> None:
    sender, receiver = Tls13Protection(suite, *keys(suite)), Tls13Protection(  # type: ignore[arg-type]
        suite, *keys(suite))  # type: ignore[arg-type]
    sealed = sender.seal(content_type, data, b"\x03\x03", padding)
    # RFC 8446 §5.2: the outer type is always application_data, version 0x0303.
    assert sealed[:3] == b"\x17\x03\x03"
    assert int.from_bytes(sealed[3:5], "big") == len(data) + 1 + padding + 16
    assert receiver.open(sealed[:5], sealed[5:]) == (content_type, data)


def test_tls13_nonce_is_the_iv_xor_the_sequence_number() -> None:
    # RFC 8446 §5.3, built independently with cryptography's AESGCM.
    key, iv = keys(AES128)
    protection = Tls13Protection(AES128, key, iv)
    protection.seal(23, b"first", b"\x03\x03", 0)
    sealed = protection.seal(23, b"second", b"\x03\x03", 0)
    nonce = (int.from_bytes(iv, "big") ^ 1).to_bytes(12, "big")
    assert AESGCM(key).decrypt(nonce, sealed[5:], sealed[:5]) == b"second\x17"


def test_tls13_records_must_be_opened_in_sequence() -> None:
    sender, receiver = tls13_pair()
    first = sender.seal(23, b"one")
    second = sender.seal(23, b"two")
    error = failure(receiver, second + first)
    assert isinstance(error, BadRecordMac)
    assert error.alert == AlertDescription.bad_record_mac


@pytest.mark.parametrize("where", ["header", "ciphertext", "tag"])
def test_tls13_record_altered_anywhere_is_bad_record_mac(where: str) -> None:
    sender, receiver = tls13_pair()
    sealed = bytearray(sender.seal(23, b"attack at dawn"))
    position = {"header": 2, "ciphertext": 7, "tag": len(sealed) - 1}[where]
    sealed[position] ^= 0x01
    assert failure(receiver, bytes(sealed)).alert == AlertDescription.bad_record_mac


def test_tls13_record_shorter_than_a_tag_is_bad_record_mac() -> None:
    _, receiver = tls13_pair()
    assert failure(receiver, b"\x17\x03\x03\x00\x05" + bytes(5)).alert == (
        AlertDescription.bad_record_mac)


def test_tls13_padding_is_stripped_and_the_last_non_zero_byte_is_the_type() -> None:
    sender = Tls13Protection(AES128, *keys(AES128))
    _, receiver = tls13_pair()
    sealed = sender.seal(22, b"\x14\x00\x00\x00", b"\x03\x03", 100)
    assert records_of(receiver, sealed) == [(22, b"\x14\x00\x00\x00")]


def test_tls13_record_of_only_zeros_has_no_content_type_and_is_unexpected_message() -> None:
    sender = Tls13Protection(AES128, *keys(AES128))
    _, receiver = tls13_pair()
    sealed = sender.seal(0, b"", b"\x03\x03", 10)  # inner plaintext: eleven zero bytes
    assert failure(receiver, sealed).alert == AlertDescription.unexpected_message


def test_tls13_unknown_inner_content_type_is_unexpected_message() -> None:
    sender = Tls13Protection(AES128, *keys(AES128))
    _, receiver = tls13_pair()
    assert failure(receiver, sender.seal(99, b"x", b"\x03\x03", 0)).alert == (
        AlertDescription.unexpected_message)


def test_tls13_protected_change_cipher_spec_is_unexpected_message() -> None:
    # RFC 9846 §5: "An implementation which ... receives a protected change_cipher_spec
    # record MUST abort the handshake with an unexpected_message alert."
    sender, receiver = tls13_pair()
    # Our own record layer never protects one (see the next test): forge it.
    forged = sender.write_protection.seal(20, b"\x01", b"\x03\x03", 0)
    assert failure(receiver, forged).alert == AlertDescription.unexpected_message


def test_tls13_change_cipher_spec_goes_unprotected_even_under_keys() -> None:
    # RFC 9846 §5: the compatibility change_cipher_spec is an unprotected record,
    # whatever keys are installed (a client writes with its handshake keys from the
    # ServerHello on, and sends this record after).
    sender, _receiver = tls13_pair()
    assert sender.seal(20, b"\x01") == bytes([20, 3, 3, 0, 1, 1])


def test_tls13_unprotected_handshake_record_after_keys_is_unexpected_message() -> None:
    _, receiver = tls13_pair()
    assert failure(receiver, b"\x16\x03\x03\x00\x04\x14\x00\x00\x00").alert == (
        AlertDescription.unexpected_message)


def test_tls13_unprotected_change_cipher_spec_passes_even_after_keys() -> None:
    # RFC 8446 §5: it must be recognised before any attempt to deprotect it.
    _, receiver = tls13_pair()
    assert records_of(receiver, b"\x14\x03\x03\x00\x01\x01") == [(20, b"\x01")]


def test_tls13_ciphertext_longer_than_2_14_plus_256_is_record_overflow() -> None:
    _, receiver = tls13_pair()
    header = b"\x17\x03\x03" + (MAX_CIPHERTEXT_13 + 1).to_bytes(2, "big")
    # Refused from the header alone, before the body arrives.
    assert failure(receiver, header).alert == AlertDescription.record_overflow


def test_tls13_inner_plaintext_longer_than_2_14_plus_1_is_record_overflow() -> None:
    # RFC 8446 §5.2: TLSInnerPlaintext (content, type and padding) must not exceed
    # 2^14 + 1 bytes, even when the ciphertext fits in 2^14 + 256.
    sender = Tls13Protection(AES128, *keys(AES128))
    _, receiver = tls13_pair()
    sealed = sender.seal(23, bytes(2**14), b"\x03\x03", 100)
    assert len(sealed) - 5 <= MAX_CIPHERTEXT_13
    assert failure(receiver, sealed).alert == AlertDescription.record_overflow


def test_tls13_full_size_record_is_accepted() -> None:
    sender, receiver = tls13_pair()
    assert records_of(receiver, sender.seal(23, bytes(2**14))) == [(23, bytes(2**14))]


def test_tls13_sequence_number_never_wraps() -> None:
    protection = Tls13Protection(AES128, *keys(AES128))
    protection.sequence = 2**64 - 1
    with pytest.raises(TLSError) as caught:
        protection.seal(23, b"x", b"\x03\x03", 0)
    assert caught.value.alert == AlertDescription.internal_error


def test_tls13_protection_is_exhausted_at_the_suite_record_limit() -> None:
    # RFC 8446 §5.5: AES-GCM keys protect at most 2^24.5 records; glasstls uses 2^24.
    protection = Tls13Protection(AES128, *keys(AES128))
    assert protection.limit == 2**24
    protection.sequence = 2**24 - 1
    assert not protection.exhausted
    protection.seal(23, b"x", b"\x03\x03", 0)
    assert protection.exhausted


# -- framing, fragmentation and padding --------------------------------------------------------


def test_plaintext_records_are_framed_with_type_version_and_length() -> None:
    layer = RecordLayer()
    assert layer.seal(22, b"\x01\x02") == b"\x16\x03\x03\x00\x02\x01\x02"


def test_seal_fragments_at_max_fragment() -> None:
    layer = RecordLayer()
    layer.max_fragment = 100
    sealed = layer.seal(23, bytes(250))
    receiver = RecordLayer()
    assert [len(p) for _, p in records_of(receiver, sealed)] == [100, 100, 50]


def test_protected_records_respect_max_fragment_including_padding() -> None:
    sender, receiver = tls13_pair()
    sender.max_fragment = 63  # record_size_limit 64: 63 bytes of content and the type byte
    sender.padding_block = 32
    sealed = sender.seal(23, bytes(200))
    lengths = []
    position = 0
    while position < len(sealed):
        length = int.from_bytes(sealed[position + 3:position + 5], "big")
        lengths.append(length)
        position += 5 + length
    assert all(length - 16 <= 64 for length in lengths)
    assert b"".join(p for _, p in records_of(receiver, sealed)) == bytes(200)


@pytest.mark.parametrize(("block", "content", "inner"), [
    (256, 10, 256), (256, 255, 256), (256, 256, 512), (16, 1, 16), (0, 10, 11)])
def test_padding_rounds_the_inner_plaintext_up_to_the_block(
        block: int, content: int, inner: int) -> None:
    sender, receiver = tls13_pair()
    sender.padding_block = block
    sealed = sender.seal(23, bytes(content))
    assert int.from_bytes(sealed[3:5], "big") == inner + 16
    assert records_of(receiver, sealed) == [(23, bytes(content))]


def test_padding_is_not_applied_to_unprotected_records() -> None:
    layer = RecordLayer()
    layer.padding_block = 256
    assert layer.seal(22, b"\x01") == b"\x16\x03\x03\x00\x01\x01"


def test_records_are_reassembled_from_bytes_fed_one_at_a_time() -> None:
    sender, receiver = tls13_pair()
    data = sender.seal(23, b"hello") + sender.seal(22, b"\x18\x00\x00\x01\x00")
    got = []
    for i in range(len(data)):
        receiver.feed(data[i:i + 1])
        while (item := receiver.next_record()) is not None:
            got.append(item)
    assert got == [(23, b"hello"), (22, b"\x18\x00\x00\x01\x00")]
    assert receiver.buffered == 0


@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=12),
       cuts=st.lists(st.integers(min_value=1, max_value=9000), max_size=8),
       stop_after=st.integers(min_value=0, max_value=12))
def test_records_split_anywhere_across_reads_come_out_whole_and_in_order(
        sizes: list[int], cuts: list[int], stop_after: int) -> None:
    """A read that completes one record and carries the next ones (how a large
    socket read arrives) gives the same records as one read of everything, and
    ``take_buffer`` hands back exactly the bytes not yet parsed."""
    sender, receiver = tls13_pair()
    plaintexts = [bytes([i % 251]) * size for i, size in enumerate(sizes)]
    wire = b"".join(sender.seal(23, p) for p in plaintexts if p)
    expected = [(23, p) for p in plaintexts if p]
    bounds = sorted({0, len(wire), *(c % (len(wire) + 1) for c in cuts)})
    got: list[tuple[int, bytes]] = []
    for start, end in itertools.pairwise(bounds):
        receiver.feed(wire[start:end])
        while len(got) < stop_after and (item := receiver.next_record()) is not None:
            got.append(item)
    assert got == expected[:len(got)]
    rest = receiver.take_buffer()
    assert receiver.buffered == 0
    assert rest == wire[len(b"".join(sender_records(expected[:len(got)]))):]


def sender_records(records: list[tuple[int, bytes]]) -> list[bytes]:
    """The wire bytes of ``records`` sealed afresh with the same keys."""
    sender, _ = tls13_pair()
    return [sender.seal(content_type, data) for content_type, data in records]


@pytest.mark.parametrize("in_place", [True, False], ids=["in-place", "after-headers"])
@pytest.mark.parametrize("suite", TLS13_SUITES, ids=lambda s: s.name)
@pytest.mark.parametrize("size", [1, 16383, 16384, 16385, 3 * 16384, 100_000])
def test_a_large_send_is_sealed_into_one_buffer_of_whole_records(
        suite: object, size: int, in_place: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bulk path, both ways (plaintexts laid out and sealed over themselves, or
    each sealed after its header): every record of a send in one buffer, each sealed
    with its own sequence number, and the same bytes as sealing them one by one."""
    monkeypatch.setattr(record_module, "SEALS_IN_PLACE", in_place)
    sender, receiver = tls13_pair(suite)
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    source = bytearray(data)
    buffers = sender.seal_records(23, memoryview(source))
    assert source == data  # the caller's buffer is read, never written
    assert len(buffers) == 1
    one_by_one, _ = tls13_pair(suite)
    assert bytes(buffers[0]) == b"".join(one_by_one.seal(23, data[start:start + 16384])
                                         for start in range(0, size, 16384))
    assert sender.write_protection.sequence == -(-size // 16384)
    assert b"".join(p for _, p in records_of(receiver, bytes(buffers[0]))) == data


@pytest.mark.parametrize("in_place", [True, False], ids=["in-place", "after-headers"])
def test_sealing_nothing_in_bulk_makes_no_record(in_place: bool,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record_module, "SEALS_IN_PLACE", in_place)
    sender, _ = tls13_pair()
    assert sender.seal_records(23, b"") == [bytearray()]
    assert sender.write_protection.sequence == 0


@pytest.mark.parametrize("in_place", [True, False], ids=["in-place", "after-headers"])
def test_a_large_send_that_would_reach_the_last_sequence_number_seals_nothing(
        in_place: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # RFC 8446 §5.3: the sequence number must not wrap; the whole send is refused
    # before any of its records is sealed.
    monkeypatch.setattr(record_module, "SEALS_IN_PLACE", in_place)
    sender, _ = tls13_pair()
    sender.write_protection.sequence = 2**64 - 3  # room for two records, not three
    with pytest.raises(TLSError) as caught:
        sender.seal_records(23, bytes(3 * 16384))
    assert caught.value.alert == AlertDescription.internal_error
    assert sender.write_protection.sequence == 2**64 - 3
    assert len(sender.seal_records(23, bytes(2 * 16384))[0]) == 2 * (5 + 16384 + 1 + 16)
    assert sender.write_protection.sequence == 2**64 - 1


@pytest.mark.parametrize("primitive", [AESGCM(bytes(16)), AESGCM(bytes(32)),
                                       ChaCha20Poly1305(bytes(32))],
                         ids=["aes128gcm", "aes256gcm", "chacha20"])
def test_the_installed_aeads_seal_in_place(primitive: AESGCM | ChaCha20Poly1305) -> None:
    assert seals_in_place(primitive)
    assert record_module.SEALS_IN_PLACE  # so the bulk path takes it here


class _CopiesOutputFirst:
    """An AEAD whose encrypt_into writes its output before reading its input: sealing
    over the plaintext would then encrypt what it had just written."""

    def __init__(self) -> None:
        self._aead = ChaCha20Poly1305(bytes(32))

    def encrypt(self, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        return self._aead.encrypt(nonce, data, aad)

    def encrypt_into(self, nonce: bytes, data: memoryview, aad: bytes, out: memoryview) -> int:
        out[:16] = bytes(16)
        return self._aead.encrypt_into(nonce, bytes(data), aad, out)


class _RefusesOverlap:
    def encrypt(self, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        return bytes(len(data) + 16)

    def encrypt_into(self, nonce: bytes, data: memoryview, aad: bytes, out: memoryview) -> int:
        raise ValueError("buffers overlap")


@pytest.mark.parametrize("primitive", [_CopiesOutputFirst(), _RefusesOverlap()],
                         ids=["wrong-bytes", "refuses"])
def test_an_aead_that_cannot_seal_in_place_is_told_apart(primitive: object) -> None:
    assert not seals_in_place(primitive)  # type: ignore[arg-type]


def test_a_padded_large_send_keeps_one_buffer_per_record() -> None:
    sender, receiver = tls13_pair()
    sender.padding_block = 512
    buffers = sender.seal_records(23, bytes(40_000))
    assert len(buffers) == 3
    # The last record (7232 bytes and its type byte) is padded up to 7680.
    assert int.from_bytes(buffers[-1][3:5], "big") == 7680 + 16
    assert b"".join(p for _, p in records_of(receiver, b"".join(buffers))) == bytes(40_000)


def test_opened_plaintext_is_not_overwritten_by_the_next_record() -> None:
    """Records are decrypted in a reused buffer; what is handed out is a copy."""
    sender, receiver = tls13_pair()
    first, second = b"a" * 16384, b"b" * 16384
    wire = sender.seal(23, first) + sender.seal(23, second)
    receiver.feed(wire)
    opened_first = receiver.next_record()
    opened_second = receiver.next_record()
    assert opened_first == (23, first) and type(opened_first[1]) is bytes
    assert opened_second == (23, second)


def test_records_are_decrypted_correctly_in_several_threads_at_once() -> None:
    import threading

    results: list[bool] = []

    def work(seed: int) -> None:
        sender, receiver = tls13_pair(TLS13_SUITES[seed % len(TLS13_SUITES)])
        for n in range(50):
            data = bytes([seed, n]) * 8000
            results.append(records_of(receiver, sender.seal(23, data)) == [(23, data)])

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 200


def test_take_buffer_returns_unparsed_bytes() -> None:
    layer = RecordLayer()
    layer.feed(b"\x16\x03\x03\x00\x05abc")
    assert layer.next_record() is None
    assert layer.take_buffer() == b"\x16\x03\x03\x00\x05abc"
    assert layer.buffered == 0


@pytest.mark.parametrize(("data", "alert"), [
    (b"\x63\x03\x03\x00\x01\x00", AlertDescription.unexpected_message),  # unknown type
    (b"GET / HTTP/1.1\r\n", AlertDescription.unexpected_message),  # plaintext HTTP
    (b"\x16\x02\x00\x00\x01\x00", AlertDescription.decode_error),  # not version 3.x
    (b"\x16\x03\x03\x40\x01", AlertDescription.record_overflow),  # plaintext over 2^14
    (b"\x16\x03\x03\x00\x00", AlertDescription.unexpected_message),  # empty handshake record
])
def test_malformed_record_header_is_refused_with_its_alert(
        data: bytes, alert: AlertDescription) -> None:
    assert failure(RecordLayer(), data).alert == alert


def test_http_request_error_says_it_looks_like_http() -> None:
    assert "HTTP" in str(failure(RecordLayer(), b"GET / HTTP/1.1\r\n"))


def test_unprotected_alert_is_accepted_during_the_handshake_only() -> None:
    # A peer that failed before it had our keys may alert in the clear.
    _, receiver = tls13_pair()
    assert records_of(receiver, b"\x15\x03\x03\x00\x02\x02\x28") == [(21, b"\x02\x28")]
    receiver.handshaking = False
    assert failure(receiver, b"\x15\x03\x03\x00\x02\x02\x28").alert == (
        AlertDescription.unexpected_message)


def test_initial_protection_passes_records_through() -> None:
    protection = Protection()
    sealed = protection.seal(22, b"abc", b"\x03\x01", 0)
    assert sealed == b"\x16\x03\x01\x00\x03abc"
    assert protection.open(sealed[:5], sealed[5:]) == (22, b"abc")


# -- TLS 1.2 protection -------------------------------------------------------------------


@pytest.mark.parametrize("suite", TLS12_SUITES, ids=lambda s: s.name)
def test_tls12_record_round_trips_and_keeps_its_outer_type(suite: object) -> None:
    sender = RecordLayer()
    receiver = RecordLayer()
    receiver.tls13 = False
    sender.write_protection = Tls12Protection(suite, *keys(suite))  # type: ignore[arg-type]
    receiver.read_protection = Tls12Protection(suite, *keys(suite))  # type: ignore[arg-type]
    sealed = sender.seal(22, b"finished") + sender.seal(23, b"data")
    explicit = suite.explicit_nonce_len  # type: ignore[attr-defined]
    # RFC 5288 §3: GCM records carry the 8-byte explicit nonce (the sequence number).
    first = sealed[: 5 + int.from_bytes(sealed[3:5], "big")]
    assert first[0] == 22
    assert len(first) == 5 + explicit + len(b"finished") + 16
    if explicit:
        assert first[5:13] == bytes(8)
    assert records_of(receiver, sealed) == [(22, b"finished"), (23, b"data")]


@pytest.mark.parametrize("suite", TLS12_SUITES[:1] + TLS12_SUITES[-3:-2],
                         ids=lambda s: s.name)
def test_tls12_record_altered_is_bad_record_mac(suite: object) -> None:
    sender = Tls12Protection(suite, *keys(suite))  # type: ignore[arg-type]
    receiver = RecordLayer()
    receiver.tls13 = False
    receiver.read_protection = Tls12Protection(suite, *keys(suite))  # type: ignore[arg-type]
    sealed = bytearray(sender.seal(23, b"data", b"\x03\x03", 0))
    sealed[0] = 22  # the content type is authenticated as additional data
    assert failure(receiver, bytes(sealed)).alert == AlertDescription.bad_record_mac


def test_tls12_record_too_short_to_be_authentic_is_bad_record_mac() -> None:
    suite = SUITES[CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]
    receiver = RecordLayer()
    receiver.tls13 = False
    receiver.read_protection = Tls12Protection(suite, *keys(suite))
    error = failure(receiver, b"\x17\x03\x03\x00\x10" + bytes(16))
    assert isinstance(error, BadRecordMac)


def test_decode_error_is_the_alert_for_a_bad_record_version() -> None:
    assert isinstance(failure(RecordLayer(), b"\x17\x04\x03\x00\x01\x00"), DecodeError)
