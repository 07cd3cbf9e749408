"""The programs that bench/sockets.py starts, one process each: the bulk and
echo servers (glasstls or ssl) and the clients (bulk: the same implementation as
the server; handshakes and idle connections: Python's ssl for both servers).
``sockets.py ROLE --pki DIR ARGS...`` runs one of them through ``run_role``."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import resource
import socket
import ssl
import sys
import threading
import time
from typing import Any

HOST = "127.0.0.1"
SERVER_NAME = "localhost"
MiB = 1024 * 1024
CHUNK = MiB  # what the bulk sender hands to sendall / write at once
PING = b"0123456789abcdef"  # the echo that ends a handshake measurement
SUITES = {"aes128gcm": "TLS_AES_128_GCM_SHA256", "chacha20": "TLS_CHACHA20_POLY1305_SHA256"}
IMPLS = ("glasstls", "ssl")
THREADS_PER_CLIENT_PROCESS = 64


# -- certificates and contexts ----------------------------------------------------------

def make_pki(directory: str) -> dict[str, str]:
    from glasstls.crypto import devpki

    ca = devpki.make_ca("sockets bench CA", "ecdsa-p256")
    leaf = devpki.make_leaf(ca, ("localhost",), "ecdsa-p256")
    files = {"ca": ca.certificate_pem(), "cert": leaf.certificate_pem(), "key": leaf.key_pem()}
    paths = {}
    for name, pem in files.items():
        paths[name] = os.path.join(directory, f"{name}.pem")
        with open(paths[name], "wb") as handle:
            handle.write(pem)
    return paths


def _set_tls13_suites(context: ssl.SSLContext, suites: str) -> None:
    """Python's ssl has no API for TLS 1.3 suites: call SSL_CTX_set_ciphersuites on
    the context's SSL_CTX (the first field after the object header)."""
    libssl = ctypes.CDLL(ssl._ssl.__file__)  # type: ignore[attr-defined]
    libssl.SSL_CTX_set_ciphersuites.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    libssl.SSL_CTX_set_ciphersuites.restype = ctypes.c_int
    pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not libssl.SSL_CTX_set_ciphersuites(pointer, suites.encode()):
        raise RuntimeError(f"SSL_CTX_set_ciphersuites({suites}) failed")


def ssl_client_context(pki: dict[str, str], suite: str = "aes128gcm") -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(pki["ca"])
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.set_ecdh_curve("X25519")
    _set_tls13_suites(context, SUITES[suite])
    return context


def ssl_server_context(pki: dict[str, str], suite: str | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["cert"], pki["key"])
    if suite is not None:
        _set_tls13_suites(context, SUITES[suite])
    return context


def glasstls_client_config(pki: dict[str, str], suite: str) -> Any:
    from glasstls import CipherSuite, ClientConfig, NamedGroup, TrustStore
    from glasstls.constants import TLS13

    return ClientConfig(trust=TrustStore.from_pem_file(pki["ca"]), versions=(TLS13,),
                        cipher_suites=(CipherSuite[SUITES[suite]],),
                        groups=(NamedGroup.x25519,), key_share_groups=(NamedGroup.x25519,))


def glasstls_server_config(pki: dict[str, str], suite: str | None = None) -> Any:
    from glasstls import CertifiedKey, CipherSuite, ServerConfig

    certified = CertifiedKey.from_files(pki["cert"], pki["key"])
    if suite is None:
        return ServerConfig(certificates=(certified,))
    return ServerConfig(certificates=(certified,), cipher_suites=(CipherSuite[SUITES[suite]],))


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def ready(port: int) -> None:
    print(f"READY {port}", flush=True)


# -- bulk: one connection, SIZE bytes each way ----------------------------------------------

def receive_exactly(recv_into: Any, size: int, block: int = CHUNK) -> None:
    """Read ``size`` bytes through ``recv_into``, ``block`` bytes at most a call."""
    buffer = memoryview(bytearray(block))
    received = 0
    while received < size:
        count = recv_into(buffer)
        if not count:
            raise EOFError(f"stream ended after {received} of {size} bytes")
        received += count


