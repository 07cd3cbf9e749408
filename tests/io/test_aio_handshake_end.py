"""When glasstls.aio's server writes its session tickets: at once when the client's
Finished came alone (as OpenSSL's clients send it), so that their segment also
acknowledges the Finished; a loop turn later when data came with the Finished, so
that the application's answer shares their segment
(test_asyncio.py::test_aio_last_handshake_flight_shares_a_write_with_the_first_data)."""

from __future__ import annotations

import asyncio

from io_helpers import client_config, server_config
from test_aio_reads import _read, _Wire

from glasstls import ClientConnection
from glasstls.constants import TLS13
from glasstls.io import aio


async def _server_at_the_last_flight(with_data: bool) -> tuple[aio._TLSProtocol, _Wire]:
    """A server protocol given a glasstls client's hello, then its Finished (and a
    request in the same read when ``with_data``)."""
    loop = asyncio.get_running_loop()
    config = server_config(TLS13)

    def make_channel() -> aio.TLSChannel:
        return aio.TLSChannel.server(config)

    reader = asyncio.StreamReader(loop=loop)
    protocol = aio._TLSProtocol(loop, make_channel, aio._StreamProtocol(reader, loop=loop),
                                None, 60.0, 30.0)
    wire = _Wire()
    protocol.connection_made(wire)
    client = ClientConnection(client_config(TLS13), server_name="localhost")
    _read(protocol, client.data_to_send())
    client.receive_data(wire.take())
    assert client.handshake_complete
    if with_data:
        client.send(b"request")
    _read(protocol, client.data_to_send())
    assert protocol.state == "open"
    return protocol, wire


def test_tickets_go_at_once_after_a_finished_that_came_alone() -> None:
    async def main() -> tuple[bool, bool]:
        _, wire = await _server_at_the_last_flight(with_data=False)
        at_once = bool(wire.written)
        await asyncio.sleep(0)
        return at_once, bool(wire.written)

    assert asyncio.run(main()) == (True, True)


def test_tickets_wait_a_loop_turn_when_data_came_with_the_finished() -> None:
    async def main() -> tuple[bool, bool]:
        _, wire = await _server_at_the_last_flight(with_data=True)
        at_once = bool(wire.written)
        await asyncio.sleep(0)
        return at_once, bool(wire.written)

    assert asyncio.run(main()) == (False, True)
