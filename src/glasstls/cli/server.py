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
import contextvars
import logging
import signal
import ssl
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from cryptography import x509

from ..certs import CertifiedKey, describe_certificate
from ..config import ServerConfig
from ..constants import TLS13, ProtocolVersion
from ..errors import GlassTLSError
from ..events import HandshakeComplete
from ..io import KeyLogFile, TLSServer, TLSSocket, client_address, serve
from ..ocsp import describe_response
from ..trace import TraceEvent
from . import exitcodes
from .common import (
    HelpFormatter,
    add_compression_flag,
    add_staple_flag,
    add_version_flags,
    cipher_suites_from,
    compression_from,
    group_argument,
    http_response,
    load_certified,
    load_trust,
    print_failure,
    read_request_head,
    split_alpn,
    staple_from,
    staple_problem,
    suite_list_argument,
    versions_from,
)
from .devstate import ensure_dev_certificates
from .failures import CommandError, explain
from .render import JsonView, TextView, key_words, open_view
from .server_keys import KEYS_HELP, OpenConnections, key_update, start_key_reader

DEFAULT_PORT = 8443
# A client that does not finish its handshake (or go quiet) is dropped after this.
HANDSHAKE_TIMEOUT = 30.0
IDLE_TIMEOUT = 300.0

EXAMPLES = """\
examples:
  glasstls server                                   HTTPS on localhost:8443, development certificate
  glasstls server --echo --port 4433 --trace        echo, with each connection's handshake
  glasstls server --cert cert.pem --key key.pem     your own certificate
  glasstls server --client-auth required            mutual TLS (a client certificate from the
                                                    development CA: glasstls certs --client NAME)
  glasstls server --tls1.2 --alpn http/1.1
  glasstls server --rsa-key-exchange --tls1.2       TLS 1.2 RSA key transport (an RSA certificate)
  glasstls server --suite TLS_AES_256_GCM_SHA384 --tickets 4 --early-data
  glasstls server --sni a.test=a.pem,a-key.pem --sni b.test=b.pem
                                                    a certificate per name the client asks for

  then, in another terminal:
  glasstls client localhost:8443 --cafile CA --http /
  openssl s_client -connect localhost:8443 -CAfile CA
  curl --cacert CA https://localhost:8443/
  curl --cacert CA https://localhost:8443/keyupdate   answered after a KeyUpdate (TLS 1.3)

On a terminal, keys act on the open connections: k KeyUpdate, K KeyUpdate asking for
one back, c post-handshake certificate request (TLS 1.3), q quit.
Ctrl-C stops the server (exit status 0).
"""

# What the HTTP mode speaks: ALPN may offer only these unless --alpn-any.
HTTP_PROTOCOLS = ("http/1.1", "http/1.0")
# Bytes of 0-RTT data accepted with --early-data (as openssl s_server -early_data).
EARLY_DATA_SIZE = 16384


