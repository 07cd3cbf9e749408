"""Extensions, field by field (RFC 8446 §4.2 and the RFCs that define each type).

``extensions(cursor, where, facts)`` reads an ``Extension extensions<..>`` block;
each extension becomes a field with its type, length and data. Types without a
reader here are shown as bytes under their IANA name; GREASE types are marked.
"""

from __future__ import annotations

from collections.abc import Callable

from ..constants import ExtensionType as X
from .facts import Facts
from .fields import Cursor
from .names import (
    compression_text,
    extension_name,
    extension_text,
    group_text,
    is_grease,
    ocsp_summary,
    scheme_text,
    version_text,
)

CH, SH, HRR, EE = "client_hello", "server_hello", "hello_retry_request", "encrypted_extensions"
CT, CR, NST = "certificate", "certificate_request", "new_session_ticket"


def _bytes(n: int) -> str:
    return "1 byte" if n == 1 else f"{n} bytes"


def rfc8446(section: str) -> str:
    return f"RFC 8446 §{section}"


def _ascii(data: bytes) -> str:
    return data.decode("ascii", "backslashreplace")


def _next_is_grease(c: Cursor) -> bool:
    return c.remaining >= 2 and is_grease(int.from_bytes(c.peek(2), "big"))


def _u16_list(c: Cursor, name: str, item: str, describe: Callable[[int], str], meaning: str,
              rfc: str, minimum: int = 2) -> list[int]:
    values = []
    with c.vector(name, 2, meaning, rfc, minimum=minimum) as v:
        while v.remaining:
            values.append(v.uint(item, 2, f"one entry of {name}", rfc, describe,
                                 grease=_next_is_grease(v)))
    return values


def _server_name(c: Cursor, where: str, facts: Facts) -> None:
    rfc = "RFC 6066 §3"
    if where != CH:
        return  # the server's acknowledgement is empty
    with c.vector("server_name_list", 2, "the names the client wants to reach", rfc,
                  minimum=1) as v:
        while v.remaining:
            with v.group("server_name", "one name", rfc) as entry:
                kind = entry.uint("name_type", 1, "0 is a DNS host name", rfc,
                                  lambda t: "host_name" if t == 0 else f"unknown ({t})")
                if kind == 0:
                    entry.opaque_vector("host_name", 2, "the DNS name of the server (SNI), in "
                                        "the clear", rfc, minimum=1, text=None)
                    host = entry.parent.children[-1]
                    host.text = _ascii(bytes.fromhex(host.value))
                    host.children[-1].text = host.text
                else:
                    entry.opaque_vector("name", 2, "a name of an unknown type", rfc)


def _supported_groups(c: Cursor, where: str, facts: Facts) -> None:
    _u16_list(c, "named_group_list", "named_group", group_text,
              "key exchange groups the sender supports, most preferred first", rfc8446("4.2.7"))


def _signature_algorithms(c: Cursor, where: str, facts: Facts) -> None:
    _u16_list(c, "supported_signature_algorithms", "signature_scheme", scheme_text,
              "signature schemes the sender accepts, most preferred first", rfc8446("4.2.3"))


def _ec_point_formats(c: Cursor, where: str, facts: Facts) -> None:
    rfc = "RFC 8422 §5.1.2"
    with c.vector("ec_point_format_list", 1, "point formats the sender can parse", rfc,
                  minimum=1) as v:
        while v.remaining:
            v.uint("ec_point_format", 1, "0 is uncompressed, the only one still in use", rfc,
                   lambda f: {0: "uncompressed", 1: "ansiX962_compressed_prime",
                              2: "ansiX962_compressed_char2"}.get(f, f"unknown ({f})"))


def _alpn(c: Cursor, where: str, facts: Facts) -> None:
    rfc = "RFC 7301 §3.1"
    meaning = ("application protocols the client speaks, preferred first" if where == CH
               else "the one application protocol the server chose")
    with c.vector("protocol_name_list", 2, meaning, rfc, minimum=2) as v:
        while v.remaining:
            v.opaque_vector("protocol_name", 1, "an application protocol name (e.g. h2, "
                            "http/1.1)", rfc, minimum=1)
            name = v.parent.children[-1]
            name.text = _ascii(bytes.fromhex(name.value))
            name.children[-1].text = name.text


