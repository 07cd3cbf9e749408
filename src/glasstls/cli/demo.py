"""``glasstls demo``: a real TLS handshake between a glasstls client and a glasstls
server on this machine, shown step by step from both sides, with the real values.

It makes a development CA and a server certificate in memory, starts a server on
127.0.0.1 (a free port), connects a client that trusts that CA, sends an HTTP
request over the channel and prints the answer, then a summary.

    glasstls demo
    glasstls demo --tls1.2 --rsa-key-exchange --show-secrets
    glasstls demo --group secp256r1        # the server wants P-256: HelloRetryRequest
    glasstls demo --mutual --json | jq .step
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .. import trace as t
from ..certs import CertifiedKey, TrustStore
from ..config import ClientConfig, ServerConfig
from ..constants import TLS12, TLS13
from ..crypto.devpki import Issued, make_ca, make_leaf, make_ocsp_response
from ..crypto.groups import Group, hybrid_words
from ..crypto.suites import RSA_KEY_TRANSPORT_SUITES, Suite
from ..errors import GlassTLSError
from ..events import HandshakeComplete
from ..io import KeyLogFile, TLSSocket, connect, serve
from ..ocsp import StapleCallback, describe_response, summary_of
from ..trace import TraceEvent
from . import exitcodes
from .common import (
    MAX_HEAD,
    HelpFormatter,
    add_version_flags,
    group_argument,
    head_complete,
    http_request,
    http_response,
    print_failure,
    suite_argument,
    versions_from,
)
from .failures import CommandError, explain
from .render import JsonView, TextView, View, key_words, open_view, redact
from .tap import Tap

SERVER_NAME = "localhost"
# Every blocking step of the demo gives up after this long rather than hang.
TIMEOUT = 15.0

EXAMPLES = """\
examples:
  glasstls demo                                 TLS 1.3, hybrid post-quantum key exchange
  glasstls demo --tls1.2                        TLS 1.2 with ECDHE
  glasstls demo --tls1.2 --rsa-key-exchange     the client encrypts the pre-master secret
                                                to the server's RSA key (no forward secrecy)
  glasstls demo --group secp256r1               the server wants P-256: HelloRetryRequest
  glasstls demo --mutual                        the client authenticates too
  glasstls demo --ocsp                          the server staples an OCSP response
  glasstls demo --show-secrets                  print the secrets and keys themselves
  glasstls demo --json                          one JSON object per line
  glasstls demo --keylog keys.log               NSS key log (for Wireshark)
"""


@dataclass(frozen=True)
class DemoSettings:
    """What ``glasstls demo`` was asked for (validated by ``settings_from``)."""

    versions: tuple[int, ...] = (TLS13, TLS12)
    rsa_key_exchange: bool = False
    mutual: bool = False
    group: Group | None = None
    suite: Suite | None = None
    keylog: str | None = None
    path: str = "/"
    # Record both sides byte by byte for ``--explain``.
    explain: bool = False
    # OCSP stapling: the server staples a response from the demo CA, the client
    # requires and checks it.
    ocsp: bool = False

    @property
    def server_key_type(self) -> str:
        rsa = self.rsa_key_exchange or (self.suite is not None
                                        and self.suite.authentication == "RSA")
        return "rsa-2048" if rsa else "ecdsa-p256"


@dataclass
class Exchange:
    """Application data as the demo saw it (the HTTP request or response)."""

    timestamp: float
    direction: str
    title: str
    text: str


@dataclass
class DemoResult:
    settings: DemoSettings
    ca: Issued
    server_certificate: Issued
    events: list[TraceEvent] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    client: HandshakeComplete | None = None
    server: HandshakeComplete | None = None
    failure: BaseException | None = None
    server_address: tuple[str, int] = ("127.0.0.1", 0)
    tap_address: tuple[str, int] = ("127.0.0.1", 0)
    client_to_server: int = 0
    server_to_client: int = 0
    response: bytes = b""
    started: float = 0.0
    # With --explain: the client's and the server's recordings of the connection.
    recorder: Any = None

    def timeline(self) -> list[TraceEvent | Exchange]:
        """Both sides' trace events and the exchanges, in time order."""
        items: list[TraceEvent | Exchange] = [*self.events, *self.exchanges]
        return sorted(items, key=lambda item: item.timestamp)

    def steps(self, side: str | None = None) -> list[tuple[str, str, str]]:
        """(side, action, step) of each event in time order."""
        return [(e.side, e.action, e.step) for e in sorted(self.events, key=lambda e: e.timestamp)
                if side is None or e.side == side]


