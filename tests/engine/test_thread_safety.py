"""State shared across connections (the HKDF pad cache, session caches, ticket keys,
the anti-replay store, the system trust store) under threads: many connections, in
as many threads, switching as often as the interpreter allows. Only a TLSError may
come out of an engine, and an honest pair makes none."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import pytest

from glasstls import ClientConfig, ClientConnection, ServerConfig, TLSError, UsageError
from glasstls.constants import TLS12, TLS13
from glasstls.session import AntiReplay, ServerSessionCache, SessionCache, TicketKeys
from helpers.pump import Pair, client_config, server_config
from pki import pki

TEST_PKI = pki("ecdsa-p256")
THREADS = 8
ROUNDS = 6
KEY_UPDATES = 40


@contextmanager
def switching_constantly() -> Iterator[None]:
    """Ask the interpreter to switch threads every microsecond: a check-then-act on
    shared state that is not atomic gets interleaved within seconds."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def run_threads(work: Callable[[int], None], threads: int = THREADS) -> list[BaseException]:
    """``work(index)`` in ``threads`` threads at once; the exceptions they raised."""
    failures: list[BaseException] = []
    start = threading.Barrier(threads)

    def run(index: int) -> None:
        start.wait()
        try:
            work(index)
        except BaseException as error:  # counted, then reported
            failures.append(error)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    with switching_constantly():
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
    assert not any(w.is_alive() for w in workers), "a connection thread hung"
    return failures


def key_updates_and_exporters(pair: Pair, index: int) -> None:
    """Traffic keys derived over and over (each KeyUpdate is an HKDF-Expand-Label of a
    fresh secret), and exporters under labels of the application's choosing. Data
    between them, as a peer may send only so many KeyUpdates in a row (limits.py)."""
    for update in range(KEY_UPDATES):
        side = pair.client if update % 2 else pair.server
        side.connection.key_update(request_peer_update=True)
        side.connection.send(b".")
        pair.pump()
        pair.client.connection.export_keying_material(f"EXPORTER-thread-{index}-{update}",
                                                      None, 32)
    pair.client.connection.send(b"still in step")
    pair.pump()
    assert pair.server.data.endswith(b"still in step")


def test_connections_in_many_threads_raise_no_exception_but_tls_errors() -> None:
    # Every piece of state a server shares between connections, shared here too.
    ticket_keys, anti_replay = TicketKeys(), AntiReplay()
    server_sessions, client_sessions = ServerSessionCache(), SessionCache()
    server13 = server_config(TEST_PKI, ticket_keys=ticket_keys, anti_replay=anti_replay,
                             max_early_data_size=1024)
    server12 = server_config(TEST_PKI, versions=(TLS12,), ticket_keys=ticket_keys,
                             session_cache=server_sessions)
    client13 = client_config(TEST_PKI, versions=(TLS13,), session_cache=client_sessions,
                             enable_early_data=True, check_hostname=False)
    client12 = client_config(TEST_PKI, versions=(TLS12,), session_cache=client_sessions,
                             check_hostname=False)
    resumed: list[bool] = []

    def connect(client: ClientConfig, server: ServerConfig, name: str) -> Pair:
        pair = Pair(client, server, server_name=name)
        client = pair.client.connection
        assert isinstance(client, ClientConnection)
        with suppress(UsageError):  # 0-RTT only with a ticket that allows it
            client.send_early_data(b"early")
        pair.pump()
        for side in (pair.client, pair.server):
            if side.error is not None:
                raise side.error
        assert pair.complete
        resumed.append(pair.server.negotiated.resumed)
        return pair

    def work(index: int) -> None:
        # Threads share session names in pairs, so tickets are taken by other threads.
        name = f"host{index % 4}.localhost"
        for _ in range(ROUNDS):
            key_updates_and_exporters(connect(client13, server13, name), index)
            connect(client12, server12, name)
            # Counting walks the caches while other threads store into them.
            assert len(client_sessions) <= 4 * 4  # four names, four sessions each
            assert len(server_sessions) <= THREADS * ROUNDS

    failures = run_threads(work)
    assert not [f for f in failures if not isinstance(f, TLSError)], failures
    assert not failures, f"an honest pair failed: {failures}"
    assert len(resumed) == THREADS * ROUNDS * 2
    assert any(resumed), "no connection resumed: the shared caches were not exercised"


@pytest.mark.parametrize("versions", [(TLS13,), (TLS12,)], ids=["tls13", "tls12"])
def test_one_shared_config_serves_threads_that_load_the_system_trust_store(
        versions: tuple[int, ...]) -> None:
    # The first connections of a client config without a trust store all ask for the
    # system's at once; it is loaded once and verification fails cleanly (the test
    # CA is not a system root) in every thread.
    config = ClientConfig(versions=versions)
    server = server_config(TEST_PKI)
    alerts: list[str] = []

    def work(index: int) -> None:
        pair = Pair(config, server).pump()
        assert pair.client.error is not None
        alerts.append(pair.client.error.alert.name)

    failures = run_threads(work)
    assert failures == []
    assert alerts == ["unknown_ca"] * THREADS
