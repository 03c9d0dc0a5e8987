"""Alipay notifications: the shared vector, python-alipay-sdk as an independent signer, tampering,
account checks, sign types, charsets and the status → kind mapping."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from functools import cache
from urllib.parse import urlencode

import pytest
from alipay import AliPay
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from chalicelib.domain.errors import (
    AccountMismatch,
    ChannelMisconfigured,
    MalformedNotification,
    NotificationRejected,
    SignatureInvalid,
)
from chalicelib.domain.money import Money
from chalicelib.domain.notice import NoticeKind
from chalicelib.gateways.alipay import AlipayGateway

from .helpers import VECTOR_NOW, char_tampers, inbound, read_pem

GATEWAY = AlipayGateway()
UTC = UTC


@cache
def _sdk(sign_type: str) -> AliPay:
    return AliPay(
        appid="2021000000000000",
        app_private_key_string=read_pem("ali_platform_key.pem"),
        alipay_public_key_string=read_pem("ali_platform_pub.pem"),
        sign_type=sign_type,
    )


def sdk_body(params: dict, sign_type: str = "RSA2") -> bytes:
    """A form body signed by python-alipay-sdk, playing Alipay's side with the platform key."""
    unsigned = {k: v for k, v in params.items() if k not in ("sign", "sign_type")}
    return f"{_sdk(sign_type).sign_data(unsigned)}&sign_type={sign_type}".encode("ascii")


def own_body(params: dict, charset: str, sign_encoding: str) -> bytes:
    """A body encoded in `charset`, signed (by cryptography) over the string in `sign_encoding`."""
    unsigned = {k: v for k, v in params.items() if k not in ("sign", "sign_type")}
    string = "&".join(f"{k}={unsigned[k]}" for k in sorted(unsigned))
    key = serialization.load_pem_private_key(read_pem("ali_platform_key.pem").encode(), None)
    signature = key.sign(string.encode(sign_encoding), padding.PKCS1v15(), hashes.SHA256())
    fields = {**unsigned, "sign_type": "RSA2", "sign": base64.b64encode(signature).decode()}
    return urlencode(fields, encoding=charset).encode("ascii")


def parse(body: bytes, config: dict, channel: str = "ali1"):
    return GATEWAY.parse_notification(inbound(body), config, channel, VECTOR_NOW)


@pytest.fixture
def params(ali_vector) -> dict:
    return {k: v for k, v in ali_vector["params"].items() if k not in ("sign", "sign_type")}


# --- the vector and the SDK oracle ---------------------------------------------------------------


def test_vector_verifies_and_parses(ali_vector, ali_config):
    notice = parse(ali_vector["form_body"].encode("ascii"), ali_config)
    p = ali_vector["params"]
    assert notice.kind is NoticeKind.PAYMENT
    assert notice.gateway == "alipay" and notice.channel == "ali1"
    assert notice.dedupe_key == f"ali1:{p['notify_id']}"
    assert notice.out_trade_no == "ORD20240101000001"
    assert notice.trade_no == notice.payment_ref == p["trade_no"]
    assert notice.amount == Money(1, "CNY") and notice.received == Money(1, "CNY")
    assert notice.gateway_status == "TRADE_SUCCESS"
    assert notice.event_time == datetime(2024, 1, 1, 4, 0, 5, tzinfo=UTC)
    assert notice.payer == p["buyer_id"] and notice.method == "alipay"
    assert notice.refunded_total is None
    assert notice.raw["subject"] == "测试商品 A&B" and notice.raw["sign"] == p["sign"]


def test_sdk_accepts_the_vector(ali_vector):
    data = dict(ali_vector["params"])
    signature = data.pop("sign")
    assert _sdk("RSA2").verify(data, signature)


