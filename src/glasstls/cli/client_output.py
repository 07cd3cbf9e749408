"""What ``glasstls client`` shows: the connection's facts as machine values (for
``--json``) and as rows of text (for people), the server's data, an HTTP response.

The facts are gathered once, in ``describe_connection``, so the text and the JSON
always say the same thing.
"""

from __future__ import annotations

import base64
import os
import socket
import ssl
import sys
import threading
from typing import Any, BinaryIO

from cryptography import x509

from .. import trace as t
from ..certs import describe_certificate
from ..errors import GlassTLSError
from ..io import TLSSocket
from ..ocsp import describe_response, summary_of
from ..session import ClientSession
from ..trace import TraceEvent
from . import exitcodes
from .failures import CommandError
from .http import Response
from .render import JsonView, TextView, key_words

_LABEL = 14


class Handshake:
    """What the trace tells about the client certificate: whether the server asked
    for one and what we sent. Its ``observer`` is the config's trace callback, and
    passes events on to the output when ``--trace`` is on."""

    def __init__(self) -> None:
        self.requested = False
        self.sent_subject: str | None = None

    def reset(self) -> None:
        self.requested = False
        self.sent_subject = None

    def observer(self, output: Output) -> Any:
        def on_event(event: TraceEvent) -> None:
            if event.side == "client":
                if event.step == t.CERTIFICATE_REQUEST and event.action == t.RECEIVED:
                    self.requested = True
                elif event.step == t.CERTIFICATE and event.action == t.SENT:
                    chain = event.details.get("chain") or []
                    self.sent_subject = str(chain[0].get("subject")) if chain else None
            output.trace(event)

        return on_event


def _certificate_json(der: bytes) -> dict[str, Any]:
    leaf = describe_certificate(x509.load_der_x509_certificate(der))
    return {key: leaf[key] for key in ("subject", "issuer", "key", "not_before", "not_after",
                                       "san", "serial") if key in leaf}


def describe_connection(sock: TLSSocket, handshake: Handshake, verified: bool,
                        server_name: str | None) -> dict[str, Any]:
    """What was negotiated, as JSON values (no words for people)."""
    negotiated = sock.negotiated
    assert negotiated is not None
    peer = sock.getpeername()
    anchor = None
    if verified and negotiated.verified_chain:
        anchor = x509.load_der_x509_certificate(
            negotiated.verified_chain[-1]).subject.rfc4514_string()
    return {
        "address": peer[0], "port": peer[1], "server_name": server_name,
        "version": negotiated.version, "cipher_suite": negotiated.cipher_suite,
        "key_exchange": negotiated.key_exchange, "group": negotiated.group,
        "signature_scheme": negotiated.signature_scheme, "alpn": negotiated.alpn_protocol,
        "resumed": negotiated.resumed, "early_data_accepted": negotiated.early_data_accepted,
        "extended_master_secret": negotiated.extended_master_secret,
        # RFC 8879 (how the certificate came) and the stapled OCSP response's verdict.
        "certificate_compression": negotiated.certificate_compression,
        "ocsp_status": negotiated.ocsp_status,
        "ocsp_staple": (describe_response(negotiated.ocsp_response)
                        if negotiated.ocsp_response else None),
        "verified": verified, "trust_anchor": anchor,
        "verified_name": (negotiated.server_name or server_name) if verified else None,
        "certificate": (_certificate_json(negotiated.peer_certificates[0])
                        if negotiated.peer_certificates else None),
        "client_certificate": {"requested": handshake.requested,
                               "sent": handshake.sent_subject is not None,
                               "subject": handshake.sent_subject},
    }