def settings_from(args: argparse.Namespace) -> DemoSettings:
    """Check the options fit together and say what both sides will use."""
    versions = versions_from(args)
    suite: Suite | None = args.suite
    group: Group | None = args.group
    rsa = bool(args.rsa_key_exchange) or (suite is not None and suite.key_exchange == "RSA")
    if rsa:
        if versions == (TLS13,):
            raise CommandError("RSA key exchange exists only in TLS 1.2 (drop --tls1.3)")
        versions = (TLS12,)
        if suite is not None and suite.key_exchange != "RSA":
            raise CommandError(f"--rsa-key-exchange needs an RSA key transport suite, not "
                               f"{suite.name}")
    if suite is not None:
        suite_version = TLS13 if suite.is_tls13 else TLS12
        if suite_version not in versions:
            raise CommandError(f"{suite.name} is a TLS {'1.3' if suite.is_tls13 else '1.2'} "
                               "suite, but that version is turned off")
        versions = (suite_version,)
    if group is not None and not group.tls12 and versions == (TLS12,):
        raise CommandError(f"{group.name} is used only by TLS 1.3")
    if group is not None and rsa:
        raise CommandError("RSA key exchange uses no group; drop --group")
    return DemoSettings(versions=versions, rsa_key_exchange=rsa, mutual=bool(args.mutual),
                        group=group, suite=suite, keylog=args.keylog, path=args.path,
                        explain=args.explain is not None, ocsp=bool(args.ocsp))


def run_demo(settings: DemoSettings) -> DemoResult:
    """Run the whole demo without printing: both sides' trace, the HTTP exchange,
    what each side negotiated, and the bytes on the wire.

    >>> result = run_demo(DemoSettings())
    >>> result.client.version, result.failure
    ('TLSv1.3', None)
    """
    ca = make_ca("glasstls demo CA")
    leaf = make_leaf(ca, (SERVER_NAME, "127.0.0.1"), key_type=settings.server_key_type)
    result = DemoResult(settings, ca, leaf)
    events = result.events
    lock = threading.Lock()

    def record(event: TraceEvent) -> None:
        with lock:
            events.append(event)

    server_config, client_config = _configs(settings, ca, leaf, record)
    if settings.explain:
        from ..explain.recorder import Recorder

        result.recorder = Recorder()
        server_config = replace(server_config, recorder=result.recorder)
        client_config = replace(client_config, recorder=result.recorder)
    server_seen: list[HandshakeComplete | None] = []

    def handler(sock: TLSSocket, address: Any) -> None:
        try:
            server_seen.append(sock.negotiated)
            head = _read_head(sock)
            sock.sendall(http_response(_server_page(sock.negotiated, head)))
        except (OSError, GlassTLSError):
            pass  # the client's side reports what went wrong

    result.started = time.monotonic()
    server = serve(("127.0.0.1", 0), handler, config=server_config, timeout=TIMEOUT,
                   handshake_timeout=TIMEOUT)
    tap = Tap(server.address)
    result.server_address, result.tap_address = server.address, tap.address
    try:
        with connect(tap.address, config=client_config, server_hostname=SERVER_NAME,
                     timeout=TIMEOUT) as sock:
            result.client = sock.negotiated
            request = http_request(SERVER_NAME, settings.path)
            result.exchanges.append(Exchange(time.monotonic(), "client->server",
                                             "HTTP request", request.decode()))
            sock.sendall(request)
            result.response, first = _read_all(sock)
            result.exchanges.append(Exchange(first, "server->client", "HTTP response",
                                             result.response.decode("utf-8", "replace")))
    except (OSError, GlassTLSError) as error:
        result.failure = error
    finally:
        server.close(abort_connections=result.failure is not None)
        tap.close()
    result.server = server_seen[0] if server_seen else None
    result.client_to_server, result.server_to_client = tap.client_to_server, tap.server_to_client
    return result


