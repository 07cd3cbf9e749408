"""docs/ssl-compat.md is true to the code: every member of ssl's classes has a
row, and each row's status is what the code does.

- **supported**: glasstls's class defines it, or the test shows that a value set in
  the inherited ``ssl`` storage changes glasstls's configuration;
- **raises**: setting or calling it raises;
- **informational**: it can be read without error.
"""

from __future__ import annotations

import re
import socket
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import glasstls
from glasstls.constants import TLS12, TLS13
from glasstls.io import TLSObject, TLSSocket
from glasstls.io.options import ALREADY, HONOURED, OP_ALLOW_NO_DHE_KEX, check_options

DOC = Path(__file__).resolve().parents[2] / "docs" / "ssl-compat.md"
STATUSES = {"supported", "raises", "informational"}
# Rows for what only glasstls.SSLContext has.
GLASSTLS_ONLY = {"SSLContext", "trace", "strict_web_pki"}
OPTION_STATUSES = {"honoured", "already so", "raises"}


def table(heading: str) -> dict[str, tuple[str, str]]:
    """The table under ``## heading``: each name in a row's first cell -> (status,
    details)."""
    lines = DOC.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("## ")
                 and heading in line)
    rows: dict[str, tuple[str, str]] = {}
    in_table = False
    for line in lines[start + 1:]:
        if line.startswith("## "):
            break
        if not line.startswith("|"):
            if in_table:
                break
            continue
        in_table = True
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if set(cells[0]) <= set("-: ") or cells[1] == "status":
            continue
        for name in re.findall(r"`([A-Za-z_]\w*)", cells[0]):
            assert name not in rows, f"{name} has two rows"
            rows[name] = (cells[1], cells[2])
    assert rows, f"no table under {heading!r}"
    return rows


def public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def newer_python(details: str) -> bool:
    """Whether the row says the member comes with a later Python ("Python 3.13+")."""
    match = re.search(r"Python (3)\.(\d+)\+", details)
    return match is not None and sys.version_info < (int(match[1]), int(match[2]))


# -- SSLContext -------------------------------------------------------------------


def client() -> glasstls.SSLContext:
    return glasstls.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def server() -> glasstls.SSLContext:
    context = glasstls.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    from pki import pki

    context._glass_certificates = [pki().certified]
    return context


def _set(name: str, value: Any) -> Callable[[glasstls.SSLContext], Any]:
    return lambda context: setattr(context, name, value)


# How to use each member that should raise.
RAISES: dict[str, Callable[[glasstls.SSLContext], Any]] = {
    "sni_callback": _set("sni_callback", lambda *args: None),
    "set_servername_callback": lambda c: c.set_servername_callback(lambda *args: None),
    "set_npn_protocols": lambda c: c.set_npn_protocols(["h2"]),
    "load_dh_params": lambda c: c.load_dh_params("dhparams.pem"),
    "set_psk_client_callback": lambda c: c.set_psk_client_callback(lambda hint: None),
    "set_psk_server_callback": lambda c: c.set_psk_server_callback(lambda identity: None),
}


def _reads(make: Callable[[], glasstls.SSLContext], change: Callable[[Any], None],
           check: Callable[[Any], bool]) -> Callable[[], bool]:
    def probe() -> bool:
        context = make()
        change(context)
        return check(context)
    return probe


# Supported members kept in ssl's own storage: proof that glasstls reads them.
READS: dict[str, Callable[[], bool]] = {
    "check_hostname": _reads(client, _set("check_hostname", False),
                             lambda c: c.client_config().check_hostname is False),
    "verify_mode": _reads(client, lambda c: (setattr(c, "check_hostname", False),
                                             setattr(c, "verify_mode", ssl.CERT_NONE)),
                          lambda c: c.client_config().verify_certificates is False),
    "minimum_version": _reads(client, _set("minimum_version", ssl.TLSVersion.TLSv1_3),
                              lambda c: c.client_config().versions == (TLS13,)),
    "maximum_version": _reads(client, _set("maximum_version", ssl.TLSVersion.TLSv1_2),
                              lambda c: c.client_config().versions == (TLS12,)),
    "post_handshake_auth": _reads(client, _set("post_handshake_auth", True),
                                  lambda c: c.client_config().post_handshake_auth),
    "num_tickets": _reads(server, _set("num_tickets", 5),
                          lambda c: c.server_config().tickets == 5),
    "protocol": _reads(server, lambda c: None,
                       lambda c: c.protocol == ssl.PROTOCOL_TLS_SERVER),
    "strict_web_pki": _reads(client, _set("strict_web_pki", True),
                             lambda c: c.client_config().strict_web_pki),
}


def test_every_sslcontext_member_has_a_row() -> None:
    rows = table("`SSLContext` members")
    missing = public(ssl.SSLContext) - set(rows)
    assert not missing, f"docs/ssl-compat.md has no row for {sorted(missing)}"
    for name, (status, details) in rows.items():
        assert status in STATUSES, f"{name}: unknown status {status!r}"
        if name not in public(ssl.SSLContext) and name not in GLASSTLS_ONLY:
            assert newer_python(details) or name in vars(glasstls.SSLContext), name


