"""``glasstls serve``: the "your browser's handshake" page over HTTPS.

Open the URL it prints in a browser: the page shows the ClientHello the browser
sent, its JA4 fingerprint, what was negotiated, the handshake step by step and
the certificate chain; ``/api/handshake`` gives the same as JSON.

Without ``--cert`` it serves the development certificate from the user's state
directory (the one ``glasstls certs`` and ``glasstls server`` use) and prints how
to make browsers and curl trust its CA.

    glasstls serve                       # https://localhost:8443/
    glasstls serve --port 0 --quiet      # any free port
    glasstls serve --cert cert.pem --key key.pem --host 0.0.0.0
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from cryptography.hazmat.primitives import serialization

from ..certs import CertifiedKey
from ..config import ServerConfig
from ..errors import GlassTLSError
from ..web.server import WebOptions, start_server
from . import exitcodes
from .common import (
    HelpFormatter,
    add_compression_flag,
    add_staple_flag,
    add_version_flags,
    compression_from,
    load_certified,
    staple_from,
    staple_problem,
    versions_from,
)
from .devstate import ensure_dev_certificates
from .failures import CommandError

DEFAULT_PORT = 8443

EXAMPLES = """\
examples:
  glasstls serve                           https://localhost:8443/ with the development certificate
  glasstls serve --port 0                  any free port (the URL says which)
  glasstls serve --cert cert.pem --key key.pem --host 0.0.0.0
  glasstls serve --tls1.2                  see what your browser does with TLS 1.2 only

  then open the URL in a browser, or:
  curl --cacert CA https://localhost:8443/api/handshake

Ctrl-C stops the server (exit status 0).
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve", help="serve the 'your browser's handshake' page over HTTPS",
        description="An HTTPS server (HTTP/1.1 on glasstls) whose page shows each visitor "
        "its own TLS handshake: the ClientHello as received, its JA4 fingerprint, what was "
        "negotiated, the handshake's steps with timestamps, and the certificate chain. "
        "/api/handshake returns the same as JSON.",
        epilog=EXAMPLES, formatter_class=HelpFormatter)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port to listen on, 0 for any free port (default: {DEFAULT_PORT})")
    parser.add_argument("--cert", metavar="PEM",
                        help="certificate chain, leaf first (default: the development "
                        "certificate, made on first use)")
    parser.add_argument("--key", metavar="PEM", help="the certificate's private key")
    add_version_flags(parser, "serve")
    parser.add_argument("--max-connections", type=int, default=WebOptions.max_connections,
                        metavar="N", help="connections served at once; more wait in the "
                        f"listen backlog (default: {WebOptions.max_connections})")
    parser.add_argument("--handshake-timeout", type=float,
                        default=WebOptions.handshake_timeout, metavar="SECONDS",
                        help="drop a client whose handshake takes longer "
                        f"(default: {WebOptions.handshake_timeout:g})")
    parser.add_argument("--idle-timeout", type=float, default=WebOptions.idle_timeout,
                        metavar="SECONDS", help="close a connection idle this long between "
                        f"requests (default: {WebOptions.idle_timeout:g})")
    add_staple_flag(parser)
    add_compression_flag(parser)
    parser.add_argument("--json", action="store_true",
                        help="print JSON lines: the URL, then one per connection and request "
                        "(docs/json-schema.json)")
    parser.add_argument("--quiet", action="store_true",
                        help="print only the URL: no banner, no line per connection and "
                        "request")
    parser.set_defaults(run=run)


def spki_pin(certified: CertifiedKey) -> str:
    """Base64 of the SHA-256 of the leaf's SubjectPublicKeyInfo: what Chromium's
    ``--ignore-certificate-errors-spki-list`` takes."""
    spki = certified.chain[0].public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::", "127.0.0.1", "::1", "localhost"):
        # The development certificate names localhost; wildcard binds include it.
        return "localhost"
    return f"[{host}]" if ":" in host else host


