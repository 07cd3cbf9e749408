"""Instructions per call of the server's parts of a TLS 1.3 handshake (callgrind),
for A/B checks of server changes against another source tree.

    python bench/icount_server.py --src /tmp/main/src --src src [--part parse] [--n 400]
    python bench/icount_server.py --src src --part full --breakdown   # by object, function
    python bench/icount_server.py --src src --vs-ssl [--n 100]  # the server against ssl's
    python bench/icount_server.py --src /tmp/main/src --src src --part full --cpu 7 --n 300

Parts of a resumed handshake: ``parse`` (``ClientHello.parse`` of a resuming hello),
``choose_psk`` (ticket open, state decode, binder check), ``tickets`` and
``tickets2`` (``ticket_messages``, or ``issue_tickets`` in a tree from before round
twenty-four, with one and two tickets: the bench's and the servers' defaults), ``hello``
(a new ``ServerConnection`` answering that hello: everything up to its flight, X25519
included). The configs are ``icount_handshake.py``'s.

Parts of a full handshake against a real client (``sockets.py``'s: Python's ssl,
OpenSSL 3.0, X25519 only, TLS_AES_128_GCM_SHA256; the server is configured as
``sockets_peers.py``'s, with its defaults: two tickets): ``full`` (a new
``ServerConnection`` fed the client's hello and then its last flight, tickets
included), ``flight`` (the hello alone: up to the server's flight) and
``full-parse`` (``ClientHello.parse`` of that hello); ``resumed`` and
``resumed-flight``: the same for that client's resumption with a ticket of the full
handshake (its hello with a PSK; its Finished; the one new ticket). The client's
bytes are recorded once against a server whose ``rng`` replays the same bytes for
every connection, so its X25519 share, random and tickets, and hence the client's
Finished, are the same each time; ECDSA signatures are randomised by OpenSSL, so the
server signs for real every time and the first signature is sent instead of each
new one (as the recorded transcripts of the tests do).

Each part is counted under valgrind with 0 and N calls and the difference divided
by N (``--cpu ROUNDS``: timed instead, in alternated child processes). ``--vs-ssl``
instead counts the main thread of a process where a server (glasstls, then an ssl
``MemoryBIO`` server with ``sockets_peers.py``'s context) makes N full handshakes
with a live ssl client in another thread (callgrind's ``--separate-threads``), the
bytes passed through queues by the same glue for both.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections import Counter

from icount_handshake import TESTS, callgrind, pki_files

PARTS = ("parse", "choose_psk", "tickets", "tickets2", "hello", "full", "flight",
         "full-parse", "resumed", "resumed-flight")
FULL_PARTS = ("full", "flight", "full-parse", "resumed", "resumed-flight")
HERE = os.path.dirname(os.path.abspath(__file__))
# A callgrind_annotate line: count, (percentage), file:function [object].
_LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*?)\s+\[(.*)\]\s*$")

# The children's configurations (icount_echo.py's too): an ECDSA P-256 server, TLS 1.3
# with X25519 and AES-128-GCM only; the child sets ``files`` and ``tickets`` first.
TLS13_CONFIGS = r"""
trust = TrustStore.from_pem_file(files + "ca.pem")
certified = CertifiedKey.from_files(files + "cert.pem", files + "key.pem")
options = dict(versions=(TLS13,), cipher_suites=(CipherSuite.TLS_AES_128_GCM_SHA256,),
               groups=(NamedGroup.x25519,))
client = ClientConfig(trust=trust, key_share_groups=(NamedGroup.x25519,),
                      session_cache=None, **options)
server = ServerConfig(certificates=(certified,), tickets=tickets, **options)
"""

CHILD = r"""
import sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[4])
from glasstls import (CertifiedKey, ClientConfig, ClientConnection, ServerConfig,
                      ServerConnection, TrustStore)
