"""Blocking bulk over real sockets, many alternated runs: the distribution of
bench/sockets.py's blocking bulk figures for several source trees and Python's ssl,
with each side's CPU, time off CPU and context switches per MiB, and (``--perf``)
each side's system calls per MiB and their sizes.

    .venv/bin/python bench/bulk_blocking.py --src /tmp/old/src --src src \
        [--suite chacha20] [--mib 64] [--rounds 5] [--perf]

The programs are sockets_peers.py's (the same set-up: a ``glasstls.serve()`` server
or a plain ssl server, 1 MiB ``sendall`` calls, ``recv_into`` a 1 MiB buffer), each
phase timed with ``getrusage`` in the process itself. Every round runs each tree and
ssl once, in an order that alternates between rounds. ``--perf`` wraps each process
in ``perf record`` of the socket system calls' entries and exits (Linux, root): the
counts are firm, the rates of those runs are not (they are left out of the medians).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import sockets_peers as peers  # noqa: E402
from sockets_peers import CHUNK, HOST, SERVER_NAME, MiB  # noqa: E402

_SYSCALLS = ("recvfrom", "sendto", "read", "write", "poll")
_MEMORY = ("brk", "mmap", "munmap", "mremap")  # counted per process
_LIFETIME = ("connect", "accept4", "close")  # which descriptor is the connection, when


def _usage() -> dict[str, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"wall": time.perf_counter(), "cpu": usage.ru_utime + usage.ru_stime,
            "user": usage.ru_utime, "sys": usage.ru_stime, "vcsw": usage.ru_nvcsw,
            "ivcsw": usage.ru_nivcsw, "minflt": usage.ru_minflt}


def _phase(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {key: after[key] - before[key] for key in before}


def _buffers(sock: Any) -> dict[str, int]:
    """The socket's buffer sizes now (the kernel's autotuning moves them)."""
    import socket

    return {"rcvbuf": sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
            "sndbuf": sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)}


def _serve_blocking(sock: Any, size: int, block: bytes) -> dict[str, Any]:
    _set_buffers(sock)
    start = _usage()
    peers.receive_exactly(sock.recv_into, size)
    received = _usage()
    buffers = _buffers(sock)
    sock.sendall(b"!")
    for _ in range(size // CHUNK):
        _paced_sendall(sock, block)
    sent = _usage()
    return {"receive": dict(_phase(start, received), **buffers),
            "send": dict(_phase(received, sent), **_buffers(sock)),
            "threads": _thread_cpu()}


def server(impl: str, suite: str, size: int, pki: dict[str, str]) -> None:
    import socket
    import threading

    block = os.urandom(CHUNK)
    result: dict[str, Any] = {}
    if impl == "glasstls":
        import glasstls

        done = threading.Event()

        def handler(sock: Any, address: Any) -> None:
            try:
                result.update(_serve_blocking(sock, size, block))
            finally:
                done.set()

        with glasstls.serve((HOST, 0), handler,
                            config=peers.glasstls_server_config(pki, suite)) as listening:
            peers.ready(listening.address[1])
            done.wait()
    else:
        with socket.create_server((HOST, 0)) as listener:
            peers.ready(listener.getsockname()[1])
            plain, _ = listener.accept()
            with peers.ssl_server_context(pki, suite).wrap_socket(
                    plain, server_side=True) as sock:
                result.update(_serve_blocking(sock, size, block))
    print("RESULT " + json.dumps(result), flush=True)


def _thread_cpu() -> dict[str, float]:
    """CPU seconds of each live thread of this process (Linux)."""
    import threading

    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = {}
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        cpu[names.get(int(tid), tid)] = (int(fields[11]) + int(fields[12])) / ticks
    return cpu


def client(impl: str, suite: str, size: int, port: int, pki: dict[str, str]) -> None:
    import socket

    block = os.urandom(CHUNK)
    if impl == "glasstls":
        import glasstls

        sock = glasstls.connect((HOST, port), config=peers.glasstls_client_config(pki, suite),
                                server_hostname=SERVER_NAME)
    else:
        sock = peers.ssl_client_context(pki, suite).wrap_socket(
            socket.create_connection((HOST, port)), server_hostname=SERVER_NAME)
    with sock:
        _set_buffers(sock)
        start = _usage()
        for _ in range(size // CHUNK):
            _paced_sendall(sock, block)
        if sock.recv(1) != b"!":
            raise RuntimeError("no acknowledgement")
        uploaded = _usage()
        buffers = _buffers(sock)
        peers.receive_exactly(sock.recv_into, size)
        downloaded = _usage()
        print(json.dumps({"send": dict(_phase(start, uploaded), **buffers),
                          "receive": dict(_phase(uploaded, downloaded), **_buffers(sock))}))


def _child_env(src: str | None, tweaks: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.path.abspath(src)
    env["BULK_BLOCKING_TWEAKS"] = json.dumps(tweaks)
    return env


def _apply_tweaks() -> None:
    """Module constants of glasstls.io.sockets set for an exploratory variant."""
    tweaks = json.loads(os.environ.get("BULK_BLOCKING_TWEAKS", "{}"))
    if tweaks:
        from glasstls.io import sockets

        for name, value in tweaks.items():
            if name not in ("RCVBUF", "PACE"):
                assert hasattr(sockets, name), name
                setattr(sockets, name, int(value))


def _paced_sendall(sock: Any, block: bytes) -> None:
    """``@PACE=N``: the 1 MiB block sent in 64 KiB pieces N microseconds apart, so that
    the receiver is the faster end and waits for data (it sees what arrives as it
    arrives), as on a machine where the sender is the bottleneck."""
    pace = json.loads(os.environ.get("BULK_BLOCKING_TWEAKS", "{}")).get("PACE")
    if not pace:
        sock.sendall(block)
        return
    view = memoryview(block)
    for start in range(0, len(view), 65536):
        sock.sendall(view[start:start + 65536])
        time.sleep(int(pace) / 1e6)


def _set_buffers(sock: Any) -> None:
    """A diagnosis only (``@RCVBUF=N``): a fixed receive buffer, which turns the
    kernel's autotuning off, on both ends of the connection."""
    import socket

    size = json.loads(os.environ.get("BULK_BLOCKING_TWEAKS", "{}")).get("RCVBUF")
    if size:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(size))


