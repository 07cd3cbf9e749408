"""Virtual hosting's table: certificate chains by server name (RFC 6066 §3)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, strategies as st

from glasstls import CertifiedKey, ServerConfig
from glasstls.crypto.devpki import make_leaf
from glasstls.errors import AlertDescription, ConfigError, TLSError, UnrecognizedName
from glasstls.servernames import ServerNames, normalize_name
from pki import pki


def chain(*names: str) -> CertifiedKey:
    leaf = make_leaf(pki().ca, names)
    return CertifiedKey((leaf.certificate,), leaf.key)


A, B, WILD, DEFAULT = (chain("a.example"), chain("b.example"), chain("*.c.example"),
                       chain("default.example"))
HELLO: Any = object()  # passed through to select_certificate only


def test_exact_names_wildcards_and_no_match() -> None:
    names = ServerNames({"a.example": (A,), "B.Example.": [B], "*.c.example": (WILD,)})
    assert names.lookup("a.example") == (A,)
    assert names.lookup("A.EXAMPLE.") == (A,)
    assert names.lookup("b.example") == (B,)
    assert names.lookup("x.c.example") == (WILD,)
    for other in ("c.example", "x.y.c.example", "a.example.org", "example", "", None):
        assert names.lookup(other) is None, other
    assert sorted(names.names()) == ["*.c.example", "a.example", "b.example"]


def test_an_exact_name_wins_over_a_wildcard() -> None:
    names = ServerNames({"*.c.example": (WILD,), "www.c.example": (A,)})
    assert names.lookup("www.c.example") == (A,)
    assert names.lookup("mail.c.example") == (WILD,)


@pytest.mark.parametrize("bad", ["", ".", "*", "*.com", "a.*.example", "-a.example",
                                 "a_b.example", "é.example", "a" * 64 + ".example",
                                 "w*.example"])
def test_names_that_are_not_host_names_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError):
        ServerNames({bad: (A,)})


def test_chains_must_be_certified_keys_and_names_unique() -> None:
    with pytest.raises(ConfigError, match="CertifiedKey"):
        ServerNames({"a.example": ()})
    with pytest.raises(ConfigError, match="CertifiedKey"):
        ServerNames({"a.example": ("cert.pem",)})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="twice"):
        ServerNames({"a.example": (A,), "A.example.": (B,)})


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.*_É", max_size=70))
def test_lookup_of_any_text_is_none_or_a_configured_chain(name: str) -> None:
    names = ServerNames({"a.example": (A,), "*.c.example": (WILD,)})
    assert names.lookup(name) in (None, (A,), (WILD,))
    try:
        normal = normalize_name(name)
    except ConfigError:
        return
    assert normalize_name(normal) == normal == normal.lower()
    assert not normal.endswith(".") and "*" not in normal[1:]


def test_config_falls_back_to_the_default_certificates() -> None:
    config = ServerConfig(certificates=(DEFAULT,),
                          server_names={"a.example": (A,), "*.c.example": (WILD,)})
    assert config.certificates_for("a.example", HELLO) == (A,)
    assert config.certificates_for("z.c.example", HELLO) == (WILD,)
    assert config.certificates_for("unknown.example", HELLO) == (DEFAULT,)
    assert config.certificates_for(None, HELLO) == (DEFAULT,)


def test_without_a_default_an_unknown_name_is_unrecognized_name() -> None:
    config = ServerConfig(server_names={"a.example": (A,)})
    with pytest.raises(UnrecognizedName) as caught:
        config.certificates_for("b.example", HELLO)
    assert caught.value.alert == AlertDescription.unrecognized_name
    with pytest.raises(UnrecognizedName):
        config.certificates_for(None, HELLO)


def test_select_certificate_comes_first_and_none_defers() -> None:
    seen: list[tuple[str | None, Any]] = []

    def select(name: str | None, hello: Any) -> Any:
        seen.append((name, hello))
        return {"pick.example": B, "list.example": [A, B]}.get(name or "")

    config = ServerConfig(certificates=(DEFAULT,), server_names={"a.example": (A,)},
                          select_certificate=select)
    assert config.certificates_for("pick.example", HELLO) == (B,)
    assert config.certificates_for("list.example", HELLO) == (A, B)
    assert config.certificates_for("a.example", HELLO) == (A,)
    assert config.certificates_for("other.example", HELLO) == (DEFAULT,)
    assert seen[0] == ("pick.example", HELLO)
    bad = ServerConfig(certificates=(DEFAULT,), select_certificate=lambda n, h: [])
    with pytest.raises(TLSError) as caught:
        bad.certificates_for("x.example", HELLO)
    assert caught.value.alert == AlertDescription.internal_error


def test_a_server_needs_some_certificate_source() -> None:
    with pytest.raises(ConfigError, match="at least one certificate"):
        ServerConfig()
    ServerConfig(server_names={"a.example": (A,)})
    ServerConfig(select_certificate=lambda name, hello: None)