def _configs(settings: DemoSettings, ca: Issued, leaf: Issued,
             record: t.TraceCallback) -> tuple[ServerConfig, ClientConfig]:
    trust = TrustStore([ca.certificate])
    server_options: dict[str, Any] = {}
    if settings.suite is not None:
        server_options["cipher_suites"] = (settings.suite.id,)
    elif settings.rsa_key_exchange:
        server_options["cipher_suites"] = RSA_KEY_TRANSPORT_SUITES
    if settings.group is not None:
        server_options["groups"] = (settings.group.id,)
    if settings.mutual:
        server_options.update(client_auth="required", client_trust=trust)
    client_options: dict[str, Any] = {}
    if settings.ocsp:
        staple = make_ocsp_response(ca, leaf.certificate)
        server_options["ocsp_staple"] = StapleCallback(lambda certificate: staple)
        client_options["ocsp_stapling"] = "require"
    # The demo always asks the engine for secret values so that it can compare
    # both sides' keys; they are shown only with --show-secrets (see redact).
    server_config = ServerConfig(
        certificates=(CertifiedKey((leaf.certificate,), leaf.key),),
        versions=settings.versions, enable_rsa_key_exchange=settings.rsa_key_exchange,
        trace=record, trace_secrets=True, **server_options)
    client_certificate = None
    if settings.mutual:
        issued = make_leaf(ca, ("glasstls demo client",), client=True)
        client_certificate = CertifiedKey((issued.certificate,), issued.key)
    client_config = ClientConfig(
        trust=trust, versions=settings.versions,
        enable_rsa_key_exchange=settings.rsa_key_exchange, certificate=client_certificate,
        keylog=KeyLogFile(settings.keylog) if settings.keylog else None,
        session_cache=None, trace=record, trace_secrets=True, **client_options)
    return server_config, client_config


def _read_head(sock: TLSSocket) -> bytes:
    data = b""
    while not head_complete(data) and len(data) < MAX_HEAD:
        chunk = sock.recv(MAX_HEAD)
        if not chunk:
            break
        data += chunk
    return data


def _read_all(sock: TLSSocket) -> tuple[bytes, float]:
    """Everything until the server's close_notify, and when its first byte came."""
    parts: list[bytes] = []
    first = 0.0
    while chunk := sock.recv(65536):
        if not parts:
            first = time.monotonic()
        parts.append(chunk)
    return b"".join(parts), first or time.monotonic()


def _server_page(negotiated: HandshakeComplete | None, head: bytes) -> str:
    request_line = head.split(b"\r\n", 1)[0].decode("ascii", "replace")
    if negotiated is None:
        return "Hello from the glasstls demo server.\n"
    return (f"Hello from the glasstls demo server.\n"
            f"You asked for: {request_line}\n"
            f"over {negotiated.version} with {negotiated.cipher_suite}"
            f" (key exchange {negotiated.key_exchange}).\n")


# -- showing the result ------------------------------------------------------------


def compare_secrets(events: Sequence[TraceEvent]) -> list[tuple[str, bool]]:
    """(name, same on both sides) for each secret both sides traced, in order.

    A secret traced more than once on a side (a key update) is compared as the
    whole sequence of its values.
    """
    values: dict[str, dict[str, list[str]]] = {"client": {}, "server": {}}
    for event in sorted(events, key=lambda e: e.timestamp):
        for name, value in event.secrets.items():
            values.setdefault(event.side, {}).setdefault(name, []).append(value)
    return [(name, client_values == values["server"][name])
            for name, client_values in values["client"].items() if name in values["server"]]


