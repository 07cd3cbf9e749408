"""TLS 1.2 against GnuTLS (``gnutls-serv --echo`` / ``gnutls-cli``), the version, key
exchange, cipher and group pinned with ``--priority``; each side reads GnuTLS's own
session summary (``- Description:`` and ``- Options: extended master secret``)."""

from __future__ import annotations

import pytest

from peers import require_binary

from .driver import echo_once, glass_client
from .matrix12 import DIAGONAL12, SUITES12, case_id, client_config12, server_config12
from .peer_output import GNUTLS_GROUPS, Negotiated12, gnutls_description12
from .test_gnutls import gnutls_serv  # noqa: F401  (the fixture)

pytestmark = pytest.mark.interop

FROM_GLASS = b"hello from the glasstls client\n"
FROM_GNUTLS = b"hello from gnutls-cli\n"
REPLY_PREFIX = b"glasstls-server got: "


def priority12(suite: str, group: str | None) -> str:
    s = SUITES12[suite]
    text = (f"NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+{s.gnutls_cipher}"
            f":-KX-ALL:+{s.gnutls_kx}")
    if group is not None:
        text += f":-GROUP-ALL:+GROUP-{GNUTLS_GROUPS[group]}"
    return text


@pytest.mark.parametrize(("suite", "group"), DIAGONAL12, ids=case_id)
def test_glasstls_client_to_gnutls_serv_tls12(gnutls_serv, suite, group):  # noqa: F811
    server, port = gnutls_serv(SUITES12[suite].cert, priority12(suite, group))
    with glass_client(port, client_config12(suite)) as glass:
        done = glass.handshake()
        glass.send(FROM_GLASS)
        # The echo server answers with our own line: bytes it decrypted and re-encrypted.
        assert glass.receive_until(b"\n") == FROM_GLASS
        glass.close()
        server.wait_for(r"^- Options: ")
        server.wait_for(r"Processing \d+ bytes command: " + FROM_GLASS.decode().strip())

    assert (done.version, done.cipher_suite, done.group) == ("TLSv1.2", suite, group)
    assert done.extended_master_secret is True
    assert gnutls_description12(server.stdout) == Negotiated12("TLSv1.2", suite, group, True)


@pytest.mark.parametrize(("suite", "group"), DIAGONAL12, ids=case_id)
def test_gnutls_cli_to_glasstls_server_tls12(pki_files, start_peer, start_glass_server,
                                             suite, group):
    binary = require_binary("gnutls-cli")
    server = start_glass_server(server_config12(suite, group), echo_once(REPLY_PREFIX))
    client = start_peer([
        binary, "--port", str(server.port), "--priority", priority12(suite, None),
        "--x509cafile", str(pki_files(SUITES12[suite].cert)["ca"]), "127.0.0.1",
    ])
    client.write(FROM_GNUTLS)

    assert server.join() == FROM_GNUTLS
    assert client.wait() == 0, client.describe()
    assert (REPLY_PREFIX + FROM_GNUTLS).decode() in client.stdout
    assert "- Status: The certificate is trusted." in client.stdout
    done = server.glass.negotiated
    assert (done.version, done.cipher_suite, done.group) == ("TLSv1.2", suite, group)
    assert done.extended_master_secret is True
    assert gnutls_description12(client.stdout) == Negotiated12("TLSv1.2", suite, group, True)


@pytest.mark.parametrize("suite", ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                                   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"])
def test_full_size_tls12_records_cross_gnutls_serv_both_ways(gnutls_serv, suite):  # noqa: F811
    # 60 kB: several 16 kB records each way (explicit-nonce GCM and ChaCha20 nonces).
    _server, port = gnutls_serv(SUITES12[suite].cert, priority12(suite, None))
    payload = bytes(range(33, 127)) * 640 + b"\n"
    with glass_client(port, client_config12(suite)) as glass:
        assert glass.handshake().cipher_suite == suite
        glass.send(payload)
        assert glass.receive_exactly(len(payload)) == payload
        glass.close()
