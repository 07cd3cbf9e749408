"""``glasstls client HOST[:PORT]``: connect, show what was negotiated, then pipe
stdin to the server and the server's data to stdout (or send one HTTP GET).

Connection details, the trace and warnings go to stderr, so that stdout carries
only what the server sent.

    glasstls client example.com --http /
    glasstls client localhost:8443 --cafile ca.pem --trace
    echo hello | glasstls client 127.0.0.1:4433 --insecure
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import ssl
import sys
import threading
import time
import warnings
from typing import Any, BinaryIO

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning

from ..certs import describe_certificate
from ..config import ClientConfig
from ..errors import GlassTLSError
from ..io import KeyLogFile, TLSSocket, connect
from ..trace import TraceEvent
from . import exitcodes
from .common import (
    MAX_HEAD,
    HelpFormatter,
    add_compression_flag,
    add_version_flags,
    compression_from,
    group_argument,
    http_request,
    load_certified,
    load_trust,
    parse_target,
    print_failure,
    split_alpn,
    versions_from,
)
from .failures import CommandError, explain
from .render import JsonView, TextView, key_words, open_view

DEFAULT_PORT = 443
# How long to wait for a TLS 1.3 session ticket before reconnecting without one.
TICKET_WAIT = 2.0

EXAMPLES = """\
examples:
  glasstls client example.com --http /                 GET / and print the response
  glasstls client example.com --trace --http /         ... with every handshake step
  glasstls client localhost:8443 --cafile ca.pem       talk: stdin to the server, its data to stdout
  glasstls client localhost:4433 --cafile ca.pem --reconnect 2   resumption, twice
  glasstls client 127.0.0.1:8443 --servername localhost --alpn h2,http/1.1
  glasstls client localhost:8443 --cert me.pem --key me-key.pem  --cafile ca.pem
  glasstls client self-signed.example:443 --insecure  (no verification: a loud warning)
  glasstls client example.com --ocsp require --http /  refuse a server that staples no OCSP

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
        options["certificate"] = load_certified(args.cert, args.key)
    if args.group:
        options["groups"] = tuple(g.id for g in args.group)
        options["key_share_groups"] = (args.group[0].id,)
    if args.keylog:
        options["keylog"] = KeyLogFile(args.keylog)
    if args.crl_check:
        options["crl_check"] = args.crl_check
    options.update(compression_from(args))
    try:
        return ClientConfig(ocsp_stapling=args.ocsp,
            versions=versions_from(args), alpn_protocols=split_alpn(args.alpn),
            verify_certificates=not args.insecure, check_hostname=not args.insecure,
            trace=trace, trace_secrets=args.show_secrets, **options)
    except GlassTLSError as error:
        raise CommandError(str(error)) from None


def describe_connection(sock: TLSSocket, target: str, verified: bool) -> list[tuple[str, str]]:
    """What was negotiated, as (label, value) rows."""
    negotiated = sock.negotiated
    assert negotiated is not None
    rows = [
        ("protocol", f"{negotiated.version}, {negotiated.cipher_suite}"),
        ("key exchange", negotiated.key_exchange
         + (f" (group {negotiated.group})" if negotiated.group
            and negotiated.group not in negotiated.key_exchange else "")),
        ("signature", negotiated.signature_scheme or "none"),
        ("ALPN", negotiated.alpn_protocol or "none"),
        ("resumed", "yes (no certificate exchanged: the session was resumed)"
         if negotiated.resumed else "no (full handshake)"),
    ]
    if negotiated.peer_certificates:
        leaf = describe_certificate(x509.load_der_x509_certificate(
            negotiated.peer_certificates[0]))
        rows.append(("certificate", f"{leaf['subject']}; issuer {leaf['issuer']}; "
                                    f"{key_words(leaf['key'])}; valid until "
                                    f"{leaf['not_after'][:10]}; SAN "
                                    f"{', '.join(leaf['san']) or '(none)'}"))
    if negotiated.certificate_compression:
        rows.append(("compression", f"the certificate came compressed with "
                                    f"{negotiated.certificate_compression} (RFC 8879)"))
    if negotiated.ocsp_response:
        rows.append(("OCSP", f"stapled response ({len(negotiated.ocsp_response)} bytes): "
                             f"{negotiated.ocsp_status or 'not checked'}"))
    if not verified:
        rows.append(("verified", "NO: --insecure, the certificate was not checked"))
    elif negotiated.verified_chain:
        anchor = x509.load_der_x509_certificate(negotiated.verified_chain[-1])
        rows.append(("verified", f"yes, against {anchor.subject.rfc4514_string()} for the "
                                 f"name {negotiated.server_name or sock.server_hostname}"))
    elif negotiated.resumed:
        rows.append(("verified", "yes, when the session was first established"))
    return rows


