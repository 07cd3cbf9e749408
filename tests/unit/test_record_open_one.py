"""``Tls13Protection.open_run`` when what is left of the buffer is one whole record
that is not full-size (a request, a reply, the client's first data after its
Finished, a close_notify): opened without the loop, it must give what
``feed`` + ``next_record`` give for that record, with the same errors and the same
sequence number, through ``receive_records`` and ``next_records`` alike, whether
the record comes alone or after others, whole or in reads split anywhere."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from glasstls.crypto.suites import TLS13_SUITES
from glasstls.errors import TLSError
from glasstls.record import RecordLayer, Tls13Protection
from helpers.pump import cut_into_reads

from .test_record import AES128, keys, tls13_pair
from .test_record_runs import sealed_stream

# Records a peer may send alone: alerts (close_notify, a fatal one, two in one, a
# short one), handshake bytes, application data of any length (up to one byte short
# of full-size, and full-size), padded or not, empty.
_ONE = st.tuples(
    st.sampled_from([21, 22, 23]),
    st.one_of(st.just(b"\x01\x00"), st.just(b"\x02\x28"), st.just(b"\x01\x00\x01\x00"),
              st.just(b"\x01"), st.binary(max_size=60), st.just(b"\x5a" * 16383),
              st.just(b"\x5a" * 16384)),
    st.integers(0, 20),
)
_DAMAGE = st.one_of(
    st.none(),
    st.tuples(st.integers(0, 200), st.integers(1, 255)),  # one byte changed
    st.integers(1, 30),  # cut short (and the length in its header with it)
)


def _damaged(wire: bytes, damage: object) -> bytes:
    if isinstance(damage, tuple):
        offset, flip = damage
        data = bytearray(wire)
        data[offset % len(data)] ^= flip
        return bytes(data)
    if isinstance(damage, int):
        data = bytearray(wire[: max(len(wire) - damage, 5)])
        data[3:5] = (len(data) - 5).to_bytes(2, "big")
        return bytes(data)
    return wire


def _outcome(receiver: RecordLayer, read: object) -> tuple[str, object, int]:
    try:
        return "records", read(), receiver.read_protection.sequence  # type: ignore[operator]
    except TLSError as error:
        return "alert", error.alert, receiver.read_protection.sequence


def _one_by_one(prefix: bytes, data: bytes, suite: object) -> tuple[str, object, int]:
    _, reference = tls13_pair(suite)  # type: ignore[arg-type]
    reference.feed(prefix + data)

    def read() -> list[tuple[int, bytes]]:
        got = []
        while (record := reference.next_record()) is not None:
            got.append(record)
        return got

    return _outcome(reference, read)


def _runs(receiver: RecordLayer, first: tuple[int, bytes] | None,
          plaintexts: list[bytes | memoryview]) -> list[tuple[int, bytes]]:
    """The records a bulk read gave, then the rest read as a connection reads it
    (an empty application data record is never among the plaintexts: it is returned
    as a record, for the connection to count)."""
    assert all(len(p) for p in plaintexts)
    got: list[tuple[int, bytes]] = [(23, bytes(p)) for p in plaintexts]
    record = first
    while record is not None:
        got.append(record)
        plaintexts = []
        record = receiver.next_records(plaintexts)
        got += [(23, bytes(p)) for p in plaintexts]
    return got


@pytest.mark.parametrize("suite", TLS13_SUITES, ids=lambda s: s.name)
@settings(max_examples=150, deadline=None)
@given(before=st.lists(st.binary(max_size=30), max_size=3), one=_ONE, damage=_DAMAGE,
       cut=st.integers(0, 20_000), views=st.booleans())
def test_one_record_is_read_as_next_record_reads_it(
        suite: object, before: list[bytes], one: tuple[int, bytes, int], damage: object,
        cut: int, views: bool) -> None:
    """The record alone in a read (receive_records), after application data records
    read before it (next_records, views or not), or split in two reads at any offset:
    the same records, alert and sequence number as next_record one at a time."""
    records = [(23, data, 0) for data in before]
    prefix = sealed_stream(records, suite)
    data = _damaged(sealed_stream([one], suite), damage)
    expected = _one_by_one(prefix, data, suite)

    # Alone in its read, after the records before it were read (receive_records).
    _, receiver = tls13_pair(suite)  # type: ignore[arg-type]
    outcome = _outcome(receiver, lambda: (
        _runs(receiver, receiver.receive_records(prefix, plain := []), plain)  # type: ignore[var-annotated]
        + _runs(receiver, receiver.receive_records(data, plain2 := []), plain2)))  # type: ignore[var-annotated]
    assert outcome == expected

    # In the same read as those records, as the rest of the buffer (next_records).
    _, receiver = tls13_pair(suite)  # type: ignore[arg-type]

    def in_runs() -> list[tuple[int, bytes]]:
        receiver.feed(prefix + data)
        got: list[tuple[int, bytes]] = []
        while True:
            plaintexts: list[bytes | memoryview] = []
            record = receiver.next_records(plaintexts, views=views)
            assert all(type(p) is (memoryview if views else bytes) and len(p)
                       for p in plaintexts)
            got += [(23, bytes(p)) for p in plaintexts]
            if record is None:
                return got
            got.append(record)

    assert _outcome(receiver, in_runs) == expected

    # Split in two reads at any offset (the second may then hold the record whole).
    wire = prefix + data
    split = cut % (len(wire) + 1)
    _, receiver = tls13_pair(suite)  # type: ignore[arg-type]

    def split_reads() -> list[tuple[int, bytes]]:
        got: list[tuple[int, bytes]] = []
        for chunk in (wire[:split], wire[split:]):
            if chunk:
                plaintexts: list[bytes | memoryview] = []
                got += _runs(receiver, receiver.receive_records(chunk, plaintexts),
                             plaintexts)  # type: ignore[arg-type]
        return got

    assert _outcome(receiver, split_reads) == expected


@settings(max_examples=60, deadline=None)
@given(data=st.binary(min_size=1, max_size=200), views=st.booleans())
def test_the_plaintext_outlives_the_read(data: bytes, views: bool) -> None:
    """A record read alone from a buffer the caller fills again afterwards (a
    transport's read buffer, fed as a view): the plaintext given stays as it was."""
    sender, receiver = tls13_pair(AES128)
    buffer = bytearray(sender.seal(23, data))
    receiver.feed(memoryview(buffer))
    plaintexts: list[bytes | memoryview] = []
    assert receiver.next_records(plaintexts, views=views) is None
    buffer[:] = bytes(len(buffer))
    assert [bytes(p) for p in plaintexts] == [data]
    assert receiver.buffered == 0


class _General(Tls13Protection):
    """Tls13Protection, but not of that type: ``next_record`` takes its records
    through its general checks (the reference for its TLS 1.3 fast path)."""

    __slots__ = ()


@pytest.mark.pure_python_reference("subclasses a compiled class")
@settings(max_examples=150, deadline=None)
@given(records=st.lists(_ONE, min_size=1, max_size=4), damage=_DAMAGE,
       cuts=st.lists(st.integers(min_value=1, max_value=40_000), max_size=4),
       limit=st.sampled_from([16385, 64, 20]), header=st.one_of(
           st.none(), st.tuples(st.integers(0, 4), st.integers(1, 255))))
def test_next_record_under_tls13_keys_as_its_general_checks(
        records: list[tuple[int, bytes, int]], damage: object, cuts: list[int], limit: int,
        header: tuple[int, int] | None) -> None:
    """next_record under TLS 1.3 keys, records of any type, padded, empty, over our
    read limit (RFC 8449), damaged (a byte of the last record or of the first header
    changed), in reads split anywhere: the same records, alert and sequence number as
    through its general checks."""
    wire = sealed_stream(records[:-1]) + _damaged(sealed_stream(records[-1:]), damage)
    if header is not None:
        data = bytearray(wire)
        data[header[0]] ^= header[1]
        wire = bytes(data)

    def read(protection: type[Tls13Protection]) -> tuple[str, object, int]:
        receiver = RecordLayer()
        receiver.read_protection = protection(AES128, *keys(AES128))  # type: ignore[arg-type]
        receiver.read_limit = limit

        def records_read() -> list[tuple[int, bytes]]:
            got = []
            for chunk in cut_into_reads(wire, cuts):
                receiver.feed(chunk)
                while (record := receiver.next_record()) is not None:
                    got.append(record)
            return got

        return _outcome(receiver, records_read)

    assert read(Tls13Protection) == read(_General)
