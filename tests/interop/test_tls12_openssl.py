"""TLS 1.2 against the OpenSSL command line tools (``s_server`` / ``s_client -tls1_2``).

Each side reports what it negotiated: glasstls in ``HandshakeComplete``, OpenSSL in
its ``-trace`` of the handshake and its session (``SSL-Session:``; for s_server the
session it prints, decoded by ``openssl sess_id``). Both key logs must hold the same
master secret, which for an extended-master-secret session proves the two RFC 7627
derivations agree.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from glasstls import CipherSuite, ServerConfig, TLSError
from glasstls.constants import TLS12, TLS13
from glasstls.trace import ALERT, RECEIVED, SENT

from .driver import TIMEOUT, GlassSocket, KeyLog, Tracer, echo_once, glass_client
from .matrix import cert_pki
from .matrix12 import MATRIX12, SUITES12, case_id, client_config12, server_config12
from .peer_output import (
    OPENSSL_GROUPS,
    SESSION_PEM,
    Negotiated12,
    OpenSSLSession,
    openssl_session,
    openssl_trace12,
)
from .processes import PeerProcess

pytestmark = pytest.mark.interop

FROM_GLASS = b"hello from the glasstls client\n"
FROM_OPENSSL = b"hello from openssl s_server\n"
FROM_S_CLIENT = b"hello from openssl s_client\n"
REPLY_PREFIX = b"glasstls-server got: "
CHACHA_ECDSA = "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
RSA_AES128 = "TLS_RSA_WITH_AES_128_GCM_SHA256"



@dataclass
class OpenSSLPeer:
    openssl: str
    process: PeerProcess
    trace_path: Path
    port: int = 0

    @property
    def trace(self) -> str:
        return self.trace_path.read_text(errors="replace")

    def server_session(self) -> OpenSSLSession:
        """The session s_server printed, as ``openssl sess_id -text`` describes it."""
        pem = SESSION_PEM.search(self.process.stdout)
        assert pem, f"s_server printed no session\n{self.process.describe()}"
        result = subprocess.run([self.openssl, "sess_id", "-text", "-noout"],
                                input=pem.group(0).encode(), capture_output=True,
                                check=True, timeout=30)
        return openssl_session(result.stdout.decode())


def suite_options(suite: str, group: str | None) -> list[str]:
    options = ["-cipher", SUITES12[suite].openssl]
    if group is not None:
        options += ["-groups", OPENSSL_GROUPS[group]]
    return options


@pytest.fixture
def s_server(openssl, pki_files, start_peer, tmp_path):
    """``s_server(cert, *options)`` -> OpenSSLPeer accepting one connection."""

    def start(cert: str, *options: str, version: str = "-tls1_2") -> OpenSSLPeer:
        files = pki_files(cert)
        trace_path = tmp_path / "s_server.trace"
        server = start_peer([
            openssl, "s_server", "-accept", "127.0.0.1:0", "-naccept", "1",
            *([version] if version else []),
            "-cert", str(files["cert"]), "-key", str(files["key"]),
            "-trace", "-msgfile", str(trace_path), *options,
        ])
        port = int(server.wait_for(r"^ACCEPT 127\.0\.0\.1:(\d+)$").group(1))
        return OpenSSLPeer(openssl, server, trace_path, port)

    return start


def talk_to_s_server(peer: OpenSSLPeer, config) -> GlassSocket:
    """Handshake, one line each way, close_notify; returns the glasstls client."""
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


@pytest.mark.parametrize(("suite", "group"), MATRIX12, ids=case_id)
def test_glasstls_client_to_openssl_s_server_tls12(s_server, suite, group):
    server = s_server(SUITES12[suite].cert, *suite_options(suite, group))
    keylog = KeyLog()
    # The group is pinned on s_server's side: a client listing only x25519 would rule
    # out the P-256 ECDSA certificate for OpenSSL (RFC 8422 §5.1 constrains its curve).
    glass = talk_to_s_server(server, client_config12(suite, keylog=keylog))

    done = glass.negotiated
    assert (done.version, done.cipher_suite, done.group) == ("TLSv1.2", suite, group)
    assert done.extended_master_secret is True
    assert openssl_trace12(server.trace) == Negotiated12("TLSv1.2", suite, group, True)
    assert f"CIPHER is {SUITES12[suite].openssl}" in server.process.stdout
    session = server.server_session()
    assert (session.protocol, session.cipher) == ("TLSv1.2", SUITES12[suite].openssl)
    assert session.extended_master_secret is True
    assert session.master_key == keylog.master_secret()


@pytest.fixture
def s_client(openssl, pki_files, start_peer, tmp_path):
    """``s_client(port, cert, *options)`` -> OpenSSLPeer: TLS 1.2 unless told otherwise,
    verifies the server, keeps stdin open."""

    def start(port: int, cert: str, *options: str, version: str = "-tls1_2",
              ign_eof: bool = True) -> OpenSSLPeer:
        files = pki_files(cert)
        trace_path = tmp_path / "s_client.trace"
        # -ign_eof also turns off s_client's one-letter commands ("R": renegotiate).
        client = start_peer([
            openssl, "s_client", "-connect", f"127.0.0.1:{port}",
            *([version] if version else []),
            "-CAfile", str(files["ca"]), "-verify_return_error", "-verify_ip", "127.0.0.1",
            *(["-ign_eof"] if ign_eof else []), "-trace", "-msgfile", str(trace_path),
            *options,
        ])
        return OpenSSLPeer(openssl, client, trace_path)

    return start


def talk_to_s_client(peer: OpenSSLPeer, server) -> None:
    """One line from s_client, the glasstls server's answer back, then close_notify."""
    client = peer.process
    client.write(FROM_S_CLIENT)
    assert server.join() == FROM_S_CLIENT
    assert client.wait() == 0, client.describe()
    assert (REPLY_PREFIX + FROM_S_CLIENT).decode() in client.stdout
    assert "Verification: OK" in client.output


