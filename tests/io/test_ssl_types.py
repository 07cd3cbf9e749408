"""glasstls's sockets and objects are real ``ssl.SSLSocket`` / ``ssl.SSLObject``
instances, and OpenSSL does none of their work.

The proof that OpenSSL is not involved: the connections negotiate X25519MLKEM768
with a peer that has it (pyOpenSSL on the OpenSSL 3.5+ inside ``cryptography``),
which the system's OpenSSL behind the ``ssl`` module cannot do.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import ssl
import struct
import threading
from pathlib import Path
from typing import Any

import pytest
from io_helpers import glass_context

import glasstls
from glasstls import TLSSocket
from glasstls.io import TLSObject
from peers import require_module

HYBRID = "X25519MLKEM768"


def members(cls: type) -> list[str]:
    """What ``cls`` itself defines (methods and properties), dunders aside."""
    return [name for name, value in vars(cls).items()
            if not (name.startswith("__") and name != "__init__")
            and (inspect.isfunction(value) or isinstance(value, (property, classmethod)))]


def definer(cls: type, name: str) -> type:
    return next(klass for klass in cls.__mro__ if name in vars(klass))


@pytest.mark.parametrize(("ours", "theirs"), [(TLSSocket, ssl.SSLSocket),
                                              (TLSObject, ssl.SSLObject)])
def test_every_member_of_the_ssl_class_is_glasstls_s(ours: type, theirs: type) -> None:
    assert issubclass(ours, theirs)
    inherited = [name for name in members(theirs) if definer(ours, name) is theirs]
    assert not inherited, f"{ours.__name__} would run ssl's own code for {inherited}"
    assert len(members(theirs)) > 20


def test_the_context_makes_ssl_instances_without_an_openssl_connection(
        files: dict[str, Path]) -> None:
    client, server = glass_context(files), glass_context(files, server=True)
    with socket.create_server(("127.0.0.1", 0)) as plain_listener:
        listener = server.wrap_socket(plain_listener, server_side=True)
        accepted: list[Any] = []
        thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]))
        thread.start()
        sock = client.wrap_socket(socket.create_connection(listener.getsockname()),
                                  server_hostname="localhost")
        thread.join(10)
        with sock, accepted[0] as served, listener:
            for tls in (sock, served, listener):
                assert isinstance(tls, ssl.SSLSocket)
                assert isinstance(tls, TLSSocket)
                # ssl.SSLSocket keeps OpenSSL's connection in _sslobj: here it is
                # glasstls's own object, never an _ssl._SSLSocket.
                assert not any(type(value).__module__ == "_ssl" for value in vars(tls).values())
            assert sock._sslobj is sock
            assert sock.context is client and served.context is server
            sock.sendall(b"ping")
            assert served.recv(4) == b"ping"
    bio = client.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="localhost")
    assert isinstance(bio, ssl.SSLObject) and isinstance(bio, TLSObject)
    with pytest.raises(TypeError, match="no public constructor"):
        TLSObject()
    with pytest.raises(TypeError, match="no public constructor"):
        TLSSocket()


def test_sslsocket_class_takes_only_glasstls_classes(files: dict[str, Path]) -> None:
    class Tagged(TLSSocket):
        tag = "mine"

    context = glass_context(files)
    context.sslsocket_class = Tagged
    with pytest.raises(TypeError, match="subclass of it"):
        context.sslsocket_class = ssl.SSLSocket
    with pytest.raises(TypeError, match="subclass of it"):
        context.sslobject_class = ssl.SSLObject
    server = glass_context(files, server=True)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        thread = threading.Thread(target=lambda: serve_one(listener, server))
        thread.start()
        with context.wrap_socket(socket.create_connection(listener.getsockname()),
                                 server_hostname="localhost") as sock:
            assert isinstance(sock, Tagged)
            assert sock.recv(5) == b"hello"
        thread.join(10)


def serve_one(listener: socket.socket, context: Any) -> None:
    plain, _ = listener.accept()
    with context.wrap_socket(plain, server_side=True) as tls:
        tls.sendall(b"hello")
        tls.recv(10)


# -- OpenSSL does no TLS work: X25519MLKEM768 against pyOpenSSL on OpenSSL 3.5+ ----


def pyopenssl_server(files: dict[str, Path], listener: socket.socket,
                     report: dict[str, Any]) -> None:
    """One connection: TLS 1.3, echo one line, then close_notify."""
    openssl_ssl = require_module("OpenSSL.SSL")
    ctx = openssl_ssl.Context(openssl_ssl.TLS_METHOD)
    ctx.set_min_proto_version(openssl_ssl.TLS1_3_VERSION)
    ctx.use_certificate_chain_file(str(files["cert"]))
    ctx.use_privatekey_file(str(files["key"]))
    plain, _ = listener.accept()
    # pyOpenSSL wants a blocking socket: kernel timeouts keep it from hanging.
    timeval = struct.pack("ll", 10, 0)
    plain.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
    plain.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
    with plain:
        tls = openssl_ssl.Connection(ctx, plain)
        tls.set_accept_state()
        tls.do_handshake()
        line = b""
        while not line.endswith(b"\n"):
            line += tls.recv(100)
        tls.sendall(b"echo: " + line)
        report["group"] = tls.get_group_name()
        tls.shutdown()


def with_pyopenssl_server(files: dict[str, Path], client: Any) -> dict[str, Any]:
    require_module("OpenSSL.SSL")
    report: dict[str, Any] = {}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        thread = threading.Thread(target=pyopenssl_server, args=(files, listener, report))
        thread.start()
        try:
            report["client"] = client(listener.getsockname()[1])
        finally:
            thread.join(15)
    return report


def test_system_openssl_cannot_negotiate_the_hybrid_group() -> None:
    """What makes the tests below a proof: the ssl module's OpenSSL has no ML-KEM."""
    assert ssl.OPENSSL_VERSION_INFO < (3, 5), "the system OpenSSL now has ML-KEM: this " \
        "proof needs another group that only glasstls has"
    with pytest.raises(ValueError, match="unknown elliptic curve"):
        ssl.create_default_context().set_ecdh_curve(HYBRID)