def _show_rows(view: TextView | JsonView, title: str, rows: list[tuple[str, str]]) -> None:
    if isinstance(view, JsonView):
        view.info(title, **{label.replace(" ", "_"): value for label, value in rows})
        return
    view.info(title)
    for label, value in rows:
        view.out.line("  ", (f"{label:<14}", "label"), value)


def _read_http(sock: TLSSocket, out: BinaryIO) -> bool:
    """Copy one HTTP response to ``out``: up to Content-Length if the server gave
    one, else until the server closes. True when it ended cleanly."""
    head = b""
    while b"\r\n\r\n" not in head and len(head) < MAX_HEAD:
        chunk = sock.recv(65536)
        if not chunk:
            out.write(head)
            return True
        head += chunk
    header, _, body = head.partition(b"\r\n\r\n")
    out.write(header + b"\r\n\r\n")
    length: int | None = None
    for line in header.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            length = int(value.strip())
    out.write(body[:length] if length is not None else body)
    received = len(body)
    while length is None or received < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        out.write(chunk if length is None else chunk[:length - received])
        received += len(chunk)
    out.flush()
    return True


def _wait_for_ticket(sock: TLSSocket, out: BinaryIO) -> None:
    """TLS 1.3 tickets come after the handshake: read a little while for one, so
    that the next connection can resume. Data that arrives meanwhile is shown."""
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
            out.write(data)
            out.flush()
    finally:
        sock.settimeout(timeout)


def _pipe(sock: TLSSocket, out: BinaryIO, view: TextView | JsonView) -> None:
    """stdin to the server, the server's data to ``out``, until the server closes.
    At the end of stdin we send close_notify and keep reading (a half-close)."""
    sock.settimeout(None)
    done = threading.Event()
    problem: list[BaseException] = []

    def server_to_stdout() -> None:
        try:
            while data := sock.recv(65536):
                out.write(data)
                out.flush()
        except (OSError, GlassTLSError) as error:
            problem.append(error)
        finally:
            done.set()

    def stdin_to_server() -> None:
        try:
            descriptor = sys.stdin.fileno()
            while data := os.read(descriptor, 65536):
                sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (OSError, ValueError, GlassTLSError):
            pass  # the reader reports why the connection ended

    reader = threading.Thread(target=server_to_stdout, name="glasstls-client-read",
                              daemon=True)
    writer = threading.Thread(target=stdin_to_server, name="glasstls-client-write",
                              daemon=True)
    reader.start()
    writer.start()
    done.wait()
    if problem:
        error = problem[0]
        if isinstance(error, ssl.SSLEOFError):
            view.warning("the server closed the TCP connection without close_notify "
                         "(what it sent may be truncated)")
        else:
            raise error


def run(args: argparse.Namespace) -> int:
    """Run ``glasstls client`` with parsed arguments; returns the exit code.

    >>> from glasstls.cli.main import build_parser
    >>> run(build_parser().parse_args(["client", "example.com", "--http", "/"]))
    0
    """
    # Some system trust stores hold old CA certificates that cryptography warns
    # about (e.g. a negative serial number); that is not this user's problem.
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)
    errors = sys.stderr
    view = open_view(errors, json_lines=args.json)
    out: BinaryIO = sys.stdout.buffer
    try:
        host, port = parse_target(args.target, DEFAULT_PORT)
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        trace = _trace_callback(view) if args.trace else None
        config = build_config(args, trace)
    except CommandError as error:
        return print_failure("client", explain(error))
    if args.insecure:
        view.warning("--insecure: the server's certificate is NOT verified. Anyone on the "
                     "path can pretend to be this server and read everything you send.")
    server_name = args.servername or host
    try:
        for attempt in range(args.reconnect + 1):
            last = attempt == args.reconnect
            if isinstance(view, TextView):
                view.origin = None
                if args.reconnect:
                    view.heading(f"Connection {attempt + 1} of {args.reconnect + 1}")
            with connect((host, port), config=config, server_hostname=server_name,
                         timeout=args.timeout) as sock:
                peer = sock.getpeername()
                _show_rows(view, f"Connected to {target} ({peer[0]}), server name "
                                 f"{server_name}",
                           describe_connection(sock, target, not args.insecure))
                if args.http:
                    sock.sendall(http_request(server_name, args.http))
                    _read_http(sock, out)
                elif last:
                    _pipe(sock, out, view)
                else:
                    _wait_for_ticket(sock, out)
    except KeyboardInterrupt:
        return exitcodes.INTERRUPTED
    except (OSError, GlassTLSError) as error:
        return print_failure("client", explain(error, target, peer="server"))
    return exitcodes.OK


