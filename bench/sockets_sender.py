"""Where the blocking bulk sender's CPU goes over a real socket, glasstls beside
Python's ssl (ChaCha20-Poly1305, client -> an ssl server process that drains).

    .venv/bin/python bench/sockets_sender.py [--mib 128] [--rounds 3] [--send-chunks 262144]

Each round, alternating the order, runs in a fresh process per implementation and
measures per MiB (thread CPU: user + system, robust to load unlike rates):
- ``socket``: the whole ``sendall`` loop of 1 MiB blocks over the socket; for
  glasstls also its share in ``TLSChannel.write`` (sealing) and in ``_push`` (the
  socket sends), and the minor page faults of the process;
- ``memory``: the same writes in the same process afterwards, sealed and dropped
  (glasstls: ``TLSChannel.write`` + ``outgoing_buffers`` in steps of ``_SEND_CHUNK``;
  ssl: ``SSLObject.write`` of 16 KiB + ``outgoing.read``, as its socket path writes).
``--send-chunks`` tries other ``_SEND_CHUNK`` sizes (the plaintext sealed then sent
per step); ``--tcp`` adds plain TCP rows with each write pattern (the kernel's share,
``socket`` minus ``memory``). Prints medians [min-max] over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from sockets_peers import (
    HOST,
    SERVER_NAME,
    MiB,
    glasstls_client_config,
    make_pki,
    receive_exactly,
    ssl_client_context,
    ssl_server_context,
)

BLOCK = MiB  # what the sender hands to sendall at once, as bench/sockets.py's bulk client
WARMUP_MIB = 4
RECORD = 16 * 1024


def _pki(directory: str) -> dict[str, str]:
    return {name: os.path.join(directory, f"{name}.pem") for name in ("ca", "cert", "key")}


def drain(directory: str, size: int) -> None:
    """The receiver: an ssl server (plain TCP for the ``tcp`` rows) that reads
    ``size`` bytes, then acknowledges."""
    with socket.create_server((HOST, 0)) as listener:
        print(listener.getsockname()[1], flush=True)
        plain, _ = listener.accept()
        with (plain if directory == "-" else ssl_server_context(_pki(directory), "chacha20")
              .wrap_socket(plain, server_side=True)) as sock:
            receive_exactly(sock.recv_into, size, MiB)
            sock.sendall(b"!")


class Timed:
    """Thread CPU spent inside one method of a class, summed over calls."""

    def __init__(self, owner: Any, name: str) -> None:
        self.seconds = 0.0
        original = getattr(owner, name)

        def timed(*args: Any) -> Any:
            started = time.thread_time()
            try:
                return original(*args)
            finally:
                self.seconds += time.thread_time() - started

        setattr(owner, name, timed)


def _ssl_object_pair(pki: dict[str, str]) -> tuple[ssl.SSLObject, ssl.MemoryBIO]:
    """A connected client SSLObject (ChaCha20) and its outgoing BIO, in memory."""
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    client = ssl_client_context(pki, "chacha20").wrap_bio(
        client_in, client_out, server_hostname=SERVER_NAME)
    server = ssl_server_context(pki, "chacha20").wrap_bio(server_in, server_out,
                                                          server_side=True)
    while True:
        done = 0
        for side in (client, server):
            try:
                side.do_handshake()
                done += 1
            except ssl.SSLWantReadError:
                pass
        server_in.write(client_out.read())
        client_in.write(server_out.read())
        if done == 2:
            return client, client_out


def send(impl: str, directory: str, mib: int, send_chunk: int) -> dict[str, float]:
    """One sender process: the socket run, then the in-memory run."""
    pki = _pki(directory)
    size = (mib + WARMUP_MIB) * MiB
    receiver = subprocess.Popen([sys.executable, __file__, "_drain",
                                 "-" if impl == "tcp" else directory, str(size)],
                                stdout=subprocess.PIPE, text=True)
    assert receiver.stdout is not None
    port = int(receiver.stdout.readline())
    block = memoryview(os.urandom(BLOCK))
    timers: dict[str, Timed] = {}
    if impl == "tcp":
        return _plain(port, block, mib, send_chunk, receiver)
    if impl == "glasstls":
        import glasstls
        import glasstls.io.channel
        import glasstls.io.sockets

        glasstls.io.sockets._SEND_CHUNK = send_chunk
        timers["seal"] = Timed(glasstls.io.channel.TLSChannel, "write")
        timers["push"] = Timed(glasstls.io.sockets.TLSSocket, "_push")
        sock: Any = glasstls.connect((HOST, port), config=glasstls_client_config(pki, "chacha20"),
                                     server_hostname=SERVER_NAME)
    else:
        sock = ssl_client_context(pki, "chacha20").wrap_socket(
            socket.create_connection((HOST, port)), server_hostname=SERVER_NAME)
    with sock:
        for _ in range(WARMUP_MIB):
            sock.sendall(block)
        for timer in timers.values():
            timer.seconds = 0.0
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        started = time.thread_time()
        for _ in range(mib):
            sock.sendall(block)
        result = {"socket": time.thread_time() - started,
                  "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults}
        result.update((name, timer.seconds) for name, timer in timers.items())
        if sock.recv(1) != b"!":
            raise RuntimeError("no acknowledgement from the receiver")
        receiver.wait(60)
        result["memory"] = _in_memory(impl, sock, pki, block, mib, send_chunk)
        if impl == "glasstls":
            sock._out.clear()  # the records sealed in memory were never sent
    return {name: value * (1000 if name != "faults" else 1) / mib
            for name, value in result.items()}


def _plain(port: int, block: memoryview, mib: int, step: int,
           receiver: subprocess.Popen[str]) -> dict[str, float]:
    """No TLS: the kernel's share of each write pattern. ssl's (16 KiB steps): each
    record written into one reused buffer, hot, then sent; glasstls's (larger steps):
    each step laid out in a new buffer, then sent in one call. ``memory``: the same
    buffer work without sending."""
    reused = bytearray(step)

    def buffer(start: int) -> bytearray:
        if step == RECORD:
            reused[:] = block[start:start + step]
            return reused
        return bytearray().join((block[start:start + step],))

    result = {}
    with socket.create_connection((HOST, port)) as sock:
        for name, sending in (("socket", True), ("memory", False)):
            started = time.thread_time()
            for _ in range(mib):
                for start in range(0, BLOCK, step):
                    data = buffer(start)
                    if sending:
                        sock.sendall(data)
            result[name] = time.thread_time() - started
        sock.sendall(bytes(WARMUP_MIB * MiB))  # what the receiver still expects
        sock.recv(1)
    receiver.wait(60)
    return {name: value * 1000 / mib for name, value in result.items()}


def _in_memory(impl: str, sock: Any, pki: dict[str, str], block: memoryview, mib: int,
               send_chunk: int) -> float:
    if impl == "glasstls":
        channel, step = sock._tls_channel, send_chunk

        def write(data: memoryview) -> None:
            channel.write(data)
            channel.outgoing_buffers()
    else:
        client, outgoing = _ssl_object_pair(pki)
        step = RECORD

        def write(data: memoryview) -> None:
            client.write(data)
            outgoing.read()
    started = time.thread_time()
    for _ in range(mib):
        for start in range(0, BLOCK, step):
            write(block[start:start + step])
    return time.thread_time() - started


def main() -> None:
    if sys.argv[1:2] == ["_drain"]:
        drain(sys.argv[2], int(sys.argv[3]))
        return
    if sys.argv[1:2] == ["_send"]:
        role_impl, directory, mib, step = sys.argv[2:6]
        print(json.dumps(send(role_impl, directory, int(mib), int(step))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tcp", action="store_true",
                        help="also plain TCP with ssl's and glasstls's write patterns")
    parser.add_argument("--send-chunks", default=str(256 * 1024),
                        help="comma-separated _SEND_CHUNK sizes for glasstls")
    args = parser.parse_args()
    chunks = [int(chunk) for chunk in args.send_chunks.split(",")]
    cases = [("ssl", RECORD)] + [("glasstls", chunk) for chunk in chunks]
    if args.tcp:
        cases += [("tcp", RECORD)] + [("tcp", chunk) for chunk in chunks]
    results: dict[tuple[str, int], list[dict[str, float]]] = {case: [] for case in cases}
    with tempfile.TemporaryDirectory() as directory:
        make_pki(directory)
        for round_ in range(args.rounds):
            for impl, chunk in (cases if round_ % 2 == 0 else cases[::-1]):
                output = subprocess.run(
                    [sys.executable, __file__, "_send", impl, directory, str(args.mib),
                     str(chunk)], check=True, capture_output=True, text=True).stdout
                results[impl, chunk].append(json.loads(output))
    print(f"# load average {os.getloadavg()[0]:.2f} at the end; {args.mib} MiB per run, "
          f"{args.rounds} rounds; ms of thread CPU per MiB (faults: minor faults per MiB)")
    for (impl, chunk), runs in results.items():
        cells = []
        for name in ("socket", "seal", "push", "memory", "faults"):
            values = [run[name] for run in runs if name in run]
            if values:
                cells.append(f"{name} {statistics.median(values):.3f} "
                             f"[{min(values):.3f}-{max(values):.3f}]")
        print(f"{impl:8} {chunk // 1024:5} KiB  " + "  ".join(cells))


if __name__ == "__main__":
    main()
