"""RFC 8448's Simple 1-RTT handshake, written as a capture and explained with the
client's X25519 private key: every secret of the RFC comes out, computed step by
step (``glasstls explain --pcap ... --show-secrets --json``), the Finished values
verify and the application data decrypts to the RFC's bytes."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from glasstls.cli.main import main
from transcripts.rfc8448 import Section

from .pcaps import write_capture

# RFC 8448 §3, the values the RFC prints for each step of the simple handshake.
RFC8448_SECRETS = {
    "early_secret": "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a",
    "derived (early)": "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba",
    "shared_secret": "8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d",
    "handshake_secret": "1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac",
    "client_handshake_traffic_secret":
        "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21",
    "server_handshake_traffic_secret":
        "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38",
    "server_handshake_traffic_secret: key": "3fce516009c21727d0f2e4e86ee403bc",
    "server_handshake_traffic_secret: iv": "5d313eb2671276ee13000b30",
    "client_handshake_traffic_secret: key": "dbfaa693d1762c5b666af5d950258d01",
    "client_handshake_traffic_secret: iv": "5bd3c71b836e0b76bb73265f",
    "server finished_key": "008d3b66f816ea559f96b537e885c31fc068bf492c652f01f288a1d8cdc19fc8",
    "server Finished verify_data":
        "9b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718",
    "derived (handshake)": "43de77e0c77713859a944db9db2590b53190a65b3ee2e4f12dd7a0bb7ce254b4",
    "master_secret": "18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919",
    "client_application_traffic_secret_0":
        "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5",
    "server_application_traffic_secret_0":
        "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643",
    "exporter_master_secret": "fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50",
    "server_application_traffic_secret_0: key": "9f02283b6c9c07efc26bb9f2ac92e356",
    "server_application_traffic_secret_0: iv": "cf782b88dd83549aadf1e984",
    "client finished_key": "b80ad01015fb2f0bd65ff7d4da5d6bf83f84821d1f87fdc7d3c75b5a7b42d9c4",
    "client Finished verify_data":
        "a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61",
    "client_application_traffic_secret_0: key": "17422dda596ed5d9acd890e3c63f5051",
    "client_application_traffic_secret_0: iv": "5b78923dee08579033e523d9",
    "resumption_master_secret":
        "7df235f2031d2a051287d02b0241b0bfdaf86cc856231f2d5aba46c434ec196c",
}
# RFC 8448 §3 "generate resumption secret": the PSK of the ticket it issues (nonce 00 00).
RFC8448_TICKET_PSK = "4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3"

FLIGHTS = [("client", "Record_ClientHello_1"), ("server", "Record_ServerHello"),
           ("server", "Record_ServerHandshakeMessages"), ("client", "Record_ClientFinished"),
           ("server", "Record_NewSessionTicket"), ("client", "Record_Client_AppData"),
           ("server", "Record_Server_AppData"), ("client", "Record_Client_CloseNotify"),
           ("server", "Record_Server_CloseNotify")]


@pytest.fixture(scope="module")
def explained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    section = Section("Simple_1RTT_Handshake")
    capture = write_capture(tmp_path_factory.mktemp("rfc8448") / "rfc8448.pcap",
                            [(sender, section.hex(name)) for sender, name in FLIGHTS])
    client_private_key = section.hex("Client_RNG_Pool")[32:64]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = main(["explain", "--pcap", str(capture), "--x25519-key",
                       client_private_key.hex(), "--show-secrets", "--json"])
    assert status == 0
    document = json.loads(stdout.getvalue())
    assert len(document["connections"]) == 1
    return dict(document["connections"][0])


def test_every_secret_of_rfc8448_simple_1rtt_is_computed(explained: dict[str, Any]) -> None:
    steps = {step["name"]: step for step in explained["key_schedule"]}
    for name, value in RFC8448_SECRETS.items():
        assert steps[name]["output"] == value, name
        assert steps[name]["source"] == "computed", name
    assert steps["shared_secret"]["operation"] == "X25519"


def test_the_psk_of_the_rfc8448_ticket_is_derived(explained: dict[str, Any]) -> None:
    psks = [s for s in explained["key_schedule"] if s["name"].startswith("psk for ticket")]
    assert [s["output"] for s in psks] == [RFC8448_TICKET_PSK]


def test_without_show_secrets_only_fingerprints_appear(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    section = Section("Simple_1RTT_Handshake")
    capture = write_capture(tmp_path / "rfc8448.pcap",
                            [(sender, section.hex(name)) for sender, name in FLIGHTS])
    key = section.hex("Client_RNG_Pool")[32:64].hex()
    assert main(["explain", "--pcap", str(capture), "--x25519-key", key]) == 0
    text = capsys.readouterr().out
    assert "sha256:" in text
    for name, value in RFC8448_SECRETS.items():
        if "verify_data" not in name:  # a Finished is on the wire: not a secret
            assert value not in text, name
    assert key not in text


def test_rfc8448_records_decrypt_to_the_rfc_application_data(explained: dict[str, Any]) -> None:
    section = Section("Simple_1RTT_Handshake")
    data = [m for m in explained["messages"] if m["kind"] == "application_data"]
    records = {r["index"]: r for r in explained["records"]}
    plaintexts = [records[m["records"][0]]["plaintext"] for m in data]
    assert [p[:-2] for p in plaintexts] == [section.hex("Client_AppData").hex(),
                                           section.hex("Server_AppData").hex()]
    checks = [f for m in explained["messages"] for f in _walk(m["fields"]) if "check" in f]
    assert {f["name"] for f in checks} >= {"verify_data", "signature value"}
    assert all(f["check"].startswith("verified") for f in checks)


def _walk(field: dict[str, Any]) -> list[dict[str, Any]]:
    out = [field]
    for child in field.get("children", []):
        out += _walk(child)
    return out
