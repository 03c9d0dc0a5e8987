"""The simulator's signing reproduces the published vectors byte for byte (GATEWAYS.md)."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from local.sim_signing import (
    alipay_sign,
    alipay_string_to_sign,
    compact_json,
    epay_sign,
    epay_signed_query,
    epay_string_to_sign,
    load_private_key,
    load_public_key,
    stripe_signature_header,
    wechat_encrypt,
    wechat_message,
    wechat_sign,
)

WX_KEY, WX_NONCE, WX_AAD = "0123456789abcdef0123456789abcdef", "fixednonce12", "transaction"


@pytest.fixture(scope="module")
def pem(vectors_dir):
    return lambda name: (vectors_dir / name).read_text()


def rsa_verifies(public_pem: str, message: bytes, signature_b64: str) -> bool:
    try:
        load_public_key(public_pem).verify(
            base64.b64decode(signature_b64), message, padding.PKCS1v15(), hashes.SHA256()
        )
    except Exception:
        return False
    return True


def test_alipay_string_to_sign_matches_vector(vector):
    v = vector("ali")
    assert alipay_string_to_sign(v["params"]) == v["string_to_sign"]


def test_alipay_string_to_sign_keeps_empty_values():
    assert alipay_string_to_sign({"b": "", "a": "1", "sign": "x", "sign_type": "RSA2"}) == "a=1&b="


def test_alipay_signature_matches_vector_and_verifies(vector, pem):
    v = vector("ali")
    signature = alipay_sign(v["params"], load_private_key(pem("ali_platform_key.pem")))
    assert signature == v["params"]["sign"]  # PKCS#1 v1.5 is deterministic
    assert rsa_verifies(pem("ali_platform_pub.pem"), v["string_to_sign"].encode(), signature)


def test_epay_sign_matches_vector(vector):
    v = vector("epay")
    assert epay_string_to_sign(v["params"], v["key"]) == v["string_to_sign"]
    assert (
        epay_sign(v["params"], v["key"])
        == "818d999b12d1c94cf9054040363eb172"
        == v["params"]["sign"]
    )


def test_epay_notify_query_matches_vector_url(vector):
    v = vector("epay")
    unsigned = {k: val for k, val in v["params"].items() if k not in ("sign", "sign_type")}
    assert epay_signed_query(unsigned, v["key"]) == urlsplit(v["url"]).query


def test_stripe_header_matches_vector(vector):
    v = vector("stripe")
    t = int(v["header"].split(",")[0].removeprefix("t="))
    assert stripe_signature_header(v["secret"], v["payload"].encode(), t) == v["header"]


def test_wechat_signature_matches_vector_header(vector, pem):
    v = vector("wx")
    h, body = v["headers"], v["body"].encode()
    message = wechat_message(h["Wechatpay-Timestamp"], h["Wechatpay-Nonce"], body)
    assert message == f"{h['Wechatpay-Timestamp']}\n{h['Wechatpay-Nonce']}\n{v['body']}\n".encode()
    signature = wechat_sign(
        load_private_key(pem("wx_platform_key.pem")),
        h["Wechatpay-Timestamp"],
        h["Wechatpay-Nonce"],
        body,
    )
    assert signature == h["Wechatpay-Signature"]
    assert rsa_verifies(pem("wx_platform_pub.pem"), message, signature)


def test_wechat_plain_serialises_like_the_vector(vector):
    """The gateway's own plaintext bytes (decrypted) are the simulator's JSON of `plain`."""
    v = vector("wx")
    resource = json.loads(v["body"])["resource"]
    assert (resource["nonce"], resource["associated_data"]) == (WX_NONCE, WX_AAD)
    sent = AESGCM(WX_KEY.encode()).decrypt(
        WX_NONCE.encode(), base64.b64decode(resource["ciphertext"]), WX_AAD.encode()
    )
    assert sent == compact_json(v["plain"])


def test_wechat_encryption_reproduces_vector_ciphertext(vector):
    v = vector("wx")
    assert v["apiv3_key"] == WX_KEY
    ciphertext = wechat_encrypt(WX_KEY, compact_json(v["plain"]), WX_NONCE, WX_AAD)
    assert ciphertext == json.loads(v["body"])["resource"]["ciphertext"]
