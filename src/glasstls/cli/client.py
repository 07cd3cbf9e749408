"""``glasstls client HOST[:PORT]``: connect, show what was negotiated, then pipe
stdin to the server and the server's data to stdout (or send one HTTP GET).

Connection details, the trace and warnings go to stderr, so that stdout carries
only what the server sent. With ``--json`` everything is JSON lines on stdout
(the HTTP body as a field, or in the file ``-o`` names).

    glasstls client example.com --http /
    glasstls client localhost:8443 --cafile ca.pem --trace
    echo hello | glasstls client 127.0.0.1:4433 --insecure
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from cryptography.utils import CryptographyDeprecationWarning

from ..config import ClientConfig
from ..errors import DecodeError, GlassTLSError
from ..io import KeyLogFile, TLSSocket, start_tls
from ..session import ClientSession
from . import exitcodes, starttls
from .client_output import Handshake, Output, describe_connection, show_chain
from .common import (
    HelpFormatter,
    add_compression_flag,
    add_ocsp_flag,
    add_version_flags,
    cipher_suites_from,
    compression_from,
    group_argument,
    load_certified,
    load_trust,
    parse_target,
    print_failure,
    sigalgs_argument,
    split_alpn,
    suite_list_argument,
    versions_from,
)
from .failures import CommandError, explain
from .http import h2_available, http_get
from .render import open_view

DEFAULT_PORT = 443
# How long to wait for a TLS 1.3 session ticket before going on without one.
TICKET_WAIT = 2.0

EXAMPLES = """\
examples:
  glasstls client example.com --http /                 GET / and print the response
  glasstls client example.com --trace --http /         ... with every handshake step
  glasstls client localhost:8443 --cafile ca.pem       talk: stdin to the server, its data to stdout
  glasstls client localhost:8443 --cafile ca.pem --reconnect 2 --http /   resumption, twice
  glasstls client localhost:8443 --cafile ca.pem --sess-out s.bin --http /   keep the session...
  glasstls client localhost:8443 --cafile ca.pem --sess-in s.bin --http /    ...resume it later
  glasstls client 127.0.0.1:8443 --cafile ca.pem --servername localhost --alpn h2 --http /
  glasstls client localhost:8443 --cafile ca.pem --suite ECDHE-ECDSA-AES128-GCM-SHA256 --tls1.2
  glasstls client localhost:8443 --cafile ca.pem --showcerts --json --http /
  glasstls client localhost:8443 --cert me.pem --key me-key.pem --cafile ca.pem
  glasstls client smtp.example.com:587 --starttls smtp
  glasstls client self-signed.example:443 --insecure  (no verification: a loud warning)
  glasstls client example.com --ocsp request --http /  check the OCSP staple, if one comes

exit codes: 0 ok, 2 usage, 3 network, 4 TLS handshake or alert, 5 certificate rejected
"""


def build_config(args: argparse.Namespace, trace: Any = None) -> ClientConfig:
    """The ClientConfig the options describe (``CommandError`` for bad values)."""
    options: dict[str, Any] = {}
    if args.cafile:
        options["trust"] = load_trust(args.cafile)
    if args.key and not args.cert:
        raise CommandError("--key needs --cert")
    if args.cert:
        options["certificate"] = load_certified(args.cert, args.key, args.password)
    if args.group:
        options["groups"] = tuple(g.id for g in args.group)
        options["key_share_groups"] = (args.group[0].id,)
    if args.suite:
        suites, rsa = cipher_suites_from([s for chosen in args.suite for s in chosen])
        options["cipher_suites"] = suites
        options["enable_rsa_key_exchange"] = rsa
    if args.sigalgs:
        options["signature_schemes"] = args.sigalgs
    if args.keylog:
        options["keylog"] = KeyLogFile(args.keylog)
    if args.crl_check:
        options["crl_check"] = args.crl_check
    options.update(compression_from(args))
    try:
        return ClientConfig(
            ocsp_stapling=args.ocsp,
            versions=versions_from(args), alpn_protocols=offered_alpn(args),
            verify_certificates=not args.insecure, check_hostname=not args.insecure,
            trace=trace, trace_secrets=args.show_secrets, **options)
    except GlassTLSError as error:
        raise CommandError(str(error)) from None


def offered_alpn(args: argparse.Namespace) -> tuple[str, ...]:
    """``--alpn``'s protocols; with ``--http`` and no ``--alpn``, http/1.1 (what it
    speaks unless asked for h2). Offering h2 needs the h2 package to speak it."""
    protocols = split_alpn(args.alpn)
    if args.http and "h2" in protocols and not h2_available():
        raise CommandError("--alpn h2 with --http needs the h2 package to speak HTTP/2: "
                           "pip install 'glasstls[cli]'")
    if args.http and not protocols:
        return ("http/1.1",)
    return protocols


def load_session(path: str) -> ClientSession:
    try:
        return ClientSession.from_bytes(Path(path).read_bytes())
    except OSError as error:
        raise CommandError(f"--sess-in: cannot read {path}: {error.strerror}") from None
    except DecodeError as error:
        raise CommandError(f"--sess-in: {path} is not a usable session file: "
                           f"{Exception.__str__(error)}") from None


def save_session(path: str, session: ClientSession) -> None:
    """Write the session file readable by its owner only: it holds the secret."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(session.to_bytes())
    except OSError as error:
        raise CommandError(f"--sess-out: cannot write {path}: {error.strerror}") from None