def _perf(out: str) -> list[str]:
    events = ",".join([f"syscalls:sys_{edge}_{name}" for name in _SYSCALLS + _LIFETIME
                       for edge in ("enter", "exit")]
                      + [f"syscalls:sys_enter_{name}" for name in _MEMORY])
    return ["perf", "record", "-q", "-o", out, "-e", events, "--"]


_ENTER = re.compile(r"\s*(\S+)\s+(\d+)\s.*sys_enter_(\w+): fd: (0x[0-9a-f]+)")
_EXIT = re.compile(r"\s*(\S+)\s+(\d+)\s.*sys_exit_(\w+): (0x[0-9a-f]+)")


def _syscalls(perf_data: str) -> dict[str, list[int]]:
    """Sizes returned by each system call on a TCP connection's descriptor (from its
    connect() or accept4() to its close()), over the busiest connection."""
    script = subprocess.run(["perf", "script", "-i", perf_data, "-F", "comm,tid,event,trace"],
                            capture_output=True, text=True, check=True).stdout
    entered: dict[str, tuple[str, int]] = {}
    connection: dict[int, int] = {}  # descriptor -> connection number, while open
    calls: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    memory: Counter[str] = Counter()
    for line in script.splitlines():
        if "sys_enter_" in line:
            name = line.split("sys_enter_", 1)[1].split(":", 1)[0]
            if name in _MEMORY:
                memory[name] += 1
                continue
        enter = _ENTER.match(line)
        if enter:
            name, fd = enter.group(3), int(enter.group(4), 16)
            entered[enter.group(2)] = (name, fd)
            if name == "connect":
                connection[fd] = len(calls) + len(connection) + 1
            elif name == "close":
                connection.pop(fd, None)
            continue
        leave = _EXIT.match(line)
        if not leave or leave.group(2) not in entered:
            continue
        name, fd = entered.pop(leave.group(2))
        value = int(leave.group(4), 16)
        if value >= 2**63:
            value -= 2**64
        if name == "accept4" and value >= 0:
            connection[value] = len(calls) + len(connection) + 1
        elif name in _SYSCALLS and fd in connection:
            calls[connection[fd]][name].append(value)
    if not calls:
        return {}
    busiest = max(calls, key=lambda c: sum(max(0, v) for vs in calls[c].values() for v in vs))
    # The process's memory calls (whole run), as so many zero-size entries.
    return dict(calls[busiest], **{name: [0] * count for name, count in memory.items()})


