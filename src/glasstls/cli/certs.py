"""``glasstls certs``: a development CA and certificates for local testing, written
to a folder (like mkcert, for glasstls). The CA in that folder is made once and
reused, so every certificate issued there is trusted by trusting one file.

    glasstls certs                                   # localhost, 127.0.0.1, ::1
    glasstls certs myapp.test 10.0.0.5 --key-type rsa-2048 --days 90
    glasstls certs --client alice                    # a client certificate
"""

from __future__ import annotations

import argparse
import datetime as _dt
import ipaddress
import json
import re
import sys
from pathlib import Path
from typing import Any, cast

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..crypto.devpki import KEY_TYPES, Issued, make_ca, make_leaf
from ..crypto.signatures import PRIVATE_KEY_TYPES, PrivateKey
from . import exitcodes
from .common import HelpFormatter, print_failure
from .failures import CommandError, explain
from .render import key_words, open_view

DEFAULT_DIRECTORY = "glasstls-certs"
DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")

EXAMPLES = """\
examples:
  glasstls certs                                 CA + a certificate for localhost, 127.0.0.1, ::1
  glasstls certs myapp.test "*.myapp.test" 10.0.0.5
  glasstls certs api.test --key-type rsa-2048 --days 30 --dir ./pki
  glasstls certs --client alice                  a client certificate (for --client-auth)
  glasstls certs --key-type mldsa65 --dir ./pq   post-quantum: an ML-DSA-65 CA and leaf

The CA (ca.pem, ca-key.pem) is made on first use and reused for every later
certificate in the same folder. Keep ca-key.pem private: it can issue a
certificate for any name.
"""


# RFC 1123 §2.1 host name labels: letters, digits and inner hyphens, 1 to 63 long.
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def check_name(name: str) -> str:
    """``name`` if it is an IP address or a DNS name (a leftmost ``*`` label makes a
    wildcard, RFC 6125 §6.4.3); else a ``CommandError`` saying what is wrong."""
    try:
        ipaddress.ip_address(name)
        return name
    except ValueError:
        pass
    labels = name.removeprefix("*.").split(".")
    if (len(name) <= 253 and all(_LABEL.match(label) for label in labels)
            and not name.startswith("-")):
        return name
    raise CommandError(f"{name!r} is not a DNS name or IP address (DNS names are "
                       "dot-separated labels of letters, digits and hyphens; '*.' may "
                       "start a wildcard)")


def _file_base(names: list[str], client: bool) -> str:
    first = re.sub(r"[^A-Za-z0-9.-]", "_", names[0].replace("*", "_wildcard"))
    base = first + (f"+{len(names) - 1}" if len(names) > 1 else "")
    return base + ("-client" if client else "")


def _write(path: Path, data: bytes, private: bool) -> None:
    path.write_bytes(data)
    if private:
        path.chmod(0o600)


