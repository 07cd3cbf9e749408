"""glasstls.serve() runs every handshake on a loop thread (one of ``handshake_loops``)
and hands established connections to reused worker threads: a stalled handshake
holds no thread and ends at its deadline, a failed one is logged and never reaches
the handler, many at once complete, each connection keeps a context of its own from
config to handler, and the loops share the clients and end together."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from io_helpers import client_config, echo, echoes, server_config, serving

import glasstls
from glasstls import ClientConnection, ServerConfig, TLSSocket

PATIENCE = 30  # seconds a test waits for what must happen (a hang guard, not a timing)


def partial_client_hello() -> bytes:
    """The first bytes of a real ClientHello: a handshake that has begun, then stalls."""
    return ClientConnection(client_config(), server_name="localhost").data_to_send()[:20]


def server_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("glasstls-"))


@pytest.mark.parametrize("loops", [1, 2])
def test_stalled_handshakes_hold_no_thread(loops: int) -> None:
    with serving(handshake_loops=loops) as server:
        stalled = [socket.create_connection(server.address, timeout=PATIENCE)
                   for _ in range(20)]
        try:
            for sock in stalled:
                sock.sendall(partial_client_hello())
            assert echoes(server)  # served while 20 handshakes wait
            # The loops, and the one worker that served the echo: none per stalled
            # client.
            assert len(server_threads()) <= loops + 1, server_threads()
            assert "glasstls-server" in server_threads()
        finally:
            for sock in stalled:
                sock.close()


def stall_in_client_hello(sock: socket.socket) -> None:
    sock.sendall(partial_client_hello())


def stall_before_finished(sock: socket.socket) -> None:
    """Read the server's whole answer, and never send the Finished it waits for."""
    client = ClientConnection(client_config(), server_name="localhost")
    sock.sendall(client.data_to_send())
    while not client.handshake_complete:
        data = sock.recv(65536)
        assert data, "the server closed before answering"
        client.receive_data(data)


@pytest.mark.parametrize("stall", [stall_in_client_hello, stall_before_finished])
def test_the_handshake_timeout_ends_a_stalled_handshake_and_frees_its_slot(
        caplog: pytest.LogCaptureFixture, stall: Any) -> None:
    caplog.set_level(logging.INFO, logger="glasstls.io")
    handled: list[Any] = []
    with serving(lambda sock, address: handled.append(address), max_connections=1,
                 handshake_timeout=0.5) as server:
        with socket.create_connection(server.address, timeout=PATIENCE) as stalled:
            stall(stalled)
            assert stalled.recv(100) == b""  # closed by the server, no alert owed
        # The only slot came free: the next client is served.
        with glasstls.connect(server.address, config=client_config(),
                              server_hostname="localhost", timeout=PATIENCE) as sock:
            assert sock.recv(1) == b""  # the handler returned: close_notify
    failures = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 1 and "the handshake timed out" in failures[0], failures
    assert len(handled) == 1


def fail_with_http(sock: socket.socket) -> None:
    sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert sock.recv(100)[:1] == b"\x15"  # an alert record, then the end


def fail_with_a_bad_finished(sock: socket.socket) -> None:
    client = ClientConnection(client_config(), server_name="localhost")
    sock.sendall(client.data_to_send())
    while not client.handshake_complete:
        data = sock.recv(65536)
        assert data
        client.receive_data(data)
    finished = bytearray(client.data_to_send())
    finished[-1] ^= 1  # its last record no longer authenticates
    sock.sendall(bytes(finished))
    answer = sock.recv(100)
    # The bad_record_mac alert under the server's application keys (RFC 8446 §5.2:
    # an encrypted record's outer type is application_data), then the end.
    assert answer[:1] == b"\x17"
    events = client.receive_data(answer)
    assert [getattr(e, "description", None) for e in events] == [
        glasstls.AlertDescription.bad_record_mac], events


