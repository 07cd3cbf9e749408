"""TLS 1.2 against Python's ``ssl`` module (the system OpenSSL), pinned with
``maximum_version = TLSv1_2`` and the suite's OpenSSL name, in a thread on loopback.

Python reports the version and suite; the group only from Python 3.15 (checked when
present). Python's key log (``keylog_filename``) must hold the master secret glasstls
logged: the two extended master secret derivations agree.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest

from peers import require_module

from .driver import TIMEOUT, Background, KeyLog, echo_once, glass_client, listen
from .matrix12 import DIAGONAL12, SUITES12, case_id, client_config12, server_config12
from .test_python_ssl import PYTHON_GROUPS, peer_view, read_line, read_to_end

pytestmark = pytest.mark.interop

FROM_GLASS = b"hello from the glasstls client\n"
FROM_PYTHON = b"hello from python ssl\n"
REPLY_PREFIX = b"glasstls-server got: "


def python_master_secret(keylog: Path) -> bytes:
    (line,) = [entry for entry in keylog.read_text().splitlines()
               if entry.startswith("CLIENT_RANDOM ")]
    return bytes.fromhex(line.split()[2])


@pytest.fixture
def ssl_context12(pki_files, tmp_path):
    """``ssl_context12(purpose, suite, group)``: at most TLS 1.2, suite (and group) pinned,
    key log in ``tmp_path / "python.keylog"``."""
    require_module("ssl")

    def make(purpose: ssl.Purpose, suite: str, group: str | None) -> ssl.SSLContext:
        files = pki_files(SUITES12[suite].cert)
        if purpose is ssl.Purpose.CLIENT_AUTH:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(files["cert"], files["key"])
        else:
            context = ssl.create_default_context(cafile=str(files["ca"]))
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(SUITES12[suite].openssl)
        if group is not None:
            context.set_ecdh_curve(PYTHON_GROUPS[group])
        context.keylog_filename = str(tmp_path / "python.keylog")
        return context

    return make


def python_server(listener: socket.socket, context: ssl.SSLContext) -> tuple[bytes, dict]:
    conn, _ = listener.accept()
    conn.settimeout(TIMEOUT)
    with context.wrap_socket(conn, server_side=True) as tls:
        line = read_line(tls)
        tls.sendall(FROM_PYTHON)
        view = peer_view(tls)
        assert read_to_end(tls) == b""
        return line, view


@pytest.mark.parametrize(("suite", "group"), DIAGONAL12, ids=case_id)
def test_glasstls_client_to_python_ssl_server_tls12(ssl_context12, tmp_path, suite, group):
    context = ssl_context12(ssl.Purpose.CLIENT_AUTH, suite, group)
    keylog = KeyLog()
    with listen() as listener:
        peer = Background(python_server, listener, context)
        with glass_client(listener.getsockname()[1],
                          client_config12(suite, keylog=keylog)) as glass:
            done = glass.handshake()
            glass.send(FROM_GLASS)
            assert glass.receive_until(b"\n") == FROM_PYTHON
            glass.close()
            line, view = peer.join()

    assert line == FROM_GLASS
    assert (done.version, done.cipher_suite, done.group) == ("TLSv1.2", suite, group)
    assert done.extended_master_secret is True
    assert (view["version"], view["cipher_suite"]) == ("TLSv1.2", SUITES12[suite].openssl)
    if group is not None:
        assert view.get("group", group) in (group, PYTHON_GROUPS[group])
    assert python_master_secret(tmp_path / "python.keylog") == keylog.master_secret()


def python_client(port: int, context: ssl.SSLContext) -> tuple[bytes, dict]:
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(FROM_PYTHON)
        return read_to_end(tls), peer_view(tls)


@pytest.mark.parametrize(("suite", "group"), DIAGONAL12, ids=case_id)
def test_python_ssl_client_to_glasstls_server_tls12(ssl_context12, start_glass_server, tmp_path,
                                                    suite, group):
    context = ssl_context12(ssl.Purpose.SERVER_AUTH, suite, None)
    keylog = KeyLog()
    server = start_glass_server(server_config12(suite, group, keylog=keylog),
                                echo_once(REPLY_PREFIX))
    reply, view = python_client(server.port, context)

    assert server.join() == FROM_PYTHON
    assert reply == REPLY_PREFIX + FROM_PYTHON
    done = server.glass.negotiated
    assert (done.version, done.cipher_suite, done.group) == ("TLSv1.2", suite, group)
    assert done.extended_master_secret is True
    assert (view["version"], view["cipher_suite"]) == ("TLSv1.2", SUITES12[suite].openssl)
    assert python_master_secret(tmp_path / "python.keylog") == keylog.master_secret()
