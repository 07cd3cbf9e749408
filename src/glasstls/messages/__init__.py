"""Wire messages: handshake messages and extensions as frozen data."""
