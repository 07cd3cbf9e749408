"""Plain-language explanations shown beside each part of the handshake.

One short paragraph per trace step (by the step's name and what the server did:
sent, received or worked out locally), and one per section of the page. They say
what the step is for, not how the bytes are laid out: the page shows the values.
"""

from __future__ import annotations

from typing import Any

from .. import trace as t
from ..crypto.groups import hybrid_parts

SECTIONS = {
    "summary": (
        "This page was sent over a TLS connection that glasstls, a TLS implementation "
        "written in Python, negotiated with your browser a moment ago. Everything below "
        "describes that one connection, as the server saw it."
    ),
    "client_hello": (
        "The ClientHello is the first message of every TLS connection. Your browser "
        "sends it in the clear: the versions, cipher suites, key-exchange groups and "
        "signature algorithms it supports, in its order of preference, the name of the "
        "site it wants (SNI) and the application protocols it speaks (ALPN). For TLS 1.3 "
        "it already includes key shares for the groups it expects the server to pick."
    ),
    "grease": (
        "GREASE values (RFC 8701) are deliberately meaningless code points that browsers "
        "sprinkle into their lists, so that servers which choke on unknown values are "
        "found and fixed early instead of freezing the protocol."
    ),
    "post_quantum": (
        "X25519MLKEM768 is a hybrid key exchange: classical X25519 combined with "
        "ML-KEM-768, a post-quantum key encapsulation standardised by NIST (FIPS 203). "
        "The connection stays secret unless both are broken, so traffic recorded today "
        "cannot be decrypted later by a quantum computer."
    ),
    "fingerprint": (
        "JA4 (by FoxIO) condenses a ClientHello into a short fingerprint: the protocol "
        "and version, whether a server name was sent, how many suites and extensions "
        "were offered and the first ALPN value, then truncated SHA-256 hashes of the "
        "sorted suites and of the sorted extensions with the signature algorithms. "
        "Clients built on the same TLS library and settings share a fingerprint, "
        "whatever their User-Agent says."
    ),
    "negotiated": (
        "From your browser's lists, the server chose one option of each kind. These "
        "choices protect everything that follows, including this page."
    ),
    "timeline": (
        "Every step the server took, in order, with the time since your ClientHello "
        "arrived. An arrow marks a message on the wire; the other steps are computations "
        "on the server."
    ),
    "certificates": (
        "The server proves its identity with a certificate chain: its own certificate "
        "first, then the authorities that vouch for it. Your browser checks the chain "
        "against the authorities it trusts and the name it asked for."
    ),
    "compression": (
        "Certificate chains are the biggest part of a handshake. Your browser said it "
        "can decompress them (RFC 8879), so the server sent its Certificate message "
        "compressed, in fewer packets, and your browser unpacked it before checking it. "
        "The handshake's signatures and Finished cover the compressed bytes as sent."
    ),
    "ocsp": (
        "Your browser asked for the certificate's revocation status (OCSP stapling, RFC "
        "6066). The server attached its CA's recent, signed answer, so that your browser "
        "need not ask the CA itself: faster, and the CA does not learn which sites you "
        "visit."
    ),
    "resumed": (
        "This connection resumed an earlier session with a ticket the server gave your "
        "browser before, so no certificate was needed this time: the ticket proves the "
        "server is the one your browser already checked."
    ),
}

