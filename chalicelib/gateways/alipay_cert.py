"""Alipay's certificate mode (公钥证书模式): the serial numbers every request carries, and Alipay's
public key taken from its certificate instead of a bare `alipay_public_key`.

A channel is in certificate mode when it holds `app_cert` (the app's public key certificate,
appCertPublicKey_….crt), `alipay_cert` (alipayCertPublicKey_RSA2.crt) and `alipay_root_cert`
(alipayRootCert.crt, a chain of several root certificates).

An SN is the lowercase hex MD5 of the issuer's distinguished name as RFC 2253 prints it
(`CN=…,OU=…,O=…,C=…`) followed by the serial number in decimal: what Alipay's SDKs compute (Java
`AntCertificationUtil.getCertSN`, python-alipay-sdk `DCAliPay.get_cert_sn`). The root SN joins with
`_` the SNs of the root chain's certificates signed with sha1WithRSA or sha256WithRSA, in file
order; the chain's ECC and SM2 roots are left out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import SignatureAlgorithmOID

from ..domain.errors import ChannelMisconfigured
from ._signing import config_value, rsa_public_key

CERT_FIELDS = ("app_cert", "alipay_cert", "alipay_root_cert")
_ROOT_SIGNATURES = (SignatureAlgorithmOID.RSA_WITH_SHA1, SignatureAlgorithmOID.RSA_WITH_SHA256)


def cert_mode(config: Mapping[str, Any]) -> bool:
    return any(field in config for field in CERT_FIELDS)


def alipay_public_key(config: Mapping[str, Any]) -> rsa.RSAPublicKey:
    """The key Alipay's notifications and answers verify with, in either mode."""
    return rsa_public_key(config, "alipay_cert" if cert_mode(config) else "alipay_public_key")


def request_cert_sns(config: Mapping[str, Any]) -> dict[str, str]:
    """`app_cert_sn` and `alipay_root_cert_sn` for a request; nothing in public-key mode."""
    if not cert_mode(config):
        return {}
    return {
        "app_cert_sn": _sn_of_field(config, "app_cert", cert_sn),
        "alipay_root_cert_sn": _sn_of_field(config, "alipay_root_cert", root_cert_sn),
    }


def alipay_cert_sn(config: Mapping[str, Any]) -> str:
    """The SN of the Alipay certificate the channel holds (answers name the one they were signed
    with in `alipay_cert_sn`)."""
    return _sn_of_field(config, "alipay_cert", cert_sn)


def _sn_of_field(config: Mapping[str, Any], name: str, compute: Callable[[str], str]) -> str:
    try:
        return compute(config_value(config, name).strip())
    except ValueError:
        raise ChannelMisconfigured(
            f"channel config field {name} is not a PEM certificate"
        ) from None


@lru_cache(maxsize=32)
def cert_sn(pem: str) -> str:
    """The SN of the first certificate in `pem`."""
    return _sn(x509.load_pem_x509_certificate(pem.encode("ascii")))


@lru_cache(maxsize=32)
def root_cert_sn(pem_chain: str) -> str:
    """The `_`-joined SNs of the chain's RSA-signed (SHA-1 or SHA-256) certificates."""
    certificates = x509.load_pem_x509_certificates(pem_chain.encode("ascii"))
    sns = [_sn(c) for c in certificates if c.signature_algorithm_oid in _ROOT_SIGNATURES]
    if not sns:
        raise ValueError("no RSA root certificate in the chain")
    return "_".join(sns)


def _sn(certificate: x509.Certificate) -> str:
    text = certificate.issuer.rfc4514_string() + str(certificate.serial_number)
    return hashlib.md5(text.encode("utf-8")).hexdigest()
