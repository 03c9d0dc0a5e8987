"""Test-only certificates for Alipay's certificate mode, shaped like Alipay's own: an RSA root
signed with SHA-1, one with SHA-256 and an ECC root in one chain file (blank lines between, as
alipayRootCert.crt has them), and an intermediate CA that issues the app's and Alipay's
certificates under a `C, O, OU, CN` issuer name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

START = datetime(2024, 1, 1, tzinfo=UTC)
_SHA256_RSA = bytes.fromhex("06092a864886f70d01010b")  # DER of OID 1.2.840.113549.1.1.11
_SHA1_RSA = bytes.fromhex("06092a864886f70d010105")  # 1.2.840.113549.1.1.5


@dataclass(frozen=True)
class AlipayCerts:
    app_cert: str
    alipay_cert: str
    alipay_root_cert: str

    def config(self) -> dict[str, str]:
        return {
            "app_cert": self.app_cert,
            "alipay_cert": self.alipay_cert,
            "alipay_root_cert": self.alipay_root_cert,
        }


def _name(cn: str, o: str = "Ant Financial", ou: str = "Certification Authority") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, o),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _cert(subject: x509.Name, public_key, issuer: x509.Name, signer, algorithm) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(START)
        .not_valid_after(START + timedelta(days=3650))
        .sign(signer, algorithm)
    )


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    length = bytes([size]) if size < 0x80 else bytes([0x80 | 2]) + size.to_bytes(2, "big")
    return bytes([tag]) + length + content


def _sha1_rsa_cert(subject: x509.Name, key: rsa.RSAPrivateKey) -> x509.Certificate:
    """A self-signed sha1WithRSA root like Alipay's oldest one. cryptography no longer signs
    certificates with SHA-1, so the TBS part is built with SHA-256, relabelled and signed here."""
    tbs = _cert(subject, key.public_key(), subject, key, hashes.SHA256()).tbs_certificate_bytes
    tbs = tbs.replace(_SHA256_RSA, _SHA1_RSA, 1)
    signature = key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    algorithm = _der(0x30, _SHA1_RSA + b"\x05\x00")
    return x509.load_der_x509_certificate(
        _der(0x30, tbs + algorithm + _der(0x03, b"\x00" + signature))
    )


def pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


@lru_cache(maxsize=1)
def rsa_key() -> rsa.RSAPrivateKey:
    """One CA key for every test certificate (RSA-2048 takes a moment to make)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def root_chain() -> str:
    ca = rsa_key()
    old = _name("Ant Financial Certification Authority")
    r1 = _name("Ant Financial Certification Authority R1")
    e1 = _name("Ant Financial Certification Authority E1")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    certs = [
        _sha1_rsa_cert(old, ca),
        _cert(r1, ca.public_key(), r1, ca, hashes.SHA256()),
        _cert(e1, ec_key.public_key(), e1, ec_key, hashes.SHA256()),
    ]
    return "\n".join(pem(c) for c in certs)


def alipay_certs(app_public_key, alipay_public_key) -> AlipayCerts:
    """The three certificates of a certificate-mode channel for these two public keys."""
    ca = rsa_key()
    issuer = _name("Ant Financial Certification Authority Class 2 R1")
    app = _cert(
        _name("2021000000000001", o="paytrack test shop", ou="Alipay"),
        app_public_key,
        issuer,
        ca,
        hashes.SHA256(),
    )
    alipay = _cert(
        _name("支付宝(中国)网络技术有限公司-2088000000000001", o="Alipay", ou="Alipay"),
        alipay_public_key,
        issuer,
        ca,
        hashes.SHA256(),
    )
    return AlipayCerts(pem(app), pem(alipay), root_chain())