from glasstls.constants import TLS13, CipherSuite, NamedGroup
from glasstls.crypto.suites import SUITES
from glasstls.handshake import psk13
from glasstls.handshake.psk13 import choose_psk
from glasstls.messages.handshake import ClientHello
part, n, files = sys.argv[2], int(sys.argv[3]), sys.argv[5] + "/ecdsa-p256/"
tickets = 2 if part == "tickets2" else 1
""" + TLS13_CONFIGS + r"""
c = ClientConnection(client, server_name="localhost")
s = ServerConnection(server)
s.receive_data(c.data_to_send())
c.receive_data(s.data_to_send())
s.receive_data(c.data_to_send())
c.receive_data(s.data_to_send())
record = ClientConnection(client, server_name="localhost", session=c.session).data_to_send()
raw = record[5:]  # the resuming ClientHello, alone in its record
hello = ClientHello.parse(raw)
suite = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]


class Engine:  # what choose_psk (an older tree's issue_tickets) asks of the engine: nothing
    class transcript:
        def seed(*args):
            pass

    def trace(self, *args):
        pass

    def send_post_handshake(self, message):
        pass

    def send_post_handshake_encoded(self, raw, parse):
        pass


engine = Engine()
assert choose_psk(engine, server, hello, suite, b"", True, "localhost") is not None
for _ in range(n):
    if part == "parse":
        ClientHello.parse(raw)
    elif part == "choose_psk":
        choose_psk(engine, server, hello, suite, b"", True, "localhost")
    elif part.startswith("tickets"):
        if hasattr(psk13, "ticket_messages"):
            psk13.ticket_messages(server, suite, bytes(32), None, "localhost", (), False,
                                  server.clock())
        else:  # a tree from before round twenty-four
            psk13.issue_tickets(engine, server, suite, bytes(32), None, "localhost", (),
                                resumed=False)
    else:
        ServerConnection(server).receive_data(record)
"""
# The start of the children that serve the sockets bench's client: argv is the tree,
# the part (or implementation), n, tests/, the PKI directory and bench/.
SOCKETS_CHILD_HEAD = r"""
import sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[4])
sys.path.insert(0, sys.argv[6])
n, files = int(sys.argv[3]), sys.argv[5] + "/ecdsa-p256/"
pki = {"ca": files + "ca.pem", "cert": files + "cert.pem", "key": files + "key.pem"}
"""
# A full handshake's server against the recorded bytes of a real client (see above).
FULL_CHILD = SOCKETS_CHILD_HEAD + r"""
import random, ssl
from glasstls import ServerConfig, ServerConnection
from glasstls.crypto import signatures
from sockets_peers import glasstls_server_config, ssl_client_context
part = sys.argv[2]


class Replay:  # the same "random" bytes for every connection
    def __init__(self):
        self.pool = random.Random(16).randbytes(4096)
        self.at = 0

    def __call__(self, size):
        at = self.at
        self.at = at + size
        return self.pool[at:at + size]


rng = Replay()
defaults = glasstls_server_config(pki)
server = ServerConfig(certificates=defaults.certificates, rng=rng)
real_sign = signatures.sign
first = []


def sign(key, scheme, data):
    signature = real_sign(key, scheme, data)  # counted, then the first one is sent
    if not first:
        first.append(signature)
    return first[0]


signatures.sign = sign
incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
context = ssl_client_context(pki)
client = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
try:
    client.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = outgoing.read()
s = ServerConnection(server)
s.receive_data(hello)
incoming.write(s.data_to_send())
client.do_handshake()
last = outgoing.read()
s.receive_data(last)
assert s.handshake_complete
if part.startswith("resumed"):
    # The client takes a ticket, and its resumption is what is replayed from now on
    # (the ticket key is the config's, made once; the server's random, X25519 share
    # and new ticket repeat with the rng, so the client's Finished does too).
    incoming.write(s.data_to_send())
    try:
        client.read(1)
    except ssl.SSLWantReadError:
        pass
    session = client.session
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(incoming, outgoing, server_hostname="localhost",
                              session=session)
    try:
        client.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    rng.at = 0
    s = ServerConnection(server)
    s.receive_data(hello)
    incoming.write(s.data_to_send())
    client.do_handshake()
    assert client.session_reused
    last = outgoing.read()
    events = s.receive_data(last)
    assert s.handshake_complete and events[0].resumed, events
    part = {"resumed": "full", "resumed-flight": "flight"}[part]
