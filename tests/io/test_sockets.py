"""Blocking sockets: glasstls.connect(), glasstls.serve() and TLSSocket."""

from __future__ import annotations

import hashlib
import io
import queue
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from io_helpers import (
    VERSION_NAMES,
    VERSIONS,
    client_config,
    glass_context,
    python_client_context,
    python_tls_listener,
    server_config,
)

import glasstls
from glasstls import TLSServer, TLSSocket
from glasstls.constants import TLS13
from pki import pki

Start = Callable[..., TLSServer]


def echo(sock: TLSSocket, address: Any) -> None:
    while data := sock.recv(65536):
        sock.sendall(data)


@pytest.fixture
def start_server() -> Iterator[Start]:
    servers: list[TLSServer] = []

    def start(handler: Any = echo, version: int | None = None, **config: Any) -> TLSServer:
        server = glasstls.serve(("127.0.0.1", 0), handler, config=server_config(version, **config))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close(abort_connections=True)


def connect(server: TLSServer, version: int | None = None, **kwargs: Any) -> TLSSocket:
    config = kwargs.pop("config", None) or client_config(version)
    return glasstls.connect(server.address, config=config, server_hostname="localhost",
                            timeout=kwargs.pop("timeout", 10), **kwargs)


def recv_exactly(sock: TLSSocket, count: int) -> bytes:
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        assert chunk, "unexpected end of stream"
        data += chunk
    return bytes(data)


@pytest.mark.parametrize("version", VERSIONS)
def test_connect_reports_the_negotiated_connection(start_server: Start, version: int) -> None:
    server = start_server(version=version, alpn_protocols=("h2", "http/1.1"))
    config = client_config(version, alpn_protocols=("http/1.1",))
    with connect(server, config=config) as sock:
        assert sock.version() == VERSION_NAMES[version]
        _, protocol, bits = sock.cipher() or ("", "", 0)
        assert protocol == VERSION_NAMES[version] and bits in (128, 256)
        assert sock.selected_alpn_protocol() == "http/1.1"
        cert = sock.getpeercert()
        assert dict(rdn[0] for rdn in cert["subject"])["commonName"] == "localhost"
        assert ssl.cert_time_to_seconds(cert["notAfter"]) > ssl.cert_time_to_seconds(
            cert["notBefore"])
        assert sock.getpeercert(binary_form=True) == pki("ecdsa-p256").certified.chain_der[0]
        assert sock.session_reused is False
        assert sock.server_hostname == "localhost" and not sock.server_side
        sock.sendall(b"hello")
        assert recv_exactly(sock, 5) == b"hello"


def test_large_transfers_and_reads_of_any_size(start_server: Start) -> None:
    server = start_server()
    payload = hashlib.shake_128(b"payload").digest(5 * 1024 * 1024 + 17)
    received = bytearray()
    with connect(server) as sock:
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        buffer = bytearray(70000)
        sizes = [1, 100, 16384, 1 << 20]
        turn = 0
        while len(received) < len(payload):
            if turn % 2:
                count = sock.recv_into(buffer, 0)
                received += buffer[:count]
            else:
                received += sock.recv(sizes[turn % len(sizes)])
            turn += 1
        sender.join()
    assert received == payload


@pytest.mark.parametrize("version", VERSIONS)
def test_recv_into_writes_only_within_nbytes_and_keeps_the_stream_in_order(
        start_server: Start, version: int) -> None:
    """Records are decrypted straight into the caller's buffer when whole ones fit
    within ``nbytes`` (TLS 1.3): nothing past ``nbytes`` is touched, whatever the
    read size, and the stream comes out whole and in order."""
    server = start_server(version=version)
    payload = hashlib.shake_128(b"recv_into").digest(3 * 1024 * 1024 + 5)
    received = bytearray()
    buffer = bytearray(200_000)
    sizes = [1, 16384, 16385, 16400, 40_000, 150_000, 17]
    with connect(server, version) as sock:
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        turn = 0
        while len(received) < len(payload):
            nbytes = sizes[turn % len(sizes)]
            buffer[:] = b"\xa5" * len(buffer)
            count = sock.recv_into(buffer, nbytes)
            assert 0 < count <= nbytes
            assert buffer[nbytes:] == b"\xa5" * (len(buffer) - nbytes), "written past nbytes"
            received += buffer[:count]
            turn += 1
        sender.join()
    assert received == payload


