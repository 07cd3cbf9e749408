"""The asyncio server and the server sockets of glasstls's SSLContext call the
engine's ``work_ahead()`` once their TLS 1.3 flight is written: by the time the
client's Finished comes, the Finished expected and the session tickets are made
(``tests/engine/test_work_ahead.py`` checks that nothing on the wire changes). Each
connection below resumes the one before with a ticket so made."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import pytest
from io_helpers import glass_context, server_config
from test_quick_ack import echo_once, expected, python_clients, serve_one_by_one

from glasstls.constants import TLS13
from glasstls.handshake import server13
from glasstls.io import aio

PATIENCE = 30  # seconds a test waits for what must happen (a hang guard, not a timing)
CONNECTIONS = 2


@pytest.fixture
def made_ahead(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each client Finished a server handles: whether it was worked out ahead."""
    seen: list[bool] = []
    handle = server13.ExpectFinished.handle

    def spy(self: server13.ExpectFinished, engine: Any, message: Any) -> Any:
        seen.append(self.ahead is not None)
        return handle(self, engine, message)

    monkeypatch.setattr(server13.ExpectFinished, "handle", spy)
    return seen


def test_asyncio_server(made_ahead: list[bool]) -> None:
    async def main() -> list[tuple[str, bool]]:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(await reader.read(100))
            await writer.drain()
            writer.close()

        server = await aio.start_server(handler, "127.0.0.1", 0,
                                        config=server_config(TLS13))
        async with server:
            port = server.sockets[0].getsockname()[1]
            return await asyncio.wait_for(
                asyncio.to_thread(python_clients, port, TLS13, CONNECTIONS), PATIENCE)

    assert asyncio.run(main()) == expected(TLS13, CONNECTIONS)
    assert made_ahead == [True] * CONNECTIONS


def test_ssl_context_server_socket(files: dict[str, Path], made_ahead: list[bool]) -> None:
    def handler(sock: ssl.SSLSocket) -> None:
        echo_once(lambda: sock.recv(100), sock.sendall)

    serve_one_by_one(files, glass_context(files, TLS13, server=True), handler, TLS13,
                     CONNECTIONS)
    assert made_ahead == [True] * CONNECTIONS
