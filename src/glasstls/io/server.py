"""A threaded blocking server: ``serve(address, handler, config=...)``.

A loop thread (or ``handshake_loops`` of them) accepts connections and runs
their handshakes on non-blocking sockets, each against its own
``handshake_timeout``; a connection whose handshake is done goes to a worker
thread, which calls ``handler(tls_socket, client_address)`` and closes the
socket (with close_notify) when the handler returns. Workers are reused from one
connection to the next. A failed handshake is logged and does not reach the handler.
``max_connections`` bounds how many connections are handshaking or being served
at once (the rest wait in the listen backlog); ``connection_config`` gives each
connection a config of its own, say with its own trace callback.

    def echo(sock: TLSSocket, address) -> None:
        while data := sock.recv(65536):
            sock.sendall(data)

    with glasstls.serve(("127.0.0.1", 8443), echo, config=server_config) as server:
        print("listening on", server.address)
        server.serve_forever()          # until server.close() from another thread

Why loops for the handshakes: a handshake is mostly Python holding the GIL,
so handshakes on a thread each only interleave (every switch costing the others),
and a client that stalls its handshake would hold a thread. On a loop a stalled
client holds a descriptor and a slot, until its deadline. Why one loop by
default: a second one runs Python while the first is in what a handshake does
without the GIL (system calls, the signature, AEAD calls), but every hand-off of
the GIL between them costs. On an otherwise idle 2-CPU machine two loops measured
0.95-0.96x the rate of one with 64 and 200 clients, at 1.13x the server's CPU per
connection and a longer p99; on a machine loaded by other processes they gained
(0.95-1.43x, median 1.06x, with 64 clients; 1.19-1.66x with 200), since the
scheduler shares CPU time per thread (bench/results/2026-12-06-threaded-serve-round10.txt).
With several loops they share the listener, each with a selector of its own, and
the next client goes to the loop with fewer handshakes. A loop runs the steps that one
``select()`` found ready in the order it found them (the order they became
ready): taking the clients' last flights before newer clients' hellos measured
0.93x the rate with 200 clients (the clients then had less to do while the loop
ran). Measured again with other orders (2026-12-07-threaded-serve-round11.txt):
a turn's steps oldest connection first, no clear change (0.94-1.10x the rate);
oldest first across turns (the loop looking again every few milliseconds) cut a
client's Finished's wait from ~27 to ~3 ms at the median, but the echo workers
then ran beside the loop and took the GIL from it more: 1.05-1.12x the loop's
CPU per connection, 0.89-0.97x the rate.

A turn's steps queue what they send; the loop sends it all (and hands the
connections whose handshake is done to workers) at the turn's end, just before
it looks again. A send wakes a client, which then often preempted the loop
(~1 time per connection, holding the GIL, its caches gone cold): with the
wake-ups of a turn together the loop ran 8-18 % less CPU per connection
(bench/results/2026-12-07-threaded-sched-round16.txt). An alert still goes at
once, with the step that failed. The clients that come meanwhile are accepted
between those sends too: without that, the clients woken together came back
together and overflowed a 128-client backlog with 200 clients.

A flight does not wait for the turn's end without bound, though: once the
oldest one queued has waited _FLIGHT_WAIT, the flights queued so far go at once
(the handshakes done still wait for the turn's end). A busy turn runs for tens
of milliseconds; its first clients waited for all of it, then woke together
with the others, and the bench's client threads, one process under one GIL,
then queued for it (~20 sleeps per connection against ~8 with ssl's server). With
flights sent after at most 1 ms: 1.07x the rate with 64 clients in two runs on a
busy host, 1.01x on a quiet one, 1.01-1.085x with 200 (three runs), the clients'
CPU per connection 0.94-0.99x (bench/results/2026-12-08-threaded-flights-round23.txt).
Sending each flight at once did less (1.02x with 64 clients, the median of six
runs, with twice the preemptions of the loop with 200), and handing connections
to workers during the turn too did worse (0.975-0.993x: a worker woken while the
loop holds the GIL waits for it, then takes it from the loop).

The clients a turn accepts have their hello step at that turn's end, after the
steps that select() found ready, without a look first: a busy loop takes clients
from the backlog a while after they connected, and their ClientHellos are there
(else the step's read finds nothing and the socket waits as any other). Each
then has the selector look for its Finished only, and (with epoll, whose
handshake registrations are one-shot: see _EpollPoller) leaves the loop without
a system call: one epoll_ctl per connection instead of two (each lets go of the
GIL). Against 3b9de3b (bench/results/2026-12-07-threaded-accept-round17.txt):
1.00-1.03x the rate with 200 clients, 0.95-1.06x with 64 (3 alternated runs
each), the loop's instructions -0.2 %. Linux's TCP_DEFER_ACCEPT (the hello
always there when accepted) measured no better: it keeps 200 clients' connections
in a 128-entry SYN queue until their hellos come, and some then wait a second.

A TLS 1.3 connection's session tickets, written by the step that reads the
client's Finished, are not sent by the loop: they go with the handler's first
write, in the same send (or before the handler's first read that would wait, or
with its close_notify; RFC 8446 §4.6.1 lets a server send them any time after
the client's Finished). The client then wakes once for the tickets and the reply,
and the loop makes one send fewer per connection. A client with Nagle's algorithm
on (Python's ssl) holds the data it writes after its Finished until the Finished
is acknowledged, which the tickets' segment used to do at once: the loop asks
Linux for that acknowledgement now instead (TCP_QUICKACK, a system call that keeps
the GIL). Against d40149e (bench/results/2026-12-07-threaded-tickets-round19.txt):
1.03-1.07x the rate with 64 clients, 0.99-1.03x with 200, the clients' sleeps in
the echo from 6.6 to 4.8 per connection.

Jobs go to idle workers through a ``queue.SimpleQueue`` (C; a
``threading.Condition`` allocates a lock per wait). The config's callbacks
that run during a handshake (``connection_config``, trace, SNI) run on a loop:
they should be quick (and may run on two loops at once). Each connection runs
in a ``contextvars`` context of its own, from ``connection_config`` to the
handler's end (as an asyncio task does), in which ``client_address()`` names its
client.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import logging
import math
import os
import queue
import select
import selectors
import socket
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ..config import ServerConfig
from .channel import TLSChannel
from .keylog import with_environment_keylog
from .sockets import TLSSocket, acknowledge_now

logger = logging.getLogger("glasstls.io")

# serve()'s default bound on connections handshaking or being served at once. Each
# being served holds a thread (and its stack) and each two descriptors: 512 stays
# under the common 1024-descriptor limit and within a small machine's memory, where
# no limit let idle clients exhaust threads. Pass max_connections=None for no bound.
DEFAULT_MAX_CONNECTIONS = 512
# How long the loop stops accepting after accept() failed for want of descriptors
# or memory, instead of spinning on a listener that stays readable.
ACCEPT_BACKOFF = 0.1
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
# The loop takes the clients out of the listen backlog (accepting is cheap: their
# handshakes wait for their turn on the loop) at every wake-up and, between
# handshake steps (and between the sends at a turn's end), at least this often
# (seconds): a full backlog drops a new client's SYN, and it retries only a second
# later. A busy loop goes from one step to the next for tens of milliseconds, and
# each of these looks ends with an accept() that finds no one (a system call, and
# ~150 bytecodes with the slot taken and given back): at 2 ms there was about one
# such call per connection; at 10 ms a 128-client backlog fills only above 12,800
# new clients a second.
_ACCEPT_BETWEEN_STEPS = 0.010
# How long a flight made during a turn may wait for the turn's end (seconds): see
# the module's docstring.
_FLIGHT_WAIT = 0.001
# Linux tells how many clients wait in a listener's backlog (TCP_INFO's tcpi_unacked,
# a 32-bit field at this offset of struct tcp_info, on a listening socket): the loop
# accepts that many and stops, instead of accepting until an accept() fails, a system
# call that lets go of the GIL (to a worker waiting for it), and an exception.
# getsockopt() keeps the GIL.
_TCP_INFO: int = getattr(socket, "TCP_INFO", 0) if sys.platform.startswith("linux") else 0
_BACKLOG_FIELD = slice(24, 28)
# A loop that leaves the clients to a loop with fewer handshakes listens again
# after this long (seconds).
_ACCEPT_INTERVAL = 0.002
# A worker with no connection to serve for this long ends (one is started again
# when needed): a burst of clients does not leave its threads behind for good.
WORKER_IDLE_TIMEOUT = 60.0

Handler = Callable[[TLSSocket, Any], None]
_Job = tuple[TLSSocket, Any, contextvars.Context]
ConnectionConfig = Callable[[ServerConfig], ServerConfig]

_client_address: contextvars.ContextVar[Any] = contextvars.ContextVar("glasstls_client")


def client_address() -> Any:
    """The address of the client whose connection is being served, when called
    from that connection's ``connection_config``, a callback of its config during
    its handshake (trace, SNI) or its handler; None elsewhere.

    >>> def trace(event): print(glasstls.io.client_address(), event)
    """
    return _client_address.get(None)


class _Handshake:
    """A connection on the loop, from accept until its handshake is over."""

    __slots__ = ("address", "context", "deadline", "events", "fd", "registered", "sock")

    def __init__(self, sock: TLSSocket, fd: int, address: Any,
                 context: contextvars.Context, deadline: float | None) -> None:
        self.sock: TLSSocket | None = sock  # None once over (the deadline queue keeps it)
        # The selector knows it by its descriptor: no fileno() call and lookups per
        # registration.
        self.fd = fd
        self.address = address
        self.context = context
        self.deadline = deadline
        self.events = 0  # what the selector waits for on its behalf (0: nothing)
        self.registered = False  # with the selector (waiting or not: see _EpollPoller)


class _SelectorPoller:
    """What a loop waits on, by descriptor: the ``selectors`` module's best for the
    system, each descriptor with the handshake waiting on it (None for the listener
    and the wake-up socket); ``select`` returns (descriptor, handshake) pairs."""

    # A handshake's registration stops waiting once select() returned it (see
    # _EpollPoller): False here, where it goes on waiting until modified.
    ONESHOT = False

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()

    def register(self, fd: int, events: int, data: _Handshake | None = None) -> None:
        self._selector.register(fd, events, data)

    def modify(self, fd: int, events: int, data: _Handshake) -> None:
        self._selector.modify(fd, events, data)

    def unregister(self, fd: int) -> None:
        self._selector.unregister(fd)

    def forget(self, fd: int) -> None:
        """A handshake's descriptor that waits for nothing leaves (see ONESHOT)."""
        self._selector.unregister(fd)

    def select(self, timeout: float | None) -> list[tuple[int, _Handshake | None]]:
        return [(key.fd, key.data) for key, _ in self._selector.select(timeout)]

    def close(self) -> None:
        self._selector.close()


