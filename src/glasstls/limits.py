"""The bounds a peer meets: how much it may make a connection read, buffer, skip or
answer before it is refused.

The RFCs set few of these numbers; where they leave them open, glasstls takes
BoringSSL's (``ssl/tls_record.cc``, ``ssl/tls13_both.cc``, ``ssl/handshake.cc``),
which the conformance suites and the large deployments expect, and refuses with
the alert BoringSSL sends. Every bound is far above what an honest peer does, and
each is checked before the work it guards is done. docs/engine.md lists them.
"""

from __future__ import annotations

from .constants import MAX_PLAINTEXT, HandshakeType as H
from .errors import UnexpectedMessage

# -- things in a row that carry nothing (RFC 8446 §5.1, §5.4, §6; RFC 5246 §6.2.1) --------
# Each count is reset by a record that carries content: a handshake record resets the
# counts of records and alerts, application data resets them all.

# Empty records: legal for application data (RFC 8446 §5.4, a traffic-analysis
# countermeasure), never useful 33 times in a row; a TLS 1.3 ChangeCipherSpec dropped
# during the handshake (RFC 8446 §5) counts as one. BoringSSL: kMaxEmptyRecords = 32,
# then unexpected_message (SSL_R_TOO_MANY_EMPTY_FRAGMENTS).
EMPTY_RECORDS = "empty records"
# TLS 1.2 warning alerts and TLS 1.3 user_canceled (the CVE-2016-8610 flood). BoringSSL:
# kMaxWarningAlerts = 4, then unexpected_message (OpenSSL stops after 5).
WARNING_ALERTS = "warning alerts"
# KeyUpdates received with no application data between them (RFC 8446 §4.6.3 sets no
# number). BoringSSL: kMaxKeyUpdates = 32, then unexpected_message.
KEY_UPDATES = "KeyUpdates"
# NewSessionTickets from a server with no application data between them (RFC 8446
# §4.6.1 lets it send any number). Servers send one to four after the handshake;
# each costs the client a key derivation and a stored session.
NEW_SESSION_TICKETS = "NewSessionTickets"
# Post-handshake CertificateRequests (RFC 8446 §4.6.2) with no application data
# between them: each makes the client sign. Servers ask once per protected resource.
CERTIFICATE_REQUESTS = "post-handshake CertificateRequests"
# TLS 1.2 renegotiation requests (a HelloRequest to a client, a ClientHello to an
# established server): each is ignored or answered with a no_renegotiation warning
# (RFC 5746 §4.2, §4.4), which a peer that does not read would pile up. Bounded as
# BoringSSL bounds the warnings it receives.
RENEGOTIATION_REQUESTS = "renegotiation requests"

IN_A_ROW: dict[str, int] = {
    EMPTY_RECORDS: 32,
    WARNING_ALERTS: 4,
    KEY_UPDATES: 32,
    NEW_SESSION_TICKETS: 32,
    CERTIFICATE_REQUESTS: 16,
    RENEGOTIATION_REQUESTS: 4,
}

# What a handshake record resets (the rest waits for application data).
RESET_BY_HANDSHAKE = (EMPTY_RECORDS, WARNING_ALERTS)


def count_in_a_row(counts: dict[str, int], kind: str) -> None:
    """One more ``kind`` without progress: past its bound, ``unexpected_message``."""
    count = counts.get(kind, 0) + 1
    limit = IN_A_ROW[kind]
    if count > limit:
        raise UnexpectedMessage(f"more than {limit} {kind} in a row")
    counts[kind] = count


# -- rejected 0-RTT data (RFC 8446 §4.2.10) ----------------------------------------------
# A server that rejects early data skips the client's records "up to the configured
# max_early_data_size"; BoringSSL skips at most kMaxEarlyDataSkipped = 16,384 bytes,
# then unexpected_message (SSL_R_TOO_MUCH_SKIPPED_EARLY_DATA). glasstls skips that
# much, or what its own tickets allow when that is more, with each record's overhead.
EARLY_DATA_SKIPPED = 16384
# RFC 8446 §5.2: the most a protected record adds to its plaintext.
RECORD_EXPANSION_13 = 256


def early_data_skip_budget(max_early_data_size: int) -> int:
    """Ciphertext bytes of rejected 0-RTT records a server skips: BoringSSL's, or all
    that a client may send under our tickets, whichever is more."""
    records = -(-max_early_data_size // MAX_PLAINTEXT)
    return max(EARLY_DATA_SKIPPED, max_early_data_size + records * RECORD_EXPANSION_13)


# -- handshake messages ---------------------------------------------------------------------
# The largest handshake message body: certificate chains are the big ones (OpenSSL's
# max_cert_list and BoringSSL's default are 100 KiB; some private PKIs send more).
MAX_HANDSHAKE_MESSAGE = 2**18
# Messages read before the peer has proved anything get a limit of their own, as in
# BoringSSL (kMaxMessageLen = 16,384 for every message a server reads when it does not
# ask for certificates; rustls caps every message at 64 KiB): a ClientHello (browsers
# send under 2 KiB, post-quantum shares and tickets included) and a TLS 1.2
# ClientKeyExchange (a public key or an RSA-encrypted secret: at most 2 KiB); the
# server's first flight but for its certificates (ServerHello, EncryptedExtensions,
# a TLS 1.2 ServerKeyExchange); and messages of a fixed, small size. Certificates,
# CertificateRequests (hundreds of CA names) and CertificateVerify (post-quantum
# signatures reach 50 KiB) keep MAX_HANDSHAKE_MESSAGE. Past the limit:
# illegal_parameter, as BoringSSL and OpenSSL send (SSL_R_EXCESSIVE_MESSAGE_SIZE).
MAX_HELLO = 2**14
MAX_MESSAGE: dict[int, int] = {
    H.client_hello: MAX_HELLO,
    H.client_key_exchange: MAX_HELLO,
    H.server_hello: MAX_HELLO,
    H.encrypted_extensions: MAX_HELLO,
    H.server_key_exchange: MAX_HELLO,
    H.hello_request: MAX_HELLO,
    H.end_of_early_data: MAX_HELLO,
    H.key_update: MAX_HELLO,
    H.finished: MAX_HELLO,
    H.server_hello_done: MAX_HELLO,
}
# How many records one handshake message may span: any fragmentation an implementation
# uses (one byte per record included, for messages of up to 2 KiB), but not 2^18 records
# of one byte. Records cost about 10 us each; this caps a message at about 2,000 records
# plus one per 32 of its bytes.
FRAGMENTS_BASE = 2048
FRAGMENT_BYTES = 32


def max_fragments(length: int) -> int:
    """The most records a handshake message of ``length`` body bytes may span."""
    return FRAGMENTS_BASE + (4 + length) // FRAGMENT_BYTES


# -- what waits for a peer that does not read --------------------------------------------
# Bytes received after the peer's close_notify, kept for whoever takes over the socket.
MAX_AFTER_CLOSE = 2**20


__all__ = [
    "CERTIFICATE_REQUESTS",
    "EARLY_DATA_SKIPPED",
    "EMPTY_RECORDS",
    "FRAGMENTS_BASE",
    "IN_A_ROW",
    "KEY_UPDATES",
    "MAX_AFTER_CLOSE",
    "MAX_HANDSHAKE_MESSAGE",
    "MAX_HELLO",
    "MAX_MESSAGE",
    "NEW_SESSION_TICKETS",
    "RENEGOTIATION_REQUESTS",
    "WARNING_ALERTS",
    "count_in_a_row",
    "early_data_skip_budget",
    "max_fragments",
]
