"""What the commands share: option parsing helpers, loading PEM files with a clear
error, a bare-bones HTTP/1.1 exchange, and printing a failure."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..certs import CertifiedKey, TrustStore
from ..config import ServerConfig
from ..constants import TLS12, TLS13, SignatureScheme
from ..crypto.groups import Group, group_by_name
from ..crypto.signatures import SCHEMES
from ..crypto.suites import (
    DEFAULT_TLS12_SUITES,
    DEFAULT_TLS13_SUITES,
    SUITES,
    Suite,
    suite_by_name,
)
from ..errors import ConfigError
from ..ocsp import STAPLING_MODES
from .failures import CommandError, Failure
from .render import JsonView, TextView

# Largest HTTP head we read before giving up (a demo server, not a web server).
MAX_HEAD = 64 * 1024


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples in a command's epilog as written."""


def add_version_flags(parser: argparse.ArgumentParser, what: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--tls1.2", dest="tls12", action="store_true",
                       help=f"{what} TLS 1.2 only")
    group.add_argument("--tls1.3", dest="tls13", action="store_true",
                       help=f"{what} TLS 1.3 only")


def versions_from(args: argparse.Namespace) -> tuple[int, ...]:
    """The versions chosen by ``--tls1.2`` / ``--tls1.3`` (both by default)."""
    if getattr(args, "tls12", False):
        return (TLS12,)
    if getattr(args, "tls13", False):
        return (TLS13,)
    return (TLS13, TLS12)


def group_argument(name: str) -> Group:
    """argparse type for a key exchange group name (``x25519``, ``P-256``...)."""
    try:
        return group_by_name(name)
    except KeyError:
        from ..crypto.groups import GROUPS

        names = ", ".join(g.name for g in GROUPS.values())
        raise argparse.ArgumentTypeError(f"unknown group {name!r}; choose from {names}") from None


def suite_argument(name: str) -> Suite:
    """argparse type for a cipher suite, by IANA or OpenSSL name."""
    try:
        return suite_by_name(name)
    except KeyError:
        names = ", ".join(s.name for s in SUITES.values())
        raise argparse.ArgumentTypeError(
            f"unknown cipher suite {name!r}; choose from {names}") from None