def connection_rows(facts: dict[str, Any]) -> list[tuple[str, str]]:
    """The same facts as (label, text) rows."""
    key_exchange = facts["key_exchange"]
    if facts["group"] and facts["group"] not in key_exchange:
        key_exchange += f" (group {facts['group']})"
    rows = [
        ("protocol", f"{facts['version']}, {facts['cipher_suite']}"),
        ("key exchange", key_exchange),
        ("signature", facts["signature_scheme"] or "none"),
        ("ALPN", facts["alpn"] or "none"),
        ("resumed", "yes (no certificate exchanged: the session was resumed)"
         if facts["resumed"] else "no (full handshake)"),
    ]
    leaf = facts["certificate"]
    if leaf:
        rows.append(("certificate", f"{leaf['subject']}; issuer {leaf['issuer']}; "
                                    f"{key_words(leaf['key'])}; valid until "
                                    f"{leaf['not_after'][:10]}; SAN "
                                    f"{', '.join(leaf['san']) or '(none)'}"))
    if facts["certificate_compression"]:
        rows.append(("compression", f"the certificate came compressed with "
                                    f"{facts['certificate_compression']} (RFC 8879)"))
    if facts["ocsp_staple"]:
        checked = "checked" if facts["ocsp_status"] else "NOT checked (--insecure)"
        rows.append(("OCSP", f"stapled response {checked}: "
                             f"{summary_of(facts['ocsp_staple'])}"))
    if not facts["verified"]:
        rows.append(("verified", "NO: --insecure, the certificate was not checked"))
    elif facts["trust_anchor"]:
        rows.append(("verified", f"yes, against {facts['trust_anchor']} for the name "
                                 f"{facts['verified_name']}"))
    elif facts["resumed"]:
        rows.append(("verified", "yes, when the session was first established"))
    client = facts["client_certificate"]
    if client["sent"]:
        words = f"sent: {client['subject']} (the server asked for one)"
    elif client["requested"]:
        words = "none sent: the server asked for one (give it with --cert and --key)"
    else:
        words = "none sent (the server did not ask for one)"
    rows.append(("client cert", words))
    return rows


def show_chain(output: Output, sock: TLSSocket) -> None:
    """``--showcerts``: the chain as the server sent it, each certificate as PEM."""
    chain = sock.negotiated.peer_certificates if sock.negotiated else ()
    entries = []
    for index, der in enumerate(chain):
        certificate = x509.load_der_x509_certificate(der)
        entries.append({"depth": index, "subject": certificate.subject.rfc4514_string(),
                        "issuer": certificate.issuer.rfc4514_string(),
                        "pem": ssl.DER_cert_to_PEM_cert(der)})
    output.chain(entries, resumed=bool(sock.negotiated and sock.negotiated.resumed))


