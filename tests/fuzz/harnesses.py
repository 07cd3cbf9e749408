"""Coverage-guided fuzz harnesses: functions of bytes that raise only when glasstls
breaks its promise about hostile input. ``atheris_main.py`` runs them under atheris
(``make fuzz``); ``test_harnesses.py`` runs them on their seeds under pytest.

The promise, checked after every input:
- only glasstls's own errors (``TLSError``) come out of ``receive_data``;
- a failure sticks: the connection raises the same error for any later input;
- the failure's alert is queued to send (unless it reports the peer's own alert);
- no input costs more than 50 ms of CPU (timed twice before it counts as found).

Harnesses:
  parsers  every handshake message parser and every extension block parser;
  server   a server replayed to just before a client transfer of a recorded
           handshake (TLS 1.3 and 1.2, with and without client certificates, HRR,
           0-RTT, RSA key exchange, resumption), fed the fuzzer's transfer instead;
  client   the same for a client fed a server transfer;
  records  the record layer alone, with and without TLS 1.3 and 1.2 protection;
  threads  four threads at once, each a server or client fed the input at another
           recorded transfer, sharing ticket keys, session caches and anti-replay.
Engine inputs are ``selector(2) cuts(1 + 2 each) records``: the selector picks the
recorded transfer, the cuts split delivery into several ``receive_data`` calls, and
the records are in ``flights``'s format, sealed with the recorded keys.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from glasstls import ClientConnection, ServerConnection, TLSError
from glasstls.codec import Reader
from glasstls.constants import MAX_PLAINTEXT, CipherSuite
from glasstls.crypto.suites import SUITES
from glasstls.errors import AlertDescription, AlertReceivedError
from glasstls.messages import extensions as ext
from glasstls.record import Protection, RecordLayer
from glasstls.session import AntiReplay, ServerSessionCache, SessionCache, TicketKeys
from helpers.hostile import MAX_HELLO, hostile_client_hello, hostile_records
from helpers.pump import CLIENT_TO_SERVER, handshake_messages, split_records
from helpers.strategies import PARSERS, WHERES

from . import flights
from .flights import RAW, Keys, Transfer

Connection = ClientConnection | ServerConnection
T = TypeVar("T")
R = TypeVar("R")

# Up to a full 2^16-byte record and its framing.
MAX_INPUT = 2**16 + 1024
CPU_LIMIT = 0.050  # seconds per input


class BrokenPromise(AssertionError):
    """glasstls broke the promise about hostile input: a finding."""


# -- the promise -----------------------------------------------------------------------


_PROTECTED_ALERTS = {(23, 2 + 1 + 16), (21, 2 + 16), (21, 8 + 2 + 16)}


def check_alert_queued(connection: Connection, error: TLSError) -> None:
    """The failure's alert is the last record queued: in the clear, or one record the
    size of a protected alert (TLS 1.3: inner type and tag; TLS 1.2: a tag, and an
    explicit nonce for AES-GCM)."""
    if isinstance(error, AlertReceivedError):
        return
    records = split_records(connection.data_to_send())
    if not records:
        raise BrokenPromise(f"no alert queued for {error!r}")
    alert = records[-1]
    if len(alert) == 5 + 2:
        if alert[:2] != b"\x15\x03" or alert[3:] != bytes([0, 2, 2, error.alert]):
            raise BrokenPromise(f"queued {alert.hex()} for {error!r}")
    elif (alert[0], len(alert) - 5) not in _PROTECTED_ALERTS:
        raise BrokenPromise(f"last record queued {alert.hex()} is no alert, for {error!r}")


def check_receive(connection: Connection, chunks: Sequence[bytes], ahead: bool = False
                  ) -> TLSError | None:
    """Feed ``chunks`` one ``receive_data`` call each, and check the promise; with
    ``ahead``, ``work_ahead()`` before each, as a transport may call it in any state."""
    try:
        for chunk in chunks:
            if chunk:  # b"" is the end of the stream (tests/engine/test_end_of_stream.py)
                if ahead:
                    connection.work_ahead()
                connection.receive_data(chunk)
                connection.data_to_send()
    except TLSError as error:
        cause = error.__cause__
        if error.alert == AlertDescription.internal_error and cause is not None and (
                not isinstance(cause, TLSError)):
            # DESIGN §5: a bug fails the connection with internal_error; still a bug.
            raise BrokenPromise(f"{type(cause).__name__} inside receive_data became "
                                f"internal_error: {cause}") from cause
        check_alert_queued(connection, error)
        try:
            connection.receive_data(b"\x16\x03\x03\x00\x00")
        except TLSError as again:
            if again is not error:
                raise BrokenPromise(f"the failure did not stick: {error!r}, then {again!r}"
                                    ) from again
        else:
            raise BrokenPromise(f"a connection that failed ({error!r}) accepted more input")
        return error
    except Exception as error:
        raise BrokenPromise(f"{type(error).__name__} escaped receive_data: {error}") from error
    return None


def within_cpu_limit(prepare: Callable[[], T], run: Callable[[T], R], what: str) -> R:
    """``run(prepare())``, checking that ``run`` takes at most CPU_LIMIT of this
    thread's CPU time; a slow run is repeated once (after a fresh ``prepare``), so
    that a garbage collection or a cold cache is not a finding."""
    for _ in range(2):
        prepared = prepare()
        start = time.thread_time()
        result = run(prepared)
        spent = time.thread_time() - start
        if spent <= CPU_LIMIT:
            return result
    raise BrokenPromise(f"{what} took {spent * 1000:.0f} ms of CPU (limit "
                        f"{CPU_LIMIT * 1000:.0f} ms), twice")


# -- engine inputs -----------------------------------------------------------------------


@dataclass(frozen=True)
class EngineInput:
    transfer: tuple[str, int]  # (scenario, index)
    cuts: tuple[int, ...]
    records: bytes

    @classmethod
    def parse(cls, data: bytes, transfers: Sequence[tuple[str, int]]) -> EngineInput:
        selector = int.from_bytes(data[:2], "big") % len(transfers)
        count = data[2] % 5 if len(data) > 2 else 0
        cuts = tuple(int.from_bytes(data[3 + 2 * i:5 + 2 * i], "big") for i in range(count))
        return cls(transfers[selector], cuts, data[3 + 2 * count:])

    def encode(self, transfers: Sequence[tuple[str, int]]) -> bytes:
        out = transfers.index(self.transfer).to_bytes(2, "big") + bytes([len(self.cuts)])
        return out + b"".join(c.to_bytes(2, "big") for c in self.cuts) + self.records


def split_at(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)] or [b""]


def _transfer(name: str, index: int) -> Transfer:
    return flights.recording(name).transfers[index]


@functools.cache
def transfers_to(server: bool) -> tuple[tuple[str, int], ...]:
    return tuple((name, index) for name, index in flights.replayable()
                 if _transfer(name, index).to_server == server)


def feed(given: EngineInput, configs: flights.Configs | None = None) -> TLSError | None:
    name, index = given.transfer
    wire = flights.wire_bytes(given.records, _transfer(name, index))
    return within_cpu_limit(
        lambda: flights.replayed(name, index, configs)[0],
        lambda connection: check_receive(connection, split_at(wire, given.cuts)),
        f"{name}:{index} fed {len(wire)} bytes")


def engine_harness(server: bool) -> Callable[[bytes], None]:
    def harness(data: bytes) -> None:
        feed(EngineInput.parse(data, transfers_to(server)))
    return harness


def engine_seeds(server: bool) -> Iterator[bytes]:
    """Each recorded transfer as it was, and delivered in two pieces."""
    transfers = transfers_to(server)
    for name, index in transfers:
        records = flights.seed(_transfer(name, index))
        yield EngineInput((name, index), (), records).encode(transfers)
        yield EngineInput((name, index), (len(records) // 2,), records).encode(transfers)
    yield from _peer_seeds(server, transfers)
    yield from _large_seeds(server, transfers)


def _large_seeds(server: bool, transfers: Sequence[tuple[str, int]]) -> Iterator[bytes]:
    """Inputs of the full size (libFuzzer grows its inputs from the seeds' sizes):
    64 KiB ClientHellos, and application data records of 2^14 and 2^14 + 1 bytes."""
    if server:
        for hello in (hostile_client_hello(), hostile_client_hello(
                key_shares=31, groups=255, suites=511, extensions=121, schemes=253,
                psk_identities=32, share_size=1216, padding_to=MAX_HELLO)):
            records = [flights.Record(r[0], r[1:3], r[5:])
                       for r in split_records(hostile_records(hello))]
            yield EngineInput(("tls13", 0), (), flights.encode(records, ())).encode(transfers)
    for name, index in transfers:
        transfer = _transfer(name, index)
        data = [r for r in transfer.records if r.content_type == 23 and r.keys is not None]
        if data and name in ("tls13", "tls12"):
            for size in (2**14, 2**14 + 1):
                record = dataclasses.replace(data[0], payload=bytes(size))
                yield EngineInput((name, index), (),
                                  flights.encode([record], transfer.keys)).encode(transfers)


# -- seeds from real peers -----------------------------------------------------------------

SEEDS = Path(__file__).with_name("seeds")


def _peer_seeds(server: bool, transfers: Sequence[tuple[str, int]]) -> Iterator[bytes]:
    """Flights recorded from OpenSSL, GnuTLS, Python's ssl and others (see
    seeds/README.md), as the transfer that stands in the same place: a ClientHello
    to a fresh server, a server's first flight to the client that sent the scenario's
    ClientHello."""
    for path in sorted(SEEDS.glob("*.hex")):
        kind, scenario = path.stem.split("--")[:2]
        if (kind == "client_hello") != server:
            continue
        place = (scenario, 0 if server else 1)
        if place not in transfers:
            continue
        wire = bytes.fromhex(path.read_text())
        records = b"".join(bytes([RAW, 0, 0, 0]) + len(r).to_bytes(3, "big") + r
                           for r in split_records(wire))
        yield EngineInput(place, (), records).encode(transfers)


# -- parsers -----------------------------------------------------------------------------


PARSER_NAMES = sorted(PARSERS)
PARSE_TARGETS = [*(f"message:{n}" for n in PARSER_NAMES), *(f"extensions:{w}" for w in WHERES)]


def parse(target: str, body: bytes) -> None:
    kind, name = target.split(":")
    with contextlib.suppress(TLSError):
        if kind == "message":
            PARSERS[name](b"\x00" + min(len(body), 2**24 - 1).to_bytes(3, "big") + body)
        else:
            with Reader(body) as r:
                extensions = ext.parse_extensions(r, name)
            ext.check_allowed(extensions, name)


def parsers_harness(data: bytes) -> None:
    if not data:
        return
    target, body = PARSE_TARGETS[data[0] % len(PARSE_TARGETS)], data[1:]
    try:
        within_cpu_limit(lambda: body, lambda b: parse(target, b),
                         f"{target} on {len(body)} bytes")
    except BrokenPromise:
        raise
    except Exception as error:
        raise BrokenPromise(f"{type(error).__name__} escaped {target}: {error}") from error


def parsers_seeds() -> Iterator[bytes]:
    """Every handshake message of every recorded transfer, given to each parser
    that accepts it, and its extension block to the extension parsers."""
    seen: set[bytes] = set()
    for name in flights.SCENARIOS:
        for transfer in flights.recording(name).transfers:
            stream = b"".join(r.payload for r in transfer.records if r.content_type == 22)
            for message in handshake_messages(stream):
                for position, parser in enumerate(PARSER_NAMES):
                    try:
                        PARSERS[parser](message)
                    except TLSError:
                        continue
                    seed = bytes([position]) + message[4:]
                    if seed not in seen:
                        seen.add(seed)
                        yield seed


# -- the record layer --------------------------------------------------------------------


_RECORD_SUITES = (None, CipherSuite.TLS_AES_128_GCM_SHA256,
                  CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
                  CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                  CipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256)


def _record_keys(choice: int) -> Keys | None:
    suite_id = _RECORD_SUITES[choice % len(_RECORD_SUITES)]
    if suite_id is None:
        return None
    suite = SUITES[suite_id]
    return Keys(suite, bytes(range(suite.key_len)), bytes(range(100, 100 + suite.iv_len)),
                tls13=suite.is_tls13)


def records_harness(data: bytes) -> None:
    """``setup(1) chunk(2) records``: the setup byte picks the read protection and the
    layer's settings, the records (sealed with those keys in slot 1) are fed in
    chunks of the given size, and every record is read out."""
    if len(data) < 3:
        return
    setup, chunk = data[0], max(int.from_bytes(data[1:3], "big"), 64)
    keys = _record_keys(setup)
    transfer = Transfer(CLIENT_TO_SERVER, b"", (
        flights.Record(23, b"\x03\x03", b"", keys, 0),) if keys else ())
    wire = flights.wire_bytes(data[3:], transfer)

    def make() -> RecordLayer:
        layer = RecordLayer()
        layer.read_protection = keys.protection(0) if keys else Protection()
        layer.tls13 = keys.tls13 if keys else bool(setup & 0x10)
        layer.handshaking = bool(setup & 0x20)
        if setup & 0x40:
            layer.read_limit = 64
        if setup & 0x80:
            layer.skip_early_data(2**14)
        return layer

    def run(layer: RecordLayer) -> None:
        try:
            for start in range(0, len(wire), chunk):
                layer.feed(wire[start:start + chunk])
                while (record := layer.next_record()) is not None:
                    if len(record[1]) > MAX_PLAINTEXT:
                        raise BrokenPromise(f"a record of {len(record[1])} bytes came out")
        except TLSError:
            pass
        except BrokenPromise:
            raise
        except Exception as error:
            raise BrokenPromise(f"{type(error).__name__} escaped the record layer: {error}"
                                ) from error

    within_cpu_limit(make, run, f"the record layer fed {len(wire)} bytes")


def records_seeds() -> Iterator[bytes]:
    """The records of two recorded handshakes, in the clear and sealed under each
    protection."""
    for name in ("tls13", "tls12"):
        for transfer in flights.recording(name).transfers:
            for setup in range(len(_RECORD_SUITES)):
                slot = 1 if setup else 0
                records = flights.encode([dataclasses.replace(r, keys=None)
                                          for r in transfer.records], ())
                sealed = b"".join(bytes([slot, t]) + v + len(p).to_bytes(3, "big") + p
                                  for _, t, v, p in flights.decode(records))
                yield bytes([setup]) + (2**14).to_bytes(2, "big") + sealed


# -- threads -----------------------------------------------------------------------------


THREADS = 4


@dataclass
class SharedState:
    """What a server shares between its connections."""

    ticket_keys: TicketKeys = dataclasses.field(
        default_factory=lambda: TicketKeys(secret=bytes(32)))
    anti_replay: AntiReplay = dataclasses.field(default_factory=AntiReplay)
    server_sessions: ServerSessionCache = dataclasses.field(default_factory=ServerSessionCache)
    client_sessions: SessionCache = dataclasses.field(default_factory=SessionCache)

    def configs(self, name: str) -> flights.Configs:
        client, server = flights.SCENARIOS[name].configs(flights.RECORDED_SEED)
        server_sessions = self.server_sessions if server.session_cache is not None else None
        return (dataclasses.replace(client, session_cache=self.client_sessions),
                dataclasses.replace(server, ticket_keys=self.ticket_keys,
                                    anti_replay=self.anti_replay,
                                    session_cache=server_sessions))


_SHARED = SharedState()


@functools.cache
def all_transfers() -> tuple[tuple[str, int], ...]:
    return flights.replayable()


@contextlib.contextmanager
def switching_often() -> Iterator[None]:
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def threads_harness(data: bytes) -> None:
    """The input fed at THREADS recorded transfers at once, one thread each; the
    threads share one SharedState for the whole campaign."""
    transfers = all_transfers()
    given = EngineInput.parse(data, transfers)
    first = transfers.index(given.transfer)
    step = max(len(transfers) // THREADS, 1)
    failures: list[BaseException] = []

    def run(k: int) -> None:
        name, index = transfers[(first + k * step) % len(transfers)]
        try:
            connection, _ = flights.replayed(name, index, _SHARED.configs(name))
        except TLSError:
            return  # the shared state (a replayed ticket, say) changed the replay
        except Exception as error:
            failures.append(BrokenPromise(f"{type(error).__name__} in a replay: {error}"))
            return
        wire = flights.wire_bytes(given.records, _transfer(name, index))
        chunks = split_at(wire, given.cuts)
        try:
            start = time.thread_time()
            check_receive(connection, chunks)
            spent = time.thread_time() - start
            # Not timed twice (the replay depends on what other threads did): a slow
            # input here is checked again by the server and client harnesses.
            if spent > 2 * CPU_LIMIT:
                raise BrokenPromise(f"{name}:{index} fed {len(wire)} bytes in a thread "
                                    f"took {spent * 1000:.0f} ms of CPU")
        except BaseException as error:
            failures.append(error)

    workers = [threading.Thread(target=run, args=(k,)) for k in range(THREADS)]
    with switching_often():
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(10)
    if any(worker.is_alive() for worker in workers):
        raise BrokenPromise("a connection thread hung")
    if failures:
        raise failures[0]


def threads_seeds() -> Iterator[bytes]:
    transfers = all_transfers()
    for name, index in transfers[::3]:
        records = flights.seed(_transfer(name, index))
        yield EngineInput((name, index), (), records).encode(transfers)


# -- the table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Harness:
    run: Callable[[bytes], None]
    seeds: Callable[[], Iterator[bytes]]


HARNESSES: dict[str, Harness] = {
    "parsers": Harness(parsers_harness, parsers_seeds),
    "server": Harness(engine_harness(server=True), lambda: engine_seeds(server=True)),
    "client": Harness(engine_harness(server=False), lambda: engine_seeds(server=False)),
    "records": Harness(records_harness, records_seeds),
    "threads": Harness(threads_harness, threads_seeds),
}
