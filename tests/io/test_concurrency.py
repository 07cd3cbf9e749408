"""Many connections at once: 500 concurrent asyncio clients against one glasstls.aio
server (in its own process), each a handshake and an echo; and what an idle
connection costs the server in memory (reported, not asserted)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from io_helpers import client_config

import glasstls

pytestmark = pytest.mark.slow

CONNECTIONS = 500
SERVER = Path(__file__).with_name("aio_echo_server.py")


class EchoServerProcess:
    def __init__(self, files: dict[str, Path]) -> None:
        environment = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        self.process = subprocess.Popen(
            [sys.executable, str(SERVER), str(files["cert"]), str(files["key"])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=environment)
        self.port = int(self._answer("PORT")[0])

    def _answer(self, word: str) -> list[str]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith(word), f"server said {line!r}"
        return line.split()[1:]

    def ask(self, command: str, answer: str) -> list[str]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._answer(answer)

    def memory(self) -> tuple[int, int, int]:
        rss, traced, connections = self.ask("memory", "MEMORY")
        return int(rss), int(traced), int(connections)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


async def echo_once(port: int, index: int, opened: asyncio.Event,
                    ready: list[int]) -> tuple[asyncio.StreamWriter, bytes, str | None]:
    reader, writer = await glasstls.aio.open_connection(
        "127.0.0.1", port, config=client_config(), server_hostname="localhost",
        ssl_shutdown_timeout=10)
    message = f"connection {index}".encode()
    writer.write(message)
    await writer.drain()
    echoed = await reader.readexactly(len(message))
    ready.append(index)
    if len(ready) == CONNECTIONS:
        opened.set()
    return writer, echoed, writer.get_extra_info("ssl_object").version()


def test_500_concurrent_connections_and_idle_memory(files: dict[str, Path],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    server = EchoServerProcess(files)
    try:
        async def main() -> tuple[list[bytes], list[str | None], tuple[int, int, int],
                                  tuple[int, int, int]]:
            # Warm up: one connection, so the baseline has the code paths loaded.
            writer, _, _ = await echo_once(server.port, -1, asyncio.Event(), [])
            writer.close()
            await writer.wait_closed()
            server.ask("trace", "TRACING")
            baseline = server.memory()
            opened = asyncio.Event()
            ready: list[int] = []
            results = await asyncio.gather(
                *(echo_once(server.port, i, opened, ready) for i in range(CONNECTIONS)))
            await opened.wait()
            idle = server.memory()  # all 500 open, handshakes done, nothing in flight
            for writer, _, _ in results:
                writer.close()
            await asyncio.gather(*(writer.wait_closed() for writer, _, _ in results))
            return ([echoed for _, echoed, _ in results], [v for _, _, v in results],
                    baseline, idle)

        echoed, versions, baseline, idle = asyncio.run(asyncio.wait_for(main(), 240))
    finally:
        server.stop()
    assert echoed == [f"connection {i}".encode() for i in range(CONNECTIONS)]
    assert set(versions) == {"TLSv1.3"}
    assert idle[2] == CONNECTIONS  # the server saw them all open at once
    rss_per = (idle[0] - baseline[0]) / CONNECTIONS
    traced_per = (idle[1] - baseline[1]) / CONNECTIONS
    with capsys.disabled():
        print(f"\n[{CONNECTIONS} idle glasstls.aio connections, server process]")
        print(f"  RSS:                {rss_per / 1024:7.1f} KiB per connection")
        print(f"  Python allocations: {traced_per / 1024:7.1f} KiB per connection (tracemalloc)")
