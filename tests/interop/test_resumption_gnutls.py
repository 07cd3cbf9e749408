"""Resumption with GnuTLS, both versions. ``gnutls-cli --resume`` against a glasstls
server: the second connection resumes (TLS 1.3 ticket; TLS 1.2 ticket, or session id alone when the
priority string has %NO_TICKETS: GnuTLS 3.7 still sends a ticket with --noticket),
as GnuTLS reports and as the glasstls server's HandshakeComplete says. And a glasstls
client resumes against ``gnutls-serv``."""

from __future__ import annotations

import pytest

from glasstls import ClientConfig, ServerConfig
from glasstls.constants import TLS12, TLS13, ExtensionType as X
from glasstls.messages.extensions import find
from peers import require_binary

from .driver import GlassSocket, glass_client
from .matrix import cert_pki
from .peer_output import gnutls_description
from .processes import start_gnutls_serv

pytestmark = pytest.mark.interop

CERT = "ecdsa"
FROM_GNUTLS = b"hello from gnutls-cli, resumed\n"
CASES = {
    "TLS13-ticket": (TLS13, "NORMAL:-VERS-ALL:+VERS-TLS1.3", ()),
    "TLS12-ticket": (TLS12, "NORMAL:-VERS-ALL:+VERS-TLS1.2", ()),
    "TLS12-session-id": (TLS12, "NORMAL:-VERS-ALL:+VERS-TLS1.2:%NO_TICKETS", ("--noticket",)),
}


def until_closed(glass: GlassSocket) -> bytes:
    """A server handler: handshake, then everything the client sends until it closes."""
    glass.handshake()
    return glass.receive_until_closed()


@pytest.mark.parametrize("case", CASES)
def test_gnutls_cli_resume_resumes_a_glasstls_session(pki_files, start_peer,
                                                      start_glass_server, case: str) -> None:
    version, priority, options = CASES[case]
    binary = require_binary("gnutls-cli")
    # keep_client_hello: the test looks at what the resuming ClientHello carried.
    config = ServerConfig(certificates=(cert_pki(CERT).certified,), versions=(version,),
                          keep_client_hello=True)
    server = start_glass_server(config, until_closed, connections=2)
    client = start_peer([
        binary, "--resume", "--port", str(server.port), "--priority", priority,
        "--x509cafile", str(pki_files(CERT)["ca"]), *options, "127.0.0.1",
    ])
    client.wait_for(r"^\*\*\* This is a resumed session$")
    client.write(FROM_GNUTLS)
    client.close_stdin()
    assert client.wait() == 0, client.describe()
    server.join()

    assert [glass.negotiated.resumed for glass in server.sockets] == [False, True]
    assert server.results == [b"", FROM_GNUTLS]
    assert "- Resume Handshake was completed" in client.stdout
    name = "TLSv1.3" if version == TLS13 else "TLSv1.2"
    assert gnutls_description(client.stdout).version == name
    assert all(glass.negotiated.version == name for glass in server.sockets)
    # What the resuming ClientHello carried: a PSK, a ticket, or only a session id.
    hello = server.sockets[1].connection.client_hello
    ticket = find(hello.extensions, X.session_ticket)
    if version == TLS13:
        assert find(hello.extensions, X.pre_shared_key) is not None
    elif options:
        assert ticket is None or not ticket.data
        assert hello.legacy_session_id
    else:
        assert ticket is not None and ticket.data


@pytest.mark.parametrize("version", [TLS13, TLS12], ids=["TLS13", "TLS12"])
def test_glasstls_client_resumes_against_gnutls_serv(pki_files, start_peer,
                                                     version: int) -> None:
    binary = require_binary("gnutls-serv")
    files = pki_files(CERT)
    priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3" if version == TLS13 else (
        "NORMAL:-VERS-ALL:+VERS-TLS1.2")
    server, port = start_gnutls_serv(start_peer, binary, "--priority", priority,
                                     "--x509certfile", str(files["cert"]),
                                     "--x509keyfile", str(files["key"]))
    config = ClientConfig(trust=cert_pki(CERT).trust, versions=(version,))
    done = []
    for number in range(2):
        with glass_client(port, config) as glass:
            done.append(glass.handshake())
            glass.send(b"echo %d\n" % number)
            assert glass.receive_until(b"\n") == b"echo %d\n" % number
            glass.close()
        server.wait_for(rf"(?:^- Description: [\s\S]*){{{number + 1}}}")
    assert [d.resumed for d in done] == [False, True]
    server.wait_for(r"^\*\*\* This is a resumed session$")
    assert server.stdout.count("*** This is a resumed session") == 1, server.describe()