@pytest.mark.parametrize("fail", [fail_with_http, fail_with_a_bad_finished])
def test_a_failed_handshake_is_logged_and_never_reaches_the_handler(
        caplog: pytest.LogCaptureFixture, fail: Any) -> None:
    caplog.set_level(logging.INFO, logger="glasstls.io")
    handled: list[Any] = []

    def handler(sock: TLSSocket, address: Any) -> None:
        handled.append(address)
        echo(sock, address)

    with serving(handler) as server:
        with socket.create_connection(server.address, timeout=PATIENCE) as plain:
            fail(plain)
        assert echoes(server)
    assert len(handled) == 1
    failures = [r for r in caplog.records if "TLS handshake with" in r.getMessage()]
    assert len(failures) == 1 and failures[0].levelno == logging.INFO


def test_many_concurrent_handshakes_complete() -> None:
    clients = 64
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client(index: int) -> None:
        start.wait(PATIENCE)
        try:
            ok = echoes(server, f"client {index}".encode())
        except OSError:
            ok = False
        with lock:
            results.append(ok)

    with serving() as server:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(PATIENCE * 4)
    assert results == [True] * clients


def test_workers_are_reused_from_one_connection_to_the_next() -> None:
    names: list[str] = []

    def handler(sock: TLSSocket, address: Any) -> None:
        names.append(threading.current_thread().name)
        echo(sock, address)

    with serving(handler) as server:
        for index in range(10):
            with glasstls.connect(server.address, config=client_config(),
                                  server_hostname="localhost", timeout=PATIENCE) as sock:
                sock.sendall(b"%d" % index)
                assert sock.recv(10) == b"%d" % index
                sock.unwrap()  # the server's close_notify: its handler has returned
    # One worker served them all (a second only if a client came back before the first
    # worker was waiting again): not a thread per connection.
    assert len(names) == 10 and len(set(names)) <= 2, names


def test_each_connection_has_its_own_context_from_config_to_handler() -> None:
    seen: dict[str, list[Any]] = {"config": [], "trace": [], "handler": []}

    def connection_config(config: ServerConfig) -> ServerConfig:
        seen["config"].append(glasstls.io.client_address())
        return dataclasses.replace(
            config, trace=lambda event: seen["trace"].append(glasstls.io.client_address()))

    def handler(sock: TLSSocket, address: Any) -> None:
        seen["handler"].append((address, glasstls.io.client_address(), sock.getpeername()))

    with serving(handler, connection_config=connection_config) as server:
        for _ in range(2):
            with glasstls.connect(server.address, config=client_config(),
                                  server_hostname="localhost", timeout=PATIENCE) as sock:
                assert sock.recv(1) == b""
    assert glasstls.io.client_address() is None
    clients = [address for address, _, _ in seen["handler"]]
    assert len(set(clients)) == 2
    assert [(a, a, a) for a in clients] == seen["handler"]
    assert seen["config"] == clients
    assert set(seen["trace"]) == set(clients) and None not in seen["trace"]


def test_close_with_abort_ends_the_handshakes_under_way() -> None:
    server = glasstls.serve(("127.0.0.1", 0), echo, config=server_config())
    try:
        with socket.create_connection(server.address, timeout=PATIENCE) as stalled:
            stalled.sendall(partial_client_hello())
            assert echoes(server)  # the stalled one is on the loop by now
            server.close(abort_connections=True)
            assert stalled.recv(100) == b""
            with pytest.raises(OSError):
                socket.create_connection(server.address, timeout=PATIENCE).close()
    finally:
        server.close(abort_connections=True)
    assert server_threads() == []


def test_close_without_abort_lets_a_handshake_under_way_finish() -> None:
    handled: list[Any] = []
    server = glasstls.serve(("127.0.0.1", 0), lambda sock, address: handled.append(address),
                            config=server_config())
    client = ClientConnection(client_config(), server_name="localhost")
    hello = client.data_to_send()
    with socket.create_connection(server.address, timeout=PATIENCE) as plain:
        plain.sendall(hello[:20])
        # Another client served (its handler returned: close_notify): the first
        # connection, before it in the backlog, is on the loop by now.
        with glasstls.connect(server.address, config=client_config(),
                              server_hostname="localhost", timeout=PATIENCE) as other:
            assert other.recv(1) == b""
        closer = threading.Thread(target=server.close)  # waits for that handshake
        closer.start()
        plain.sendall(hello[20:])
        while not client.handshake_complete:
            client.receive_data(plain.recv(65536))
            plain.sendall(client.data_to_send())
        closer.join(PATIENCE)
        assert not closer.is_alive()
        assert handled[-1] == plain.getsockname()
    assert len(handled) == 2