def test_sdk_signed_notification_is_accepted_and_read(params, ali_config):
    params.update(
        out_trade_no="ORD-SDK-1",
        total_amount="58.00",
        receipt_amount="57.50",
        subject="卡密 & 月卡 =+%/?",
        notify_id="n-sdk-1",
    )
    notice = parse(sdk_body(params), ali_config)
    assert notice.out_trade_no == "ORD-SDK-1"
    assert notice.amount == Money(5800) and notice.received == Money(5750)
    assert notice.raw["subject"] == "卡密 & 月卡 =+%/?"


def test_what_we_accept_the_sdk_accepts(params, ali_config):
    body = sdk_body(params)
    notice = parse(body, ali_config)
    data = dict(notice.raw)
    assert _sdk("RSA2").verify(data, data.pop("sign"))


# --- tampering -----------------------------------------------------------------------------------


def _rejected(body: bytes, config: dict) -> bool:
    try:
        parse(body, config)
    except NotificationRejected:
        return True
    return False


def test_every_single_character_tamper_of_the_body_is_rejected(ali_vector, ali_config):
    body = ali_vector["form_body"]
    accepted = [i for i, text in char_tampers(body) if not _rejected(text.encode(), ali_config)]
    assert accepted == []


@pytest.mark.parametrize(
    "key",
    [
        "total_amount",
        "out_trade_no",
        "trade_status",
        "app_id",
        "notify_id",
        "subject",
        "charset",
        "gmt_payment",
        "point_amount",
    ],
)
def test_changing_dropping_or_adding_a_param_is_rejected(ali_vector, ali_config, key):
    signed = dict(ali_vector["params"])
    changed = {**signed, key: signed[key] + "0"}
    dropped = {k: v for k, v in signed.items() if k != key}
    added = {**signed, "extra_field": "x"}
    for variant in (changed, dropped, added):
        assert _rejected(urlencode(variant).encode(), ali_config)


def test_signature_tampers_are_rejected(ali_vector, ali_config):
    params = dict(ali_vector["params"])
    for _, sign in char_tampers(params["sign"]):
        body = urlencode({**params, "sign": sign}).encode()
        with pytest.raises(SignatureInvalid):
            parse(body, ali_config)


def test_signature_by_another_key_is_rejected(params, ali_config):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = stranger.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    body = AliPay(
        appid="2021000000000000",
        app_private_key_string=pem,
        alipay_public_key_string=read_pem("ali_platform_pub.pem"),
    ).sign_data(params)
    with pytest.raises(SignatureInvalid):
        parse(f"{body}&sign_type=RSA2".encode(), ali_config)


# --- account, sign type, empty values, charsets --------------------------------------------------


def test_app_id_mismatch(ali_vector, ali_config):
    with pytest.raises(AccountMismatch):
        parse(ali_vector["form_body"].encode(), {**ali_config, "app_id": "2021999999999999"})


def test_seller_id_mismatch_when_configured(params, ali_config):
    body = sdk_body({**params, "seller_id": "2088000000000000"})
    with pytest.raises(AccountMismatch):
        parse(body, ali_config)
    assert parse(body, {**ali_config, "seller_id": ""}).kind is NoticeKind.PAYMENT


def test_rsa1_is_refused_unless_enabled(params, ali_config):
    body = sdk_body(params, sign_type="RSA")
    for config in (ali_config, {**ali_config, "allow_rsa1": "true"}):
        with pytest.raises(SignatureInvalid) as caught:
            parse(body, config)
        assert caught.value.reason == "unsupported_sign_type"
    assert parse(body, {**ali_config, "allow_rsa1": True}).kind is NoticeKind.PAYMENT


def test_rsa2_signature_relabelled_rsa1_fails(params, ali_config):
    body = sdk_body(params).replace(b"sign_type=RSA2", b"sign_type=RSA")
    with pytest.raises(SignatureInvalid):
        parse(body, {**ali_config, "allow_rsa1": True})


def test_unknown_sign_type_is_refused(params, ali_config):
    body = sdk_body(params).replace(b"sign_type=RSA2", b"sign_type=MD5")
    with pytest.raises(SignatureInvalid):
        parse(body, ali_config)


