"""``glasstls.SSLContext``: a drop-in for ``ssl.SSLContext``.

It *is* an ``ssl.SSLContext`` (a subclass), so code that checks
``isinstance(context, ssl.SSLContext)`` — ``loop.start_tls``, httpx — accepts it,
but the connections it makes are glasstls's: ``wrap_socket`` returns a
``TLSSocket`` and ``wrap_bio`` a ``TLSObject``. The familiar setters
(``load_cert_chain``, ``load_verify_locations``, ``set_alpn_protocols``,
``check_hostname``, ``verify_mode``, ``minimum_version``, ``set_ciphers``,
``keylog_filename``...) become a ``ClientConfig`` or ``ServerConfig`` each time a
connection is wrapped. docs/ssl-compat.md lists what is and is not supported.

    context = glasstls.SSLContext()                      # a client, system trust
    urllib.request.urlopen("https://example.com/", context=context)

    server = glasstls.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain("cert.pem", "key.pem")
    await asyncio.start_server(handle, "0.0.0.0", 8443, ssl=server)
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from ..certs import CertifiedKey, TrustStore, der
from ..config import ClientConfig, ServerConfig
from ..constants import TLS12, TLS13, NamedGroup
from ..crypto.groups import GROUPS
from ..crypto.suites import DEFAULT_TLS12_SUITES, DEFAULT_TLS13_SUITES, SUITES
from ..errors import ConfigError
from ..session import AntiReplay, ServerSessionCache, SessionCache, TicketKeys
from ..trace import TraceCallback
from .certinfo import certificate_dict
from .channel import TLSChannel
from .ciphers import cipher_description, parse_cipher_string
from .envtrace import combine, trace_from_environment
from .keylog import KeyLogFile, keylog_from_environment
from .options import OP_ALLOW_NO_DHE_KEX, check_options
from .servername import SniCallback, sni_channel
from .sockets import TLSSocket
from .sslobject import TLSObject

_PROTOCOLS = (ssl.PROTOCOL_TLS_CLIENT, ssl.PROTOCOL_TLS_SERVER, ssl.PROTOCOL_TLS)
# set_ecdh_curve() names, OpenSSL's spelling first.
_CURVES = {
    "prime256v1": NamedGroup.secp256r1, "secp256r1": NamedGroup.secp256r1,
    "P-256": NamedGroup.secp256r1, "secp384r1": NamedGroup.secp384r1,
    "P-384": NamedGroup.secp384r1, "X25519": NamedGroup.x25519, "x25519": NamedGroup.x25519,
    "X25519MLKEM768": NamedGroup.X25519MLKEM768,
}


# verify_flags bits glasstls honours; any other raises at assignment. Trusted-first
# is how glasstls always looks for issuers, so setting or clearing it is accepted.
_CRL_CHECK_ALL = 0x8  # X509_V_FLAG_CRL_CHECK_ALL: with CRL_CHECK_LEAF, the whole chain
_HONOURED_FLAGS = (ssl.VERIFY_CRL_CHECK_LEAF | _CRL_CHECK_ALL | ssl.VERIFY_X509_TRUSTED_FIRST
                   | ssl.VERIFY_X509_PARTIAL_CHAIN)


def _crl_check(flags: int) -> str:
    if not flags & ssl.VERIFY_CRL_CHECK_LEAF:
        return "none"  # as OpenSSL: CRL_CHECK_ALL alone checks nothing
    return "chain" if flags & _CRL_CHECK_ALL else "leaf"


def _configuration_error(error: ConfigError) -> ssl.SSLError:
    converted = ssl.SSLError(ssl.SSL_ERROR_SSL, f"[SSL] glasstls configuration: {error}")
    converted.__cause__ = error
    return converted


def _key_kind(certified: CertifiedKey) -> str:
    key = certified.private_key
    if isinstance(key, rsa.RSAPrivateKey):
        return "RSA"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "EC"
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return type(key).__name__.removesuffix("PrivateKey")
    return "ML-DSA"


def _split_der(data: bytes) -> list[bytes]:
    """Concatenated DER certificates (``cadata`` as bytes) one by one."""
    items = []
    offset = 0
    while offset < len(data):
        if data[offset] != 0x30 or offset + 2 > len(data):
            raise ssl.SSLError(ssl.SSL_ERROR_SSL, "[X509] cadata is not DER certificates")
        first = data[offset + 1]
        if first < 0x80:
            header, length = 2, first
        else:
            count = first & 0x7F
            header = 2 + count
            length = int.from_bytes(data[offset + 2:offset + header], "big")
        end = offset + header + length
        if end > len(data):
            raise ssl.SSLError(ssl.SSL_ERROR_SSL, "[X509] truncated DER certificate in cadata")
        items.append(data[offset:end])
        offset = end
    return items


class SSLContext(ssl.SSLContext):
    """An ``ssl.SSLContext`` whose connections are made by glasstls.

    ``protocol`` is ``ssl.PROTOCOL_TLS_CLIENT`` (the default: verifies the server
    and its name) or ``ssl.PROTOCOL_TLS_SERVER``. With no CA loaded, a client
    trusts the system's store, as ``ssl.create_default_context()`` does.
    ``trace`` (also an attribute) receives every ``TraceEvent`` of every
    connection made through the context, as ``ClientConfig(trace=...)`` does;
    ``GLASSTLS_TRACE=1`` in the environment prints them on stderr.

    >>> context = SSLContext(trace=print)
    >>> context.set_alpn_protocols(["h2", "http/1.1"])
    >>> sock = context.wrap_socket(socket.create_connection(("example.com", 443)),
    ...                            server_hostname="example.com")
    """

    # What wrap_socket and wrap_bio make: glasstls's classes, or subclasses of them.
    sslsocket_class: type[TLSSocket] = TLSSocket
    sslobject_class: type[TLSObject] = TLSObject

    _glass_trust: list[x509.Certificate]
    _glass_system_trust: bool
    _glass_certificates: list[CertifiedKey]
    _glass_alpn: tuple[str, ...]
    _glass_tls12_suites: tuple[int, ...]
    _glass_groups: tuple[int, ...] | None
    _glass_keylog: str | None
    _glass_trust_store: TrustStore | None
    _glass_crls: list[x509.CertificateRevocationList]
    _glass_verify_flags: int
    _glass_common_name: bool
    # Check peer certificates with cryptography's CA/B Forum profile instead of
    # OpenSSL's RFC 5280 rules.
    strict_web_pki: bool
    _glass_client_sessions: SessionCache
    _glass_ticket_keys: TicketKeys
    _glass_server_sessions: ServerSessionCache
    _glass_anti_replay: AntiReplay
    _glass_cookie_secret: bytes
    _glass_trace: TraceCallback | None

    def __new__(cls, protocol: int | None = None, *,
                trace: TraceCallback | None = None) -> SSLContext:
        if protocol is None:
            protocol = ssl.PROTOCOL_TLS_CLIENT
        if protocol not in _PROTOCOLS:
            raise ValueError("glasstls supports PROTOCOL_TLS_CLIENT and PROTOCOL_TLS_SERVER "
                             "(TLS 1.2 and 1.3 only)")
        return super().__new__(cls, protocol)

    def __init__(self, protocol: int | None = None, *,
                 trace: TraceCallback | None = None) -> None:
        self._glass_trace = trace
        self._glass_sni_callback: SniCallback | None = None
        self._glass_trust = []
        self._glass_system_trust = False
        self._glass_certificates = []
        self._glass_alpn = ()
        self._glass_tls12_suites = tuple(DEFAULT_TLS12_SUITES)
        self._glass_groups = None
        self._glass_keylog = None
        self._glass_trust_store = None
        self._glass_crls = []
        self._glass_verify_flags = int(ssl.VERIFY_X509_TRUSTED_FIRST)
        self._glass_common_name = False
        self.strict_web_pki = False
        # Kept for the context's lifetime, so that its connections can resume
        # one another's sessions (clients by server name and ALPN; servers by
        # tickets sealed with these keys, or TLS 1.2 session ids).
        self._glass_client_sessions = SessionCache()
        self._glass_ticket_keys = TicketKeys()
        self._glass_server_sessions = ServerSessionCache()
        self._glass_anti_replay = AntiReplay()
        self._glass_cookie_secret = os.urandom(32)

    # -- certificates and trust -----------------------------------------------------

    def load_cert_chain(self, certfile: Any, keyfile: Any = None, password: Any = None) -> None:
        """Our certificate chain and key (PEM); a second key of another type (RSA
        beside ECDSA) is offered beside the first, one of the same type replaces it."""
        if callable(password):
            password = password()
        if isinstance(password, str):
            password = password.encode()
        if password is not None and not isinstance(password, (bytes, bytearray)):
            raise TypeError("password should be a string or callable")
        try:
            certified = CertifiedKey.from_files(certfile, keyfile,
                                                bytes(password) if password else None)
        except ConfigError as error:
            raise _configuration_error(error) from error
        kind = _key_kind(certified)
        self._glass_certificates = [
            c for c in self._glass_certificates if _key_kind(c) != kind] + [certified]

    def load_verify_locations(self, cafile: Any = None, capath: Any = None,
                              cadata: Any = None) -> None:
        """Trust anchors and CRLs from a PEM (or DER) file, a directory of such
        files, or ``cadata`` (PEM text, or DER bytes)."""
        if cafile is None and capath is None and cadata is None:
            raise TypeError("cafile, capath and cadata cannot be all omitted")
        stores: list[TrustStore] = []
        try:
            if cafile is not None:
                stores.append(TrustStore.from_pem_file(cafile))
            if capath is not None:
                stores.append(TrustStore.from_directory(capath))
            if isinstance(cadata, str):
                stores.append(TrustStore.from_pem(cadata.encode()))
            elif cadata is not None:
                stores += [TrustStore.from_pem(der) for der in _split_der(bytes(cadata))]
        except (ConfigError, ValueError) as error:
            raise ssl.SSLError(ssl.SSL_ERROR_SSL, f"[X509] {error}") from error
        found = [c for store in stores for c in store.certificates]
        crls = [crl for store in stores for crl in store.crls]
        if cadata is not None and not found and not crls:
            raise ssl.SSLError(ssl.SSL_ERROR_SSL, "[X509: NO_CERTIFICATE_OR_CRL_FOUND]")
        self._glass_trust += found
        self._glass_crls += crls
        self._glass_trust_store = None

    @property
    def verify_flags(self) -> ssl.VerifyFlags:
        """``ssl.VERIFY_*`` flags: CRL checking (leaf or chain), partial chains and
        trusted-first are honoured; any other flag raises ``ValueError``."""
        return ssl.VerifyFlags(self._glass_verify_flags)

    @verify_flags.setter
    def verify_flags(self, value: int) -> None:
        unknown = int(value) & ~int(_HONOURED_FLAGS)
        if unknown:
            names = [flag.name for flag in ssl.VerifyFlags if flag & unknown and flag.name]
            raise ValueError(f"glasstls does not implement verify flag(s) "
                             f"{', '.join(names) or hex(unknown)} (0x{unknown:x})")
        self._glass_verify_flags = int(value)
        self._glass_trust_store = None

    @property
    def hostname_checks_common_name(self) -> bool:
        """Match a certificate without subjectAltName by its common name (default
        False in glasstls: RFC 9525 §6.3 retires that fallback)."""
        return self._glass_common_name

    @hostname_checks_common_name.setter
    def hostname_checks_common_name(self, value: bool) -> None:
        self._glass_common_name = bool(value)

    def load_default_certs(self, purpose: Any = ssl.Purpose.SERVER_AUTH) -> None:
        """Trust the system's store (as ``ssl.create_default_context()`` finds it)."""
        self._glass_system_trust = True
        self._glass_trust_store = None

    def set_default_verify_paths(self) -> None:
        self.load_default_certs()

    def _anchors(self) -> list[x509.Certificate]:
        system = list(TrustStore.system().certificates) if self._glass_system_trust else []
        return system + self._glass_trust

    def get_ca_certs(self, binary_form: bool = False) -> list[Any]:
        """The trust anchors loaded (``load_verify_locations``, ``load_default_certs``)."""
        ders = [der(c) for c in self._anchors()]
        return ders if binary_form else [certificate_dict(d) for d in ders]

    def cert_store_stats(self) -> dict[str, int]:
        count = len(self._anchors())
        return {"x509": count, "crl": len(self._glass_crls), "x509_ca": count}

    # -- protocol choices -------------------------------------------------------------

    def set_alpn_protocols(self, alpn_protocols: Any) -> None:
        protocols = tuple(alpn_protocols)
        for protocol in protocols:
            if not 1 <= len(protocol.encode()) <= 255:
                raise ssl.SSLError(ssl.SSL_ERROR_SSL,
                                   "ALPN protocols must be 1 to 255 in length")
        self._glass_alpn = protocols

    def set_ciphers(self, cipherlist: str) -> None:
        """Choose the TLS 1.2 suites (OpenSSL cipher-string syntax; TLS 1.3
        suites are not affected, as with OpenSSL)."""
        self._glass_tls12_suites = tuple(s.id for s in parse_cipher_string(cipherlist))

    def get_ciphers(self) -> list[dict[str, Any]]:  # type: ignore[override]
        suites = [SUITES[s] for s in (*DEFAULT_TLS13_SUITES, *self._glass_tls12_suites)]
        return [cipher_description(s) for s in suites]

    def set_ecdh_curve(self, name: str) -> None:
        group = _CURVES.get(name)
        if group is None or group not in GROUPS:
            raise ValueError(f"unknown elliptic curve name {name!r}")
        self._glass_groups = (group,)

    @property  # type: ignore[override]
    def keylog_filename(self) -> str | None:
        """Append the NSS key log to this file (default: ``$SSLKEYLOGFILE``)."""
        return self._glass_keylog

    @keylog_filename.setter
    def keylog_filename(self, path: Any) -> None:
        self._glass_keylog = None if path is None else os.fspath(path)

    @property  # type: ignore[override]
    def sni_callback(self) -> SniCallback | None:
        """Called on a server as ``callback(tls, server_name, context)`` when the
        ClientHello has arrived, before the certificate is chosen; it may switch
        ``tls.context`` to another glasstls context (its certificates answer), or
        return an alert number to refuse (see ``glasstls/io/servername.py``)."""
        return self._glass_sni_callback

    @sni_callback.setter
    def sni_callback(self, callback: SniCallback | None) -> None:
        if callback is not None and not callable(callback):
            raise TypeError("not a callable object")
        if callback is not None and self.protocol == ssl.PROTOCOL_TLS_CLIENT:
            raise ValueError("sni_callback cannot be set on TLS_CLIENT context")
        self._glass_sni_callback = callback

    def set_servername_callback(self, server_name_callback: SniCallback | None) -> None:
        """The older spelling of ``sni_callback`` (the name is an A-label as well)."""
        if server_name_callback is not None and not callable(server_name_callback):
            raise TypeError("not a callable object")
        self.sni_callback = server_name_callback

    def set_npn_protocols(self, npn_protocols: Any) -> None:
        raise NotImplementedError("glasstls does not implement NPN (use ALPN)")

    def load_dh_params(self, path: Any, /) -> None:
        raise NotImplementedError("glasstls has no finite-field Diffie-Hellman suites "
                                  "(its key exchanges are ECDHE and X25519MLKEM768), so DH "
                                  "parameters would never be used")

    def set_psk_client_callback(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("glasstls does not implement external pre-shared keys")

    def set_psk_server_callback(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("glasstls does not implement external pre-shared keys")

    @property
    def options(self) -> ssl.Options:
        return ssl.Options(int(super().options))

    @options.setter
    def options(self, value: int) -> None:
        check_options(value)
        ssl.SSLContext.options.__set__(self, value)  # type: ignore[attr-defined]

    @property
    def trace(self) -> TraceCallback | None:
        """The callback given every ``TraceEvent`` of this context's connections
        (connections made from now on)."""
        return self._glass_trace

    @trace.setter
    def trace(self, callback: TraceCallback | None) -> None:
        if callback is not None and not callable(callback):
            raise TypeError("trace must be a callable taking a TraceEvent, or None")
        self._glass_trace = callback

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("sslsocket_class", "sslobject_class"):
            base = TLSSocket if name == "sslsocket_class" else TLSObject
            if not (isinstance(value, type) and issubclass(value, base)):
                raise TypeError(f"glasstls.SSLContext makes glasstls connections: "
                                f"{name} must be {base.__name__} or a subclass of it")
        super().__setattr__(name, value)

    # -- making connections -------------------------------------------------------------

    def wrap_socket(
        self, sock: socket.socket, server_side: bool = False,
        do_handshake_on_connect: bool = True, suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None, session: Any = None,
    ) -> TLSSocket:
        """A ``TLSSocket`` (an ``ssl.SSLSocket``) over ``sock``; its handshake runs
        now if ``sock`` is connected. As with ``ssl``, a connection that ends
        without close_notify reads as ``b""`` (``sock.ragged_eof`` tells it from a
        clean end); ``suppress_ragged_eofs=False`` makes ``recv`` raise
        ``ssl.SSLEOFError`` instead."""
        name = self._server_name(server_side, server_hostname, session)
        make_channel = self._channel_factory(server_side, name, suppress_ragged_eofs, session)
        return self.sslsocket_class._create(
            sock, make_channel=make_channel, server_side=server_side, server_hostname=name,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs, context=self)

    def wrap_bio(
        self, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO, server_side: bool = False,
        server_hostname: str | bytes | None = None, session: Any = None,
    ) -> TLSObject:
        """A ``TLSObject`` (the ``ssl.SSLObject`` interface) over two memory BIOs."""
        name = self._server_name(server_side, server_hostname, session)
        make_channel = self._channel_factory(server_side, name, False, session)
        return self.sslobject_class._create(make_channel(), incoming, outgoing, context=self)

    def _server_name(self, server_side: bool, server_hostname: str | bytes | None,
                     session: Any) -> str | None:
        if server_side:
            if server_hostname:
                raise ValueError("server_hostname can only be specified in client mode")
            if session is not None:
                raise ValueError("session can only be specified in client mode")
            return None
        if isinstance(server_hostname, bytes):
            server_hostname = server_hostname.decode("idna")
        if self.check_hostname and not server_hostname:
            raise ValueError("check_hostname requires server_hostname")
        return server_hostname.rstrip(".") if server_hostname else None

    def _channel_factory(self, server_side: bool, server_hostname: str | None,
                         suppress_ragged_eofs: bool, session: Any
                         ) -> Callable[[], TLSChannel]:
        # OP_IGNORE_UNEXPECTED_EOF: OpenSSL's way of asking the same, context-wide.
        suppress_ragged_eofs = suppress_ragged_eofs or bool(
            self.options & ssl.OP_IGNORE_UNEXPECTED_EOF)
        try:
            if server_side:
                if self.protocol == ssl.PROTOCOL_TLS_CLIENT:
                    raise ValueError("Cannot create a server socket with a "
                                     "PROTOCOL_TLS_CLIENT context")
                server_config = self.server_config()
                callback = self._glass_sni_callback
                if callback is not None:
                    return lambda: sni_channel(self, server_config, callback,
                                               suppress_ragged_eofs)
                return lambda: TLSChannel.server(server_config, suppress_ragged_eofs)
            if self.protocol == ssl.PROTOCOL_TLS_SERVER:
                raise ValueError("Cannot create a client socket with a "
                                 "PROTOCOL_TLS_SERVER context")
            client_config = self.client_config()
        except ConfigError as error:
            raise _configuration_error(error) from error
        return lambda: TLSChannel.client(client_config, server_hostname,
                                         suppress_ragged_eofs, session)

    # -- the glasstls configuration this context stands for ----------------------------

    def _versions(self) -> tuple[int, ...]:
        low = int(self.minimum_version)
        high = int(self.maximum_version)
        versions = []
        for version, excluded in ((TLS13, ssl.OP_NO_TLSv1_3), (TLS12, ssl.OP_NO_TLSv1_2)):
            if self.options & excluded:
                continue
            if low >= 0 and version < low:
                continue
            if high >= 0 and version > high:
                continue
            versions.append(version)
        if not versions:
            raise ssl.SSLError(ssl.SSL_ERROR_SSL, "[SSL: NO_PROTOCOLS_AVAILABLE] glasstls "
                               "speaks TLS 1.3 and 1.2 only, and the context allows neither")
        return tuple(versions)

    def _keylog(self) -> KeyLogFile | None:
        if self._glass_keylog is not None:
            return KeyLogFile(self._glass_keylog)
        return keylog_from_environment()

    def _common(self) -> dict[str, Any]:
        """What client and server configs take alike from the context."""
        options = self.options
        return {"versions": self._versions(), "alpn_protocols": self._glass_alpn,
                "keylog": self._keylog(),
                "trace": combine(self._glass_trace, trace_from_environment()),
                "allow_psk_ke": bool(options & OP_ALLOW_NO_DHE_KEX)}

    def _trust(self) -> TrustStore | None:
        if not self._glass_trust:
            return None  # the system's store, loaded once by the engine
        if self._glass_trust_store is None:
            self._glass_trust_store = TrustStore(self._anchors(), self._glass_crls)
        return self._glass_trust_store

    def _verify_options(self) -> dict[str, Any]:
        """The certificate checks the context's settings ask for, as config fields."""
        flags = self._glass_verify_flags
        return {"strict_web_pki": bool(self.strict_web_pki), "crl_check": _crl_check(flags),
                "trust_partial_chain": bool(flags & ssl.VERIFY_X509_PARTIAL_CHAIN)}

    def client_config(self) -> ClientConfig:
        """The ``ClientConfig`` a client connection made now would use."""
        suites = (*DEFAULT_TLS13_SUITES, *self._glass_tls12_suites)
        rsa_transport = any(SUITES[s].key_exchange == "RSA" for s in self._glass_tls12_suites)
        extra: dict[str, Any] = {}
        if self._glass_groups is not None:
            extra = {"groups": self._glass_groups, "key_share_groups": self._glass_groups}
        options = self.options
        return ClientConfig(
            cipher_suites=suites, enable_rsa_key_exchange=rsa_transport, trust=self._trust(),
            verify_certificates=self.verify_mode != ssl.CERT_NONE,
            check_hostname=self.check_hostname,
            hostname_checks_common_name=self._glass_common_name, **self._verify_options(),
            certificate=self._glass_certificates[0] if self._glass_certificates else None,
            post_handshake_auth=bool(self.post_handshake_auth),
            session_cache=self._glass_client_sessions,
            enable_session_tickets=not options & ssl.OP_NO_TICKET,
            middlebox_compatibility=bool(options & ssl.OP_ENABLE_MIDDLEBOX_COMPAT),
            **self._common(), **extra)

    def server_config(self) -> ServerConfig:
        """The ``ServerConfig`` a server connection made now would use."""
        if not self._glass_certificates:
            raise ConfigError("a server context needs load_cert_chain()")
        has_rsa = any(_key_kind(c) == "RSA" for c in self._glass_certificates)
        tls12 = tuple(s for s in self._glass_tls12_suites
                      if has_rsa or SUITES[s].key_exchange != "RSA")
        extra: dict[str, Any] = {}
        if self._glass_groups is not None:
            extra = {"groups": self._glass_groups}
        client_auth = {ssl.CERT_NONE: "none", ssl.CERT_OPTIONAL: "optional",
                       ssl.CERT_REQUIRED: "required"}[self.verify_mode]
        if self.post_handshake_auth:
            # As with OpenSSL's SSL_VERIFY_POST_HANDSHAKE: the certificate is asked
            # for later (verify_client_post_handshake), not in the handshake.
            client_auth = "none"
        client_trust = None
        if self.verify_mode != ssl.CERT_NONE:
            client_trust = self._trust()
            if client_trust is None and self._glass_system_trust:
                client_trust = ClientConfig().trust_store()
            if client_trust is None:
                raise ConfigError("verify_mode asks for client certificates: load the CAs "
                                  "that issue them with load_verify_locations()")
        options = self.options
        return ServerConfig(
            cipher_suites=(*DEFAULT_TLS13_SUITES, *tls12),
            enable_rsa_key_exchange=any(SUITES[s].key_exchange == "RSA" for s in tls12),
            certificates=tuple(self._glass_certificates),
            server_preference=bool(options & ssl.OP_CIPHER_SERVER_PREFERENCE),
            client_auth=client_auth, client_trust=client_trust, tickets=self.num_tickets,
            ticket_keys=None if options & ssl.OP_NO_TICKET else self._glass_ticket_keys,
            session_cache=self._glass_server_sessions,
            anti_replay=self._glass_anti_replay, cookie_secret=self._glass_cookie_secret,
            **self._common(), **self._verify_options(), **extra)


def create_default_context(purpose: ssl.Purpose = ssl.Purpose.SERVER_AUTH, *,
                           cafile: Any = None, capath: Any = None,
                           cadata: Any = None) -> SSLContext:
    """``ssl.create_default_context`` for glasstls: a client context (verifying
    against ``cafile``/``capath``/``cadata``, or the system store), or with
    ``Purpose.CLIENT_AUTH`` a server context.

    >>> context = glasstls.create_default_context(cafile="ca.pem")
    """
    if purpose == ssl.Purpose.SERVER_AUTH:
        context = SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    else:
        context = SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if cafile is not None or capath is not None or cadata is not None:
        context.load_verify_locations(cafile, capath, cadata)
    elif context.verify_mode != ssl.CERT_NONE:
        context.load_default_certs(purpose)
    return context


__all__ = ["SSLContext", "create_default_context"]
