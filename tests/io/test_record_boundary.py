"""``TLSSocket`` reads no further than the record a read needs (as OpenSSL does not
read ahead): ``_RecordBoundary`` follows where records end through the bytes read,
jumping from header to header, whatever the reads cut."""

from __future__ import annotations

import itertools

from hypothesis import given, settings, strategies as st

from glasstls.io.sockets import _RecordBoundary


def reference(wire: bytes, consumed: int) -> tuple[int, int]:
    """(bytes of the current record already read, bytes that finish it or its
    header), by walking the records from the start."""
    position = 0
    while True:
        if consumed - position < 5:
            carried = consumed - position
            return carried, 5 - carried
        end = position + 5 + int.from_bytes(wire[position + 3:position + 5], "big")
        if consumed < end:
            return consumed - position, end - consumed
        position = end


@settings(max_examples=300, deadline=None)
@given(lengths=st.lists(st.integers(min_value=0, max_value=20_000), min_size=1, max_size=10),
       cuts=st.lists(st.integers(min_value=0, max_value=250_000), max_size=12))
def test_the_boundary_is_found_whatever_the_reads_cut(lengths: list[int], cuts: list[int]
                                                      ) -> None:
    wire = b"".join(b"\x17\x03\x03" + n.to_bytes(2, "big") + bytes(n) for n in lengths)
    bounds = sorted({0, len(wire), *(c % (len(wire) + 1) for c in cuts)})
    boundary = _RecordBoundary()
    for start, end in itertools.pairwise(bounds):
        boundary.feed(wire[start:end])
        carried, to_complete = reference(wire, end)
        assert (boundary.carried, boundary.to_complete) == (carried, to_complete)