def load_or_make_ca(directory: Path, key_type: str, days: int, name: str) -> tuple[Issued, bool]:
    """The CA kept in ``directory`` (ca.pem + ca-key.pem), made if absent; and
    whether it was made now."""
    ca_path, key_path = directory / "ca.pem", directory / "ca-key.pem"
    if ca_path.exists() or key_path.exists():
        try:
            certificate = x509.load_pem_x509_certificate(ca_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        except (OSError, ValueError, TypeError) as error:
            raise CommandError(f"cannot reuse the CA in {directory}: {error} (move ca.pem "
                               "and ca-key.pem away to make a new one)") from None
        if not isinstance(key, PRIVATE_KEY_TYPES):
            raise CommandError(f"{key_path}: unsupported CA key type")
        public = key.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        if public != certificate.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
            raise CommandError(f"{key_path} does not match {ca_path}")
        return Issued(certificate, cast(PrivateKey, key)), False
    # An Ed25519 or ML-DSA leaf gets a CA of its own kind; the others an ECDSA P-256 CA.
    same_kind = key_type == "ed25519" or key_type.startswith("mldsa")
    ca = make_ca(name, key_type=key_type if same_kind else "ecdsa-p256", days=days)
    directory.mkdir(parents=True, exist_ok=True)
    _write(ca_path, ca.certificate_pem(), private=False)
    _write(key_path, ca.key_pem(), private=True)
    return ca, True


def issue(directory: Path, names: list[str], key_type: str, days: int, client: bool,
          base: str | None, force: bool, ca_days: int, ca_name: str) -> dict[str, Any]:
    """Issue one certificate into ``directory``; returns what was written.

    >>> issue(Path("pki"), ["localhost"], "ecdsa-p256", 825, False, None, False, 3650,
    ...       "glasstls development CA")["certificate"]
    'pki/localhost.pem'
    """
    if key_type not in KEY_TYPES:
        raise CommandError(f"unknown key type {key_type!r}; choose from {', '.join(KEY_TYPES)}")
    if days < 1 or ca_days < 1:
        raise CommandError("--days and --ca-days must be at least 1")
    for name in names:
        check_name(name)
    base = base or _file_base(names, client)
    cert_path, key_path = directory / f"{base}.pem", directory / f"{base}-key.pem"
    if not force and (cert_path.exists() or key_path.exists()):
        raise CommandError(f"{cert_path} already exists (use --force to replace it, or --out "
                           "for another file name)")
    try:
        ca, made = load_or_make_ca(directory, key_type, ca_days, ca_name)
        # A certificate cannot outlive its issuer (RFC 5280 §6.1.3 checks each
        # certificate in the path): cap the leaf at the CA's expiry.
        ca_expiry = ca.certificate.not_valid_after_utc
        capped = _dt.datetime.now(_dt.UTC) + _dt.timedelta(days=days) > ca_expiry
        leaf = make_leaf(ca, names, key_type=key_type, days=days, client=client,
                         not_after=ca_expiry if capped else None)
        _write(cert_path, leaf.certificate_pem(), private=False)
        _write(key_path, leaf.key_pem(), private=True)
    except OSError as error:
        raise CommandError(f"cannot write to {directory}: {error.strerror or error}",
                           exitcodes.USAGE) from None
    except ValueError as error:
        raise CommandError(f"cannot make the certificate: {error}") from None
    return {
        "directory": str(directory), "ca": str(directory / "ca.pem"),
        "ca_key": str(directory / "ca-key.pem"), "ca_created": made,
        "ca_subject": ca.certificate.subject.rfc4514_string(),
        "certificate": str(cert_path), "key": str(key_path), "names": names,
        "key_type": key_type, "client": client,
        "not_after": leaf.certificate.not_valid_after_utc.isoformat(),
        "capped_at_ca_expiry": capped,
    }


def instructions(result: dict[str, Any]) -> list[str]:
    """How to use the files and how to trust the CA, as lines of text. Every
    command works as printed (a test runs them) once the server line has started."""
    ca, cert, key = result["ca"], result["certificate"], result["key"]
    what = "client certificate" if result["client"] else "certificate"
    until = f"valid until {result['not_after'][:10]}"
    if result["capped_at_ca_expiry"]:
        until += " (capped at the CA's expiry: a certificate cannot outlive its issuer)"
    lines = [
        f"{'Created' if result['ca_created'] else 'Reused'} the CA    {ca}  "
        f"({result['ca_subject']})",
        f"Issued a {what} for {', '.join(result['names'])}",
        f"  {cert}",
        f"  {key}  (private)",
        f"  {key_words(_key_label(result['key_type']))}, {until}",
        "",
    ]
    if result["client"]:
        lines += [
            "Use it:",
            f"  glasstls client HOST:PORT --cert {cert} --key {key} --cafile SERVER-CA",
            f"  glasstls server --client-auth required --cafile {ca}",
        ]
    else:
        lines += _server_lines(result["names"], ca, cert, key,
                               post_quantum=result["key_type"].startswith("mldsa"))
    lines += ["", f"Keep {result['ca_key']} private: it can issue a certificate for any name."]
    if result["key_type"].startswith("mldsa"):
        lines.append("Note: ML-DSA certificates authenticate TLS 1.3 only (draft-ietf-tls-mldsa);"
                     " peers need OpenSSL 3.5+, or BoringSSL as in Chromium.")
    if result["key_type"] == "ed25519":
        lines.append("Note: glasstls clients verify chains with cryptography's validator, "
                     "which does not accept Ed25519 certificates; OpenSSL does.")
    return lines


def _server_lines(names: list[str], ca: str, cert: str, key: str,
                  post_quantum: bool = False) -> list[str]:
    """Serving the certificate and reaching it by one of its names on this machine.
    An ML-DSA certificate is shown with glasstls alone: the OpenSSL 3.0 of today's
    distributions (curl's, s_client's) cannot use it."""
    host = names[0].replace("*.", "www.", 1)
    address, bind = "127.0.0.1", ""
    try:
        ip = ipaddress.ip_address(host)
        address = str(ip)
        if not ip.is_loopback:
            bind = f" --bind {ip}"
    except ValueError:
        pass
    url_host = f"[{address}]" if ":" in address else address
    named = host if address == "127.0.0.1" and host != "127.0.0.1" else None
    if named == "localhost" or named is None:
        target = "localhost" if named == "localhost" else url_host
        client = f"glasstls client {target}:8443 --cafile {ca}"
        curl = f"curl --cacert {ca} https://{target}:8443/"
        openssl = f"openssl s_client -connect {target}:8443 -CAfile {ca}"
        python = f"https://{target}:8443/"
    else:
        # A name that may not resolve here: connect to 127.0.0.1 and ask for it.
        client = f"glasstls client 127.0.0.1:8443 --servername {named} --cafile {ca}"
        curl = f"curl --cacert {ca} --resolve {named}:8443:127.0.0.1 https://{named}:8443/"
        openssl = f"openssl s_client -connect 127.0.0.1:8443 -servername {named} -CAfile {ca}"
        python = f"https://{named}:8443/"
    if post_quantum:
        return [
            "Serve with it:",
            f"  glasstls server --cert {cert} --key {key}{bind}",
            "",
            "Reach it (OpenSSL 3.5+ and Chromium can too, trusting the same CA):",
            f"  {client} --http /",
        ]
    return [
        "Serve with it:",
        f"  glasstls server --cert {cert} --key {key}{bind}",
        f"  openssl s_server -accept {url_host}:8443 -cert {cert} -key {key} -www",
        "",
        "Trust the CA (only on machines you develop on), then reach it:",
        f"  {client} --http /",
        f"  {curl}",
        f"  {openssl}",
        f"  Python ssl, urllib, httpx:  SSL_CERT_FILE={ca} python3 ...  ({python})",
        f"  Python requests:  REQUESTS_CA_BUNDLE={ca} python3 ...",
        f"  Node.js:  NODE_EXTRA_CA_CERTS={ca} node ...",
        "  system-wide, Debian/Ubuntu:  sudo cp " + ca
        + " /usr/local/share/ca-certificates/glasstls-dev.crt && sudo update-ca-certificates",
        "  system-wide, macOS:  sudo security add-trusted-cert -d -r trustRoot "
        f"-k /Library/Keychains/System.keychain {ca}",
    ]


def _key_label(key_type: str) -> str:
    if key_type.startswith("rsa-"):
        return f"RSA {key_type[4:]}"
    if key_type == "ed25519":
        return "Ed25519"
    if key_type.startswith("mldsa"):
        return f"ML-DSA-{key_type[5:]}"
    return f"ECDSA secp{key_type[-3:]}r1"


def run(args: argparse.Namespace) -> int:
    """Run ``glasstls certs`` with parsed arguments; returns the exit code.

    >>> from glasstls.cli.main import build_parser
    >>> run(build_parser().parse_args(["certs", "--dir", "pki"]))
    0
    """
    names = list(args.names) or (["glasstls-client"] if args.client else list(DEFAULT_NAMES))
    try:
        result = issue(Path(args.dir), names, args.key_type, args.days, args.client, args.out,
                       args.force, args.ca_days, args.ca_name)
    except CommandError as error:
        return print_failure("certs", explain(error),
                             open_view(sys.stdout, json_lines=True) if args.json else None)
    if args.json:
        print(json.dumps({"event": "issued", **result}))
    else:
        sys.stdout.write("\n".join(instructions(result)) + "\n")
    return exitcodes.OK


def add_parser(subparsers: Any) -> None:
    """Add ``certs`` to the ``glasstls`` parser (``main.build_parser`` calls this).

    >>> add_parser(argparse.ArgumentParser().add_subparsers())
    """
    parser = subparsers.add_parser(
        "certs", help="make a development CA and certificates (like mkcert)",
        description="Write a development CA and a certificate for the given names and IP "
        "addresses into a folder, and print how to use them and how to trust the CA. The "
        "CA in the folder is reused by later runs.",
        epilog=EXAMPLES, formatter_class=HelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="DNS names and IP addresses for the certificate (default: "
                        "localhost 127.0.0.1 ::1; the first is also its common name)")
    parser.add_argument("--dir", default=DEFAULT_DIRECTORY,
                        help=f"folder for the files (default ./{DEFAULT_DIRECTORY})")
    parser.add_argument("--key-type", default="ecdsa-p256", choices=KEY_TYPES,
                        help="key type of the certificate (default ecdsa-p256)")
    parser.add_argument("--days", type=int, default=825,
                        help="validity of the certificate in days (default 825)")
    parser.add_argument("--ca-days", type=int, default=3650,
                        help="validity of a new CA in days (default 3650)")
    parser.add_argument("--ca-name", default="glasstls development CA",
                        help="common name of a new CA")
    parser.add_argument("--client", action="store_true",
                        help="make a client certificate (for mutual TLS) instead")
    parser.add_argument("--out", metavar="BASENAME",
                        help="file names BASENAME.pem and BASENAME-key.pem (default from "
                        "the first name)")
    parser.add_argument("--force", action="store_true", help="replace existing files")
    parser.add_argument("--json", action="store_true",
                        help="print what was written as JSON")
    parser.set_defaults(run=run)


__all__ = ["add_parser", "instructions", "issue", "load_or_make_ca", "run"]
