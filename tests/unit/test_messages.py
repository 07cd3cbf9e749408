"""Every handshake message and extension round-trips, and damaged bytes are refused.

Property tests over arbitrary valid messages (helpers/strategies.py):
``parse(serialize(m)) == m``, the parsed message keeps exactly the bytes it came from,
and a message whose body is cut short or extended is refused with ``DecodeError``.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from glasstls.codec import Reader, Writer
from glasstls.constants import ExtensionType as X
from glasstls.errors import AlertDescription, DecodeError, IllegalParameter, PeerMisbehaved
from glasstls.messages import extensions as ext, handshake as hs
from helpers.strategies import MESSAGES, PARSERS, WHERES, extensions

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

NAMES = sorted(MESSAGES)


def with_body(raw: bytes, body: bytes) -> bytes:
    """The message ``raw`` with a new body and a header whose length matches it."""
    return raw[:1] + len(body).to_bytes(3, "big") + body


# -- round trips ------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_message_round_trips_through_serialize_and_parse(name: str, data: Any) -> None:
    message = data.draw(MESSAGES[name])
    raw = hs.serialize(message)
    parsed = PARSERS[name](raw)
    assert parsed == message
    assert parsed.raw == raw  # the transcript hashes these exact bytes
    assert hs.serialize(parsed) == raw


@pytest.mark.parametrize("where", WHERES)
@SETTINGS
@given(data=st.data(), probe=st.sampled_from(sorted(X)) | st.integers(0, 0xFFFF))
def test_find_in_a_parsed_block_agrees_with_a_scan_of_its_extensions(
        where: str, data: Any, probe: int) -> None:
    # A parsed block answers find/find_typed from its table by type; a tuple built
    # by hand is scanned. Both must give the same extension (or None).
    block = data.draw(extensions(where))
    w = Writer()
    ext.write_extensions(w, block)
    with Reader(w.getvalue()) as r:
        parsed = ext.parse_extensions(r, where)
    scanned = tuple(parsed)
    assert type(scanned) is tuple and scanned == parsed
    for ext_type in {probe, *(e.type for e in block)}:
        found = ext.find(parsed, ext_type)
        assert found is ext.find(scanned, ext_type)
        assert found == next((e for e in block if e.type == ext_type), None)
        kind = type(found) if found is not None else ext.UnknownExtension
        assert ext.find_typed(parsed, ext_type, kind) is found
    for extension in parsed:
        # The wrong form is refused the same way from the table.
        wrong = ext.ALPN if not isinstance(extension, ext.ALPN) else ext.Empty
        with pytest.raises(DecodeError, match="unexpected form"):
            ext.find_typed(parsed, extension.type, wrong)


@pytest.mark.parametrize("where", WHERES)
@SETTINGS
@given(data=st.data())
def test_extension_block_round_trips_in_each_message(where: str, data: Any) -> None:
    block = data.draw(extensions(where))
    w = Writer()
    ext.write_extensions(w, block)
    encoded = w.getvalue()
    with Reader(encoded) as r:
        parsed = ext.parse_extensions(r, where)
    assert parsed == block
    w2 = Writer()
    ext.write_extensions(w2, parsed)
    assert w2.getvalue() == encoded


def test_message_with_raw_fills_in_the_serialization() -> None:
    message = hs.message_with_raw(hs.KeyUpdate(True))
    assert message.raw == bytes.fromhex("1800000101")


# -- damaged input ------------------------------------------------------------------


def _may_stop_at(name: str, message: Any, body_length: int) -> bool:
    """Body lengths at which a cut-short message is still a valid (different) message."""
    if name == "Finished":
        return True  # verify_data is the rest of the body, whatever its length
    if name in ("ClientHello", "ServerHello"):
        # RFC 5246 §7.4.1.2: a hello may end right before its extensions block.
        return body_length == len(hs.serialize(message)) - 4 - _extensions_length(message)
    return False


def _extensions_length(message: Any) -> int:
    w = Writer()
    ext.write_extensions(w, message.extensions)
    return len(w.getvalue())


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_damaged_copies_of_a_message_are_refused_with_decode_error(name: str, data: Any) -> None:
    message = data.draw(MESSAGES[name])
    raw = hs.serialize(message)
    body = raw[4:]
    parse = PARSERS[name]

    # The body cut short (header adjusted to match).
    if body:
        cut = data.draw(st.integers(0, len(body) - 1), label="cut")
        if not _may_stop_at(name, message, cut):
            with pytest.raises(DecodeError) as caught:
                parse(with_body(raw, body[:cut]))
            assert caught.value.alert == AlertDescription.decode_error

    # Bytes after the body (header adjusted to match); Finished takes any length.
    extra = data.draw(st.binary(min_size=1, max_size=8), label="extra")
    if name != "Finished":
        with pytest.raises(DecodeError):
            parse(with_body(raw, body + extra))

    # The header's length disagrees with the bytes given: parse(raw) must not trust
    # either one.
    with pytest.raises(DecodeError):
        parse(raw + extra)
    with pytest.raises(DecodeError):
        parse(raw[:data.draw(st.integers(0, len(raw) - 1), label="short")])


def test_finished_shorter_than_its_header_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        hs.Finished.parse(b"\x14\x00")


# -- the rules of extension blocks --------------------------------------------------------


def _block(*extensions: tuple[int, bytes]) -> bytes:
    w = Writer()
    with w.vector(2):
        for ext_type, body in extensions:
            w.u16(ext_type)
            w.opaque(2, body)
    return w.getvalue()


def _parse_block(encoded: bytes, where: str) -> tuple[Any, ...]:
    with Reader(encoded) as r:
        return ext.parse_extensions(r, where)


def test_duplicate_extension_is_illegal_parameter() -> None:
    with pytest.raises(PeerMisbehaved) as caught:
        _parse_block(_block((0x1234, b""), (0x1234, b"x")), ext.EE)
    assert caught.value.alert == AlertDescription.illegal_parameter


def test_unknown_extension_is_kept_byte_for_byte() -> None:
    (parsed,) = _parse_block(_block((0xABCD, b"\x00\x01opaque")), ext.CH)
    assert parsed == ext.UnknownExtension(0xABCD, b"\x00\x01opaque")


def test_extension_typed_elsewhere_is_kept_opaque_in_a_message_that_does_not_interpret_it(
) -> None:
    # key_share is interpreted in hellos only; in a Certificate entry it stays raw.
    (parsed,) = _parse_block(_block((X.key_share, b"\x00\x1d")), ext.CT)
    assert parsed == ext.UnknownExtension(X.key_share, b"\x00\x1d")


# Each extension interpreted only in some messages, with each message it is kept
# opaque in (parse_extensions looks types up in one table per kind of block).
_OPAQUE_WHERE = [(ext_type, where) for ext_type in sorted(ext._TYPED_WHERE)
                 for where in (ext.CH, ext.SH, ext.HRR, ext.EE, ext.CT, ext.CR, ext.NST)
                 if where not in ext._TYPED_WHERE[ext_type]]


@pytest.mark.parametrize(("ext_type", "where"), _OPAQUE_WHERE)
@settings(max_examples=20, deadline=None)
@given(body=st.binary(max_size=40))
def test_each_extension_is_kept_opaque_in_every_message_that_does_not_interpret_it(
        ext_type: int, where: str, body: bytes) -> None:
    (parsed,) = _parse_block(_block((ext_type, body)), where)
    assert parsed == ext.UnknownExtension(ext_type, body)


@pytest.mark.parametrize("where", [ext.CH, ext.SH, ext.EE, ext.CT, ext.CR, ext.NST])
def test_an_extension_interpreted_everywhere_is_typed_in_every_message(where: str) -> None:
    # extended_master_secret is in no _TYPED_WHERE row: its parser runs in any block.
    (parsed,) = _parse_block(_block((X.extended_master_secret, b"")), where)
    assert parsed == ext.Empty(X.extended_master_secret)
    with pytest.raises(DecodeError):
        _parse_block(_block((X.extended_master_secret, b"\x00")), where)


def test_empty_extension_with_a_body_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        _parse_block(_block((X.extended_master_secret, b"\x00")), ext.CH)


def test_extension_body_longer_than_its_contents_is_a_decode_error() -> None:
    # record_size_limit is a uint16; a third byte is left over.
    with pytest.raises(DecodeError):
        _parse_block(_block((X.record_size_limit, b"\x40\x00\x00")), ext.CH)


def test_extension_bodies_get_their_two_byte_lengths_and_no_more() -> None:
    w = Writer()
    ext.write_extensions(w, (ext.UnknownExtension(0xABCD, b"x" * 300),
                             ext.U16List(X.supported_groups, (29, 23))))
    assert w.getvalue() == (b"\x01\x3a" + b"\xab\xcd\x01\x2c" + b"x" * 300
                            + b"\x00\x0a\x00\x06\x00\x04\x00\x1d\x00\x17")
    with pytest.raises(ValueError, match="do not fit a 2-byte length"):
        ext.write_extensions(Writer(), (ext.UnknownExtension(0xABCD, bytes(0x10000)),))


def test_record_size_limit_below_64_is_illegal_parameter() -> None:
    with pytest.raises(PeerMisbehaved) as caught:
        _parse_block(_block((X.record_size_limit, (63).to_bytes(2, "big"))), ext.EE)
    assert caught.value.alert == AlertDescription.illegal_parameter


def test_key_share_offering_a_group_twice_is_illegal_parameter() -> None:
    entry = b"\x00\x1d\x00\x01\x01"
    body = (2 * len(entry)).to_bytes(2, "big") + entry * 2
    with pytest.raises(PeerMisbehaved) as caught:
        _parse_block(_block((X.key_share, body)), ext.CH)
    assert caught.value.alert == AlertDescription.illegal_parameter


def test_supported_versions_of_odd_length_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        _parse_block(_block((X.supported_versions, b"\x03\x03\x04\x03")), ext.CH)


def test_server_name_with_two_host_names_is_illegal_parameter() -> None:
    names = b"\x00\x00\x01a" + b"\x00\x00\x01b"
    with pytest.raises(PeerMisbehaved):
        _parse_block(_block((X.server_name, len(names).to_bytes(2, "big") + names)), ext.CH)


def test_pre_shared_key_binders_and_identities_must_match_in_number() -> None:
    identities = b"\x00\x07" + b"\x00\x01a" + b"\x00\x00\x00\x00"
    binders = b"\x00\x42" + (b"\x20" + bytes(32)) * 2
    with pytest.raises(PeerMisbehaved) as caught:
        _parse_block(_block((X.pre_shared_key, identities + binders)), ext.CH)
    assert caught.value.alert == AlertDescription.illegal_parameter


def test_client_hello_with_pre_shared_key_not_last_is_illegal_parameter() -> None:
    psk = ext.PreSharedKey((ext.PskIdentity(b"id", 0),), (bytes(32),))
    hello = hs.ClientHello(0x0303, bytes(32), b"", (0x1301,), b"\x00",
                           (psk, ext.Empty(X.extended_master_secret)))
    with pytest.raises(PeerMisbehaved) as caught:
        hs.ClientHello.parse(hs.serialize(hello))
    assert caught.value.alert == AlertDescription.illegal_parameter


def test_client_hello_truncated_for_binders_ends_right_before_the_binders() -> None:
    psk = ext.PreSharedKey((ext.PskIdentity(b"id", 7),), (bytes(range(32)), b"\xff" * 48))
    psk = ext.PreSharedKey(psk.identities * 2, psk.binders)
    hello = hs.ClientHello.parse(hs.serialize(hs.ClientHello(
        0x0303, bytes(32), b"", (0x1301,), b"\x00", (ext.Empty(X.post_handshake_auth), psk))))
    truncated = hello.truncated_for_binders()
    w = Writer()
    psk.write_binders(w)
    assert truncated + w.getvalue() == hello.raw


def test_client_hello_without_an_extensions_block_parses_with_no_extensions() -> None:
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    hello = hs.ClientHello.parse(b"\x01" + len(body).to_bytes(3, "big") + body)
    assert hello.extensions == ()
    assert hello.cipher_suites == (0x1301,)


@pytest.mark.parametrize(("where", "ext_type"), [
    (ext.SH, X.signature_algorithms), (ext.EE, X.key_share), (ext.CT, X.supported_groups),
    (ext.NST, X.cookie), (ext.HRR, X.server_name),
    (ext.CR, X.application_layer_protocol_negotiation),
])
def test_check_allowed_refuses_an_extension_in_a_message_that_may_not_carry_it(
        where: str, ext_type: int) -> None:
    with pytest.raises(PeerMisbehaved) as caught:
        ext.check_allowed((ext.UnknownExtension(ext_type, b""),), where)
    assert caught.value.alert == AlertDescription.illegal_parameter


def test_check_allowed_accepts_unknown_extensions_anywhere() -> None:
    for where in WHERES:
        ext.check_allowed((ext.UnknownExtension(0x7A7A, b""),), where)


def test_find_typed_refuses_an_extension_of_the_wrong_form() -> None:
    block = (ext.UnknownExtension(X.key_share, b""),)
    with pytest.raises(DecodeError):
        ext.find_typed(block, X.key_share, ext.KeyShare)
    assert ext.find_typed(block, X.cookie, ext.Opaque16) is None


def test_key_update_with_request_update_above_one_is_illegal_parameter() -> None:
    with pytest.raises(PeerMisbehaved) as caught:
        hs.KeyUpdate.parse(b"\x18\x00\x00\x01\x02")
    assert caught.value.alert == AlertDescription.illegal_parameter


def test_server_key_exchange_with_explicit_curve_is_illegal_parameter() -> None:
    body = b"\x01\x00\x17\x01\x04\x04\x03\x00\x00"
    with pytest.raises(PeerMisbehaved):
        hs.ServerKeyExchangeECDHE.parse(b"\x0c" + len(body).to_bytes(3, "big") + body)


def test_server_hello_with_the_special_random_is_a_hello_retry_request() -> None:
    retry = hs.ServerHello(0x0303, hs.HELLO_RETRY_REQUEST_RANDOM, b"", 0x1301, 0, (
        ext.KeyShare(selected_group=0x17, where=ext.HRR),))
    parsed = hs.ServerHello.parse(hs.serialize(retry))
    assert parsed.is_hello_retry_request
    assert parsed.extensions[0] == ext.KeyShare(selected_group=0x17, where=ext.HRR)


def test_check_finished_length_refuses_the_wrong_length() -> None:
    hs.check_finished_length(hs.Finished(bytes(32)), 32)
    with pytest.raises(DecodeError):
        hs.check_finished_length(hs.Finished(bytes(31)), 32)


def _reference_parse_extensions(r: Reader, where: str) -> tuple[Any, ...]:
    """The block loop as it was written with ``remaining``, ``u16`` and ``vector``
    (before ``Reader.entry``): the model the one-call loop must match."""
    extensions: dict[int, Any] = {}
    parsers = ext._PARSERS_IN[where]
    limit = ext.MAX_EXTENSIONS if where == ext.CH else None
    block = r.vector(2)
    while block.remaining:
        if limit is not None and len(extensions) >= limit:
            raise DecodeError(f"more than {limit} extensions in a ClientHello")
        ext_type = block.u16()
        if ext_type in extensions:
            raise IllegalParameter(f"duplicate extension {ext_type}")
        parse = parsers.get(ext_type)
        if parse is None:
            extensions[ext_type] = ext.UnknownExtension(ext_type, block.opaque(2))
        else:
            body = block.vector(2)
            extensions[ext_type] = parse(ext_type, where, body)
            body.expect_end()
    return tuple(extensions.values())


def _outcome(parse: Any, encoded: bytes, where: str) -> Any:
    try:
        return ("parsed", tuple(_parse_with(parse, encoded, where)))
    except PeerMisbehaved as error:
        return (type(error).__name__, error.alert, str(error))


def _parse_with(parse: Any, encoded: bytes, where: str) -> tuple[Any, ...]:
    with Reader(encoded) as r:
        result: tuple[Any, ...] = parse(r, where)
        return result


_KNOWN_TYPES = [*sorted(ext._PARSERS), 0x1234, 0xFAFA]


@settings(max_examples=400, deadline=None)
@given(entries=st.lists(st.tuples(st.sampled_from(_KNOWN_TYPES), st.binary(max_size=12)),
                        max_size=6),
       cut=st.integers(0, 80), extra=st.binary(max_size=3),
       where=st.sampled_from([ext.CH, ext.SH, ext.HRR, ext.EE, ext.CT, ext.CR, ext.NST]))
def test_parse_extensions_matches_the_reference_loop_on_hostile_blocks(
        entries: list[tuple[int, bytes]], cut: int, extra: bytes, where: str) -> None:
    # Duplicates, truncated headers and bodies, bodies too long for their block, any
    # extension's body in any message: the same result, or the same exception with
    # the same alert and message, as the loop it replaced.
    body = b"".join(t.to_bytes(2, "big") + len(b).to_bytes(2, "big") + b for t, b in entries)
    body = body[:len(body) - cut % (len(body) + 1)] + extra
    encoded = len(body).to_bytes(2, "big") + body
    assert _outcome(ext.parse_extensions, encoded, where) == _outcome(
        _reference_parse_extensions, encoded, where)


def test_duplicate_extension_whose_body_is_truncated_is_still_illegal_parameter() -> None:
    # RFC 8446 §4.2: the duplicate is seen before its length is read, as before.
    body = b"\x12\x34\x00\x00" + b"\x12\x34\x00\x09x"
    with pytest.raises(IllegalParameter, match="duplicate extension 4660"):
        _parse_block(len(body).to_bytes(2, "big") + body, ext.EE)


def test_one_extension_past_the_limit_is_refused_even_if_it_is_truncated() -> None:
    entries = b"".join(t.to_bytes(2, "big") + b"\x00\x00"
                       for t in range(0x7000, 0x7000 + ext.MAX_EXTENSIONS))
    body = entries + b"\x7f\xff\x00\x05"
    with pytest.raises(DecodeError, match="more than 128 extensions"):
        _parse_block(len(body).to_bytes(2, "big") + body, ext.CH)


def test_serialize_writes_the_header_in_place_and_refuses_a_body_past_2_to_the_24() -> None:
    assert hs.serialize(hs.Finished(b"v" * 300)) == b"\x14\x00\x01\x2c" + b"v" * 300
    with pytest.raises(ValueError, match="3-byte length"):
        hs.serialize(hs.Finished(b"\x00" * 0x1000000))


@settings(max_examples=100, deadline=None)
@given(session_id=st.binary(max_size=32), suite=st.integers(0, 0xFFFF),
       method=st.integers(0, 255), version=st.integers(0, 0xFFFF))
def test_server_hello_fixed_fields_are_written_as_the_writer_would(
        session_id: bytes, suite: int, method: int, version: int) -> None:
    hello = hs.ServerHello(version, b"r" * 32, session_id, suite, method, ())
    w = Writer()
    w.u16(version)
    w.raw(b"r" * 32)
    w.opaque(1, session_id)
    w.u16(suite)
    w.u8(method)
    w.u16(0)  # the empty extension block
    body = w.getvalue()
    assert hs.serialize(hello) == b"\x02" + len(body).to_bytes(3, "big") + body
    assert hs.ServerHello.parse(hs.serialize(hello)) == hello


def _reference_host_name_ok(name: bytes) -> bool:
    labels = (name[:-1] if name.endswith(b".") else name).split(b".")
    return (set(name) <= set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
            and len(name) <= 254 and all(0 < len(label) <= 63 for label in labels))


@settings(max_examples=400, deadline=None)
@given(name=st.lists(st.sampled_from([b"a", b"-", b".", b"_", b"\x00", b"\xff", b"a" * 63,
                                      b"b" * 64, b"c" * 70]), min_size=1, max_size=8
                     ).map(b"".join))
def test_host_name_check_matches_the_rfc_grammar_label_by_label(name: bytes) -> None:
    # RFC 6066 §3 / RFC 1123 §2.1: labels of 1 to 63 bytes, one optional trailing dot.
    if _reference_host_name_ok(name):
        assert ext._checked_host_name(name) == name
    else:
        with pytest.raises(IllegalParameter):
            ext._checked_host_name(name)


def _outcome_of_check(extensions: tuple[ext.Extension, ...], where: str) -> str | None:
    try:
        ext.check_allowed(extensions, where)
    except PeerMisbehaved as error:
        return f"{error.alert} {error}"
    return None


@settings(max_examples=300, deadline=None)
@given(types=st.lists(st.sampled_from([*sorted(ext.ALLOWED), 0x7A7A, 0xFF02]),
                      unique=True, max_size=8),
       where=st.sampled_from(sorted(WHERES)))
def test_check_allowed_gives_a_parsed_block_the_outcome_of_its_tuple(
        types: list[int], where: str) -> None:
    # A parsed block is checked by a set lookup first; the outcome (and the first
    # offender it names) is the loop's over the same extensions in wire order.
    extensions = tuple(ext.UnknownExtension(ext_type, b"") for ext_type in types)
    block = ext.ExtensionBlock(extensions)
    block.by_type = {extension.type: extension for extension in extensions}
    assert _outcome_of_check(block, where) == _outcome_of_check(extensions, where)
    assert (_outcome_of_check(block, where) is None) == all(
        where in ext.ALLOWED.get(ext_type, WHERES) for ext_type in types)


@pytest.mark.parametrize("raw", [b"", b"\x14", b"\x14\x00\x00", b"\x14\x00\x00\x02\x01",
                                 b"\x14\x00\x00\x01\x01\x02", b"\x14\x00\x00\x00",
                                 b"\x14\x00\x00\x02\x01\x02"])
def test_finished_parse_is_the_codec_s_reading(raw: bytes) -> None:
    # Finished.parse reads its body without a Reader; the codec's reading is the
    # reference: the same verify_data, or the same DecodeError.
    def by_codec() -> bytes:
        with hs.body_reader(raw) as r:
            return r.rest()

    try:
        expected: Any = by_codec()
    except DecodeError as error:
        expected = str(error)
    try:
        got: Any = hs.Finished.parse(raw).verify_data
    except DecodeError as error:
        got = str(error)
    assert got == expected