def negotiated_dict(negotiated: HandshakeComplete | None) -> dict[str, Any] | None:
    """The HandshakeComplete event as JSON-friendly values (certificates counted)."""
    if negotiated is None:
        return None
    return {
        "version": negotiated.version, "cipher_suite": negotiated.cipher_suite,
        "key_exchange": negotiated.key_exchange, "group": negotiated.group,
        "signature_scheme": negotiated.signature_scheme,
        "alpn": negotiated.alpn_protocol, "server_name": negotiated.server_name,
        "resumed": negotiated.resumed,
        "extended_master_secret": negotiated.extended_master_secret,
        "peer_certificates": len(negotiated.peer_certificates),
        "certificate_compression": negotiated.certificate_compression,
        "ocsp_status": negotiated.ocsp_status,
    }


def time_per_step(events: Sequence[TraceEvent]) -> dict[str, float]:
    """Milliseconds spent reaching each step (from the event before it, either side),
    summed per step name, over the handshake: up to the last Established."""
    ordered = sorted(events, key=lambda e: e.timestamp)
    last = max((i for i, e in enumerate(ordered) if e.step == t.ESTABLISHED), default=-1)
    totals: dict[str, float] = {}
    for previous, event in itertools.pairwise(ordered[:last + 1]):
        totals[event.step] = totals.get(event.step, 0.0) + (event.timestamp
                                                            - previous.timestamp) * 1000
    return {step: round(ms, 3) for step, ms in totals.items()}


def _find(events: Sequence[TraceEvent], step: str | frozenset[str], side: str,
          action: str | None = None) -> TraceEvent | None:
    steps = {step} if isinstance(step, str) else step
    for event in events:
        if event.step in steps and event.side == side and (action is None
                                                           or event.action == action):
            return event
    return None


def _authenticated(result: DemoResult) -> dict[str, str]:
    events = result.events
    who: dict[str, str] = {}
    for side, peer in (("client", "server"), ("server", "client")):
        verification = _find(events, t.CERTIFICATE_VERIFICATION, side)
        certificate = _find(events, t.CERTIFICATE_STEPS, side, t.RECEIVED)
        chain = certificate.details.get("chain", []) if certificate else []
        subject = chain[0].get("subject", "?") if chain else "?"
        if verification is None:
            who[peer] = ("not asked for a certificate (--mutual asks)" if peer == "client"
                         else "not verified")
        elif verification.details.get("result") == "ok":
            name = verification.details.get("host_name")
            for_name = f" for the name {name}" if name else ""
            anchor = verification.details.get("trust_anchor")
            who[peer] = f"yes: {subject} verified against {anchor}{for_name}"
        else:
            who[peer] = f"no: {verification.details.get('reason', verification.details)}"
    return who


def _key_exchange_words(result: DemoResult, negotiated: HandshakeComplete) -> str:
    exchange = _find(result.events, t.CLIENT_KEY_EXCHANGE, "client", t.SENT)
    if exchange is not None and exchange.details.get("key_exchange") == "RSA":
        details = exchange.details
        return (f"RSA key transport: the client made a {details.get('pre_master_secret_bytes')}"
                f"-byte pre-master secret and encrypted it to the server's "
                f"{key_words(str(details.get('server_key', 'RSA')))} key "
                f"({details.get('encrypted_pre_master_secret_bytes')} bytes on the wire); "
                "no forward secrecy")
    shares = _find(result.events, t.KEY_EXCHANGE, "client")
    words = negotiated.key_exchange
    if shares is not None:
        parts = hybrid_words(str(shares.details.get("group")))
        hybrid = f" (hybrid: {parts})" if parts else ""
        words = (f"{shares.details.get('group')}{hybrid}: client share "
                 f"{shares.details.get('client_share_bytes')} bytes, server share "
                 f"{shares.details.get('server_share_bytes')} bytes")
    return words