def _supported_versions(c: Cursor, where: str, facts: Facts) -> None:
    rfc = rfc8446("4.2.1")
    if where == CH:
        with c.vector("versions", 1, "the TLS versions the client supports, preferred first",
                      rfc, minimum=2, maximum=254) as v:
            while v.remaining:
                v.uint("version", 2, "one supported version", rfc, version_text,
                       grease=_next_is_grease(v))
    else:
        facts.version = c.uint("selected_version", 2, "the version the server chose: this, "
                               "not legacy_version, says TLS 1.3", rfc, version_text)


def _key_share(c: Cursor, where: str, facts: Facts) -> None:
    rfc = rfc8446("4.2.8")

    def entry(cursor: Cursor) -> tuple[int, bytes]:
        with cursor.group("key_share_entry", "a public key for one group", rfc) as e:
            group = e.uint("group", 2, "the group of this share", rfc, group_text,
                           grease=_next_is_grease(e))
            public = e.opaque_vector("key_exchange", 2, "the sender's ephemeral public key "
                                     "(or KEM ciphertext) for this group", rfc, minimum=1)
        return group, public

    if where == CH:
        with c.vector("client_shares", 2, "one key share per group the client guesses the "
                      "server will pick (RFC 8446 §4.2.8)", rfc) as v:
            while v.remaining:
                group, public = entry(v)
                facts.client_shares[group] = public
    elif where == HRR:
        c.uint("selected_group", 2, "the group the server wants a share for in the second "
               "ClientHello", rfc, group_text)
    else:
        facts.server_share = entry(c)


def _psk_key_exchange_modes(c: Cursor, where: str, facts: Facts) -> None:
    rfc = rfc8446("4.2.9")
    with c.vector("ke_modes", 1, "how a PSK may be used: alone or with (EC)DHE", rfc,
                  minimum=1) as v:
        while v.remaining:
            v.uint("ke_mode", 1, "psk_dhe_ke keeps forward secrecy; psk_ke does not", rfc,
                   lambda m: {0: "psk_ke", 1: "psk_dhe_ke"}.get(m, f"unknown ({m})"),
                   grease=v.peek(1) != b"" and (v.peek(1)[0] & 0x0F) == 0x0B)


def _pre_shared_key(c: Cursor, where: str, facts: Facts) -> None:
    rfc = rfc8446("4.2.11")
    if where == SH:
        facts.selected_psk = c.uint("selected_identity", 2, "which offered PSK the server "
                                    "accepted (0 is the first)", rfc)
        return
    with c.vector("identities", 2, "the PSKs (tickets) the client offers", rfc,
                  minimum=7) as v:
        while v.remaining:
            with v.group("psk_identity", "one offered PSK", rfc) as identity:
                facts.psk_identities.append(identity.opaque_vector(
                    "identity", 2, "a session ticket from the server (opaque to the client)",
                    rfc, minimum=1))
                identity.uint("obfuscated_ticket_age", 4, "the ticket's age in ms plus "
                              "ticket_age_add, mod 2^32", rfc)
    start = c.position
    with c.vector("binders", 2, "one HMAC per identity, binding the PSK to this "
                  "ClientHello (RFC 8446 §4.2.11.2)", rfc, minimum=33) as v:
        while v.remaining:
            v.opaque_vector("binder", 1, "HMAC of the transcript up to the binders, keyed "
                            "from the PSK", rfc, minimum=32)
            facts.binders.append(v.parent.children[-1])
    facts.binders_length = c.position - start


def _early_data(c: Cursor, where: str, facts: Facts) -> None:
    if where == NST:
        c.uint("max_early_data_size", 4, "how many bytes of 0-RTT data the server will take "
               "with this ticket", rfc8446("4.2.10"))
    elif where == CH:
        facts.early_data_offered = True
    elif where == EE:
        facts.early_data_accepted = True


def _cookie(c: Cursor, where: str, facts: Facts) -> None:
    c.opaque_vector("cookie", 2, "state the server asks the client to echo in its next "
                    "ClientHello", rfc8446("4.2.2"), minimum=1)


def _record_size_limit(c: Cursor, where: str, facts: Facts) -> None:
    c.uint("record_size_limit", 2, "the largest record the sender will accept", "RFC 8449 §4")


