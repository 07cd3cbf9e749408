"""The page names and explains what is post-quantum in a handshake: each hybrid
group with its own parts, and an ML-DSA server signature."""

from __future__ import annotations

import pytest

from glasstls.constants import NamedGroup
from glasstls.web.page import render_page
from glasstls.web.report import handshake_report
from pki import pki

from .test_report import handshake

PARTS = {"X25519MLKEM768": ("X25519", "ML-KEM-768"),
         "SecP256r1MLKEM768": ("P-256", "ML-KEM-768"),
         "SecP384r1MLKEM1024": ("P-384", "ML-KEM-1024")}


@pytest.mark.parametrize("group", sorted(PARTS))
def test_each_hybrid_is_explained_with_its_own_parts(group: str) -> None:
    server, recorder, _ = handshake(groups=(NamedGroup[group],),
                                    key_share_groups=(NamedGroup[group],))
    report = handshake_report(server, recorder)
    assert report["negotiated"]["group"] == group
    assert report["negotiated"]["post_quantum"] is True
    key_exchange = next(s for s in report["timeline"] if s["step"] == "KeyExchange")
    classical, kem = PARTS[group]
    assert f"combines {classical} with post-quantum {kem}" in key_exchange["explanation"]
    page = render_page(report)
    assert f"{group} is a hybrid key exchange: classical {classical} combined with {kem}" in page


def test_an_mldsa_server_signature_is_named_and_explained() -> None:
    server, recorder, _ = handshake(server_options={"certificates": (pki("mldsa65").certified,)},
                                    trust=pki("mldsa65").trust)
    report = handshake_report(server, recorder)
    assert report["negotiated"]["signature_scheme"] == "mldsa65"
    verify = next(s for s in report["timeline"] if s["step"] == "CertificateVerify")
    assert "ML-DSA (FIPS 204)" in verify["explanation"]
    assert report["certificate_chain"][0]["key"] == "ML-DSA-65"
    assert "mldsa65" in render_page(report)
