"""The ClientHello's extension block read with offsets (messages/hello_block.py)
agrees with the codec's reading (``parse_extensions(r, CH)``) on every block: the
same extensions, or the same exception with the same alert and message.

Hostile blocks are valid ones damaged (a byte changed, inserted or removed, lengths
left as they were), random entries of every type, and duplicates; each is also
checked to have taken the offsets path when it is well-formed.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from glasstls.codec import Reader, Writer
from glasstls.constants import ExtensionType as X
from glasstls.errors import DecodeError, IllegalParameter, PeerMisbehaved
from glasstls.messages import extensions as ext, hello_block
from helpers.strategies import extensions

SETTINGS = settings(max_examples=400, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _outcome(parse: Any, block: bytes) -> Any:
    try:
        with Reader(block) as r:
            parsed = parse(r)
    except PeerMisbehaved as error:
        return (type(error).__name__, error.alert, str(error))
    return ("parsed", tuple(parsed), dict(parsed.by_type))


def _agree(block: bytes) -> Any:
    outcome = _outcome(hello_block.parse_client_hello_extensions, block)
    assert outcome == _outcome(lambda r: ext.parse_extensions(r, ext.CH), block)
    return outcome


def _encoded(extension_list: tuple[Any, ...]) -> bytes:
    w = Writer()
    ext.write_extensions(w, extension_list)
    return w.getvalue()


def _framed(body: bytes) -> bytes:
    return len(body).to_bytes(2, "big") + body


@SETTINGS
@given(block=extensions(ext.CH, max_size=10))
def test_a_well_formed_hello_block_is_read_with_offsets_as_the_codec_reads_it(
        block: tuple[Any, ...]) -> None:
    encoded = _encoded(block)
    outcome = _agree(encoded)
    assert outcome[0] == "parsed" and outcome[1] == block
    # Not handed back to the codec: the offsets reading accepted it itself.
    assert hello_block._read_block(encoded, 2, len(encoded)) is not None


@SETTINGS
@given(block=extensions(ext.CH, max_size=8), at=st.integers(0, 2000),
       change=st.sampled_from(["replace", "insert", "delete"]), byte=st.integers(0, 255))
def test_a_damaged_hello_block_gets_the_codec_s_alert_and_message(
        block: tuple[Any, ...], at: int, change: str, byte: int) -> None:
    # Inside the block (its own length kept consistent), so that the damage reaches
    # an extension's header, a vector's length, a list's entries or a host name.
    body = _encoded(block)[2:]
    at = at % (len(body) + 1)
    if change == "replace" and at < len(body):
        body = body[:at] + bytes((byte,)) + body[at + 1:]
    elif change == "insert":
        body = body[:at] + bytes((byte,)) + body[at:]
    else:
        body = body[:at] + body[at + 1:]
    _agree(_framed(body))


_TYPES = [*sorted(ext.CLIENT_HELLO_PARSERS), 0x1234, 0xFAFA]


@SETTINGS
@given(entries=st.lists(st.tuples(st.sampled_from(_TYPES), st.binary(max_size=40)),
                        max_size=6))
def test_random_entries_of_every_type_get_the_codec_s_outcome(
        entries: list[tuple[int, bytes]]) -> None:
    _agree(_framed(b"".join(t.to_bytes(2, "big") + len(b).to_bytes(2, "big") + b
                            for t, b in entries)))


def _shaped() -> st.SearchStrategy[bytes]:
    """Bodies shaped as TLS structures: nested vectors with 1- or 2-byte lengths
    that are right or one off, around fields of the sizes the ClientHello's minimums
    turn on (empty, one byte, a 4-byte age, 31 to 33-byte binders)."""
    leaf = st.sampled_from([0, 1, 2, 3, 4, 7, 31, 32, 33]).flatmap(
        lambda n: st.binary(min_size=n, max_size=n))

    def vector(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
        return st.tuples(st.lists(children, max_size=4), st.sampled_from([1, 2]),
                         st.sampled_from([0, 0, 0, -1, 1])).map(
            lambda t: (max(0, sum(map(len, t[0])) + t[2])).to_bytes(t[1], "big")
            + b"".join(t[0]) if sum(map(len, t[0])) + t[2] < 256 ** t[1] else b"")

    return st.recursive(leaf, vector, max_leaves=12)


@SETTINGS
@given(entries=st.lists(st.tuples(st.sampled_from(_TYPES), _shaped()), min_size=1,
                        max_size=3))
def test_entries_shaped_as_tls_vectors_get_the_codec_s_outcome(
        entries: list[tuple[int, bytes]]) -> None:
    # Random bytes rarely have lengths that add up; these mostly do, or are one off,
    # so each minimum, cap and end check of every reader is reached.
    _agree(_framed(b"".join(t.to_bytes(2, "big") + len(b).to_bytes(2, "big") + b
                            for t, b in entries)))


_IDENTITY = b"\x00\x01t" + bytes(4)  # a one-byte identity and its age
_BINDER = b"\x20" + bytes(32)


# One below each minimum, one over each end, each count that must match.
@pytest.mark.parametrize("ext_type, body", [
    (X.key_share, b"\x00\x04\x00\x1d\x00\x00"),  # an empty key_exchange
    (X.key_share, b"\x00\x05\x00\x1d\x00\x01"),  # a share past its vector
    (X.pre_shared_key, b"\x00\x06\x00\x00" + bytes(4) + b"\x00\x21" + _BINDER),
    (X.pre_shared_key, b"\x00\x07" + _IDENTITY + b"\x00\x20\x1f" + bytes(31)),
    (X.pre_shared_key, b"\x00\x07" + _IDENTITY + b"\x00\x42" + _BINDER * 2),
    (X.pre_shared_key, b"\x00\x0e" + _IDENTITY * 2 + b"\x00\x21" + _BINDER),
    (X.pre_shared_key, b"\x00\x07" + _IDENTITY + b"\x00\x21" + _BINDER + b"\x00"),
    # A 31-byte binder in a binders list long enough for its minimum.
    (X.pre_shared_key, b"\x00\x0e" + _IDENTITY * 2 + b"\x00\x41\x1f" + bytes(31) + _BINDER),
    (X.application_layer_protocol_negotiation, b"\x00\x01\x00"),
    (X.application_layer_protocol_negotiation, b"\x00\x03\x00\x01a"),
    (X.supported_groups, b"\x00\x00"),
    (X.supported_groups, b"\x00\x03\x00\x1d\x00"),
    (X.signature_algorithms, b"\x00\x02\x04"),
    (X.supported_versions, b"\x00"),
    (X.supported_versions, b"\x03\x03\x04\x03"),
    (X.compress_certificate, b"\x01\x00\x02"),
    (X.psk_key_exchange_modes, b"\x00"),
    (X.ec_point_formats, b"\x02\x00"),
    (X.server_name, b"\x00\x03\x00\x00\x00"),  # an empty host_name
    (X.server_name, b"\x00\x02\x00\x00"),  # a name without its length
    (X.extended_master_secret, b"\x00"),
    (X.early_data, b"\x00\x00\x00\x00"),  # a NewSessionTicket's body
])
def test_each_reader_refuses_what_the_codec_refuses(ext_type: int, body: bytes) -> None:
    entry = ext_type.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body
    assert _agree(_framed(entry))[0] != "parsed"


@pytest.mark.parametrize("body, error, message", [
    (b"\x00\x0c\x00\x00\x09bad name!", IllegalParameter, "is not a DNS host name"),
    (b"\x00\x08\x00\x00\x01a\x00\x00\x01b", IllegalParameter, "two names of type 0"),
    (b"\x00\x00", DecodeError, "shorter than its minimum 1"),
])
def test_server_name_refusals_are_the_codec_s(body: bytes, error: type[Exception],
                                               message: str) -> None:
    block = _framed(X.server_name.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body)
    assert _agree(block)[0] == error.__name__
    with pytest.raises(error, match=message):
        hello_block.parse_client_hello_extensions(Reader(block))


def test_a_key_share_offering_a_group_twice_is_illegal_parameter() -> None:
    shares = b"\x00\x1d\x00\x01\x01" * 2
    body = _framed(shares)
    block = _framed(X.key_share.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body)
    with pytest.raises(IllegalParameter, match="offers group 0x001d twice"):
        hello_block.parse_client_hello_extensions(Reader(block))


def test_extensions_without_an_offsets_reader_are_parsed_in_place(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # status_request and renegotiation_info (Chrome's, OpenSSL's) are parsed by their
    # codec parsers inside the offsets loop, not by reading the block twice.
    block = (ext.StatusRequest(), ext.RenegotiationInfo(b""), ext.Empty(X.extended_master_secret))
    encoded = _encoded(block)

    def refuse(r: Reader, where: str) -> None:
        raise AssertionError("the block was read again by parse_extensions")

    monkeypatch.setattr(hello_block, "parse_extensions", refuse)
    with Reader(encoded) as r:
        assert hello_block.parse_client_hello_extensions(r) == block
    with pytest.raises(DecodeError, match="unexpected trailing bytes"):
        # A reference-only body with bytes left over: refused in place as well.
        bad = ext.StatusRequest.type.to_bytes(2, "big") + b"\x00\x06\x01\x00\x00\x00\x00\xff"
        hello_block.parse_client_hello_extensions(Reader(_framed(bad)))
