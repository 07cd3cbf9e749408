"""TLS 1.3 against GnuTLS (``gnutls-serv --echo`` / ``gnutls-cli``), suite and group
pinned with ``--priority`` strings; each side reads GnuTLS's own session summary."""

from __future__ import annotations

import itertools

import pytest

from glasstls.trace import HELLO_RETRY_REQUEST, RECEIVED, SENT
from peers import require_binary

from .driver import Tracer, echo_once, glass_client
from .matrix import CERTS, GROUPS, SIGNATURES, SUITES, client_config, server_config
from .peer_output import GNUTLS_CIPHERS, GNUTLS_GROUPS, gnutls_description
from .processes import start_gnutls_serv

pytestmark = pytest.mark.interop

MATRIX = list(itertools.product(SUITES, GROUPS, CERTS))

FROM_GLASS = b"hello from the glasstls client\n"
FROM_GNUTLS = b"hello from gnutls-cli\n"
REPLY_PREFIX = b"glasstls-server got: "


def priority(suite: str, group: str) -> str:
    return (f"NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+{GNUTLS_CIPHERS[suite]}"
            f":-GROUP-ALL:+GROUP-{GNUTLS_GROUPS[group]}")


@pytest.fixture
def gnutls_serv(pki_files, start_peer):
    """``gnutls_serv(cert, priority)`` -> (process, port) of an echo server."""
    binary = require_binary("gnutls-serv")

    def start(cert: str, priority: str):
        files = pki_files(cert)
        return start_gnutls_serv(start_peer, binary, "--priority", priority,
                                 "--x509certfile", str(files["cert"]),
                                 "--x509keyfile", str(files["key"]))

    return start


@pytest.mark.parametrize(("suite", "group", "cert"), MATRIX)
def test_glasstls_client_to_gnutls_serv(gnutls_serv, suite, group, cert):
    server, port = gnutls_serv(cert, priority(suite, group))
    tracer = Tracer()
    with glass_client(port, client_config(cert, suite, group, tracer)) as glass:
        done = glass.handshake()
        glass.send(FROM_GLASS)
        # The echo server answers with our own line: bytes it decrypted and re-encrypted.
        assert glass.receive_until(b"\n") == FROM_GLASS
        glass.close()
        server.wait_for(r"^- Description: ")
        server.wait_for(r"Processing \d+ bytes command: " + FROM_GLASS.decode().strip())

    assert (done.version, done.cipher_suite, done.group) == ("TLSv1.3", suite, group)
    assert done.signature_scheme == SIGNATURES[cert]
    assert not tracer.saw(HELLO_RETRY_REQUEST)
    peer = gnutls_description(server.stdout)
    assert (peer.version, peer.cipher_suite, peer.group) == ("TLSv1.3", suite, group)
    assert peer.signature_scheme == SIGNATURES[cert]


@pytest.mark.parametrize(("suite", "group", "cert"), MATRIX)
def test_gnutls_cli_to_glasstls_server(pki_files, start_peer, start_glass_server,
                                       suite, group, cert):
    binary = require_binary("gnutls-cli")
    tracer = Tracer()
    server = start_glass_server(server_config(cert, suite, group, tracer),
                                echo_once(REPLY_PREFIX))
    client = start_peer([
        binary, "--port", str(server.port), "--priority", priority(suite, group),
        "--x509cafile", str(pki_files(cert)["ca"]), "127.0.0.1",
    ])
    client.write(FROM_GNUTLS)

    assert server.join() == FROM_GNUTLS
    assert client.wait() == 0, client.describe()
    assert (REPLY_PREFIX + FROM_GNUTLS).decode() in client.stdout
    assert "- Status: The certificate is trusted." in client.stdout
    done = server.glass.negotiated
    assert (done.version, done.cipher_suite, done.group) == ("TLSv1.3", suite, group)
    assert done.signature_scheme == SIGNATURES[cert]
    assert not tracer.saw(HELLO_RETRY_REQUEST)
    peer = gnutls_description(client.stdout)
    assert (peer.version, peer.cipher_suite, peer.group) == ("TLSv1.3", suite, group)
    assert peer.signature_scheme == SIGNATURES[cert]


def test_glasstls_client_retries_when_gnutls_serv_wants_p384(gnutls_serv):
    # glasstls shares X25519MLKEM768 and x25519; GnuTLS accepts only P-384.
    server, port = gnutls_serv("ecdsa", "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-SECP384R1")
    tracer = Tracer()
    with glass_client(port, client_config("ecdsa", tracer=tracer)) as glass:
        done = glass.handshake()
        glass.send(FROM_GLASS)
        assert glass.receive_until(b"\n") == FROM_GLASS
        glass.close()
        server.wait_for(r"^- Description: ")

    assert tracer.saw(HELLO_RETRY_REQUEST, RECEIVED), tracer.names()
    assert (done.version, done.group) == ("TLSv1.3", "secp384r1")
    peer = gnutls_description(server.stdout)
    assert (peer.version, peer.cipher_suite, peer.group) == (
        "TLSv1.3", done.cipher_suite, "secp384r1")


def test_glasstls_server_retries_when_gnutls_cli_shares_other_groups(
        pki_files, start_peer, start_glass_server):
    # gnutls-cli sends key shares for x25519 and P-256 only; the server wants P-384.
    binary = require_binary("gnutls-cli")
    tracer = Tracer()
    server = start_glass_server(server_config("rsa", group="secp384r1", tracer=tracer),
                                echo_once(REPLY_PREFIX))
    client = start_peer([
        binary, "--port", str(server.port), "--x509cafile", str(pki_files("rsa")["ca"]),
        "--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL"
        ":+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1", "127.0.0.1",
    ])
    client.write(FROM_GNUTLS)

    assert server.join() == FROM_GNUTLS
    assert client.wait() == 0, client.describe()
    assert (REPLY_PREFIX + FROM_GNUTLS).decode() in client.stdout
    assert tracer.saw(HELLO_RETRY_REQUEST, SENT), tracer.names()
    done = server.glass.negotiated
    assert (done.version, done.group) == ("TLSv1.3", "secp384r1")
    peer = gnutls_description(client.stdout)
    assert (peer.version, peer.cipher_suite, peer.group) == (
        "TLSv1.3", done.cipher_suite, "secp384r1")
