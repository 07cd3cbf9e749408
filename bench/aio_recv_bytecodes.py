"""Bytecodes per MiB of the asyncio receiver (aio_bulk_ends.py's receiver: a
``StreamReader.read(1 MiB)`` loop over ``glasstls.aio.open_connection``, a blocking
ssl sender in another process), per function with calls per MiB
(engine_server_bytecodes.py's tracer), and the socket reads per MiB. Traced, the
receiver is slow enough that each read finds the transport's whole 256 KiB.

    bench/.venv/bin/python bench/aio_recv_bytecodes.py [--mib 8] [--suite chacha20]
        [--impl glasstls|ssl] [--top 24]      # PYTHONPATH=OTHER/src for another tree
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import aio_bulk_ends as ends  # noqa: E402
import engine_server_bytecodes as esb  # noqa: E402
from sockets_peers import MiB, load_pki, make_pki, open_asyncio_client  # noqa: E402


async def _receive(impl: str, directory: str, suite: str, mib: int, port: int,
                   tracer: esb.Tracer) -> None:
    reader, writer = await open_asyncio_client(impl, port, load_pki(directory), suite)
    ahead = await ends._read(reader, ends.WARMUP_MIB * MiB)
    reads = ends._Reads.count
    await tracer.run(lambda: ends._read(reader, mib * MiB, ahead))
    print(f"{impl} from {os.path.dirname(sys.modules[type(reader).__module__].__file__ or '')}"
          if False else f"# {impl}: {(ends._Reads.count - reads) / mib:.2f} reads per MiB")
    writer.write(b"!")
    await writer.drain()
    writer.close()


class _AsyncTracer(esb.Tracer):
    async def run(self, call):  # type: ignore[no-untyped-def,override]
        # The tracer is on while the coroutine runs (the event loop's callbacks
        # included: they run in this thread, inside this await).
        import sys as _sys

        counts, calls = self.counts, self.calls

        def local(frame, event, arg):  # type: ignore[no-untyped-def]
            if event == "opcode":
                counts[self.name(frame)] += 1
            return local

        def global_(frame, event, arg):  # type: ignore[no-untyped-def]
            frame.f_trace_opcodes = True
            calls[self.name(frame)] += 1
            return local

        _sys.settrace(global_)
        try:
            return await call()
        finally:
            _sys.settrace(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=8)
    parser.add_argument("--suite", default="chacha20", choices=("chacha20", "aes128gcm"))
    parser.add_argument("--impl", default="glasstls", choices=("glasstls", "ssl"))
    parser.add_argument("--top", type=int, default=24)
    args = parser.parse_args()
    if args.impl == "glasstls":
        import glasstls

        print(f"# glasstls from {os.path.dirname(glasstls.__file__)}")
    ends._Reads.install(args.impl)
    with tempfile.TemporaryDirectory() as directory:
        make_pki(directory)
        size = str((args.mib + ends.WARMUP_MIB) * MiB)
        peer = subprocess.Popen([sys.executable, ends.__file__, "_peer-sender", directory,
                                 args.suite, size], stdout=subprocess.PIPE, text=True)
        assert peer.stdout is not None
        port = int(peer.stdout.readline().strip())
        tracer = _AsyncTracer(None)
        asyncio.run(_receive(args.impl, directory, args.suite, args.mib, port, tracer))
        peer.wait(120)
    total = sum(tracer.counts.values())
    print(f"{args.impl} asyncio receiver {args.suite}: {total / args.mib:.0f} bytecodes per MiB")
    for name, number in tracer.counts.most_common(args.top):
        print(f"   {number / args.mib:8.1f}  {tracer.calls[name] / args.mib:6.1f} calls  {name}")


if __name__ == "__main__":
    main()