class _EpollPoller(_SelectorPoller):
    """The same on ``select.epoll`` itself (Linux): ``selectors`` makes a key tuple
    per registration and looks each ready descriptor up through two mappings
    (~200 bytecodes per connection on the loop, which a dict of handshakes by
    descriptor does in ~30). Events are reported as selectors' are: any readiness,
    errors and hang-ups included, wakes the handshake, which finds out which."""

    _MASKS = {selectors.EVENT_READ: getattr(select, "EPOLLIN", 1),
              selectors.EVENT_WRITE: getattr(select, "EPOLLOUT", 4)}
    # A handshake's descriptor is registered EPOLLONESHOT: once reported, it waits
    # for nothing until modified (a step that needs more re-arms it, as it would
    # change what it waits for anyway). A handshake handed to a worker right after
    # its descriptor was reported then leaves without an epoll_ctl (a system call
    # that lets go of the GIL): its registration, which can no longer report
    # anything, goes when the descriptor is closed (the kernel removes it then).
    ONESHOT = True
    _ONESHOT = getattr(select, "EPOLLONESHOT", 1 << 30)

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._waiting: dict[int, _Handshake | None] = {}

    def register(self, fd: int, events: int, data: _Handshake | None = None) -> None:
        mask = self._MASKS[events]
        self._epoll.register(fd, mask if data is None else mask | self._ONESHOT)
        self._waiting[fd] = data

    def modify(self, fd: int, events: int, data: _Handshake) -> None:
        self._epoll.modify(fd, self._MASKS[events] | self._ONESHOT)
        self._waiting[fd] = data

    def unregister(self, fd: int) -> None:
        del self._waiting[fd]
        self._epoll.unregister(fd)

    def forget(self, fd: int) -> None:
        del self._waiting[fd]

    def select(self, timeout: float | None) -> list[tuple[int, _Handshake | None]]:
        # As selectors: a timeout rounded up to the millisecond (epoll's unit), so
        # that a deadline is not woken for just before it passes.
        wait = -1.0 if timeout is None else math.ceil(max(timeout, 0.0) * 1e3) * 1e-3
        waiting = self._waiting
        return [(fd, waiting.get(fd))
                for fd, _ in self._epoll.poll(wait, max(len(waiting), 1))]

    def close(self) -> None:
        self._epoll.close()