@pytest.mark.parametrize("platform", ["linux", "darwin"])
def test_connections_are_served_without_nagle_delays(
        monkeypatch: pytest.MonkeyPatch, platform: str) -> None:
    # A reply written while the session tickets are unacknowledged would otherwise
    # wait for the client's delayed ACK. (On Linux the listener's option is
    # inherited; elsewhere it is set on each connection.)
    monkeypatch.setattr("sys.platform", platform)
    options: list[int] = []

    def handler(sock: TLSSocket, address: Any) -> None:
        options.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    with serving(handler) as server, glasstls.connect(
            server.address, config=client_config(), server_hostname="localhost",
            timeout=PATIENCE) as sock:
        assert sock.recv(1) == b""
    assert options and options[0] != 0


def test_accept_backs_off_while_descriptors_run_out() -> None:
    # accept() fails with EMFILE for a while: the loop waits ACCEPT_BACKOFF between
    # attempts (the client waits in the backlog) instead of spinning, and serves the
    # client once descriptors are back.
    # (serve() calls the socket's _accept, which gives a descriptor: the one
    # socket object it makes is the TLSSocket.)
    attempts: list[float] = []
    accept = socket.socket._accept  # type: ignore[attr-defined]
    with serving() as server:
        failing_until = time.monotonic() + 0.5

        def out_of_descriptors(sock: socket.socket) -> tuple[int, Any]:
            if sock.getsockname() == server.address and time.monotonic() < failing_until:
                attempts.append(time.monotonic())
                raise OSError(errno.EMFILE, "Too many open files")
            return accept(sock)  # type: ignore[no-any-return]

        socket.socket._accept = out_of_descriptors  # type: ignore[attr-defined]
        try:
            assert echoes(server)
        finally:
            socket.socket._accept = accept  # type: ignore[attr-defined]
    assert 1 <= len(attempts) <= 10, len(attempts)  # 0.5 s of failures, 0.1 s apart


def loop_of_each_client(names: list[str]) -> Any:
    """A connection_config that notes the loop thread each handshake runs on."""
    def connection_config(config: ServerConfig) -> ServerConfig:
        names.append(threading.current_thread().name)
        return config
    return connection_config


def every_loop_listens(server: glasstls.TLSServer) -> None:
    """Wait until each loop thread has registered the listener (its first turn): a
    loop not yet started cannot take a client, and the other then takes them all."""
    deadline = time.monotonic() + PATIENCE
    while not all(loop._accepting for loop in server._loops):
        assert time.monotonic() < deadline, "a loop never listened"
        time.sleep(0.001)


def test_a_second_client_goes_to_the_loop_with_fewer_handshakes() -> None:
    # The first client stalls on one loop; the next goes to the other loop (the
    # one with fewer handshakes), which serves it.
    names: list[str] = []
    with serving(handshake_loops=2, connection_config=loop_of_each_client(names)) as server:
        every_loop_listens(server)
        with socket.create_connection(server.address, timeout=PATIENCE) as stalled:
            stalled.sendall(partial_client_hello())
            assert echoes(server)
            assert echoes(server)
    assert len(names) == 3 and names[0] != names[1], names
    assert set(names) == {"glasstls-server", "glasstls-server-2"}, names


def test_a_loop_held_in_a_callback_does_not_stop_the_other() -> None:
    # connection_config runs on the loop that took the client: while it blocks, that
    # loop runs nothing, and the other loop takes and serves the next clients.
    release = threading.Event()
    held: list[str] = []
    served: list[str] = []

    def connection_config(config: ServerConfig) -> ServerConfig:
        if not held:
            held.append(threading.current_thread().name)
            release.wait(PATIENCE)
        else:
            served.append(threading.current_thread().name)
        return config

    with serving(handshake_loops=2, connection_config=connection_config) as server, \
            socket.create_connection(server.address, timeout=PATIENCE) as first:
        first.sendall(ClientConnection(client_config(), server_name="localhost").data_to_send())
        try:
            assert echoes(server) and echoes(server)
        finally:
            release.set()
    assert len(held) == 1 and served and held[0] not in served, (held, served)


