"""What one AEAD call costs: cryptography's ChaCha20Poly1305 against its AESGCM, by
public usage, and against the system libcrypto that Python's ssl uses.

    bench/.venv/bin/python bench/aead_calls.py [--icount] [--no-system]

Printed, for 1-byte and 16 KiB (one full TLS record) plaintexts:

* thread CPU time per call (best of 25 batches) of ``encrypt``/``decrypt`` and
  ``encrypt_into``, with the nonce and associated data as bytes, the data as bytes,
  memoryview or bytearray;
* the same seal done as libssl does it per record (nonce, associated data, data,
  final, tag on one EVP context) in the system ``libcrypto.so.3`` through ctypes,
  whose own overhead is the 1-byte AES-GCM figure's bulk;
* with ``--icount``, callgrind instructions per call of each usage (robust to load;
  valgrind runs the AVX2 code paths, not AVX-512).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

NONCE = bytes(range(12))
HEADER = b"\x17\x03\x03\x40\x11"  # a TLS 1.3 record header: the associated data


def usages(aead: AESGCM | ChaCha20Poly1305, size: int) -> dict[str, Callable[[], object]]:
    plaintext = os.urandom(size)
    ciphertext = aead.encrypt(NONCE, plaintext, HEADER)
    out = bytearray(size + 16)
    return {
        "encrypt(bytes)": lambda: aead.encrypt(NONCE, plaintext, HEADER),
        "encrypt(memoryview)": lambda: aead.encrypt(NONCE, memoryview(plaintext), HEADER),
        "encrypt(bytearray)": lambda: aead.encrypt(NONCE, bytearray(plaintext), HEADER),
        "encrypt(no associated data)": lambda: aead.encrypt(NONCE, plaintext, None),
        "encrypt_into(bytearray)": lambda: aead.encrypt_into(NONCE, plaintext, HEADER, out),
        "decrypt(bytes)": lambda: aead.decrypt(NONCE, ciphertext, HEADER),
        "decrypt(memoryview)": lambda: aead.decrypt(NONCE, memoryview(ciphertext), HEADER),
    }


def system_seal(cipher_name: str, key: bytes, size: int) -> Callable[[], object]:
    """One record sealed the way libssl seals it, in the system libcrypto."""
    lib = ctypes.CDLL("libcrypto.so.3")
    lib.EVP_CIPHER_CTX_new.restype = ctypes.c_void_p
    cipher_of = getattr(lib, cipher_name)
    cipher_of.restype = ctypes.c_void_p
    pointer, text, integer = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    lib.EVP_EncryptInit_ex.argtypes = [pointer, pointer, pointer, text, text]
    lib.EVP_EncryptUpdate.argtypes = [pointer, pointer, ctypes.POINTER(integer), text, integer]
    lib.EVP_EncryptFinal_ex.argtypes = [pointer, pointer, ctypes.POINTER(integer)]
    lib.EVP_CIPHER_CTX_ctrl.argtypes = [pointer, integer, integer, pointer]
    context = lib.EVP_CIPHER_CTX_new()
    if lib.EVP_EncryptInit_ex(context, cipher_of(), None, key, None) != 1:
        raise RuntimeError(f"{cipher_name}: EVP_EncryptInit_ex failed")
    plaintext = os.urandom(size)
    out = ctypes.create_string_buffer(size + 16)
    tag = ctypes.create_string_buffer(16)
    written = ctypes.c_int()
    get_tag = 0x10  # EVP_CTRL_AEAD_GET_TAG

    def seal() -> None:
        lib.EVP_EncryptInit_ex(context, None, None, None, NONCE)
        lib.EVP_EncryptUpdate(context, None, ctypes.byref(written), HEADER, len(HEADER))
        lib.EVP_EncryptUpdate(context, out, ctypes.byref(written), plaintext, size)
        lib.EVP_EncryptFinal_ex(context, out, ctypes.byref(written))
        lib.EVP_CIPHER_CTX_ctrl(context, get_tag, 16, tag)
    return seal


def cpu_per_call(call: Callable[[], object], calls: int = 200) -> float:
    best = float("inf")
    for _ in range(25):
        start = time.thread_time()
        for _ in range(calls):
            call()
        best = min(best, (time.thread_time() - start) / calls)
    return best * 1e6


def instructions(kind: str, usage: str, size: int, calls: int) -> int:
    output = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         __file__, "--child", kind, usage, str(size), str(calls)],
        capture_output=True, text=True, check=True).stderr
    return int(re.search(r"refs:\s*([\d,]+)", output).group(1).replace(",", ""))  # type: ignore[union-attr]


def aead_of(kind: str) -> AESGCM | ChaCha20Poly1305:
    return ChaCha20Poly1305(bytes(32)) if kind == "chacha20" else AESGCM(bytes(16))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--icount", action="store_true", help="callgrind instructions too")
    parser.add_argument("--no-system", action="store_true", help="skip the ctypes libcrypto")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, usage, size, calls = args.child
        call = usages(aead_of(kind), int(size))[usage]
        for _ in range(int(calls)):
            call()
        return
    for size in (1, 16385):
        for kind in ("chacha20", "aes128gcm"):
            aead = aead_of(kind)
            for usage, call in usages(aead, size).items():
                line = f"{kind:9s} {size:5d} B  {usage:28s} {cpu_per_call(call):7.2f} us"
                if args.icount:
                    per_call = (instructions(kind, usage, size, 2000)
                                - instructions(kind, usage, size, 0)) / 2000
                    line += f"  {per_call:9.0f} instructions"
                print(line, flush=True)
            if not args.no_system:
                name = "EVP_chacha20_poly1305" if kind == "chacha20" else "EVP_aes_128_gcm"
                seal = system_seal(name, bytes(32 if kind == "chacha20" else 16), size)
                print(f"{kind:9s} {size:5d} B  {'system libcrypto (ctypes)':28s} "
                      f"{cpu_per_call(seal):7.2f} us", flush=True)


if __name__ == "__main__":
    main()
