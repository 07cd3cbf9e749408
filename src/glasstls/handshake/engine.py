"""The seam between a connection and its handshake states.

A state sees its connection only as an ``Engine``: it can queue handshake messages,
install record protection, set record limits, emit events, trace its own
decisions, and finally hand over what was negotiated (``Negotiated``). It never
sees the connection class, and the connection calls only what ``State`` declares:
``handle``, ``handle_change_cipher_spec``, and the optional operations
(``key_update``, ``request_client_certificate``, ``account_early_data``), which
raise ``UsageError`` in every state that does not support them.

Messages are traced by the engine, once, where they are sent or received (with
their ``describe()`` values); a state adds what only it knows to the trace of the
message it is handling or has just sent with ``note``, and traces its own
decisions (key exchange, certificate verification, key derivation...) with
``trace``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ..constants import HandshakeType
from ..errors import AlertDescription, UnexpectedMessage, UsageError
from ..events import Event, HandshakeComplete
from ..immutable import frozen

if TYPE_CHECKING:
    from ..crypto.suites import Suite
    from ..messages.handshake import Message
    from ..record import Protection
    from ..session import ClientSession
    from .transcript import Transcript

# Trace details, or a function that makes them (called only when tracing).
Details = Mapping[str, Any] | Callable[[], Mapping[str, Any]]
# (label, context or None, length) -> keying material (RFC 8446 §7.5, RFC 5705)
Exporter = Callable[[bytes, bytes | None, int], bytes]


@frozen
class Negotiated:
    """What a completed handshake settled, handed to the connection by the final state."""

    version: int
    suite: Suite
    summary: HandshakeComplete  # the event the application receives
    exporter: Exporter


class DescribedKeys(Protocol):
    """Keys that can say what they are (a TLS 1.3 stage, a TLS 1.2 key block)."""

    def describe(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        """Trace details (names and sizes) and the secret values."""


class Engine(Protocol):
    """Everything a handshake state may do to its connection."""

    @property
    def transcript(self) -> Transcript:
        """The handshake transcript; the engine adds every message sent or received
        before the handshake completes."""

    @property
    def tracing(self) -> bool:
        """Whether trace events are wanted (to skip building costly details)."""

    @property
    def key_update_pending(self) -> bool:
        """A KeyUpdate this side sent has had no application data after it yet."""

    def send(self, message: Message) -> bytes:
        """Queue a handshake message (hashed into the transcript); returns its bytes."""

    def send_encoded(self, raw: bytes, parse: Callable[[bytes], Message]) -> None:
        """``send`` for a message given as its bytes (type and length included):
        ``parse`` makes the message from them only if a trace wants it."""

    def send_post_handshake(self, message: Message) -> bytes:
        """Queue a message after the handshake (not part of the transcript)."""

    def send_post_handshake_encoded(self, raw: bytes, parse: Callable[[bytes], Message]
                                    ) -> None:
        """``send_post_handshake`` for a message given as its bytes (``send_encoded``)."""

    def send_change_cipher_spec(self) -> None: ...

    def send_warning(self, description: AlertDescription) -> None:
        """A warning alert (the connection goes on)."""

    def install_read(self, protection: Protection) -> None: ...

    def install_write(self, protection: Protection) -> None: ...

    def set_version(self, version: int) -> None: ...

    def limit_records(self, max_fragment: int, read_limit: int | None) -> None:
        """RFC 8449: send fragments of at most ``max_fragment`` bytes; accept inner
        plaintexts of at most ``read_limit`` (None: unchanged)."""

    def skip_early_data(self, budget: int) -> None:
        """Server that rejected 0-RTT: skip this many bytes of records that do not
        decrypt (RFC 8446 §4.2.10); 0 stops skipping."""

    def allow_early_data(self, size: int) -> None:
        """Client: how many bytes of 0-RTT data may be sent now (0 ends it)."""

    def emit(self, event: Event) -> None: ...

    def note(self, secrets: Mapping[str, bytes] | None = None, **details: Any) -> None:
        """Add values to the trace of the message being handled (or just sent). A
        value may be a function of no arguments, called only if the trace is wanted
        (for values that cost something to describe)."""

    def trace(self, step: str, action: str, details: Details,
              secrets: Mapping[str, bytes] | None = None) -> None:
        """Trace a local decision (``action`` "local") or a non-message step. The
        details (or any of their values) may be given as a function of no arguments,
        called only if the trace is wanted."""

    def trace_keys(self, keys: DescribedKeys, **details: Any) -> None:
        """Trace a key schedule stage with the values it computed."""

    def keylog(self, label: str, client_random: bytes, secret: bytes) -> None: ...

    def new_session(self, session: ClientSession) -> None:
        """Client: the session to resume with next time."""

    def hello_answered(self) -> None:
        """Server: the ClientHello has had its answer (TLS 1.3's whole flight); it
        is kept from now on only with ``ServerConfig.keep_client_hello``."""

    def finish(self, negotiated: Negotiated) -> None:
        """The handshake is complete: traced, emitted as ``HandshakeComplete``."""


Parser = Callable[[bytes], Any]


class State:
    """One step of a handshake. ``expects`` maps each handshake type this state
    accepts to the parser for it; anything else is ``unexpected_message``."""

    # No slots of its own, so that the connected states, which every idle connection
    # keeps, can do without a per-instance dictionary (the handshake's may have one).
    __slots__ = ()

    # A dict (not a Mapping): the states' own tables are dicts, and a class compiled
    # by mypyc (hatch_build.py) keeps the attribute type its base declares.
    expects: dict[int, Parser] = {}
    # TLS 1.3 (RFC 8446 §5): a change_cipher_spec record with value 1 is ignored
    # between the first ClientHello and the peer's Finished.
    ignores_change_cipher_spec: ClassVar[bool] = False
    accepts_application_data: ClassVar[bool] = False
    # Established and not 0-RTT: application data needs no further checks.
    plain_application_data: ClassVar[bool] = False
    # True once the handshake is over (post-handshake messages only).
    connected: ClassVar[bool] = False
    # Application data now is 0-RTT data (server): see account_early_data.
    early_data: ClassVar[bool] = False

    def handle(self, engine: Engine, message: Any) -> State:
        raise NotImplementedError(f"{type(self).__name__} expects messages it cannot handle")

    def handle_change_cipher_spec(self, engine: Engine) -> State:
        raise UnexpectedMessage(f"ChangeCipherSpec is not allowed while {self.describe()}")

    def describe(self) -> str:
        names = [HandshakeType(t).name for t in self.expects]
        if not names:
            return "no handshake message is expected"
        return "expecting " + " or ".join(names)

    def work_ahead(self, engine: Engine) -> None:
        """Work out now what the peer's next message will need, where that is known
        before it comes (the connection's ``work_ahead``). Most states know nothing
        ahead: nothing to do."""

    # -- optional operations: only the states that support them override these --

    def key_update(self, engine: Engine, request_peer_update: bool) -> None:
        raise UsageError("key_update() needs an established TLS 1.3 connection")

    def request_client_certificate(self, engine: Engine) -> None:
        raise UsageError("request_client_certificate() needs an established TLS 1.3 "
                         "connection")

    def account_early_data(self, length: int) -> None:
        raise UsageError("no early data is being received")


class Closed(State):
    """After a fatal error or a completed close: nothing more is accepted."""

    def describe(self) -> str:
        return "the connection is closed"


__all__ = ["Closed", "DescribedKeys", "Details", "Engine", "Exporter", "Negotiated", "Parser",
           "State"]
