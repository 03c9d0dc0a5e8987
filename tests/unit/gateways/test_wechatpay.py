"""WeChat Pay v3 notifications: the shared vector, wechatpayv3 as an independent signer and
decrypter, tampering, timestamp skew, probes, serials, accounts and the event → kind mapping."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from wechatpayv3.utils import aes_decrypt, load_private_key, load_public_key, rsa_sign, rsa_verify

from chalicelib.domain.errors import (
    AccountMismatch,
    ChannelMisconfigured,
    MalformedNotification,
    NotificationRejected,
    SignatureInvalid,
    StaleTimestamp,
)
from chalicelib.domain.money import Money
from chalicelib.domain.notice import NoticeKind
from chalicelib.gateways.base import InboundRequest
from chalicelib.gateways.wechatpay import WechatPayGateway

from .helpers import VECTOR_NOW, VECTOR_TS, byte_tampers, char_tampers, inbound, read_pem

GATEWAY = WechatPayGateway()
UTC = UTC
PLATFORM_KEY = load_private_key(read_pem("wx_platform_key.pem"))
PLATFORM_PUB = load_public_key(read_pem("wx_platform_pub.pem"))
TRANSACTION_ID = "4200000001202401011234567890"

REFUND_PLAIN = {
    "mchid": "1900000109",
    "out_trade_no": "ORD20240101000001",
    "transaction_id": TRANSACTION_ID,
    "out_refund_no": "RF-1",
    "refund_id": "50000000382019052709732678859",
    "refund_status": "SUCCESS",
    "success_time": "2024-01-02T09:00:00+08:00",
    "user_received_account": "招商银行信用卡0403",
    "amount": {"total": 100, "refund": 40, "payer_total": 100, "payer_refund": 40},
}


def signed_headers(
    body: bytes,
    ts: int = VECTOR_TS,
    nonce: str = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    serial: str = "PUB_KEY_ID_0114232134912410000000000000",
) -> dict:
    """Headers as WeChat sends them, the signature made by wechatpayv3 (or, for bodies that are
    not UTF-8 and so beyond its str API, by cryptography directly)."""
    try:
        signature = rsa_sign(PLATFORM_KEY, f"{ts}\n{nonce}\n{body.decode('utf-8')}\n")
    except UnicodeDecodeError:
        raw = PLATFORM_KEY.sign(
            b"%d\n%s\n%s\n" % (ts, nonce.encode(), body), padding.PKCS1v15(), hashes.SHA256()
        )
        signature = base64.b64encode(raw).decode()
    return {
        "Wechatpay-Signature": signature,
        "Wechatpay-Timestamp": str(ts),
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }


def envelope(
    plain: dict | bytes,
    event_type: str = "TRANSACTION.SUCCESS",
    apiv3_key: str = "0123456789abcdef0123456789abcdef",
    **resource,
) -> dict:
    """A notification envelope whose resource is encrypted the way WeChat does it."""
    data = plain if isinstance(plain, bytes) else json.dumps(plain, ensure_ascii=False).encode()
    aad = "refund" if event_type.startswith("REFUND") else "transaction"
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(b"freshnonce12", data, aad.encode())
    return {
        "id": f"EV-{event_type}",
        "create_time": "2024-01-01T12:00:06+08:00",
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": "…",
        "resource": {
            "original_type": aad,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "associated_data": aad,
            "nonce": "freshnonce12",
            **resource,
        },
    }


def body_of(env: dict) -> bytes:
    return json.dumps(env, ensure_ascii=False).encode()


def parse(body: bytes, headers: dict, config: dict, now: datetime = VECTOR_NOW):
    return GATEWAY.parse_notification(inbound(body, headers), config, "wx1", now)


def parse_signed(env: dict, config: dict):
    body = body_of(env)
    return parse(body, signed_headers(body), config)


def vector_request(wx_vector) -> tuple[bytes, dict]:
    return wx_vector["body"].encode(), dict(wx_vector["headers"])


# --- the vector and the SDK oracle ---------------------------------------------------------------


def test_vector_verifies_decrypts_and_parses(wx_vector, wx_config):
    notice = parse(*vector_request(wx_vector), wx_config)
    assert notice.kind is NoticeKind.PAYMENT
    assert notice.gateway == "wechatpay"
    assert notice.dedupe_key == "wx1:EV-2018022511223320873"
    assert notice.out_trade_no == "ORD20240101000001"
    assert notice.trade_no == notice.payment_ref == TRANSACTION_ID
    assert notice.amount == Money(100, "CNY")
    assert notice.gateway_status == "TRANSACTION.SUCCESS"
    assert notice.event_time == datetime(2024, 1, 1, 4, 0, 5, tzinfo=UTC)
    assert notice.payer == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" and notice.method == "wechat"
    assert notice.raw["resource"] == wx_vector["plain"]


def test_sdk_verifies_and_decrypts_the_vector(wx_vector):
    h = wx_vector["headers"]
    assert rsa_verify(
        h["Wechatpay-Timestamp"],
        h["Wechatpay-Nonce"],
        wx_vector["body"],
        h["Wechatpay-Signature"],
        PLATFORM_PUB,
    )
    resource = json.loads(wx_vector["body"])["resource"]
    plain = aes_decrypt(
        resource["nonce"],
        resource["ciphertext"],
        resource["associated_data"],
        wx_vector["apiv3_key"],
    )
    assert json.loads(plain) == wx_vector["plain"]


def test_sdk_signed_notification_is_accepted_and_the_sdk_agrees(wx_vector, wx_config):
    plain = {
        **wx_vector["plain"],
        "out_trade_no": "ORD-FRESH",
        "transaction_id": "42000009",
        "amount": {"total": 5800, "payer_total": 5800, "currency": "CNY"},
    }
    body = body_of(envelope(plain))
    headers = signed_headers(body)
    notice = parse(body, headers, wx_config)
    assert (notice.out_trade_no, notice.amount) == ("ORD-FRESH", Money(5800))
    assert rsa_verify(
        headers["Wechatpay-Timestamp"],
        headers["Wechatpay-Nonce"],
        body.decode(),
        headers["Wechatpay-Signature"],
        PLATFORM_PUB,
    )
    resource = json.loads(body)["resource"]
    assert (
        json.loads(
            aes_decrypt(
                resource["nonce"],
                resource["ciphertext"],
                resource["associated_data"],
                wx_config["apiv3_key"],
            )
        )
        == plain
    )


def test_platform_key_may_be_given_as_a_certificate(wx_vector, wx_config):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    start = datetime(2023, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(PLATFORM_KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=3650))
        .sign(PLATFORM_KEY, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    notice = parse(*vector_request(wx_vector), {**wx_config, "platform_public_key": pem})
    assert notice.kind is NoticeKind.PAYMENT


# --- tampering -----------------------------------------------------------------------------------


def test_every_single_byte_tamper_of_the_body_is_rejected(wx_vector, wx_config):
    body, headers = vector_request(wx_vector)
    accepted = []
    for i, tampered in byte_tampers(body):
        try:
            parse(tampered, headers, wx_config)
            accepted.append(i)
        except NotificationRejected:
            pass
    assert accepted == []


@pytest.mark.parametrize(
    "name, value",
    [
        ("Wechatpay-Timestamp", str(VECTOR_TS + 1)),
        ("Wechatpay-Nonce", "593BEC0C930BF1AFEB40B4A08C8FB243"),
    ],
)
def test_tampered_signed_headers_are_rejected(wx_vector, wx_config, name, value):
    body, headers = vector_request(wx_vector)
    with pytest.raises(SignatureInvalid):
        parse(body, {**headers, name: value}, wx_config)


def test_signature_tampers_are_rejected(wx_vector, wx_config):
    body, headers = vector_request(wx_vector)
    for _, signature in char_tampers(headers["Wechatpay-Signature"]):
        with pytest.raises(SignatureInvalid):
            parse(body, {**headers, "Wechatpay-Signature": signature}, wx_config)


def test_signature_by_another_key_is_rejected(wx_vector, wx_config):
    body, _ = vector_request(wx_vector)
    other = load_private_key(read_pem("wx_merchant_key.pem"))
    headers = signed_headers(body)
    headers["Wechatpay-Signature"] = rsa_sign(
        other, f"{VECTOR_TS}\n{headers['Wechatpay-Nonce']}\n{body.decode()}\n"
    )
    with pytest.raises(SignatureInvalid):
        parse(body, headers, wx_config)


# --- skew, probes, serials, header case ----------------------------------------------------------


@pytest.mark.parametrize(
    "offset, ok",
    [(0, True), (300, True), (-300, True), (301, False), (-301, False), (86400, False)],
)
def test_timestamp_skew(wx_vector, wx_config, offset, ok):
    body, headers = vector_request(wx_vector)
    now = VECTOR_NOW + timedelta(seconds=offset)
    if ok:
        assert parse(body, headers, wx_config, now).kind is NoticeKind.PAYMENT
    else:
        with pytest.raises(StaleTimestamp):
            parse(body, headers, wx_config, now)


def test_signtest_probe_is_rejected(wx_vector, wx_config):
    body, headers = vector_request(wx_vector)
    headers["Wechatpay-Signature"] = "WECHATPAY/SIGNTEST/" + headers["Wechatpay-Signature"]
    with pytest.raises(SignatureInvalid) as caught:
        parse(body, headers, wx_config)
    assert caught.value.reason == "probe"


def test_unknown_serial_is_rejected(wx_vector, wx_config):
    body, headers = vector_request(wx_vector)
    headers["Wechatpay-Serial"] = "PUB_KEY_ID_0000000000000000000000000000"
    with pytest.raises(SignatureInvalid) as caught:
        parse(body, headers, wx_config)
    assert caught.value.reason == "unknown_serial"


@pytest.mark.parametrize("rename", [str.lower, str.upper, lambda n: n.replace("pay-", "Pay-")])
def test_header_names_in_any_case(wx_vector, wx_config, rename):
    body, headers = vector_request(wx_vector)
    renamed = {rename(k): v for k, v in headers.items()}
    assert parse(body, renamed, wx_config).kind is NoticeKind.PAYMENT
    plain_dict = InboundRequest("POST", renamed, body, {})  # not wrapped in Headers
    assert GATEWAY.parse_notification(plain_dict, wx_config, "wx1", VECTOR_NOW) is not None


@pytest.mark.parametrize(
    "missing", ["Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial"]
)
def test_missing_header_is_malformed(wx_vector, wx_config, missing):
    body, headers = vector_request(wx_vector)
    del headers[missing]
    with pytest.raises(MalformedNotification, match=missing):
        parse(body, headers, wx_config)


# --- accounts and decryption ---------------------------------------------------------------------


@pytest.mark.parametrize("field", ["mchid", "appid"])
def test_account_mismatch(wx_vector, wx_config, field):
    with pytest.raises(AccountMismatch, match=field):
        parse(*vector_request(wx_vector), {**wx_config, field: "other"})


def test_resource_from_another_account_is_rejected(wx_vector, wx_config):
    plain = {**wx_vector["plain"], "mchid": "1900000999"}
    with pytest.raises(AccountMismatch):
        parse_signed(envelope(plain), wx_config)


def test_wrong_apiv3_key_fails_decryption(wx_vector, wx_config):
    with pytest.raises(NotificationRejected) as caught:
        parse(*vector_request(wx_vector), {**wx_config, "apiv3_key": "f" * 32})
    assert caught.value.reason == "decrypt_failed"


@pytest.mark.parametrize("key", [None, "short", "é" * 32])
def test_unusable_apiv3_key_is_a_config_error(wx_vector, wx_config, key):
    with pytest.raises(ChannelMisconfigured, match="apiv3_key"):
        parse(*vector_request(wx_vector), {**wx_config, "apiv3_key": key})


# --- event → kind --------------------------------------------------------------------------------


def test_refund_success(wx_config):
    notice = parse_signed(envelope(REFUND_PLAIN, "REFUND.SUCCESS"), wx_config)
    assert notice.kind is NoticeKind.REFUND
    assert notice.amount == Money(40, "CNY")
    assert notice.refund_ref == "RF-1"
    assert notice.payment_ref == notice.trade_no == TRANSACTION_ID
    assert notice.event_time == datetime(2024, 1, 2, 1, 0, 0, tzinfo=UTC)
    assert notice.dedupe_key == "wx1:EV-REFUND.SUCCESS"


def test_refund_ref_falls_back_to_refund_id(wx_config):
    plain = {k: v for k, v in REFUND_PLAIN.items() if k != "out_refund_no"}
    notice = parse_signed(envelope(plain, "REFUND.SUCCESS"), wx_config)
    assert notice.refund_ref == REFUND_PLAIN["refund_id"]


@pytest.mark.parametrize("event_type", ["REFUND.ABNORMAL", "REFUND.CLOSED"])
def test_refund_abnormal_or_closed_is_info(wx_config, event_type):
    plain = {k: v for k, v in REFUND_PLAIN.items() if k != "success_time"}
    notice = parse_signed(
        envelope({**plain, "refund_status": event_type[7:]}, event_type), wx_config
    )
    assert notice.kind is NoticeKind.INFO
    assert notice.event_time == datetime(2024, 1, 1, 4, 0, 6, tzinfo=UTC)  # create_time


def test_transaction_success_with_another_trade_state_is_info(wx_vector, wx_config):
    plain = {**wx_vector["plain"], "trade_state": "NOTPAY"}
    assert parse_signed(envelope(plain), wx_config).kind is NoticeKind.INFO


def test_untracked_event_type_is_none(wx_vector, wx_config):
    env = envelope(wx_vector["plain"], "PAYSCORE.USER_OPEN_SERVICE")
    assert parse_signed(env, wx_config) is None


def test_currency_defaults_to_cny(wx_vector, wx_config):
    plain = {**wx_vector["plain"], "amount": {"total": 100}}
    assert parse_signed(envelope(plain), wx_config).amount == Money(100, "CNY")


# --- malformed input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b"{}",
        b'{"event_type": 5}',
        b"\xff\xfe{}",
        b'{"event_type": "TRANSACTION.SUCCESS"}',
    ],
)
def test_signed_malformed_bodies(wx_config, body):
    with pytest.raises(MalformedNotification):
        parse(body, signed_headers(body), wx_config)


@pytest.mark.parametrize(
    "resource",
    [
        {"ciphertext": "not base64!"},
        {"algorithm": "AES_128_CBC"},
        {"nonce": ""},
        {"nonce": "short"},
    ],
)
def test_signed_malformed_resources(wx_vector, wx_config, resource):
    with pytest.raises(MalformedNotification):
        parse_signed(envelope(wx_vector["plain"], **resource), wx_config)


@pytest.mark.parametrize(
    "plain",
    [
        b"not json",
        b"[1]",
        b"\xff",
        {
            "mchid": "1900000109",
            "appid": "wxd678efh567hg6787",
            "out_trade_no": "O",
            "transaction_id": "T",
            "trade_state": "SUCCESS",
            "amount": {"total": "100"},
        },
        {
            "mchid": "1900000109",
            "out_trade_no": "O",
            "transaction_id": "T",
            "amount": {"total": 1.5},
        },
        {
            "mchid": "1900000109",
            "out_trade_no": "O",
            "transaction_id": "T",
            "amount": {"total": 1},
            "success_time": "2024-01-01 12:00:05",
        },
        {"mchid": "1900000109", "transaction_id": "T", "amount": {"total": 1}},
        {"out_trade_no": "O", "transaction_id": "T", "amount": {"total": 1}},
    ],
)
def test_signed_malformed_plaintexts(wx_config, plain):
    with pytest.raises(MalformedNotification):
        parse_signed(envelope(plain), wx_config)


def test_non_numeric_timestamp_is_malformed(wx_vector, wx_config):
    body, _ = vector_request(wx_vector)
    headers = signed_headers(body)
    headers["Wechatpay-Timestamp"] = "1704081606x"
    headers["Wechatpay-Signature"] = rsa_sign(
        PLATFORM_KEY, f"1704081606x\n{headers['Wechatpay-Nonce']}\n{body.decode()}\n"
    )
    with pytest.raises(MalformedNotification):
        parse(body, headers, wx_config)


# --- answers and redaction -----------------------------------------------------------------------


def test_answers():
    success = GATEWAY.success_answer()
    assert (success.status, success.body) == (204, "")
    failure = GATEWAY.failure_answer("订单未登记", 409)
    assert failure.status == 409 and failure.content_type == "application/json"
    assert json.loads(failure.body) == {"code": "FAIL", "message": "订单未登记"}


def test_redact_masks_secret_fields():
    assert GATEWAY.redact({"apiv3_key": "k", "merchant_private_key": "p", "id": "EV"}) == {
        "apiv3_key": "***",
        "merchant_private_key": "***",
        "id": "EV",
    }
