"""glasstls.aio's reads of an established connection: records decrypted into one
buffer per thread and copied out of it once. What an application protocol is given
must stay its own (never a view of that buffer), the stream protocol of
open_connection/start_server gets the data in order even when a read mixes records
that go elsewhere, and reads of many connections do not mix."""

from __future__ import annotations

import asyncio
from typing import Any

from io_helpers import client_config, server_config

from glasstls import ServerConnection
from glasstls.constants import TLS12, TLS13
from glasstls.io import aio


class _Wire(asyncio.Transport):
    """A socket transport in memory: what the protocol writes is kept."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False
        self.reading = True
        self.pauses = 0  # the protocol's pause_reading() calls

    def write(self, data: Any) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def resume_reading(self) -> None:
        self.reading = True

    def pause_reading(self) -> None:
        self.reading = False
        self.pauses += 1

    def is_reading(self) -> bool:
        return self.reading

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def take(self) -> bytes:
        data, self.written = bytes(self.written), bytearray()
        return data


def _read(protocol: aio._TLSProtocol, data: bytes) -> None:
    """The socket transport's read: into the protocol's buffer, in one go."""
    buffer = protocol.get_buffer(len(data))
    assert len(data) <= len(buffer)
    buffer[:len(data)] = data
    protocol.buffer_updated(len(data))


async def _connected(app: asyncio.BaseProtocol, version: int = TLS13
                     ) -> tuple[aio._TLSProtocol, _Wire, ServerConnection]:
    """A client protocol over a wire, handshaken with a glasstls server engine."""
    loop = asyncio.get_running_loop()
    config = client_config(version)

    def make_channel() -> aio.TLSChannel:
        return aio.TLSChannel.client(config, "localhost")

    protocol = aio._TLSProtocol(loop, make_channel, app, None, 60.0, 30.0)
    wire = _Wire()
    server = ServerConnection(server_config(version))
    protocol.connection_made(wire)
    while not server.handshake_complete:
        await asyncio.sleep(0)  # the client's last flight is written a loop turn later
        if wire.written:
            server.receive_data(wire.take())
        answer = server.data_to_send()
        if answer:
            _read(protocol, answer)
    assert protocol.state == "open"
    return protocol, wire, server


class _Keeper(asyncio.Protocol):
    """A plain protocol that keeps what it is given, as is."""

    def __init__(self) -> None:
        self.given: list[Any] = []

    def data_received(self, data: bytes) -> None:
        self.given.append(data)


def test_a_plain_protocol_keeps_bytes_of_its_own_across_reads() -> None:
    """Each read's plaintext passes through the shared buffer: a protocol that keeps
    what it was given must still hold the right bytes after later reads."""
    async def main() -> tuple[list[Any], list[bytes]]:
        keeper = _Keeper()
        protocol, _, server = await _connected(keeper)
        sent = []
        for number in range(6):
            chunk = bytes([number]) * 40000  # three records a read
            sent.append(chunk)
            server.send(chunk)
            _read(protocol, server.data_to_send())
        return keeper.given, sent

    given, sent = asyncio.run(main())
    assert all(type(data) is bytes for data in given)
    assert given == sent


def test_stream_reads_keep_order_around_a_record_that_goes_elsewhere() -> None:
    """Data, a KeyUpdate and more data in one read: the first data is decrypted into
    the buffer, what follows the KeyUpdate into the channel; the reader gets both,
    in order, and the KeyUpdate's answer is written."""
    async def main() -> tuple[bytes, bool]:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(loop=loop)
        stream = aio._StreamProtocol(reader, loop=loop)
        protocol, wire, server = await _connected(stream)
        wire.take()
        server.send(b"before " * 3000)
        server.key_update(request_peer_update=True)
        server.send(b"after " * 3000)
        _read(protocol, server.data_to_send())
        answered = bool(wire.take())
        data = await reader.readexactly(len(b"before " * 3000) + len(b"after " * 3000))
        return data, answered

    data, answered = asyncio.run(main())
    assert data == b"before " * 3000 + b"after " * 3000
    assert answered


def test_stream_reads_of_two_connections_do_not_mix() -> None:
    """Two connections read in turns through the same per-thread buffers; TLS 1.2 on
    one (its records are not decrypted in place), TLS 1.3 on the other."""
    async def main() -> tuple[bytes, bytes]:
        loop = asyncio.get_running_loop()
        readers = [asyncio.StreamReader(loop=loop, limit=2**22) for _ in range(2)]
        connections = [await _connected(aio._StreamProtocol(reader, loop=loop), version)
                       for reader, version in zip(readers, (TLS13, TLS12), strict=True)]
        for number in range(4):
            for side, (protocol, _, server) in enumerate(connections):
                server.send(bytes([number + 16 * side]) * 50000)
                _read(protocol, server.data_to_send())
        return (await readers[0].readexactly(200000), await readers[1].readexactly(200000))

    first, second = asyncio.run(main())
    assert first == b"".join(bytes([n]) * 50000 for n in range(4))
    assert second == b"".join(bytes([n + 16]) * 50000 for n in range(4))


