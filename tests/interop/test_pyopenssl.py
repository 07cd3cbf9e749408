"""TLS 1.3 with the post-quantum hybrid X25519MLKEM768, against pyOpenSSL on the
OpenSSL bundled with ``cryptography`` (OpenSSL 3.5+ prefers X25519MLKEM768).

pyOpenSSL reports the group itself (``Connection.get_group_name()``), so both
sides' views are checked. Neither side pins the group: X25519MLKEM768 must win
on both sides' default preferences.
"""

from __future__ import annotations

import socket
import struct

import pytest

from glasstls.trace import HELLO_RETRY_REQUEST
from peers import require_module

from .driver import TIMEOUT, Background, Tracer, echo_once, glass_client, listen
from .matrix import CERTS, SUITES, client_config, server_config

pytestmark = pytest.mark.interop

HYBRID = "X25519MLKEM768"
FROM_GLASS = b"hello from the glasstls client\n"
FROM_PYOPENSSL = b"hello from pyOpenSSL\n"
REPLY_PREFIX = b"glasstls-server got: "
CASES = [(suite, cert) for suite in SUITES for cert in CERTS]


@pytest.fixture
def pyopenssl():
    """The ``OpenSSL.SSL`` module."""
    module = require_module("OpenSSL.SSL")
    if not hasattr(module.Connection, "get_group_name"):
        pytest.fail("pyOpenSSL is too old to report the negotiated group")
    return module


def bounded(sock: socket.socket) -> socket.socket:
    """pyOpenSSL needs a blocking socket; kernel timeouts keep it from hanging."""
    sock.settimeout(None)
    timeval = struct.pack("ll", int(TIMEOUT), 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
    return sock


def peer_view(connection) -> tuple[str, str, str]:
    return (connection.get_protocol_version_name(), connection.get_cipher_name(),
            connection.get_group_name())


def read_line(pyopenssl, connection) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        try:
            data += connection.recv(4096)
        except pyopenssl.ZeroReturnError:
            break
    return data


def read_to_close_notify(pyopenssl, connection) -> bytes:
    data = b""
    while True:
        try:
            data += connection.recv(4096)
        except pyopenssl.ZeroReturnError:
            return data


def context(pyopenssl, files, server: bool, suite: str):
    ctx = pyopenssl.Context(pyopenssl.TLS_METHOD)
    ctx.set_min_proto_version(pyopenssl.TLS1_3_VERSION)
    ctx.set_tls13_ciphersuites(suite.encode())
    if server:
        ctx.use_certificate_chain_file(str(files["cert"]))
        ctx.use_privatekey_file(str(files["key"]))
    else:
        ctx.load_verify_locations(str(files["ca"]))
        ctx.set_verify(pyopenssl.VERIFY_PEER, lambda *args: args[-1])
    return ctx


def pyopenssl_server(pyopenssl, listener, ctx, view=peer_view):
    """Accept one connection: read a line, answer, return (line, ``view`` of the
    connection) after the client's close_notify."""
    conn, _ = listener.accept()
    with bounded(conn):
        tls = pyopenssl.Connection(ctx, conn)
        tls.set_accept_state()
        tls.do_handshake()
        line = read_line(pyopenssl, tls)
        tls.sendall(FROM_PYOPENSSL)
        seen = view(tls)
        assert read_to_close_notify(pyopenssl, tls) == b""
        tls.shutdown()
        return line, seen


@pytest.mark.parametrize(("suite", "cert"), CASES)
def test_glasstls_client_to_pyopenssl_server_negotiates_mlkem(pyopenssl, pki_files, suite, cert):
    ctx = context(pyopenssl, pki_files(cert), server=True, suite=suite)
    tracer = Tracer()
    config = client_config(cert, suite=suite, tracer=tracer)
    with listen() as listener:
        peer = Background(pyopenssl_server, pyopenssl, listener, ctx)
        with glass_client(listener.getsockname()[1], config) as glass:
            done = glass.handshake()
            glass.send(FROM_GLASS)
            assert glass.receive_until(b"\n") == FROM_PYOPENSSL
            glass.close()
            line, view = peer.join()

    assert line == FROM_GLASS
    assert (done.version, done.cipher_suite, done.group) == ("TLSv1.3", suite, HYBRID)
    assert not tracer.saw(HELLO_RETRY_REQUEST)
    assert view == ("TLSv1.3", suite, HYBRID)


def pyopenssl_client(pyopenssl, port, ctx, view=peer_view):
    with bounded(socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)) as sock:
        tls = pyopenssl.Connection(ctx, sock)
        tls.set_tlsext_host_name(b"localhost")
        tls.set_connect_state()
        tls.do_handshake()
        tls.sendall(FROM_PYOPENSSL)
        reply = read_to_close_notify(pyopenssl, tls)
        return reply, view(tls)


@pytest.mark.parametrize(("suite", "cert"), CASES)
def test_pyopenssl_client_to_glasstls_server_negotiates_mlkem(pyopenssl, pki_files,
                                                              start_glass_server,
                                                              suite, cert):
    ctx = context(pyopenssl, pki_files(cert), server=False, suite=suite)
    tracer = Tracer()
    server = start_glass_server(server_config(cert, suite=suite, tracer=tracer),
                                echo_once(REPLY_PREFIX))
    reply, view = pyopenssl_client(pyopenssl, server.port, ctx)

    assert server.join() == FROM_PYOPENSSL
    assert reply == REPLY_PREFIX + FROM_PYOPENSSL
    done = server.glass.negotiated
    assert (done.version, done.cipher_suite, done.group) == ("TLSv1.3", suite, HYBRID)
    assert not tracer.saw(HELLO_RETRY_REQUEST)
    assert view == ("TLSv1.3", suite, HYBRID)
