"""Instructions per handshake, split by shared object and by function (callgrind).

Runs tlsbench's own instruction-count child (``--_count-child``) under
valgrind twice, with 0 and with N handshakes, and prints the difference per
handshake: first by shared object (the Python interpreter, cryptography's Rust
and bundled OpenSSL, the system's libcrypto/libssl, libc), then the top
functions. Needs valgrind and callgrind_annotate.

    bench/.venv/bin/python bench/icount_breakdown.py --impl glasstls --case hs13-ecdsa
    bench/.venv/bin/python bench/icount_breakdown.py --impl ssl --case hs13-ecdsa
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TLSBENCH = os.path.join(HERE, "..", "..", "shared", "bench", "tlsbench.py")
_LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*?)\s+\[(.*)\]\s*$")


def _annotated(tlsbench: str, impl: str, case: str, pki_dir: str, n: int) -> Counter[str]:
    out = tempfile.mktemp(prefix="glasstls-cg-", dir="/tmp")
    env = dict(os.environ, PYTHONHASHSEED="0")
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
               tlsbench, "--plugin", os.path.join(HERE, "glasstls_adapter.py"),
               "--_count-child", impl, case, "--pki-dir", pki_dir, "--count-n", str(n)]
    subprocess.run(command, check=True, capture_output=True, env=env, timeout=1800)
    try:
        text = subprocess.run(["callgrind_annotate", "--threshold=100", out], check=True,
                              capture_output=True, text=True).stdout
    finally:
        os.unlink(out)
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            counts[f"{match[2]} [{match[3]}]"] += int(match[1].replace(",", ""))
    return counts


def _object(key: str) -> str:
    obj = key.rsplit("[", 1)[1].rstrip("]")
    name = os.path.basename(obj)
    if "cryptography" in obj:
        return "cryptography " + name + " (Rust + bundled OpenSSL)"
    return name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tlsbench", default=os.environ.get("TLSBENCH", DEFAULT_TLSBENCH))
    parser.add_argument("--impl", default="glasstls")
    parser.add_argument("--case", default="hs13-ecdsa")
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    tlsbench = os.path.abspath(args.tlsbench)

    pki_dir = tempfile.mkdtemp(prefix="glasstls-cg-pki-")
    subprocess.run([sys.executable, "-c", (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('tlsbench', {tlsbench!r})\n"
        "tb = importlib.util.module_from_spec(spec); sys.modules['tlsbench'] = tb\n"
        f"spec.loader.exec_module(tb); tb.make_pki({pki_dir!r})\n")], check=True)
    base = _annotated(tlsbench, args.impl, args.case, pki_dir, 0)
    full = _annotated(tlsbench, args.impl, args.case, pki_dir, args.n)
    per = {key: (full[key] - base.get(key, 0)) / args.n for key in full}
    total = sum(per.values())
    print(f"{args.impl} {args.case}: {total / 1e6:.2f} M instructions per handshake "
          f"(self counts of functions above callgrind_annotate's threshold)")
    by_object: Counter[str] = Counter()
    for key, value in per.items():
        by_object[_object(key)] += int(value)
    print("\nby shared object:")
    for name, value in by_object.most_common():
        if abs(value) >= total * 0.005:
            print(f"  {value / 1e6:7.2f} M  {value / total * 100:5.1f}%  {name}")
    print(f"\ntop {args.top} functions (self):")
    for key, value in sorted(per.items(), key=lambda kv: -kv[1])[: args.top]:
        function = key.rsplit(" [", 1)[0].split(":", 1)[-1]
        print(f"  {value / 1e6:7.3f} M  {value / total * 100:5.1f}%  {function}  "
              f"({_object(key)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
