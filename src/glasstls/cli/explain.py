"""``glasstls explain``: every byte of a TLS connection, decrypted and explained.

Three sources, one dissector (``glasstls.explain``):

    glasstls explain https://example.com/           a connection glasstls makes now
    glasstls explain --server --port 8443           each connection glasstls accepts
    glasstls explain --pcap cap.pcapng --keylog keys.log    someone else's, captured

Output: annotated text (default), ``--html FILE`` (one self-contained page) or
``--json``. Secrets are shown as fingerprints unless ``--show-secrets``.
"""

from __future__ import annotations

import argparse
import contextvars
import dataclasses
import json
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..config import ClientConfig, ServerConfig
from ..errors import GlassTLSError
from ..explain.dissect import Explained
from ..explain.html import render_html
from ..explain.keys import KeyLogError, KeyMaterial
from ..explain.recorder import Recorder, Recording
from ..explain.text import render_text
from ..io import TLSSocket, connect, serve
from . import exitcodes
from .common import (
    HelpFormatter,
    add_compression_flag,
    add_ocsp_flag,
    add_staple_flag,
    add_version_flags,
    compression_from,
    http_request,
    http_response,
    load_certified,
    load_trust,
    parse_target,
    print_failure,
    read_request_head,
    staple_from,
    versions_from,
)
from .devstate import ensure_dev_certificates
from .failures import CommandError, explain as explain_failure

EXAMPLES = """\
examples:
  glasstls explain https://localhost:8443/ --cafile ca.pem     a live connection, as text
  glasstls explain https://example.com/ --html example.html    the same as one HTML page
  glasstls explain --server --port 8443 --count 1 --html me.html
                       the next connection accepted (e.g. your browser's), as HTML
  glasstls explain --pcap capture.pcapng --keylog keys.log     a capture (tshark, tcpdump)
  glasstls explain --pcap capture.pcapng --keylog keys.log --json | jq .connections[0].summary
  glasstls demo --explain                      both sides of a local connection

Secrets (traffic secrets, keys) are shown as fingerprints; --show-secrets shows them.
"""

TIMEOUT = 15.0


@dataclasses.dataclass
class Output:
    """Where and how to write what was explained."""

    html: str | None
    json: bool
    show_secrets: bool
    verbose: bool = True

    def write(self, connections: list[tuple[str, Explained]], title: str) -> None:
        if self.html:
            page = render_html(connections, self.show_secrets, title)
            Path(self.html).write_text(page, encoding="utf-8")
            print(f"wrote {self.html} ({len(connections)} connection(s))", file=sys.stderr)
        elif self.json:
            document = {"title": title, "connections": [
                {"name": name, **explained.to_json(self.show_secrets)}
                for name, explained in connections]}
            json.dump(document, sys.stdout, indent=1)
            sys.stdout.write("\n")
        else:
            for name, explained in connections:
                sys.stdout.write(f"== {name}\n")
                sys.stdout.write(render_text(explained, self.show_secrets, self.verbose))


def output_from(args: argparse.Namespace) -> Output:
    return Output(args.html, args.json, args.show_secrets, not args.brief)


def _name(recording: Recording) -> str:
    return f"connection {recording.connection_id} (recorded by the glasstls {recording.side})"


# -- live client ------------------------------------------------------------------------


def _client(args: argparse.Namespace, output: Output) -> int:
    parts = urlsplit(args.url if "://" in args.url else f"https://{args.url}")
    if parts.scheme not in ("https", ""):
        raise CommandError(f"only https:// URLs can be explained, not {parts.scheme}://")
    host, port = parse_target(parts.netloc or "", 443)
    recorder = Recorder()
    options: dict[str, Any] = {}
    if args.cafile:
        options["trust"] = load_trust(args.cafile)
    try:
        options.update(compression_from(args))
        config = ClientConfig(versions=versions_from(args), alpn_protocols=("http/1.1",),
                              verify_certificates=not args.insecure,
                              check_hostname=not args.insecure, recorder=recorder,
                              session_cache=None, ocsp_stapling=args.ocsp, **options)
    except GlassTLSError as error:
        raise CommandError(str(error)) from None
    name = f"https://{host}:{port}{parts.path or '/'}"
    try:
        with connect((host, port), config=config, server_hostname=host,
                     timeout=args.timeout) as sock:
            sock.sendall(http_request(host, parts.path or "/"))
            _read_response(sock)
    except (GlassTLSError, OSError) as error:
        # A handshake that failed is worth seeing too: the bytes up to the alert.
        if any(recording.records for recording in recorder.recordings):
            output.write([(name, recording.explain()) for recording in recorder.recordings],
                         f"glasstls explain {args.url}")
        return print_failure("explain", explain_failure(error, f"{host}:{port}"))
    output.write([(name, recording.explain()) for recording in recorder.recordings],
                 f"glasstls explain {args.url}")
    return exitcodes.OK


