"""TLS 1.3 against the OpenSSL command line tools (``s_server`` / ``s_client``)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import pytest

from glasstls import NamedGroup
from glasstls.trace import HELLO_RETRY_REQUEST, RECEIVED, SENT

from .driver import Tracer, echo_once, glass_client
from .matrix import CERTS, GROUPS, SIGNATURES, SUITES, client_config, server_config
from .peer_output import OPENSSL_GROUPS, openssl_client_brief, openssl_trace_negotiated
from .processes import PeerProcess

pytestmark = pytest.mark.interop

MATRIX = list(itertools.product(SUITES, GROUPS, CERTS))

FROM_GLASS = b"hello from the glasstls client\n"
FROM_OPENSSL = b"hello from openssl s_server\n"
FROM_S_CLIENT = b"hello from openssl s_client\n"
REPLY_PREFIX = b"glasstls-server got: "



@dataclass
class OpenSSLPeer:
    process: PeerProcess
    trace_path: Path
    port: int = 0

    @property
    def trace(self) -> str:
        """The -trace log (complete once the process has exited)."""
        return self.trace_path.read_text(errors="replace")


@pytest.fixture
def s_server(openssl, pki_files, start_peer, tmp_path):
    """``s_server(cert, *options)`` -> OpenSSLPeer: one connection, -trace to a file."""

    def start(cert: str, *options: str) -> OpenSSLPeer:
        files = pki_files(cert)
        trace_path = tmp_path / "s_server.trace"
        # -msgfile keeps the trace apart from the application data on stdout.
        server = start_peer([
            openssl, "s_server", "-accept", "127.0.0.1:0", "-naccept", "1", "-tls1_3",
            "-cert", str(files["cert"]), "-key", str(files["key"]),
            "-trace", "-msgfile", str(trace_path), *options,
        ])
        port = int(server.wait_for(r"^ACCEPT 127\.0\.0\.1:(\d+)$").group(1))
        return OpenSSLPeer(server, trace_path, port)

    return start


def talk_to_s_server(peer: OpenSSLPeer, config):
    """Handshake, one line each way, close; returns the glasstls client's socket."""
    server = peer.process
    with glass_client(peer.port, config) as glass:
        glass.handshake()
        glass.send(FROM_GLASS)
        server.wait_for(FROM_GLASS.decode().strip())
        server.write(FROM_OPENSSL)
        assert glass.receive_until(b"\n") == FROM_OPENSSL
        glass.close()
        server.wait_for(r"^CONNECTION CLOSED$")
    assert server.wait() == 0, server.describe()
    return glass


@pytest.mark.parametrize(("suite", "group", "cert"), MATRIX)
def test_glasstls_client_to_openssl_s_server(s_server, suite, group, cert):
    server = s_server(cert, "-ciphersuites", suite, "-groups", OPENSSL_GROUPS[group])
    tracer = Tracer()
    glass = talk_to_s_server(server, client_config(cert, suite, group, tracer))

    done = glass.negotiated
    assert (done.version, done.cipher_suite, done.group) == ("TLSv1.3", suite, group)
    assert done.signature_scheme == SIGNATURES[cert]
    assert not tracer.saw(HELLO_RETRY_REQUEST)
    peer, retried = openssl_trace_negotiated(server.trace)
    assert (peer.version, peer.cipher_suite, peer.group) == ("TLSv1.3", suite, group)
    assert peer.signature_scheme == SIGNATURES[cert]
    assert not retried
    assert f"CIPHER is {suite}" in server.process.stdout


@pytest.fixture
def s_client(openssl, pki_files, start_peer, tmp_path):
    """``s_client(port, cert, *options)`` -> OpenSSLPeer: verifies the server, keeps
    stdin open, -trace to a file."""

    def start(port: int, cert: str, *options: str) -> OpenSSLPeer:
        files = pki_files(cert)
        trace_path = tmp_path / "s_client.trace"
        client = start_peer([
            openssl, "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_3",
            "-CAfile", str(files["ca"]), "-verify_return_error", "-verify_ip", "127.0.0.1",
            "-brief", "-ign_eof", "-trace", "-msgfile", str(trace_path), *options,
        ])
        return OpenSSLPeer(client, trace_path)

    return start


