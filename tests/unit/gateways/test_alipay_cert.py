"""Alipay certificate mode (公钥证书模式) against python-alipay-sdk's certificate client (DCAliPay) as
the oracle: the same certificate SNs, the same signed requests, and notifications and answers
verified with the public key taken from Alipay's certificate."""

from __future__ import annotations

import json
from functools import lru_cache
from urllib.parse import parse_qs

import pytest
from alipay import DCAliPay
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.domain.errors import ChannelMisconfigured, GatewayUnavailable, SignatureInvalid
from chalicelib.domain.money import Money
from chalicelib.gateways import alipay_api
from chalicelib.gateways.alipay import AlipayGateway
from chalicelib.gateways.alipay_cert import cert_sn, request_cert_sns, root_cert_sn
from tests.support.certs import AlipayCerts, alipay_certs, root_chain

from .helpers import VECTOR_NOW, inbound, read_pem

APP_ID = "2021000000000001"
QUERY = "alipay.trade.query"


def _pkcs8(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@lru_cache(maxsize=1)
def app_key() -> str:
    """Our side: a fresh app key, as the Alipay key tool makes one."""
    return _pkcs8(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def alipay_key() -> str:
    """Alipay's side: the test platform key of the published vector."""
    return read_pem("ali_platform_key.pem")


def _public(private_pem: str):
    return serialization.load_pem_private_key(private_pem.encode(), None).public_key()


@lru_cache(maxsize=1)
def certs() -> AlipayCerts:
    return alipay_certs(_public(app_key()), _public(alipay_key()))


def config(**overrides) -> dict:
    return {
        "type": "alipay",
        "app_id": APP_ID,
        "app_private_key": app_key(),
        "gateway_url": "https://openapi.alipay.com/gateway.do",
        **certs().config(),
        **overrides,
    }


def merchant_sdk() -> DCAliPay:
    """The merchant's client in certificate mode, configured from the same files."""
    return DCAliPay(
        appid=APP_ID,
        app_private_key_string=app_key(),
        app_public_key_cert_string=certs().app_cert,
        alipay_public_key_cert_string=certs().alipay_cert,
        alipay_root_cert_string=certs().alipay_root_cert,
    )


def alipay_side_sdk() -> DCAliPay:
    """The SDK holding Alipay's key: signs notifications and answers the way Alipay does."""
    return DCAliPay(
        appid=APP_ID,
        app_private_key_string=alipay_key(),
        app_public_key_cert_string=certs().alipay_cert,
        alipay_public_key_cert_string=certs().alipay_cert,
        alipay_root_cert_string=certs().alipay_root_cert,
    )


# --- serial numbers ------------------------------------------------------------------------------


def test_cert_sns_are_the_sdks():
    sdk = merchant_sdk()
    assert cert_sn(certs().app_cert) == sdk.app_cert_sn == DCAliPay.get_cert_sn(certs().app_cert)
    assert root_cert_sn(certs().alipay_root_cert) == sdk.alipay_root_cert_sn
    assert request_cert_sns(config()) == {
        "app_cert_sn": sdk.app_cert_sn,
        "alipay_root_cert_sn": sdk.alipay_root_cert_sn,
    }


def test_the_root_sn_joins_only_the_rsa_roots_in_file_order():
    chain = root_chain()
    sns = root_cert_sn(chain).split("_")
    assert len(sns) == 2 and all(len(sn) == 32 for sn in sns)  # the ECC root is left out
    assert root_cert_sn(chain) == DCAliPay.get_root_cert_sn(chain)


def test_every_fresh_chain_agrees_with_the_sdk():
    """Serial numbers are random: each new chain exercises other decimal serials."""
    for _ in range(5):
        chain = root_chain()
        assert root_cert_sn(chain) == DCAliPay.get_root_cert_sn(chain)


def test_public_key_mode_adds_no_sns():
    assert request_cert_sns({"alipay_public_key": "…"}) == {}


def test_a_certificate_that_does_not_parse_names_the_field():
    with pytest.raises(ChannelMisconfigured, match="app_cert"):
        request_cert_sns(
            config(app_cert="-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----")
        )


# --- requests ------------------------------------------------------------------------------------


def test_requests_are_signed_exactly_as_the_sdk_signs_them():
    ours = alipay_api.signed_request(config(), QUERY, {"out_trade_no": "ORD-CERT-1"}, VECTOR_NOW)
    sdk = merchant_sdk()
    body = sdk.build_body(QUERY, {"out_trade_no": "ORD-CERT-1"})
    assert (ours["app_cert_sn"], ours["alipay_root_cert_sn"]) == (
        body["app_cert_sn"],
        body["alipay_root_cert_sn"],
    )
    unsigned = {k: v for k, v in ours.items() if k != "sign"}
    sdk_sign = parse_qs(sdk.sign_data(unsigned))["sign"][0]
    assert ours["sign"] == sdk_sign


# --- notifications -------------------------------------------------------------------------------


def _notification(**changes) -> bytes:
    params = {
        "notify_id": "2026112500222143012000000001",
        "notify_time": "2026-11-25 14:30:12",
        "notify_type": "trade_status_sync",
        "charset": "utf-8",
        "version": "1.0",
        "app_id": APP_ID,
        "auth_app_id": APP_ID,
        "out_trade_no": "ORD-CERT-2",
        "trade_no": "2026112522001400000000000001",
        "total_amount": "58.00",
        "receipt_amount": "58.00",
        "trade_status": "TRADE_SUCCESS",
        "gmt_payment": "2026-11-25 14:30:10",
        **changes,
    }
    return f"{alipay_side_sdk().sign_data(params)}&sign_type=RSA2".encode("ascii")


def test_a_notification_verifies_with_the_key_in_alipays_certificate():
    body = _notification()
    notice = AlipayGateway().parse_notification(inbound(body), config(), "ali-cert", VECTOR_NOW)
    assert (notice.out_trade_no, notice.amount) == ("ORD-CERT-2", Money(5800, "CNY"))
    raw = dict(notice.raw)
    assert merchant_sdk().verify({k: v for k, v in raw.items() if k != "sign"}, raw["sign"])


def test_a_notification_signed_with_another_key_is_rejected():
    other = alipay_certs(_public(app_key()), _public(app_key()))  # Alipay's cert holds our key
    with pytest.raises(SignatureInvalid):
        AlipayGateway().parse_notification(
            inbound(_notification()), config(alipay_cert=other.alipay_cert), "ali-cert", VECTOR_NOW
        )


# --- answers -------------------------------------------------------------------------------------


def _answer(sn: str) -> str:
    obj = json.dumps(
        {
            "code": "10000",
            "msg": "Success",
            "out_trade_no": "ORD-CERT-3",
            "trade_no": "2026112522001400000000000003",
            "trade_status": "TRADE_SUCCESS",
            "total_amount": "58.00",
        },
        separators=(",", ":"),
    )
    sign = alipay_side_sdk()._sign(obj)
    return f'{{"alipay_trade_query_response":{obj},"alipay_cert_sn":"{sn}","sign":"{sign}"}}'


def test_an_answer_verifies_with_the_key_in_alipays_certificate():
    text = _answer(cert_sn(certs().alipay_cert))
    answer = alipay_api.verified_answer(text, QUERY, config())
    assert answer["out_trade_no"] == "ORD-CERT-3"
    assert (
        merchant_sdk()._verify_and_return_sync_response(text, "alipay_trade_query_response")
        == answer
    )


def test_an_answer_signed_under_another_alipay_certificate_says_to_download_it():
    with pytest.raises(GatewayUnavailable, match="download Alipay's new public key certificate"):
        alipay_api.verified_answer(_answer("0" * 32), QUERY, config())