def _read_response(sock: TLSSocket) -> None:
    """The response, until the server closes or the body is read (Content-Length)."""
    data = b""
    while len(data) < (1 << 20):
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, OSError):
            return
        if not chunk:
            return
        data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length" and value.strip().isdigit() and (
                    len(body) >= int(value.strip())):
                return


# -- live server ------------------------------------------------------------------------


# The recorder of the connection being served (serve() runs each in a context of its own).
_recorder: contextvars.ContextVar[Recorder] = contextvars.ContextVar("glasstls_explain_recorder")


class _HandshakeFailures(logging.Handler):
    """Hands the recorder of a connection whose handshake failed (the io server logs
    that failure, with the error, in the connection's context) to ``report``."""

    def __init__(self, report: Callable[[Recorder], None]) -> None:
        super().__init__(logging.INFO)
        self.report = report

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args
        recorder = _recorder.get(None)
        if (recorder is not None and isinstance(args, tuple) and len(args) == 2
                and isinstance(args[1], BaseException)):
            self.report(recorder)


def _server(args: argparse.Namespace, output: Output) -> int:
    if args.cert:
        certified = load_certified(args.cert, args.key)
        ca_note = ""
    else:
        files = ensure_dev_certificates()
        certified = load_certified(str(files.cert), str(files.key))
        ca_note = f" (development certificate; its CA is {files.ca})"
    try:
        options: dict[str, Any] = {**compression_from(args), **staple_from(args)}
        config = ServerConfig(certificates=(certified,), versions=versions_from(args),
                              alpn_protocols=("http/1.1",),
                              enable_rsa_key_exchange=args.rsa_key_exchange, **options)
    except GlassTLSError as error:
        raise CommandError(str(error)) from None
    done = threading.Semaphore(0)
    explained: list[tuple[str, Explained]] = []
    lock = threading.Lock()

    def report(recorder: Recorder, address: Any) -> None:
        recordings = [recording for recording in recorder.recordings if recording.records]
        for recording in recordings:  # none for a client that sent nothing (a probe)
            name = _name(recording) + (f" from {address[0]}:{address[1]}" if address
                                       else ": the handshake failed")
            with lock:
                explained.append((name, recording.explain()))
                if output.html is None:
                    output.write(explained[-1:], "glasstls explain --server")
        if recordings:
            done.release()

    def handle(sock: TLSSocket, address: Any) -> None:
        try:
            read_request_head(sock)
            sock.sendall(http_response("This connection is being explained by glasstls; "
                                       "see the terminal that runs glasstls explain.\n"))
            sock.close()
        except (OSError, GlassTLSError):
            pass
        report(_recorder.get(), address)

    def recorded(base: ServerConfig) -> ServerConfig:
        """Each connection's own config, with its own recorder, kept in the
        connection's context (serve() calls this in it)."""
        recorder = Recorder(limit=1)
        _recorder.set(recorder)
        return dataclasses.replace(base, recorder=recorder)

    port = 8443 if args.port is None else args.port
    # A handshake that failed (a client refusing the certificate) is shown too, up to
    # its alert: the server logs it in the connection's context.
    failures = _HandshakeFailures(lambda recorder: report(recorder, None))
    io_logger = logging.getLogger("glasstls.io")
    io_logger.addHandler(failures)
    level = io_logger.level
    io_logger.setLevel(logging.INFO)
    server = serve((args.bind, port), handle, config=config, timeout=TIMEOUT,
                   handshake_timeout=TIMEOUT, connection_config=recorded)
    print(f"explaining connections to https://{args.bind}:{server.address[1]}/{ca_note}",
          file=sys.stderr, flush=True)
    try:
        for _ in range(args.count or sys.maxsize):
            done.acquire()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        io_logger.removeHandler(failures)
        io_logger.setLevel(level)
    if output.html is not None and explained:
        output.write(explained, "glasstls explain --server")
    return exitcodes.OK


# -- capture ----------------------------------------------------------------------------