def _trace_callback(view: TextView | JsonView) -> Any:
    def on_event(event: TraceEvent) -> None:
        view.event(event)

    return on_event


def add_parser(subparsers: Any) -> None:
    """Add ``client`` to the ``glasstls`` parser (``main.build_parser`` calls this).

    >>> add_parser(argparse.ArgumentParser().add_subparsers())
    """
    parser = subparsers.add_parser(
        "client", help="connect to a TLS server (like openssl s_client)",
        description="Connect to HOST[:PORT] (port 443 by default), run the TLS handshake, "
        "show what was negotiated, then copy stdin to the server and its answers to "
        "stdout until it closes (or send one HTTP GET with --http). Details and the "
        "trace go to stderr.",
        epilog=EXAMPLES, formatter_class=HelpFormatter)
    parser.add_argument("target", metavar="HOST[:PORT]", help="the server, e.g. example.com, "
                        "localhost:8443 or [::1]:4433")
    parser.add_argument("--servername", metavar="NAME",
                        help="the name sent as SNI and checked against the certificate "
                        "(default: HOST)")
    parser.add_argument("--alpn", action="append", metavar="PROTOCOLS",
                        help="offer these ALPN protocols, comma-separated (e.g. h2,http/1.1)")
    parser.add_argument("--cafile", metavar="FILE",
                        help="trust the CA certificates in this PEM file (or directory) "
                        "instead of the system's")
    parser.add_argument("--crl-check", choices=("leaf", "chain"),
                        help="check the server's certificate (or its whole chain) against "
                        "the CRLs in --cafile; a missing CRL refuses the connection")
    parser.add_argument("--ocsp", choices=("off", "request", "require"), default="off",
                        help="OCSP stapling: ask the server for its certificate's OCSP "
                        "response and check it (revoked refuses); 'require' refuses a server "
                        "that staples none")
    add_compression_flag(parser)
    parser.add_argument("--insecure", action="store_true",
                        help="do not verify the server's certificate (dangerous: prints a "
                        "warning)")
    add_version_flags(parser, "speak")
    parser.add_argument("--group", type=group_argument, action="append", metavar="NAME",
                        help="key exchange group to offer (repeat for several; the first "
                        "gets a key share)")
    parser.add_argument("--cert", metavar="FILE", help="client certificate chain (PEM)")
    parser.add_argument("--key", metavar="FILE",
                        help="client private key (PEM; default: in --cert)")
    parser.add_argument("--keylog", metavar="FILE",
                        help="append the session's secrets to FILE (NSS SSLKEYLOGFILE format)")
    parser.add_argument("--trace", action="store_true",
                        help="show every handshake step (on stderr)")
    parser.add_argument("--json", action="store_true",
                        help="print the details and the trace as JSON lines")
    parser.add_argument("--show-secrets", action="store_true",
                        help="include secret values in the trace")
    parser.add_argument("--reconnect", type=_count, default=0, metavar="N",
                        help="after the first connection, connect N more times resuming "
                        "the session (shows whether each resumed)")
    parser.add_argument("--http", metavar="PATH",
                        help="send 'GET PATH' and print the response instead of piping")
    parser.add_argument("--timeout", type=float, default=15.0, metavar="SECONDS",
                        help="for connecting and the handshake (default 15)")
    parser.set_defaults(run=run)


def _count(text: str) -> int:
    with contextlib.suppress(ValueError):
        if int(text) >= 0:
            return int(text)
    raise argparse.ArgumentTypeError(f"expected a number >= 0, not {text!r}")


__all__ = ["add_parser", "build_config", "describe_connection", "run"]
