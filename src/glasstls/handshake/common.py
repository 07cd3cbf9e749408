"""What every handshake state shares: the ``State`` base class, the engine
interface states talk to, and small protocol helpers used by both versions."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ..constants import HandshakeType
from ..crypto import signatures
from ..errors import AlertDescription, PeerMisbehaved
from ..events import Event
from ..record import Protection, RecordLayer
from .transcript import Transcript

if TYPE_CHECKING:
    from ..certs import CertifiedKey
    from ..config import ClientConfig, ServerConfig
    from ..crypto.suites import Suite
    from ..messages.handshake import Message
    from ..session import ClientSession


class Engine(Protocol):
    """The narrow interface of a connection that handshake states use."""

    side: str
    transcript: Transcript
    record: RecordLayer
    # Whether trace events are wanted: call sites test it before building details.
    tracing: bool

    @property
    def config(self) -> ClientConfig | ServerConfig: ...

    def send_handshake(self, message: Message) -> bytes: ...
    def send_change_cipher_spec(self) -> None: ...
    def install_read(self, protection: Protection) -> None: ...
    def install_write(self, protection: Protection) -> None: ...
    def emit(self, event: Event) -> None: ...
    def trace(self, step: str, action: str, details: dict[str, Any],
              secrets: dict[str, bytes] | None = None) -> None: ...
    def keylog(self, label: str, client_random: bytes, secret: bytes) -> None: ...
    def handshake_done(self, state: State) -> None: ...
    def send_alert(self, description: AlertDescription, fatal: bool) -> None: ...
    def send_post_handshake(self, message: Message) -> bytes: ...
    def send_raw_handshake(self, raw: bytes) -> None: ...
    def new_session(self, session: ClientSession,
                    cache_key: tuple[str, tuple[str, ...]] | None) -> None: ...
    def set_version(self, version: int) -> None: ...


Parser = Callable[[bytes], Any]


class State:
    """One step of a handshake. ``expects`` maps each handshake type this state
    accepts to the parser for it; anything else is ``unexpected_message``."""

    expects: dict[int, Parser] = {}
    # TLS 1.3 (RFC 8446 §5): a change_cipher_spec record with value 1 is ignored
    # between the first ClientHello and the peer's Finished.
    ignores_change_cipher_spec: ClassVar[bool] = False
    accepts_application_data: ClassVar[bool] = False
    # Established and not 0-RTT: application data needs no further checks.
    plain_application_data: ClassVar[bool] = False
    # True once the handshake is over (post-handshake messages only).
    connected: ClassVar[bool] = False

    def handle(self, engine: Engine, message: Any) -> State:
        raise NotImplementedError

    def handle_change_cipher_spec(self, engine: Engine) -> State:
        raise PeerMisbehaved(f"ChangeCipherSpec is not allowed while {self.describe()}",
                             AlertDescription.unexpected_message)

    def describe(self) -> str:
        names = [HandshakeType(t).name for t in self.expects]
        if not names:
            return "no handshake message is expected"
        return "expecting " + " or ".join(names)


class Closed(State):
    """After a fatal error or a completed close: nothing more is accepted."""

    def describe(self) -> str:
        return "the connection is closed"


def certificate_verify_content(context: bytes, transcript_hash: bytes) -> bytes:
    """RFC 8446 §4.4.3: 64 spaces, the context string, a zero byte, the hash."""
    return b" " * 64 + context + b"\x00" + transcript_hash


SERVER_CERTIFICATE_VERIFY = b"TLS 1.3, server CertificateVerify"
CLIENT_CERTIFICATE_VERIFY = b"TLS 1.3, client CertificateVerify"


def decode_alpn(protocol: bytes) -> str:
    return protocol.decode("ascii", "backslashreplace")


def choose_alpn(ours: tuple[str, ...], offered: tuple[bytes, ...]) -> bytes | None:
    """RFC 7301 §3.2: the server picks one of the client's protocols, in its own
    order; ``None`` when either side has none, an alert when there is no overlap."""
    if not ours or not offered:
        return None
    for protocol in ours:
        encoded = protocol.encode()
        if encoded in offered:
            return encoded
    raise PeerMisbehaved("no application protocol in common (ALPN)",
                         AlertDescription.no_application_protocol)


def choose_signature_scheme(certified: CertifiedKey, offered: tuple[int, ...],
                            ours: tuple[int, ...], tls13: bool) -> int | None:
    """The first of our schemes that the peer offered and the key can make.

    TLS 1.2 lets an ECDSA key sign with any hash; the curve's own hash is still
    preferred, so the strict (TLS 1.3) match is tried first.
    """
    for strict in (True, False) if not tls13 else (True,):
        for scheme in ours:
            if scheme in offered and signatures.scheme_fits_key(
                scheme, certified.private_key, tls13=strict, rsa_pss_key=certified.rsa_pss_key
            ) and (tls13 or not strict or signatures.SCHEMES[scheme].tls13_signatures) and (
                    tls13 or signatures.SCHEMES[scheme].tls12):
                return scheme
    return None


def trace_key_derivation13(engine: Engine, stage: str, suite: Suite, stage_secret_name: str,
                           stage_secret: bytes, traffic: dict[str, bytes],
                           **details: Any) -> None:
    """One KeyDerivation trace event for a TLS 1.3 key schedule stage: the stage's
    secret, its traffic secrets, and the write key and IV each one gives (RFC 8446
    §7.1, §7.3). Only called when tracing; the keys are derived again for it."""
    from .. import trace as t
    from ..keyschedule import traffic_keys

    secrets = {stage_secret_name: stage_secret, **traffic}
    derived: dict[str, int] = {name: len(value) for name, value in secrets.items()}
    for name, secret in traffic.items():
        if name.endswith("_traffic_secret"):
            sender = name.split("_")[0]  # "client" or "server"
            key, iv = traffic_keys(suite, secret)
            secrets[f"{sender}_write_key"], secrets[f"{sender}_write_iv"] = key, iv
            derived[f"{sender}_write_key"], derived[f"{sender}_write_iv"] = len(key), len(iv)
    engine.trace(t.KEY_DERIVATION, t.LOCAL,
                 {"stage": stage, "hash": suite.hash_name, "derived": derived, **details},
                 secrets)