def _bulk_serve_blocking(sock: Any, size: int, block: bytes) -> None:
    started = time.process_time()
    receive_exactly(sock.recv_into, size)
    received = time.process_time()
    sock.sendall(b"!")
    for _ in range(size // CHUNK):
        sock.sendall(block)
    _report_cpu(started, received)


def _report_cpu(started: float, received: float) -> None:
    """The server's CPU seconds (the whole process) receiving, then sending; the
    coordinator reads this line after ``READY``."""
    sent = time.process_time()
    print("CPU " + json.dumps({"receive": received - started, "send": sent - received}),
          flush=True)


def bulk_server(impl: str, io: str, suite: str, size: int, pki: dict[str, str]) -> None:
    """Serve one bulk connection, then exit."""
    block = os.urandom(CHUNK)
    if io == "asyncio":
        asyncio.run(_bulk_server_asyncio(impl, suite, size, pki, block))
        return
    if impl == "glasstls":
        import glasstls

        done = threading.Event()

        def handler(sock: Any, address: Any) -> None:
            try:
                _bulk_serve_blocking(sock, size, block)
            finally:
                done.set()

        config = glasstls_server_config(pki, suite)
        with glasstls.serve((HOST, 0), handler, config=config) as server:
            ready(server.address[1])
            done.wait()
        return
    with socket.create_server((HOST, 0)) as listener:
        ready(listener.getsockname()[1])
        plain, _ = listener.accept()
        with ssl_server_context(pki, suite).wrap_socket(plain, server_side=True) as sock:
            _bulk_serve_blocking(sock, size, block)


async def _read_exactly_asyncio(reader: asyncio.StreamReader, size: int) -> None:
    """Read ``size`` bytes as they come (``readexactly`` would buffer them all)."""
    received = 0
    while received < size:
        data = await reader.read(CHUNK)
        if not data:
            raise EOFError(f"stream ended after {received} of {size} bytes")
        received += len(data)


async def _bulk_server_asyncio(impl: str, suite: str, size: int, pki: dict[str, str],
                               block: bytes) -> None:
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            started = time.process_time()
            await _read_exactly_asyncio(reader, size)
            received = time.process_time()
            writer.write(b"!")
            for _ in range(size // CHUNK):
                writer.write(block)
                await writer.drain()
            writer.close()
            await writer.wait_closed()
            _report_cpu(started, received)
        finally:
            done.set()

    server = await _start_asyncio_server(impl, handle, pki, suite)
    async with server:
        ready(server.sockets[0].getsockname()[1])
        await done.wait()


async def _start_asyncio_server(impl: str, handle: Any, pki: dict[str, str],
                                suite: str | None = None) -> asyncio.Server:
    if impl == "glasstls":
        import glasstls

        return await glasstls.aio.start_server(
            handle, HOST, 0, config=glasstls_server_config(pki, suite))
    return await asyncio.start_server(handle, HOST, 0, ssl=ssl_server_context(pki, suite))


def bulk_client(impl: str, io: str, suite: str, size: int, port: int,
                pki: dict[str, str]) -> dict[str, float]:
    block = os.urandom(CHUNK)
    if io == "asyncio":
        return asyncio.run(_bulk_client_asyncio(impl, suite, size, port, pki, block))
    if impl == "glasstls":
        import glasstls

        sock = glasstls.connect((HOST, port), config=glasstls_client_config(pki, suite),
                                server_hostname=SERVER_NAME)
    else:
        sock = ssl_client_context(pki, suite).wrap_socket(
            socket.create_connection((HOST, port)), server_hostname=SERVER_NAME)
    with sock:
        _check_cipher(sock.cipher(), suite)
        started, cpu_started = time.perf_counter(), time.process_time()
        for _ in range(size // CHUNK):
            sock.sendall(block)
        if sock.recv(1) != b"!":
            raise RuntimeError("no acknowledgement from the bulk server")
        uploaded, cpu_uploaded = time.perf_counter(), time.process_time()
        receive_exactly(sock.recv_into, size)
        downloaded, cpu_downloaded = time.perf_counter(), time.process_time()
    return _bulk_result(size, (started, uploaded, downloaded),
                        (cpu_started, cpu_uploaded, cpu_downloaded))


def _bulk_result(size: int, clock: tuple[float, float, float], cpu: tuple[float, float, float]
                 ) -> dict[str, float]:
    """MB/s each way, and the client's CPU seconds sending and receiving."""
    return {"up": size / (clock[1] - clock[0]) / 1e6, "down": size / (clock[2] - clock[1]) / 1e6,
            "cpu_send": cpu[1] - cpu[0], "cpu_receive": cpu[2] - cpu[1]}


async def open_asyncio_client(impl: str, port: int, pki: dict[str, str], suite: str
                              ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """An asyncio stream client of ``impl`` connected to the bench server."""
    if impl == "glasstls":
        import glasstls

        return await glasstls.aio.open_connection(
            HOST, port, config=glasstls_client_config(pki, suite), server_hostname=SERVER_NAME)
    return await asyncio.open_connection(
        HOST, port, ssl=ssl_client_context(pki, suite), server_hostname=SERVER_NAME)


async def _bulk_client_asyncio(impl: str, suite: str, size: int, port: int,
                               pki: dict[str, str], block: bytes) -> dict[str, float]:
    reader, writer = await open_asyncio_client(impl, port, pki, suite)
    _check_cipher(writer.get_extra_info("cipher"), suite)
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(size // CHUNK):
        writer.write(block)
        await writer.drain()
    if await reader.readexactly(1) != b"!":
        raise RuntimeError("no acknowledgement from the bulk server")
    uploaded, cpu_uploaded = time.perf_counter(), time.process_time()
    await _read_exactly_asyncio(reader, size)
    downloaded, cpu_downloaded = time.perf_counter(), time.process_time()
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return _bulk_result(size, (started, uploaded, downloaded),
                        (cpu_started, cpu_uploaded, cpu_downloaded))


def _check_cipher(cipher: Any, suite: str) -> None:
    if cipher is None or cipher[0] != SUITES[suite] or cipher[1] != "TLSv1.3":
        raise RuntimeError(f"negotiated {cipher}, wanted {SUITES[suite]} in TLS 1.3")


# -- echo servers for the handshake and idle cases -------------------------------------------

async def _echo_asyncio(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (OSError, ssl.SSLError, EOFError):
        pass  # a client that went away: both servers see the same
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def _echo_blocking(sock: Any) -> None:
    with contextlib.suppress(OSError, ssl.SSLError):
        while data := sock.recv(65536):
            sock.sendall(data)


def echo_server(impl: str, kind: str, pki: dict[str, str]) -> None:
    """Serve until terminated: asyncio (``kind == "aio"``) or threads."""
    raise_fd_limit()
    if kind == "aio":
        asyncio.run(_serve_asyncio_forever(impl, pki))
    elif impl == "glasstls":
        import glasstls

        server = glasstls.serve((HOST, 0), lambda sock, address: _echo_blocking(sock),
                                config=glasstls_server_config(pki))
        ready(server.address[1])
        server.serve_forever()
    else:
        _ssl_thread_per_client_server(pki)


async def _serve_asyncio_forever(impl: str, pki: dict[str, str]) -> None:
    server = await _start_asyncio_server(impl, _echo_asyncio, pki)
    async with server:
        ready(server.sockets[0].getsockname()[1])
        await server.serve_forever()


def _ssl_thread_per_client_server(pki: dict[str, str]) -> None:
    """The usual threaded server on ssl: accept on one thread, and run each
    connection's handshake and handler on a thread of its own (OpenSSL releases
    the GIL while it computes, so those handshakes run in parallel)."""
    context = ssl_server_context(pki)

    def serve_one(plain: socket.socket) -> None:
        try:
            plain.settimeout(30.0)  # glasstls.serve()'s default handshake timeout
            # As glasstls.serve() does: without it the echo after the session tickets
            # waits for the client's delayed ACK (~40 ms), which is Nagle, not TLS.
            plain.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock = context.wrap_socket(plain, server_side=True)
        except (OSError, ssl.SSLError):
            plain.close()
            return
        with sock:
            sock.settimeout(None)
            _echo_blocking(sock)

    with socket.create_server((HOST, 0)) as listener:
        ready(listener.getsockname()[1])
        while True:
            plain, _ = listener.accept()
            threading.Thread(target=serve_one, args=(plain,), daemon=True).start()


# -- handshake clients --------------------------------------------------------------------------

def _handshake(context: ssl.SSLContext, port: int, session: Any) -> ssl.SSLSocket:
    """Connect, handshake and echo PING: the connection is ready to use."""
    sock = context.wrap_socket(socket.create_connection((HOST, port), timeout=60),
                               server_hostname=SERVER_NAME, session=session)
    try:
        sock.sendall(PING)
        echoed = b""
        while len(echoed) < len(PING):
            data = sock.recv(len(PING) - len(echoed))
            if not data:
                raise EOFError("the server closed before echoing")
            echoed += data
        return sock
    except BaseException:
        sock.close()
        raise


def _goodbye(sock: ssl.SSLSocket) -> None:
    with contextlib.suppress(OSError, ssl.SSLError, ValueError):
        sock.settimeout(10)
        sock.unwrap().close()
    sock.close()


def handshake_clients(port: int, threads: int, resumed: bool, measure_from: float,
                      measure_until: float, pki: dict[str, str]) -> dict[str, Any]:
    """Run ``threads`` clients back to back until ``measure_until`` (a
    ``time.monotonic()`` instant, shared by all processes on Linux)."""
    raise_fd_limit()
    cpu_started = time.process_time()
    context = ssl_client_context(pki)
    lock = threading.Lock()
    latencies: list[float] = []
    counts = {"errors": 0, "resumed": 0, "full": 0, "total": 0}

    def client() -> None:
        session = None
        mine: list[float] = []
        resumed_count = full = errors = total = 0
        while True:
            started = time.monotonic()
            if started >= measure_until:
                break
            try:
                sock = _handshake(context, port, session if resumed else None)
            except (OSError, ssl.SSLError, EOFError):
                errors += 1
                session = None
                continue
            finished = time.monotonic()
            total += 1
            if resumed:
                session = sock.session
            if measure_from <= finished < measure_until:
                mine.append(finished - started)
                if sock.session_reused:
                    resumed_count += 1
                else:
                    full += 1
            _goodbye(sock)
        with lock:
            latencies.extend(mine)
            counts["errors"] += errors
            counts["resumed"] += resumed_count
            counts["full"] += full
            counts["total"] += total

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    # The clients' own CPU seconds: on a saturated machine what the clients spend
    # per connection (the same program for both servers) is taken from the server.
    return {"latencies": latencies, "cpu": time.process_time() - cpu_started, **counts}


def idle_clients(port: int, count: int, pki: dict[str, str]) -> None:
    """Open ``count`` connections (handshake + echo), report, hold them until stdin
    closes."""
    raise_fd_limit()
    context = ssl_client_context(pki)
    held = [_handshake(context, port, None) for _ in range(count)]
    print(f"HELD {len(held)}", flush=True)
    sys.stdin.read()
    for sock in held:
        sock.close()


# -- one process, one role ------------------------------------------------------------------

ROLES = ("_bulk-server", "_bulk-client", "_echo-server", "_hs-clients", "_idle-clients")


def load_pki(directory: str) -> dict[str, str]:
    return {name: os.path.join(directory, f"{name}.pem") for name in ("ca", "cert", "key")}


def run_role(argv: list[str]) -> None:
    """``ROLE --pki DIR ARGS...``: run one server or client program."""
    role, pki_flag, directory, *rest = argv
    assert role in ROLES and pki_flag == "--pki"
    pki = load_pki(directory)
    if role == "_bulk-server":
        impl, io, suite, size = rest
        bulk_server(impl, io, suite, int(size), pki)
    elif role == "_bulk-client":
        impl, io, suite, size, port = rest
        print(json.dumps(bulk_client(impl, io, suite, int(size), int(port), pki)))
    elif role == "_echo-server":
        impl, kind = rest
        echo_server(impl, kind, pki)
    elif role == "_hs-clients":
        port, threads, mode, start, measure_from, measure_until = rest
        time.sleep(max(0.0, float(start) - time.monotonic()))
        print(json.dumps(handshake_clients(int(port), int(threads), mode == "resumed",
                                           float(measure_from), float(measure_until),
                                           pki)))
    else:
        port, count = rest
        idle_clients(int(port), int(count), pki)