def talk_to_s_client(peer: OpenSSLPeer, server):
    """One line from s_client, the glasstls server's answer back, then close_notify."""
    client = peer.process
    client.write(FROM_S_CLIENT)
    assert server.join() == FROM_S_CLIENT
    assert client.wait() == 0, client.describe()
    assert (REPLY_PREFIX + FROM_S_CLIENT).decode() in client.stdout
    assert "Verification: OK" in client.output


@pytest.mark.parametrize(("suite", "group", "cert"), MATRIX)
def test_openssl_s_client_to_glasstls_server(s_client, start_glass_server, suite, group, cert):
    tracer = Tracer()
    server = start_glass_server(server_config(cert, suite, group, tracer),
                                echo_once(REPLY_PREFIX))
    client = s_client(server.port, cert, "-ciphersuites", suite, "-groups", OPENSSL_GROUPS[group])
    talk_to_s_client(client, server)

    done = server.glass.negotiated
    assert (done.version, done.cipher_suite, done.group) == ("TLSv1.3", suite, group)
    assert done.signature_scheme == SIGNATURES[cert]
    assert not tracer.saw(HELLO_RETRY_REQUEST)
    brief = openssl_client_brief(client.process.output)
    assert (brief.version, brief.cipher_suite, brief.group) == ("TLSv1.3", suite, group)
    peer, retried = openssl_trace_negotiated(client.trace)
    assert (peer.cipher_suite, peer.group) == (suite, group)
    assert peer.signature_scheme == SIGNATURES[cert]
    assert not retried


@pytest.mark.parametrize("cert", CERTS)
def test_glasstls_client_retries_when_s_server_wants_p384(s_server, cert):
    # glasstls sends X25519MLKEM768 and x25519 shares; OpenSSL 3.0 knows only P-384
    # here, so it must answer with a HelloRetryRequest for secp384r1.
    server = s_server(cert, "-groups", "P-384")
    tracer = Tracer()
    config = client_config(cert, tracer=tracer)
    assert NamedGroup.secp384r1 not in config.key_share_groups
    glass = talk_to_s_server(server, config)

    assert tracer.saw(HELLO_RETRY_REQUEST, RECEIVED), tracer.names()
    done = glass.negotiated
    assert (done.version, done.group) == ("TLSv1.3", "secp384r1")
    peer, retried = openssl_trace_negotiated(server.trace)
    assert retried, "s_server did not log a HelloRetryRequest"
    assert (peer.version, peer.cipher_suite, peer.group) == (
        "TLSv1.3", done.cipher_suite, "secp384r1")


@pytest.mark.parametrize("cert", CERTS)
def test_glasstls_server_retries_when_s_client_shares_x25519(s_client, start_glass_server, cert):
    # s_client sends a share for its first group only (x25519); a glasstls server
    # configured for P-256 alone must ask again with a HelloRetryRequest.
    tracer = Tracer()
    server = start_glass_server(server_config(cert, group="secp256r1", tracer=tracer),
                                echo_once(REPLY_PREFIX))
    client = s_client(server.port, cert, "-groups", "X25519:P-256")
    talk_to_s_client(client, server)

    assert tracer.saw(HELLO_RETRY_REQUEST, SENT), tracer.names()
    done = server.glass.negotiated
    assert (done.version, done.group) == ("TLSv1.3", "secp256r1")
    peer, retried = openssl_trace_negotiated(client.trace)
    assert retried, "s_client did not log a HelloRetryRequest"
    assert (peer.cipher_suite, peer.group) == (done.cipher_suite, "secp256r1")
    brief = openssl_client_brief(client.process.output)
    assert (brief.version, brief.group) == ("TLSv1.3", "secp256r1")