def summarize(result: DemoResult, show_secrets: bool) -> tuple[list[tuple[str, str]],
                                                                 dict[str, Any]]:
    """The summary rows (text) and the same facts as data (JSON)."""
    negotiated = result.client
    compared = compare_secrets(result.events)
    keys_match = bool(compared) and all(same for _, same in compared)
    application = {"sent": 0, "received": 0}
    for event in result.events:
        if event.step == t.APPLICATION_DATA and event.side == "client":
            key = "sent" if event.action == t.SENT else "received"
            application[key] += int(event.details.get("bytes", 0))
    steps = time_per_step(result.events)
    handshake_ms = round(sum(steps.values()), 3)
    authenticated = _authenticated(result)
    data: dict[str, Any] = {
        "ok": result.failure is None and keys_match,
        "negotiated": negotiated_dict(negotiated),
        "server_negotiated": negotiated_dict(result.server),
        # Machine values here; the words are in the text summary's rows.
        "authenticated": {peer: words.startswith("yes") for peer, words in authenticated.items()},
        "keys_match": keys_match,
        "secrets_compared": [name for name, _ in compared],
        "bytes": {"client_to_server": result.client_to_server,
                  "server_to_client": result.server_to_client,
                  "application_sent": application["sent"],
                  "application_received": application["received"]},
        "handshake_ms": handshake_ms,
        "time_per_step_ms": [{"step": step, "ms": ms} for step, ms in steps.items()],
    }
    if result.failure is not None:
        data["error"] = explain(result.failure, "the demo server").message
    rows: list[tuple[str, str]] = []
    if negotiated is not None:
        rows += [
            ("version", negotiated.version),
            ("cipher suite", negotiated.cipher_suite),
            ("group", negotiated.group or "none (RSA key transport)"),
            ("key exchange", _key_exchange_words(result, negotiated)),
            ("signature", negotiated.signature_scheme or "none (RSA key transport: the "
             "server proves its key by decrypting)"),
        ]
    compressed = _find(result.events, t.COMPRESSED_CERTIFICATE, "client", t.RECEIVED)
    if compressed is not None:
        details = compressed.details
        rows.append(("certificate", f"compressed with {details.get('algorithm')} (RFC 8879): "
                                    f"{details.get('uncompressed_length')} bytes sent as "
                                    f"{details.get('compressed_length')}"))
    if negotiated is not None and negotiated.ocsp_response:
        rows.append(("OCSP staple", f"checked by the client: "
                                    f"{summary_of(describe_response(negotiated.ocsp_response))}"))
    rows += [("server authenticated", authenticated["server"]),
             ("client authenticated", authenticated["client"])]
    names = ", ".join(name for name, _ in compared)
    if not compared:
        rows.append(("session keys", "not derived"))
    elif keys_match:
        how = ("the values above match" if show_secrets else
               "compared in memory; fingerprints above, values hidden: --show-secrets "
               "prints them")
        rows.append(("session keys", f"client and server derived the same values ({how}):\n"
                                     f"{names}"))
    else:
        different = ", ".join(name for name, same in compared if not same)
        rows.append(("session keys", f"DIFFERENT on the two sides: {different}"))
    rows.append(("bytes on the wire", f"client -> server {result.client_to_server}, "
                                      f"server -> client {result.server_to_client}"))
    rows.append(("application data", f"{application['sent']} bytes sent, "
                                     f"{application['received']} bytes received"))
    rows.append(("handshake time", f"{handshake_ms:.2f} ms"))
    rows.append(("time per step", "from the event before it, summed per step name:\n"
                 + "\n".join(f"{step:<24}{ms:8.2f} ms" for step, ms in steps.items())))
    if result.failure is not None:
        rows.append(("result", data["error"]))
    return rows, data