@pytest.mark.parametrize(("suite", "group"), MATRIX12, ids=case_id)
def test_openssl_s_client_tls12_to_glasstls_server(s_client, start_glass_server, suite, group):
    keylog = KeyLog()
    server = start_glass_server(server_config12(suite, group, keylog=keylog),
                                echo_once(REPLY_PREFIX))
    # The group is pinned on the glasstls server's side (see the test above).
    client = s_client(server.port, SUITES12[suite].cert, *suite_options(suite, None))
    talk_to_s_client(client, server)

    done = server.glass.negotiated
    assert (done.version, done.cipher_suite, done.group) == ("TLSv1.2", suite, group)
    assert done.extended_master_secret is True
    assert openssl_trace12(client.trace) == Negotiated12("TLSv1.2", suite, group, True)
    session = openssl_session(client.process.stdout)
    assert (session.protocol, session.cipher) == ("TLSv1.2", SUITES12[suite].openssl)
    assert session.extended_master_secret is True
    assert session.master_key == keylog.master_secret()


# -- acceptance: RSA key transport only when enabled; ChaCha20 with EMS ----------------------


def test_openssl_s_client_rsa_aes128_gcm_completes_with_a_glasstls_server_that_enabled_it(
        s_client, start_glass_server):
    server = start_glass_server(
        ServerConfig(certificates=(cert_pki("rsa").certified,), enable_rsa_key_exchange=True),
        echo_once(REPLY_PREFIX))
    client = s_client(server.port, "rsa", "-cipher", "AES128-GCM-SHA256")
    talk_to_s_client(client, server)

    done = server.glass.negotiated
    assert (done.version, done.cipher_suite, done.key_exchange) == ("TLSv1.2", RSA_AES128, "RSA")
    session = openssl_session(client.process.stdout)
    assert (session.protocol, session.cipher) == ("TLSv1.2", "AES128-GCM-SHA256")


