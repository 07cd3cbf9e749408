"""RFC 5705 keying material exporters of TLS 1.2 against OpenSSL, through pyOpenSSL's
``Connection.export_keying_material`` (``SSL_export_keying_material``), both ways.

RFC 5705 §4 makes "no context" and "an empty context" different inputs; both sides
must agree on each, and on the SHA-384 PRF of the AES-256-GCM suites.
"""

from __future__ import annotations

import socket

import pytest

from peers import require_module

from .driver import TIMEOUT, Background, echo_once, glass_client, listen
from .matrix12 import SUITES12, client_config12, server_config12
from .test_pyopenssl import bounded, read_line, read_to_close_notify

pytestmark = pytest.mark.interop

LABEL = "EXPERIMENTAL-glasstls-interop"
CONTEXTS = (None, b"", b"a context value")
LENGTH = 48
FROM_GLASS = b"hello from the glasstls client\n"
FROM_PYOPENSSL = b"hello from pyOpenSSL\n"
SUITES = ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")


@pytest.fixture
def pyopenssl():
    return require_module("OpenSSL.SSL")


def context12(pyopenssl, files, server: bool, suite: str):
    ctx = pyopenssl.Context(pyopenssl.TLS_METHOD)
    ctx.set_max_proto_version(pyopenssl.TLS1_2_VERSION)
    ctx.set_cipher_list(SUITES12[suite].openssl.encode())
    if server:
        ctx.use_certificate_chain_file(str(files["cert"]))
        ctx.use_privatekey_file(str(files["key"]))
    else:
        ctx.load_verify_locations(str(files["ca"]))
        ctx.set_verify(pyopenssl.VERIFY_PEER, lambda *args: args[-1])
    return ctx


def exported(connection) -> list[bytes]:
    return [connection.export_keying_material(LABEL.encode(), LENGTH, context)
            for context in CONTEXTS]


def glass_exported(connection) -> list[bytes]:
    return [connection.export_keying_material(LABEL, context, LENGTH) for context in CONTEXTS]


def pyopenssl_server(pyopenssl, listener, ctx):
    conn, _ = listener.accept()
    with bounded(conn):
        tls = pyopenssl.Connection(ctx, conn)
        tls.set_accept_state()
        tls.do_handshake()
        line = read_line(pyopenssl, tls)
        tls.sendall(FROM_PYOPENSSL)
        values = exported(tls)
        version = tls.get_protocol_version_name()
        assert read_to_close_notify(pyopenssl, tls) == b""
        return line, version, values


@pytest.mark.parametrize("suite", SUITES)
def test_glasstls_client_and_pyopenssl_server_export_the_same_tls12_keying_material(
        pyopenssl, pki_files, suite):
    ctx = context12(pyopenssl, pki_files(SUITES12[suite].cert), server=True, suite=suite)
    with listen() as listener:
        peer = Background(pyopenssl_server, pyopenssl, listener, ctx)
        with glass_client(listener.getsockname()[1], client_config12(suite)) as glass:
            assert glass.handshake().cipher_suite == suite
            glass.send(FROM_GLASS)
            assert glass.receive_until(b"\n") == FROM_PYOPENSSL
            ours = glass_exported(glass.connection)
            glass.close()
            line, version, theirs = peer.join()

    assert (line, version) == (FROM_GLASS, "TLSv1.2")
    assert ours == theirs
    assert len(set(ours)) == len(CONTEXTS)


def pyopenssl_client(pyopenssl, port, ctx):
    with bounded(socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)) as sock:
        tls = pyopenssl.Connection(ctx, sock)
        tls.set_tlsext_host_name(b"localhost")
        tls.set_connect_state()
        tls.do_handshake()
        values = exported(tls)
        tls.sendall(FROM_PYOPENSSL)
        read_to_close_notify(pyopenssl, tls)
        return tls.get_protocol_version_name(), values


@pytest.mark.parametrize("suite", SUITES)
def test_pyopenssl_client_and_glasstls_server_export_the_same_tls12_keying_material(
        pyopenssl, pki_files, start_glass_server, suite):
    ctx = context12(pyopenssl, pki_files(SUITES12[suite].cert), server=False, suite=suite)
    ours: list[bytes] = []

    def handler(glass):
        line = echo_once()(glass)
        ours.extend(glass_exported(glass.connection))
        return line

    server = start_glass_server(server_config12(suite), handler)
    version, theirs = pyopenssl_client(pyopenssl, server.port, ctx)

    assert server.join() == FROM_PYOPENSSL
    assert version == "TLSv1.2"
    assert server.glass.negotiated.cipher_suite == suite
    assert ours == theirs
    assert len(set(ours)) == len(CONTEXTS)