def test_empty_values_are_kept_in_the_string_to_sign(params, ali_config):
    with_empty = {**params, "body": "", "passback_params": ""}
    assert parse(sdk_body(with_empty), ali_config).raw["body"] == ""
    # a signer that dropped the empty values signed a different string
    signed_without = sdk_body(params)
    sign = signed_without.rsplit(b"&sign=", 1)[1].split(b"&")[0]
    forged = urlencode({**with_empty, "sign_type": "RSA2"}).encode() + b"&sign=" + sign
    with pytest.raises(SignatureInvalid):
        parse(forged, ali_config)


@pytest.mark.parametrize("sign_encoding", ["gbk", "utf-8"])
def test_gbk_notification(params, ali_config, sign_encoding):
    """Alipay signs in the notification charset; GATEWAYS.md says UTF-8: both verify."""
    gbk = {**params, "charset": "gbk", "subject": "测试商品 月卡"}
    notice = parse(own_body(gbk, "gbk", sign_encoding), ali_config)
    assert notice.raw["subject"] == "测试商品 月卡"


def test_gbk_charset_is_case_insensitive_and_gb2312_reads_as_gbk(params, ali_config):
    for charset in ("GBK", "gb2312"):
        body = own_body({**params, "charset": charset, "subject": "测试"}, "gbk", "gbk")
        assert parse(body, ali_config).raw["subject"] == "测试"


def test_gbk_bytes_under_a_utf8_charset_are_malformed(params, ali_config):
    body = own_body({**params, "subject": "测试商品"}, "gbk", "gbk")
    with pytest.raises(MalformedNotification):
        parse(body, ali_config)


def test_unknown_charset_is_malformed(params, ali_config):
    with pytest.raises(MalformedNotification):
        parse(sdk_body({**params, "charset": "latin-9"}), ali_config)


def test_bare_base64_public_key_is_accepted(ali_vector, ali_config):
    bare = "".join(
        line
        for line in ali_config["alipay_public_key"].splitlines()
        if not line.startswith("-----")
    )
    notice = parse(ali_vector["form_body"].encode(), {**ali_config, "alipay_public_key": bare})
    assert notice.kind is NoticeKind.PAYMENT


@pytest.mark.parametrize("key", [None, "", "not a key"])
def test_missing_or_bad_public_key_is_a_config_error(ali_vector, ali_config, key):
    with pytest.raises(ChannelMisconfigured) as caught:
        parse(ali_vector["form_body"].encode(), {**ali_config, "alipay_public_key": key})
    assert "alipay_public_key" in caught.value.message


# --- status → kind -------------------------------------------------------------------------------

REFUND_TIME = datetime(2024, 1, 2, 1, 0, 0, tzinfo=UTC)  # 2024-01-02 09:00:00 Beijing
CLOSE_TIME = datetime(2024, 1, 1, 4, 30, 0, tzinfo=UTC)  # 2024-01-01 12:30:00 Beijing