class Output:
    """Where the client's output goes: text on stderr (data on stdout), or JSON lines."""

    def __init__(self, view: JsonView | TextView, output_path: str | None,
                 show_trace: bool) -> None:
        self.view = view
        self.show_trace = show_trace
        self.output_path = output_path
        self._file: BinaryIO | None = None
        self._lock = threading.Lock()

    @property
    def json(self) -> bool:
        return isinstance(self.view, JsonView)

    def _sink(self) -> BinaryIO:
        if self._file is None:
            if self.output_path is None:
                self._file = sys.stdout.buffer
            else:
                try:
                    self._file = open(self.output_path, "wb")  # noqa: SIM115 (closed in close)
                except OSError as error:
                    raise CommandError(f"cannot write {self.output_path}: "
                                       f"{error.strerror}") from None
        return self._file

    def close(self) -> None:
        if self._file is not None and self.output_path is not None:
            self._file.close()

    # -- the connection -----------------------------------------------------------

    def trace(self, event: TraceEvent) -> None:
        if self.show_trace:
            self.view.event(event)

    def starttls_line(self, who: str, line: str) -> None:
        if not self.show_trace:
            return
        if isinstance(self.view, JsonView):
            self.view.write({"event": "starttls", "from": "server" if who == "S" else "client",
                             "line": line})
        else:
            self.view.out.line("  ", (f"{who}: ", "label"), line)

    def start_connection(self, attempt: int, total: int) -> None:
        if isinstance(self.view, TextView):
            self.view.origin = None
            if total > 1:
                self.view.heading(f"Connection {attempt} of {total}")

    def connected(self, attempt: int, target: str, server_name: str | None,
                  facts: dict[str, Any]) -> None:
        if isinstance(self.view, JsonView):
            self.view.write({"event": "connected", "attempt": attempt, "target": target,
                             **facts})
            return
        self.view.info(f"Connected to {target} ({facts['address']}), server name {server_name}")
        for label, value in connection_rows(facts):
            self.view.out.line("  ", (f"{label:<{_LABEL}}", "label"), value)

    def chain(self, entries: list[dict[str, Any]], resumed: bool) -> None:
        if isinstance(self.view, JsonView):
            self.view.write({"event": "certificate_chain", "certificates": entries})
            return
        if not entries:
            self.view.info("Certificate chain: none sent"
                           + (" (the session was resumed)" if resumed else ""))
            return
        self.view.info("Certificate chain (as the server sent it)")
        for entry in entries:
            self.view.out.line(f" {entry['depth']} s:{entry['subject']}")
            self.view.out.line(f"   i:{entry['issuer']}")
            for line in entry["pem"].splitlines():
                self.view.out.line(line)

    def session_saved(self, path: str, session: ClientSession) -> None:
        version = "TLSv1.3" if session.version == 0x0304 else "TLSv1.2"
        if isinstance(self.view, JsonView):
            self.view.write({"event": "session_saved", "file": path, "version": version,
                             "lifetime": session.lifetime})
        else:
            self.view.info(f"Session saved to {path} ({version}, valid {session.lifetime} s; "
                           "resume it with --sess-in)")

    # -- what the server sent -----------------------------------------------------

    def data(self, data: bytes) -> None:
        """Application data from the server (pipe mode)."""
        if isinstance(self.view, JsonView) and self.output_path is None:
            self.view.write({"event": "data", **_payload(data)})
            return
        with self._lock:
            sink = self._sink()
            sink.write(data)
            sink.flush()

    def response(self, response: Response) -> None:
        """Show the response; a visibly incomplete one (short of its Content-Length,
        without its last chunk) is shown too, then fails with exit status 3."""
        if response.ragged_eof:
            self.view.warning("the server closed without close_notify (the response may be "
                              "truncated)")
        self._show_response(response)
        if not response.complete:
            raise CommandError("the response is incomplete: the connection ended before all "
                               "of it arrived", exitcodes.NETWORK)

    def _show_response(self, response: Response) -> None:
        if isinstance(self.view, JsonView):
            line: dict[str, Any] = {"event": "response", "protocol": response.protocol,
                                    "status": response.status, "reason": response.reason,
                                    "headers": [list(h) for h in response.headers],
                                    "complete": response.complete,
                                    "body_bytes": len(response.body)}
            if self.output_path is not None:
                self._sink().write(response.body)
                line["body_file"] = self.output_path
            else:
                line.update(_payload(response.body, "body"))
            self.view.write(line)
            return
        if self.output_path is not None:
            self.view.out.line(response.head_text().rstrip("\r\n"))
            self._sink().write(response.body)
            self.view.info(f"({len(response.body)} bytes written to {self.output_path})")
        else:
            sink = self._sink()
            sink.write(response.head_text().encode("latin-1") + response.body)
            sink.flush()

    def pipe(self, sock: TLSSocket) -> None:
        """stdin to the server, the server's data to the output, until the server
        closes. At the end of stdin we send close_notify and keep reading."""
        sock.settimeout(None)
        done = threading.Event()
        problem: list[BaseException] = []

        def server_to_output() -> None:
            try:
                while data := sock.recv(65536):
                    self.data(data)
            except (OSError, GlassTLSError, CommandError) as error:
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

        threading.Thread(target=server_to_output, name="glasstls-client-read",
                         daemon=True).start()
        threading.Thread(target=stdin_to_server, name="glasstls-client-write",
                         daemon=True).start()
        done.wait()
        if problem:
            error = problem[0]
            if isinstance(error, ssl.SSLEOFError):
                self.view.warning("the server closed the TCP connection without "
                                  "close_notify (what it sent may be truncated)")
            else:
                raise error


def _payload(data: bytes, name: str = "data") -> dict[str, str]:
    """Bytes as a JSON field: text when they are UTF-8, else base64 (``NAME_base64``)."""
    try:
        return {name: data.decode("utf-8")}
    except UnicodeDecodeError:
        return {f"{name}_base64": base64.b64encode(data).decode()}


__all__ = ["Handshake", "Output", "connection_rows", "describe_connection", "show_chain"]
