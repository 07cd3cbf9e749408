"""TLS 1.3 against Python's ``ssl`` module (the system OpenSSL), in a thread on loopback.

``ssl`` cannot choose TLS 1.3 suites, so glasstls pins the suite; both sides pin
the group (``set_ecdh_curve`` sets the OpenSSL 3 group list). Python only
reports the group from 3.15 (``SSLSocket.group()``); it is checked when present.
"""

from __future__ import annotations

import socket
import ssl

import pytest

from glasstls.trace import HELLO_RETRY_REQUEST
from peers import require_module

from .driver import TIMEOUT, Background, Tracer, echo_once, glass_client, listen
from .matrix import DIAGONAL, client_config, server_config

pytestmark = pytest.mark.interop

PYTHON_GROUPS = {"x25519": "X25519", "secp256r1": "prime256v1", "secp384r1": "secp384r1"}
FROM_GLASS = b"hello from the glasstls client\n"
FROM_PYTHON = b"hello from python ssl\n"
REPLY_PREFIX = b"glasstls-server got: "


def peer_view(tls: ssl.SSLSocket) -> dict[str, object]:
    cipher = tls.cipher()
    view: dict[str, object] = {"version": tls.version(), "cipher_suite": cipher and cipher[0]}
    group = getattr(tls, "group", None)
    if group is not None:
        view["group"] = group()
    return view


def read_line(tls: ssl.SSLSocket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = tls.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def read_to_end(tls: ssl.SSLSocket) -> bytes:
    data = b""
    while chunk := tls.recv(4096):
        data += chunk
    return data


def python_server(listener: socket.socket, context: ssl.SSLContext) -> tuple[bytes, dict]:
    """Accept one client, read its line, answer, read to its close_notify."""
    conn, _ = listener.accept()
    conn.settimeout(TIMEOUT)
    with context.wrap_socket(conn, server_side=True) as tls:
        line = read_line(tls)
        tls.sendall(FROM_PYTHON)
        view = peer_view(tls)
        assert read_to_end(tls) == b""
        return line, view


@pytest.fixture
def ssl_context(pki_files):
    """``ssl_context(purpose, cert, group)``: TLS 1.3 only, the group pinned."""
    require_module("ssl")

    def make(purpose: ssl.Purpose, cert: str, group: str) -> ssl.SSLContext:
        files = pki_files(cert)
        if purpose is ssl.Purpose.CLIENT_AUTH:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(files["cert"], files["key"])
        else:
            context = ssl.create_default_context(cafile=str(files["ca"]))
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.set_ecdh_curve(PYTHON_GROUPS[group])
        return context

    return make


@pytest.mark.parametrize(("suite", "group", "cert"), DIAGONAL)
def test_glasstls_client_to_python_ssl_server(ssl_context, suite, group, cert):
    context = ssl_context(ssl.Purpose.CLIENT_AUTH, cert, group)
    tracer = Tracer()
    with listen() as listener:
        peer = Background(python_server, listener, context)
        with glass_client(listener.getsockname()[1],
                          client_config(cert, suite, group, tracer)) as glass:
            done = glass.handshake()
            glass.send(FROM_GLASS)
            assert glass.receive_until(b"\n") == FROM_PYTHON
            glass.close()
            line, view = peer.join()

    assert line == FROM_GLASS
    assert (done.version, done.cipher_suite, done.group) == ("TLSv1.3", suite, group)
    assert not tracer.saw(HELLO_RETRY_REQUEST)
    assert view["version"] == "TLSv1.3"
    assert view["cipher_suite"] == suite
    assert view.get("group", group) in (group, PYTHON_GROUPS[group])


def python_client(port: int, context: ssl.SSLContext) -> tuple[bytes, dict]:
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(FROM_PYTHON)
        return read_to_end(tls), peer_view(tls)


@pytest.mark.parametrize(("suite", "group", "cert"), DIAGONAL)
def test_python_ssl_client_to_glasstls_server(ssl_context, start_glass_server,
                                              suite, group, cert):
    context = ssl_context(ssl.Purpose.SERVER_AUTH, cert, group)
    tracer = Tracer()
    server = start_glass_server(server_config(cert, suite, group, tracer),
                                echo_once(REPLY_PREFIX))
    reply, view = python_client(server.port, context)

    assert server.join() == FROM_PYTHON
    assert reply == REPLY_PREFIX + FROM_PYTHON
    done = server.glass.negotiated
    assert (done.version, done.cipher_suite, done.group) == ("TLSv1.3", suite, group)
    assert not tracer.saw(HELLO_RETRY_REQUEST)
    assert view["version"] == "TLSv1.3"
    assert view["cipher_suite"] == suite
    assert view.get("group", group) in (group, PYTHON_GROUPS[group])