def test_openssl_s_client_rsa_aes128_gcm_is_refused_with_handshake_failure_by_default(
        s_client, start_glass_server):
    tracer = Tracer()
    server = start_glass_server(
        ServerConfig(certificates=(cert_pki("rsa").certified,), trace=tracer),
        echo_once(REPLY_PREFIX))
    # Nothing is written to s_client: refused, it may exit before reading its input.
    client = s_client(server.port, "rsa", "-cipher", "AES128-GCM-SHA256")

    with pytest.raises(TLSError, match="RSA key exchange") as refused:
        server.join()
    assert refused.value.alert.name == "handshake_failure"
    assert client.process.wait() != 0
    assert "alert handshake failure" in client.process.output
    assert "SSL alert number 40" in client.process.output
    assert any(e.step == ALERT and e.action == SENT
               and e.details["description"] == "handshake_failure" for e in tracer.steps)


def test_default_glasstls_client_negotiates_ecdhe_ecdsa_chacha20_with_s_server_tls12_and_ems(
        s_server):
    # The default client offers TLS 1.3 too; s_server -tls1_2 is a genuine 1.2
    # server, so no downgrade sentinel, and the client settles on TLS 1.2.
    server = s_server("ecdsa", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305")
    keylog = KeyLog()
    config = dataclasses.replace(
        client_config12(CHACHA_ECDSA, keylog=keylog), versions=(TLS13, TLS12),
        cipher_suites=(int(CipherSuite.TLS_AES_128_GCM_SHA256), SUITES12[CHACHA_ECDSA].id))
    glass = talk_to_s_server(server, config)

    done = glass.negotiated
    assert (done.version, done.cipher_suite) == ("TLSv1.2", CHACHA_ECDSA)
    assert done.extended_master_secret is True
    # s_server's own account: its ServerHello carried extended_master_secret, and the
    # session it printed has "Extended master secret: yes" and our master secret.
    assert openssl_trace12(server.trace).extended_master_secret is True
    session = server.server_session()
    assert session.extended_master_secret is True
    assert session.cipher == "ECDHE-ECDSA-CHACHA20-POLY1305"
    assert session.master_key == keylog.master_secret()


# -- versions and fallback ---------------------------------------------------------------------


def test_glasstls_tls12_client_accepts_the_sentinel_of_a_tls13_capable_s_server(s_server):
    server = s_server("ecdsa", version="")
    glass = talk_to_s_server(server, client_config12("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"))
    assert glass.negotiated.version == "TLSv1.2"
    # s_server, able to do TLS 1.3, marked its random (RFC 8446 §4.1.3).
    random = re.search(r"ServerHello, Length=\d+\n.*?random_bytes \(len=28\): ([0-9A-F]{56})",
                       server.trace, re.DOTALL)
    assert random and random.group(1).endswith("444F574E47524401")


def test_tls13_capable_s_client_gets_tls12_from_a_tls12_only_glasstls_server(
        s_client, start_glass_server):
    # s_client offers TLS 1.3 and checks the downgrade sentinel: there must be none.
    server = start_glass_server(
        ServerConfig(certificates=(cert_pki("ecdsa").certified,), versions=(TLS12,)),
        echo_once(REPLY_PREFIX))
    client = s_client(server.port, "ecdsa", version="")
    talk_to_s_client(client, server)
    assert server.glass.negotiated.version == "TLSv1.2"
    assert openssl_session(client.process.stdout).protocol == "TLSv1.2"


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
@pytest.mark.parametrize("server_versions", [(TLS13, TLS12), (TLS12,)], ids=["1.3", "1.2"])
def test_s_client_offering_only_an_old_version_gets_protocol_version(
        s_client, start_glass_server, version, server_versions):
    server = start_glass_server(
        ServerConfig(certificates=(cert_pki("ecdsa").certified,), versions=server_versions),
        echo_once(REPLY_PREFIX))
    # OpenSSL 3 allows TLS 1.0/1.1 only at security level 0.
    client = s_client(server.port, "ecdsa", "-cipher", "DEFAULT@SECLEVEL=0", version=version)
    with pytest.raises(TLSError, match="no protocol version in common") as refused:
        server.join()
    assert refused.value.alert.name == "protocol_version"
    assert client.process.wait() != 0
    assert "alert protocol version" in client.process.output


@pytest.mark.parametrize(("server_versions", "refused"), [
    ((TLS13, TLS12), True), ((TLS12,), False)], ids=["1.3-server", "1.2-only-server"])
def test_s_client_fallback_scsv_is_refused_only_by_a_server_that_could_do_better(
        s_client, start_glass_server, server_versions, refused):
    server = start_glass_server(
        ServerConfig(certificates=(cert_pki("ecdsa").certified,), versions=server_versions),
        echo_once(REPLY_PREFIX))
    client = s_client(server.port, "ecdsa", "-fallback_scsv")
    if not refused:
        talk_to_s_client(client, server)
        assert server.glass.negotiated.version == "TLSv1.2"
        return
    with pytest.raises(TLSError, match="fell back") as error:
        server.join()
    assert error.value.alert.name == "inappropriate_fallback"
    assert client.process.wait() != 0
    assert "alert inappropriate fallback" in client.process.output


# -- renegotiation refused, both directions -------------------------------------------------------


def test_glasstls_client_refuses_s_server_renegotiation_with_no_renegotiation(s_server):
    server = s_server("ecdsa")
    tracer = Tracer()
    with glass_client(server.port, client_config12(
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", tracer=tracer)) as glass:
        glass.handshake()
        glass.send(FROM_GLASS)
        server.process.wait_for(FROM_GLASS.decode().strip())
        server.process.write(b"r\n")  # s_server: renegotiate (sends a HelloRequest)
        # OpenSSL ends a connection whose renegotiation was refused (handshake_failure).
        with contextlib.suppress(Exception):
            glass.receive_until_closed()
    server.process.wait_for("no renegotiation")
    alerts = [(e.action, e.details["level"], e.details["description"])
              for e in tracer.steps if e.step == ALERT]
    assert alerts[0] == (SENT, "warning", "no_renegotiation")
    assert (RECEIVED, "fatal", "handshake_failure") in alerts


def test_glasstls_server_refuses_s_client_renegotiation_with_no_renegotiation(
        s_client, start_glass_server):
    tracer = Tracer()
    line_received = threading.Event()

    def handler(glass: GlassSocket) -> bytes:
        glass.handshake()
        line = glass.receive_until(b"\n")
        line_received.set()
        # OpenSSL ends a connection whose renegotiation was refused (handshake_failure).
        with contextlib.suppress(Exception):
            glass.receive_until_closed()
        return line

    server = start_glass_server(server_config12(
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", tracer=tracer), handler)
    client = s_client(server.port, "ecdsa", ign_eof=False)
    client.process.write(FROM_S_CLIENT)
    # s_client reads "R" as a command only alone in its read: wait for the line first.
    assert line_received.wait(TIMEOUT)
    client.process.write(b"R\n")  # s_client: renegotiate (sends a new ClientHello)
    assert server.join() == FROM_S_CLIENT
    client.process.wait_for("no renegotiation")
    alerts = [(e.action, e.details["level"], e.details["description"])
              for e in tracer.steps if e.step == ALERT]
    assert alerts[0] == (SENT, "warning", "no_renegotiation")
    assert (RECEIVED, "fatal", "handshake_failure") in alerts


def test_glasstls_client_goes_on_after_s_server_warns_unrecognized_name(s_server, pki_files):
    files = pki_files("ecdsa")
    server = s_server("ecdsa", "-servername", "other.example",
                      "-cert2", str(files["cert"]), "-key2", str(files["key"]))
    glass = talk_to_s_server(server, client_config12("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"))
    assert glass.negotiated.version == "TLSv1.2"
