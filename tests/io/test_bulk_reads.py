"""How much a blocking ``TLSSocket`` asks the kernel for while bulk data comes: reads
that end where records end, so that no record is cut between two reads (the engine
would copy it twice more to join it), whatever the kernel hands back."""

from __future__ import annotations

import socket
import threading

import pytest

from glasstls.io import sockets
from glasstls.io.sockets import TLSSocket

RECORD = 5 + 16384 + 1 + 16  # a full TLS 1.3 record: header, content, type, tag


def _reader(sock: socket.socket) -> TLSSocket:
    """A TLSSocket on ``sock`` whose reads are those of an established connection
    (only the raw reads are exercised here: no TLS runs)."""
    tls = TLSSocket.__new__(TLSSocket)
    socket.socket.__init__(tls, sock.family, sock.type, sock.proto, sock.detach())
    tls._init_state(lambda: None, False, None, False, False, None)  # type: ignore[arg-type, return-value]
    return tls


@pytest.mark.parametrize("record", [RECORD, 1000])
def test_bulk_reads_ask_for_whole_records_whatever_the_kernel_returns(
        monkeypatch: pytest.MonkeyPatch, record: int) -> None:
    # Enough for several reads even when the writer is ahead of the reader: one read
    # takes up to _RECV_SIZE, and with all the stream in the kernel at once a single
    # read would leave no read after a record's end to check.
    count = max(60, 3 * sockets._RECV_SIZE // record + 1)
    wire = (b"\x17\x03\x03" + (record - 5).to_bytes(2, "big") + bytes(record - 5)) * count
    reads: list[tuple[int, int, int]] = []  # (stream offset, asked, returned)
    offset = 0
    plain_recv = socket.socket.recv

    def recv(self: socket.socket, size: int, flags: int = 0) -> bytes:
        nonlocal offset
        data = plain_recv(self, size, flags)
        if not flags:
            reads.append((offset, size, len(data)))
            offset += len(data)
        return data

    monkeypatch.setattr(socket.socket, "recv", recv)
    ours, theirs = socket.socketpair()
    reader = _reader(ours)
    # Written in pieces of odd sizes, so that the kernel hands back all sorts of cuts.
    writer = threading.Thread(target=lambda: [theirs.sendall(wire[at:at + 7777])
                                              for at in range(0, len(wire), 7777)])
    writer.start()
    try:
        while offset < len(wire):
            reader._raw_recv(None, 1 << 20)
    finally:
        writer.join()
        reader.close()
        theirs.close()
    assert offset == len(wire)
    checked = 0
    for (start, asked, _), (_, asked_before, got_before) in zip(reads[1:], reads, strict=False):
        # After a read that found less than it asked for, at most the short size.
        limit = sockets._SHORT_RECV_SIZE if got_before < asked_before else sockets._RECV_SIZE
        assert asked <= limit
        if start < record or 0 < start % record < 5:
            continue  # no record seen yet, or a header read in part: no length to go by
        assert (start + asked) % record == 0, (start, asked)
        assert asked > limit - record
        checked += 1
    assert checked  # (at least the read after the first one)


def test_after_a_read_that_emptied_the_kernel_the_next_asks_for_less(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Its bytes object is allocated at the size asked for and then shrunk: asking
    for more than glibc's mmap threshold when less comes maps and unmaps memory
    (with page faults) per read. A read that got all it asked for asks for more."""
    record = 5 + 16401
    wire = (b"\x17\x03\x03" + (record - 5).to_bytes(2, "big") + bytes(record - 5)) * 40
    asked: list[int] = []
    plain_recv = socket.socket.recv

    def recv(self: socket.socket, size: int, flags: int = 0) -> bytes:
        if not flags:  # (not close()'s look at what is left unread)
            asked.append(size)
        return plain_recv(self, size, flags)

    ours, theirs = socket.socketpair()
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    reader = _reader(ours)
    monkeypatch.setattr(socket.socket, "recv", recv)
    try:
        theirs.sendall(wire[:record])
        reader._raw_recv(None, 1 << 20)  # one record where 256 KiB were asked for: short
        theirs.sendall(wire[record:record * 30])
        reader._raw_recv(None, 1 << 20)  # so at most the short size, though more is there
        reader._raw_recv(None, 1 << 20)  # that one was filled: the full size again
    finally:
        reader.close()
        theirs.close()
    short = sockets._SHORT_RECV_SIZE // record * record
    assert asked == [sockets._RECV_SIZE, short, sockets._RECV_SIZE // record * record]


def test_reads_below_one_record_are_as_asked_and_reads_start_by_finishing_a_record(
        monkeypatch: pytest.MonkeyPatch) -> None:
    record = b"\x17\x03\x03\x00\x10" + bytes(16)  # 21 bytes
    asked: list[int] = []
    plain_recv = socket.socket.recv

    def recv(self: socket.socket, size: int, flags: int = 0) -> bytes:
        asked.append(size)
        return plain_recv(self, size, flags)

    ours, theirs = socket.socketpair()
    reader = _reader(ours)
    try:
        theirs.sendall(record * 5)
        assert len(reader._raw_recv(None, 21)) == 21  # one record
        monkeypatch.setattr(socket.socket, "recv", recv)
        assert len(reader._raw_recv(None, 10)) == 10  # less than a record: as asked
        # The 11 bytes that finish the second record, then as many whole ones as fit.
        assert len(reader._raw_recv(None, 100)) == 11 + 3 * 21
    finally:
        reader.close()
        theirs.close()
    assert asked == [10, 11 + 3 * 21]