_STEPS: dict[tuple[str, str], str] = {
    (t.CLIENT_HELLO, t.RECEIVED): (
        "Your browser opened the conversation with its ClientHello, listing what it "
        "supports."
    ),
    (t.HELLO_RETRY_REQUEST, t.SENT): (
        "None of your browser's key shares was for a group the server wanted, so the "
        "server asked it to try again with a share for another group."
    ),
    (t.NEW_SESSION_TICKET, t.LOCAL): (
        "Your browser offered a ticket from an earlier visit; the server decided "
        "whether to resume that session or to run a full handshake."
    ),
    (t.SERVER_HELLO, t.LOCAL): (
        "The server decided whether to resume the session your browser asked for."
    ),
    (t.ENCRYPTED_EXTENSIONS, t.LOCAL): (
        "The server decided whether to accept early (0-RTT) data."
    ),
    (t.SERVER_HELLO, t.SENT): (
        "The server answered with its choices (version, cipher suite, key-exchange "
        "group) and its own key share."
    ),
    (t.KEY_EXCHANGE, t.LOCAL): (
        "The server combined its private key with your browser's key share. Both sides "
        "now hold the same secret, and it never crossed the network."
    ),
    (t.CHANGE_CIPHER_SPEC, t.SENT): (
        "A relic from TLS 1.2, sent only so that old middleboxes let the connection "
        "through; in TLS 1.3 it does nothing."
    ),
    (t.CHANGE_CIPHER_SPEC, t.RECEIVED): (
        "Your browser's signal that what follows is encrypted (in TLS 1.3 a "
        "compatibility relic, ignored)."
    ),
    (t.KEY_DERIVATION, t.LOCAL): (
        "From the shared secret and a hash of every message so far, the server derived "
        "fresh encryption keys with HKDF."
    ),
    (t.ENCRYPTED_EXTENSIONS, t.SENT): (
        "The first encrypted message: the rest of the server's answers, such as the "
        "application protocol (ALPN)."
    ),
    (t.CERTIFICATE_REQUEST, t.SENT): "The server asked your browser for a certificate.",
    (t.CERTIFICATE, t.SENT): (
        "The server sent its certificate chain, so that your browser can check who it "
        "is talking to."
    ),
    (t.CERTIFICATE, t.RECEIVED): "Your browser sent its own certificate chain.",
    (t.COMPRESSED_CERTIFICATE, t.SENT): (
        "The server sent its certificate chain compressed (RFC 8879), with an algorithm "
        "your browser offered: the same Certificate message in fewer bytes."
    ),
    (t.COMPRESSED_CERTIFICATE, t.RECEIVED): (
        "Your browser sent its own certificate chain, compressed."
    ),
    (t.CERTIFICATE_STATUS, t.SENT): (
        "The server stapled an OCSP response to its certificate: its CA's signed "
        "statement that the certificate has not been revoked."
    ),
    (t.SERVER_KEY_EXCHANGE, t.SENT): (
        "The server's ephemeral public key for this connection, signed with its "
        "certificate's key so that nobody in between can substitute their own."
    ),
    (t.SERVER_HELLO_DONE, t.SENT): "The server finished its half of the negotiation.",
    (t.CLIENT_KEY_EXCHANGE, t.RECEIVED): (
        "Your browser's ephemeral public key: with it the server can compute the shared "
        "secret."
    ),
    (t.CERTIFICATE_VERIFY, t.SENT): (
        "The server signed a hash of the whole handshake with its private key: proof "
        "that it owns the certificate, bound to this very connection."
    ),
    (t.FINISHED, t.SENT): (
        "A MAC over the whole handshake under the new keys: anyone who altered a "
        "message on the way would be caught here."
    ),
    (t.FINISHED, t.RECEIVED): (
        "Your browser's Finished: the server checked that both sides saw exactly the "
        "same handshake."
    ),
    (t.ESTABLISHED, t.LOCAL): (
        "Handshake complete. Application data, such as this page, now flows encrypted "
        "under the traffic keys."
    ),
    (t.NEW_SESSION_TICKET, t.SENT): (
        "A ticket your browser can show next time to resume the session with a shorter "
        "handshake."
    ),
    (t.KEY_UPDATE, t.SENT): "New traffic keys, so that no key protects too much data.",
    (t.KEY_UPDATE, t.RECEIVED): "Your browser switched to new traffic keys.",
    (t.ALERT, t.SENT): "The server reported a problem and closed the connection.",
    (t.ALERT, t.RECEIVED): "Your browser sent an alert.",
    (t.CLOSE, t.SENT): "The server said it will send nothing more (close_notify).",
    (t.CLOSE, t.RECEIVED): "Your browser said it will send nothing more (close_notify).",
}


# Where TLS 1.2 differs from the TLS 1.3 wording above.
_STEPS_TLS12: dict[tuple[str, str], str] = {
    (t.CHANGE_CIPHER_SPEC, t.SENT): (
        "The server's signal that everything it sends from now on is encrypted."
    ),
    (t.CHANGE_CIPHER_SPEC, t.RECEIVED): (
        "Your browser's signal that everything it sends from now on is encrypted."
    ),
    (t.KEY_DERIVATION, t.LOCAL): (
        "From the shared secret, both random values and (with the extended master "
        "secret) a hash of the handshake, the server derived the master secret and the "
        "session keys with the TLS 1.2 PRF."
    ),
}


def explain_step(step: str, action: str, details: dict[str, Any], tls12: bool = False) -> str:
    """A sentence or two about one trace step, adapted to its details."""
    if tls12 and (step, action) in _STEPS_TLS12:
        return _STEPS_TLS12[(step, action)]
    text = _STEPS.get((step, action), "")
    if step == t.KEY_EXCHANGE and details.get("hybrid"):
        pq, classical = hybrid_parts(str(details.get("group"))) or ("ML-KEM", "ECDH")
        text += (f" Here the secret combines {classical} with post-quantum {pq}, so it "
                 "stays safe even against a future quantum computer.")
    elif step == t.CERTIFICATE_VERIFY and str(details.get("signature_scheme", "")).startswith(
            "mldsa"):
        text += (" The signature is ML-DSA (FIPS 204), a post-quantum signature scheme: "
                 "forging it would take more than a quantum computer.")
    elif step == t.KEY_DERIVATION:
        stage = str(details.get("stage", ""))
        if stage == "handshake":
            text += " These handshake keys encrypt the rest of the handshake."
        elif stage == "application":
            text += " These application keys will encrypt this page."
        elif stage:
            text += f" ({stage})"
    elif step == t.SERVER_HELLO and details.get("version") == "TLS 1.2":
        text = ("The server answered with its choices: TLS 1.2, a cipher suite and "
                "a fresh random value. Key exchange follows in separate messages.")
    return text


def post_quantum_note(group: str) -> str:
    """The page's paragraph about a post-quantum hybrid group."""
    parts = hybrid_parts(group)
    if parts is None:
        return SECTIONS["post_quantum"]
    pq, classical = parts
    return (f"{group} is a hybrid key exchange: classical {classical} combined with "
            f"{pq}, a post-quantum key encapsulation standardised by NIST (FIPS 203). "
            "The connection stays secret unless both are broken, so traffic recorded "
            "today cannot be decrypted later by a quantum computer.")


__all__ = ["SECTIONS", "explain_step", "post_quantum_note"]
