"""serve()'s worker threads: a connection handed to an idle worker is served even when
that worker's idle wait runs out at the same moment (the job was promised to it), a
worker with nothing to do ends after WORKER_IDLE_TIMEOUT, stop() ends idle workers and
lets busy ones finish."""

from __future__ import annotations

import contextvars
import queue
import threading
import time
import weakref
from typing import Any

import pytest
from io_helpers import echoes, serving

import glasstls.io.server as server_module
from glasstls.io.server import _Workers

PATIENCE = 30  # seconds a test waits for what must happen (a hang guard, not a timing)


class Recorder:
    """A stand-in for the server's per-connection call: records what it served."""

    def __init__(self, hold: threading.Event | None = None) -> None:
        self.served: list[Any] = []
        self.threads: set[str] = set()
        self.lock = threading.Lock()
        self.hold = hold
        self.all_served = threading.Event()
        self.expected = 0

    def __call__(self, sock: Any, address: Any, context: contextvars.Context) -> None:
        if self.hold is not None:
            assert self.hold.wait(PATIENCE)
        with self.lock:
            self.served.append(address)
            self.threads.add(threading.current_thread().name)
            if len(self.served) == self.expected:
                self.all_served.set()


def submit_all(workers: _Workers, addresses: list[Any]) -> None:
    for address in addresses:
        workers.submit(None, address, contextvars.copy_context())  # type: ignore[arg-type]


def test_idle_workers_are_reused() -> None:
    recorder = Recorder()
    workers = _Workers(recorder)
    for index in range(20):
        recorder.expected = index + 1
        recorder.all_served.clear()
        submit_all(workers, [index])
        assert recorder.all_served.wait(PATIENCE)
        # Wait for that worker to be idle again, so the next job is promised to it.
        deadline = time.monotonic() + PATIENCE
        while workers._idle != 1:
            assert time.monotonic() < deadline
            time.sleep(0.001)
    assert recorder.served == list(range(20))
    assert len(recorder.threads) == 1, recorder.threads
    workers.stop()
    workers.join()
    assert not workers.threads


class LateQueue:
    """A job queue whose timed waits end in ``queue.Empty`` when the test says so,
    even with a job queued: the idle timeout running out just as a job is promised."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.waiting = threading.Semaphore(0)  # released as each timed wait begins
        self.time_out = threading.Event()

    def put(self, item: Any) -> None:
        self.jobs.put(item)

    def get(self, timeout: float | None = None) -> Any:
        if timeout is None:
            return self.jobs.get()
        self.waiting.release()
        assert self.time_out.wait(PATIENCE)
        self.time_out.clear()
        raise queue.Empty


def test_a_worker_whose_idle_wait_ran_out_takes_the_job_promised_to_it() -> None:
    recorder = Recorder()
    workers = _Workers(recorder)
    late = LateQueue()
    workers._jobs = late  # type: ignore[assignment]
    recorder.expected = 1
    submit_all(workers, ["first"])  # a new worker
    assert recorder.all_served.wait(PATIENCE)
    assert late.waiting.acquire(timeout=PATIENCE)  # now idle, in its timed wait
    recorder.expected = 2
    recorder.all_served.clear()
    submit_all(workers, ["second"])  # promised to it: no new thread
    late.time_out.set()  # its wait runs out all the same
    assert recorder.all_served.wait(PATIENCE)
    assert recorder.served == ["first", "second"]
    assert len(recorder.threads) == 1
    assert late.waiting.acquire(timeout=PATIENCE)  # idle again; nothing promised: it ends
    late.time_out.set()
    workers.join()
    assert not workers.threads and workers._idle == 0


def test_no_job_is_lost_when_idle_waits_run_out_as_jobs_arrive(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Idle waits so short that workers keep timing out while jobs are promised to them:
    # each job is served all the same, by the worker it was promised to or another.
    monkeypatch.setattr(server_module, "WORKER_IDLE_TIMEOUT", 0.0005)
    recorder = Recorder()
    workers = _Workers(recorder)
    jobs = list(range(400))
    recorder.expected = len(jobs)
    for start in range(0, len(jobs), 8):
        submit_all(workers, jobs[start:start + 8])
        time.sleep(0.0005 * (start % 3))  # around the idle timeout
    assert recorder.all_served.wait(PATIENCE), len(recorder.served)
    assert sorted(recorder.served) == jobs
    workers.stop()
    workers.join()
    assert not workers.threads


def test_idle_workers_end_after_the_idle_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "WORKER_IDLE_TIMEOUT", 0.01)
    recorder = Recorder()
    workers = _Workers(recorder)
    recorder.expected = 3
    submit_all(workers, [1, 2, 3])
    assert recorder.all_served.wait(PATIENCE)
    deadline = time.monotonic() + PATIENCE
    while workers.threads:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert workers._idle == 0
    # and a new job starts a new worker
    recorder.expected = 4
    recorder.all_served.clear()
    submit_all(workers, [4])
    assert recorder.all_served.wait(PATIENCE)
    workers.stop()
    workers.join()


def test_stop_ends_idle_workers_and_lets_busy_ones_finish() -> None:
    hold = threading.Event()
    recorder = Recorder(hold)
    workers = _Workers(recorder)
    recorder.expected = 2
    submit_all(workers, ["busy-1", "busy-2"])  # two workers, held in their jobs
    workers.stop()
    assert not recorder.served
    hold.set()
    workers.join()  # they finish their jobs, then end
    assert sorted(recorder.served) == ["busy-1", "busy-2"]
    assert not workers.threads


def test_a_server_whose_workers_time_out_between_clients_serves_every_client(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "WORKER_IDLE_TIMEOUT", 0.001)
    with serving() as server:
        results = []
        for index in range(10):
            results.append(echoes(server, b"client %d" % index))
            time.sleep(0.002 * (index % 2))
        assert results == [True] * 10


def test_a_served_connection_leaves_the_server_with_its_slot_given_back() -> None:
    with serving(max_connections=1) as server:
        for _ in range(3):  # one slot: each client is served only once the last left
            assert echoes(server)
        deadline = time.monotonic() + PATIENCE
        while server._active:  # the last handler returns once its client has closed
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert not server._connections


class Served:
    """A job whose object can be watched: is it still alive once served?"""


def test_an_idle_worker_keeps_nothing_of_the_connection_it_served() -> None:
    # A served connection's objects (its socket, its engine) are freed when the
    # handler is done with them, not when the worker's next job comes: else every
    # idle worker keeps one alive, and the cyclic GC's collections carry them on.
    recorder = Recorder()
    workers = _Workers(recorder)
    job = Served()
    watched = weakref.ref(job)
    recorder.expected = 1
    workers.submit(job, "address", contextvars.copy_context())  # type: ignore[arg-type]
    del job
    assert recorder.all_served.wait(PATIENCE)
    deadline = time.monotonic() + PATIENCE
    while workers._idle != 1:  # back in its idle wait
        assert time.monotonic() < deadline
        time.sleep(0.001)
    assert watched() is None
    workers.stop()
    workers.join()