@pytest.mark.parametrize(
    "status, extra, kind, refunded, when",
    [
        ("TRADE_SUCCESS", {}, NoticeKind.PAYMENT, None, datetime(2024, 1, 1, 4, 0, 5, tzinfo=UTC)),
        ("TRADE_FINISHED", {}, NoticeKind.PAYMENT, None, datetime(2024, 1, 1, 4, 0, 5, tzinfo=UTC)),
        (
            "TRADE_SUCCESS",
            {"refund_fee": "0.00"},
            NoticeKind.PAYMENT,
            None,
            datetime(2024, 1, 1, 4, 0, 5, tzinfo=UTC),
        ),
        (
            "TRADE_SUCCESS",
            {"refund_fee": "20.00", "gmt_refund": "2024-01-02 09:00:00"},
            NoticeKind.REFUND,
            2000,
            REFUND_TIME,
        ),
        (
            "TRADE_CLOSED",
            {"refund_fee": "58.00", "gmt_refund": "2024-01-02 09:00:00"},
            NoticeKind.REFUND,
            5800,
            REFUND_TIME,
        ),
        (
            "TRADE_CLOSED",
            {"gmt_refund": "2024-01-02 09:00:00"},
            NoticeKind.REFUND,
            5800,
            REFUND_TIME,
        ),
        ("TRADE_CLOSED", {"gmt_close": "2024-01-01 12:30:00"}, NoticeKind.CLOSED, None, CLOSE_TIME),
        ("WAIT_BUYER_PAY", {}, NoticeKind.INFO, None, datetime(2024, 1, 1, 4, 0, 6, tzinfo=UTC)),
    ],
)
def test_status_mapping(params, ali_config, status, extra, kind, refunded, when):
    fields = {**params, "trade_status": status, "total_amount": "58.00", **extra}
    if status != "TRADE_SUCCESS" and status != "TRADE_FINISHED":
        fields.pop("gmt_payment")
    notice = parse(sdk_body(fields), ali_config)
    assert notice.kind is kind
    assert notice.amount == Money(5800)
    assert notice.refunded_total == (Money(refunded) if refunded is not None else None)
    assert notice.event_time == when
    assert notice.gateway_status == status


def test_refund_carries_the_refund_request_number(params, ali_config):
    fields = {
        **params,
        "refund_fee": "0.01",
        "gmt_refund": "2024-01-02 09:00:00",
        "out_biz_no": "RF-1",
        "trade_status": "TRADE_CLOSED",
    }
    notice = parse(sdk_body(fields), ali_config)
    assert notice.kind is NoticeKind.REFUND and notice.refund_ref == "RF-1"
    assert notice.payment_ref == params["trade_no"]


# --- malformed input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"garbage",
        b"a=1&a=2",
        b"\xff\xfe=1",
        b"charset=utf-8&subject=%FF",
    ],
)
def test_malformed_bodies(ali_config, body):
    with pytest.raises(MalformedNotification):
        parse(body, ali_config)


@pytest.mark.parametrize(
    "change",
    [
        {"total_amount": "0.001"},
        {"total_amount": "abc"},
        {"total_amount": "1e3"},
        {"receipt_amount": "-"},
        {"gmt_payment": "2024/01/01 12:00:05"},
    ],
)
def test_signed_but_malformed_values(params, ali_config, change):
    with pytest.raises(MalformedNotification):
        parse(sdk_body({**params, **change}), ali_config)


@pytest.mark.parametrize(
    "field", ["total_amount", "out_trade_no", "notify_id", "trade_no", "trade_status"]
)
def test_signed_but_missing_fields(params, ali_config, field):
    fields = {k: v for k, v in params.items() if k != field}
    with pytest.raises(MalformedNotification, match=field):
        parse(sdk_body(fields), ali_config)


def test_missing_sign_is_malformed(params, ali_config):
    body = urlencode({**params, "sign_type": "RSA2"}).encode()
    with pytest.raises(MalformedNotification, match="sign"):
        parse(body, ali_config)


def test_plus_in_a_signature_must_arrive_encoded(ali_vector, ali_config):
    """A '+' sent raw reads as a space: the signature no longer decodes."""
    body = ali_vector["form_body"].replace("%2B", "+").encode()
    with pytest.raises(SignatureInvalid):
        parse(body, ali_config)


# --- answers and redaction -----------------------------------------------------------------------


def test_answers():
    assert (GATEWAY.success_answer().status, GATEWAY.success_answer().body) == (200, "success")
    assert GATEWAY.success_answer().content_type == "text/plain"
    failure = GATEWAY.failure_answer("order not registered yet", 409)
    assert (failure.status, failure.body, failure.content_type) == (200, "fail", "text/plain")


def test_redact_masks_secret_fields():
    redacted = GATEWAY.redact(
        {"app_private_key": "PRIVATE", "nested": {"app_private_key": "x"}, "subject": "ok"}
    )
    assert redacted == {
        "app_private_key": "***",
        "nested": {"app_private_key": "***"},
        "subject": "ok",
    }
