"""``TicketKeys`` keeps its keys in tables that connections read without the lock:
a table must give, at every time, the keys the rotation rules give (with a shared
secret, whatever order the times come in)."""

from __future__ import annotations

import threading

from hypothesis import given, settings, strategies as st

from glasstls.session import TicketKeys

ROTATE, ACCEPT = 100.0, 250.0
SECRET = bytes(range(32))


def accepted_epochs(now: float) -> range:
    # TicketKeys' documented window: every epoch still accepted, one ahead for skew.
    return range(int((now - ACCEPT) // ROTATE), int(now // ROTATE) + 2)


# (From a time past accept_for: real clocks are; an epoch below 0 has no key.) Half
# of them at or next to a time where the accepted epochs change: an epoch's start,
# or accept_for after one.
times = st.floats(min_value=1_000, max_value=5_000, allow_nan=False) | st.builds(
    lambda epoch, after, offset: epoch * ROTATE + after + offset,
    st.integers(10, 50), st.sampled_from([0.0, ACCEPT]), st.sampled_from([-0.5, 0.0, 0.5]))


@settings(max_examples=200, deadline=None)
@given(sealed_at=st.lists(times, min_size=1, max_size=4),
       opened_at=st.lists(times, min_size=1, max_size=8))
def test_shared_secret_keys_open_what_the_epochs_at_that_time_accept(
        sealed_at: list[float], opened_at: list[float]) -> None:
    # Tickets sealed by a server with the same secret (each its own TicketKeys, so
    # each ticket's key is its time's epoch), opened by one TicketKeys at times in
    # any order, back and forth across the epochs' boundaries.
    tickets = [(int(t // ROTATE), TicketKeys(secret=SECRET, rotate_after=ROTATE,
                                             accept_for=ACCEPT).seal(b"state", t))
               for t in sealed_at]
    keys = TicketKeys(secret=SECRET, rotate_after=ROTATE, accept_for=ACCEPT)
    for now in opened_at:
        for epoch, ticket in tickets:
            expected = b"state" if epoch in accepted_epochs(now) else None
            assert keys.open(ticket, now) == expected, (epoch, now)


@settings(max_examples=100, deadline=None)
@given(steps=st.lists(st.floats(min_value=0, max_value=400, allow_nan=False),
                      min_size=1, max_size=12))
def test_random_keys_open_their_tickets_until_accept_for_after_they_retire(
        steps: list[float]) -> None:
    # One server's random keys over a clock that goes forward: every ticket it sealed
    # opens while its key is current or retired for at most accept_for, never after.
    keys = TicketKeys(rotate_after=ROTATE, accept_for=ACCEPT)
    now = 1.0
    sealed: list[tuple[float, bytes]] = []
    for step in steps:
        now += step
        sealed.append((now, keys.seal(b"state", now)))
        for at, ticket in sealed:
            retired = (int(at // ROTATE) + 1) * ROTATE
            usable = now < retired + ACCEPT
            # (A key is dropped at the first seal or open from then on: lazily, but
            # never later than that.)
            assert (keys.open(ticket, now) == b"state") == usable, (at, now)


def test_threads_sealing_across_a_rotation_all_seal_under_the_new_key() -> None:
    # Several threads find the table stale at once: one new key is made, and every
    # ticket sealed after the rotation is under it.
    keys = TicketKeys(rotate_after=ROTATE, accept_for=ACCEPT)
    first = keys.seal(b"before", 1.0)
    tickets: list[bytes] = []
    start = threading.Barrier(8)

    def seal() -> None:
        start.wait()
        tickets.append(keys.seal(b"after", ROTATE + 1.0))

    threads = [threading.Thread(target=seal) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({ticket[:16] for ticket in tickets}) == 1
    assert tickets[0][:16] != first[:16]
    assert keys.open(first, ROTATE + 1.0) == b"before"


def test_shared_secret_keys_follow_the_clock_across_every_boundary_both_ways() -> None:
    # One ticket per epoch around the times swept; the clock goes forward through
    # every change of the accepted epochs (just before, at, just after), then back.
    tickets = [(epoch, TicketKeys(secret=SECRET, rotate_after=ROTATE, accept_for=ACCEPT)
                .seal(b"state", epoch * ROTATE + 1.0)) for epoch in range(5, 25)]
    changes = sorted({epoch * ROTATE + after for epoch in range(12, 18)
                      for after in (0.0, ACCEPT)})
    sweep = [at + offset for at in changes for offset in (-0.001, 0.0, 0.001, 30.0)]
    keys = TicketKeys(secret=SECRET, rotate_after=ROTATE, accept_for=ACCEPT)
    for now in sweep + sweep[::-1]:
        for epoch, ticket in tickets:
            expected = b"state" if epoch in accepted_epochs(now) else None
            assert keys.open(ticket, now) == expected, (epoch, now)