def test_close_ends_every_loop_and_closes_the_listener() -> None:
    server = glasstls.serve(("127.0.0.1", 0), echo, config=server_config(),
                            handshake_loops=3)
    try:
        assert len([n for n in server_threads() if n.startswith("glasstls-server")]) == 3
        assert echoes(server)
    finally:
        server.close()
    assert server_threads() == []
    with pytest.raises(OSError):
        socket.create_connection(server.address, timeout=PATIENCE).close()


def test_the_default_is_one_loop_whatever_the_cpu_count(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Two loops measured slower than one on an otherwise idle 2-CPU machine.
    for cpus in (1, 2, 8, None):
        monkeypatch.setattr("os.cpu_count", lambda cpus=cpus: cpus)
        server = glasstls.serve(("127.0.0.1", 0), echo, config=server_config())
        try:
            assert sum(n.startswith("glasstls-server") for n in server_threads()) == 1
        finally:
            server.close()


def test_handshake_loops_must_be_at_least_one() -> None:
    with pytest.raises(ValueError, match="handshake_loops"):
        glasstls.serve(("127.0.0.1", 0), echo, config=server_config(), handshake_loops=0)


def test_a_server_that_cannot_make_its_second_loop_starts_none(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pairs: list[tuple[socket.socket, socket.socket]] = []
    socketpair = socket.socketpair

    def one_pair_only(*args: Any) -> tuple[socket.socket, socket.socket]:
        if pairs:
            raise OSError(errno.EMFILE, "Too many open files")
        pairs.append(socketpair(*args))
        return pairs[-1]

    monkeypatch.setattr(socket, "socketpair", one_pair_only)
    with pytest.raises(OSError, match="Too many open files"):
        glasstls.serve(("127.0.0.1", 0), echo, config=server_config(), handshake_loops=2)
    assert server_threads() == []
    assert len(pairs) == 1 and all(sock.fileno() == -1 for sock in pairs[0])


class OneTurn:
    """Clients a and b whose ClientHellos are ready in the same loop turn: a third
    client's connection_config holds the loop while a and b send them. ``on_hello``
    runs on the loop, in each hello's trace callback, given that client's name;
    ``waits`` are the events it may wait for, all set when the test ends."""

    def __init__(self, on_hello: Callable[[str | None], None],
                 *waits: threading.Event) -> None:
        self.log: list[tuple[str, Any]] = []
        self.names: dict[Any, str] = {}
        self.holding = threading.Event()
        self.release = threading.Event()
        self.on_hello = on_hello
        self.waits = waits

    def connection_config(self, config: ServerConfig) -> ServerConfig:
        address = glasstls.io.client_address()
        self.log.append(("accepted", address))
        if len(self.log) == 3:  # the holder: the loop waits here while a and b send
            self.holding.set()
            self.release.wait(PATIENCE)

        def trace(event: Any) -> None:
            if event.step == "ClientHello" and event.action == "received":
                self.log.append(("hello", address))
                self.on_hello(self.names.get(address))

        return dataclasses.replace(config, trace=trace)

    @contextlib.contextmanager
    def started(self, server: Any) -> Iterator[list[socket.socket]]:
        """a, b and the holder connected, a's and b's hellos sent, the loop let go
        on; closed at the end."""
        clients: list[socket.socket] = []
        try:
            self._start(server, clients)
            yield clients
        finally:
            for event in (self.release, *self.waits):
                event.set()
            for sock in clients:
                sock.close()

    def _start(self, server: Any, clients: list[socket.socket]) -> None:
        for name in "ab":
            clients.append(socket.create_connection(server.address, timeout=PATIENCE))
            self.names[clients[-1].getsockname()] = name
        deadline = time.monotonic() + PATIENCE
        while len(self.log) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        clients.append(socket.create_connection(server.address, timeout=PATIENCE))
        assert self.holding.wait(PATIENCE)
        for sock in clients[:2]:
            sock.sendall(ClientConnection(client_config(), server_name="localhost").data_to_send())
        self.release.set()

    def steps(self) -> list[tuple[str, str]]:
        return [(kind, self.names[address]) for kind, address in self.log
                if address in self.names]


def test_a_busy_loop_accepts_between_the_steps_of_a_turn() -> None:
    # Two clients' hellos are ready in the same turn; the first one's step is slow
    # (its trace callback waits), and a third client connects meanwhile: the loop
    # takes it out of the listen backlog before the second step, not only at the
    # turn's end (a full backlog would drop new clients' SYNs).
    in_first_step = threading.Event()
    third_connected = threading.Event()

    def on_hello(name: str | None) -> None:
        if name == "a":
            in_first_step.set()
            third_connected.wait(PATIENCE)
            time.sleep(0.05)  # past the loop's interval between accepts

    turn = OneTurn(on_hello, third_connected)
    with serving(connection_config=turn.connection_config) as server, \
            turn.started(server) as clients:
        assert in_first_step.wait(PATIENCE)
        third = socket.create_connection(server.address, timeout=PATIENCE)
        clients.append(third)
        turn.names[third.getsockname()] = "c"
        third_connected.set()
        for sock in clients[:2]:
            assert sock.recv(1)  # answered
    steps = turn.steps()
    assert steps[steps.index(("hello", "a")):][:3] == [
        ("hello", "a"), ("accepted", "c"), ("hello", "b")], turn.log


def test_a_hello_already_there_is_answered_in_the_turn_that_accepts_its_client() -> None:
    # The first client's connection_config holds the loop while the second client
    # connects and sends its ClientHello: the loop accepts it and takes its hello
    # step before it looks again (select()), not a turn later.
    log: list[tuple[str, Any]] = []
    holding = threading.Event()
    release = threading.Event()

    def connection_config(config: ServerConfig) -> ServerConfig:
        address = glasstls.io.client_address()
        log.append(("accepted", address))
        if not holding.is_set():  # the first client (the loop's only thread runs this)
            holding.set()
            release.wait(PATIENCE)

        def trace(event: Any) -> None:
            if event.step == "ClientHello" and event.action == "received":
                log.append(("hello", address))

        return dataclasses.replace(config, trace=trace)

    with serving(connection_config=connection_config) as server:
        (loop,) = server._loops
        select = loop._selector.select

        def counted(timeout: float | None) -> Any:
            ready = select(timeout)
            log.append(("turn", None))
            return ready

        loop._selector.select = counted  # type: ignore[method-assign]
        with socket.create_connection(server.address, timeout=PATIENCE) as holder, \
                socket.create_connection(server.address, timeout=PATIENCE) as plain:
            try:
                assert holding.wait(PATIENCE)
                plain.sendall(ClientConnection(client_config(),
                                               server_name="localhost").data_to_send())
            finally:
                release.set()
            assert plain.recv(5)[:1] == b"\x16"  # the ServerHello's record: answered
            address = plain.getsockname()
        del holder
    steps = [kind for kind, who in log if who in (None, address)]
    accepted = steps.index("accepted")
    assert steps[accepted:accepted + 2] == ["accepted", "hello"], log


def test_a_flight_that_waited_goes_before_the_turn_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two clients' hellos are ready in the same turn. With no wait allowed, the first
    # one's flight goes once its step is done: the second one's step (its trace
    # callback) finds the first client answered. Held to the turn's end, the first
    # flight would come only after the second step, and the callback would wait out.
    monkeypatch.setattr(glasstls.io.server, "_FLIGHT_WAIT", 0.0)
    first_answered = threading.Event()
    seen_in_second_step: list[bool] = []

    def on_hello(name: str | None) -> None:
        if name == "b":
            seen_in_second_step.append(first_answered.wait(PATIENCE))

    turn = OneTurn(on_hello, first_answered)
    with serving(connection_config=turn.connection_config) as server, \
            turn.started(server) as clients:
        assert clients[0].recv(5)[:1] == b"\x16"  # a's ServerHello
        first_answered.set()
        assert clients[1].recv(5)[:1] == b"\x16"
    steps = turn.steps()
    assert steps.index(("hello", "a")) < steps.index(("hello", "b")), turn.log
    assert seen_in_second_step == [True], turn.log
