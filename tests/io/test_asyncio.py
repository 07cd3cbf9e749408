"""asyncio: glasstls.SSLContext given to asyncio's own SSL support, and the
glasstls.aio streams, against peers on Python's ssl and against each other."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import socket
import ssl
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import pytest
from io_helpers import (
    VERSION_NAMES,
    VERSIONS,
    client_config,
    glass_context,
    python_client_context,
    python_server_context,
    python_tls_listener,
    server_config,
)

import glasstls
from glasstls.constants import TLS13
from glasstls.io.sslobject import TLSObject
from pki import pki

T = TypeVar("T")


def run(coroutine: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coroutine, 60)
    return asyncio.run(bounded())


async def upper_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data.upper())
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def port_of(server: asyncio.Server) -> int:
    port: int = server.sockets[0].getsockname()[1]
    return port


# -- asyncio's own SSL support, driving glasstls objects -------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_asyncio_open_connection_with_a_glasstls_context(files: dict[str, Path],
                                                          version: int) -> None:
    async def main() -> None:
        server = await asyncio.start_server(upper_echo, "127.0.0.1", 0,
                                            ssl=python_server_context(files, version))
        async with server:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", await port_of(server), ssl=glass_context(files, version),
                server_hostname="localhost")
            tls = writer.get_extra_info("ssl_object")
            assert isinstance(tls, TLSObject)
            assert tls.version() == VERSION_NAMES[version]
            assert writer.get_extra_info("cipher") == tls.cipher()
            assert writer.get_extra_info("peercert")["subjectAltName"][0] == ("DNS", "localhost")
            writer.write(b"through asyncio's ssl protocol")
            await writer.drain()
            assert await reader.readexactly(30) == b"THROUGH ASYNCIO'S SSL PROTOCOL"
            writer.close()
            await writer.wait_closed()

    run(main())


@pytest.mark.parametrize("version", VERSIONS)
def test_asyncio_start_server_with_a_glasstls_context(files: dict[str, Path],
                                                       version: int) -> None:
    seen: list[str | None] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(writer.get_extra_info("ssl_object").version())
        await upper_echo(reader, writer)

    async def main() -> None:
        server = await asyncio.start_server(handler, "127.0.0.1", 0,
                                            ssl=glass_context(files, version, server=True))
        async with server:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", await port_of(server), ssl=python_client_context(files),
                server_hostname="localhost")
            assert writer.get_extra_info("ssl_object").version() == VERSION_NAMES[version]
            writer.write(b"python client")
            assert await reader.readexactly(13) == b"PYTHON CLIENT"
            writer.close()
            await writer.wait_closed()

    run(main())
    assert seen == [VERSION_NAMES[version]]


async def _starttls_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                           context: ssl.SSLContext) -> None:
    assert await reader.readline() == b"STARTTLS\n"
    writer.write(b"GO AHEAD\n")
    await writer.drain()
    await writer.start_tls(context)
    await upper_echo(reader, writer)


@pytest.mark.parametrize("version", VERSIONS)
def test_start_tls_upgrades_a_plain_connection(files: dict[str, Path], version: int) -> None:
    """loop.start_tls (via StreamWriter.start_tls) needs a real ssl.SSLContext
    instance: glasstls's is one. Client side glasstls, server side Python's ssl."""
    async def main() -> None:
        context = python_server_context(files, version)
        server = await asyncio.start_server(
            lambda r, w: _starttls_server(r, w, context), "127.0.0.1", 0)
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", await port_of(server))
            writer.write(b"STARTTLS\n")
            assert await reader.readline() == b"GO AHEAD\n"
            await writer.start_tls(glass_context(files, version), server_hostname="localhost")
            assert isinstance(writer.get_extra_info("ssl_object"), TLSObject)
            assert writer.get_extra_info("ssl_object").version() == VERSION_NAMES[version]
            writer.write(b"upgraded")
            assert await reader.readexactly(8) == b"UPGRADED"
            writer.close()
            await writer.wait_closed()

    run(main())


def test_start_tls_on_the_server_side_with_glasstls(files: dict[str, Path]) -> None:
    async def main() -> None:
        context = glass_context(files, server=True)
        server = await asyncio.start_server(
            lambda r, w: _starttls_server(r, w, context), "127.0.0.1", 0)
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", await port_of(server))
            writer.write(b"STARTTLS\n")
            assert await reader.readline() == b"GO AHEAD\n"
            await writer.start_tls(python_client_context(files), server_hostname="localhost")
            writer.write(b"python upgraded")
            assert await reader.readexactly(15) == b"PYTHON UPGRADED"
            writer.close()
            await writer.wait_closed()

    run(main())


# -- glasstls.aio -------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_aio_open_connection_against_python_ssl(files: dict[str, Path], version: int) -> None:
    async def main() -> None:
        server = await asyncio.start_server(upper_echo, "127.0.0.1", 0,
                                            ssl=python_server_context(files, version))
        async with server:
            reader, writer = await glasstls.aio.open_connection(
                "127.0.0.1", await port_of(server), config=client_config(version),
                server_hostname="localhost")
            info = writer.get_extra_info("ssl_object")
            assert info.version() == VERSION_NAMES[version]
            assert writer.get_extra_info("cipher") == info.cipher()
            assert writer.get_extra_info("peercert") == info.getpeercert()
            assert writer.get_extra_info("peername")[0] == "127.0.0.1"
            assert isinstance(writer.get_extra_info("socket"), asyncio.trsock.TransportSocket)
            writer.write(b"aio")
            assert await reader.readexactly(3) == b"AIO"
            writer.close()
            await writer.wait_closed()

    run(main())


@pytest.mark.parametrize("version", VERSIONS)
def test_aio_start_server_against_python_ssl(files: dict[str, Path], version: int) -> None:
    async def main() -> None:
        server = await glasstls.aio.start_server(upper_echo, "127.0.0.1", 0,
                                                 config=server_config(version))
        async with server:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", await port_of(server), ssl=python_client_context(files, version),
                server_hostname="localhost")
            assert writer.get_extra_info("ssl_object").version() == VERSION_NAMES[version]
            writer.write(b"to glasstls")
            assert await reader.readexactly(11) == b"TO GLASSTLS"
            writer.close()
            await writer.wait_closed()

    run(main())


def test_aio_writer_close_sends_close_notify(files: dict[str, Path]) -> None:
    ends: list[Any] = []

    def python_server(tls: ssl.SSLSocket) -> None:
        ends.append(tls.recv(100))
        ends.append(tls.recv(100))  # b"" only for close_notify (ragged EOF raises)

    async def main(port: int) -> None:
        _reader, writer = await glasstls.aio.open_connection(
            "127.0.0.1", port, config=client_config(), server_hostname="localhost",
            ssl_shutdown_timeout=5)
        writer.write(b"goodbye")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    with python_tls_listener(files, python_server) as port:
        run(main(port))
    assert ends == [b"goodbye", b""]


def test_aio_between_glasstls_peers_with_half_close() -> None:
    """TLS 1.3 half-close: the client's write_eof() sends close_notify, the
    server reads to the end and still answers."""
    async def answer_at_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.read()
        writer.write(b"you sent " + str(len(request)).encode())
        writer.close()
        await writer.wait_closed()

    async def main() -> None:
        server = await glasstls.aio.start_server(answer_at_eof, "127.0.0.1", 0,
                                                 config=server_config(TLS13))
        async with server:
            reader, writer = await glasstls.aio.open_connection(
                "127.0.0.1", await port_of(server), config=client_config(TLS13),
                server_hostname="localhost")
            assert writer.can_write_eof()
            writer.write(b"x" * 100000)
            writer.write_eof()
            assert await reader.read() == b"you sent 100000"
            writer.close()
            await writer.wait_closed()

    run(main())


def test_aio_handshake_failure_raises_the_verification_error() -> None:
    async def main() -> None:
        server = await glasstls.aio.start_server(upper_echo, "127.0.0.1", 0,
                                                 config=server_config())
        async with server:
            with pytest.raises(ssl.SSLCertVerificationError):
                await glasstls.aio.open_connection(
                    "127.0.0.1", await port_of(server), server_hostname="localhost",
                    config=glasstls.ClientConfig(trust=pki("rsa-2048").trust))

    run(main())


def test_aio_backpressure_holds_the_writer_until_the_reader_reads() -> None:
    total = 32 * 1024 * 1024
    progress = {"written": 0}
    largest_buffer = {"bytes": 0}

    async def producer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        chunk = bytes(256 * 1024)
        transport = writer.transport
        while progress["written"] < total:
            writer.write(chunk)
            progress["written"] += len(chunk)
            await writer.drain()
            largest_buffer["bytes"] = max(largest_buffer["bytes"],
                                          transport.get_write_buffer_size())
        writer.close()
        await writer.wait_closed()

    async def main() -> None:
        server = await glasstls.aio.start_server(producer, "127.0.0.1", 0,
                                                 config=server_config())
        async with server:
            reader, writer = await glasstls.aio.open_connection(
                "127.0.0.1", await port_of(server), config=client_config(),
                server_hostname="localhost", limit=2**16)
            await asyncio.sleep(0.5)  # the client reads nothing for a while
            stalled_at = progress["written"]
            # Socket buffers and the reader's limit hold a few MiB at most.
            assert stalled_at < total // 2
            received = 0
            while data := await reader.read(1 << 20):
                received += len(data)
            assert received == total
            writer.close()
            await writer.wait_closed()

    run(main())
    # drain() returned only with the socket transport's buffer under its high-water mark
    high_water = 64 * 1024
    assert largest_buffer["bytes"] <= high_water


@pytest.mark.parametrize("version", VERSIONS)
def test_aio_large_echo_between_glasstls_peers(version: int) -> None:
    payload = hashlib.shake_128(b"aio").digest(8 * 1024 * 1024)

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1 << 20):
            writer.write(data)
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main() -> bytes:
        server = await glasstls.aio.start_server(echo, "127.0.0.1", 0,
                                                 config=server_config(version))
        async with server:
            reader, writer = await glasstls.aio.open_connection(
                "127.0.0.1", await port_of(server), config=client_config(version),
                server_hostname="localhost")

            async def send() -> None:
                for start in range(0, len(payload), 1 << 20):
                    writer.write(payload[start:start + (1 << 20)])
                    await writer.drain()

            # Reading and writing at once: neither side's buffers can hold it all.
            sender = asyncio.create_task(send())
            received = await reader.readexactly(len(payload))
            await sender
            writer.close()
            await writer.wait_closed()
            return received

    assert run(main()) == payload


def test_aio_create_connection_with_a_plain_protocol() -> None:
    """The protocol-level API: connection_made comes after the handshake."""
    class Collect(asyncio.Protocol):
        def __init__(self) -> None:
            self.version: str | None = None
            self.data = b""
            self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.version = transport.get_extra_info("ssl_object").version()
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(b"protocol")

        def data_received(self, data: bytes) -> None:
            self.data += data
            if len(self.data) == 8:
                self.done.set_result(None)

    async def main() -> tuple[str | None, bytes]:
        server = await glasstls.aio.start_server(upper_echo, "127.0.0.1", 0,
                                                 config=server_config())
        async with server:
            transport, protocol = await glasstls.aio.create_connection(
                Collect, "127.0.0.1", await port_of(server), config=client_config(),
                server_hostname="localhost")
            assert isinstance(protocol, Collect)
            await protocol.done
            transport.close()
            return protocol.version, protocol.data

    assert run(main()) == ("TLSv1.3", b"PROTOCOL")


def test_aio_accepts_an_existing_socket() -> None:
    async def main() -> bytes:
        server = await glasstls.aio.start_server(upper_echo, "127.0.0.1", 0,
                                                 config=server_config())
        async with server:
            sock = socket.create_connection(("127.0.0.1", await port_of(server)))
            reader, writer = await glasstls.aio.open_connection(
                sock=sock, config=client_config(), server_hostname="localhost")
            writer.write(b"sock")
            data = await reader.readexactly(4)
            writer.close()
            await writer.wait_closed()
            return data

    assert run(main()) == b"SOCK"


def test_aio_feeds_a_buffered_protocol() -> None:
    class Buffered(asyncio.BufferedProtocol):
        def __init__(self) -> None:
            self.storage = bytearray(7)  # smaller than what arrives at once
            self.data = bytearray()
            self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(b"buffered protocol " * 100)

        def get_buffer(self, sizehint: int) -> bytearray:
            return self.storage

        def buffer_updated(self, nbytes: int) -> None:
            self.data += self.storage[:nbytes]
            if len(self.data) == 1800:
                self.done.set_result(None)

    async def main() -> bytes:
        server = await glasstls.aio.start_server(upper_echo, "127.0.0.1", 0,
                                                 config=server_config())
        async with server:
            transport, protocol = await glasstls.aio.create_connection(
                Buffered, "127.0.0.1", await port_of(server), config=client_config(),
                server_hostname="localhost")
            assert isinstance(protocol, Buffered)
            await protocol.done
            transport.close()
            return bytes(protocol.data)

    assert run(main()) == b"BUFFERED PROTOCOL " * 100


def test_aio_last_handshake_flight_shares_a_write_with_the_first_data() -> None:
    """What ends a side's handshake goes out with its application's first write: the
    client's Finished with its request, the server's session tickets with its
    answer. One socket write each (one segment), not two."""
    transport_class = asyncio.selector_events._SelectorSocketTransport
    plain_write = transport_class.write
    writes: list[tuple[int, int]] = []  # (local port, bytes) of each socket write

    def counted_write(self: Any, data: Any) -> None:
        writes.append((self.get_extra_info("sockname")[1], len(data)))
        plain_write(self, data)

    async def main() -> tuple[int, list[tuple[int, int]]]:
        server = await glasstls.aio.start_server(upper_echo, "127.0.0.1", 0,
                                                 config=server_config(TLS13))
        async with server:
            port = await port_of(server)
            reader, writer = await glasstls.aio.open_connection(
                "127.0.0.1", port, config=client_config(TLS13), server_hostname="localhost")
            writer.write(b"ping")
            assert await reader.read(100) == b"PING"
            until_answer = list(writes)
            assert writer.get_extra_info("ssl_object").session is not None  # the tickets
            writer.close()
            await writer.wait_closed()
        return port, until_answer

    with mock.patch.object(transport_class, "write", counted_write):
        port, until_answer = run(main())
    client = [size for local, size in until_answer if local != port]
    server = [size for local, size in until_answer if local == port]
    assert len(client) == 2  # ClientHello; Finished + "ping"
    assert len(server) == 2  # ServerHello ... Finished; NewSessionTickets + "PING"


def test_aio_server_reassembles_records_arriving_in_pieces_on_many_connections() -> None:
    """Every connection's ciphertext is read through one buffer per thread: records
    cut into pieces of a few bytes, interleaved across connections, must still
    arrive intact on each."""
    async def client(port: int, index: int, turns: asyncio.Queue[None]) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.transport.get_extra_info("socket").setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tls = glasstls.ClientConnection(client_config(TLS13), server_name="localhost")
        request = f"request {index} ".encode() * 50
        sent_request = False
        answer = b""
        while len(answer) < len(request):
            out = tls.data_to_send()
            for start in range(0, len(out), 3 + index):
                writer.write(out[start:start + 3 + index])
                await writer.drain()
                await turns.get()  # interleave the pieces of all clients
                turns.put_nowait(None)
            if tls.handshake_complete and not sent_request:
                tls.send(request)
                sent_request = True
                continue
            for event in tls.receive_data(await reader.read(65536)):
                if isinstance(event, glasstls.events.ApplicationData):
                    answer += event.data
        writer.close()
        return answer

    async def main() -> list[bytes]:
        server = await glasstls.aio.start_server(upper_echo, "127.0.0.1", 0,
                                                 config=server_config(TLS13))
        async with server:
            port = await port_of(server)
            turns: asyncio.Queue[None] = asyncio.Queue()
            turns.put_nowait(None)
            return list(await asyncio.gather(*(client(port, i, turns) for i in range(4))))

    answers = run(main())
    assert answers == [f"REQUEST {i} ".encode() * 50 for i in range(4)]


def test_aio_closed_connections_leave_no_reference_cycles() -> None:
    """Once closed, a connection's objects (its protocols, transports, TLS channel)
    are freed by reference counting on both ends, not left in cycles for the garbage
    collector, whose passes the piled-up objects would trigger on a busy server.
    asyncio's own socket transport holds a bound method of itself: glasstls lets go
    of it at ``connection_lost``."""
    kept = ("_TLSProtocol", "_TLSTransport", "ConnectionInfo", "TLSChannel",
            "_SelectorSocketTransport", "StreamReaderProtocol", "StreamWriter")

    async def echo_with_queries(reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
        assert writer.get_extra_info("ssl_object").version() == "TLSv1.3"
        await upper_echo(reader, writer)

    async def main() -> None:
        server = await glasstls.aio.start_server(echo_with_queries, "127.0.0.1", 0,
                                                 config=server_config(TLS13))
        async with server:
            port = await port_of(server)
            for _ in range(3):
                reader, writer = await glasstls.aio.open_connection(
                    "127.0.0.1", port, config=client_config(TLS13),
                    server_hostname="localhost")
                assert writer.get_extra_info("cipher")[1] == "TLSv1.3"
                writer.write(b"ping")
                assert await reader.readexactly(4) == b"PING"
                writer.close()
                await writer.wait_closed()
                del reader, writer
            for _ in range(10):  # the server's side closes after the client's
                await asyncio.sleep(0.01)
            gc.collect()
            assert not [type(item).__name__ for item in gc.garbage
                        if type(item).__name__ in kept]

    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        run(main())
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