def add_compression_flag(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """``--certificate-compression``; ``prefix`` says which mode it is for
    ("--server: ")."""
    parser.add_argument("--certificate-compression", metavar="LIST",
                        help=f"{prefix}TLS 1.3 certificate compression (RFC 8879) to offer "
                        "and use, comma-separated from brotli, zstd, zlib, or 'none' "
                        "(default: every codec installed)")


def add_ocsp_flag(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    parser.add_argument("--ocsp", choices=STAPLING_MODES, default="off",
                        help=f"{prefix}OCSP stapling: ask the server for its certificate's "
                        "OCSP response and check it (revoked refuses); 'require' refuses a "
                        "server that staples none")


def compression_from(args: argparse.Namespace) -> dict[str, tuple[int, ...]]:
    """The config option ``--certificate-compression`` asks for (none: the default)."""
    text = getattr(args, "certificate_compression", None)
    if text is None:
        return {}
    from ..compression import algorithms_by_name

    names = () if text == "none" else tuple(n for n in text.split(",") if n)
    try:
        return {"certificate_compression": algorithms_by_name(names)}
    except ConfigError as error:
        raise CommandError(str(error)) from None


def suite_list_argument(text: str) -> list[Suite]:
    """argparse type for ``--suite``: one or more suites, comma or colon separated
    (OpenSSL's -cipher style), by IANA or OpenSSL name."""
    return [suite_argument(name.strip()) for name in text.replace(":", ",").split(",")
            if name.strip()]


def cipher_suites_from(chosen: Sequence[Suite]) -> tuple[tuple[int, ...], bool]:
    """The config's ``cipher_suites`` for ``--suite`` choices, and whether RSA key
    transport must be enabled (a TLS_RSA_* suite was named).

    As with ``openssl -cipher`` and ``-ciphersuites``, naming only TLS 1.2 suites
    leaves TLS 1.3's defaults in place, and the reverse."""
    tls13 = tuple(s.id for s in chosen if s.is_tls13) or tuple(DEFAULT_TLS13_SUITES)
    tls12 = tuple(s.id for s in chosen if not s.is_tls13) or tuple(DEFAULT_TLS12_SUITES)
    rsa = any(not s.is_tls13 and s.key_exchange == "RSA" for s in chosen)
    return tuple(dict.fromkeys(tls13 + tls12)), rsa


# OpenSSL's -sigalgs spellings (SSL_CONF_cmd(3)) for the schemes glasstls signs with.
_OPENSSL_SIGALGS = {
    "ECDSA+SHA256": SignatureScheme.ecdsa_secp256r1_sha256,
    "ECDSA+SHA384": SignatureScheme.ecdsa_secp384r1_sha384,
    "ECDSA+SHA512": SignatureScheme.ecdsa_secp521r1_sha512,
    "RSA-PSS+SHA256": SignatureScheme.rsa_pss_rsae_sha256,
    "RSA-PSS+SHA384": SignatureScheme.rsa_pss_rsae_sha384,
    "RSA-PSS+SHA512": SignatureScheme.rsa_pss_rsae_sha512,
    "PSS+SHA256": SignatureScheme.rsa_pss_rsae_sha256,
    "PSS+SHA384": SignatureScheme.rsa_pss_rsae_sha384,
    "PSS+SHA512": SignatureScheme.rsa_pss_rsae_sha512,
    "RSA+SHA256": SignatureScheme.rsa_pkcs1_sha256,
    "RSA+SHA384": SignatureScheme.rsa_pkcs1_sha384,
    "RSA+SHA512": SignatureScheme.rsa_pkcs1_sha512,
    "ED25519": SignatureScheme.ed25519,
}


def sigalgs_argument(text: str) -> tuple[int, ...]:
    """argparse type for ``--sigalgs``: signature schemes by IANA name
    (``ecdsa_secp256r1_sha256``) or OpenSSL's (``ECDSA+SHA256``), separated by
    colons or commas.

    >>> [hex(s) for s in sigalgs_argument("ECDSA+SHA256:rsa_pss_rsae_sha256")]
    ['0x403', '0x804']
    """
    schemes: list[int] = []
    for name in (n.strip() for n in text.replace(":", ",").split(",")):
        if not name:
            continue
        scheme = _OPENSSL_SIGALGS.get(name.upper())
        if scheme is None and name in SignatureScheme.__members__:
            scheme = SignatureScheme[name]
        if scheme is None or scheme not in SCHEMES:
            known = ", ".join(SignatureScheme(s).name for s in SCHEMES)
            raise argparse.ArgumentTypeError(
                f"unknown signature scheme {name!r}; choose from {known} (or OpenSSL "
                "names such as ECDSA+SHA256, RSA-PSS+SHA256, ed25519)")
        schemes.append(int(scheme))
    if not schemes:
        raise argparse.ArgumentTypeError("no signature scheme named")
    return tuple(dict.fromkeys(schemes))


def read_password(spec: str) -> bytes:
    """A key's password from ``--pass``, in OpenSSL's forms: ``pass:TEXT``,
    ``env:VARIABLE``, ``file:PATH`` (its first line) or ``fd:NUMBER``."""
    kind, _, value = spec.partition(":")
    if kind == "pass":
        return value.encode()
    if kind == "env":
        if value not in os.environ:
            raise CommandError(f"--pass env:{value}: the variable is not set")
        return os.environ[value].encode()
    if kind in ("file", "fd"):
        try:
            if kind == "fd":
                with os.fdopen(int(value), "rb", closefd=False) as stream:
                    line = stream.readline()
            else:
                with open(value, "rb") as stream:
                    line = stream.readline()
        except (OSError, ValueError) as error:
            raise CommandError(f"--pass {spec}: cannot read it ({error})") from None
        return line.rstrip(b"\r\n")
    raise CommandError(f"--pass {spec!r}: use pass:PASSWORD, env:VARIABLE, file:PATH or "
                       "fd:NUMBER (as openssl's -pass)")


def add_staple_flag(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    parser.add_argument("--ocsp-response", metavar="FILE",
                        help=f"{prefix}staple this DER OCSP response (as 'openssl ocsp "
                        "-respout' writes it) for clients that ask; re-read when it expires")


def staple_from(args: argparse.Namespace) -> dict[str, Any]:
    """The config option ``--ocsp-response`` asks for (none: no stapling)."""
    if not getattr(args, "ocsp_response", None):
        return {}
    from ..ocsp import StapleFile

    try:
        return {"ocsp_staple": StapleFile(args.ocsp_response)}
    except ConfigError as error:
        raise CommandError(str(error)) from None


def staple_problem(config: ServerConfig, path: str) -> str | None:
    """Why ``--ocsp-response`` would not be stapled to the server's first
    certificate now (None: it would be); the file is read once here, so the first
    client that asks does not wait for it."""
    source = config.ocsp_staple
    if source is None or not config.certificates:
        return None
    certified = config.certificates[0]
    if source.for_chain(certified.chain, certified.chain_der[0], config.clock()) is not None:
        return None
    return (f"--ocsp-response {path}: {source.last_problem or 'no response'}; clients that "
            "ask get no staple until the file is replaced (it is read again each minute)")


def split_alpn(values: Sequence[str] | None) -> tuple[str, ...]:
    """``--alpn h2,http/1.1 --alpn x`` -> ``("h2", "http/1.1", "x")``."""
    protocols: list[str] = []
    for value in values or ():
        protocols += [p for p in value.split(",") if p]
    return tuple(protocols)


def parse_target(text: str, default_port: int = 443) -> tuple[str, int]:
    """``HOST[:PORT]``, with IPv6 literals in brackets.

    >>> parse_target("example.com"), parse_target("[::1]:8443"), parse_target("h:1")
    (('example.com', 443), ('::1', 8443), ('h', 1))
    """
    host, port_text = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise CommandError(f"bad address {text!r}: missing ']'")
        host, rest = text[1:end], text[end + 1:]
        if rest and not rest.startswith(":"):
            raise CommandError(f"bad address {text!r}")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    if not host:
        raise CommandError(f"bad address {text!r}: no host")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise CommandError(f"bad port {port_text!r} in {text!r}")
    return host, int(port_text)


def load_certified(cert: str, key: str | None, password: str | None = None) -> CertifiedKey:
    """A certificate chain and key from PEM files (the key decrypted with ``--pass``
    when it is encrypted), or a ``CommandError`` saying which file is wrong and why."""
    try:
        chain = Path(cert).read_bytes()
        key_pem = Path(key).read_bytes() if key else chain
    except OSError as error:
        raise CommandError(f"cannot read {error.filename}: {error.strerror}") from None
    secret = read_password(password) if password is not None else None
    key_file = key or cert
    if secret is None and b"ENCRYPTED" in key_pem:
        raise CommandError(f"the key in {key_file} is encrypted: give its password with "
                           "--pass (pass:PASSWORD, env:VARIABLE or file:PATH)")
    try:
        return CertifiedKey.from_pem(chain, key_pem, secret)
    except (ConfigError, ValueError, TypeError) as error:
        if secret is not None and ("password" in str(error).lower()
                                   or "decrypt" in str(error).lower()):
            raise CommandError(f"cannot decrypt the key in {key_file}: wrong --pass "
                               "password?") from None
        raise CommandError(f"cannot use certificate {cert} with key {key_file}: "
                           f"{error}") from None


def load_trust(cafile: str) -> TrustStore:
    """Trust anchors from a PEM file (or a directory of PEM files)."""
    path = Path(cafile)
    try:
        if path.is_dir():
            store = TrustStore.from_directory(path)
        else:
            store = TrustStore.from_pem_file(path)
    except OSError as error:
        raise CommandError(f"cannot read {cafile}: {error.strerror}") from None
    except ConfigError as error:
        raise CommandError(f"{cafile}: {error}") from None
    if not len(store):
        raise CommandError(f"{cafile} holds no certificates")
    return store


def http_request(host: str, path: str) -> bytes:
    """A GET request that asks the server to close after its answer."""
    if not path.startswith("/"):
        path = "/" + path
    host_header = f"[{host}]" if ":" in host else host
    return (f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: glasstls\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n").encode()


def head_complete(data: bytes) -> bool:
    """Whether ``data`` holds a whole HTTP request head (bare newlines are
    accepted too, for people typing into ``openssl s_client``)."""
    return b"\r\n\r\n" in data or b"\n\n" in data


def read_request_head(sock: Any) -> bytes:
    """What a client sent up to the end of its request head (or of its data, or
    MAX_HEAD bytes): enough to answer a GET."""
    head = b""
    while not head_complete(head) and len(head) < MAX_HEAD:
        chunk = sock.recv(65536)
        if not chunk:
            break
        head += chunk
    return head


def http_response(body: str, status: str = "200 OK") -> bytes:
    data = body.encode()
    head = (f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\nServer: glasstls\r\n\r\n")
    return head.encode() + data


def print_failure(command: str, failure: Failure, view: JsonView | TextView | None = None
                  ) -> int:
    """One line on stderr, or with ``--json`` (a ``JsonView``) an ``{"event":
    "error"}`` line on stdout; returns the exit code."""
    if isinstance(view, JsonView):
        view.error(failure.message, failure.exit_code)
    else:
        print(f"glasstls {command}: error: {failure.message}", file=sys.stderr, flush=True)
    return failure.exit_code


__all__ = ["MAX_HEAD", "HelpFormatter", "add_version_flags", "cipher_suites_from",
           "group_argument", "head_complete", "http_request", "http_response",
           "load_certified", "load_trust", "parse_target", "print_failure", "read_password",
           "read_request_head",
           "sigalgs_argument", "split_alpn", "suite_argument", "suite_list_argument",
           "versions_from"]
