"""Instructions per in-memory handshake pair (callgrind), for A/B checks of engine
changes against another source tree, in one run on one machine.

    python bench/icount_handshake.py --src src --src /tmp/main/src [--case hs12-rsa] [--record]

Each tree is run under valgrind twice (0 and N handshakes, client and server in
memory) and the difference divided by N; imports and set-up cancel out. The cases
are configured as ``glasstls_adapter.py`` configures tlsbench's: X25519 only, the
case's one suite and version, the client verifying the chain for ``localhost``,
one TLS 1.3 ticket, no client session cache (``res13-ecdsa`` resumes the session
of one full handshake made before counting). ``--record`` also counts the first
case with ``ClientConfig.recorder``/``ServerConfig.recorder`` set (glasstls explain).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator

CASES = ("hs13-ecdsa", "hs13-rsa", "hs12-rsa", "res13-ecdsa", "hs13-ecdsa-chacha")

CHILD = r"""
import sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[4])
from glasstls import (CertifiedKey, ClientConfig, ClientConnection, ServerConfig,
                      ServerConnection, TrustStore)
from glasstls.constants import TLS12, TLS13, CipherSuite, NamedGroup
case = sys.argv[5]
files = sys.argv[6] + ("/rsa-2048/" if "rsa" in case else "/ecdsa-p256/")
trust = TrustStore.from_pem_file(files + "ca.pem")
certified = CertifiedKey.from_files(files + "cert.pem", files + "key.pem")
if case == "hs12-rsa":
    version, suite = TLS12, CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
elif case.endswith("chacha"):
    version, suite = TLS13, CipherSuite.TLS_CHACHA20_POLY1305_SHA256
else:
    version, suite = TLS13, CipherSuite.TLS_AES_128_GCM_SHA256
options = dict(versions=(version,), cipher_suites=(suite,), groups=(NamedGroup.x25519,))
extra = {}
if sys.argv[3] == "record":
    from glasstls.explain.recorder import Recorder
    extra = {"recorder": Recorder(limit=1)}
client = ClientConfig(trust=trust, key_share_groups=(NamedGroup.x25519,),
                      session_cache=None, **options, **extra)
server = ServerConfig(certificates=(certified,), tickets=1, **options, **extra)


def handshake(session=None):
    c = ClientConnection(client, server_name="localhost", session=session)
    s = ServerConnection(server)
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    assert c.handshake_complete and s.handshake_complete
    return c


session = handshake().session if case.startswith("res") else None
for _ in range(int(sys.argv[2])):
    c = handshake(session)
    assert session is None or c.negotiated.resumed
"""
# The keys are made once per run (an RSA key generation's instruction count varies).
WRITE_PKI = r"""
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
from pki import pki
for kind in ("ecdsa-p256", "rsa-2048"):
    pki(kind).write(Path(sys.argv[3]) / kind)
"""
_TOTAL = re.compile(r"^summary:\s+(\d+)", re.MULTILINE)
TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests")


@contextlib.contextmanager
def pki_files(src: str) -> Iterator[str]:
    """A directory with the cases' keys and certificates (tests/pki.py), made once."""
    with tempfile.TemporaryDirectory(prefix="glasstls-bench-pki-") as files:
        subprocess.run([sys.executable, "-c", WRITE_PKI, src, TESTS, files], check=True)
        yield files


_LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+.*?\s+\[(.*)\]\s*$")


@contextlib.contextmanager
def callgrind(child: str, *argv: str) -> Iterator[tuple[int, str]]:
    """Run the Python program ``child`` with ``argv`` under callgrind: its total
    instruction count and the output file's path (valid inside the block)."""
    with tempfile.TemporaryDirectory() as work:
        out = os.path.join(work, "cg.out")
        script = os.path.join(work, "child.py")
        with open(script, "w") as handle:
            handle.write(child)
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                        sys.executable, script, *argv],
                       check=True, capture_output=True, env=dict(os.environ,
                                                                 PYTHONHASHSEED="0"))
        with open(out) as handle:
            match = _TOTAL.search(handle.read())
        assert match, "no summary line in the callgrind output"
        yield int(match.group(1)), out


def instructions(src: str, n: int, mode: str, tests: str, case: str, files: str
                 ) -> tuple[int, int]:
    """(all instructions, those of the interpreter: libpython and libc)."""
    with callgrind(CHILD, src, str(n), mode, tests, case, files) as (total, out):
        annotated = subprocess.run(["callgrind_annotate", "--threshold=100", out], check=True,
                                   capture_output=True, text=True).stdout
    python = 0
    for line in annotated.splitlines():
        found = _LINE.match(line)
        if found and ("libpython" in found[2] or "libc.so" in found[2]):
            python += int(found[1].replace(",", ""))
    return total, python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", action="append", required=True, help="a tree's src/ dir")
    parser.add_argument("--case", action="append", choices=CASES,
                        help="a case (repeatable; default hs13-ecdsa)")
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    with pki_files(args.src[0]) as files:
        for case in args.case or ["hs13-ecdsa"]:
            _count(args, TESTS, case, files)


def _count(args: argparse.Namespace, tests: str, case: str, files: str) -> None:
    runs = [(src, "plain") for src in args.src]
    if args.record:
        runs.append((args.src[0], "record"))
    for src, mode in runs:
        base, base_python = instructions(src, 0, mode, tests, case, files)
        total, python = instructions(src, args.n, mode, tests, case, files)
        print(f"{case:18s} {src} ({mode}): {(total - base) / args.n / 1e6:.3f} M "
              f"instructions per handshake pair, of which the interpreter (libpython, "
              f"libc) {(python - base_python) / args.n / 1e6:.3f} M", flush=True)


if __name__ == "__main__":
    main()