def test_makefile_reads_lines_and_writes(start_server: Start) -> None:
    server = start_server()
    with connect(server) as sock:
        writer = sock.makefile("wb")
        reader = sock.makefile("rb")
        writer.write(b"first line\nsecond line\n")
        writer.flush()
        assert reader.readline() == b"first line\n"
        assert reader.readline() == b"second line\n"
        writer.close()
        reader.close()


def test_close_sends_close_notify_so_the_peer_sees_a_clean_end(start_server: Start) -> None:
    seen: queue.Queue[Any] = queue.Queue()

    def record(sock: TLSSocket, address: Any) -> None:
        try:
            seen.put(sock.recv(100))
            seen.put(sock.recv(100))
        except Exception as error:
            seen.put(error)

    server = start_server(record)
    sock = connect(server)
    sock.sendall(b"bye")
    sock.close()
    assert seen.get(timeout=10) == b"bye"
    assert seen.get(timeout=10) == b""  # close_notify, not SSLEOFError


def test_recv_timeout_raises_timeout_error(start_server: Start) -> None:
    silent = threading.Event()
    server = start_server(lambda sock, address: silent.wait(10))
    with connect(server, timeout=10) as sock:
        sock.settimeout(0.2)
        with pytest.raises(TimeoutError, match="read operation timed out"):
            sock.recv(10)
    silent.set()


def test_nonblocking_mode_raises_ssl_want_errors_and_loses_nothing(start_server: Start) -> None:
    release = threading.Event()
    digests: queue.Queue[tuple[int, str]] = queue.Queue()

    def slow_reader(sock: TLSSocket, address: Any) -> None:
        release.wait(10)
        digest = hashlib.sha256()
        total = 0
        while data := sock.recv(1 << 20):
            digest.update(data)
            total += len(data)
        digests.put((total, digest.hexdigest()))

    server = start_server(slow_reader)
    sock = connect(server)
    sock.setblocking(False)
    with pytest.raises(ssl.SSLWantReadError):
        sock.recv(10)
    chunk = bytes(range(256)) * 1024
    sent = hashlib.sha256()
    total = 0
    for _ in range(2000):  # the kernel's buffers fill long before 500 MiB
        try:
            taken = sock.send(chunk)
        except ssl.SSLWantWriteError:
            break
        sent.update(chunk[:taken])
        total += taken
    else:
        raise AssertionError("send never reported SSLWantWriteError")
    release.set()
    sock.setblocking(True)
    sock.close()
    assert digests.get(timeout=30) == (total, sent.hexdigest())


def test_nonblocking_handshake_with_select(files: dict[str, Path], start_server: Start) -> None:
    server = start_server()
    raw = socket.create_connection(server.address)
    raw.setblocking(False)
    sock = glass_context(files).wrap_socket(raw, server_hostname="localhost",
                                            do_handshake_on_connect=False)
    for _ in range(100):
        try:
            sock.do_handshake()
            break
        except ssl.SSLWantReadError:
            select.select([sock], [], [], 5)
        except ssl.SSLWantWriteError:
            select.select([], [sock], [], 5)
    assert sock.version() is not None
    sock.setblocking(True)
    sock.sendall(b"nb")
    assert recv_exactly(sock, 2) == b"nb"
    sock.close()


def test_select_on_fileno_sees_incoming_data(start_server: Start) -> None:
    server = start_server()
    with connect(server) as sock:
        # One round trip first: TLS 1.3 session tickets arrive after the handshake.
        sock.sendall(b"a")
        assert sock.recv(1) == b"a"
        assert select.select([sock.fileno()], [], [], 0)[0] == []
        sock.sendall(b"x")
        assert select.select([sock.fileno()], [], [], 10)[0] == [sock.fileno()]
        assert sock.recv(1) == b"x"
        assert sock.pending() == 0