def show(result: DemoResult, view: View, show_secrets: bool) -> None:
    """Print the demo: how it is set up, the timeline, the summary."""
    settings = result.settings
    host, port = result.server_address[:2]
    ca_name = result.ca.certificate.subject.rfc4514_string()
    leaf_key = "RSA 2048-bit" if settings.server_key_type.startswith("rsa") else "ECDSA P-256"
    versions = ["TLS 1.3" if v == TLS13 else "TLS 1.2" for v in settings.versions]
    if isinstance(view, JsonView):
        view.info("glasstls demo", event="demo", server=f"{host}:{port}",
                  tap=f"{result.tap_address[0]}:{result.tap_address[1]}", ca=ca_name,
                  server_key=leaf_key, versions=versions, mutual=settings.mutual,
                  rsa_key_exchange=settings.rsa_key_exchange,
                  group=settings.group.name if settings.group else None,
                  suite=settings.suite.name if settings.suite else None,
                  show_secrets=show_secrets)
    else:
        view.info(f"glasstls demo: a TLS handshake between a glasstls client and a glasstls "
                  f"server on {host}:{port}")
        view.info(f"  CA      {ca_name} (made in memory just now; the client trusts only it)")
        view.info(f"  server  certificate for {SERVER_NAME}, 127.0.0.1 with an {leaf_key} key"
                  + _server_offer(settings))
        view.info(f"  client  connects as {SERVER_NAME!r} through a byte-counting relay on "
                  f"port {result.tap_address[1]}; offers " + ", ".join(versions)
                  + ("; has a client certificate" if settings.mutual else ""))
        if not show_secrets:
            view.info("  secret values are hidden (fingerprints only); --show-secrets "
                      "prints them")
    if isinstance(view, TextView):
        view.heading("Trace (ms since the first ClientHello; who saw it; sent, received "
                     "or computed; direction on the wire)")
        view.origin = min((e.timestamp for e in result.events), default=result.started)
    for item in result.timeline():
        if isinstance(item, Exchange):
            view.exchange(item.timestamp, item.direction, item.title, item.text)
        else:
            shown, prints = redact(item, show_secrets)
            view.event(shown, prints)
    rows, data = summarize(result, show_secrets)
    view.summary(rows, data)


def _server_offer(settings: DemoSettings) -> str:
    parts = []
    if settings.suite is not None:
        parts.append(f"accepts only {settings.suite.name}")
    elif settings.rsa_key_exchange:
        parts.append("accepts only RSA key transport suites")
    if settings.group is not None:
        parts.append(f"accepts only the group {settings.group.name}")
        if settings.group.name not in ("X25519MLKEM768", "x25519") and (
                TLS13 in settings.versions):
            parts.append("the client's first key shares are for X25519MLKEM768 and x25519, "
                         "so expect a HelloRetryRequest")
    if settings.mutual:
        parts.append("requires a client certificate")
    return "; " + "; ".join(parts) if parts else ""


def run(args: argparse.Namespace) -> int:
    """Run ``glasstls demo`` with parsed arguments; returns the exit code.

    >>> from glasstls.cli.main import build_parser
    >>> run(build_parser().parse_args(["demo", "--tls1.2"]))
    0
    """
    try:
        settings = settings_from(args)
    except CommandError as error:
        return print_failure("demo", explain(error))
    try:
        result = run_demo(settings)
    except KeyboardInterrupt:
        return exitcodes.INTERRUPTED
    except GlassTLSError as error:
        return print_failure("demo", explain(error))
    view = open_view(sys.stdout, json_lines=args.json)
    show(result, view, args.show_secrets)
    if result.failure is not None:
        return print_failure("demo", explain(result.failure, "the demo server"))
    if args.explain is not None:
        _explain(result, args.explain, args.json, args.show_secrets)
    _, data = summarize(result, args.show_secrets)
    if not data["keys_match"]:
        return print_failure("demo", explain(CommandError(
            "client and server derived different keys", exitcodes.TLS)))
    return exitcodes.OK


