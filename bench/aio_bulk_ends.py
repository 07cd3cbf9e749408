"""What each end of an asyncio bulk transfer costs, glasstls beside Python's ssl:
the asyncio receiver (a client reading with ``StreamReader.read``, as
bench/sockets.py's bulk client) and the asyncio sender (a server writing 1 MiB
blocks with ``drain()``, as its bulk server), each against a blocking ssl peer in
another process, so that one end is measured at a time.

    bench/.venv/bin/python bench/aio_bulk_ends.py [--mib 64] [--rounds 5]
        [--ends receiver,sender] [--suite chacha20|aes128gcm] [--icount]
        [--python OTHER_VENV/bin/python ...]

Without ``--icount``: the measured process's CPU (``time.process_time``: user +
system, all threads) per MiB over the transfer after a warm-up, rounds alternated
between the implementations (and the ``--python`` trees, named by their index),
with the reads (receiver) per MiB. With ``--icount``: the measured process under
callgrind, moving 4 and 16 MiB; the difference per 16 KiB record, in total, by
shared object and by function (as bench/icount_sockets_bulk.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from icount_sockets_bulk import callgrind_counts, print_breakdown  # noqa: E402
from sockets_peers import (  # noqa: E402
    HOST,
    SERVER_NAME,
    MiB,
    glasstls_server_config,
    load_pki,
    make_pki,
    open_asyncio_client,
    receive_exactly,
    ssl_client_context,
    ssl_server_context,
)

BLOCK = MiB
WARMUP_MIB = 4
# --after-upload: set in the measured receiver's environment.
_AFTER_UPLOAD = "AIO_BULK_ENDS_AFTER_UPLOAD"


def _free_large_block() -> None:
    """What bench/sockets.py's bulk client has done before it downloads: it uploaded
    first, in 1 MiB writes, and so freed blocks that glibc had mmap'ed. Freeing one
    raises glibc's dynamic mmap threshold (and its trim threshold) past the 256 KiB
    reads, which the receiver then allocates from the heap without page faults: ssl's
    asyncio client costs ~1.0 ms/MiB there, ~2.5 in a fresh process."""
    block = bytearray(4 * BLOCK)
    del block


# -- the blocking ssl peers ------------------------------------------------------------------

def peer_sender(directory: str, suite: str, size: int) -> None:
    """Serve one client: send ``size`` bytes, wait for its acknowledgement."""
    block = os.urandom(BLOCK)
    with socket.create_server((HOST, 0)) as listener:
        print(listener.getsockname()[1], flush=True)
        plain, _ = listener.accept()
        with ssl_server_context(load_pki(directory), suite).wrap_socket(
                plain, server_side=True) as sock:
            for _ in range(size // BLOCK):
                sock.sendall(block)
            sock.recv(1)


def peer_receiver(directory: str, suite: str, size: int, port: int) -> None:
    """Connect, read ``size`` bytes, acknowledge."""
    sock = ssl_client_context(load_pki(directory), suite).wrap_socket(
        socket.create_connection((HOST, port)), server_hostname=SERVER_NAME)
    with sock:
        receive_exactly(sock.recv_into, size, BLOCK)
        sock.sendall(b"!")
        with contextlib.suppress(OSError, ssl_error()):
            sock.recv(1)


def ssl_error() -> type[Exception]:
    import ssl

    return ssl.SSLError


# -- the measured asyncio ends -------------------------------------------------------------------

class _Reads:
    """Counts the socket transport's reads into the measured end's protocol."""

    count = 0

    @classmethod
    def install(cls, impl: str) -> None:
        if impl == "glasstls":
            from glasstls.io import aio

            owner: Any = aio._TLSProtocol
        else:
            from asyncio import sslproto

            owner = sslproto.SSLProtocol
        original = owner.buffer_updated

        def counted(self: Any, nbytes: int) -> None:
            cls.count += 1
            original(self, nbytes)

        owner.buffer_updated = counted


async def _read(reader: asyncio.StreamReader, size: int, received: int = 0) -> int:
    """Read until ``received`` reaches ``size``; returns how far past it the last read
    went (the start of the next span)."""
    while received < size:
        data = await reader.read(BLOCK)
        if not data:
            raise EOFError(f"stream ended after {received} of {size} bytes")
        received += len(data)
    return received - size


async def _receive(impl: str, directory: str, suite: str, mib: int, port: int
                   ) -> dict[str, float]:
    if os.environ.get(_AFTER_UPLOAD):
        _free_large_block()
    reader, writer = await open_asyncio_client(impl, port, load_pki(directory), suite)
    ahead = await _read(reader, WARMUP_MIB * MiB)
    reads = _Reads.count
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.process_time()
    await _read(reader, mib * MiB, ahead)
    cpu = time.process_time() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    reads = _Reads.count - reads
    writer.write(b"!")
    await writer.drain()
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return {"cpu": cpu * 1000 / mib, "reads": reads / mib,
            "sys": (after.ru_stime - before.ru_stime) * 1000 / mib,
            "faults": (after.ru_minflt - before.ru_minflt) / mib}


async def _send(impl: str, directory: str, suite: str, mib: int) -> dict[str, float]:
    pki = load_pki(directory)
    block = os.urandom(BLOCK)
    result: dict[str, float] = {}
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for _ in range(WARMUP_MIB):
                writer.write(block)
                await writer.drain()
            before = resource.getrusage(resource.RUSAGE_SELF)
            started = time.process_time()
            for _ in range(mib):
                writer.write(block)
                await writer.drain()
            await reader.readexactly(1)
            result["cpu"] = (time.process_time() - started) * 1000 / mib
            after = resource.getrusage(resource.RUSAGE_SELF)
            result["sys"] = (after.ru_stime - before.ru_stime) * 1000 / mib
            result["faults"] = (after.ru_minflt - before.ru_minflt) / mib
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        finally:
            done.set()

    if impl == "glasstls":
        import glasstls

        server = await glasstls.aio.start_server(
            handle, HOST, 0, config=glasstls_server_config(pki, suite))
    else:
        server = await asyncio.start_server(handle, HOST, 0,
                                            ssl=ssl_server_context(pki, suite))
    async with server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await done.wait()
    return result


# -- the coordinator -----------------------------------------------------------------------------

def _run(python: str, end: str, impl: str, directory: str, suite: str, mib: int,
         callgrind_out: str | None = None) -> dict[str, float]:
    """One measured process and its peer; the measured one's JSON line."""
    script = os.path.abspath(__file__)
    size = str((mib + WARMUP_MIB) * MiB)
    prefix = (["valgrind", "--tool=callgrind", "--trace-children=yes",
               f"--callgrind-out-file={callgrind_out}"]
              if callgrind_out else [])
    if end == "receiver":
        peer = subprocess.Popen([sys.executable, script, "_peer-sender", directory, suite, size],
                                stdout=subprocess.PIPE, text=True)
        assert peer.stdout is not None
        port = peer.stdout.readline().strip()
        output = subprocess.run(
            [*prefix, python, script, "_receive", impl, directory, suite, str(mib), port],
            check=True, capture_output=True, text=True).stdout
        peer.wait(120)
    else:
        measured = subprocess.Popen(
            [*prefix, python, script, "_send", impl, directory, suite, str(mib)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert measured.stdout is not None
        port = measured.stdout.readline().strip()
        subprocess.run([sys.executable, script, "_peer-receiver", directory, suite, size,
                        port], check=True)
        output = measured.stdout.read()
        measured.wait(120)
    return dict(json.loads(output.strip().splitlines()[-1]))


def _icount(python: str, end: str, impl: str, directory: str, suite: str) -> None:
    small, large = 4, 16
    counts = []
    for mib in (small, large):
        out = os.path.join(directory, f"callgrind-{end}-{impl}-{mib}.out")
        _run(python, end, impl, directory, suite, mib, out)
        counts.append(callgrind_counts(out))
    records = (large - small) * 64
    per_record = {name: (counts[1].get(name, 0) - counts[0].get(name, 0)) / records
                  for name in set(counts[0]) | set(counts[1])}
    total = per_record.pop("PROGRAM TOTALS", 0.0)
    print(f"{impl} asyncio {end} {suite} ({python}): {total:,.0f} instructions per record")
    print_breakdown(per_record, functions=14)
    sys.stdout.flush()


def main() -> None:
    command = sys.argv[1:2]
    if command == ["_peer-sender"]:
        directory, suite, size = sys.argv[2:5]
        peer_sender(directory, suite, int(size))
        return
    if command == ["_peer-receiver"]:
        directory, suite, size, port = sys.argv[2:6]
        peer_receiver(directory, suite, int(size), int(port))
        return
    if command == ["_receive"]:
        impl, directory, suite, mib, port = sys.argv[2:7]
        _Reads.install(impl)
        print(json.dumps(asyncio.run(_receive(impl, directory, suite, int(mib), int(port)))))
        return
    if command == ["_send"]:
        impl, directory, suite, mib = sys.argv[2:6]
        print(json.dumps(asyncio.run(_send(impl, directory, suite, int(mib)))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ends", default="receiver,sender")
    parser.add_argument("--suite", default="chacha20", choices=("chacha20", "aes128gcm"))
    parser.add_argument("--impls", default="glasstls,ssl")
    parser.add_argument("--icount", action="store_true")
    parser.add_argument("--after-upload", action="store_true",
                        help="receiver: free a 4 MiB block first, as sockets.py's client "
                             "has after its upload (glibc's mmap threshold raised)")
    parser.add_argument("--python", action="append", default=[],
                        help="another tree's venv python for glasstls (repeatable)")
    args = parser.parse_args()
    if args.after_upload:
        os.environ[_AFTER_UPLOAD] = "1"
    pythons = [sys.executable, *args.python]
    cases = [(impl, index) for impl in args.impls.split(",")
             for index in (range(len(pythons)) if impl == "glasstls" else (0,))]
    with tempfile.TemporaryDirectory() as directory:
        make_pki(directory)
        for end in args.ends.split(","):
            if args.icount:
                for impl, index in cases:
                    _icount(pythons[index], end, impl, directory, args.suite)
                continue
            results: dict[tuple[str, int], list[dict[str, float]]] = {c: [] for c in cases}
            for round_ in range(args.rounds):
                for impl, index in (cases if round_ % 2 == 0 else cases[::-1]):
                    results[impl, index].append(
                        _run(pythons[index], end, impl, directory, args.suite, args.mib))
            print(f"# {end}, {args.suite}, {args.mib} MiB, {args.rounds} rounds, load "
                  f"{os.getloadavg()[0]:.2f}: CPU ms per MiB, median [min-max]")
            for (impl, index), runs in results.items():
                cpu = [run["cpu"] for run in runs]
                line = (f"{impl:8} {index}  {statistics.median(cpu):.3f} "
                        f"[{min(cpu):.3f}-{max(cpu):.3f}]")
                for name in ("sys", "faults", "reads"):
                    values = [run[name] for run in runs if name in run]
                    if values:
                        line += f"  {name} {statistics.median(values):.3f}"
                print(line, flush=True)


if __name__ == "__main__":
    main()
