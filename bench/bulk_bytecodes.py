"""Bytecodes per MiB of the blocking bulk path over a real socket (one process: a
``glasstls.serve()`` server thread, untraced, and a traced client): the client's
``sendall`` of 1 MiB blocks, then its ``recv_into`` a 1 MiB buffer, per function
with calls per MiB (engine_server_bytecodes.py's tracer). ChaCha20.

    .venv/bin/python bench/bulk_bytecodes.py [MIB]      # PYTHONPATH=OTHER/src for another tree
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import engine_server_bytecodes as esb  # noqa: E402
import sockets_peers as peers  # noqa: E402

import glasstls  # noqa: E402

MIB = 1 << 20


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    suite = "chacha20"
    print(f"# glasstls from {os.path.dirname(glasstls.__file__)}")
    with tempfile.TemporaryDirectory() as directory:
        peers.make_pki(directory)
        pki = peers.load_pki(directory)
        block = os.urandom(MIB)

        def handler(sock: glasstls.TLSSocket, address: object) -> None:
            peers.receive_exactly(sock.recv_into, count * MIB)
            sock.sendall(b"!")
            for _ in range(count):
                sock.sendall(block)

        with glasstls.serve(("127.0.0.1", 0), handler,
                            config=peers.glasstls_server_config(pki, suite)) as server:
            sock = glasstls.connect(server.address,
                                    config=peers.glasstls_client_config(pki, suite),
                                    server_hostname=peers.SERVER_NAME)
            send = esb.Tracer(None)
            send.run(lambda: [sock.sendall(block) for _ in range(count)])
            assert sock.recv(1) == b"!"
            receive = esb.Tracer(None)
            calls: Counter[str] = Counter()

            def read_all() -> None:
                buffer = memoryview(bytearray(MIB))
                got = 0
                while got < count * MIB:
                    got += sock.recv_into(buffer)
                    calls["recv_into"] += 1

            receive.run(read_all)
            sock.close()
    for label, tracer in (("sendall", send), ("recv_into", receive)):
        total = sum(tracer.counts.values())
        extra = f", {calls['recv_into'] / count:.1f} calls per MiB" if label == "recv_into" else ""
        print(f"{label}: {total / count:.0f} bytecodes per MiB{extra}")
        for name, number in tracer.counts.most_common(18):
            print(f"   {number / count:8.1f}  {tracer.calls[name] / count:6.1f} calls  {name}")


if __name__ == "__main__":
    main()
