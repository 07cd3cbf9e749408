"""The one table of IANA names: generated from the committed registry CSVs, and
used wherever a code point is shown (trace, browser page, errors)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from glasstls import iana
from glasstls.constants import CipherSuite, ExtensionType, NamedGroup, SignatureScheme, describe
from glasstls.web.names import extension_name, group_name, suite_name

ROOT = Path(__file__).resolve().parents[2]


def test_the_module_is_what_the_generator_makes_from_the_csv_files() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "generate_iana.py"),
                             "--check"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_registry_values_glasstls_does_not_speak_have_their_iana_names() -> None:
    assert describe(CipherSuite, 0xC013) == "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
    assert describe(NamedGroup, 0x0102) == "ffdhe4096"
    assert describe(SignatureScheme, 0x0905) == "mldsa65"
    assert describe(ExtensionType, 0x0023) == "session_ticket"  # the registry's aside dropped
    assert describe(ExtensionType, 0x0A0A) == "GREASE(0x0a0a)"
    assert describe(CipherSuite, 0xFEFE) == "unknown(0xfefe)"


def test_the_engine_names_come_first_and_agree_with_the_registry() -> None:
    for enum_type, table in ((CipherSuite, iana.CIPHER_SUITES),
                             (NamedGroup, iana.SUPPORTED_GROUPS),
                             (SignatureScheme, iana.SIGNATURE_SCHEMES)):
        for member in enum_type:
            if member.value in table:
                assert table[member.value] == member.name, (enum_type, member)


def test_ranges_unassigned_and_reserved_rows_are_left_out() -> None:
    assert 0x0A0A not in iana.SUPPORTED_GROUPS  # "Reserved" (GREASE)
    assert all(name.isidentifier() for table in (iana.CIPHER_SUITES, iana.ALERTS)
               for name in table.values())
    assert iana.ALERTS[116] == "certificate_required"
    assert iana.ALERTS[121] == "ech_required"


def test_the_browser_page_uses_the_same_table() -> None:
    assert suite_name(0xC013) == "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
    assert group_name(0x11EC) == "X25519MLKEM768"
    assert extension_name(17613) == "application_settings"  # not registered: listed there
    assert extension_name(0x0039) == "quic_transport_parameters"
