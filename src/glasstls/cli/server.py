"""``glasstls server``: a TLS server for trying clients against (like openssl
s_server). It answers each connection with a small HTTP page describing the
connection, or echoes what it receives (``--echo``).

Without ``--cert`` it uses the development certificate kept in the user's state
directory (made once, reused; see ``devstate``), and tells which CA to trust.

    glasstls server                          # https://localhost:8443/
    glasstls server --echo --trace --port 4433
    glasstls server --cert cert.pem --key key.pem --client-auth required --cafile ca.pem
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import ssl
import sys
import threading
import weakref
from pathlib import Path
from types import FrameType
from typing import Any

from cryptography import x509

from ..certs import CertifiedKey, describe_certificate
from ..config import ServerConfig
from ..constants import TLS13
from ..errors import GlassTLSError
from ..events import HandshakeComplete
from ..io import KeyLogFile, TLSServer, TLSSocket, serve
from ..ocsp import StapleFile
from ..trace import TraceEvent
from . import exitcodes
from .common import (
    MAX_HEAD,
    HelpFormatter,
    add_compression_flag,
    add_version_flags,
    compression_from,
    group_argument,
    head_complete,
    http_response,
    load_certified,
    load_trust,
    print_failure,
    split_alpn,
    versions_from,
)
from .devstate import ensure_dev_certificates
from .failures import CommandError, explain
from .render import JsonView, TextView, key_words, open_view

DEFAULT_PORT = 8443
# A client that does not finish its handshake (or go quiet) is dropped after this.
HANDSHAKE_TIMEOUT = 30.0
IDLE_TIMEOUT = 300.0

EXAMPLES = """\
examples:
  glasstls server                                   HTTPS on localhost:8443, development certificate
  glasstls server --echo --port 4433 --trace        echo, with each connection's handshake
  glasstls server --cert cert.pem --key key.pem     your own certificate
  glasstls server --client-auth required            mutual TLS (clients need a certificate from
                                                    the development CA, or --cafile's)
  glasstls server --tls1.2 --alpn h2,http/1.1

  then, in another terminal:
  glasstls client localhost:8443 --cafile CA --http /
  openssl s_client -connect localhost:8443 -CAfile CA
  curl --cacert CA https://localhost:8443/

Ctrl-C stops the server (exit status 0).
"""


class ServerSetup:
    """What a ``glasstls server`` invocation serves, built from its options."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.dev_ca: Path | None = None
        self.certified = self._certificate()
        self.client_trust = None
        if args.client_auth != "none":
            if args.cafile:
                self.client_trust = load_trust(args.cafile)
            elif self.dev_ca is not None:
                self.client_trust = load_trust(str(self.dev_ca))
            else:
                raise CommandError("--client-auth with your own --cert needs --cafile (the "
                                   "CA that issues client certificates)")

    def _certificate(self) -> CertifiedKey:
        args = self.args
        if args.key and not args.cert:
            raise CommandError("--key needs --cert")
        if args.cert:
            return load_certified(args.cert, args.key)
        try:
            files = ensure_dev_certificates()
        except OSError as error:
            raise CommandError(f"cannot create the development certificate: {error}") from None
        self.dev_ca = files.ca
        return load_certified(str(files.cert), str(files.key))

    def config(self, trace: Any) -> ServerConfig:
        args = self.args
        options: dict[str, Any] = {}
        if args.group:
            options["groups"] = tuple(g.id for g in args.group)
        if args.keylog:
            options["keylog"] = KeyLogFile(args.keylog)
        options.update(compression_from(args))
        try:
            if args.ocsp_response:
                options["ocsp_staple"] = StapleFile(args.ocsp_response)
            return ServerConfig(
                certificates=(self.certified,), versions=versions_from(args),
                alpn_protocols=split_alpn(args.alpn), client_auth=args.client_auth,
                client_trust=self.client_trust, trace=trace,
                trace_secrets=args.show_secrets, **options)
        except GlassTLSError as error:
            raise CommandError(str(error)) from None


def _address_label(thread: threading.Thread) -> str:
    """"127.0.0.1:50000" from the io layer's worker thread name (or the name)."""
    match = re.search(r"\('([^']*)', (\d+)", thread.name)
    if not match:
        return thread.name
    host, port = match.groups()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ConnectionLog:
    """Prints what happens on each connection, labelled "#n host:port": its trace
    (with ``--trace``), what it negotiated, and why a handshake failed."""

    def __init__(self, view: TextView | JsonView, show_trace: bool) -> None:
        self.view = view
        self.show_trace = show_trace
        self._lock = threading.Lock()
        self._count = 0
        # Each connection runs on its own thread (glasstls.serve): its label and,
        # for text, its own view so that times start at its first event.
        self._connections: weakref.WeakKeyDictionary[
            threading.Thread, tuple[str, TextView | JsonView]] = weakref.WeakKeyDictionary()

    def _current(self) -> tuple[str, TextView | JsonView]:
        thread = threading.current_thread()
        with self._lock:
            known = self._connections.get(thread)
            if known is None:
                self._count += 1
                label = f"#{self._count} {_address_label(thread)}"
                view = self.view
                if isinstance(view, TextView):
                    view = TextView(view.out)
                known = (label, view)
                self._connections[thread] = known
        return known

    def trace(self, event: TraceEvent) -> None:
        if self.show_trace:
            label, view = self._current()
            view.event(event, label=label)

    def established(self, negotiated: HandshakeComplete | None) -> None:
        label, view = self._current()
        if negotiated is None:
            return
        parts = [negotiated.version, negotiated.cipher_suite, negotiated.key_exchange]
        if negotiated.alpn_protocol:
            parts.append(f"ALPN {negotiated.alpn_protocol}")
        if negotiated.resumed:
            parts.append("resumed")
        client = "no client certificate"
        if negotiated.peer_certificates:
            leaf = x509.load_der_x509_certificate(negotiated.peer_certificates[0])
            client = f"client certificate {leaf.subject.rfc4514_string()}"
        view.info(f"[{label}] connected: {', '.join(parts)}; {client}",
                  connection=label, event="connected", version=negotiated.version,
                  cipher_suite=negotiated.cipher_suite, key_exchange=negotiated.key_exchange,
                  alpn=negotiated.alpn_protocol, resumed=negotiated.resumed)

    def failed(self, error: BaseException) -> None:
        label, view = self._current()
        failure = explain(error, peer="client")
        view.info(f"[{label}] {failure.message}", connection=label, event="failed",
                  error=failure.message)

    def closed(self, received: int, sent: int, note: str = "") -> None:
        label, view = self._current()
        extra = f" ({note})" if note else ""
        view.info(f"[{label}] closed: {received} bytes received, {sent} bytes sent{extra}",
                  connection=label, event="closed", received=received, sent=sent)


class _HandshakeFailures(logging.Handler):
    """The io server logs a failed handshake (and does not call the handler):
    turn that record into one line on the connection's log."""

    def __init__(self, log: ConnectionLog) -> None:
        super().__init__(logging.INFO)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args
        if isinstance(args, tuple) and len(args) == 2 and isinstance(args[1], BaseException):
            self.log.failed(args[1])
        elif record.levelno >= logging.WARNING:
            self.log.view.warning(record.getMessage())


def make_handler(log: ConnectionLog, echo: bool) -> Any:
    """The per-connection handler: log the handshake, then echo or answer HTTP."""

    def handle(sock: TLSSocket, address: Any) -> None:
        log.established(sock.negotiated)
        received = sent = 0
        try:
            if echo:
                while data := sock.recv(65536):
                    received += len(data)
                    sock.sendall(data)
                    sent += len(data)
            else:
                head = b""
                while not head_complete(head) and len(head) < MAX_HEAD:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    head += chunk
                received = len(head)
                if head:
                    answer = http_response(connection_page(sock, head))
                    sock.sendall(answer)
                    sent = len(answer)
        except ssl.SSLEOFError:
            log.closed(received, sent, "the client left without close_notify")
            return
        except (OSError, GlassTLSError) as error:
            log.failed(error)
            return
        log.closed(received, sent)

    return handle


def connection_page(sock: TLSSocket, head: bytes) -> str:
    """The text the HTTP mode answers with: what this connection negotiated."""
    negotiated = sock.negotiated
    request_line = head.split(b"\r\n", 1)[0].decode("ascii", "replace")
    lines = ["Hello from glasstls server.", "", f"request        {request_line}"]
    if negotiated is not None:
        lines += [
            f"version        {negotiated.version}",
            f"cipher suite   {negotiated.cipher_suite}",
            f"key exchange   {negotiated.key_exchange}",
            f"signature      {negotiated.signature_scheme or 'none'}",
            f"ALPN           {negotiated.alpn_protocol or 'none'}",
            f"server name    {negotiated.server_name or '(no SNI)'}",
            f"resumed        {'yes' if negotiated.resumed else 'no'}",
        ]
        if negotiated.peer_certificates:
            leaf = x509.load_der_x509_certificate(negotiated.peer_certificates[0])
            lines.append(f"your cert      {leaf.subject.rfc4514_string()}")
    return "\n".join(lines) + "\n"


def _announce(view: TextView | JsonView, setup: ServerSetup, server: TLSServer) -> None:
    args = setup.args
    host, port = server.address[:2]
    shown_host = f"[{host}]" if ":" in host else host
    leaf = describe_certificate(setup.certified.chain[0])
    versions = ", ".join("TLS 1.3" if v == TLS13 else "TLS 1.2" for v in versions_from(args))
    mode = "echo" if args.echo else "HTTP"
    ca = str(setup.dev_ca) if setup.dev_ca else (args.cafile or "the CA that issued it")
    if isinstance(view, JsonView):
        view.info("listening", address=f"{shown_host}:{port}", port=port, mode=mode,
                  versions=versions, certificate=leaf["subject"], san=leaf["san"],
                  trust=str(setup.dev_ca) if setup.dev_ca else None,
                  client_auth=args.client_auth)
        return
    view.info(f"glasstls server listening on {shown_host}:{port} ({versions}; {mode})")
    view.info(f"  certificate  {leaf['subject']}; {key_words(leaf['key'])}; "
              f"SAN {', '.join(leaf['san'])}")
    if setup.dev_ca is not None:
        view.info(f"  development certificate: clients must trust {setup.dev_ca}")
        name = "localhost" if host in ("127.0.0.1", "::1", "0.0.0.0", "::") else shown_host
        view.info(f"  try: glasstls client {name}:{port} --cafile {setup.dev_ca}"
                  + ("" if args.echo else " --http /"))
    else:
        view.info(f"  clients must trust {ca}")
    if args.client_auth != "none":
        view.info(f"  client certificates: {args.client_auth}")
    view.info("  Ctrl-C stops it")


def run(args: argparse.Namespace) -> int:
    """Run ``glasstls server`` with parsed arguments; returns the exit code.

    >>> from glasstls.cli.main import build_parser
    >>> run(build_parser().parse_args(["server", "--port", "8443"]))
    0
    """
    view = open_view(sys.stdout, json_lines=args.json)
    log = ConnectionLog(view, args.trace)
    try:
        setup = ServerSetup(args)
        config = setup.config(log.trace)
    except CommandError as error:
        return print_failure("server", explain(error))
    io_logger = logging.getLogger("glasstls.io")
    failures = _HandshakeFailures(log)
    io_logger.addHandler(failures)
    io_logger.setLevel(logging.INFO)
    io_logger.propagate = False
    try:
        server = serve((args.bind, args.port), make_handler(log, args.echo), config=config,
                       handshake_timeout=HANDSHAKE_TIMEOUT, timeout=IDLE_TIMEOUT)
    except OSError as error:
        return print_failure("server", explain(CommandError(
            f"cannot listen on {args.bind}:{args.port}: {error.strerror or error}",
            exitcodes.NETWORK)))
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        _announce(view, setup, server)
        server.serve_forever()
    except KeyboardInterrupt:
        view.info("stopping", event="stopping")
    finally:
        server.close(abort_connections=True)
        signal.signal(signal.SIGTERM, previous)
        io_logger.removeHandler(failures)
    view.info("stopped", event="stopped")
    return exitcodes.OK


def _stop_on_sigterm(number: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # stop the same clean way as Ctrl-C


def add_parser(subparsers: Any) -> None:
    """Add ``server`` to the ``glasstls`` parser (``main.build_parser`` calls this).

    >>> add_parser(argparse.ArgumentParser().add_subparsers())
    """
    parser = subparsers.add_parser(
        "server", help="run a TLS server to try clients against (like openssl s_server)",
        description="Listen for TLS connections and answer each with a small HTTP page "
        "describing the connection (or echo with --echo). Without --cert, a development "
        "certificate for localhost is made once in the user's state directory and reused; "
        "the output says which CA file clients must trust.",
        epilog=EXAMPLES, formatter_class=HelpFormatter)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--bind", default="127.0.0.1", metavar="ADDRESS",
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    parser.add_argument("--cert", metavar="FILE", help="certificate chain (PEM)")
    parser.add_argument("--key", metavar="FILE", help="private key (PEM; default: in --cert)")
    parser.add_argument("--alpn", action="append", metavar="PROTOCOLS",
                        help="ALPN protocols to accept, comma-separated, in preference order")
    parser.add_argument("--client-auth", choices=("none", "optional", "required"),
                        default="none", help="ask clients for a certificate")
    parser.add_argument("--cafile", metavar="FILE",
                        help="CA certificates that client certificates must chain to "
                        "(default with the development certificate: its CA)")
    add_version_flags(parser, "speak")
    parser.add_argument("--group", type=group_argument, action="append", metavar="NAME",
                        help="key exchange group to accept (repeat for several)")
    parser.add_argument("--echo", action="store_true",
                        help="echo what clients send instead of answering HTTP")
    parser.add_argument("--trace", action="store_true", help="show each connection's handshake")
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    parser.add_argument("--show-secrets", action="store_true",
                        help="include secret values in the trace")
    parser.add_argument("--ocsp-response", metavar="FILE",
                        help="staple this DER OCSP response (as 'openssl ocsp -respout' "
                        "writes it) for clients that ask; re-read when it expires")
    add_compression_flag(parser)
    parser.add_argument("--keylog", metavar="FILE",
                        help="append session secrets to FILE (NSS SSLKEYLOGFILE format)")
    parser.set_defaults(run=run)


__all__ = ["ConnectionLog", "ServerSetup", "add_parser", "connection_page", "make_handler",
           "run"]