@pytest.mark.parametrize("name", sorted(table("`SSLContext` members")))
def test_sslcontext_row_is_true(name: str) -> None:
    status, _ = table("`SSLContext` members")[name]
    if name == "SSLContext":
        assert isinstance(glasstls.SSLContext(), ssl.SSLContext)
        return
    if status == "raises":
        assert name in RAISES, f"add a way to use {name} to RAISES"
        with pytest.raises((NotImplementedError, ValueError, TypeError)):
            RAISES[name](server())
    elif status == "supported":
        if name in READS:
            assert READS[name](), f"{name}: glasstls does not read what was set"
        else:
            assert name in vars(glasstls.SSLContext), (
                f"{name} is said to be supported but is ssl's own code; define it or "
                "add a probe to READS")
    else:
        assert name not in vars(glasstls.SSLContext)
        value = getattr(server(), name)
        if callable(value):
            value()


# -- options ------------------------------------------------------------------------


OPTION_EFFECTS: dict[str, Callable[[], bool]] = {
    "OP_NO_TICKET": lambda: _with_option(ssl.OP_NO_TICKET, lambda c, s: (
        not c.enable_session_tickets and s.ticket_keys is None)),
    "OP_ENABLE_MIDDLEBOX_COMPAT": lambda: _with_option(0, lambda c, s: (
        not c.middlebox_compatibility), clear=ssl.OP_ENABLE_MIDDLEBOX_COMPAT),
    "OP_CIPHER_SERVER_PREFERENCE": lambda: _with_option(0, lambda c, s: (
        not s.server_preference), clear=ssl.OP_CIPHER_SERVER_PREFERENCE),
    "OP_NO_TLSv1_3": lambda: _with_option(ssl.OP_NO_TLSv1_3, lambda c, s: (
        c.versions == s.versions == (TLS12,))),
    "OP_NO_TLSv1_2": lambda: _with_option(ssl.OP_NO_TLSv1_2, lambda c, s: (
        c.versions == s.versions == (TLS13,))),
    # Its effect on connections is tested in test_truncation.py.
    "OP_IGNORE_UNEXPECTED_EOF": lambda: True,
}


def _with_option(bit: int, check: Callable[[Any, Any], bool], clear: int = 0) -> bool:
    contexts = client(), server()
    for context in contexts:
        context.options = (context.options | bit) & ~clear
    return check(contexts[0].client_config(), contexts[1].server_config())


def test_every_ssl_option_has_a_row() -> None:
    rows = table("`SSLContext.options` bits")
    names = {name for name in dir(ssl) if name.startswith("OP_")}
    assert not names - set(rows), f"no row for {sorted(names - set(rows))}"


@pytest.mark.filterwarnings("ignore:ssl.OP_NO_SSL:DeprecationWarning")
@pytest.mark.parametrize("name", sorted(table("`SSLContext.options` bits")))
def test_option_row_is_true(name: str) -> None:
    status, details = table("`SSLContext.options` bits")[name]
    assert status in OPTION_STATUSES
    if not hasattr(ssl, name):
        assert newer_python(details), f"{name} is not in this Python's ssl module"
        return
    bit = int(getattr(ssl, name))
    bits = [1 << i for i in range(64) if bit >> i & 1]
    if status == "honoured":
        assert bit in HONOURED
        assert OPTION_EFFECTS[name](), f"{name} has no effect on glasstls's config"
    elif status == "already so":
        assert all(b in ALREADY for b in bits)
        check_options(bit)
    else:
        with pytest.raises(ValueError, match="does not implement"):
            check_options(bit)
        with pytest.raises(ValueError):
            client().options |= bit


def test_options_without_a_name_in_ssl() -> None:
    context = client()
    context.options |= OP_ALLOW_NO_DHE_KEX
    assert context.client_config().allow_psk_ke
    context.options |= 0x4  # SSL_OP_LEGACY_SERVER_CONNECT: glasstls never renegotiates
    for bit in (0x1, 0x200000, 0x8, 1 << 50):  # no EMS, PRIORITIZE_CHACHA, KTLS, unknown
        with pytest.raises(ValueError, match="does not implement"):
            context.options |= bit
    assert context.options == client().options | OP_ALLOW_NO_DHE_KEX | 0x4


# -- sockets and objects --------------------------------------------------------------


def test_every_socket_and_object_member_has_a_row() -> None:
    rows = table("`TLSSocket` (`ssl.SSLSocket`) and `TLSObject`")
    wanted = (public(ssl.SSLObject) | {n for n in vars(ssl.SSLSocket) if not n.startswith("_")})
    missing = wanted - set(rows)
    assert not missing, f"no row for {sorted(missing)}"
    for name, (status, _) in rows.items():
        assert status in ("supported", "raises"), name
        assert hasattr(TLSSocket, name) or hasattr(TLSObject, name), name


def test_socket_rows_that_raise_do() -> None:
    rows = table("`TLSSocket` (`ssl.SSLSocket`) and `TLSObject`")
    context = glasstls.SSLContext()
    context.check_hostname = False
    with context.wrap_socket(socket.socket()) as sock:
        calls = {"recvfrom": lambda: sock.recvfrom(10),
                 "recvfrom_into": lambda: sock.recvfrom_into(bytearray(10)),
                 "sendto": lambda: sock.sendto(b"x", ("127.0.0.1", 9)),
                 "recvmsg": lambda: sock.recvmsg(10),
                 "recvmsg_into": lambda: sock.recvmsg_into([bytearray(10)]),
                 "sendmsg": lambda: sock.sendmsg([b"x"]),
                 "dup": sock.dup}
        raising = [name for name, (status, _) in rows.items() if status == "raises"]
        assert sorted(raising) == sorted(calls)
        for name in raising:
            with pytest.raises((ValueError, NotImplementedError)):
                calls[name]()
        for assign in (lambda: setattr(sock, "session", None),
                       lambda: setattr(sock, "context", glasstls.SSLContext())):
            with pytest.raises(ValueError):
                assign()