rng.at = 0
s = ServerConnection(server)
s.receive_data(hello)
s.data_to_send()
s.receive_data(last)
assert s.handshake_complete  # the replay is accepted
if part == "full-parse":
    from glasstls.messages.handshake import ClientHello
    for _ in range(n):
        ClientHello.parse(hello[5:])
    n = 0
for _ in range(n):
    rng.at = 0
    s = ServerConnection(server)
    s.receive_data(hello)
    s.data_to_send()
    if part == "full":
        s.receive_data(last)
        s.data_to_send()
"""

# A server (glasstls or ssl) in the main thread, a live ssl client in another.
VS_SSL_CHILD = SOCKETS_CHILD_HEAD + r"""
import queue, ssl, threading
impl = sys.argv[2]
from sockets_peers import glasstls_server_config, ssl_client_context, ssl_server_context
to_server, to_client = queue.SimpleQueue(), queue.SimpleQueue()


def client_thread(count):
    context = ssl_client_context(pki)
    for _ in range(count):
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        c = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
        while True:
            try:
                c.do_handshake()
                break
            except ssl.SSLWantReadError:
                to_server.put(outgoing.read())
                incoming.write(to_client.get())
        to_server.put(outgoing.read())
        incoming.write(to_client.get())  # the tickets


if impl == "glasstls":
    from glasstls import ServerConnection
    config = glasstls_server_config(pki)

    def serve():
        s = ServerConnection(config)
        s.receive_data(to_server.get())
        to_client.put(s.data_to_send())
        s.receive_data(to_server.get())
        to_client.put(s.data_to_send())
        assert s.handshake_complete
else:
    context = ssl_server_context(pki)

    def serve():
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        s = context.wrap_bio(incoming, outgoing, server_side=True)
        for _ in range(2):
            incoming.write(to_server.get())
            try:
                s.do_handshake()
            except ssl.SSLWantReadError:
                pass
            to_client.put(outgoing.read())
        assert s.version() == "TLSv1.3"

thread = threading.Thread(target=client_thread, args=(n + 1,))
thread.start()
serve()  # one before counting in both runs: the lazy set-ups of a first handshake
for _ in range(n):
    serve()
thread.join()
"""


# FULL_CHILD timed: the process CPU time of N connections after a warm-up.
TIMED_CHILD = FULL_CHILD.replace("for _ in range(n):\n    rng.at = 0", """import time
for _ in range(50):
    rng.at = 0
    s = ServerConnection(server)
    s.receive_data(hello)
    s.data_to_send()
    s.receive_data(last)
    s.data_to_send()
started = time.process_time()
for _ in range(n):
    rng.at = 0""") + """