def test_half_close_keeps_the_read_side_open(start_server: Start) -> None:
    def answer_after_eof(sock: TLSSocket, address: Any) -> None:
        request = bytearray()
        while data := sock.recv(100):
            request += data
        sock.sendall(b"got " + bytes(request))

    server = start_server(answer_after_eof, version=TLS13)
    with connect(server) as sock:
        sock.sendall(b"the whole request")
        sock.shutdown(socket.SHUT_WR)  # close_notify, then FIN
        response = bytearray()
        while data := sock.recv(100):
            response += data
    assert bytes(response) == b"got the whole request"


def test_full_duplex_reader_and_writer_threads(start_server: Start) -> None:
    server = start_server()
    payload = hashlib.shake_128(b"duplex").digest(24 * 1024 * 1024)
    with connect(server) as sock:
        writer = threading.Thread(target=sock.sendall, args=(payload,))
        writer.start()
        digest = hashlib.sha256()
        total = 0
        while total < len(payload):
            data = sock.recv(1 << 20)
            assert data
            digest.update(data)
            total += len(data)
        writer.join()
    assert digest.digest() == hashlib.sha256(payload).digest()


def test_key_update_keeps_data_flowing(start_server: Start) -> None:
    server = start_server(version=TLS13)
    with connect(server) as sock:
        sock.sendall(b"before")
        assert recv_exactly(sock, 6) == b"before"
        sock.key_update(request_peer_update=True)
        sock.sendall(b"after")
        assert recv_exactly(sock, 5) == b"after"


def test_failed_handshake_never_reaches_the_handler(start_server: Start) -> None:
    called = threading.Event()
    server = start_server(lambda sock, address: called.set())
    wrong_trust = glasstls.ClientConfig(trust=pki("rsa-2048").trust)
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(server, config=wrong_trust)
    server.close()
    assert not called.is_set()


def test_sendfile_goes_through_tls(start_server: Start) -> None:
    server = start_server()
    content = b"file content " * 10000
    with connect(server) as sock:
        assert sock.sendfile(io.BytesIO(content)) == len(content)
        assert recv_exactly(sock, len(content)) == content


def test_socket_methods_that_would_bypass_tls_are_refused(start_server: Start) -> None:
    server = start_server()
    with connect(server) as sock:
        with pytest.raises(ValueError):
            sock.recv(10, socket.MSG_PEEK)
        with pytest.raises(ValueError):
            sock.sendto(b"x", ("127.0.0.1", 9))
        with pytest.raises(NotImplementedError):
            sock.dup()


# -- wrap_socket against Python's ssl ------------------------------------------------


def test_wrap_socket_connect_later_then_unwrap_to_plaintext(files: dict[str, Path]) -> None:
    def starttls_server(tls: ssl.SSLSocket) -> None:
        assert tls.recv(100) == b"over tls"
        plain = tls.unwrap()
        plain.sendall(b"plaintext again")
        assert plain.recv(100) == b"client plaintext"
        plain.close()

    with python_tls_listener(files, starttls_server) as port:
        sock = glass_context(files).wrap_socket(socket.socket(), server_hostname="localhost")
        sock.settimeout(10)
        sock.connect(("127.0.0.1", port))  # the handshake runs here
        assert sock.version() == "TLSv1.3"
        sock.sendall(b"over tls")
        plain = sock.unwrap()
        assert type(plain) is not TLSSocket
        assert recv_exactly_plain(plain, 15) == b"plaintext again"
        plain.sendall(b"client plaintext")
        plain.close()