def test_wrap_socket_negotiates_the_hybrid_group(files: dict[str, Path]) -> None:
    def client(port: int) -> tuple[Any, ...]:
        context = glass_context(files)
        with context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                                 server_hostname="localhost") as sock:
            assert isinstance(sock, ssl.SSLSocket)
            sock.sendall(b"hybrid?\n")
            reply = b""
            while data := sock.recv(100):
                reply += data
            assert sock.negotiated is not None
            return sock.version(), sock.negotiated.group, reply

    report = with_pyopenssl_server(files, client)
    assert report["client"] == ("TLSv1.3", HYBRID, b"echo: hybrid?\n")
    assert report["group"] == HYBRID


def test_asyncio_over_wrap_bio_negotiates_the_hybrid_group(files: dict[str, Path]) -> None:
    async def talk(port: int) -> tuple[Any, ...]:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=glass_context(files), server_hostname="localhost")
        ssl_object = writer.get_extra_info("ssl_object")
        assert isinstance(ssl_object, ssl.SSLObject)
        writer.write(b"hybrid over asyncio?\n")
        reply = await reader.read()
        writer.close()
        return ssl_object.version(), ssl_object.negotiated.group, reply

    report = with_pyopenssl_server(files, lambda port: asyncio.run(
        asyncio.wait_for(talk(port), 20)))
    assert report["client"] == ("TLSv1.3", HYBRID, b"echo: hybrid over asyncio?\n")
    assert report["group"] == HYBRID


def test_glasstls_connect_sockets_are_ssl_sockets_too(files: dict[str, Path]) -> None:
    from io_helpers import client_config, server_config

    def echo(sock: TLSSocket, address: Any) -> None:
        sock.sendall(sock.recv(100))

    with (glasstls.serve(("127.0.0.1", 0), echo, config=server_config()) as server,
          glasstls.connect(server.address, config=client_config(),
                           server_hostname="localhost") as sock):
        assert isinstance(sock, ssl.SSLSocket)
        assert sock.context is None
        sock.sendall(b"x")
        assert sock.recv(1) == b"x"
        assert sock.negotiated is not None and sock.negotiated.group == HYBRID