def _renegotiation_info(c: Cursor, where: str, facts: Facts) -> None:
    c.opaque_vector("renegotiated_connection", 1, "empty on a first handshake: the sender "
                    "supports secure renegotiation", "RFC 5746 §3.2")


def _extended_master_secret(c: Cursor, where: str, facts: Facts) -> None:
    if where == CH:
        facts.extended_master_secret_offered = True
    else:
        facts.extended_master_secret = facts.extended_master_secret_offered


def _session_ticket(c: Cursor, where: str, facts: Facts) -> None:
    if c.remaining:
        c.rest("ticket", "a TLS 1.2 session ticket to resume with (opaque to the client)",
               "RFC 5077 §3.2")


def _status_request(c: Cursor, where: str, facts: Facts) -> None:
    rfc = "RFC 6066 §8"
    if not c.remaining:
        return
    if where == CT:
        c.uint("status_type", 1, "1 is OCSP", rfc, lambda t: "ocsp" if t == 1 else
               f"unknown ({t})")
        response = c.opaque_vector("ocsp_response", 3, "the OCSP response the server staples "
                                   "for this certificate (DER, RFC 6960)", "RFC 8446 §4.4.2.1",
                                   minimum=1)
        c.parent.children[-1].text = ocsp_summary(response)
        return
    c.uint("status_type", 1, "1 asks for an OCSP response", rfc,
           lambda t: "ocsp" if t == 1 else f"unknown ({t})")
    c.opaque_vector("responder_id_list", 2, "OCSP responders the client trusts (empty: "
                    "any)", rfc)
    c.opaque_vector("request_extensions", 2, "OCSP request extensions (DER)", rfc)


def _compress_certificate(c: Cursor, where: str, facts: Facts) -> None:
    rfc = "RFC 8879 §3"
    with c.vector("algorithms", 1, "certificate compression algorithms the sender "
                  "supports", rfc, minimum=2) as v:
        while v.remaining:
            v.uint("algorithm", 2, "one algorithm the sender can decompress; the peer may "
                   "send its Certificate compressed with it (TLS 1.3)", rfc, compression_text)


def _certificate_authorities(c: Cursor, where: str, facts: Facts) -> None:
    rfc = rfc8446("4.2.4")
    with c.vector("authorities", 2, "distinguished names of the CAs the sender trusts", rfc,
                  minimum=3) as v:
        while v.remaining:
            v.opaque_vector("distinguished_name", 2, "a CA's name (DER)", rfc, minimum=1)


def _alps(c: Cursor, where: str, facts: Facts) -> None:
    rfc = "draft-vvv-tls-alps §3"
    if where == CH:
        with c.vector("supported_protocols", 2, "ALPN protocols for which the client can "
                      "send settings", rfc) as v:
            while v.remaining:
                v.opaque_vector("protocol_name", 1, "an application protocol name", rfc,
                                minimum=1)
    else:
        c.rest("application_settings", "the server's settings for the chosen protocol", rfc)


def _certificate_type(c: Cursor, where: str, facts: Facts) -> None:
    rfc = "RFC 7250 §4.2"
    kinds = {0: "X.509", 2: "RawPublicKey"}
    if where == CH:
        with c.vector("certificate_types", 1, "certificate types the sender can use", rfc,
                      minimum=1) as v:
            while v.remaining:
                v.uint("certificate_type", 1, "one type", rfc,
                       lambda t: kinds.get(t, f"unknown ({t})"))
    else:
        c.uint("certificate_type", 1, "the type chosen", rfc,
               lambda t: kinds.get(t, f"unknown ({t})"))


def _padding(c: Cursor, where: str, facts: Facts) -> None:
    if c.remaining:
        c.rest("zeros", "padding that makes the ClientHello avoid sizes some middleboxes "
               "mishandle", "RFC 7685 §3")


def _empty(c: Cursor, where: str, facts: Facts) -> None:
    """An extension whose presence is its whole message."""