def _banner(url: str, certified: CertifiedKey, cert_path: str, ca: Path | None) -> str:
    pin = spki_pin(certified)
    lines = [
        f"glasstls serve: your browser's handshake at {url}",
        f"  as JSON:      {url}api/handshake",
        f"  certificate:  {cert_path}",
    ]
    if ca is not None:
        lines += [
            f"  It is issued by the development CA {ca}. To trust it:",
            f"    curl      curl --cacert {ca} {url}api/handshake",
            f"    Chromium  chromium --user-data-dir=/tmp/glasstls-profile "
            f"--ignore-certificate-errors-spki-list={pin} {url}",
            "              or import the CA: Settings > Privacy and security > Security > "
            "Manage certificates > Authorities",
            "    Firefox   import the CA: Settings > Privacy & Security > Certificates > "
            "View Certificates > Authorities",
            f"    system    sudo cp {ca} /usr/local/share/ca-certificates/glasstls-dev.crt "
            "&& sudo update-ca-certificates",
        ]
    else:
        lines.append(f"  Its SPKI pin, for Chromium's --ignore-certificate-errors-spki-list "
                     f"(with --user-data-dir): {pin}")
    lines.append("Ctrl-C stops the server.")
    return "\n".join(lines)


def _certificate(args: argparse.Namespace) -> tuple[CertifiedKey, str, Path | None]:
    if args.key and not args.cert:
        raise CommandError("--key needs --cert")
    if args.cert:
        return load_certified(args.cert, args.key), args.cert, None
    try:
        files = ensure_dev_certificates()
    except OSError as error:
        raise CommandError(f"cannot create the development certificate: {error}") from None
    return load_certified(str(files.cert), str(files.key)), str(files.cert), files.ca


def _options(args: argparse.Namespace) -> WebOptions:
    if args.max_connections < 1:
        raise CommandError("--max-connections must be at least 1")
    if args.handshake_timeout <= 0 or args.idle_timeout <= 0:
        raise CommandError("timeouts must be positive")
    return WebOptions(handshake_timeout=args.handshake_timeout, idle_timeout=args.idle_timeout,
                      max_connections=args.max_connections)


def _print(line: str) -> None:
    print(line, flush=True)


def _print_json(line: str) -> None:
    print(json.dumps({"event": "log", "message": line}), flush=True)


def _fail(args: argparse.Namespace, message: str, exit_code: int) -> int:
    if args.json:
        print(json.dumps({"event": "error", "message": message, "exit_code": exit_code}),
              flush=True)
    else:
        print(f"glasstls serve: error: {message}", file=sys.stderr, flush=True)
    return exit_code


def run(args: argparse.Namespace) -> int:
    try:
        certified, cert_path, ca = _certificate(args)
        options = _options(args)
        try:
            extras: dict[str, Any] = {**compression_from(args), **staple_from(args)}
            config = ServerConfig(certificates=(certified,), versions=versions_from(args),
                                  **extras)
        except GlassTLSError as error:
            raise CommandError(str(error)) from None
    except CommandError as error:
        return _fail(args, str(error), error.exit_code)
    log = None if args.quiet else _print_json if args.json else _print
    try:
        server = start_server(config, args.host, args.port, options, log=log)
    except OSError as error:
        return _fail(args, f"cannot listen on {args.host}:{args.port}: "
                           f"{error.strerror or error}", exitcodes.NETWORK)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Before the banner: whoever reads it may stop the server at once.
    previous = signal.signal(signal.SIGTERM, on_signal)
    port = server.address[1]
    url = f"https://{_url_host(args.host)}:{port}/"
    if args.json:
        print(json.dumps({"event": "listening", "url": url, "api": f"{url}api/handshake",
                          "certificate": cert_path, "ca": str(ca) if ca else None,
                          "spki_pin": spki_pin(certified)}), flush=True)
    else:
        _print(f"glasstls serve: your browser's handshake at {url}" if args.quiet
               else _banner(url, certified, cert_path, ca))
    problem = staple_problem(config, args.ocsp_response)
    if problem is not None:
        if args.json:
            print(json.dumps({"event": "warning", "message": problem}), flush=True)
        else:
            print(f"glasstls serve: warning: {problem}", file=sys.stderr, flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close(abort_connections=True)
    return exitcodes.OK


__all__ = ["add_parser", "run", "spki_pin"]
