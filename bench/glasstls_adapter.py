"""tlsbench plugin: glasstls's sans-I/O engine as a tlsbench ``Adapter``.

    python ../shared/bench/tlsbench.py --plugin bench/glasstls_adapter.py --only ssl,glasstls

Each case is matched to what the other adapters negotiate:

* client and server both offer only X25519 (and the client sends only an X25519
  key share), and only the case's cipher suite;
* TLS 1.3 cases pin ``versions=(TLS13,)``; ``hs12-rsa`` pins ``versions=(TLS12,)``
  with ``TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`` (the ECDSA suite for an ECDSA
  certificate), exactly the suite the ``ssl`` adapter sets;
* the client verifies the server's chain against the harness's CA for the name
  ``localhost`` (``TrustStore`` from ``{kind}_ca.pem``, ``check_hostname`` on), and
  the server uses ``{kind}_cert.pem`` with the PKCS#8 ``{kind}_key.pem``.

Configs are built once per case and reused (as an ``SSLContext`` is); every
``make_pair`` makes two new connection objects.

Resumption (``res13-ecdsa``): the server sends one TLS 1.3 NewSessionTicket
(``tickets=1``, as the ``ssl`` adapter's ``num_tickets = 1``); the client keeps no
session cache of its own (``session_cache=None``), so a full-handshake case never
resumes by accident, and the harness passes the ticket's ``ClientSession`` back
explicitly. Engines without resumption (before issue 4) and without TLS 1.2 are
detected, and those cases raise ``Unsupported`` with the reason.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any

import tlsbench

try:
    import glasstls
except ImportError:  # run from a checkout without an installed glasstls
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
    import glasstls

from glasstls import (
    CertifiedKey,
    CipherSuite,
    ClientConfig,
    ClientConnection,
    NamedGroup,
    ProtocolVersion,
    ServerConfig,
    ServerConnection,
    TrustStore,
)
from glasstls.events import ApplicationData

_TLS13_SUITES = {
    "aes128gcm": CipherSuite.TLS_AES_128_GCM_SHA256,
    "chacha20": CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
}
_TLS12_SUITES = {
    ("rsa", "aes128gcm"): CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ("rsa", "chacha20"): CipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ("ecdsa", "aes128gcm"): CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ("ecdsa", "chacha20"): CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
}
_GROUPS = {"x25519": NamedGroup.x25519}


def _engine_speaks_tls12() -> bool:
    """True once the TLS 1.2 state machines (handshake/client12, server12) exist."""
    import importlib.util

    return all(importlib.util.find_spec(f"glasstls.handshake.{name}") is not None
               for name in ("client12", "server12"))


def _engine_resumes() -> bool:
    """True once the configs have tickets and a client session cache (issue 4)."""
    server = {f.name for f in dataclasses.fields(ServerConfig)}
    client = {f.name for f in dataclasses.fields(ClientConfig)}
    return {"ticket_keys", "tickets"} <= server and "session_cache" in client


class _End:
    """One endpoint: the connection and the application data it has decrypted.

    (A plain class: tlsbench loads plugins without registering them in
    ``sys.modules``, which ``@dataclass`` needs.)
    """

    __slots__ = ("conn", "received")

    def __init__(self, conn: ClientConnection | ServerConnection) -> None:
        self.conn = conn
        # A list, not a deque: an empty deque costs ~600 bytes per endpoint, which
        # the memory case would count against glasstls; it rarely holds more than two.
        self.received: list[bytes] = []


@tlsbench.register
class GlasstlsAdapter(tlsbench.Adapter):
    name = "glasstls"

    def setup(self, pki: dict[str, str]) -> None:
        super().setup(pki)
        self._configs: dict[tlsbench.Config, tuple[ClientConfig, ServerConfig]] = {}
        self._trust: dict[str, TrustStore] = {}
        self._keys: dict[str, CertifiedKey] = {}
        self._tls12 = _engine_speaks_tls12()
        self._resumes = _engine_resumes()
        self.notes = [
            f"glasstls {glasstls.__version__} sans-I/O engine (in-memory byte pumping), "
            f"cryptography {_cryptography_version()}",
            "client verifies the chain against the harness CA for 'localhost' "
            "(cryptography.x509.verification)",
            "middlebox compatibility on (dummy ChangeCipherSpec + session id), as OpenSSL",
        ]
        if self._resumes:
            self.notes.append("server sends 1 TLS 1.3 ticket per handshake; client session "
                              "cache off (sessions passed explicitly)")
        else:
            self.notes.append("engine without resumption (issue 4): server sends no "
                              "ticket, res13 is skipped")
        if not self._tls12:
            self.notes.append("TLS 1.2 engine not present yet: hs12-rsa is skipped")

    # -- configuration ---------------------------------------------------------------

    def check(self, cfg: tlsbench.Config) -> None:
        if cfg.group not in _GROUPS:
            raise tlsbench.Unsupported(f"group {cfg.group}")
        if cfg.version == "1.2":
            if not self._tls12:
                raise tlsbench.Unsupported(
                    "TLS 1.2 is not in the engine yet (no handshake/client12.py, server12.py)")
            if (cfg.cert, cfg.cipher) not in _TLS12_SUITES:
                raise tlsbench.Unsupported(f"TLS 1.2 {cfg.cert}/{cfg.cipher}")
        elif cfg.version != "1.3" or cfg.cipher not in _TLS13_SUITES:
            raise tlsbench.Unsupported(f"TLS {cfg.version} {cfg.cipher}")

    def _trust_store(self, kind: str) -> TrustStore:
        if kind not in self._trust:
            self._trust[kind] = TrustStore.from_pem_file(self.pki[f"{kind}_ca"])
        return self._trust[kind]

    def _certified_key(self, kind: str) -> CertifiedKey:
        if kind not in self._keys:
            self._keys[kind] = CertifiedKey.from_files(self.pki[f"{kind}_cert"],
                                                       self.pki[f"{kind}_key"])
        return self._keys[kind]

    def _config_pair(self, cfg: tlsbench.Config) -> tuple[ClientConfig, ServerConfig]:
        pair = self._configs.get(cfg)
        if pair is not None:
            return pair
        self.check(cfg)
        if cfg.version == "1.3":
            versions: tuple[int, ...] = (ProtocolVersion.TLS13,)
            suites: tuple[int, ...] = (_TLS13_SUITES[cfg.cipher],)
        else:
            versions = (ProtocolVersion.TLS12,)
            suites = (_TLS12_SUITES[(cfg.cert, cfg.cipher)],)
        groups = (_GROUPS[cfg.group],)
        common: dict[str, Any] = {"versions": versions, "cipher_suites": suites,
                                  "groups": groups}
        client_extra: dict[str, Any] = {}
        server_extra: dict[str, Any] = {}
        if self._resumes:
            # The harness hands sessions over itself; a cache would turn every
            # "full" handshake after the first into a resumed one.
            client_extra["session_cache"] = None
            server_extra["tickets"] = 1 if cfg.tickets else 0
            if not cfg.tickets:
                server_extra["ticket_keys"] = None
        client = ClientConfig(
            **common,
            **client_extra,
            key_share_groups=groups,
            trust=self._trust_store(cfg.cert) if cfg.verify else None,
            verify_certificates=cfg.verify,
            check_hostname=cfg.verify,
        )
        server = ServerConfig(**common, **server_extra,
                              certificates=(self._certified_key(cfg.cert),))
        self._configs[cfg] = pair = (client, server)
        return pair

    # -- the adapter contract ----------------------------------------------------------

    def make_pair(self, cfg: tlsbench.Config, session: Any = None) -> tuple[_End, _End]:
        client_config, server_config = self._config_pair(cfg)
        if session is None:
            client = ClientConnection(client_config, server_name=tlsbench.SERVER_NAME)
        elif self._resumes:
            client = ClientConnection(client_config, server_name=tlsbench.SERVER_NAME,
                                      session=session)
        else:
            raise tlsbench.Unsupported("glasstls: no session resumption in this engine")
        return _End(client), _End(ServerConnection(server_config))

    def pump(self, client: _End, server: _End) -> int:
        moved = 0
        for source, sink in ((client, server), (server, client)):
            data = source.conn.data_to_send()
            if data:
                moved += len(data)
                for event in sink.conn.receive_data(data):
                    if type(event) is ApplicationData:
                        sink.received.append(event.data)
        return moved

    def established(self, client: _End, server: _End) -> bool:
        return client.conn.handshake_complete and server.conn.handshake_complete

    def send(self, end: _End, data: bytes) -> None:
        end.conn.send(data)

    def recv(self, end: _End, n: int = 65536) -> bytes:
        received = end.received
        if not received:
            return b""
        data = received.pop(0)
        if len(data) > n:
            received.insert(0, data[n:])
            data = data[:n]
        return data

    def get_session(self, client: _End) -> Any:
        if not self._resumes:
            raise tlsbench.Unsupported(
                "glasstls: no session resumption in this engine (issue 4: the server "
                "issues no NewSessionTicket and ClientConnection ignores session=)")
        session = getattr(client.conn, "session", None)
        if session is None:
            raise RuntimeError("glasstls: no session ticket received")
        return session

    def was_resumed(self, client: _End, server: _End) -> bool:
        return all(end.conn.negotiated is not None and end.conn.negotiated.resumed
                   for end in (client, server))

    def describe(self, client: _End, server: _End) -> str:
        negotiated = client.conn.negotiated
        if negotiated is None:
            return "handshake incomplete"
        return (f"{negotiated.version} {negotiated.cipher_suite} group={negotiated.group} "
                f"sig={negotiated.signature_scheme}")


def _cryptography_version() -> str:
    import cryptography

    return cryptography.__version__