class _CountingReader(asyncio.StreamReader):
    """A StreamReader that counts what it is fed."""

    feeds = 0

    def feed_data(self, data: bytes) -> None:
        self.feeds += 1
        super().feed_data(data)


def test_a_full_read_completing_an_earlier_record_is_handed_on_at_once() -> None:
    """A full read (the socket transport's 256 KiB) that begins with the end of a
    record from the read before completes more than 256 KiB of records: their
    plaintext all goes through the buffer, one feed for the reader per read."""
    async def main() -> tuple[bytes, bytes, list[int]]:
        loop = asyncio.get_running_loop()
        reader = _CountingReader(loop=loop, limit=2**24)
        protocol, _, server = await _connected(aio._StreamProtocol(reader, loop=loop))
        data = bytes(range(256)) * (6 * 2**12)  # 6 MiB: 384 records
        server.send(data)
        wire = server.data_to_send()
        feeds = []
        size = aio._READ_SIZE
        for start in range(0, len(wire), size):
            before = reader.feeds
            _read(protocol, wire[start:start + size])
            feeds.append(reader.feeds - before)
        return await reader.readexactly(len(data)), data, feeds

    received, data, feeds = asyncio.run(main())
    assert received == data
    assert set(feeds) == {1}


def test_a_paused_reader_is_given_nothing_and_the_socket_is_paused_only_if_data_comes(
        ) -> None:
    """pause_reading() only marks the application paused: the socket transport goes on
    reading until a read comes, which is then kept (not given to the application)
    and the socket paused; resume_reading() gives it, a loop turn later, then
    resumes the socket."""
    async def main() -> None:
        keeper = _Keeper()
        protocol, wire, server = await _connected(keeper)
        transport = protocol.app_transport
        assert transport is not None
        transport.pause_reading()
        transport.resume_reading()  # as a StreamReader does at each read
        assert wire.pauses == 0 and transport.is_reading()
        transport.pause_reading()
        assert not transport.is_reading()
        assert len(protocol.get_buffer(-1)) == aio._HELD_READ  # a held read is short
        server.send(b"first")
        _read(protocol, server.data_to_send())
        assert keeper.given == [] and not wire.reading and wire.pauses == 1
        transport.resume_reading()
        assert keeper.given == [] and not wire.reading
        await asyncio.sleep(0)
        assert keeper.given == [b"first"] and wire.reading and transport.is_reading()
        assert len(protocol.get_buffer(-1)) == aio._READ_SIZE
        server.send(b"second")
        _read(protocol, server.data_to_send())
        assert keeper.given == [b"first", b"second"] and wire.pauses == 1

    asyncio.run(main())


def test_what_was_held_pausing_the_reader_again_keeps_the_socket_paused() -> None:
    """A StreamReader fed what was held past twice its limit pauses again at once: the
    socket stays paused until it reads, and no byte is lost or reordered."""
    async def main() -> tuple[bytes, bytes]:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(loop=loop, limit=1000)
        protocol, wire, server = await _connected(aio._StreamProtocol(reader, loop=loop))
        data = bytes(range(256)) * 100
        server.send(data[:5000])
        _read(protocol, server.data_to_send())  # past twice the limit: paused
        server.send(data[5000:12000])
        _read(protocol, server.data_to_send())  # held
        assert not wire.reading
        received = await reader.read(5000)  # resumes: what was held pauses it again
        await asyncio.sleep(0)
        assert not wire.reading
        received += await reader.read(7000)
        await asyncio.sleep(0)
        assert wire.reading
        server.send(data[12000:])
        _read(protocol, server.data_to_send())
        received += await reader.readexactly(len(data) - 12000)
        return received, data

    received, data = asyncio.run(main())
    assert received == data


def test_a_close_notify_held_while_paused_ends_the_stream_after_the_data() -> None:
    async def main() -> tuple[bytes, bytes]:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(loop=loop, limit=100)
        protocol, _, server = await _connected(aio._StreamProtocol(reader, loop=loop))
        server.send(b"a" * 300)
        _read(protocol, server.data_to_send())  # past twice the limit: paused
        server.send(b"b" * 300)
        server.close()
        _read(protocol, server.data_to_send())  # held, close_notify with it
        return await reader.read(), b"a" * 300 + b"b" * 300

    received, data = asyncio.run(main())
    assert received == data
