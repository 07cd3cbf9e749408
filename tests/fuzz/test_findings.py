"""Every finding of the coverage-guided fuzzers, kept as a regression test: the input
that broke the promise (findings/<harness>--<alert>--<what>.hex), replayed through
its harness, now ends in the alert named."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from glasstls import certs
from glasstls.errors import AlertDescription, BadCertificate
from pki import pki

from . import harnesses

FINDINGS = sorted(Path(__file__).with_name("findings").glob("*.hex"))


@pytest.mark.parametrize("path", FINDINGS, ids=[p.stem for p in FINDINGS])
def test_finding_now_keeps_the_promise(path: Path) -> None:
    harness, alert, _ = path.stem.split("--")
    data = bytes.fromhex(path.read_text())
    harnesses.HARNESSES[harness].run(data)
    if harness in ("server", "client"):
        given = harnesses.EngineInput.parse(data, harnesses.transfers_to(harness == "server"))
        error = harnesses.feed(given)
        assert error is not None and error.alert == AlertDescription[alert]


def test_a_name_attribute_of_the_wrong_string_type_is_a_bad_certificate() -> None:
    # cryptography decodes names lazily and raises TypeError for a BIT STRING value
    # under any OID but x500UniqueIdentifier: the subject's commonName here.
    der = pki("ecdsa-p256").leaf.certificate.public_bytes(Encoding.DER)
    common_name = b"\x06\x03\x55\x04\x03\x0c\x09localhost"
    assert common_name in der
    damaged = der.replace(common_name, b"\x06\x03\x55\x04\x03\x03\x09\x00localhos", 1)
    with pytest.raises(BadCertificate, match="does not parse") as caught:
        certs.parse_chain([damaged])
    assert caught.value.alert == AlertDescription.bad_certificate