def open_connection(args: argparse.Namespace, host: str, port: int, config: ClientConfig,
                    server_name: str | None, session: ClientSession | None,
                    output: Output) -> TLSSocket:
    """TCP, the STARTTLS exchange when asked for, then the TLS handshake."""
    plain = socket.create_connection((host, port), args.timeout)
    try:
        # As glasstls.connect(): no Nagle wait for data written after our last flight.
        plain.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if args.starttls:
            starttls.negotiate(plain, args.starttls, output.starttls_line)
        return start_tls(plain, config=config, server_hostname=server_name, session=session)
    except BaseException:
        plain.close()
        raise


def wait_for_ticket(sock: TLSSocket, output: Output) -> None:
    """TLS 1.3 tickets come after the handshake: read a little while for one, so
    that the next connection (or --sess-out) can resume. Data that arrives
    meanwhile is shown."""
    if sock.version() != "TLSv1.3" or sock.session is not None:
        return
    deadline = time.monotonic() + TICKET_WAIT
    timeout = sock.gettimeout()
    try:
        while sock.session is None and time.monotonic() < deadline:
            sock.settimeout(0.1)
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                return
            output.data(data)
    finally:
        sock.settimeout(timeout)


def run(args: argparse.Namespace) -> int:
    """Run ``glasstls client`` with parsed arguments; returns the exit code.

    >>> from glasstls.cli.main import build_parser
    >>> run(build_parser().parse_args(["client", "example.com", "--http", "/"]))
    0
    """
    # Some system trust stores hold old CA certificates that cryptography warns
    # about (e.g. a negative serial number); that is not this user's problem.
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)
    view = open_view(sys.stdout if args.json else sys.stderr, json_lines=args.json)
    output = Output(view, args.output, show_trace=args.trace)
    target = args.target
    try:
        default_port = starttls.DEFAULT_PORTS.get(args.starttls or "", DEFAULT_PORT)
        host, port = parse_target(args.target, default_port)
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        handshake = Handshake()
        config = build_config(args, handshake.observer(output))
        session = load_session(args.sess_in) if args.sess_in else None
        if args.servername == "":
            raise CommandError("--servername needs a name (the certificate is checked "
                               "against it)")
    except CommandError as error:
        return print_failure("client", explain(error), view)
    if args.insecure:
        view.warning("--insecure: the server's certificate is NOT verified. Anyone on the "
                     "path can pretend to be this server and read everything you send.")
    server_name = host if args.servername is None else args.servername
    if session is not None and not session.made_for(server_name):
        view.warning(f"--sess-in: the session in {args.sess_in} was made for "
                     f"{session.server_name or 'no server name'}, not {server_name}: it is "
                     "not offered (a resumed handshake checks no certificate)")
    try:
        for attempt in range(1, args.reconnect + 2):
            last = attempt == args.reconnect + 1
            output.start_connection(attempt, args.reconnect + 1)
            handshake.reset()
            with open_connection(args, host, port, config, server_name,
                                 session if attempt == 1 else None, output) as sock:
                output.connected(attempt, target, server_name, describe_connection(
                    sock, handshake, verified=not args.insecure, server_name=server_name))
                if args.showcerts:
                    show_chain(output, sock)
                if args.http:
                    response = http_get(sock, server_name or host, args.http,
                                        sock.selected_alpn_protocol())
                    output.response(response)
                elif last:
                    output.pipe(sock)
                if args.sess_out and last:
                    wait_for_ticket(sock, output)
                    if sock.session is None:
                        view.warning(f"--sess-out: the server gave no session to resume; "
                                     f"{args.sess_out} was not written")
                    else:
                        save_session(args.sess_out, sock.session)
                        output.session_saved(args.sess_out, sock.session)
                elif not last and not args.http:
                    wait_for_ticket(sock, output)
    except KeyboardInterrupt:
        return exitcodes.INTERRUPTED
    except (OSError, GlassTLSError, CommandError) as error:
        return print_failure("client", explain(error, target, peer="server"), view)
    finally:
        output.close()
    return exitcodes.OK


