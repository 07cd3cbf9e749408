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


_GROUPS = [0x001D, 0x0017, 0x0018, 0x11EC, 0x0100]


@settings(max_examples=300, deadline=None)
@given(ours=st.lists(st.sampled_from(_GROUPS), min_size=1, max_size=5, unique=True),
       theirs=st.lists(st.sampled_from(_GROUPS), min_size=1, max_size=5, unique=True),
       shared=st.data(), server_preference=st.booleans())
def test_the_group_chosen_is_the_first_in_common_with_a_share_else_one_to_ask_for(
        ours: list[int], theirs: list[int], shared: st.DataObject,
        server_preference: bool) -> None:
    # _choose_group searches the client's shares (one per group, in any order) for
    # each group in common in the preferred side's order; without one, the first
    # group in common is asked for (HelloRetryRequest).
    shares = tuple(server13.KeyShareEntry(group, bytes([group & 0xFF]))
                   for group in shared.draw(st.permutations(theirs)) if shared.draw(st.booleans()))
    config = server13.ServerConfig.__new__(server13.ServerConfig)
    object.__setattr__(config, "groups", tuple(ours))
    object.__setattr__(config, "server_preference", server_preference)
    mutual = server13._in_common(tuple(ours), tuple(theirs), server_preference)
    if not mutual:
        return
    group, entry = server13._choose_group(config, tuple(theirs), shares)
    with_share = [g for g in mutual if any(s.group == g for s in shares)]
    if with_share:
        assert group == with_share[0]
        assert entry is not None and entry.group == group
        assert entry is next(s for s in shares if s.group == group)
    else:
        assert (group, entry) == (mutual[0], None)
