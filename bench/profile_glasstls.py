"""Where glasstls's time goes: cProfile over tlsbench's own workloads.

Drives the ``glasstls`` tlsbench adapter exactly as the harness does (same PKI,
same configs, same pump) and prints, per handshake or per MB of bulk data:

* the unprofiled cost (CPU time), for scale;
* a breakdown into buckets: the crypto floor that ``cryptography`` does (key
  exchange, signatures, X.509 path building), hashing/HMAC, AEAD, and the pure
  Python of each glasstls module;
* the functions with the most self time.

cProfile inflates pure-Python function calls relative to C calls, so the Python
shares it shows are upper bounds; ``py-spy record --native`` (see README.md)
gives unbiased sampled shares.

    bench/.venv/bin/python bench/profile_glasstls.py --case hs13-ecdsa --n 2000
    bench/.venv/bin/python bench/profile_glasstls.py --case bulk-aes128gcm --mb 512
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import os
import pstats
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TLSBENCH = os.path.join(HERE, "..", "..", "shared", "bench", "tlsbench.py")

# C functions (as cProfile names them) -> bucket. First match wins.
_C_BUCKETS: tuple[tuple[str, str], ...] = (
    ("PolicyBuilder", "x509 path validation (cryptography)"),
    ("ServerVerifier", "x509 path validation (cryptography)"),
    ("'verify' of 'cryptography.hazmat.bindings._rust.x509.PolicyVerifier'",
     "x509 path validation (cryptography)"),
    ("build_server_verifier", "x509 path validation (cryptography)"),
    ("_rust.x509", "x509 parse/encode (cryptography)"),
    ("load_der_x509_certificate", "x509 parse/encode (cryptography)"),
    ("X25519", "X25519 (cryptography)"),
    ("'exchange'", "X25519 (cryptography)"),
    ("'sign' of", "signature sign (cryptography)"),
    ("'verify' of", "signature verify (cryptography)"),
    ("AESGCM", "AEAD (cryptography)"),
    ("ChaCha20Poly1305", "AEAD (cryptography)"),
    ("'encrypt' of", "AEAD (cryptography)"),
    ("'decrypt' of", "AEAD (cryptography)"),
    ("_hashlib", "hashlib/hmac (OpenSSL)"),
    ("hmac", "hashlib/hmac (OpenSSL)"),
    ("posix.urandom", "os.urandom"),
)


def _bucket(key: tuple[str, int, str]) -> str:
    filename, _, name = key
    if filename == "~":  # a C function
        for needle, bucket in _C_BUCKETS:
            if needle in name:
                return bucket
        return "other C builtins (bytes, dict, isinstance...)"
    path = filename.replace(os.sep, "/")
    if "/glasstls/" in path:
        return "py glasstls/" + path.split("/glasstls/", 1)[1]
    if "cryptography" in path:
        return "py cryptography wrappers"
    if path.endswith("glasstls_adapter.py") or path.endswith("tlsbench.py"):
        return "py harness + adapter"
    if path.endswith("hmac.py") or path.endswith("hashlib.py"):
        return "hashlib/hmac (OpenSSL)"
    return "py stdlib (" + os.path.basename(path) + ")"


def _load_harness(tlsbench_path: str) -> Any:
    spec = importlib.util.spec_from_file_location("tlsbench", tlsbench_path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load tlsbench from {tlsbench_path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["tlsbench"] = module
    spec.loader.exec_module(module)
    module.load_plugin(os.path.join(HERE, "glasstls_adapter.py"))
    return module


def _workload(tb: Any, adapter: Any, case: str, mb: int) -> tuple[Callable[[int], None], str]:
    """(run(n), unit): n handshakes, or n MB (1e6 bytes) sent and received."""
    if case in tb.HS_CASES:
        cfg = tb.HS_CASES[case]
        adapter.check(cfg)

        def handshakes(n: int) -> None:
            for _ in range(n):
                adapter.connect(cfg)
        return handshakes, "handshake"
    if case in tb.RES_CASES:
        cfg = tb.RES_CASES[case]
        session = adapter.get_session(adapter.connect(cfg)[0])

        def resumptions(n: int) -> None:
            for _ in range(n):
                client, server = adapter.connect(cfg, session)
            if not adapter.was_resumed(client, server):
                raise SystemExit("the session was not resumed")
        return resumptions, "handshake"
    if case in tb.BULK_CASES:
        cfg = tb.BULK_CASES[case]
        client, server = adapter.connect(cfg)
        chunk = os.urandom(tb.CHUNK)

        def bulk(n: int) -> None:
            adapter.transfer(client, server, chunk, max(1, n * 1_000_000 // tb.CHUNK))
        return bulk, "MB"
    known = [*tb.HS_CASES, *tb.RES_CASES, *tb.BULK_CASES]
    raise SystemExit(f"unknown case {case}; one of {known}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tlsbench", default=os.environ.get("TLSBENCH", DEFAULT_TLSBENCH))
    parser.add_argument("--case", default="hs13-ecdsa")
    parser.add_argument("--n", type=int, default=1000, help="handshakes (handshake cases)")
    parser.add_argument("--mb", type=int, default=256, help="MB to send (bulk cases)")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--pstats", help="also write the raw profile here")
    parser.add_argument("--no-cprofile", action="store_true",
                        help="only the unprofiled loop (to run under py-spy)")
    args = parser.parse_args()

    tb = _load_harness(os.path.abspath(args.tlsbench))
    pki = tb.make_pki(tempfile.mkdtemp(prefix="glasstls-prof-pki-"))
    adapter = tb.ADAPTERS["glasstls"]()
    adapter.setup(pki)
    run, unit = _workload(tb, adapter, args.case, args.mb)
    units = args.n if unit == "handshake" else args.mb

    run(max(1, units // 20))  # warm-up: imports, caches
    start = time.process_time()
    run(units)
    plain = (time.process_time() - start) / units
    if args.no_cprofile:
        print(f"{args.case}: {plain * 1e6:10.1f} us CPU per {unit} ({1 / plain:,.1f} {unit}s/s)")
        return 0

    profiler = cProfile.Profile()
    profiler.enable()
    run(units)
    profiler.disable()
    if args.pstats:
        profiler.dump_stats(args.pstats)
    stats = pstats.Stats(profiler)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())

    print(f"{args.case}: {plain * 1e6:10.1f} us CPU per {unit} unprofiled "
          f"({1 / plain:,.1f} {unit}s/s); profiled {total / units * 1e6:.1f} us")
    buckets: dict[str, float] = defaultdict(float)
    for key, entry in raw.items():
        buckets[_bucket(key)] += entry[2]
    print(f"\nself time by bucket (profiled; us per {unit}, share):")
    for name, seconds in sorted(buckets.items(), key=lambda kv: -kv[1]):
        print(f"  {seconds / units * 1e6:9.1f}  {seconds / total * 100:5.1f}%  {name}")

    print(f"\ntop {args.top} functions by self time (us per {unit}; calls per {unit}; "
          "cumulative us):")
    ranked = sorted(raw.items(), key=lambda kv: -kv[1][2])[: args.top]
    for (filename, line, name), (_, calls, tottime, cumtime, _) in ranked:
        where = name if filename == "~" else (
            f"{filename.split('/src/')[-1].split('site-packages/')[-1]}:{line} {name}")
        print(f"  {tottime / units * 1e6:9.1f}  {calls / units:8.1f}  "
              f"{cumtime / units * 1e6:9.1f}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