def run_once(python: str, pki_dir: str, variant: dict[str, Any], suite: str, size: int,
             perf_dir: str | None) -> dict[str, Any]:
    impl = "ssl" if variant["src"] is None else "glasstls"
    assert impl == "glasstls" or set(variant["tweaks"]) <= {"RCVBUF", "PACE"}
    env = _child_env(variant["src"], variant["tweaks"])
    me = os.path.abspath(__file__)
    prefix = {"server": [], "client": []}
    if perf_dir:
        prefix = {side: _perf(os.path.join(perf_dir, f"{side}.data")) for side in prefix}
    server_process = subprocess.Popen(
        prefix["server"] + [python, me, "_server", pki_dir, impl, suite, str(size)],
        stdout=subprocess.PIPE, text=True, env=env)
    assert server_process.stdout is not None
    line = server_process.stdout.readline()
    port = int(line.split()[1])
    out = subprocess.run(prefix["client"] + [python, me, "_client", pki_dir, impl, suite,
                                             str(size), str(port)],
                         capture_output=True, text=True, check=True, env=env).stdout
    rest = server_process.stdout.read()
    server_process.wait(60)
    client_result = json.loads(out.strip().splitlines()[-1])
    server_result = json.loads(rest.split("RESULT ", 1)[1])
    mib = size / MiB
    result: dict[str, Any] = {}
    for way, sender, receiver in (("c->s", client_result["send"], server_result["receive"]),
                                  ("s->c", server_result["send"], client_result["receive"])):
        wall = client_result["send" if way == "c->s" else "receive"]["wall"]
        result[way] = {
            "MB/s": size / wall / 1e6,
            "wall_ms_per_mib": wall * 1000 / mib,
            "sender": _per_mib(sender, mib),
            "receiver": _per_mib(receiver, mib),
        }
    result["server_threads"] = server_result["threads"]
    if perf_dir:
        result["syscalls"] = {side: _syscalls(os.path.join(perf_dir, f"{side}.data"))
                              for side in ("server", "client")}
    return result


def _per_mib(phase: dict[str, float], mib: float) -> dict[str, float]:
    """Times in ms per MiB, counts per MiB, buffer sizes as they are."""
    return {key: value if key.endswith("buf") else
            value * (1000 if key in ("cpu", "user", "sys", "wall") else 1) / mib
            for key, value in phase.items()}


def _parse_variant(text: str) -> dict[str, Any]:
    """``ssl``, ``PATH`` or ``PATH@NAME=VALUE,NAME=VALUE`` (glasstls.io.sockets)."""
    path, _, tweaks = text.partition("@")
    pairs = dict(item.split("=", 1) for item in tweaks.split(",") if item)
    return {"label": text, "src": None if path == "ssl" else path, "tweaks": pairs}


def _quantiles(values: list[float]) -> str:
    values = sorted(values)
    if len(values) < 2:
        return f"{values[0]:.0f}" if values else "-"
    return (f"median {statistics.median(values):7.1f}  min {values[0]:7.1f}  "
            f"max {values[-1]:7.1f}  all " + " ".join(f"{v:.0f}" for v in values))


def _histogram(sizes: list[int]) -> str:
    buckets = Counter()
    for size in sizes:
        if size <= 0:
            buckets["<=0"] += 1
        elif size <= 5:
            buckets["<=5"] += 1
        elif size < 16384:
            buckets["<16K"] += 1
        elif size <= 16406:
            buckets["1 record"] += 1
        elif size <= 65536:
            buckets["<=64K"] += 1
        elif size <= 131072:
            buckets["<=128K"] += 1
        else:
            buckets[">128K"] += 1
    return ", ".join(f"{key} {count}" for key, count in sorted(buckets.items()))


