"""The coverage-guided harnesses (harnesses.py) under pytest: the recordings they
start from replay, their seeds pass, and the promise they check can fail. The
campaigns themselves run under atheris (``make fuzz``, ``make fuzz-smoke``)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from glasstls import ServerConnection, TLSError
from glasstls.errors import AlertDescription
from helpers.pump import handshake_messages, split_records

from . import flights, harnesses
from .harnesses import HARNESSES, BrokenPromise, EngineInput, check_receive


@pytest.mark.parametrize("name", sorted(flights.SCENARIOS))
def test_each_recorded_transfer_reseals_to_the_bytes_on_the_wire(name: str) -> None:
    # Every protected record was opened with the keys from the key log: sealing its
    # plaintext again at the same sequence number gives the recorded bytes back.
    transfers = flights.recording(name).transfers
    assert any(record.keys is not None for t in transfers for record in t.records)
    for transfer in transfers:
        assert flights.wire_bytes(flights.seed(transfer), transfer) == transfer.data


@pytest.mark.parametrize("name", sorted(flights.SCENARIOS))
def test_each_scenario_replays_to_its_transfers(name: str) -> None:
    usable = [index for scenario, index in flights.replayable() if scenario == name]
    transfers = flights.recording(name).transfers
    # Every transfer but those after the client's RSA-encrypted premaster secret,
    # which differs on every run.
    expected = len(transfers) - (3 if name == "tls12_rsa_key_exchange" else 0)
    assert len(usable) == expected, (usable, len(transfers))
    for to_server in (True, False):
        assert any(transfers[i].to_server == to_server for i in usable)


@pytest.mark.parametrize("name", sorted(HARNESSES))
def test_harness_keeps_its_promise_on_every_seed(name: str) -> None:
    harness = HARNESSES[name]
    seeds = list(harness.seeds())
    assert len(seeds) >= 10
    for seed in seeds:
        harness.run(seed)


@pytest.mark.parametrize("server", [True, False], ids=["server", "client"])
def test_recorded_transfers_are_accepted_and_a_damaged_finished_is_refused(
        server: bool) -> None:
    # The control for the engine harnesses: unchanged, each transfer is accepted;
    # with a byte of its (protected) Finished changed and sealed again, it reaches
    # the Finished check and fails there.
    finished_checked = 0
    for place in harnesses.transfers_to(server):
        transfer = flights.recording(place[0]).transfers[place[1]]
        assert harnesses.feed(EngineInput(place, (), flights.seed(transfer))) is None, place
        records = list(transfer.records)
        for position, record in enumerate(records):
            if record.content_type == 22 and record.keys is not None and (
                    handshake_messages(record.payload)[-1][0] == 20):
                damaged = bytes([record.payload[-1] ^ 0x01])
                records[position] = dataclasses.replace(
                    record, payload=record.payload[:-1] + damaged)
                error = harnesses.feed(EngineInput(
                    place, (), flights.encode(records, transfer.keys)))
                assert error is not None and error.alert == AlertDescription.decrypt_error
                finished_checked += 1
    # One Finished per scenario (the client's RSA key exchange does not replay).
    assert finished_checked >= len(flights.SCENARIOS) - (0 if server else 1)


def test_real_peers_flights_seed_both_engine_harnesses() -> None:
    # Every peer's ClientHello is served; OpenSSL's and GnuTLS's TLS 1.3 answers to the
    # recorded ClientHello take the replayed client to the end of its handshake.
    accepted: dict[bool, list[tuple[str, int]]] = {True: [], False: []}
    for server in (True, False):
        transfers = harnesses.transfers_to(server)
        for seed in harnesses._peer_seeds(server, transfers):
            given = EngineInput.parse(seed, transfers)
            if harnesses.feed(given) is None:
                accepted[server].append(given.transfer)
    assert len(accepted[True]) == 5
    assert accepted[False] == [("tls13", 1)] * 2


# -- the checks themselves ---------------------------------------------------------------


class Scripted:
    """A stand-in connection whose receive_data does what the test says."""

    def __init__(self, fail_with: BaseException, queued: bytes = b"", sticks: bool = True
                 ) -> None:
        self.fail_with, self.queued, self.sticks, self.calls = fail_with, queued, sticks, 0

    def receive_data(self, data: bytes) -> list[Any]:
        self.calls += 1
        if self.calls == 1 or self.sticks:
            raise self.fail_with
        return []

    def data_to_send(self) -> bytes:
        queued, self.queued = self.queued, b""
        return queued


ALERT = bytes([21, 3, 3, 0, 2, 2, AlertDescription.decode_error])


def test_the_promise_is_broken_by_an_exception_other_than_tls_error() -> None:
    with pytest.raises(BrokenPromise, match="IndexError escaped"):
        check_receive(Scripted(IndexError("deep inside")), [b"x"])  # type: ignore[arg-type]


def test_the_promise_is_broken_by_a_failure_without_its_alert() -> None:
    error = TLSError("bad", AlertDescription.decode_error)
    with pytest.raises(BrokenPromise, match="no alert queued"):
        check_receive(Scripted(error), [b"x"])  # type: ignore[arg-type]
    wrong = ALERT[:-1] + bytes([AlertDescription.illegal_parameter])
    with pytest.raises(BrokenPromise, match="queued"):
        check_receive(Scripted(error, wrong), [b"x"])  # type: ignore[arg-type]
    assert check_receive(Scripted(error, ALERT), [b"x"]) is error  # type: ignore[arg-type]


def test_the_promise_is_broken_by_a_failure_that_does_not_stick() -> None:
    error = TLSError("bad", AlertDescription.decode_error)
    with pytest.raises(BrokenPromise, match="accepted more input"):
        check_receive(Scripted(error, ALERT, sticks=False), [b"x"])  # type: ignore[arg-type]


def test_the_promise_is_broken_by_an_input_that_costs_more_than_the_limit() -> None:
    def spin(_: object) -> None:
        end = time.thread_time() + harnesses.CPU_LIMIT * 1.5
        while time.thread_time() < end:
            pass

    with pytest.raises(BrokenPromise, match="ms of CPU"):
        harnesses.within_cpu_limit(lambda: None, spin, "spinning")


def test_a_real_engine_failure_keeps_the_promise() -> None:
    connection = ServerConnection(flights.SCENARIOS["tls13"].configs(1)[1])
    error = check_receive(connection, [b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"])
    assert error is not None and error.alert == AlertDescription.decode_error
    assert split_records(connection.data_to_send()) == []  # sent once, not again
