"""A ClientHello read with offsets (messages/hello_block.py) agrees with the codec's
reading (``ClientHello.read_fields``, ``parse_extensions(r, CH)``) on every hello:
the same fields, or the same exception with the same alert and message.

Hostile hellos are valid ones damaged (a byte changed, inserted or removed, the
header's length kept consistent), extension blocks of random entries of every type
and of entries shaped as TLS vectors, and one below each minimum; a well-formed
hello is also checked to have been read with offsets.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from glasstls.constants import ExtensionType as X
from glasstls.errors import DecodeError, IllegalParameter, PeerMisbehaved
from glasstls.messages import extensions as ext, handshake as hs, hello_block
from helpers.strategies import client_hello, extensions

SETTINGS = settings(max_examples=400, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _outcome(read: Any, raw: bytes) -> Any:
    try:
        fields = read(raw)
    except PeerMisbehaved as error:
        return (type(error).__name__, error.alert, str(error))
    extensions = fields[5]
    return ("parsed", fields, dict(extensions.by_type) if extensions else {})


def _read(raw: bytes) -> Any:
    """What ClientHello.parse reads: with offsets, else with the codec."""
    return hello_block.read_client_hello(raw) or hs.ClientHello.read_fields(raw)


def _agree(raw: bytes) -> Any:
    outcome = _outcome(_read, raw)
    assert outcome == _outcome(hs.ClientHello.read_fields, raw)
    return outcome


# A TLS 1.3 hello's fields before its extensions: version, random, a session id,
# two suites, null compression.
_FIXED = (b"\x03\x03" + bytes(range(32)) + b"\x20" + bytes(32)
          + b"\x00\x04\x13\x01\x13\x02" + b"\x01\x00")


def _hello(body: bytes) -> bytes:
    return b"\x01" + len(body).to_bytes(3, "big") + body


def _with_block(block_body: bytes) -> bytes:
    return _hello(_FIXED + len(block_body).to_bytes(2, "big") + block_body)


def _encoded(extension_list: tuple[Any, ...]) -> bytes:
    """An extension block's entries (without the block's length)."""
    return _body_of(hs.ClientHello(0x0303, bytes(32), b"", (0x1301,), b"\x00",
                                   extension_list))


def _body_of(hello: hs.ClientHello) -> bytes:
    raw = hs.serialize(hello)
    return raw[4 + 2 + 32 + 1 + len(hello.legacy_session_id) + 2
               + 2 * len(hello.cipher_suites) + 1 + len(hello.legacy_compression_methods)
               + 2:]


@SETTINGS
@given(hello=client_hello())
def test_a_well_formed_hello_is_read_with_offsets_as_the_codec_reads_it(
        hello: hs.ClientHello) -> None:
    raw = hs.serialize(hello)
    outcome = _agree(raw)
    assert outcome[0] == "parsed"
    assert hs.ClientHello.parse(raw) == hello
    if not any(e.type in hello_block._REFERENCE_ONLY for e in hello.extensions):
        assert hello_block.read_client_hello(raw) is not None


def _damaged(body: bytes, at: int, change: str, byte: int) -> bytes:
    at = at % (len(body) + 1)
    if change == "replace" and at < len(body):
        return body[:at] + bytes((byte,)) + body[at + 1:]
    if change == "insert":
        return body[:at] + bytes((byte,)) + body[at:]
    return body[:at] + body[at + 1:]


@SETTINGS
@given(hello=client_hello(), at=st.integers(0, 4000),
       change=st.sampled_from(["replace", "insert", "delete"]), byte=st.integers(0, 255))
def test_a_damaged_hello_gets_the_codec_s_alert_and_message(
        hello: hs.ClientHello, at: int, change: str, byte: int) -> None:
    # Anywhere in the body, the header's length kept consistent, so that the damage
    # reaches a fixed field, a vector's length, an extension or a host name.
    _agree(_hello(_damaged(hs.serialize(hello)[4:], at, change, byte)))


@pytest.mark.parametrize("raw", [
    b"", b"\x01\x00\x00", _hello(b""), _hello(_FIXED[:38]), _hello(_FIXED[:-1]),
    _hello(_FIXED + b"\x00"), _hello(_FIXED + b"\x00\x01"), _hello(_FIXED + b"\x00\x00\x00"),
    _hello(_FIXED[:34] + b"\x21" + bytes(33) + _FIXED[67:]),  # a 33-byte session id
    _hello(_FIXED[:67] + b"\x00\x03\x13\x01\x13" + _FIXED[73:]),  # an odd suites list
    _hello(_FIXED[:67] + b"\x00\x00" + _FIXED[73:]),  # no suites
    _hello(_FIXED[:-2] + b"\x00"),  # no compression method
    _hello(_FIXED[:67] + b"\x04\x02" + bytes(1026) + _FIXED[73:]),  # 513 suites
    b"\x01" + (len(_FIXED) + 1).to_bytes(3, "big") + _FIXED,  # a header one byte long
])
def test_damaged_fixed_fields_are_refused_as_the_codec_refuses_them(raw: bytes) -> None:
    assert _agree(raw)[0] == "DecodeError"


@pytest.mark.parametrize("raw", [_hello(_FIXED), _hello(_FIXED + b"\x00\x00")])
def test_a_hello_without_extensions_or_with_an_empty_block_is_read_with_offsets(
        raw: bytes) -> None:
    assert _agree(raw)[1][5] == ()
    assert hello_block.read_client_hello(raw) is not None


@SETTINGS
@given(block=extensions(ext.CH, max_size=10))
def test_a_well_formed_hello_block_is_read_with_offsets_as_the_codec_reads_it(
        block: tuple[Any, ...]) -> None:
    raw = _with_block(_encoded(block))
    outcome = _agree(raw)
    assert outcome[0] == "parsed" and outcome[1][5] == block
    # Not handed back to the codec: the offsets reading accepted it itself.
    assert hello_block.read_client_hello(raw) is not None


@SETTINGS
@given(block=extensions(ext.CH, max_size=8), at=st.integers(0, 2000),
       change=st.sampled_from(["replace", "insert", "delete"]), byte=st.integers(0, 255))
def test_a_damaged_hello_block_gets_the_codec_s_alert_and_message(
        block: tuple[Any, ...], at: int, change: str, byte: int) -> None:
    # Inside the block (its own length kept consistent), so that the damage reaches
    # an extension's header, a vector's length, a list's entries or a host name.
    _agree(_with_block(_damaged(_encoded(block), at, change, byte)))


_TYPES = [*sorted(ext.CLIENT_HELLO_PARSERS), 0x1234, 0xFAFA]


@SETTINGS
@given(entries=st.lists(st.tuples(st.sampled_from(_TYPES), st.binary(max_size=40)),
                        max_size=6))
def test_random_entries_of_every_type_get_the_codec_s_outcome(
        entries: list[tuple[int, bytes]]) -> None:
    _agree(_with_block(b"".join(t.to_bytes(2, "big") + len(b).to_bytes(2, "big") + b
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
    _agree(_with_block(b"".join(t.to_bytes(2, "big") + len(b).to_bytes(2, "big") + b
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
    (X.server_name, b"\x00\x03\x01\x00\x00"),  # an empty name of another type
    (X.server_name, b"\x00\x02\x00\x00"),  # a name without its length
    (X.extended_master_secret, b"\x00"),
    (X.early_data, b"\x00\x00\x00\x00"),  # a NewSessionTicket's body
])
def test_each_reader_refuses_what_the_codec_refuses(ext_type: int, body: bytes) -> None:
    entry = ext_type.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body
    assert _agree(_with_block(entry))[0] != "parsed"


# The shapes the one-entry fast paths of server_name, key_share and pre_shared_key
# read, and their neighbours, which go through the general loop: each as the codec
# reads it.
@pytest.mark.parametrize("ext_type, body, parsed", [
    (X.server_name, b"\x00\x0c\x00\x00\x09localhost", True),
    (X.server_name, b"\x00\x04\x00\x00\x01a", True),  # the shortest name
    (X.server_name, b"\x00\x0c\x01\x00\x09localhost", True),  # another name type
    (X.server_name, b"\x00\x0c\x00\x00\x09local.ost", True),
    (X.server_name, b"\x00\x0c\x00\x00\x09local ost", False),  # not a host name
    (X.server_name, b"\x00\x0c\x00\x00\x09local..st", False),  # an empty label
    (X.server_name, b"\x00\x0c\x00\x00\x08localhost", False),  # name shorter
    (X.server_name, b"\x00\x0c\x00\x00\x0alocalhost", False),  # name longer
    (X.server_name, b"\x00\x0b\x00\x00\x09localhost", False),  # list shorter
    (X.server_name, b"\x00\x10\x00\x00\x09localhost\x01\x00\x01b", True),  # two types
    (X.server_name, b"\x00\x10\x00\x00\x09localhost\x00\x00\x01b", False),  # twice
    (X.key_share, b"\x00\x05\x00\x1d\x00\x01\x07", True),
    (X.key_share, b"\x00\x06\x00\x1d\x00\x01\x07\x00", False),  # a byte left over
    (X.key_share, b"\x00\x05\x00\x1d\x00\x02\x07", False),  # share longer
    (X.key_share, b"\x00\x0a\x00\x1d\x00\x01\x07\x00\x17\x00\x01\x08", True),  # two
    (X.key_share, b"\x00\x0a\x00\x1d\x00\x01\x07\x00\x1d\x00\x01\x08", False),  # twice
    (X.key_share, b"\x00\x00", True),  # none (a client waiting for a retry)
    # pre_shared_key: one identity and one binder (the fast path), and neighbours.
    (X.pre_shared_key, b"\x00\x07" + _IDENTITY + b"\x00\x21" + _BINDER, True),
    (X.pre_shared_key, b"\x00\x08\x00\x02tt" + bytes(4) + b"\x00\x21" + _BINDER, True),
    (X.pre_shared_key, b"\x00\x07" + _IDENTITY + b"\x00\x31\x30" + bytes(48), True),
    (X.pre_shared_key, b"\x00\x07" + _IDENTITY + b"\x01\x00\xff" + bytes(255), True),
    (X.pre_shared_key, b"\x00\x07\x00\x02t" + bytes(4) + b"\x00\x21" + _BINDER, False),
    (X.pre_shared_key, b"\x00\x08" + _IDENTITY + b"\x00\x00\x21" + _BINDER, False),
    (X.pre_shared_key, b"\x00\x07" + _IDENTITY + b"\x00\x21\x1f" + bytes(32), False),
    (X.pre_shared_key, b"\x00\x07" + _IDENTITY + b"\x00\x21\x21" + bytes(32), False),
    (X.pre_shared_key, b"\x00\x07" + _IDENTITY + b"\x00\x22" + _BINDER, False),
    (X.pre_shared_key, b"\x00\x07" + _IDENTITY + b"\x00\x21" + _BINDER[:-1], False),
    (X.pre_shared_key, b"\x00\x07" + _IDENTITY + b"\x00\x42" + _BINDER * 2, False),
    (X.pre_shared_key, b"\x00\x0e" + _IDENTITY * 2 + b"\x00\x42" + _BINDER * 2, True),
    (X.pre_shared_key, b"\x00\x07" + _IDENTITY + b"\x00\x00", False),  # no binder
])
def test_one_entry_lists_and_their_neighbours_are_read_as_the_codec_reads_them(
        ext_type: int, body: bytes, parsed: bool) -> None:
    entry = ext_type.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body
    raw = _with_block(entry)
    assert (_agree(raw)[0] == "parsed") is parsed
    if parsed:
        assert hello_block.read_client_hello(raw) is not None  # read with offsets


@pytest.mark.parametrize("body, error, message", [
    (b"\x00\x0c\x00\x00\x09bad name!", IllegalParameter, "is not a DNS host name"),
    (b"\x00\x08\x00\x00\x01a\x00\x00\x01b", IllegalParameter, "two names of type 0"),
    (b"\x00\x00", DecodeError, "shorter than its minimum 1"),
])
def test_server_name_refusals_are_the_codec_s(body: bytes, error: type[Exception],
                                               message: str) -> None:
    raw = _with_block(X.server_name.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body)
    assert _agree(raw)[0] == error.__name__
    with pytest.raises(error, match=message):
        hs.ClientHello.parse(raw)


def test_a_key_share_offering_a_group_twice_is_illegal_parameter() -> None:
    shares = b"\x00\x1d\x00\x01\x01" * 2
    body = len(shares).to_bytes(2, "big") + shares
    raw = _with_block(X.key_share.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body)
    with pytest.raises(IllegalParameter, match="offers group 0x001d twice"):
        hs.ClientHello.parse(raw)


def test_extensions_without_an_offsets_reader_are_parsed_in_place(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # status_request and renegotiation_info (Chrome's, OpenSSL's) are parsed by their
    # codec parsers inside the offsets loop, not by reading the block twice.
    block = (ext.StatusRequest(), ext.RenegotiationInfo(b""), ext.Empty(X.extended_master_secret))
    encoded = _encoded(block)

    def refuse(raw: bytes) -> None:
        raise AssertionError("the hello was read again by the codec")

    monkeypatch.setattr(hs.ClientHello, "read_fields", staticmethod(refuse))
    assert hs.ClientHello.parse(_with_block(encoded)).extensions == block
    with pytest.raises(DecodeError, match="unexpected trailing bytes"):
        # A reference-only body with bytes left over: refused in place as well.
        bad = ext.StatusRequest.type.to_bytes(2, "big") + b"\x00\x06\x01\x00\x00\x00\x00\xff"
        hs.ClientHello.parse(_with_block(bad))


@pytest.mark.parametrize("count", [1, 63, 64, 65, 127, 200, 256])
def test_u16_vectors_of_every_length_around_the_kept_readers_are_the_codec_s(
        count: int) -> None:
    # Up to 64 values a vector is read by a kept Struct, beyond by a format made
    # for it: suites, groups, schemes and versions (at most 127) alike.
    values = b"".join((0x0A0A + i).to_bytes(2, "big") for i in range(count))
    size = len(values).to_bytes(2, "big")
    block = (b"\x00\x0a" + (len(values) + 2).to_bytes(2, "big") + size + values
             + b"\x00\x0d" + (len(values) + 2).to_bytes(2, "big") + size + values)
    if count <= 127:
        block += b"\x00\x2b" + (len(values) + 1).to_bytes(2, "big") + bytes((len(values),)) + values
    raw = _hello(b"\x03\x03" + bytes(32) + b"\x00" + size + values + b"\x01\x00"
                 + len(block).to_bytes(2, "big") + block)
    outcome = _agree(raw)
    assert outcome[0] == "parsed" and len(outcome[1][3]) == count
    assert hello_block.read_client_hello(raw) is not None


@pytest.mark.parametrize("ext_type", [X.supported_groups, X.signature_algorithms,
                                      X.signature_algorithms_cert])
@pytest.mark.parametrize("extra", [-1, 0, 1])
def test_u16_lists_at_and_past_their_caps_are_read_as_the_codec_reads_them(
        ext_type: int, extra: int) -> None:
    # _u16_list's byte limits (_U16_LIST_BYTES) are the codec's caps on the count of
    # values, per type: at the cap the hello is read with offsets, one value past
    # it the codec's refusal.
    cap = ext.MAX_GROUPS if ext_type == X.supported_groups else ext.MAX_SIGNATURE_SCHEMES
    values = b"".join((0x0A0A + i).to_bytes(2, "big") for i in range(cap + extra))
    body = len(values).to_bytes(2, "big") + values
    raw = _with_block(ext_type.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body)
    outcome = _agree(raw)
    assert (outcome[0] == "parsed") is (extra <= 0)
    assert (hello_block.read_client_hello(raw) is not None) is (extra <= 0)


@pytest.mark.parametrize("left", [1, 2, 3])
def test_an_extension_header_cut_short_at_the_block_s_end_is_the_codec_s_error(
        left: int) -> None:
    # One well-formed extension, then 1 to 3 bytes: too few for the next header.
    # The offsets reading gives up (its header read fails past the buffer's end)
    # and the codec raises its own error.
    raw = _with_block(b"\x00\x17\x00\x00" + b"\x00\x2b\x00"[:left])
    assert hello_block.read_client_hello(raw) is None
    assert _agree(raw)[0] == "DecodeError"


@pytest.mark.parametrize("count", [127, 128, 129, 130])
@pytest.mark.parametrize("filler", [0, 1, 600])
def test_the_extension_cap_is_the_codec_s_in_short_and_long_blocks(count: int,
                                                                   filler: int) -> None:
    # ``count`` distinct empty unknown extensions, the first with ``filler`` bytes of
    # body: a block of 4 * count bytes is checked without a count (it cannot hold
    # more than the cap), a longer one with it; both as the codec reads them.
    entries = [(0x4000 + i).to_bytes(2, "big") + b"\x00\x00" for i in range(count)]
    entries[0] = b"\x40\x00" + filler.to_bytes(2, "big") + bytes(filler)
    outcome = _agree(_with_block(b"".join(entries)))
    if count <= ext.MAX_EXTENSIONS:
        assert outcome[0] == "parsed" and len(outcome[1][5]) == count
    else:
        assert outcome[0] == "DecodeError"
        assert hello_block.read_client_hello(_with_block(b"".join(entries))) is None
