"""Chromium accepts an ML-DSA-65 server certificate from a CA it trusts.

Chromium on Linux takes its trust anchors from the NSS database in
``$HOME/.pki/nssdb``; the test makes one in a temporary HOME with ``certutil``
(Debian's libnss3-tools) holding only the test CA, and passes no flag that ignores
certificate errors. The leaf is ML-DSA-65 and signs the handshake (draft-ietf-tls-
mldsa); the CA is ECDSA P-256 because Debian 12's NSS 3.87 cannot import an
ML-DSA certificate (certutil: SEC_ERROR_ADDING_CERT), so an all-ML-DSA chain cannot
be made a trust anchor there. Without the CA in the database the same visit fails
with ERR_CERT_AUTHORITY_INVALID, which the test checks too, so that the success
cannot come from verification being off.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glasstls.crypto.devpki import make_ca, make_leaf
from peers import require_binary, require_module

from .test_chromium import CHROMIUM_FLAGS
from .webclient import serve_command

pytestmark = pytest.mark.interop


def nss_home(home: Path, ca_pem: Path | None) -> Path:
    """A HOME whose NSS database trusts ``ca_pem`` (or nothing) for TLS servers."""
    certutil = require_binary("certutil")
    database = home / ".pki" / "nssdb"
    database.mkdir(parents=True)
    subprocess.run([certutil, "-d", f"sql:{database}", "-N", "--empty-password"], check=True)
    if ca_pem is not None:
        subprocess.run([certutil, "-d", f"sql:{database}", "-A", "-n", "glasstls test CA",
                        "-t", "C,,", "-i", str(ca_pem)], check=True)
    return home


@contextlib.contextmanager
def chromium_with_home(home: Path, profile: Path) -> Iterator[tuple[Any, Any]]:
    """Headless Chromium trusting what the NSS database under ``home`` trusts:
    (Playwright's sync_api module, the browser context)."""
    chromium = require_binary("chromium")
    sync_api = require_module("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=chromium, headless=True, args=list(CHROMIUM_FLAGS),
            env={**os.environ, "HOME": str(home)})
        try:
            yield sync_api, context
        finally:
            context.close()


def visit(url: str, home: Path, profile: Path) -> dict[str, Any]:
    """Chromium (with ``HOME=home``) fetches /api/handshake; its JSON, or the error."""
    with chromium_with_home(home, profile) as (sync_api, context):
        try:
            response = context.new_page().goto(f"{url}api/handshake")
        except sync_api.Error as error:
            return {"error": str(error)}
        assert response is not None and response.status == 200
        report: dict[str, Any] = json.loads(response.text())
        report["security"] = response.security_details()
        return report


def test_chromium_trusts_an_mldsa65_leaf_under_a_trusted_ca(tmp_path: Path) -> None:
    ca = make_ca("glasstls ML-DSA test CA")
    leaf = make_leaf(ca, ("localhost", "127.0.0.1"), key_type="mldsa65")
    files = {"ca": tmp_path / "ca.pem", "cert": tmp_path / "cert.pem", "key": tmp_path / "key.pem"}
    files["ca"].write_bytes(ca.certificate_pem())
    files["cert"].write_bytes(leaf.certificate_pem())
    files["key"].write_bytes(leaf.key_pem())
    trusting = nss_home(tmp_path / "home-trusting", files["ca"])
    empty = nss_home(tmp_path / "home-empty", None)

    with serve_command(tmp_path / "state", "--quiet", "--cert", str(files["cert"]),
                       "--key", str(files["key"])) as served:
        refused = visit(served.url, empty, tmp_path / "profile-empty")
        report = visit(served.url, trusting, tmp_path / "profile-trusting")

    assert "ERR_CERT_AUTHORITY_INVALID" in refused["error"]
    assert "error" not in report, report.get("error")
    assert report["security"]["protocol"] == "TLS 1.3"
    assert report["security"]["issuer"] == "glasstls ML-DSA test CA"
    negotiated = report["negotiated"]
    assert (negotiated["version"], negotiated["signature_scheme"]) == ("TLSv1.3", "mldsa65")
    # Chromium offers the three ML-DSA schemes first, after GREASE.
    offered = [s["name"] for s in report["client_hello"]["signature_algorithms"]]
    assert offered[:4] == ["GREASE", "mldsa44", "mldsa65", "mldsa87"]