_READERS: dict[int, Callable[[Cursor, str, Facts], None]] = {
    X.server_name: _server_name,
    X.status_request: _status_request,
    X.supported_groups: _supported_groups,
    X.ec_point_formats: _ec_point_formats,
    X.signature_algorithms: _signature_algorithms,
    X.signature_algorithms_cert: _signature_algorithms,
    X.application_layer_protocol_negotiation: _alpn,
    X.signed_certificate_timestamp: _empty,
    X.client_certificate_type: _certificate_type,
    X.server_certificate_type: _certificate_type,
    X.padding: _padding,
    X.encrypt_then_mac: _empty,
    X.extended_master_secret: _extended_master_secret,
    X.compress_certificate: _compress_certificate,
    X.record_size_limit: _record_size_limit,
    X.session_ticket: _session_ticket,
    X.pre_shared_key: _pre_shared_key,
    X.early_data: _early_data,
    X.supported_versions: _supported_versions,
    X.cookie: _cookie,
    X.psk_key_exchange_modes: _psk_key_exchange_modes,
    X.certificate_authorities: _certificate_authorities,
    X.post_handshake_auth: _empty,
    X.key_share: _key_share,
    X.application_settings: _alps,
    17613: _alps,  # application_settings, the new code point
    X.renegotiation_info: _renegotiation_info,
}

# What each extension is for, in a few words (shown beside its type).
_PURPOSE: dict[int, str] = {
    X.server_name: "the host name the client wants (SNI)",
    X.status_request: "asks for / carries an OCSP response for the certificate",
    X.supported_groups: "key exchange groups the client supports",
    X.ec_point_formats: "elliptic curve point formats (TLS 1.2)",
    X.signature_algorithms: "signature schemes accepted in CertificateVerify",
    X.signature_algorithms_cert: "signature schemes accepted in certificates",
    X.application_layer_protocol_negotiation: "application protocol negotiation (ALPN)",
    X.signed_certificate_timestamp: "Certificate Transparency timestamps",
    X.padding: "padding to a size middleboxes handle well",
    X.encrypt_then_mac: "encrypt-then-MAC for CBC suites",
    X.extended_master_secret: "binds the TLS 1.2 master secret to the whole handshake",
    X.compress_certificate: "certificate compression the sender can undo (RFC 8879)",
    X.record_size_limit: "the largest record the sender accepts",
    X.session_ticket: "a TLS 1.2 session ticket",
    X.pre_shared_key: "PSKs for resumption, with their binders",
    X.early_data: "0-RTT early data",
    X.supported_versions: "the TLS versions on offer (how TLS 1.3 is negotiated)",
    X.cookie: "a cookie from a HelloRetryRequest",
    X.psk_key_exchange_modes: "how PSKs may be used",
    X.certificate_authorities: "the CAs the sender trusts",
    X.post_handshake_auth: "the client accepts a certificate request after the handshake",
    X.key_share: "ephemeral public keys for the key exchange",
    X.application_settings: "application settings (ALPS)",
    X.encrypted_client_hello: "Encrypted ClientHello (ECH, or a GREASE ECH)",
    X.renegotiation_info: "secure renegotiation indication",
}


def _extension(c: Cursor, where: str, facts: Facts) -> int:
    rfc = rfc8446("4.2")
    start = c.position
    ext_type = int.from_bytes(c.peek(2), "big")
    grease = is_grease(ext_type)
    name = extension_name(ext_type)
    purpose = _PURPOSE.get(ext_type, "")
    with c.group(name if not grease else "GREASE extension", purpose, rfc,
                 grease=grease, value=ext_type) as e:
        e.uint("extension_type", 2, purpose or ("a reserved value (RFC 8701)" if grease else
                                                "an extension type glasstls does not read"),
               rfc, extension_text, grease=grease)
        with e.vector("extension_data", 2, f"the data of {name}", rfc) as data:
            reader = _READERS.get(ext_type)
            if reader is None:
                if data.remaining:
                    data.rest("data", f"the contents of {name}, shown as bytes", rfc)
            else:
                reader(data, where, facts)
    c.parent.children[-1].text = _bytes(c.position - start - 4)
    return ext_type


def extensions(c: Cursor, where: str, facts: Facts, length_size: int = 2) -> list[int]:
    """An extensions block; returns the types in order."""
    types = []
    with c.vector("extensions", length_size, "extensions, each a type and its data",
                  rfc8446("4.2")) as v:
        while v.remaining:
            types.append(_extension(v, where, facts))
    return types
