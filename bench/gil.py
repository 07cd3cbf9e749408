#!/usr/bin/env python3
"""Does ``cryptography`` release the GIL in the calls a TLS server makes?

    python bench/gil.py [--seconds 2] [--no-count]

Two answers per operation:

1. Whether it releases the GIL at all, counted, so that load on a shared machine
   cannot blur it: the operation runs 200 times under valgrind's callgrind and
   the calls to ``PyEval_SaveThread`` (how C code, pyo3's ``allow_threads``
   included, lets go of the GIL) are counted, minus those of a run with 0
   calls. Needs ``valgrind``; skipped with ``--no-count``.
2. What that is worth: calls per second on one thread, then on two threads at
   once, and process CPU seconds per wall second with two. A call that releases
   the GIL for its work runs on both cores at once (speed-up and CPU per wall
   second near 2 on an idle 2-core machine); one that holds it cannot (both
   near 1). On a busy machine the other processes cap both figures.

Two controls bracket the answer: a pure-Python loop (holds the GIL) and
``hashlib.sha256`` of 16 KiB (CPython releases the GIL for data over 2 KiB).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.x509.verification import PolicyBuilder, Store

RECORD = 16 * 1024


def make_keys(directory: str) -> None:
    """Keys and certificates made once, so that every process (and every
    callgrind run) does the same set-up work."""
    from glasstls.crypto import devpki

    ca = devpki.make_ca("gil CA", "ecdsa-p256")
    leaf = devpki.make_leaf(ca, ("localhost",), "ecdsa-p256")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    files = {"ca.pem": ca.certificate_pem(), "leaf.pem": leaf.certificate_pem(),
             "ecdsa.pem": leaf.key_pem(),
             "rsa.pem": rsa_key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())}
    for name, pem in files.items():
        with open(os.path.join(directory, name), "wb") as handle:
            handle.write(pem)


def operations(directory: str) -> dict[str, Callable[[], object]]:
    def load(name: str) -> bytes:
        with open(os.path.join(directory, name), "rb") as handle:
            return handle.read()

    data = bytes(range(256)) * (RECORD // 256)
    nonce = bytes(12)
    aes = AESGCM(bytes(16))
    sealed_aes = aes.encrypt(nonce, data, b"header")
    chacha = ChaCha20Poly1305(bytes(32))
    ecdsa_key = serialization.load_pem_private_key(load("ecdsa.pem"), None)
    rsa_key = serialization.load_pem_private_key(load("rsa.pem"), None)
    assert isinstance(ecdsa_key, ec.EllipticCurvePrivateKey)
    assert isinstance(rsa_key, rsa.RSAPrivateKey)
    signature = ecdsa_key.sign(data[:64], ec.ECDSA(hashes.SHA256()))
    pss = padding.PSS(padding.MGF1(hashes.SHA256()), 32)
    peer = x25519.X25519PrivateKey.from_private_bytes(bytes(range(32))).public_key()
    ca = x509.load_pem_x509_certificate(load("ca.pem"))
    leaf = x509.load_pem_x509_certificate(load("leaf.pem"))
    verifier = (PolicyBuilder().store(Store([ca]))
                .build_server_verifier(x509.DNSName("localhost")))

    def python_loop() -> None:
        total = 0
        for number in range(2000):
            total += number

    return {
        "control: pure-Python loop (2000 additions)": python_loop,
        "control: hashlib.sha256, 16 KiB": lambda: hashlib.sha256(data).digest(),
        "AESGCM.encrypt, 16 KiB": lambda: aes.encrypt(nonce, data, b"header"),
        "AESGCM.decrypt, 16 KiB": lambda: aes.decrypt(nonce, sealed_aes, b"header"),
        "ChaCha20Poly1305.encrypt, 16 KiB": lambda: chacha.encrypt(nonce, data, b"header"),
        # Handshake-sized records (a flight's, a close_notify, a short echo): at 1 KiB
        # and below the AEADs keep the GIL, from 2 KiB up they release it (round
        # thirteen's count).
        "AESGCM.encrypt, 16 B": lambda: aes.encrypt(nonce, data[:16], b"header"),
        "AESGCM.encrypt, 1 KiB": lambda: aes.encrypt(nonce, data[:1024], b"header"),
        "AESGCM.encrypt, 2 KiB": lambda: aes.encrypt(nonce, data[:2048], b"header"),
        "ChaCha20Poly1305.encrypt, 1 KiB": lambda: chacha.encrypt(nonce, data[:1024], b"header"),
        "X25519 keygen + exchange": lambda: x25519.X25519PrivateKey.generate().exchange(peer),
        "ECDSA P-256 sign": lambda: ecdsa_key.sign(data[:64], ec.ECDSA(hashes.SHA256())),
        "ECDSA P-256 verify": lambda: ecdsa_key.public_key().verify(
            signature, data[:64], ec.ECDSA(hashes.SHA256())),
        "RSA-2048 PSS sign": lambda: rsa_key.sign(data[:64], pss, hashes.SHA256()),
        "x509 chain verification (leaf + CA)": lambda: verifier.verify(leaf, []),
    }


def rate(operation: Callable[[], object], threads: int, seconds: float) -> tuple[float, float]:
    """Calls per second over all threads, and process CPU seconds per wall second."""
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        count = 0
        while time.monotonic() < stop:
            for _ in range(10):
                operation()
            count += 10
        counts[index] = count

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    wall, cpu = time.monotonic(), time.process_time()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    return sum(counts) / wall, cpu / wall


COUNTED_CALLS = 200


def releases_per_call(directory: str, name: str) -> float:
    """PyEval_SaveThread calls per call of the operation, under callgrind."""
    def count(calls: int) -> int:
        output = os.path.join(directory, f"callgrind.{calls}")
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={output}",
                        sys.executable, os.path.abspath(__file__), "--probe", name,
                        "--calls", str(calls), "--keys", directory],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return save_thread_calls(output)

    return (count(COUNTED_CALLS) - count(0)) / COUNTED_CALLS


def save_thread_calls(path: str) -> int:
    """Sum the ``calls=`` lines under every call to PyEval_SaveThread (callgrind
    names a function in full once, then by its number)."""
    ids: set[str] = set()
    total = 0
    counting = False
    with open(path) as profile:
        for line in profile:
            if line.startswith("cfn="):
                match = re.match(r"cfn=(\(\d+\))(?: (.*))?", line.strip())
                assert match is not None
                if match.group(2) == "PyEval_SaveThread":
                    ids.add(match.group(1))
                counting = match.group(1) in ids
            elif counting and line.startswith("calls="):
                total += int(line.split()[0][len("calls="):])
                counting = False
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--no-count", action="store_true", help="skip the callgrind counts")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--keys", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe is not None:  # one callgrind run
        operation = operations(args.keys)[args.probe]
        for _ in range(args.calls):
            operation()
        return
    import cryptography

    count = not args.no_count and shutil.which("valgrind") is not None
    print(f"# {_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC, cryptography "
          f"{cryptography.__version__}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f}, {args.seconds} s per rate\n")
    print("| operation | GIL releases per call | 1 thread (calls/s) | 2 threads (calls/s) "
          "| speed-up | CPU s per wall s, 2 threads |")
    print("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="gil-") as directory:
        make_keys(directory)
        for name, operation in operations(directory).items():
            releases = f"{releases_per_call(directory, name):.2f}" if count else "-"
            one, _ = rate(operation, 1, args.seconds)
            two, busy = rate(operation, 2, args.seconds)
            print(f"| {name} | {releases} | {one:,.0f} | {two:,.0f} | {two / one:.2f}x "
                  f"| {busy:.2f} |", flush=True)
    print(f"\n# load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
