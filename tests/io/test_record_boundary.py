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


@settings(max_examples=300, deadline=None)
@given(length=st.integers(min_value=0, max_value=17_000),
       cuts=st.lists(st.integers(min_value=0, max_value=250_000), max_size=8),
       sizes=st.lists(st.integers(min_value=1, max_value=300_000), min_size=1, max_size=4))
def test_reads_are_cut_to_end_where_records_of_the_same_length_end(
        length: int, cuts: list[int], sizes: list[int]) -> None:
    record = 5 + length
    wire = (b"\x17\x03\x03" + length.to_bytes(2, "big") + bytes(length)) * 40
    bounds = sorted({0, *(c % (len(wire) // 2) for c in cuts)})
    boundary = _RecordBoundary()
    for start, end in itertools.pairwise(bounds):
        boundary.feed(wire[start:end])
    consumed = bounds[-1]
    for size in sizes:
        whole = boundary.whole_records(size)
        assert 0 < whole <= size
        if consumed < record or not length:
            assert whole == size or consumed < record
            continue  # no record's header read yet, or empty records: no length to go by
        ends_a_record = (consumed + whole) % record == 0
        if consumed % record and consumed % record < 5:
            assert whole == size  # a header read in part: no length to go by
        elif size < (-consumed % record or record):
            assert whole == size  # not even the current (or next) record ends within size
        else:
            # The last record end within size: never more than a record short of it.
            assert ends_a_record and size - whole < record


def test_a_read_is_not_cut_below_one_record_nor_past_the_current_one() -> None:
    boundary = _RecordBoundary()
    boundary.feed(b"\x17\x03\x03\x00\x0a" + bytes(10))  # a whole record of 15 bytes
    assert boundary.whole_records(4) == 4  # less than a record: as asked
    assert boundary.whole_records(15) == 15
    assert boundary.whole_records(44) == 30
    boundary.feed(b"\x17\x03\x03\x00\x0a" + bytes(4))  # 6 bytes of the next one to come
    assert boundary.whole_records(5) == 5
    assert boundary.whole_records(6) == 6  # finishes it
    assert boundary.whole_records(20) == 6
    assert boundary.whole_records(21) == 21
    assert boundary.whole_records(40) == 36


@settings(max_examples=300, deadline=None)
@given(lengths=st.lists(st.integers(min_value=0, max_value=20_000), min_size=1, max_size=8),
       size=st.integers(min_value=1, max_value=300_000))
def test_reads_of_one_record_each_leave_the_state_that_one_read_of_all_does(
        lengths: list[int], size: int) -> None:
    # One record per read takes feed's shortcut (its header gives its end); one read
    # of them all walks from header to header: the same state after either.
    records = [b"\x16\x03\x03" + n.to_bytes(2, "big") + bytes(n) for n in lengths]
    one_by_one, all_at_once = _RecordBoundary(), _RecordBoundary()
    for record in records:
        one_by_one.feed(record)
    all_at_once.feed(b"".join(records))
    assert (one_by_one.carried, one_by_one.to_complete) == (0, 5)
    assert one_by_one.whole_records(size) == all_at_once.whole_records(size)
    looked_at = _RecordBoundary()
    looked_at.ended(lengths[-1])  # the records after a look at their headers (MSG_PEEK)
    assert looked_at.whole_records(size) == all_at_once.whole_records(size)


@settings(max_examples=500, deadline=None)
@given(lengths=st.lists(st.integers(min_value=0, max_value=20_000), min_size=1, max_size=6),
       cut=st.integers(min_value=0, max_value=130_000),
       wanted=st.integers(min_value=0, max_value=300_000),
       limit=st.sampled_from([1, 5, 100, 2**17 - 512, 256 * 1024]))
def test_read_size_is_the_current_records_end_or_whole_records_up_to_the_limit(
        lengths: list[int], cut: int, wanted: int, limit: int) -> None:
    wire = b"".join(b"\x17\x03\x03" + n.to_bytes(2, "big") + bytes(n) for n in lengths)
    boundary = _RecordBoundary()
    boundary.feed(wire[:cut % (len(wire) + 1)])
    wanted += boundary.carried  # (a read asks for at least what it has begun)
    expected = max(boundary.to_complete,
                   boundary.whole_records(min(limit, wanted - boundary.carried)))
    assert boundary.read_size(wanted, limit) == expected