# The loops' poller: epoll where there is one.
_Poller: type[_SelectorPoller] = _EpollPoller if hasattr(select, "epoll") else _SelectorPoller


class _Workers:
    """Threads that run handlers, started when none is idle and reused after.

    Jobs go to idle workers through a ``queue.SimpleQueue``: its ``put`` and ``get``
    are C, and a waiting worker sleeps on one lock (a ``threading.Condition``
    allocates a lock for every wait and takes its own lock again to return). Each
    job put is promised to one idle worker (``_idle`` counts those promised none),
    so a job never waits for a busy worker, and a worker whose wait timed out while
    a job was promised to it takes that job."""

    def __init__(self, serve: Callable[[TLSSocket, Any, contextvars.Context], None]) -> None:
        self._serve = serve
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # workers waiting for a job, and promised none (under _lock)
        self._stopping = False
        self._started = 0
        self.threads: set[threading.Thread] = set()

    def submit(self, sock: TLSSocket, address: Any, context: contextvars.Context) -> None:
        """Serve the connection on an idle worker, or on a new one; raises what
        ``Thread.start`` raises when no thread can be had."""
        job = (sock, address, context)
        with self._lock:
            if self._idle:
                self._idle -= 1  # promised to one of them
                self._jobs.put(job)
                return
            self._started += 1
            # The first job in a list that the worker empties: a Thread keeps its
            # arguments as long as it runs (see _run).
            worker = threading.Thread(target=self._run, args=([job],), daemon=True,
                                      name=f"glasstls-worker-{self._started}")
            self.threads.add(worker)
        try:
            worker.start()
        except BaseException:
            with self._lock:
                self.threads.discard(worker)
            raise

    def stop(self) -> None:
        """Idle workers end; busy ones once their connection is served."""
        with self._lock:
            self._stopping = True
            idle, self._idle = self._idle, 0
        for _ in range(idle):
            self._jobs.put(None)

    def join(self) -> None:
        """Wait for the workers to end (but the caller, if it is one)."""
        with self._lock:
            threads = list(self.threads)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join()

    def _run(self, first: list[_Job]) -> None:
        job: _Job | None = first.pop()
        try:
            while job is not None:
                self._serve(*job)
                # Nothing of a served connection is kept while the worker waits for
                # the next one: its objects go now (refcounts), not after the cyclic
                # GC's collections have carried them into older generations. In a
                # live serve() with 64 / 200 clients this halved the GC's time per
                # connection with the ClientHello dropped after the flight
                # (bench/results/2026-12-07-gc-round22.txt).
                job = None
                job = self._next_job()
        finally:
            with self._lock:
                self.threads.discard(threading.current_thread())

    def _next_job(self) -> _Job | None:
        with self._lock:
            if self._stopping:
                return None
            self._idle += 1
        try:
            return self._jobs.get(timeout=WORKER_IDLE_TIMEOUT)
        except queue.Empty:
            with self._lock:
                if self._idle:  # none promised to this worker: it ends
                    self._idle -= 1
                    return None
            # Every waiting worker has a job (or a stop) promised, this one included:
            # it is in the queue, or about to be.
            return self._jobs.get()