def _pcap(args: argparse.Namespace, output: Output) -> int:
    try:
        from ..explain.capture import CaptureError, tls_connections
    except ImportError:
        raise CommandError("reading captures needs dpkt: pip install 'glasstls[explain]'",
                           exitcodes.USAGE) from None
    if not args.keylog:
        print("note: no --keylog: only the records in the clear can be read",
              file=sys.stderr)
    try:
        keys = KeyMaterial.from_keylog_file(args.keylog) if args.keylog else KeyMaterial()
        keys.x25519_private_keys += [_private_key(text) for text in args.x25519_key or ()]
        notes: list[str] = []
        connections = tls_connections(args.pcap, args.port, notes)
    except OSError as error:
        raise CommandError(f"cannot read {error.filename}: {error.strerror}",
                           exitcodes.USAGE) from None
    except (KeyLogError, CaptureError) as error:
        raise CommandError(str(error), exitcodes.USAGE) from None
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if not connections:
        raise CommandError(f"no TLS connection found in {args.pcap}", exitcodes.USAGE)
    from ..explain.dissect import dissect

    explained = [(connection.name, dissect(connection.records, keys))
                 for connection in connections]
    output.write(explained, f"glasstls explain {Path(args.pcap).name}")
    return exitcodes.OK


def _private_key(text: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise CommandError(f"--x25519-key wants 32 bytes in hex, not {text[:20]!r}")
    return key


def run(args: argparse.Namespace) -> int:
    output = output_from(args)
    try:
        if args.pcap:
            return _pcap(args, output)
        if args.server:
            return _server(args, output)
        if not args.url:
            raise CommandError("give a URL, --server or --pcap (see glasstls explain --help)",
                               exitcodes.USAGE)
        return _client(args, output)
    except (CommandError, GlassTLSError, OSError) as error:
        return print_failure("explain", explain_failure(error))


def add_parser(subparsers: Any) -> None:
    """Add ``explain`` to the ``glasstls`` parser (``main.build_parser`` calls this)."""
    parser = subparsers.add_parser(
        "explain", help="every byte of a TLS connection, decrypted and explained",
        description="Show every byte of a TLS connection, record by record: the header, "
        "the ciphertext, its decryption, each handshake message as a tree of fields (value, "
        "meaning, RFC section), and the key schedule step by step. The connection is one "
        "glasstls makes (URL), accepts (--server), or one in a capture (--pcap with the "
        "NSS key log that decrypts it).",
        epilog=EXAMPLES, formatter_class=HelpFormatter)
    parser.add_argument("url", nargs="?", metavar="URL",
                        help="connect to this https:// URL, GET it and explain the connection")
    parser.add_argument("--server", action="store_true",
                        help="accept connections and explain each one")
    parser.add_argument("--pcap", metavar="FILE", help="explain the TLS connections in a pcap "
                        "or pcapng capture")
    parser.add_argument("--keylog", metavar="FILE",
                        help="with --pcap: the NSS key log (SSLKEYLOGFILE) that decrypts it")
    parser.add_argument("--x25519-key", action="append", metavar="HEX",
                        help="with --pcap: an X25519 ephemeral private key of either side "
                        "(RFC 8448 lists them); the whole key schedule is then computed, not "
                        "only what the key log gives")
    parser.add_argument("--port", type=int, default=None, metavar="N",
                        help="--server: the port to listen on (default 8443); --pcap: only "
                        "connections on this port")
    parser.add_argument("--bind", default="127.0.0.1", metavar="ADDRESS",
                        help="--server: the address to listen on (default 127.0.0.1)")
    parser.add_argument("--count", type=int, default=0, metavar="N",
                        help="--server: stop after N connections (default: until Ctrl-C)")
    parser.add_argument("--cert", metavar="FILE", help="--server: certificate chain (PEM; "
                        "default: the development certificate)")
    parser.add_argument("--key", metavar="FILE", help="--server: private key (PEM)")
    parser.add_argument("--rsa-key-exchange", action="store_true",
                        help="--server: also accept TLS 1.2 RSA key transport")
    add_staple_flag(parser, "--server: ")
    parser.add_argument("--cafile", metavar="FILE", help="URL: trust these CAs (PEM)")
    add_ocsp_flag(parser, "URL: ")
    parser.add_argument("--insecure", action="store_true",
                        help="URL: do not verify the server's certificate")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, metavar="SECONDS",
                        help=f"URL: give up after this long (default {TIMEOUT:g})")
    add_compression_flag(parser)
    add_version_flags(parser, "glasstls speaks")
    parser.add_argument("--html", metavar="FILE", help="write one self-contained HTML page")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--brief", action="store_true",
                        help="text: leave out what each field means")
    parser.add_argument("--show-secrets", action="store_true",
                        help="show secrets and keys themselves, not their fingerprints")
    parser.set_defaults(run=run)


__all__ = ["add_parser", "run"]
