"""A glasstls.aio echo server in its own process, for measuring what a connection
costs: ``python aio_echo_server.py CERT KEY`` prints ``PORT <n>``, then answers
each ``memory`` line on stdin with ``MEMORY <rss bytes> <traced bytes> <open>``
(tracing starts at the first ``trace`` line)."""

from __future__ import annotations

import asyncio
import gc
import sys
import tracemalloc

import glasstls


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


async def main(cert: str, key: str) -> None:
    config = glasstls.ServerConfig(certificates=(glasstls.CertifiedKey.from_files(cert, key),))
    open_connections = 0

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal open_connections
        open_connections += 1
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            open_connections -= 1
            writer.close()

    server = await glasstls.aio.start_server(echo, "127.0.0.1", 0, config=config, backlog=1024)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        command = line.strip()
        if not command:
            break
        if command == "trace":
            tracemalloc.start()
            print("TRACING", flush=True)
        elif command == "memory":
            gc.collect()
            traced = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
            print("MEMORY", rss_bytes(), traced, open_connections, flush=True)
    server.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