class TLSServer:
    """A listening socket whose handshakes run on loop threads and whose
    connections are served on worker threads. Made by ``serve()``; stop it with
    ``close()`` (or a ``with`` block)."""

    def __init__(self, listener: socket.socket, handler: Handler, config: ServerConfig,
                 handshake_timeout: float | None, timeout: float | None,
                 max_connections: int | None = None,
                 connection_config: ConnectionConfig | None = None,
                 handshake_loops: int = 1) -> None:
        self._listener = listener
        self._handler = handler
        self._config = config
        self._connection_config = connection_config
        self._handshake_timeout = handshake_timeout
        self._timeout = timeout
        self._max_connections = max_connections
        self._lock = threading.Lock()
        self._active = 0  # connections accepted and not finished (under _lock)
        self._stop = threading.Event()
        self._abort = False  # close(abort_connections=True): handshakes end too
        self._listener_closed = threading.Event()
        # After accept() failed for want of descriptors or memory: when the loops
        # try again.
        self._accept_again = 0.0
        self._workers = _Workers(self._serve_one)
        self._connections: set[TLSSocket] = set()
        listener.setblocking(False)
        # TLS writes whole records already; Nagle would hold a small reply written
        # while the session tickets are unacknowledged until the client's delayed
        # ACK (40 ms on Linux). asyncio and Go set TCP_NODELAY too. Linux gives an
        # accepted socket its listener's: set there once, not by a system call on
        # a loop per connection (each also lets go of the GIL); elsewhere, on each.
        self._nodelay_inherited = False
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError):
                listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._nodelay_inherited = True
        self._family = int(listener.family)
        self.address: Any = listener.getsockname()
        self._loops: list[_Loop] = []
        try:
            for index in range(handshake_loops):
                name = "glasstls-server" + (f"-{index + 1}" if index else "")
                self._loops.append(_Loop(self, name))
        except BaseException:  # no descriptors for a wake-up pair, say
            for loop in self._loops:
                loop.close()
            raise
        self._watching = len(self._loops)  # loops that watch the listener (under _lock)
        self._running = len(self._loops)  # loops not ended (under _lock)
        for loop in self._loops:
            loop.thread.start()

    def serve_forever(self) -> None:
        """Block until ``close()`` is called (from another thread or a signal)."""
        self._listener_closed.wait()

    def close(self, wait: bool = True, abort_connections: bool = False) -> None:
        """Stop accepting (the listener is closed when this returns). Handshakes
        under way go on unless ``abort_connections``, which also shuts down the
        connections being served. With ``wait``, wait for the handshakes and the
        handlers to end."""
        self._abort = self._abort or abort_connections
        self._stop.set()
        for loop in self._loops:
            loop.wake()
        on_a_loop = any(threading.current_thread() is loop.thread for loop in self._loops)
        if not on_a_loop:
            self._listener_closed.wait()
        if abort_connections:
            with self._lock:
                connections = list(self._connections)
            for connection in connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        if wait:
            if not on_a_loop:
                for loop in self._loops:
                    loop.thread.join()
            self._workers.join()

    def __enter__(self) -> TLSServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close(abort_connections=True)

    # -- shared by the loops -------------------------------------------------------

    def _stopped_watching(self) -> None:
        """A loop no longer waits for the listener: the last one closes it (none
        closes it under another's selector)."""
        with self._lock:
            self._watching -= 1
            last = not self._watching
        if last:
            self._listener.close()
            self._listener_closed.set()

    def _loop_ended(self) -> None:
        with self._lock:
            self._running -= 1
            last = not self._running
        if last:
            self._workers.stop()

    def _take_slot(self) -> bool:
        with self._lock:
            if self._max_connections is not None and self._active >= self._max_connections:
                return False
            self._active += 1
            return True

    def _has_room(self) -> bool:
        with self._lock:
            return self._max_connections is None or self._active < self._max_connections

    def _release_slot(self, served: TLSSocket | None = None) -> None:
        """A connection is over (``served``: one that a worker served, which leaves
        ``_connections`` under the same lock)."""
        with self._lock:
            if served is not None:
                self._connections.discard(served)
            was_full = self._max_connections is not None and (
                self._active >= self._max_connections)
            self._active -= 1
        if was_full:
            for loop in self._loops:  # to listen again
                if threading.current_thread() is not loop.thread:
                    loop.wake()

    def _established(self, sock: TLSSocket, address: Any,
                     context: contextvars.Context) -> None:
        try:
            # Here rather than on the worker: each system call lets go of the GIL; the
            # loop, busy, mostly takes it straight back, while a worker that let go
            # of it then waits for the loop to let go again (futex calls per
            # connection went up from ~20 to 25-40 with this call on the worker).
            # With the default timeout (None) there is no system call at all: the
            # descriptor stayed blocking during the handshake (TLSSocket._accepted).
            sock._leave_loop(self._timeout)
            with self._lock:
                self._connections.add(sock)
            self._workers.submit(sock, address, context)
        except Exception as error:  # RuntimeError ("can't start new thread"), MemoryError
            context.run(logger.error, "no thread to serve %s (%s): connection "
                        "closed", address, error)
            with self._lock:
                self._connections.discard(sock)
            # Not served, so not ended as a served connection is: no close_notify.
            sock._channel.abandon("no thread to serve it")
            sock.close()
            self._release_slot()

    # -- a worker -------------------------------------------------------------------

    def _serve_one(self, sock: TLSSocket, address: Any, context: contextvars.Context) -> None:
        try:
            context.run(self._handle, sock, address)
        finally:
            self._release_slot(sock)

    def _handle(self, sock: TLSSocket, address: Any) -> None:
        try:
            with sock:
                self._handler(sock, address)
        except Exception:
            logger.exception("handler for %s failed", address)


