"""A tlslite-ng peer in a process of its own, for the certificate compression tests.

tlslite-ng is an independent TLS 1.3 implementation (pure Python, not built on
OpenSSL) that compresses and decompresses certificates (RFC 8879) with zlib, brotli
and zstd. Debian's GnuTLS 3.7 and the OpenSSL inside ``cryptography`` are built
without certificate compression, so this is the peer that can prove ours both ways.

    python tlslite_peer.py server --cert cert.pem --key key.pem --send brotli [--reqcert]
    python tlslite_peer.py client --port N --receive zstd [--cert c.pem --key k.pem]
    ... [--cipher aes256gcm] [--group secp384r1]   (tlslite's names: one suite, one group)

The server prints ``listening PORT``, answers one connection's line with
``tlslite got: LINE``; the client sends ``hello from tlslite`` and reads the answer.
Both print one JSON line with what tlslite negotiated and saw, then exit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import socket
import sys
from typing import Any

from tlslite import HandshakeSettings, TLSConnection, X509CertChain, parsePEMKey
from tlslite.constants import CipherSuite, GroupName

LINE = b"hello from tlslite\n"


def _settings(args: argparse.Namespace) -> HandshakeSettings:
    settings = HandshakeSettings()
    settings.minVersion = settings.maxVersion = (3, 4)  # TLS 1.3: compression is 1.3 only
    settings.certificate_compression_send = args.send.split(",") if args.send else []
    settings.certificate_compression_receive = args.receive.split(",") if args.receive else []
    if args.cipher:
        settings.cipherNames = [args.cipher]
    if args.group:
        settings.eccCurves = [args.group]
        settings.keyShares = [args.group]
    return settings


def _credentials(args: argparse.Namespace) -> tuple[Any, Any]:
    if not args.cert:
        return None, None
    chain = X509CertChain()
    with open(args.cert) as handle:
        chain.parsePemList(handle.read())
    with open(args.key) as handle:
        key = parsePEMKey(handle.read(), private=True)
    return chain, key


def _summary(connection: TLSConnection, role: str) -> dict[str, Any]:
    session = connection.session
    peer = session.serverCertChain if role == "client" else session.clientCertChain
    return {
        "version": connection.getVersionName(),
        "cipher_suite": CipherSuite.ietfNames[session.cipherSuite],
        "group": GroupName.toRepr(connection.ecdhCurve),
        "server_cert_compression": connection.server_cert_compression_algo,
        "client_cert_compression": connection.client_cert_compression_algo,
        "peer_chain_sha256": [hashlib.sha256(bytes(c.bytes)).hexdigest()
                              for c in peer.x509List] if peer else [],
    }


def _read_line(connection: TLSConnection) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
    return bytes(data)


def server(args: argparse.Namespace) -> dict[str, Any]:
    chain, key = _credentials(args)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(args.timeout)
        print(f"listening {listener.getsockname()[1]}", flush=True)
        sock, _ = listener.accept()
    sock.settimeout(args.timeout)
    connection = TLSConnection(sock)
    connection.handshakeServer(certChain=chain, privateKey=key, reqCert=args.reqcert,
                               settings=_settings(args))
    line = _read_line(connection)
    connection.write(b"tlslite got: " + line)
    summary = {**_summary(connection, "server"), "received": line.decode()}
    connection.close()
    return summary


def client(args: argparse.Namespace) -> dict[str, Any]:
    chain, key = _credentials(args)
    sock = socket.create_connection(("127.0.0.1", args.port), timeout=args.timeout)
    connection = TLSConnection(sock)
    connection.handshakeClientCert(chain, key, settings=_settings(args), serverName="localhost")
    connection.write(LINE)
    summary = {**_summary(connection, "client"), "received": _read_line(connection).decode()}
    connection.close()
    return summary


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=("server", "client"))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--send", default="", help="algorithms to compress with")
    parser.add_argument("--receive", default="", help="algorithms to offer to decompress")
    parser.add_argument("--reqcert", action="store_true")
    parser.add_argument("--cipher", help="the one cipher to allow (tlslite's name)")
    parser.add_argument("--group", help="the one group to allow and share")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    summary = server(args) if args.role == "server" else client(args)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