print((time.process_time() - started) / n)
"""


def cpu_times(srcs: list[str], part: str, n: int, rounds: int, files: str) -> None:
    """Alternated child processes, one per tree per round (the order alternating):
    the median CPU microseconds per call of each tree and its ratio to the first."""
    with tempfile.TemporaryDirectory() as work:
        script = os.path.join(work, "timed.py")
        with open(script, "w") as handle:
            handle.write(TIMED_CHILD)
        times: dict[str, list[float]] = {src: [] for src in srcs}
        for round_ in range(rounds):
            for src in srcs if round_ % 2 == 0 else srcs[::-1]:
                out = subprocess.run([sys.executable, script, src, part, str(n), TESTS, files,
                                      HERE], check=True, capture_output=True, text=True)
                times[src].append(float(out.stdout.split()[-1]) * 1e6)
    first = statistics.median(times[srcs[0]])
    for src in srcs:
        median = statistics.median(times[src])
        print(f"{part} {src}: {median:7.1f} us CPU per call (median of {rounds}; "
              f"{' '.join(f'{t:.0f}' for t in times[src])}), {median / first:.3f}x",
              flush=True)


def instructions(src: str, part: str, n: int, files: str) -> int:
    if part in FULL_PARTS:
        with callgrind(FULL_CHILD, src, part, str(n), TESTS, files, HERE) as (total, _):
            return total
    with callgrind(CHILD, src, part, str(n), TESTS, files) as (total, _):
        return total


def _by_function(out: str) -> Counter[str]:
    text = subprocess.run(["callgrind_annotate", "--threshold=100", out], check=True,
                          capture_output=True, text=True).stdout
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            function = match[2].split(":", 1)[-1] if ":" in match[2] else match[2]
            counts[f"{function} [{os.path.basename(match[3])}]"] += int(
                match[1].replace(",", ""))
    return counts


def breakdown(src: str, part: str, n: int, files: str, top: int) -> None:
    """Instructions per call by shared object and by (C) function."""
    per: Counter[str] = Counter()
    child, extra = (FULL_CHILD, [HERE]) if part in FULL_PARTS else (CHILD, [])
    for runs, sign in ((n, 1), (0, -1)):
        with callgrind(child, src, part, str(runs), TESTS, files, *extra) as (_, out):
            for key, value in _by_function(out).items():
                per[key] += sign * value
    total = sum(per.values())
    print(f"{part} {src}: {total / n / 1e3:.1f} K instructions per call "
          "(self counts above callgrind_annotate's threshold)")
    objects: Counter[str] = Counter()
    for key, value in per.items():
        objects[key.rsplit("[", 1)[1].rstrip("]")] += value
    for name, value in objects.most_common():
        if abs(value) >= total * 0.005:
            print(f"  {value / n / 1e3:8.1f} K  {value / total * 100:5.1f}%  {name}")
    print(f"top {top} functions (self):")
    for key, value in per.most_common(top):
        print(f"  {value / n / 1e3:8.1f} K  {value / total * 100:5.1f}%  {key}")


def _thread_instructions(src: str, impl: str, n: int, files: str) -> int:
    """The main thread's instructions (the server's) of VS_SSL_CHILD."""
    with tempfile.TemporaryDirectory() as work:
        out = os.path.join(work, "cg.out")
        script = os.path.join(work, "child.py")
        with open(script, "w") as handle:
            handle.write(VS_SSL_CHILD)
        subprocess.run(["valgrind", "--tool=callgrind", "--separate-threads=yes",
                        f"--callgrind-out-file={out}", sys.executable, script, src, impl,
                        str(n), TESTS, files, HERE],
                       check=True, capture_output=True, env=dict(os.environ,
                                                                 PYTHONHASHSEED="0"))
        with open(out + "-01") as handle:
            for line in handle:
                if line.startswith("summary:") or line.startswith("totals:"):
                    return int(line.split()[1])
    raise AssertionError("no total in the main thread's callgrind output")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", action="append", required=True, help="a tree's src/ dir")
    parser.add_argument("--part", action="append", choices=PARTS,
                        help="a part (repeatable; default all)")
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--breakdown", action="store_true",
                        help="by shared object and function")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--vs-ssl", action="store_true",
                        help="a full handshake's server against ssl's, live client")
    parser.add_argument("--cpu", type=int, metavar="ROUNDS",
                        help="alternated CPU time instead (parts full and flight)")
    args = parser.parse_args()
    with pki_files(args.src[0]) as files:
        if args.cpu:
            for part in args.part or ["full"]:
                cpu_times(args.src, part, args.n, args.cpu, files)
            return
        if args.vs_ssl:
            for src, impl in [(src, "glasstls") for src in args.src] + [(args.src[0], "ssl")]:
                base = _thread_instructions(src, impl, 0, files)
                total = _thread_instructions(src, impl, args.n, files)
                name = src if impl == "glasstls" else "ssl (OpenSSL MemoryBIO server)"
                print(f"full server {name}: {(total - base) / args.n / 1e3:8.1f} K "
                      "instructions per handshake (the server's thread)", flush=True)
            return
        if args.breakdown:
            for part in args.part or ["full"]:
                for src in args.src:
                    breakdown(src, part, args.n, files, args.top)
            return
        for part in args.part or PARTS:
            for src in args.src:
                base = instructions(src, part, 0, files)
                total = instructions(src, part, args.n, files)
                print(f"{part:11s} {src}: {(total - base) / args.n / 1e3:8.1f} K instructions "
                      f"per call", flush=True)


if __name__ == "__main__":
    main()
