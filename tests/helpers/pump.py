"""A glasstls client and server joined in memory, with a hook to alter bytes in flight.

    pair = Pair(client_config(pki("rsa-2048")), server_config(pki("rsa-2048")))
    pair.pump()
    assert pair.client.negotiated.cipher_suite == "TLS_AES_128_GCM_SHA256"

``pump`` moves whatever each side has to send to the other until both are quiet.
A ``TLSError`` raised by one side is recorded (with the events decoded before it),
and the alert it queued is still delivered to the peer, so a test can check both
the alert sent and the alert received. ``KeyLog`` collects the NSS key log of a
side, and ``reseal`` uses those secrets to rewrite protected records in flight.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from glasstls import ClientConfig, ClientConnection, ServerConfig, ServerConnection, TLSError
from glasstls.crypto.suites import Suite
from glasstls.errors import AlertDescription, AlertReceivedError
from glasstls.events import AlertReceived, ApplicationData, Event, HandshakeComplete
from glasstls.keyschedule import traffic_keys
from glasstls.record import Tls13Protection

CLIENT_TO_SERVER = "client->server"
SERVER_TO_CLIENT = "server->client"

# (direction, bytes as sent) -> bytes delivered instead
Hook = Callable[[str, bytes], bytes]


def client_config(pki: Any, **overrides: Any) -> ClientConfig:
    return ClientConfig(**{"trust": pki.trust, **overrides})


def server_config(pki: Any, **overrides: Any) -> ServerConfig:
    return ServerConfig(**{"certificates": (pki.certified,), **overrides})


@dataclass
class Side:
    connection: ClientConnection | ServerConnection
    events: list[Event] = field(default_factory=list)
    error: TLSError | None = None

    @property
    def negotiated(self) -> HandshakeComplete:
        assert self.connection.negotiated is not None, f"handshake not complete: {self.error}"
        return self.connection.negotiated

    @property
    def data(self) -> bytes:
        """All application data received so far, joined."""
        return b"".join(e.data for e in self.events if isinstance(e, ApplicationData))

    def of_type(self, kind: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def alerts_received(self) -> list[AlertDescription]:
        return [e.description for e in self.events if isinstance(e, AlertReceived)]

    @property
    def alert_sent(self) -> AlertDescription | None:
        """The alert this side failed with (None if it did not fail, or failed
        because it received a fatal alert)."""
        if self.error is None or isinstance(self.error, AlertReceivedError):
            return None
        return self.error.alert


class Pair:
    """A client and a server in memory. ``wire`` logs every transfer after the hook."""

    def __init__(self, client: ClientConfig | ClientConnection,
                 server: ServerConfig | ServerConnection, *,
                 server_name: str | None = "localhost", hook: Hook | None = None,
                 chunk_size: int | None = None) -> None:
        if isinstance(client, ClientConfig):
            client = ClientConnection(client, server_name=server_name)
        if isinstance(server, ServerConfig):
            server = ServerConnection(server)
        self.client = Side(client)
        self.server = Side(server)
        self.hook = hook
        # Deliver received bytes in pieces of this size (None: all at once).
        self.chunk_size = chunk_size
        self.wire: list[tuple[str, bytes]] = []

    def _sides(self, direction: str) -> tuple[Side, Side]:
        if direction == CLIENT_TO_SERVER:
            return self.client, self.server
        return self.server, self.client

    def transfer(self, direction: str) -> bool:
        """Move what one side has queued to the other; True if anything moved."""
        sender, receiver = self._sides(direction)
        data = sender.connection.data_to_send()
        if not data:
            return False
        if self.hook is not None:
            data = self.hook(direction, data)
        self.wire.append((direction, data))
        self.deliver(receiver, data)
        return True

    def deliver(self, receiver: Side, data: bytes) -> None:
        """Feed bytes to one side (not through the hook), recording events and errors."""
        if receiver.error is not None or not data:
            return
        step = self.chunk_size or len(data)
        for start in range(0, len(data), step):
            try:
                receiver.events += receiver.connection.receive_data(data[start:start + step])
            except TLSError as error:
                receiver.error = error
                receiver.events += error.events
                return

    def pump(self, max_rounds: int = 64) -> Pair:
        for _ in range(max_rounds):
            moved = self.transfer(CLIENT_TO_SERVER)
            moved = self.transfer(SERVER_TO_CLIENT) or moved
            if not moved:
                return self
        raise AssertionError(f"still exchanging bytes after {max_rounds} rounds")

    @property
    def complete(self) -> bool:
        return (self.client.connection.handshake_complete
                and self.server.connection.handshake_complete)

    def sent(self, direction: str) -> bytes:
        return b"".join(data for d, data in self.wire if d == direction)


def engine_of(connection: ClientConnection | ServerConnection) -> Any:
    """The engine behind a connection (its record layer, transcript...): for
    white-box tests that forge records or inspect state, never for applications."""
    return connection._core


def sealed(side: Side, content_type: int, payload: bytes) -> bytes:
    """A record ``side``'s engine seals now, as if it sent it (its sequence number and
    keys stay right): for tests that send what no honest peer would."""
    return bytes(engine_of(side.connection).record.seal(content_type, payload))


def fails_with(side: Side, alert: AlertDescription, reason: str = "") -> None:
    """``side`` failed and sent ``alert``, for a reason whose text has ``reason``."""
    assert side.alert_sent == alert, side.error
    assert reason in str(side.error)


def collecting(connection: ClientConnection | ServerConnection) -> deque[bytes | memoryview]:
    """The sink ``connection`` now puts its application data in (collect_application_data)."""
    sink: deque[bytes | memoryview] = deque()
    connection.collect_application_data(sink)
    return sink


class KeptRecords:
    """A connection recorder (``recorder=lambda side, number: kept``, glasstls
    explain's interface) that keeps copies of the records it is given, by way."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.received: list[bytes] = []

    def record(self, sent: bool, data: bytes) -> None:
        (self.sent if sent else self.received).append(bytes(data))

    def secret(self, name: str, value: bytes) -> None:
        pass


def sealed_records(connection: ClientConnection | ServerConnection, payloads: list[bytes]
                   ) -> bytes:
    """Application data records sealed by ``connection``'s record layer directly, one
    per payload (empty ones included, which ``send`` would not make)."""
    writer = engine_of(connection).record
    return b"".join(writer.seal(23, payload) for payload in payloads)


def connect(client: ClientConfig, server: ServerConfig, **kwargs: Any) -> Pair:
    """A pair pumped until quiet; the test checks how it ended."""
    return Pair(client, server, **kwargs).pump()


def exchange(pair: Pair, message: bytes = b"x") -> None:
    """Application data both ways over an established pair, checked."""
    before_server, before_client = pair.server.data, pair.client.data
    pair.client.connection.send(b"c:" + message)
    pair.server.connection.send(b"s:" + message)
    pair.pump()
    assert pair.server.data == before_server + b"c:" + message
    assert pair.client.data == before_client + b"s:" + message


def cut_into_reads(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given offsets (each taken modulo its length + 1, so any
    integer is a place), in order, without empty pieces: reads split anywhere."""
    bounds = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


def split_records(data: bytes) -> list[bytes]:
    """Whole TLS records (header included); a trailing partial record is kept as is."""
    records = []
    position = 0
    while position < len(data):
        if len(data) - position < 5:
            records.append(data[position:])
            break
        end = position + 5 + int.from_bytes(data[position + 3:position + 5], "big")
        records.append(data[position:end])
        position = end
    return records


def record(content_type: int, payload: bytes) -> bytes:
    """An unprotected record (TLSPlaintext)."""
    return bytes([content_type, 3, 3]) + len(payload).to_bytes(2, "big") + payload


def handshake_messages(data: bytes) -> list[bytes]:
    """Split a stream of handshake message bytes into messages (header included)."""
    messages = []
    position = 0
    while position < len(data):
        end = position + 4 + int.from_bytes(data[position + 1:position + 4], "big")
        messages.append(data[position:end])
        position = end
    return messages


class KeyLog:
    """A config ``keylog`` callback that keeps each secret by its NSS label."""

    def __init__(self) -> None:
        self.secrets: dict[str, bytes] = {}
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        label, _client_random, secret = line.split()
        self.secrets[label] = bytes.fromhex(secret)


Edit = Callable[[int, bytes], tuple[int, bytes]]


def reseal(data: bytes, suite: Suite, secret: bytes, edit: Edit, first_sequence: int = 0
           ) -> bytes:
    """Rewrite the protected records of ``data`` as a man in the middle who knows the
    sender's traffic secret would: open each with the keys of ``secret`` (starting at
    ``first_sequence``), let ``edit`` change (content type, plaintext), seal it again.
    Unprotected records (ServerHello, a compatibility ChangeCipherSpec) pass as they are.
    """
    key, iv = traffic_keys(suite, secret)
    opener = Tls13Protection(suite, key, iv)
    sealer = Tls13Protection(suite, key, iv)
    opener.sequence = sealer.sequence = first_sequence
    out = bytearray()
    for raw in split_records(data):
        if raw[0] != 23:
            out += raw
            continue
        content_type, plaintext = opener.open(raw[:5], raw[5:])
        content_type, plaintext = edit(content_type, plaintext)
        out += sealer.seal(content_type, plaintext, b"\x03\x03", 0)
    return bytes(out)
