"""The codec's bounds: every integer width, vectors with minimum and maximum lengths,
trailing bytes and truncation. The Reader raises only ``DecodeError``."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from glasstls.codec import Reader, Writer
from glasstls.errors import AlertDescription, DecodeError

WIDTHS = {"u8": 1, "u16": 2, "u24": 3, "u32": 4, "u64": 8}


@pytest.mark.parametrize("name", WIDTHS)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_integer_round_trips_big_endian_at_its_width(name: str, data: st.DataObject) -> None:
    width = WIDTHS[name]
    value = data.draw(st.integers(0, 2 ** (8 * width) - 1))
    w = Writer()
    getattr(w, name)(value)
    assert w.getvalue() == value.to_bytes(width, "big")
    with Reader(w.getvalue()) as r:
        assert getattr(r, name)() == value


@pytest.mark.parametrize("name", WIDTHS)
def test_integer_at_its_extremes(name: str) -> None:
    width = WIDTHS[name]
    for value in (0, 1, 2 ** (8 * width) - 1):
        w = Writer()
        getattr(w, name)(value)
        assert getattr(Reader(w.getvalue()), name)() == value


@pytest.mark.parametrize("name", WIDTHS)
def test_integer_too_large_for_its_width_is_refused_by_the_writer(name: str) -> None:
    # Silently truncating would put a different value on the wire.
    with pytest.raises((ValueError, OverflowError)):
        getattr(Writer(), name)(2 ** (8 * WIDTHS[name]))
    with pytest.raises((ValueError, OverflowError)):
        getattr(Writer(), name)(-1)


@pytest.mark.parametrize("name", WIDTHS)
def test_integer_truncated_is_a_decode_error_and_consumes_nothing(name: str) -> None:
    width = WIDTHS[name]
    for available in range(width):
        r = Reader(b"\xff" * available)
        with pytest.raises(DecodeError) as caught:
            getattr(r, name)()
        assert caught.value.alert == AlertDescription.decode_error
        assert r.remaining == available


@pytest.mark.parametrize("length_size", [1, 2, 3])
@settings(max_examples=100, deadline=None)
@given(payload=st.binary(max_size=300))
def test_opaque_round_trips_with_its_length_prefix(length_size: int, payload: bytes) -> None:
    if len(payload) >= 256 ** length_size:
        payload = payload[: 256 ** length_size - 1]
    w = Writer()
    w.opaque(length_size, payload)
    assert w.getvalue() == len(payload).to_bytes(length_size, "big") + payload
    with Reader(w.getvalue()) as r:
        assert r.opaque(length_size) == payload


def test_opaque_length_prefix_larger_than_the_data_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="truncated"):
        Reader(b"\x05abcd").opaque(1)
    with pytest.raises(DecodeError):
        Reader(b"\x00").opaque(2)  # the length itself is cut short


def test_opaque_below_its_minimum_is_a_decode_error() -> None:
    # e.g. opaque cookie<1..2^16-1>
    with pytest.raises(DecodeError, match="minimum"):
        Reader(b"\x00\x00").opaque(2, minimum=1)
    assert Reader(b"\x00\x01x").opaque(2, minimum=1) == b"x"


def test_opaque_above_its_maximum_is_a_decode_error() -> None:
    # e.g. opaque legacy_session_id<0..32>
    with pytest.raises(DecodeError, match="maximum"):
        Reader(b"\x21" + bytes(33)).opaque(1, maximum=32)
    assert Reader(b"\x20" + bytes(32)).opaque(1, maximum=32) == bytes(32)


def test_bounds_are_checked_at_the_length_even_when_the_data_is_missing() -> None:
    # The bound check comes before waiting for, or reading, the contents.
    with pytest.raises(DecodeError, match="maximum"):
        Reader(b"\xff").opaque(1, maximum=32)


@pytest.mark.parametrize("length_size", [1, 2])
def test_writer_refuses_an_opaque_longer_than_its_length_prefix(length_size: int) -> None:
    with pytest.raises(ValueError):
        Writer().opaque(length_size, bytes(256 ** length_size))


def test_writer_vector_back_fills_its_length() -> None:
    w = Writer()
    w.u8(7)
    with w.vector(2):
        w.u16(0x1301)
        w.u16(0x1302)
    w.u8(9)
    assert w.getvalue() == bytes.fromhex("07 0004 1301 1302 09")


def test_writer_vector_refuses_contents_longer_than_its_length_prefix() -> None:
    w = Writer()
    with pytest.raises(ValueError), w.vector(1):
        w.raw(bytes(256))


def test_nested_vectors_back_fill_inner_and_outer_lengths() -> None:
    w = Writer()
    with w.vector(3):
        with w.vector(1):
            w.raw(b"ab")
        w.raw(b"c")
    assert w.getvalue() == bytes.fromhex("000004 02 6162 63")


def test_reader_vector_with_bytes_left_over_is_a_decode_error() -> None:
    r = Reader(bytes.fromhex("0003 0001 ff"))
    with pytest.raises(DecodeError, match="trailing"), r.vector(2) as body:
        body.u16()


def test_reader_vector_cannot_read_past_its_own_end() -> None:
    # The bytes after the vector belong to the parent, not to the sub-reader.
    r = Reader(bytes.fromhex("0001 aa bbcc"))
    with pytest.raises(DecodeError, match="truncated"), r.vector(2) as body:
        body.u16()


def test_reader_vector_bounds_and_parent_position() -> None:
    r = Reader(bytes.fromhex("0002 1301 ee"))
    with r.vector(2, minimum=2) as body:
        assert body.u16() == 0x1301
    assert r.u8() == 0xEE
    r.expect_end()
    with pytest.raises(DecodeError, match="minimum"):
        Reader(b"\x00\x00").vector(2, minimum=2)
    with pytest.raises(DecodeError, match="maximum"):
        Reader(b"\x03abc").vector(1, maximum=2)


def test_reader_context_exit_refuses_trailing_bytes() -> None:
    with pytest.raises(DecodeError, match="trailing"), Reader(b"\x01\x02") as r:
        r.u8()


def test_reader_context_exit_does_not_mask_the_original_error() -> None:
    with pytest.raises(DecodeError, match="truncated"), Reader(b"\x01\x02\x03") as r:
        r.u32()


def test_reader_window_honours_pos_and_end() -> None:
    r = Reader(b"xxABCDyy", pos=2, end=6)
    assert r.remaining == 4
    assert r.position == 2
    assert r.rest() == b"ABCD"
    with pytest.raises(DecodeError):
        r.u8()


def test_raw_returns_exact_bytes_and_refuses_to_read_past_the_end() -> None:
    r = Reader(b"abc")
    assert r.raw(2) == b"ab"
    with pytest.raises(DecodeError):
        r.raw(2)
    assert r.raw(1) == b"c"
    r.expect_end()


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.integers(0, 0xFFFF), max_size=50))
def test_u16_list_round_trips(values: list[int]) -> None:
    w = Writer()
    w.u16_list(values)
    with Reader(w.getvalue()) as r:
        assert r.u16_list() == tuple(values)


def test_u16_list_of_odd_length_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="odd"):
        Reader(bytes.fromhex("0003 130113")).u16_list()


def test_u16_list_below_its_minimum_is_a_decode_error() -> None:
    # e.g. CipherSuite cipher_suites<2..2^16-2>
    with pytest.raises(DecodeError, match="minimum"):
        Reader(b"\x00\x00").u16_list(2, minimum=2)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=40), ops=st.lists(st.sampled_from(
    ["u8", "u16", "u24", "u32", "u64", "opaque1", "opaque2", "opaque3", "vector1", "vector2",
     "u16_list", "rest"]), max_size=12))
def test_reader_on_arbitrary_bytes_raises_only_decode_error(data: bytes, ops: list[str]) -> None:
    r = Reader(data)
    try:
        for op in ops:
            if op.startswith("opaque"):
                r.opaque(int(op[-1]))
            elif op.startswith("vector"):
                with r.vector(int(op[-1])) as body:
                    body.rest()
            else:
                getattr(r, op)()
        assert 0 <= r.remaining <= len(data)
    except DecodeError:
        pass


def _reference_vector(data: bytes, length_size: int, minimum: int, maximum: int | None
                      ) -> tuple[bytes, int] | str:
    """What a length-prefixed read must give: (contents, position after) or the
    reason it fails, checked in the RFC's order (the length's own bytes, its
    bounds, then the contents)."""
    if len(data) < length_size:
        return "truncated"
    n = int.from_bytes(data[:length_size], "big")
    if n < minimum:
        return "minimum"
    if maximum is not None and n > maximum:
        return "maximum"
    if length_size + n > len(data):
        return "truncated"
    return data[length_size:length_size + n], length_size + n


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=12), length_size=st.sampled_from([1, 2, 3]),
       minimum=st.integers(0, 4), maximum=st.none() | st.integers(0, 8))
def test_opaque_and_vector_agree_with_a_reference_model(
        data: bytes, length_size: int, minimum: int, maximum: int | None) -> None:
    # opaque and vector read their lengths each in place: both must match the model.
    expected = _reference_vector(data, length_size, minimum, maximum)
    for read in ("opaque", "vector"):
        r = Reader(data)
        if isinstance(expected, str):
            with pytest.raises(DecodeError, match=expected):
                getattr(r, read)(length_size, minimum, maximum)
            assert r.position == 0  # nothing consumed
            continue
        contents, after = expected
        result = getattr(r, read)(length_size, minimum, maximum)
        if read == "vector":
            assert (result.position, result.remaining) == (length_size, len(contents))
            result = result.rest()
        assert result == contents
        assert r.position == after


def test_writer_open_and_close_vector_back_fill_nested_lengths() -> None:
    w = Writer()
    w.u8(1)
    outer = w.open_vector(3)
    inner = w.open_vector(2)
    w.raw(b"ab")
    w.close_vector(inner, 2)
    w.u8(0x63)
    w.close_vector(outer, 3)
    assert w.getvalue() == bytes.fromhex("01 000005 0002 6162 63")
    # The same bytes as the ``with`` form.
    scoped = Writer()
    scoped.u8(1)
    with scoped.vector(3):
        with scoped.vector(2):
            scoped.raw(b"ab")
        scoped.u8(0x63)
    assert scoped.getvalue() == w.getvalue()


@pytest.mark.parametrize("length_size", [1, 2])
def test_writer_close_vector_refuses_contents_longer_than_its_length(length_size: int) -> None:
    w = Writer()
    at = w.open_vector(length_size)
    w.raw(bytes(256 ** length_size))
    with pytest.raises(ValueError, match="do not fit"):
        w.close_vector(at, length_size)


def test_writer_u16_list_refuses_a_list_longer_than_its_length_prefix() -> None:
    # 128 values are 256 bytes: one more than a one-byte length holds.
    with pytest.raises(ValueError, match="do not fit"):
        Writer().u16_list(list(range(128)), length_size=1)
    w = Writer()
    w.u16_list(list(range(127)), length_size=1)
    assert w.getvalue()[0] == 254


def _reference_entry(data: bytes) -> tuple[int, bytes, int] | str | None:
    """What ``Reader.entry`` must give, read as ``u16()`` then ``vector(2)``: (type,
    body, position after), None at the end, or the failure's message."""
    r = Reader(data)
    if not r.remaining:
        return None
    try:
        ext_type = r.u16()
        body = r.vector(2)
    except DecodeError as error:
        return str(error)
    return ext_type, body.rest(), r.position


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=10) | st.builds(
    lambda t, body, tail: t.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body + tail,
    st.integers(0, 0xFFFF), st.binary(max_size=6), st.binary(max_size=3)))
def test_entry_agrees_with_u16_then_vector(data: bytes) -> None:
    # entry() reads an extension's header in one call: it must fail where u16() and
    # vector(2) fail, with their messages, and consume nothing when it does.
    expected = _reference_entry(data)
    r = Reader(data)
    if isinstance(expected, str):
        with pytest.raises(DecodeError) as caught:
            r.entry()
        assert str(caught.value) == expected
        assert r.position == 0
        return
    entry = r.entry()
    if expected is None:
        assert entry is None
        return
    ext_type, body = entry
    assert (ext_type, body.rest(), r.position) == expected


def test_entry_is_bounded_by_its_reader_window() -> None:
    data = b"\x00\x01\x00\x02ab" + b"\x00\x02\x00\x01c"
    r = Reader(data, 0, 6)
    ext_type, body = r.entry()
    assert (ext_type, body.rest()) == (1, b"ab")
    assert r.entry() is None  # the window ends where the second entry starts
    with pytest.raises(DecodeError, match="truncated: vector of 2 bytes, 1 left"):
        Reader(data, 0, 5).entry()
