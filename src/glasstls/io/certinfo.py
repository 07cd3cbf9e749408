"""A peer certificate as the dictionary ``ssl.SSLSocket.getpeercert()`` returns.

Code written for ``ssl`` reads ``cert["subject"]``, ``cert["subjectAltName"]`` or
``cert["notAfter"]`` (and passes the latter to ``ssl.cert_time_to_seconds``), so
the shapes and spellings here follow what ``ssl`` produces:

    >>> info = certificate_dict(der)
    >>> dict(x[0] for x in info["subject"])["commonName"]
    'localhost'
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
from typing import Any

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from ..certs import old_roots_tolerated

# OpenSSL's long names for the attributes of a distinguished name.
_ATTRIBUTE_NAMES = {
    NameOID.COMMON_NAME: "commonName",
    NameOID.COUNTRY_NAME: "countryName",
    NameOID.LOCALITY_NAME: "localityName",
    NameOID.STATE_OR_PROVINCE_NAME: "stateOrProvinceName",
    NameOID.STREET_ADDRESS: "streetAddress",
    NameOID.ORGANIZATION_NAME: "organizationName",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "organizationalUnitName",
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.SURNAME: "surname",
    NameOID.GIVEN_NAME: "givenName",
    NameOID.TITLE: "title",
    NameOID.INITIALS: "initials",
    NameOID.GENERATION_QUALIFIER: "generationQualifier",
    NameOID.DN_QUALIFIER: "dnQualifier",
    NameOID.PSEUDONYM: "pseudonym",
    NameOID.USER_ID: "userId",
    NameOID.DOMAIN_COMPONENT: "domainComponent",
    NameOID.EMAIL_ADDRESS: "emailAddress",
    NameOID.BUSINESS_CATEGORY: "businessCategory",
    NameOID.POSTAL_CODE: "postalCode",
    NameOID.JURISDICTION_COUNTRY_NAME: "jurisdictionCountryName",
    NameOID.JURISDICTION_LOCALITY_NAME: "jurisdictionLocalityName",
    NameOID.JURISDICTION_STATE_OR_PROVINCE_NAME: "jurisdictionStateOrProvinceName",
    NameOID.ORGANIZATION_IDENTIFIER: "organizationIdentifier",
}

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

Name = tuple[tuple[tuple[str, str], ...], ...]


def _name(name: x509.Name) -> Name:
    rdns = []
    for rdn in name.rdns:
        pairs = []
        for attribute in rdn:
            label = _ATTRIBUTE_NAMES.get(attribute.oid, attribute.oid.dotted_string)
            value = attribute.value
            pairs.append((label, value if isinstance(value, str) else value.hex()))
        rdns.append(tuple(pairs))
    return tuple(rdns)


def openssl_time(moment: _dt.datetime) -> str:
    """``Jan  5 09:03:56 2027 GMT``: OpenSSL's ASN1_TIME_print format, which
    ``ssl.cert_time_to_seconds`` parses."""
    moment = moment.astimezone(_dt.UTC)
    return (f"{_MONTHS[moment.month - 1]} {moment.day:2d} "
            f"{moment:%H:%M:%S} {moment.year} GMT")


def _ip_text(address: ipaddress.IPv4Address | ipaddress.IPv6Address | Any) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        # OpenSSL's spelling: eight groups, upper-case, not compressed.
        words = address.packed
        return ":".join(f"{int.from_bytes(words[i:i + 2], 'big'):X}" for i in range(0, 16, 2))
    return str(address)


def _alt_names(certificate: x509.Certificate) -> tuple[tuple[str, Any], ...]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return ()
    names: list[tuple[str, Any]] = []
    for general in san:
        if isinstance(general, x509.DNSName):
            names.append(("DNS", general.value))
        elif isinstance(general, x509.IPAddress):
            names.append(("IP Address", _ip_text(general.value)))
        elif isinstance(general, x509.RFC822Name):
            names.append(("email", general.value))
        elif isinstance(general, x509.UniformResourceIdentifier):
            names.append(("URI", general.value))
        elif isinstance(general, x509.DirectoryName):
            names.append(("DirName", _name(general.value)))
        elif isinstance(general, x509.RegisteredID):
            names.append(("Registered ID", general.value.dotted_string))
        else:
            names.append(("othername", "<unsupported>"))
    return tuple(names)


def _access_locations(certificate: x509.Certificate) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    try:
        aia: x509.AuthorityInformationAccess | None = (
            certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value)
    except (x509.ExtensionNotFound, ValueError):
        aia = None
    if aia is not None:
        for key, method in (("OCSP", AuthorityInformationAccessOID.OCSP),
                            ("caIssuers", AuthorityInformationAccessOID.CA_ISSUERS)):
            urls = tuple(d.access_location.value for d in aia
                         if d.access_method == method
                         and isinstance(d.access_location, x509.UniformResourceIdentifier))
            if urls:
                found[key] = urls
    try:
        points: x509.CRLDistributionPoints | None = (
            certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value)
    except (x509.ExtensionNotFound, ValueError):
        points = None
    if points is not None:
        urls = tuple(name.value for point in points for name in (point.full_name or ())
                     if isinstance(name, x509.UniformResourceIdentifier))
        if urls:
            found["crlDistributionPoints"] = urls
    return found


def _serial_text(serial: int) -> str:
    """OpenSSL's spelling: hex in whole bytes, a minus sign before a negative one."""
    digits = format(abs(serial), "X")
    return ("-" if serial < 0 else "") + ("0" * (len(digits) % 2)) + digits


def certificate_dict(der: bytes) -> dict[str, Any]:
    """The ``ssl``-style dictionary for a DER certificate."""
    # Trust stores hold old roots with a zero serial; ``ssl`` lists them silently.
    with old_roots_tolerated():
        certificate = x509.load_der_x509_certificate(der)
        info: dict[str, Any] = {
            "subject": _name(certificate.subject),
            "issuer": _name(certificate.issuer),
            "version": certificate.version.value + 1,
            "serialNumber": _serial_text(certificate.serial_number),
            "notBefore": openssl_time(certificate.not_valid_before_utc),
            "notAfter": openssl_time(certificate.not_valid_after_utc),
        }
        alt_names = _alt_names(certificate)
        if alt_names:
            info["subjectAltName"] = alt_names
        info.update(_access_locations(certificate))
    return info


__all__ = ["certificate_dict", "openssl_time"]
