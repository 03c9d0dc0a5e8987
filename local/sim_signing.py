"""The gateways' signing and encryption, written for the simulator alone.

Paytrack verifies what these functions sign, so they are deliberately independent of chalicelib
(DESIGN.md): a mistake cannot pass unnoticed by being shared with its twin. Only the standard
library and `cryptography` are used, following GATEWAYS.md and the published vectors.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_UNSIGNED = ("sign", "sign_type")


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("not an RSA private key")
    return key


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """A PUBLIC KEY PEM, or the key inside a CERTIFICATE PEM (Alipay's certificate mode)."""
    key: PublicKeyTypes
    if "-----BEGIN CERTIFICATE-----" in pem:
        key = x509.load_pem_x509_certificate(pem.encode()).public_key()
    else:
        key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise TypeError("not an RSA public key")
    return key


def rsa_sha256_sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    """SHA256withRSA, PKCS#1 v1.5, base64: the signature both Alipay RSA2 and WeChat v3 use."""
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_sha256_verify(key: rsa.RSAPublicKey, signature_b64: str, message: bytes) -> bool:
    """Checks a caller's SHA256withRSA signature (paytrack's signed API requests)."""
    try:
        key.verify(
            base64.b64decode(signature_b64, validate=True),
            message,
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def compact_json(obj: Any) -> bytes:
    """JSON the way the gateways send it: no spaces, non-ASCII characters left as UTF-8."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


# Alipay -------------------------------------------------------------------------------------


def alipay_string_to_sign(params: Mapping[str, str]) -> str:
    """Every field but sign/sign_type, sorted by key, `k=v` joined by `&`; empty values are kept."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in _UNSIGNED)


def alipay_sign(params: Mapping[str, str], key: rsa.RSAPrivateKey) -> str:
    return rsa_sha256_sign(key, alipay_string_to_sign(params).encode("utf-8"))


def alipay_request_string(params: Mapping[str, str]) -> str:
    """What an OpenAPI request's `sign` covers: every non-empty parameter but `sign` (sign_type
    included, unlike a notification), sorted, `k=v` joined by `&`."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] != "")


_RSA_ROOT_SIGNATURES = ("1.2.840.113549.1.1.5", "1.2.840.113549.1.1.11")  # sha1/sha256WithRSA
_END_CERT = "-----END CERTIFICATE-----"


def alipay_cert_sn(pem: str) -> str:
    """Certificate mode's SN, the way Alipay's Node SDK (antcertutil) computes it: the issuer's
    attributes in reverse order as `name=value` joined by `,`, then the decimal serial, MD5 hex."""
    cert = x509.load_pem_x509_certificate(pem.encode())
    issuer = ",".join(
        f"{a.rfc4514_attribute_name}={a.value!s}" for a in reversed(list(cert.issuer))
    )
    return hashlib.md5(f"{issuer}{cert.serial_number}".encode()).hexdigest()


def alipay_root_cert_sn(chain: str) -> str:
    """The SNs of the chain's sha1/sha256WithRSA certificates, in file order, joined by `_`."""
    pems = [part + _END_CERT for part in chain.split(_END_CERT) if "-----BEGIN" in part]
    return "_".join(
        alipay_cert_sn(pem)
        for pem in pems
        if x509.load_pem_x509_certificate(pem.encode()).signature_algorithm_oid.dotted_string
        in _RSA_ROOT_SIGNATURES
    )


# epay ---------------------------------------------------------------------------------------


def epay_string_to_sign(params: Mapping[str, str], key: str) -> str:
    """Non-empty fields but sign/sign_type, sorted, `k=v` joined by `&`, the key appended bare."""
    kept = sorted(k for k, v in params.items() if k not in _UNSIGNED and v != "")
    return "&".join(f"{k}={params[k]}" for k in kept) + key


def epay_sign(params: Mapping[str, str], key: str) -> str:
    return hashlib.md5(epay_string_to_sign(params, key).encode("utf-8")).hexdigest()


def epay_signed_query(params: Mapping[str, str], key: str) -> str:
    """The notify query string as 彩虹 epay builds it: sorted signed fields, then sign, sign_type."""
    kept = {k: params[k] for k in sorted(params) if k not in _UNSIGNED and params[k] != ""}
    return urlencode({**kept, "sign": epay_sign(kept, key), "sign_type": "MD5"})


# Stripe -------------------------------------------------------------------------------------


def stripe_signature_header(secret: str, payload: bytes, timestamp: int) -> str:
    """`t=…,v1=…`: HMAC-SHA256 keyed with the whole `whsec_…` secret over `"{t}.{payload}"`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


# WeChat Pay v3 ------------------------------------------------------------------------------


def wechat_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def wechat_sign(key: rsa.RSAPrivateKey, timestamp: str, nonce: str, body: bytes) -> str:
    return rsa_sha256_sign(key, wechat_message(timestamp, nonce, body))


def wechat_encrypt(apiv3_key: str, plaintext: bytes, nonce: str, associated_data: str) -> str:
    """AEAD_AES_256_GCM as in `resource`: base64 of the ciphertext with the 16-byte tag appended."""
    sealed = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return base64.b64encode(sealed).decode()