class ServerSetup:
    """What a ``glasstls server`` invocation serves, built from its options."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.dev_ca: Path | None = None
        self.certificates = self._certificates()
        self.certified = self.certificates[0]
        self.server_names: dict[str, list[CertifiedKey]] = {}
        for name, cert, key in args.sni or ():
            self.server_names.setdefault(name, []).append(
                load_certified(cert, key, args.password))
        self.client_trust = None
        if args.cafile:
            self.client_trust = load_trust(args.cafile)
        elif self.dev_ca is not None:
            # Also what a post-handshake certificate request ('c') checks against.
            self.client_trust = load_trust(str(self.dev_ca))
        elif args.client_auth != "none":
            raise CommandError("--client-auth with your own --cert needs --cafile (the "
                               "CA that issues client certificates)")
        self.alpn = split_alpn(args.alpn)
        unspoken = [p for p in self.alpn if p not in HTTP_PROTOCOLS]
        if unspoken and not args.echo and not args.alpn_any:
            raise CommandError(
                f"--alpn {','.join(unspoken)}: in HTTP mode glasstls server speaks only "
                "http/1.1, and a client told otherwise would send it frames it cannot "
                "answer; use --echo (raw bytes for any protocol) or --alpn-any to "
                "advertise it anyway")

    def _certificates(self) -> tuple[CertifiedKey, ...]:
        args = self.args
        if args.key and not args.cert:
            raise CommandError("--key needs --cert")
        if args.cert:
            return (load_certified(args.cert, args.key, args.password),)
        kinds = ("ecdsa-p256", "rsa-2048") if args.rsa_key_exchange else ("ecdsa-p256",)
        chains = []
        for key_type in kinds:
            try:
                files = ensure_dev_certificates(key_type=key_type)
            except OSError as error:
                raise CommandError(f"cannot create the development certificate: "
                                   f"{error}") from None
            self.dev_ca = files.ca
            chains.append(load_certified(str(files.cert), str(files.key)))
        return tuple(chains)

    def config(self, trace: Any) -> ServerConfig:
        args = self.args
        options: dict[str, Any] = {}
        if args.group:
            options["groups"] = tuple(g.id for g in args.group)
        if args.keylog:
            options["keylog"] = KeyLogFile(args.keylog)
        options.update(compression_from(args))
        options.update(staple_from(args))
        if args.suite:
            suites, rsa = cipher_suites_from([s for chosen in args.suite for s in chosen])
            options["cipher_suites"] = suites
            options["enable_rsa_key_exchange"] = rsa or args.rsa_key_exchange
        elif args.rsa_key_exchange:
            options["enable_rsa_key_exchange"] = True
        if args.tickets is not None:
            options["tickets"] = args.tickets
        if args.early_data:
            options["max_early_data_size"] = EARLY_DATA_SIZE
        try:
            return ServerConfig(
                certificates=self.certificates, server_names=self.server_names,
                versions=versions_from(args),
                alpn_protocols=self.alpn, client_auth=args.client_auth,
                client_trust=self.client_trust, trace=trace,
                trace_secrets=args.show_secrets, **options)
        except GlassTLSError as error:
            raise CommandError(str(error)) from None


def _address_label(address: Any) -> str:
    """"127.0.0.1:50000" (or "[::1]:50000") for a client's address."""
    if not isinstance(address, tuple) or len(address) < 2:
        return str(address)
    host, port = address[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


View = TextView | JsonView
# Each connection runs in a context of its own (glasstls.serve), from its handshake
# to its handler's end: there, its log, label and (for text) its own view, so that
# times start at its first event.
_this_connection: contextvars.ContextVar[tuple[ConnectionLog, str, View]] = (
    contextvars.ContextVar("glasstls_cli_connection"))


class ConnectionLog:
    """Prints what happens on each connection, labelled "#n host:port": its trace
    (with ``--trace``), what it negotiated, and why a handshake failed."""

    def __init__(self, view: TextView | JsonView, show_trace: bool) -> None:
        self.view = view
        self.show_trace = show_trace
        self._lock = threading.Lock()
        self._count = 0
        # The engine numbers its connections; a step traced from another thread (a
        # KeyUpdate sent on a key press) finds its connection's label by that number.
        self._by_number: dict[int, tuple[str, TextView | JsonView]] = {}

    def _current(self) -> tuple[str, TextView | JsonView]:
        known = _this_connection.get(None)
        if known is not None and known[0] is self:
            return known[1], known[2]
        with self._lock:
            self._count += 1
            label = f"#{self._count} {_address_label(client_address())}"
        view = self.view
        if isinstance(view, TextView):
            view = TextView(view.out)
        _this_connection.set((self, label, view))
        return label, view

    def trace(self, event: TraceEvent) -> None:
        if not self.show_trace:
            return
        with self._lock:
            known = self._by_number.get(event.connection)
        if known is None:
            known = self._current()
            with self._lock:
                self._by_number[event.connection] = known
        label, view = known
        view.event(event, label=label)

    def label(self) -> str:
        """This connection's label ("#n host:port")."""
        return self._current()[0]

    def established(self, negotiated: HandshakeComplete | None) -> str:
        """Log the handshake's outcome; returns the connection's label."""
        label, view = self._current()
        if negotiated is None:
            return label
        parts = [negotiated.version, negotiated.cipher_suite]
        if negotiated.key_exchange != "resumed":  # TLS 1.2 resumption says only that
            parts.append(negotiated.key_exchange)
        if negotiated.alpn_protocol:
            parts.append(f"ALPN {negotiated.alpn_protocol}")
        if negotiated.resumed:
            parts.append("resumed")
        if negotiated.early_data_accepted:
            parts.append("0-RTT data accepted")
        if negotiated.certificate_compression:
            parts.append(f"certificate compressed with {negotiated.certificate_compression}")
        staple = describe_response(negotiated.ocsp_response) if negotiated.ocsp_response else None
        if staple is not None:
            parts.append(f"OCSP staple sent ({staple.get('status', 'no status')})")
        subject = None
        if negotiated.peer_certificates:
            subject = x509.load_der_x509_certificate(
                negotiated.peer_certificates[0]).subject.rfc4514_string()
        client = f"client certificate {subject}" if subject else "no client certificate"
        view.info(f"[{label}] connected: {', '.join(parts)}; {client}",
                  event="connected", label=label, version=negotiated.version,
                  cipher_suite=negotiated.cipher_suite, key_exchange=negotiated.key_exchange,
                  group=negotiated.group, signature_scheme=negotiated.signature_scheme,
                  alpn=negotiated.alpn_protocol, server_name=negotiated.server_name,
                  resumed=negotiated.resumed,
                  early_data_accepted=negotiated.early_data_accepted,
                  certificate_compression=negotiated.certificate_compression,
                  ocsp_staple=staple, client_certificate=subject)
        return label

    def note(self, label: str, message: str) -> None:
        """Something done to a connection from outside its handshake (a key press,
        GET /keyupdate)."""
        view = self.view
        prefix = f"[{label}] " if label else ""
        view.info(f"{prefix}{message}", event="action", label=label or None)

    def _forget(self, label: str) -> None:
        with self._lock:
            for number in [n for n, known in self._by_number.items() if known[0] == label]:
                del self._by_number[number]

    def failed(self, error: BaseException) -> None:
        label, view = self._current()
        self._forget(label)
        failure = explain(error, peer="client")
        view.info(f"[{label}] {failure.message}", event="failed", label=label,
                  error=failure.message, exit_code=failure.exit_code)

    def closed(self, received: int, sent: int, note: str = "") -> None:
        label, view = self._current()
        self._forget(label)
        extra = f" ({note})" if note else ""
        view.info(f"[{label}] closed: {received} bytes received, {sent} bytes sent{extra}",
                  event="closed", label=label, received=received, sent=sent,
                  clean=not note)


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


def make_handler(log: ConnectionLog, echo: bool, connections: OpenConnections) -> Any:
    """The per-connection handler: log the handshake, then echo or answer HTTP."""

    def handle(sock: TLSSocket, address: Any) -> None:
        label = log.label()
        received = sent = 0
        try:
            # Open (for a key press) before "connected" is printed: whoever reads
            # that line may act on the connection at once.
            with connections.serving(label, sock):
                log.established(sock.negotiated)
                if echo:
                    while data := sock.recv(65536):
                        received += len(data)
                        sock.sendall(data)
                        sent += len(data)
                else:
                    head = read_request_head(sock)
                    received = len(head)
                    if head:
                        answer = http_answer(sock, head, lambda m: log.note(label, m))
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


def http_answer(sock: TLSSocket, head: bytes, note: Any) -> bytes:
    """The HTTP mode's answer: the connection page, or for ``GET /keyupdate`` the
    page sent after a KeyUpdate asking the client to update too (TLS 1.3), so that
    test tools can trigger one remotely."""
    request_line = head.split(b"\r\n", 1)[0].split(b"\n", 1)[0]
    parts = request_line.split()
    if len(parts) >= 2 and parts[1] == b"/keyupdate":
        if sock.version() != "TLSv1.3":
            return http_response(f"KeyUpdate exists only in TLS 1.3; this connection is "
                                 f"{sock.version()}.\n", "400 Bad Request")
        words = key_update(sock, request_peer_update=True)
        note(f"GET /keyupdate: {words}")
        return http_response(f"{words}; this answer is protected with the new keys.\n\n"
                             + connection_page(sock, head))
    return http_response(connection_page(sock, head))


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


def _announce(view: TextView | JsonView, setup: ServerSetup, server: TLSServer,
              keys: bool) -> None:
    args = setup.args
    host, port = server.address[:2]
    shown_host = f"[{host}]" if ":" in host else host
    leaf = describe_certificate(setup.certified.chain[0])
    versions = ", ".join("TLS 1.3" if v == TLS13 else "TLS 1.2" for v in versions_from(args))
    mode = "echo" if args.echo else "HTTP"
    if isinstance(view, JsonView):
        view.info("listening", event="listening", address=f"{shown_host}:{port}", port=port,
                  mode=mode, versions=[v.label for v in map(ProtocolVersion,
                                                             versions_from(args))],
                  certificates=[describe_certificate(c.chain[0])["subject"]
                                for c in setup.certificates],
                  san=leaf["san"], trust=str(setup.dev_ca) if setup.dev_ca else None,
                  client_auth=args.client_auth, alpn=list(setup.alpn),
                  rsa_key_exchange=args.rsa_key_exchange, interactive_keys=keys,
                  server_names=sorted(setup.server_names))
        return
    view.info(f"glasstls server listening on {shown_host}:{port} ({versions}; {mode})")
    for certified in setup.certificates:
        described = describe_certificate(certified.chain[0])
        view.info(f"  certificate  {described['subject']}; {key_words(described['key'])}; "
                  f"SAN {', '.join(described['san'])}")
    for name, chains in setup.server_names.items():
        for certified in chains:
            described = describe_certificate(certified.chain[0])
            view.info(f"  for {name}:  {described['subject']}; "
                      f"{key_words(described['key'])}; SAN {', '.join(described['san'])}")
    for line in client_hints(setup, host, port):
        view.info(line)
    if keys:
        view.info(f"  {KEYS_HELP}")
    view.info("  Ctrl-C stops it")


def client_hints(setup: ServerSetup, host: str, port: int) -> list[str]:
    """The lines that tell how to connect: which CA to trust, a command to try, and
    with --client-auth how to get a client certificate. Each command works as printed
    (a test runs them)."""
    args = setup.args
    if setup.dev_ca is None:
        return [f"  clients must trust {args.cafile or 'the CA that issued it'}"]
    name = "localhost" if host in ("127.0.0.1", "::1", "0.0.0.0", "::") else host
    name = f"[{name}]" if ":" in name else name
    ca = setup.dev_ca
    state = ca.parent
    lines = [f"  development certificate: clients must trust {ca}"]
    client = f"glasstls client {name}:{port} --cafile {ca}"
    if args.client_auth != "none":
        lines += [
            f"  client certificates: {args.client_auth}; make one from the development CA with:",
            f"    glasstls certs --dir {state} --client alice",
        ]
        client += f" --cert {state / 'alice-client.pem'} --key {state / 'alice-client-key.pem'}"
    if args.tls12:
        client += " --tls1.2"
    lines.append(f"  try: {client}" + ("" if args.echo else " --http /"))
    return lines


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
        return print_failure("server", explain(error), view)
    io_logger = logging.getLogger("glasstls.io")
    failures = _HandshakeFailures(log)
    io_logger.addHandler(failures)
    io_logger.setLevel(logging.INFO)
    io_logger.propagate = False
    connections = OpenConnections()
    try:
        server = serve((args.bind, args.port), make_handler(log, args.echo, connections),
                       config=config, handshake_timeout=HANDSHAKE_TIMEOUT,
                       timeout=IDLE_TIMEOUT)
    except OSError as error:
        io_logger.removeHandler(failures)
        return print_failure("server", explain(CommandError(
            f"cannot listen on {args.bind}:{args.port}: {error.strerror or error}",
            exitcodes.NETWORK)), view)
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    restore_terminal = start_key_reader(connections, log.note)
    try:
        _announce(view, setup, server, keys=restore_terminal is not None)
        problem = staple_problem(config, args.ocsp_response)
        if problem is not None:
            view.warning(problem)
        server.serve_forever()
    except KeyboardInterrupt:
        view.info("stopping", event="stopping")
    finally:
        if restore_terminal is not None:
            restore_terminal()
        server.close(abort_connections=True)
        signal.signal(signal.SIGTERM, previous)
        io_logger.removeHandler(failures)
    view.info("stopped", event="stopped")
    return exitcodes.OK


def _stop_on_sigterm(number: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # stop the same clean way as Ctrl-C


def sni_argument(text: str) -> tuple[str, str, str | None]:
    """``--sni NAME=CERT[,KEY]`` -> (name, certificate file, key file or None)."""
    name, equals, files = text.partition("=")
    cert, _, key = files.partition(",")
    if not equals or not name or not cert:
        raise argparse.ArgumentTypeError(f"expected NAME=CERT[,KEY], not {text!r}")
    return name, cert, key or None


def _count(text: str) -> int:
    if text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(f"expected a number >= 0, not {text!r}")


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
    parser.add_argument("--pass", dest="password", metavar="SOURCE",
                        help="password of an encrypted --key: pass:PASSWORD, env:VARIABLE, "
                        "file:PATH or fd:NUMBER (as openssl's -pass)")
    parser.add_argument("--sni", action="append", type=sni_argument,
                        metavar="NAME=CERT[,KEY]",
                        help="serve CERT (and KEY; default: in CERT) to clients that ask for "
                        "NAME (exact, or *.example.com for one label); repeat for more names "
                        "(and for an RSA and an ECDSA chain under one name); other clients "
                        "get --cert or the development certificate")
    parser.add_argument("--alpn", action="append", metavar="PROTOCOLS",
                        help="ALPN protocols to accept, comma-separated, in preference order "
                        "(in HTTP mode only http/1.1, unless --echo or --alpn-any)")
    parser.add_argument("--alpn-any", action="store_true",
                        help="accept any --alpn protocol even in HTTP mode (for testing how "
                        "clients react; the answers stay HTTP/1.1)")
    parser.add_argument("--client-auth", choices=("none", "optional", "required"),
                        default="none", help="ask clients for a certificate")
    parser.add_argument("--cafile", metavar="FILE",
                        help="CA certificates that client certificates must chain to "
                        "(default with the development certificate: its CA)")
    add_version_flags(parser, "speak")
    parser.add_argument("--suite", "--cipher", dest="suite", type=suite_list_argument,
                        action="append", metavar="NAMES",
                        help="cipher suites to accept, in preference order (IANA or OpenSSL "
                        "names); naming only TLS 1.2 suites keeps TLS 1.3's defaults and "
                        "the reverse")
    parser.add_argument("--rsa-key-exchange", action="store_true",
                        help="also accept TLS 1.2 RSA key transport (TLS_RSA_WITH_AES_*_GCM; "
                        "no forward secrecy; adds an RSA development certificate)")
    parser.add_argument("--group", type=group_argument, action="append", metavar="NAME",
                        help="key exchange group to accept (repeat for several)")
    parser.add_argument("--tickets", type=_count, metavar="N",
                        help="TLS 1.3 session tickets sent after each full handshake (default 2; "
                        "one after a resumption, as OpenSSL; 0 for none)")
    parser.add_argument("--early-data", action="store_true",
                        help=f"accept up to {EARLY_DATA_SIZE} bytes of TLS 1.3 0-RTT data "
                        "with a resumed session (replayable: for idempotent requests only)")
    parser.add_argument("--echo", action="store_true",
                        help="echo what clients send instead of answering HTTP")
    parser.add_argument("--trace", action="store_true", help="show each connection's handshake")
    parser.add_argument("--json", action="store_true",
                        help="print JSON lines (docs/json-schema.json)")
    parser.add_argument("--show-secrets", action="store_true",
                        help="include secret values in the trace")
    add_staple_flag(parser)
    add_compression_flag(parser)
    parser.add_argument("--keylog", metavar="FILE",
                        help="append session secrets to FILE (NSS SSLKEYLOGFILE format)")
    parser.set_defaults(run=run)


__all__ = ["ConnectionLog", "ServerSetup", "add_parser", "client_hints", "connection_page",
           "http_answer", "make_handler", "run"]
