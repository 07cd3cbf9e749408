"""Virtual hosting in the engine: the certificate follows the client's server name,
and a session made under one name is never resumed under another (RFC 6066 §3)."""

from __future__ import annotations

import pytest
from cryptography import x509

from glasstls import AlertDescription, CertifiedKey, ClientConfig, ClientConnection, ServerConfig
from glasstls.constants import TLS12, TLS13
from glasstls.crypto.devpki import make_leaf
from glasstls.errors import TLSError
from helpers.pump import Pair
from helpers.sessions import connect_pair, latest_session
from pki import pki

VERSIONS = [pytest.param(TLS13, id="TLS1.3"), pytest.param(TLS12, id="TLS1.2")]


def certified(*names: str) -> CertifiedKey:
    leaf = make_leaf(pki().ca, names)
    return CertifiedKey((leaf.certificate,), leaf.key)


ALPHA, BETA, WILD, DEFAULT = (certified("alpha.test"), certified("beta.test"),
                              certified("*.gamma.test"), certified("default.test"))


def server(version: int, **overrides: object) -> ServerConfig:
    return ServerConfig(**{"versions": (version,), "certificates": (DEFAULT,),
                           "server_names": {"alpha.test": (ALPHA,), "beta.test": (BETA,),
                                            "*.gamma.test": (WILD,)}, **overrides})


def client(version: int) -> ClientConfig:
    return ClientConfig(trust=pki().trust, versions=(version,), session_cache=None)


def served_name(pair: Pair) -> str:
    leaf = x509.load_der_x509_certificate(pair.client.negotiated.peer_certificates[0])
    return str(leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("asked", "served"), [
    ("alpha.test", "alpha.test"), ("BETA.Test", "beta.test"), ("x.gamma.test", "*.gamma.test"),
])
def test_the_certificate_follows_the_server_name(version: int, asked: str, served: str) -> None:
    pair = connect_pair(client(version), server(version), server_name=asked)
    assert pair.complete, (pair.client.error, pair.server.error)
    assert served_name(pair) == served
    assert pair.server.negotiated.server_name == asked


@pytest.mark.parametrize("version", VERSIONS)
def test_unknown_names_get_the_default_or_unrecognized_name(version: int) -> None:
    config = ClientConfig(trust=pki().trust, versions=(version,), check_hostname=False)
    pair = connect_pair(config, server(version), server_name="nobody.test")
    assert served_name(pair) == "default.test"
    strict = server(version, certificates=())
    refused = connect_pair(config, strict, server_name="nobody.test")
    assert refused.server.alert_sent == AlertDescription.unrecognized_name
    assert refused.client.alerts_received == [AlertDescription.unrecognized_name]


@pytest.mark.parametrize("version", VERSIONS)
def test_select_certificate_sees_the_name_and_the_client_hello(version: int) -> None:
    seen: list[tuple[str | None, object]] = []

    def select(name: str | None, hello: object) -> CertifiedKey | None:
        seen.append((name, hello))
        return BETA if name == "pick-beta.test" else None

    config = ClientConfig(trust=pki().trust, versions=(version,), check_hostname=False)
    pair = connect_pair(config, server(version, select_certificate=select),
                        server_name="pick-beta.test")
    assert served_name(pair) == "beta.test"
    assert seen[0][0] == "pick-beta.test"
    assert type(seen[0][1]).__name__ == "ClientHello"

    def refuse(name: str | None, hello: object) -> None:
        raise TLSError("not today", AlertDescription.access_denied)

    refused = connect_pair(config, server(version, select_certificate=refuse),
                           server_name="alpha.test")
    assert refused.server.alert_sent == AlertDescription.access_denied


@pytest.mark.parametrize(("version", "by"), [
    pytest.param(TLS13, "ticket", id="TLS1.3-ticket"),
    pytest.param(TLS12, "ticket", id="TLS1.2-ticket"),
    pytest.param(TLS12, "session id", id="TLS1.2-session-id"),
])
def test_a_session_is_never_resumed_under_another_name(version: int, by: str) -> None:
    config = server(version, ticket_keys=None) if by == "session id" else server(version)
    first = connect_pair(client(version), config, server_name="alpha.test")
    session = latest_session(first)
    again = connect_pair(ClientConnection(client(version), server_name="alpha.test",
                                          session=session), config)
    assert again.server.negotiated.resumed, "the same name must resume"
    other = connect_pair(ClientConnection(client(version), server_name="beta.test",
                                          session=session), config)
    assert other.complete, (other.client.error, other.server.error)
    assert not other.server.negotiated.resumed
    assert not other.client.negotiated.resumed
    assert served_name(other) == "beta.test"
