"""Each parser on its own, fed arbitrary and mutated bytes: it returns a message or
raises a TLSError (decode_error, or the RFC's alert for a semantic rule), nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from glasstls.codec import Reader
from glasstls.errors import TLSError
from glasstls.messages import extensions as ext, handshake as hs
from glasstls.record import RecordLayer
from helpers.strategies import MESSAGES, PARSERS, WHERES, extensions

from .targets import parse_extension_block, parse_message
from .test_fuzz_engine import EXAMPLES, mutated

# Many small targets: two thirds of the engine targets' examples each.
PARSER_FUZZ = settings(max_examples=max(EXAMPLES * 2 // 3, 50), deadline=None,
                       suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(PARSERS))
@PARSER_FUZZ
@given(body=st.binary(max_size=400))
def test_message_parser_on_arbitrary_bytes_raises_only_tls_errors(name: str, body: bytes) -> None:
    parse_message(name, body)


@pytest.mark.parametrize("name", sorted(MESSAGES))
@PARSER_FUZZ
@given(data=st.data())
def test_message_parser_on_a_mutated_valid_message_raises_only_tls_errors(
        name: str, data: Any) -> None:
    raw = hs.serialize(data.draw(MESSAGES[name]))
    parse_message(name, data.draw(mutated(raw[4:])))


@pytest.mark.parametrize("where", WHERES)
@PARSER_FUZZ
@given(data=st.binary(max_size=400))
def test_extension_block_parser_on_arbitrary_bytes_raises_only_tls_errors(
        where: str, data: bytes) -> None:
    parse_extension_block(where, data)


@pytest.mark.parametrize("where", WHERES)
@PARSER_FUZZ
@given(data=st.data())
def test_extension_block_parser_on_a_mutated_valid_block_raises_only_tls_errors(
        where: str, data: Any) -> None:
    from glasstls.codec import Writer

    w = Writer()
    ext.write_extensions(w, data.draw(extensions(where)))
    parse_extension_block(where, data.draw(mutated(w.getvalue())))


@pytest.mark.parametrize("where", WHERES)
@PARSER_FUZZ
@given(ext_type=st.sampled_from([*sorted(ext.ALLOWED), 0xABCD]), body=st.binary(max_size=60))
def test_each_extension_body_parser_raises_only_tls_errors(
        where: str, ext_type: int, body: bytes) -> None:
    # One extension of a known type with an arbitrary body: every typed parser is hit.
    block = (4 + len(body)).to_bytes(2, "big") + ext_type.to_bytes(2, "big") + (
        len(body).to_bytes(2, "big") + body)
    try:
        with Reader(block) as r:
            parsed = ext.parse_extensions(r, where)
        ext.check_allowed(parsed, where)
    except TLSError:
        pass


@PARSER_FUZZ
@given(data=st.binary(max_size=200), chunks=st.lists(st.integers(1, 50), max_size=5))
def test_record_layer_on_arbitrary_bytes_raises_only_tls_errors(data: bytes,
                                                               chunks: list[int]) -> None:
    layer = RecordLayer()
    try:
        position = 0
        for size in [*chunks, len(data)]:
            layer.feed(data[position:position + size])
            position += size
            while layer.next_record() is not None:
                pass
    except TLSError:
        pass
