"""``is_host_name`` (RFC 6066 §3 host names, as messages/extensions.py accepts them):
the one regular expression must accept exactly what the earlier set-and-split
definition, kept here as the reference, accepts."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from glasstls.messages.extensions import is_host_name

_ALLOWED = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def _reference(name: bytes) -> bool:
    labels = (name[:-1] if name.endswith(b".") else name).split(b".")
    return (_ALLOWED.issuperset(name) and len(name) <= 254 and b"" not in labels
            and max(map(len, labels)) <= 63)


# Names made of host name bytes and a few others, dots frequent, of any length
# around the limits (labels of 63/64 bytes, names of 253-255).
_bytes = st.sampled_from(b"a-_.Z9.\n\x00 \xc3")
_names = st.lists(_bytes, max_size=70).map(bytes) | st.builds(
    lambda labels, dot: b".".join(labels) + dot,
    st.lists(st.sampled_from([b"a" * n for n in (0, 1, 62, 63, 64)] + [b"x_y", b"-"]),
             min_size=1, max_size=6),
    st.sampled_from([b"", b".", b".."]))


@given(_names)
def test_host_names_are_the_reference_s(name: bytes) -> None:
    assert is_host_name(name) == _reference(name)


@pytest.mark.parametrize("name, ok", [
    (b"localhost", True), (b"example.com.", True), (b"my_host.example", True),
    (b"a" * 63 + b".b", True), (b"a" * 64 + b".b", False),
    (b".".join([b"a" * 63] * 4)[:253], True), (b"a." * 127, True), (b"a." * 127 + b"a", False),
    (b"", False), (b".", False), (b"a..b", False), (b"a..", False), (b".a", False),
    (b"local host", False), (b"localhost\n", False), (b"caf\xc3\xa9", False),
    (b"a\x00b", False),
])
def test_host_name_examples(name: bytes, ok: bool) -> None:
    assert is_host_name(name) is ok
    assert _reference(name) is ok