def report(variants: list[dict[str, Any]], results: dict[str, list[dict[str, Any]]],
           size: int) -> None:
    for way in ("c->s", "s->c"):
        print(f"\n== {way}: MB/s over {len(next(iter(results.values())))} runs")
        for variant in variants:
            runs = results[variant["label"]]
            print(f"{variant['label']:>40}: {_quantiles([r[way]['MB/s'] for r in runs])}")
        print(f"-- {way}: per MiB, medians: wall ms; CPU ms (user+sys); off-CPU ms; "
              "voluntary / involuntary switches")
        for variant in variants:
            runs = results[variant["label"]]
            wall = statistics.median(r[way]["wall_ms_per_mib"] for r in runs)
            parts = [f"{variant['label']:>40}: wall {wall:5.3f}"]
            for side in ("sender", "receiver"):
                cpu = statistics.median(r[way][side]["cpu"] for r in runs)
                system = statistics.median(r[way][side]["sys"] for r in runs)
                off = statistics.median(r[way][side]["wall"] - r[way][side]["cpu"]
                                        for r in runs)
                faults = statistics.median(r[way][side]["minflt"] for r in runs)
                vcsw = statistics.median(r[way][side]["vcsw"] for r in runs)
                ivcsw = statistics.median(r[way][side]["ivcsw"] for r in runs)
                buffers = statistics.median(r[way][side]["rcvbuf" if side == "receiver"
                                                          else "sndbuf"] for r in runs)
                parts.append(f"{side} cpu {cpu:5.3f} (sys {system:5.3f}) off {off:5.3f} "
                             f"csw {vcsw:5.1f}/{ivcsw:4.1f} faults {faults:5.0f} "
                             f"{'rcv' if side == 'receiver' else 'snd'}buf {buffers / 1024:.0f}K")
            print("  ".join(parts))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("_server", "_client"):
        role, pki_dir, impl, suite, size, *rest = sys.argv[1:]
        _apply_tweaks()
        pki = peers.load_pki(pki_dir)
        if role == "_server":
            server(impl, suite, int(size), pki)
        else:
            client(impl, suite, int(size), int(rest[0]), pki)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", action="append", default=[],
                        help="a source tree (PATH or PATH@NAME=VALUE,...); repeat")
    parser.add_argument("--no-ssl", action="store_true")
    parser.add_argument("--suite", default="chacha20", choices=sorted(peers.SUITES))
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--perf", action="store_true",
                        help="one more round under perf record: system calls and sizes")
    parser.add_argument("--json", help="write the raw results here")
    args = parser.parse_args()
    variants = [_parse_variant(src) for src in args.src or ["src"]]
    if not args.no_ssl:
        variants.append(_parse_variant("ssl"))
    size = args.mib * MiB
    results: dict[str, list[dict[str, Any]]] = {v["label"]: [] for v in variants}
    with tempfile.TemporaryDirectory() as directory:
        peers.make_pki(directory)
        for index in range(args.rounds):
            order = variants if index % 2 == 0 else variants[::-1]
            for variant in order:
                results[variant["label"]].append(
                    run_once(sys.executable, directory, variant, args.suite, size, None))
        if args.perf:
            for variant in variants:
                perf_dir = tempfile.mkdtemp(dir=directory)
                traced = run_once(sys.executable, directory, variant, args.suite, size,
                                  perf_dir)
                results[variant["label"] + " (perf)"] = [traced]
    print(f"# blocking bulk {args.suite}, {args.mib} MiB each way, {args.rounds} alternated "
          f"rounds; load {os.getloadavg()[0]:.1f}")
    report(variants, {k: v for k, v in results.items() if not k.endswith(" (perf)")}, size)
    if args.perf:
        traced_variants = [dict(v, label=v["label"] + " (perf)") for v in variants]
        for variant in traced_variants:
            run = results[variant["label"]][0]
            print(f"\n-- system calls per MiB, {variant['label']} (the connection; per MiB "
                  "of its direction; rates under perf not comparable)")
            for side, calls in run["syscalls"].items():
                for name, sizes in sorted(calls.items()):
                    moved = sum(s for s in sizes if s > 0)
                    print(f"   {side:6} {name:9} {len(sizes) / args.mib:8.1f} per MiB  "
                          f"mean {moved / max(1, len(sizes)):8.0f} B  {_histogram(sizes)}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"variants": variants, "results": results}, out)


if __name__ == "__main__":
    main()