def _explain(result: DemoResult, html_file: str, json_lines: bool, show_secrets: bool) -> None:
    """Every byte of the demo's connection, as the server recorded it (its secrets
    include the RSA decryption of the pre-master secret); the client's recording
    saw the same records."""
    from ..explain.html import render_html
    from ..explain.text import render_text

    recordings = {r.side: r for r in result.recorder.recordings}
    server = recordings.get("server")
    if server is None:
        return
    title = "glasstls demo: every byte of the connection"
    explained = server.explain()
    client = recordings.get("client")
    for sender in ("client", "server"):
        # The same records each way (one side may have stopped reading before the end).
        seen = [[r.data for r in recording.records if r.sender == sender]
                for recording in (client or server, server)]
        common = min(len(seen[0]), len(seen[1]))
        if seen[0][:common] != seen[1][:common]:
            explained.notes.append(f"the two sides recorded different {sender} records")
    if html_file != "-":
        with open(html_file, "w", encoding="utf-8") as page:
            page.write(render_html([(title, explained)], show_secrets, title))
        print(f"wrote {html_file}", file=sys.stderr)
    elif json_lines:
        print(json.dumps({"explain": explained.to_json(show_secrets)}))
    else:
        sys.stdout.write("\n" + render_text(explained, show_secrets))


def add_parser(subparsers: Any) -> None:
    """Add ``demo`` to the ``glasstls`` parser (``main.build_parser`` calls this).

    >>> add_parser(argparse.ArgumentParser().add_subparsers())
    """
    parser = subparsers.add_parser(
        "demo", help="watch a TLS handshake between a glasstls client and server, step by step",
        description="Run a glasstls server on 127.0.0.1 with a fresh development certificate, "
        "connect a glasstls client to it, and show the handshake from both sides in time "
        "order with the real values, then an HTTP request and response over the channel "
        "and a summary. Needs no network and no files.",
        epilog=EXAMPLES, formatter_class=HelpFormatter)
    add_version_flags(parser, "both sides speak")
    parser.add_argument("--rsa-key-exchange", action="store_true",
                        help="TLS 1.2 RSA key transport: the client encrypts the pre-master "
                        "secret to the server's RSA key (implies --tls1.2 and an RSA "
                        "certificate)")
    parser.add_argument("--mutual", action="store_true",
                        help="the server requires a client certificate (mutual TLS)")
    parser.add_argument("--group", type=group_argument, metavar="NAME",
                        help="the only key exchange group the server accepts (X25519MLKEM768, "
                        "x25519, secp256r1, secp384r1)")
    parser.add_argument("--suite", type=suite_argument, metavar="NAME",
                        help="the only cipher suite the server accepts (IANA or OpenSSL name)")
    parser.add_argument("--ocsp", action="store_true",
                        help="OCSP stapling: the server staples a response from the demo CA "
                        "and the client requires and checks it")
    parser.add_argument("--json", action="store_true",
                        help="print JSON lines (one per trace event) instead of text")
    parser.add_argument("--show-secrets", action="store_true",
                        help="print the secret values (shared secrets, traffic secrets, keys)")
    parser.add_argument("--keylog", metavar="FILE",
                        help="append the session's secrets to FILE in the NSS SSLKEYLOGFILE "
                        "format (for Wireshark)")
    parser.add_argument("--path", default="/", help="the path of the HTTP request (default /)")
    parser.add_argument("--explain", nargs="?", const="-", metavar="FILE.html",
                        help="then show every byte of the connection, decrypted and explained "
                        "(as text, or as one HTML page written to FILE.html)")
    parser.set_defaults(run=run)


__all__ = ["DemoResult", "DemoSettings", "add_parser", "compare_secrets", "run", "run_demo",
           "settings_from", "show", "summarize", "time_per_step"]
