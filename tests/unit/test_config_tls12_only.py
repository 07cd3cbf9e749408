"""A TLS 1.2-only configuration must have something TLS 1.2 can offer and accept."""

from __future__ import annotations

import pytest

from glasstls import ClientConfig, ServerConfig
from glasstls.constants import TLS12, TLS13, NamedGroup, SignatureScheme
from glasstls.errors import ConfigError

HYBRIDS = (NamedGroup.X25519MLKEM768,)
MLDSA = (SignatureScheme.mldsa65,)


@pytest.mark.parametrize("make", [ClientConfig, ServerConfig])
def test_tls12_only_with_tls13_only_groups_is_refused(make: type) -> None:
    # The hybrids are TLS 1.3 only: a client would send an empty supported_groups list.
    with pytest.raises(ConfigError, match=r"none of the groups can be used in TLS 1\.2"):
        make(versions=(TLS12,), groups=HYBRIDS)


@pytest.mark.parametrize("make", [ClientConfig, ServerConfig])
def test_tls12_only_with_tls13_only_schemes_is_refused(make: type) -> None:
    with pytest.raises(ConfigError, match="none of the signature schemes"):
        make(versions=(TLS12,), signature_schemes=MLDSA)


def test_the_same_lists_are_fine_with_tls13_or_beside_a_tls12_entry() -> None:
    ClientConfig(versions=(TLS13,), groups=HYBRIDS, signature_schemes=MLDSA)
    ClientConfig(versions=(TLS13, TLS12), groups=HYBRIDS, signature_schemes=MLDSA)
    ClientConfig(versions=(TLS12,), groups=(*HYBRIDS, NamedGroup.x25519),
                 signature_schemes=(*MLDSA, SignatureScheme.rsa_pss_rsae_sha256))
    # A server without a certificate gets past the version checks to the certificate one.
    with pytest.raises(ConfigError, match="certificate chain"):
        ServerConfig(versions=(TLS12,), groups=(*HYBRIDS, NamedGroup.x25519),
                     signature_schemes=(*MLDSA, SignatureScheme.rsa_pss_rsae_sha256))