def recv_exactly_plain(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        assert chunk
        data += chunk
    return data


def test_wrapped_listening_socket_accepts_with_a_handshake(files: dict[str, Path]) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    tls_listener = glass_context(files, server=True).wrap_socket(listener, server_side=True)
    result: queue.Queue[Any] = queue.Queue()

    def client() -> None:
        context = python_client_context(files)
        with context.wrap_socket(socket.create_connection(tls_listener.getsockname()),
                                 server_hostname="localhost") as tls:
            tls.sendall(b"from python")
            result.put(tls.recv(100))

    thread = threading.Thread(target=client)
    thread.start()
    accepted, _ = tls_listener.accept()
    assert isinstance(accepted, TLSSocket) and accepted.server_side
    assert accepted.recv(100) == b"from python"
    accepted.sendall(b"from glasstls")
    assert result.get(timeout=10) == b"from glasstls"
    thread.join()
    accepted.close()
    tls_listener.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_sessions_resume_through_the_config_or_explicitly(start_server: Start,
                                                          version: int) -> None:
    server = start_server(version=version)
    config = client_config(version)
    reused = []
    session = None
    for explicit in (False, False, True):
        with connect(server, config=config,
                     session=session if explicit else None) as sock:
            sock.sendall(b"s")
            assert sock.recv(1) == b"s"  # tickets arrive before the echo
            reused.append(sock.session_reused)
            session = sock.session
            assert session is not None
    assert reused == [False, True, True]


def test_serve_stops_accepting_when_closed(start_server: Start) -> None:
    server = start_server()
    with connect(server) as sock:
        sock.sendall(b"up")
        assert recv_exactly(sock, 2) == b"up"
    server.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(server.address, timeout=5)


def test_connect_by_ip_address_checks_the_address_against_the_certificate(
        start_server: Start) -> None:
    server = start_server()
    with glasstls.connect(server.address, config=client_config(), timeout=10) as sock:
        assert sock.server_hostname == "127.0.0.1"
        assert ("IP Address", "127.0.0.1") in sock.getpeercert()["subjectAltName"]
    with pytest.raises(ssl.SSLCertVerificationError):
        glasstls.connect(server.address, config=client_config(), timeout=10,
                         server_hostname="127.0.0.2")


def test_data_sent_with_the_last_handshake_flight_stays_visible_to_select(
        files: dict[str, Path]) -> None:
    """A TLS 1.3 client's first data in the same TCP segment as its Finished: after
    the server's handshake, select() must still see it (it stays in the kernel, as
    with OpenSSL), or a select-based server such as websockets' waits forever."""
    server_context = glass_context(files, TLS13, server=True)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        plain = socket.create_connection(listener.getsockname())
        accepted, _ = listener.accept()
        tls = server_context.wrap_socket(accepted, server_side=True,
                                         do_handshake_on_connect=False)
        client = glasstls.ClientConnection(client_config(TLS13), server_name="localhost")
        with plain, tls:
            plain.sendall(client.data_to_send())
            done = threading.Thread(target=tls.do_handshake)
            done.start()
            while not client.handshake_complete:
                client.receive_data(plain.recv(65536))
            client.send(b"first request")
            plain.sendall(client.data_to_send())  # Finished and data at once
            done.join(10)
            assert tls.version() == "TLSv1.3"
            readable, _, _ = select.select([tls], [], [], 5)
            assert readable == [tls], "the data was read past, where select() cannot see it"
            assert tls.recv(100) == b"first request"


def test_reads_and_writes_refuse_flags_as_ssl_does(start_server: Start) -> None:
    server = start_server(echo)
    with connect(server) as sock:
        for call in (lambda: sock.recv(10, socket.MSG_PEEK),
                     lambda: sock.recv_into(bytearray(10), 10, socket.MSG_PEEK),
                     lambda: sock.send(b"x", socket.MSG_OOB),
                     lambda: sock.sendall(b"x", socket.MSG_OOB)):
            with pytest.raises(ValueError, match="non-zero flags"):
                call()
        sock.sendall(b"still fine", 0)
        assert recv_exactly(sock, 10) == b"still fine"


def test_read_and_write_are_ssl_sockets_recv_recv_into_and_send(start_server: Start) -> None:
    server = start_server(echo)
    with connect(server) as sock:
        assert sock.write(b"0123456789") == 10
        assert recv_exactly(sock, 4) == b"0123"
        assert sock.read(3) == b"456"
        buffer = bytearray(8)
        assert sock.read(3, buffer) == 3 and buffer[:3] == b"789"
        sock.close()
        assert sock.fileno() == -1