class _Loop:
    """A thread that accepts connections and runs their handshakes on non-blocking
    sockets, with a selector of its own. The loops of a server share its listener:
    each takes the clients waiting in the backlog when it finds it readable, and
    keeps the handshakes it accepted until they are done."""

    def __init__(self, server: TLSServer, name: str) -> None:
        self._server = server
        self._listener = server._listener
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._wake_fd = self._wake_reader.fileno()
        self._listener_fd = self._listener.fileno()
        self._selector = _Poller()
        self._selector.register(self._wake_fd, selectors.EVENT_READ)
        self._watching = True  # not yet done with the listener
        self._accepting = False  # the listener is registered with the selector
        # When this loop listens again after leaving the clients to another loop.
        self._listen_again = 0.0
        # Handshakes in the order they were accepted, which is the order of their
        # deadlines (one handshake_timeout for all): the first expires first.
        self._by_deadline: deque[_Handshake] = deque()
        self._handshakes = 0
        # This turn's steps whose sends wait for the turn's end (and whether each is
        # done): see _flush; a flight waits at most _FLIGHT_WAIT (_send_flights).
        self._unsent: list[tuple[_Handshake, bool]] = []
        # When the oldest flight in _unsent was queued (None: no flight waits).
        self._flights_since: float | None = None
        # The clients accepted this turn, their hello steps to come (see
        # _answer_hellos).
        self._hellos: list[_Handshake] = []
        self._accepted = 0.0  # when the loop last took the clients in the backlog
        # The listener's backlog count cannot be had (see _waiting_clients).
        self._backlog_unknown = not _TCP_INFO or self._listener.family not in (
            socket.AF_INET, socket.AF_INET6)
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def wake(self) -> None:
        with contextlib.suppress(OSError):  # full (it will wake anyway) or closed
            self._wake_writer.send(b"x")

    def _run(self) -> None:
        server = self._server
        oneshot = self._selector.ONESHOT
        try:
            while True:
                self._update_listener()
                if server._stop.is_set() and (server._abort or not self._handshakes):
                    return
                self._accepted = time.monotonic()
                for fd, handshake in self._selector.select(self._select_timeout()):
                    if handshake is not None:
                        if oneshot:
                            handshake.events = 0  # reported: it waits no more
                        self._advance(handshake)
                        self._accept_between_steps()
                    elif fd == self._listener_fd:
                        self._accept()
                    elif fd == self._wake_fd:
                        with contextlib.suppress(OSError):
                            self._wake_reader.recv(4096)
                if self._hellos:
                    self._answer_hellos()
                if self._unsent:
                    self._flush()
                self._expire()
        except Exception:  # a bug: say so; its handshakes end, handlers go on
            logger.exception("a server loop failed: its handshakes end")
        finally:
            for handshake in list(self._by_deadline):
                self._end(handshake)
            self._stop_watching()
            self.close()
            server._loop_ended()

    def close(self) -> None:
        """Close the selector and the wake-up pair (the loop has ended, or never ran)."""
        self._selector.close()
        self._wake_reader.close()
        self._wake_writer.close()

    def _answer_hellos(self) -> None:
        """The steps of the clients accepted this turn, after the steps that
        select() found ready and before the turn's sends, without a look at their
        sockets first (the module's docstring says why): a ClientHello not there yet
        is waited for as any read. The clients accepted meanwhile go too."""
        while self._hellos:
            hellos, self._hellos = self._hellos, []
            for handshake in hellos:
                self._advance(handshake)
                self._accept_between_steps()

    def _accept_between_steps(self) -> None:
        if time.monotonic() - self._accepted >= _ACCEPT_BETWEEN_STEPS:
            self._accept()  # the clients that came meanwhile
            self._accepted = time.monotonic()

    def _update_listener(self) -> None:
        """Listen while there is room (the rest wait in the backlog), not during a
        back-off, and not once closing."""
        if self._server._stop.is_set():
            self._stop_watching()
            return
        now = time.monotonic()
        wanted = (self._server._has_room() and now >= self._server._accept_again
                  and now >= self._listen_again)
        if wanted != self._accepting:
            if wanted:
                self._selector.register(self._listener_fd, selectors.EVENT_READ)
            else:
                self._selector.unregister(self._listener_fd)
            self._accepting = wanted

    def _stop_watching(self) -> None:
        if self._watching:
            if self._accepting:
                self._selector.unregister(self._listener_fd)
                self._accepting = False
            self._watching = False
            self._server._stopped_watching()

    def _select_timeout(self) -> float | None:
        """Until the first handshake deadline or the end of an accept back-off."""
        if self._hellos:  # clients accepted during the last turn's sends
            return 0.0
        now = time.monotonic()
        queue = self._by_deadline
        while queue and queue[0].sock is None:
            queue.popleft()
        wakes = [queue[0].deadline] if queue and queue[0].deadline is not None else []
        wakes += [wake for wake in (self._server._accept_again, self._listen_again)
                  if wake > now]
        return max(0.0, min(wakes) - now) if wakes else None

    def _expire(self) -> None:
        now = time.monotonic()
        queue = self._by_deadline
        while queue and (queue[0].sock is None or (queue[0].deadline or now) < now):
            handshake = queue.popleft()
            if handshake.sock is not None:
                handshake.context.run(self._end, handshake,
                                      TimeoutError("the handshake timed out"))

    def _waiting_clients(self) -> int:
        """How many clients wait in the listen backlog; -1 if the system does not say."""
        if self._backlog_unknown:
            return -1
        try:
            info = self._listener.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 32)
        except OSError:  # not TCP, an old kernel: accept until accept() fails
            self._backlog_unknown = True
            return -1
        return int.from_bytes(info[_BACKLOG_FIELD], sys.byteorder)

    def _accept(self) -> None:
        """Take every client waiting in the backlog, while there is room."""
        server = self._server
        # When the system tells how many wait: that many accept() calls, and none that
        # finds no one (one per call of this method, ~0.3-1.3 per connection). A
        # client that comes meanwhile is found by the next look (the selector's,
        # level-triggered, or this between steps); -1 counts down without end.
        waiting = self._waiting_clients()
        while self._accepting and waiting:
            waiting -= 1
            if time.monotonic() < server._accept_again:
                # Another loop found the descriptors or memory gone: all back off.
                self._update_listener()
                return
            if len(server._loops) > 1 and any(
                    self._handshakes > loop._handshakes and loop._accepting
                    for loop in server._loops):
                # The clients go to a loop with fewer handshakes (one that took a
                # whole backlog would make them wait while another loop idles);
                # this one looks again a little later instead of finding the
                # listener readable at every turn until that loop has taken them.
                self._listen_again = time.monotonic() + _ACCEPT_INTERVAL
                self._update_listener()
                return
            if not server._take_slot():
                return
            try:
                # The descriptor alone: the TLSSocket is the only socket object made.
                fd, address = self._listener._accept()  # type: ignore[attr-defined]
            except OSError as error:
                server._release_slot()
                if not isinstance(error, BlockingIOError | InterruptedError):
                    logger.debug("accept failed: %s", error)
                    if error.errno in _OUT_OF_RESOURCES:
                        # The client stays in the backlog and the listener stays
                        # readable: wait for descriptors or memory to come back.
                        server._accept_again = time.monotonic() + ACCEPT_BACKOFF
                        self._update_listener()
                return
            context = contextvars.copy_context()
            handshake = context.run(self._start_handshake, fd, address, context)
            if handshake is not None:
                # Its hello step comes at this turn's end (_answer_hellos).
                self._hellos.append(handshake)

    def _start_handshake(self, fd: int, address: Any,
                         context: contextvars.Context) -> _Handshake | None:
        server = self._server
        _client_address.set(address)  # (in the connection's context)
        try:
            config = (server._connection_config(server._config)
                      if server._connection_config is not None else server._config)
        except Exception:
            logger.exception("connection_config for %s failed", address)
            os.close(fd)
            server._release_slot()
            return None
        try:
            sock = TLSSocket._accepted(fd, server._family, self._listener.proto,
                                       lambda: TLSChannel.server(config))
        except Exception as error:  # the descriptor is closed
            logger.info("TLS handshake with %s failed: %s", address, error)
            server._release_slot()
            return None
        if not server._nodelay_inherited:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        deadline = (time.monotonic() + server._handshake_timeout
                    if server._handshake_timeout is not None else None)
        handshake = _Handshake(sock, fd, address, context, deadline)
        self._by_deadline.append(handshake)
        self._handshakes += 1
        return handshake

    def _advance(self, handshake: _Handshake) -> None:
        done = handshake.context.run(self._step, handshake)
        now = time.monotonic()
        sock = handshake.sock
        if sock is not None and (done or sock._out):
            self._unsent.append((handshake, done))
            if not done and self._flights_since is None:
                self._flights_since = now
        if self._flights_since is not None and now - self._flights_since >= _FLIGHT_WAIT:
            self._send_flights()

    def _send_flights(self) -> None:
        """Send the flights queued so far this turn, before its end (see the module's
        docstring); the handshakes done wait for _flush."""
        self._flights_since = None
        done_ones: list[tuple[_Handshake, bool]] = []
        for handshake, done in self._unsent:
            if done:
                done_ones.append((handshake, done))
            else:
                handshake.context.run(self._send, handshake, done)
                self._accept_between_steps()
        self._unsent = done_ones

    def _flush(self) -> None:
        """Send what the turn's steps queued (but the flights that went already,
        _send_flights), and hand the connections whose handshake is done to
        workers. Each send wakes a client, which can take the loop's CPU while the
        loop holds the GIL: at the turn's end, those wake-ups come together just
        before the loop waits in select()."""
        unsent, self._unsent = self._unsent, []
        self._flights_since = None
        for handshake, done in unsent:
            # A worker enters the connection's context: only once the loop has left it.
            sock = handshake.sock
            if done and sock is not None and sock.version() == "TLSv1.3":
                sock._hold()  # its tickets go with the handler's first write
                handed = True
            elif done and sock is not None and not sock._out:
                # Nothing follows the client's last flight (a TLS 1.2 resumption:
                # ours went first), so nothing of ours acknowledges it.
                acknowledge_now(sock)
                handed = True
            else:
                handed = handshake.context.run(self._send, handshake, done)
            if handed:
                sock = self._forget(handshake)
                assert sock is not None
                self._server._established(sock, handshake.address, handshake.context)
            self._accept_between_steps()

    def _step(self, handshake: _Handshake) -> bool:
        """Take the handshake as far as the socket allows (its sends wait for the
        turn's end: _flush), then wait for what it needs or end it; True when it
        is done."""
        sock = handshake.sock
        if sock is None:
            return False
        try:
            # As do_handshake() would, without its options: the loop's sockets never
            # wait (no timeout, no deadline).
            done = sock._loop_handshake(False)
        except ssl.SSLWantReadError:  # a read found nothing after all
            done = False
        except ssl.SSLWantWriteError:  # an alert (sent at once) or the last sends
            self._wait_for(handshake, selectors.EVENT_WRITE)
            return False
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            self._end(handshake, error)
            return False
        except Exception as error:  # a bug: that connection ends, the server goes on
            logger.exception("TLS handshake with %s failed", handshake.address)
            self._end(handshake, error, logged=True)
            return False
        if not done:
            self._wait_for(handshake, selectors.EVENT_READ)
        return done

    def _send(self, handshake: _Handshake, done: bool) -> bool:
        """A step's sends (see _step); True when its handshake is done."""
        sock = handshake.sock
        if sock is None:
            return False
        try:
            sock._loop_send()
        except ssl.SSLWantWriteError:
            self._wait_for(handshake, selectors.EVENT_WRITE)
            return False
        except (OSError, ValueError) as error:
            self._end(handshake, error)
            return False
        return done

    def _wait_for(self, handshake: _Handshake, events: int) -> None:
        if handshake.events == events or handshake.sock is None:
            return
        if handshake.registered:
            self._selector.modify(handshake.fd, events, handshake)
        else:
            self._selector.register(handshake.fd, events, handshake)
            handshake.registered = True
        handshake.events = events

    def _forget(self, handshake: _Handshake) -> TLSSocket | None:
        """Take the connection off the loop (its queue entry goes with the queue)."""
        sock, handshake.sock = handshake.sock, None
        if sock is not None:
            if handshake.events:  # waiting: before anyone closes it
                self._selector.unregister(handshake.fd)
            elif handshake.registered:  # waiting for nothing (ONESHOT)
                self._selector.forget(handshake.fd)
            self._handshakes -= 1
        return sock

    def _end(self, handshake: _Handshake, error: BaseException | None = None,
             logged: bool = False) -> None:
        """Close a connection whose handshake failed, timed out or was aborted (in
        its context, but for an abort: a failure is logged there)."""
        sock = self._forget(handshake)
        if sock is None:
            return
        if error is not None and not logged:
            logger.info("TLS handshake with %s failed: %s", handshake.address, error)
        sock.close()
        self._server._release_slot()


