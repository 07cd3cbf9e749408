"""The secrets a dissection may use: an NSS key log, and what else is known.

The NSS key log (``SSLKEYLOGFILE``) names TLS 1.3 traffic secrets and the TLS 1.2
master secret by client random. With only those, records decrypt and keys,
IVs and Finished values are recomputed, but the stages above them (early,
handshake and master secrets) cannot be. With the key exchange's input as well
(the (EC)DHE shared secret, an X25519 private key, a TLS 1.2 pre-master secret,
a PSK), the whole schedule is computed from the bottom.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# The labels of the NSS key log format, as written by browsers and OpenSSL.
NSS_LABELS = frozenset({
    "CLIENT_RANDOM", "CLIENT_EARLY_TRAFFIC_SECRET", "EARLY_EXPORTER_SECRET",
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET",
})


class KeyLogError(ValueError):
    """A key log line that is not in the NSS format."""


@dataclass
class ConnectionSecrets:
    """What is known of one connection's secrets, by client random."""

    # NSS key log labels -> secret.
    logged: dict[str, bytes] = field(default_factory=dict)
    # Values the engine handed over (live recording): "shared_secret",
    # "pre_master_secret", "handshake_secret", "master_secret"...
    engine: dict[str, bytes] = field(default_factory=dict)
    # The side whose engine recorded them ("client" or "server"), if any.
    recorded_by: str = ""


@dataclass
class KeyMaterial:
    """Secrets for the connections of a capture or a live recording."""

    by_client_random: dict[bytes, ConnectionSecrets] = field(default_factory=dict)
    # X25519 private keys of either side (e.g. RFC 8448's), tried against the key shares.
    x25519_private_keys: list[bytes] = field(default_factory=list)
    # External or resumption PSKs by identity (the ticket bytes for resumption).
    psks: dict[bytes, bytes] = field(default_factory=dict)

    def secrets(self, client_random: bytes) -> ConnectionSecrets:
        return self.by_client_random.setdefault(client_random, ConnectionSecrets())

    def add_line(self, line: str) -> None:
        """One NSS key log line (comments and blank lines are ignored)."""
        line = line.strip()
        if not line or line.startswith("#"):
            return
        parts = line.split()
        if len(parts) != 3:
            raise KeyLogError(f"not an NSS key log line: {line[:60]!r}")
        label, random_hex, secret_hex = parts
        try:
            client_random, secret = bytes.fromhex(random_hex), bytes.fromhex(secret_hex)
        except ValueError:
            raise KeyLogError(f"bad hex in key log line: {line[:60]!r}") from None
        if label not in NSS_LABELS:
            return  # e.g. RSA lines keyed by ciphertext, or labels of other protocols
        if len(client_random) != 32:
            raise KeyLogError(f"client random of {len(client_random)} bytes in {line[:60]!r}")
        self.secrets(client_random).logged[label] = secret

    @classmethod
    def from_keylog(cls, text: str) -> KeyMaterial:
        keys = cls()
        for number, line in enumerate(text.splitlines(), 1):
            try:
                keys.add_line(line)
            except KeyLogError as error:
                raise KeyLogError(f"line {number}: {error}") from None
        return keys

    @classmethod
    def from_keylog_file(cls, path: str | Path) -> KeyMaterial:
        return cls.from_keylog(Path(path).read_text(encoding="ascii", errors="replace"))
