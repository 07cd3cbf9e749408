"""The TLS 1.3 server's suite and group choice (handshake/server13.py ``_in_common``,
kept per pair of lists) is the preferred side's first value that both lists hold."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from glasstls.handshake import server13

_VALUES = st.lists(st.sampled_from([0x1301, 0x1302, 0x1303, 0x001D, 0x0017, 0x11EC, 7]),
                   max_size=6)


@settings(max_examples=300, deadline=None)
@given(ours=_VALUES, theirs=_VALUES, server_preference=st.booleans())
def test_the_values_in_common_are_in_the_preferred_side_s_order(
        ours: list[int], theirs: list[int], server_preference: bool) -> None:
    common = server13._in_common(tuple(ours), tuple(theirs), server_preference)
    first, second = (ours, theirs) if server_preference else (theirs, ours)
    assert common == tuple(value for value in first if value in second)
    # Asked again (from the cache), the same answer.
    assert server13._in_common(tuple(ours), tuple(theirs), server_preference) == common


def test_a_long_offered_list_is_answered_but_not_kept() -> None:
    # A hostile client's list of thousands of values must not sit in the cache.
    theirs = (*range(0x2000, 0x2000 + 5000), 0x1302)
    kept_before = server13._kept_common_values.cache_info().currsize
    assert server13._in_common((0x1301, 0x1302), theirs, False) == (0x1302,)
    assert server13._in_common((0x1301, 0x1302), theirs, True) == (0x1302,)
    assert server13._kept_common_values.cache_info().currsize == kept_before