def serve(address: tuple[str, int], handler: Handler, *, config: ServerConfig,
          backlog: int = 128, handshake_timeout: float | None = 30.0,
          timeout: float | None = None, reuse_address: bool = True,
          max_connections: int | None = DEFAULT_MAX_CONNECTIONS,
          connection_config: ConnectionConfig | None = None,
          handshake_loops: int = 1) -> TLSServer:
    """Listen on ``address``; run the handshakes on loop threads and serve each
    connection on a worker thread.

    ``handler(sock, client_address)`` gets a ``TLSSocket`` whose handshake is
    done; ``timeout`` is that socket's timeout (None: blocking). A handshake must
    be done within ``handshake_timeout`` seconds of the accept (None: no limit).
    Port 0 picks a free port: read it from ``server.address``. Connections have
    ``TCP_NODELAY`` set, as in asyncio. Keys are logged to
    ``$SSLKEYLOGFILE`` when it is set and the config has no ``keylog``.
    At most ``max_connections`` connections (default 512; None: no limit) are
    handshaking or being served at once; the rest wait in the listen backlog. A
    connection for which no worker thread can be started is closed, and the server
    goes on accepting. ``connection_config(config)``, when given, makes each
    connection's own config, e.g. ``lambda c: dataclasses.replace(c,
    trace=Recorder())``; the handler finds it in ``sock.connection.config``.
    ``handshake_loops`` is how many threads run handshakes (default one, which
    runs every callback of a handshake (``connection_config``, trace, SNI) on one
    thread); more can pay on a machine shared with busy processes (the module's
    docstring has the figures).

    >>> server = glasstls.serve(("127.0.0.1", 0), echo, config=config)
    >>> host, port = server.address
    >>> server.close()
    """
    if max_connections is not None and max_connections < 1:
        raise ValueError("max_connections must be at least 1 (or None)")
    if handshake_loops < 1:
        raise ValueError("handshake_loops must be at least 1")
    server_config = with_environment_keylog(config)
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        if reuse_address:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(backlog)
        return TLSServer(listener, handler, server_config, handshake_timeout, timeout,
                         max_connections, connection_config, handshake_loops)
    except BaseException:
        listener.close()
        raise


__all__ = ["DEFAULT_MAX_CONNECTIONS", "ConnectionConfig", "Handler", "TLSServer",
           "client_address", "serve"]