def add_parser(subparsers: Any) -> None:
    """Add ``client`` to the ``glasstls`` parser (``main.build_parser`` calls this).

    >>> add_parser(argparse.ArgumentParser().add_subparsers())
    """
    parser = subparsers.add_parser(
        "client", help="connect to a TLS server (like openssl s_client)",
        description="Connect to HOST[:PORT] (port 443 by default), run the TLS handshake, "
        "show what was negotiated, then copy stdin to the server and its answers to "
        "stdout until it closes (or send one HTTP GET with --http). Details and the "
        "trace go to stderr; with --json, JSON lines go to stdout.",
        epilog=EXAMPLES, formatter_class=HelpFormatter)
    parser.add_argument("target", metavar="HOST[:PORT]", help="the server, e.g. example.com, "
                        "localhost:8443 or [::1]:4433")
    parser.add_argument("--servername", metavar="NAME",
                        help="the name sent as SNI and checked against the certificate, "
                        "when it differs from HOST")
    parser.add_argument("--alpn", action="append", metavar="PROTOCOLS",
                        help="offer these ALPN protocols, comma-separated (e.g. h2,http/1.1)")
    parser.add_argument("--cafile", metavar="FILE",
                        help="trust the CA certificates in this PEM file (or directory) "
                        "instead of the system's")
    parser.add_argument("--crl-check", choices=("leaf", "chain"),
                        help="check the server's certificate (or its whole chain) against "
                        "the CRLs in --cafile; a missing CRL refuses the connection")
    add_ocsp_flag(parser)
    add_compression_flag(parser)
    parser.add_argument("--insecure", action="store_true",
                        help="do not verify the server's certificate (dangerous: prints a "
                        "warning)")
    add_version_flags(parser, "speak")
    parser.add_argument("--suite", "--cipher", dest="suite", type=suite_list_argument,
                        action="append", metavar="NAMES",
                        help="cipher suites to offer, in order (IANA or OpenSSL names, "
                        "comma or colon separated); naming only TLS 1.2 suites keeps TLS "
                        "1.3's defaults and the reverse, as openssl's -cipher does")
    parser.add_argument("--group", type=group_argument, action="append", metavar="NAME",
                        help="key exchange group to offer (repeat for several; the first "
                        "gets a key share)")
    parser.add_argument("--sigalgs", type=sigalgs_argument, metavar="LIST",
                        help="signature schemes to accept, in order (IANA names or "
                        "OpenSSL's, e.g. ECDSA+SHA256:RSA-PSS+SHA256:ed25519)")
    parser.add_argument("--cert", metavar="FILE", help="client certificate chain (PEM)")
    parser.add_argument("--key", metavar="FILE",
                        help="client private key (PEM; default: in --cert)")
    parser.add_argument("--pass", dest="password", metavar="SOURCE",
                        help="password of an encrypted --key: pass:PASSWORD, env:VARIABLE, "
                        "file:PATH or fd:NUMBER (as openssl's -pass)")
    parser.add_argument("--starttls", choices=starttls.PROTOCOLS,
                        help="speak the protocol's plain-text greeting and STARTTLS command "
                        "first (default port: smtp 25, imap 143, pop3 110, ftp 21)")
    parser.add_argument("--keylog", metavar="FILE",
                        help="append the session's secrets to FILE (NSS SSLKEYLOGFILE format)")
    parser.add_argument("--trace", action="store_true",
                        help="show every handshake step (on stderr)")
    parser.add_argument("--json", action="store_true",
                        help="print everything as JSON lines on stdout (docs/json-schema.json)")
    parser.add_argument("--show-secrets", action="store_true",
                        help="include secret values in the trace")
    parser.add_argument("--showcerts", action="store_true",
                        help="show the server's certificate chain as PEM, as sent")
    parser.add_argument("--reconnect", type=_count, default=0, metavar="N",
                        help="after the first connection, connect N more times resuming "
                        "the session (shows whether each resumed)")
    parser.add_argument("--sess-out", metavar="FILE",
                        help="save the session to FILE for a later --sess-in (mode 0600: "
                        "it holds the resumption secret; format in docs/session-file.md)")
    parser.add_argument("--sess-in", metavar="FILE",
                        help="resume the session saved in FILE by --sess-out")
    parser.add_argument("--http", metavar="PATH",
                        help="send 'GET PATH' (HTTP/1.1, or HTTP/2 if ALPN chose h2) and "
                        "print the response instead of piping")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write the HTTP body (or the server's data) to FILE instead "
                        "of stdout")
    parser.add_argument("--timeout", type=float, default=15.0, metavar="SECONDS",
                        help="for connecting and the handshake (default 15)")
    parser.set_defaults(run=run)


def _count(text: str) -> int:
    with contextlib.suppress(ValueError):
        if int(text) >= 0:
            return int(text)
    raise argparse.ArgumentTypeError(f"expected a number >= 0, not {text!r}")


__all__ = ["add_parser", "build_config", "run"]
