"""Handshake messages, field by field (RFC 8446 §4 for TLS 1.3, RFC 5246 §7.4 and
RFC 8422 §5 for TLS 1.2).

``handshake_message(data, base, sender, facts)`` reads one message (its 4-byte
header and body) into a ``Field`` tree. What later steps need (randoms, suite,
shares, tickets, where the Finished and binders are) goes into ``facts``. A body
that does not parse is shown as one field saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography import x509

from .. import compression
from ..constants import (
    DOWNGRADE_TLS11,
    DOWNGRADE_TLS12,
    HELLO_RETRY_REQUEST_RANDOM,
    ExtensionType as X,
)
from ..errors import TLSError
from ..messages.extensions import OCSPStatus, find_typed
from ..messages.handshake import Certificate13
from ..web.names import suite_name
from .extensions import CH, CR, CT, EE, HRR, NST, SH, extensions, rfc8446
from .facts import CLIENT, Facts, Ticket
from .fields import Cursor, Field, Malformed
from .names import (
    compression_text,
    group_text,
    handshake_name,
    is_grease,
    ocsp_summary,
    scheme_text,
    suite_text,
    version_text,
)

RFC5246 = "RFC 5246 §"


@dataclass
class Message:
    """One message as read: a handshake message, or the content of one alert,
    change_cipher_spec or application_data record."""

    msg_type: int
    raw: bytes
    tree: Field
    sender: str
    kind: str = "handshake"
    index: int = 0
    # The records its bytes are in.
    records: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.tree.name


def _rfc(facts: Facts, tls13: str, tls12: str) -> str:
    return rfc8446(tls13) if facts.version != 0x0303 else RFC5246 + tls12


def _random_text(random: bytes, sender: str) -> str:
    if random == HELLO_RETRY_REQUEST_RANDOM:
        return "SHA-256(\"HelloRetryRequest\"): this ServerHello is a HelloRetryRequest"
    if sender != CLIENT and random[-8:] in (DOWNGRADE_TLS12, DOWNGRADE_TLS11):
        return random.hex() + " (ends with the downgrade sentinel: a TLS 1.3 server chose TLS 1.2)"
    return random.hex()


def _session_id(c: Cursor, name: str, meaning: str, rfc: str) -> bytes:
    return c.opaque_vector(name, 1, meaning, rfc, maximum=32)


def _client_hello(c: Cursor, sender: str, facts: Facts) -> str:
    rfc = rfc8446("4.1.2")
    facts.psk_identities, facts.binders = [], []
    c.uint("legacy_version", 2, "0x0303 (TLS 1.2) for compatibility; TLS 1.3 is offered in "
           "supported_versions", rfc, version_text)
    facts.client_random = c.opaque("random", 32, "32 bytes from the client's random number "
                                   "generator, mixed into every key", rfc)
    facts.client_session_id = _session_id(
        c, "legacy_session_id", "a TLS 1.2 session to resume, or (TLS 1.3 middlebox "
        "compatibility) 32 random bytes", rfc)
    suites = 0
    with c.vector("cipher_suites", 2, "the cipher suites the client offers, preferred first",
                  rfc, minimum=2) as v:
        while v.remaining:
            suites += 1
            v.uint("cipher_suite", 2, "one offered suite", rfc, suite_text,
                   grease=v.remaining >= 2 and is_grease(int.from_bytes(v.peek(2), "big")))
    with c.vector("legacy_compression_methods", 1, "compression methods; only 0 (none) is "
                  "allowed", rfc, minimum=1) as v:
        while v.remaining:
            v.uint("compression_method", 1, "0 means no compression", rfc,
                   lambda m: "null" if m == 0 else f"0x{m:02x}")
    count = len(extensions(c, CH, facts)) if c.remaining else 0
    return f"{suites} cipher suites, {count} extensions"


def _server_hello(c: Cursor, sender: str, facts: Facts) -> str:
    rfc = rfc8446("4.1.3")
    version = c.uint("legacy_version", 2, "0x0303; a TLS 1.3 server says TLS 1.3 in "
                     "supported_versions", rfc, version_text)
    random = c.peek(32)
    retry = random == HELLO_RETRY_REQUEST_RANDOM
    c.opaque("random", 32, "the special HelloRetryRequest value (RFC 8446 §4.1.3)" if retry
             else "32 bytes from the server's random number generator",
             rfc, _random_text(random, sender))
    if retry:
        facts.hello_retry = True
    else:
        facts.server_random = random
    _session_id(c, "legacy_session_id_echo", "the client's legacy_session_id echoed (TLS 1.3), "
                "or the session id of a TLS 1.2 session", rfc)
    suite = c.uint("cipher_suite", 2, "the suite the server chose", rfc, suite_text)
    facts.cipher_suite = suite
    c.uint("legacy_compression_method", 1, "always 0: no compression", rfc,
           lambda m: "null" if m == 0 else f"0x{m:02x}")
    if facts.version is None or not retry:
        facts.version = version
    if c.remaining:
        extensions(c, HRR if retry else SH, facts)
    if retry:
        return f"HelloRetryRequest, {suite_text(suite)}"
    return f"{version_text(facts.version or version)}, {suite_text(suite)}"


def _new_session_ticket(c: Cursor, sender: str, facts: Facts) -> str:
    if not facts.tls13:
        rfc = "RFC 5077 §3.3"
        c.uint("ticket_lifetime_hint", 4, "seconds the client may keep the ticket", rfc)
        ticket = c.opaque_vector("ticket", 2, "the session state, encrypted by the server",
                                 rfc)
        return f"{len(ticket)}-byte ticket"
    rfc = rfc8446("4.6.1")
    lifetime = c.uint("ticket_lifetime", 4, "seconds the ticket may be used", rfc)
    c.uint("ticket_age_add", 4, "a random value added to the ticket's age to hide it on the "
           "wire", rfc)
    nonce = c.opaque_vector("ticket_nonce", 1, "makes the PSK of each ticket distinct: PSK = "
                            "HKDF-Expand-Label(resumption_master_secret, \"resumption\", nonce)",
                            rfc)
    ticket = c.opaque_vector("ticket", 2, "the PSK identity the client will offer (opaque to "
                             "it; the server's encrypted session state)", rfc, minimum=1)
    extensions(c, NST, facts)
    facts.tickets.append(Ticket(ticket, nonce, -1))
    return f"{len(ticket)}-byte ticket, valid {lifetime} s"


def _empty(c: Cursor, sender: str, facts: Facts) -> str:
    return ""


def _encrypted_extensions(c: Cursor, sender: str, facts: Facts) -> str:
    return f"{len(extensions(c, EE, facts))} extensions"


def _certificate_summary(der: bytes) -> str:
    try:
        certificate = x509.load_der_x509_certificate(der)
        subject = certificate.subject.rfc4514_string() or "(empty subject)"
        issuer = certificate.issuer.rfc4514_string() or "(empty issuer)"
    except ValueError as error:
        return f"{len(der)} bytes that do not parse as an X.509 certificate ({error})"
    return f"{subject}, issued by {issuer}, valid until {certificate.not_valid_after_utc:%Y-%m-%d}"


def _certificate(c: Cursor, sender: str, facts: Facts) -> str:
    chain: list[bytes] = []
    if facts.tls13:
        rfc = rfc8446("4.4.2")
        c.opaque_vector("certificate_request_context", 1, "empty in the handshake; echoes a "
                        "post-handshake CertificateRequest's context", rfc)
        with c.vector("certificate_list", 3, "the chain, the sender's own certificate first",
                      rfc) as v:
            while v.remaining:
                with v.group("CertificateEntry", "one certificate and its extensions",
                             rfc) as entry:
                    der = entry.opaque_vector("cert_data", 3, "an X.509 certificate (DER)",
                                              rfc, minimum=1)
                    entry.parent.children[-1].text = _certificate_summary(der)
                    extensions(entry, CT, facts)
                chain.append(der)
    else:
        rfc = RFC5246 + "7.4.2"
        with c.vector("certificate_list", 3, "the chain, the sender's own certificate first",
                      rfc) as v:
            while v.remaining:
                der = v.opaque_vector("ASN.1Cert", 3, "an X.509 certificate (DER)", rfc,
                                      minimum=1)
                v.parent.children[-1].text = _certificate_summary(der)
                chain.append(der)
    facts.certificates[sender] = chain
    return f"{len(chain)} certificate(s)" + (
        f": {_certificate_summary(chain[0]).split(',')[0]}" if chain else "")


def _server_key_exchange(c: Cursor, sender: str, facts: Facts) -> str:
    rfc = "RFC 8422 §5.4"
    with c.group("params", "the server's ephemeral ECDH key, the part that is signed", rfc) as p:
        curve_type = p.uint("curve_type", 1, "3 means a named curve follows", rfc,
                            lambda t: "named_curve" if t == 3 else f"unsupported ({t})")
        if curve_type != 3:
            raise Malformed("only named curves are read")
        group = p.uint("namedcurve", 2, "the group of the server's key", rfc, group_text)
        public = p.opaque_vector("public", 1, "the server's ephemeral public key", rfc,
                                 minimum=1)
    facts.server_share = (group, public)
    c.uint("signature_algorithm", 2, "the scheme of the signature that follows",
           RFC5246 + "7.4.1.4.1", scheme_text)
    c.opaque_vector("signature", 2, "signature with the certificate's key over client_random "
                    "+ server_random + params", rfc)
    return group_text(group)


def _certificate_request(c: Cursor, sender: str, facts: Facts) -> str:
    if facts.tls13:
        rfc = rfc8446("4.3.2")
        c.opaque_vector("certificate_request_context", 1, "an identifier echoed in the "
                        "client's Certificate (empty in the handshake)", rfc)
        extensions(c, CR, facts)
        return "the server asks for a client certificate"
    rfc = RFC5246 + "7.4.4"
    with c.vector("certificate_types", 1, "kinds of client keys accepted", rfc,
                  minimum=1) as v:
        while v.remaining:
            v.uint("certificate_type", 1, "one kind", rfc,
                   lambda t: {1: "rsa_sign", 64: "ecdsa_sign"}.get(t, f"type {t}"))
    with c.vector("supported_signature_algorithms", 2, "schemes accepted for the client's "
                  "CertificateVerify", rfc, minimum=2) as v:
        while v.remaining:
            v.uint("signature_scheme", 2, "one scheme", rfc, scheme_text)
    with c.vector("certificate_authorities", 2, "names of the CAs accepted (empty: any)",
                  rfc) as v:
        while v.remaining:
            v.opaque_vector("distinguished_name", 2, "a CA's name (DER)", rfc, minimum=1)
    return "the server asks for a client certificate"


def _certificate_verify(c: Cursor, sender: str, facts: Facts) -> str:
    rfc = _rfc(facts, "4.4.3", "7.4.8")
    scheme = c.uint("algorithm", 2, "the signature scheme", rfc, scheme_text)
    c.opaque_vector("signature", 2, "the sender's signature over the handshake so far, proving "
                    "it holds the certificate's private key", rfc)
    return scheme_text(scheme)


def _client_key_exchange(c: Cursor, sender: str, facts: Facts) -> str:
    if facts.cipher_suite is not None and suite_name(facts.cipher_suite).startswith("TLS_RSA_"):
        rfc = RFC5246 + "7.4.7.1"
        facts.encrypted_pre_master_secret = c.opaque_vector(
            "EncryptedPreMasterSecret", 2, "the 48-byte pre-master secret (client_version + "
            "46 random bytes), encrypted with RSA PKCS #1 v1.5 to the server's certificate key",
            rfc)
        return "RSA key transport"
    rfc = "RFC 8422 §5.7"
    facts.client_public = c.opaque_vector("ecdh_Yc", 1, "the client's ephemeral ECDH public "
                                          "key", rfc, minimum=1)
    return "ECDHE public key"


def _finished(c: Cursor, sender: str, facts: Facts) -> str:
    meaning = ("HMAC over the transcript hash with the sender's finished_key: proof that both "
               "sides saw the same handshake") if facts.tls13 else (
        "PRF(master_secret, finished_label, Hash(handshake_messages)), 12 bytes")
    c.rest("verify_data", meaning, _rfc(facts, "4.4.4", "7.4.9"))
    return ""


def _key_update(c: Cursor, sender: str, facts: Facts) -> str:
    request = c.uint("request_update", 1, "whether the receiver must update its own sending "
                     "keys too", rfc8446("4.6.3"),
                     lambda r: {0: "update_not_requested", 1: "update_requested"}.get(
                         r, f"invalid ({r})"))
    return "update_requested" if request == 1 else "update_not_requested"


def _compressed_certificate(c: Cursor, sender: str, facts: Facts) -> str:
    rfc = "RFC 8879 §4"
    algorithm = c.uint("algorithm", 2, "the compression algorithm, one the receiver offered "
                       "in compress_certificate", rfc, compression_text)
    length = c.uint("uncompressed_length", 3, "length of the Certificate message body once "
                    "decompressed (the receiver stops decompressing there)", rfc,
                    lambda n: f"{n} bytes")
    data = c.opaque_vector("compressed_certificate_message", 3, "the Certificate message's "
                           "body, compressed; the transcript hashes these bytes as sent", rfc,
                           minimum=1)
    field = c.parent.children[-1]
    if algorithm not in compression.CODECS:
        field.text = f"{len(data)} bytes of {compression_text(algorithm)} (not decompressed here)"
        return f"compressed Certificate ({compression_text(algorithm)})"
    try:
        body = compression.decompress(algorithm, data, length)
        inner = Certificate13.parse(bytes([11]) + len(body).to_bytes(3, "big") + body)
    except TLSError as error:
        field.text = f"{len(data)} bytes that do not decompress to a Certificate: {error}"
        return "compressed Certificate (malformed)"
    facts.certificates[sender] = list(inner.chain)
    staple = _leaf_staple(inner)
    field.text = (f"{len(data)} bytes of {compression_text(algorithm)}, {len(body)} once "
                  f"decompressed: {len(inner.chain)} certificate(s), "
                  f"{_certificate_summary(inner.chain[0]) if inner.chain else 'none'}"
                  + (f"; OCSP staple: {ocsp_summary(staple)}" if staple else ""))
    return (f"Certificate compressed with {compression_text(algorithm)}: {len(body)} \u2192 "
            f"{len(data)} bytes")


def _leaf_staple(certificate: Certificate13) -> bytes:
    if not certificate.certificate_list:
        return b""
    staple = find_typed(certificate.certificate_list[0].extensions, X.status_request,
                        OCSPStatus)
    return staple.ocsp_response if staple is not None else b""


def _certificate_status(c: Cursor, sender: str, facts: Facts) -> str:
    rfc = "RFC 6066 §8"
    c.uint("status_type", 1, "1 is OCSP", rfc, lambda t: "ocsp" if t == 1 else f"unknown ({t})")
    response = c.opaque_vector("response", 3, "the OCSP response (DER, RFC 6960) the server "
                               "staples for its certificate", rfc, minimum=1)
    c.parent.children[-1].text = ocsp_summary(response)
    return ocsp_summary(response).split(";")[0]


_READERS: dict[int, Callable[[Cursor, str, Facts], str]] = {
    0: _empty, 1: _client_hello, 2: _server_hello, 4: _new_session_ticket, 5: _empty,
    8: _encrypted_extensions, 11: _certificate, 12: _server_key_exchange,
    13: _certificate_request, 14: _empty, 15: _certificate_verify, 16: _client_key_exchange,
    20: _finished, 22: _certificate_status, 24: _key_update, 25: _compressed_certificate,
}

_PURPOSE = {
    0: "the server asks for a new handshake (TLS 1.2; refused)",
    1: "the client's offer: versions, suites, key shares, extensions",
    2: "the server's choices from the client's offer",
    4: "a ticket to resume this session later",
    5: "the client's 0-RTT data ends here",
    8: "the server's extensions that need not be in the clear",
    11: "a certificate chain",
    12: "the server's ephemeral ECDH key, signed",
    13: "the server asks for a client certificate",
    14: "the server has finished its hello messages",
    15: "a signature proving possession of the certificate's key",
    16: "the client's part of the key exchange",
    20: "a MAC over the whole handshake",
    22: "the server staples its certificate's OCSP status (TLS 1.2)",
    24: "the sender switches to new traffic keys",
    25: "a Certificate message, compressed",
}

_SECTIONS_13 = {0: "4", 1: "4.1.2", 2: "4.1.3", 4: "4.6.1", 5: "4.5", 8: "4.3.1", 11: "4.4.2",
                13: "4.3.2", 15: "4.4.3", 20: "4.4.4", 24: "4.6.3"}
_SECTIONS_12 = {0: "7.4.1.1", 1: "7.4.1.2", 2: "7.4.1.3", 11: "7.4.2", 12: "7.4.3",
                13: "7.4.4", 14: "7.4.5", 15: "7.4.8", 16: "7.4.7", 20: "7.4.9"}


def _section(msg_type: int, facts: Facts) -> str:
    if msg_type == 4 and not facts.tls13:
        return "RFC 5077 §3.3"
    if msg_type == 25:
        return "RFC 8879 §4"
    if msg_type == 22:
        return "RFC 6066 §8"
    if facts.version == 0x0303 and msg_type in _SECTIONS_12:
        return RFC5246 + _SECTIONS_12[msg_type]
    if msg_type in _SECTIONS_13:
        return rfc8446(_SECTIONS_13[msg_type])
    if msg_type in _SECTIONS_12:
        return RFC5246 + _SECTIONS_12[msg_type]
    return rfc8446("4")


# The names of the messages' structures in the RFCs.
_NAMES = {0: "HelloRequest", 1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket",
          5: "EndOfEarlyData", 8: "EncryptedExtensions", 11: "Certificate",
          12: "ServerKeyExchange", 13: "CertificateRequest", 14: "ServerHelloDone",
          15: "CertificateVerify", 16: "ClientKeyExchange", 20: "Finished",
          22: "CertificateStatus", 24: "KeyUpdate", 25: "CompressedCertificate"}


def handshake_message(data: bytes, base: int, sender: str, facts: Facts) -> Message:
    """Read the whole message ``data`` (header included); offsets start at ``base``."""
    msg_type = data[0]
    name = _NAMES.get(msg_type) or handshake_name(msg_type)
    if msg_type == 2 and data[6:38] == HELLO_RETRY_REQUEST_RANDOM:
        name = "HelloRetryRequest"
    rfc = _section(msg_type, facts)
    tree = Field(name, base, base + len(data), value=msg_type,
                 meaning=_PURPOSE.get(msg_type, "a handshake message glasstls does not read"),
                 rfc=rfc)
    c = Cursor(data, tree, base=base)
    c.uint("msg_type", 1, "which handshake message this is", rfc8446("4"),
           lambda t: f"{t} ({handshake_name(t)})")
    c.uint("length", 3, "length of the message body", rfc8446("4"), lambda n: f"{n} bytes")
    reader = _READERS.get(msg_type)
    body = c.position
    kept = len(tree.children)
    try:
        if reader is None:
            if c.remaining:
                c.rest("body", "the body of a message type glasstls does not read", rfc)
            summary = ""
        else:
            summary = reader(c, sender, facts)
            if c.remaining:
                raise Malformed(f"{c.remaining} bytes left over after the message")
    except Malformed as error:
        del tree.children[kept:]
        Cursor(data, tree, body, base=base).rest(
            "undecodable body", f"these bytes do not parse as a {name}: {error}", rfc)
        summary = f"malformed: {error}"
    tree.text = summary
    return Message(msg_type, data, tree, sender)
