"""JA4 fingerprints (FoxIO's specification, technical_details/JA4.md) of recorded
and constructed ClientHellos.

The recorded hellos and how each expected value was obtained are described in
data/README.md: Chromium, curl and openssl hellos checked against FoxIO's own
implementation, and FoxIO's published test captures with their published values.
The constructed hellos reproduce the specification's worked example, whose
intermediate strings and hashes the specification prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glasstls.constants import ExtensionType as X
from glasstls.messages.extensions import (
    ALPN,
    CompressCertificate,
    Empty,
    Extension,
    KeyShare,
    KeyShareEntry,
    RenegotiationInfo,
    ServerNameList,
    StatusRequest,
    SupportedVersions,
    U8List,
    U16List,
    UnknownExtension,
)
from glasstls.messages.handshake import ClientHello, serialize
from glasstls.web.ja4 import ja4

FIXTURES = json.loads((Path(__file__).parent / "data" / "client_hellos.json").read_text())
HELLOS = {entry["name"]: entry for entry in FIXTURES["hellos"]}


@pytest.mark.parametrize("name", sorted(HELLOS))
def test_recorded_hello_gives_the_published_fingerprint(name: str) -> None:
    entry = HELLOS[name]
    fingerprint = ja4(ClientHello.parse(bytes.fromhex(entry["hex"])))
    assert fingerprint.fingerprint == entry["ja4"], entry["expected_from"]
    if "ja4_o" in entry:
        assert fingerprint.original == entry["ja4_o"]
    if "ja4_r" in entry:
        assert fingerprint.raw == entry["ja4_r"]


def test_chromium_150_fingerprint_and_its_parts() -> None:
    fingerprint = ja4(ClientHello.parse(bytes.fromhex(HELLOS["chromium-150"]["hex"])))
    # 15 suites and 16 extensions once GREASE is left out; h2 is its first ALPN value.
    assert fingerprint.fingerprint == "t13d1516h2_8daaf6152771_806a8c22fdea"
    # Chrome's suite list, unchanged for years: its b part is the well-known 8daaf6152771.
    assert fingerprint.raw.split("_")[1] == (
        "002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9")


# -- the specification's worked example -----------------------------------------

GREASE = 0x0A0A
SPEC_SUITES = (0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8,
               0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035)
SPEC_SCHEMES = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)
# JA4.md's example extensions, in its order: 001b,0000,0033,0010,4469,0017,002d,000d,
# 0005,0023,0012,002b,ff01,000b,000a,0015.
SPEC_EXTENSION_ORDER = (0x001B, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002D, 0x000D,
                        0x0005, 0x0023, 0x0012, 0x002B, 0xFF01, 0x000B, 0x000A, 0x0015)


def _extension(ext_type: int) -> Extension:
    typed: dict[int, Extension] = {
        0x0000: ServerNameList(b"example.com"),
        0x0010: ALPN((b"h2", b"http/1.1")),
        0x000D: U16List(X.signature_algorithms, SPEC_SCHEMES),
        0x000A: U16List(X.supported_groups, (GREASE, 0x001D, 0x0017, 0x0018)),
        0x002B: SupportedVersions((GREASE, 0x0304, 0x0303)),
        0x0033: KeyShare((KeyShareEntry(GREASE, b"\x00"), KeyShareEntry(0x001D, bytes(32)))),
        0x000B: U8List(X.ec_point_formats, b"\x00"),
        0x002D: U8List(X.psk_key_exchange_modes, b"\x01"),
        0x0017: Empty(X.extended_master_secret),
        0xFF01: RenegotiationInfo(b""),
        0x0005: StatusRequest(),
        0x001B: CompressCertificate((2,)),  # brotli
    }
    return typed.get(ext_type) or UnknownExtension(ext_type, b"\x00" if ext_type == 0x15 else b"")


def spec_hello(*, suites: tuple[int, ...] = (GREASE, *SPEC_SUITES),
               order: tuple[int, ...] = SPEC_EXTENSION_ORDER, legacy_version: int = 0x0303,
               replace: dict[int, Extension | None] | None = None) -> ClientHello:
    """A ClientHello with the example's suites, extensions and signature algorithms
    (plus GREASE, which must not count), serialized and parsed back. ``replace``
    swaps an extension for another, or leaves it out (None)."""
    replace = replace or {}
    chosen = [replace[t] if t in replace else _extension(t) for t in order]
    extensions = (UnknownExtension(0x1A1A, b""), *(e for e in chosen if e is not None),
                  UnknownExtension(0x2A2A, b"\x00"))
    hello = ClientHello(legacy_version, bytes(32), bytes(32), suites, b"\x00", extensions)
    return ClientHello.parse(serialize(hello))


def test_specification_worked_example() -> None:
    fingerprint = ja4(spec_hello())
    # JA4.md, "Example", "Raw Output".
    assert fingerprint.fingerprint == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    assert fingerprint.raw == (
        "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,"
        "cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,"
        "0804,0401,0503,0805,0501,0806,0601")
    assert fingerprint.raw_original == (
        "t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,"
        "0035_001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,"
        "0015_0403,0804,0401,0503,0805,0501,0806,0601")
    assert fingerprint.original == "t13d1516h2_acb858a92679_18f69afefd3d"


def test_without_signature_algorithms_the_string_has_no_underscore() -> None:
    # JA4.md: "0005,000a,...,4469,ff01 = 6d807ffa2a79". Here the extension is there
    # (000d stays in the list) but holds only a GREASE value, which is ignored.
    only_grease = U16List(X.signature_algorithms, (GREASE,))
    fingerprint = ja4(spec_hello(replace={0x000D: only_grease}))
    assert fingerprint.fingerprint.endswith("_6d807ffa2a79")
    assert fingerprint.raw.endswith("_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,"
                                    "0033,4469,ff01")


@pytest.mark.parametrize(("first", "expected"), [
    (b"h2", "h2"),
    (b"http/1.1", "h1"),
    (b"h", "hh"),  # one character is both first and last
    # JA4.md's examples for non-alphanumeric first or last bytes: hex digits instead.
    (b"\xab", "ab"),
    (b"\xab\xcd", "ad"),
    (b"\x30\xab", "3b"),
    (b"\x30\x31\xab\xcd", "3d"),
    (b"\x30\xab\xcd\x31", "01"),
])
def test_alpn_characters(first: bytes, expected: str) -> None:
    fingerprint = ja4(spec_hello(replace={0x0010: ALPN((first, b"http/1.1"))}))
    assert fingerprint.alpn == expected
    assert fingerprint.fingerprint.startswith(f"t13d1516{expected}_")


def test_no_alpn_is_00_and_no_sni_is_i() -> None:
    fingerprint = ja4(spec_hello(replace={0x0010: None}))
    assert fingerprint.fingerprint.startswith("t13d151500_")
    without_sni = ja4(spec_hello(replace={0x0000: None}))
    assert without_sni.fingerprint.startswith("t13i1515h2_")
    # SNI and ALPN are not part of c, so it does not change.
    assert without_sni.fingerprint.endswith("_e5627efa2ab1")


@pytest.mark.parametrize(("versions", "legacy", "expected"), [
    ((GREASE, 0x0304, 0x0303), 0x0303, "13"),  # the highest non-GREASE value
    ((0x0303, 0x0302), 0x0303, "12"),
    ((0x7F1C,), 0x0303, "00"),  # a draft version: unknown
    (None, 0x0303, "12"),  # no supported_versions: the legacy version
    (None, 0x0301, "10"),
])
def test_version(versions: tuple[int, ...] | None, legacy: int, expected: str) -> None:
    replace: dict[int, Extension | None] = {
        0x002B: SupportedVersions(versions) if versions is not None else None}
    assert ja4(spec_hello(legacy_version=legacy, replace=replace)).version == expected


def test_counts_stop_at_99_and_grease_does_not_count() -> None:
    suites = (GREASE, *range(0x0100, 0x0100 + 120))
    fingerprint = ja4(spec_hello(suites=suites))
    assert fingerprint.cipher_count == 120
    assert fingerprint.fingerprint.startswith("t13d9916h2_")


def test_empty_lists_hash_to_zeros() -> None:
    # Only a GREASE suite; only SNI and ALPN as extensions (GREASE ones aside).
    hello = spec_hello(suites=(GREASE,), order=(0x0000, 0x0010))
    # Without supported_versions the version is the legacy one: TLS 1.2.
    assert ja4(hello).fingerprint == "t12d0002h2_000000000000_000000000000"
