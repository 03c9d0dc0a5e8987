"""The refund and refund query of each gateway against signed answers: requests signed as the
gateway's SDK signs them (the SDK is the oracle), answers verified before they are believed;
succeeded, pending then succeeded, failed, business errors, bad signatures and outages. And the
refund notifications of our requests: WeChat Pay's REFUND.* (decrypted like payment notices)
and Stripe's refund.* webhooks."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest
from alipay import AliPay
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from wechatpayv3 import utils as wechat_sdk

from chalicelib.domain.errors import GatewayUnavailable, RefundNotOffered
from chalicelib.domain.money import Money
from chalicelib.domain.notice import NoticeKind
from chalicelib.domain.refunds import RefundCall, RefundState
from chalicelib.gateways.base import CallContext
from chalicelib.gateways.registry import get_gateway

from .helpers import read_pem
from .recorded import Recorded, http, json_answer
from .test_stripe import event as stripe_event
from .test_stripe import parse_signed as stripe_parse
from .test_wechatpay import envelope
from .test_wechatpay import parse_signed as wechat_parse

NOW = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
CALL = RefundCall(
    out_trade_no="20261124093000000001",
    trade_no="2026112422001411111111111111",
    request_id="rf0123456789abcdef0123456789abcd",
    amount=Money(2000),
    total=Money(5800),
    reason="duplicate payment",
)


def _ctx(config, adapter):
    return CallContext(config, "c1", http(adapter, attempts=1), NOW)


def refund(config, adapter):
    return get_gateway(config["type"]).refund(_ctx(config, adapter), CALL)


def query_refund(config, adapter):
    return get_gateway(config["type"]).query_refund(_ctx(config, adapter), CALL)


def _rsa_sign(pem_name: str, message: bytes) -> str:
    key = serialization.load_pem_private_key(read_pem(pem_name).encode(), password=None)
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


# ------------------------------------------------------------------ Alipay


def alipay_signed(method: str, obj: dict, key: str = "ali_platform_key.pem"):
    """An OpenAPI answer signed by (the test vectors') Alipay platform key over the object's text."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    body = (
        f'{{"{method.replace(".", "_")}_response":{text},"sign":"{_rsa_sign(key, text.encode())}"}}'
    )
    return 200, {"Content-Type": "application/json;charset=utf-8"}, body.encode()


def _ali_sdk(config) -> AliPay:
    return AliPay(
        appid=config["app_id"],
        app_notify_url=None,
        app_private_key_string=config["app_private_key"],
        alipay_public_key_string=config["alipay_public_key"],
        sign_type="RSA2",
    )


REFUNDED = {
    "code": "10000",
    "msg": "Success",
    "trade_no": CALL.trade_no,
    "out_trade_no": CALL.out_trade_no,
    "buyer_logon_id": "li***@qq.com",
    "fund_change": "Y",
    "refund_fee": "20.00",
}


def test_alipay_refund_succeeds_from_a_request_signed_as_the_sdk_signs(ali_config):
    adapter = Recorded([alipay_signed("alipay.trade.refund", REFUNDED)])
    answer = refund(ali_config, adapter)
    assert (answer.state, answer.refunded, answer.gateway_refund_id) == (
        RefundState.SUCCEEDED,
        Money(2000),
        CALL.trade_no,
    )
    sent = dict(parse_qsl(adapter.sent[0].body))
    assert sent["method"] == "alipay.trade.refund"
    assert json.loads(sent["biz_content"]) == {
        "out_trade_no": CALL.out_trade_no,
        "trade_no": CALL.trade_no,
        "refund_amount": "20.00",
        "out_request_no": CALL.request_id,
        "refund_reason": "duplicate payment",
    }
    unsigned = {k: v for k, v in sent.items() if k != "sign"}
    assert sent["sign"] == dict(parse_qsl(_ali_sdk(ali_config).sign_data(unsigned)))["sign"]


def test_alipay_answer_verifies_with_the_sdk_too(ali_config):
    _, _, body = alipay_signed("alipay.trade.refund", REFUNDED)
    assert (
        _ali_sdk(ali_config)._verify_and_return_sync_response(
            body.decode(), "alipay_trade_refund_response"
        )["fund_change"]
        == "Y"
    )


def test_alipay_refund_pending_then_the_query_says_succeeded(ali_config):
    pending = refund(
        ali_config,
        Recorded([alipay_signed("alipay.trade.refund", {**REFUNDED, "fund_change": "N"})]),
    )
    assert pending.state is RefundState.PENDING
    adapter = Recorded(
        [
            alipay_signed(
                "alipay.trade.fastpay.refund.query",
                {
                    "code": "10000",
                    "msg": "Success",
                    "trade_no": CALL.trade_no,
                    "out_trade_no": CALL.out_trade_no,
                    "out_request_no": CALL.request_id,
                    "total_amount": "58.00",
                    "refund_amount": "20.00",
                    "refund_status": "REFUND_SUCCESS",
                },
            )
        ]
    )
    answer = query_refund(ali_config, adapter)
    assert (answer.state, answer.refunded) == (RefundState.SUCCEEDED, Money(2000))
    assert (
        json.loads(dict(parse_qsl(adapter.sent[0].body))["biz_content"])["out_request_no"]
        == CALL.request_id
    )


def test_alipay_query_without_the_refund_means_never_taken(ali_config):
    answer = query_refund(
        ali_config,
        Recorded(
            [
                alipay_signed(
                    "alipay.trade.fastpay.refund.query",
                    {
                        "code": "10000",
                        "msg": "Success",
                        "trade_no": CALL.trade_no,
                        "out_trade_no": CALL.out_trade_no,
                    },
                )
            ]
        ),
    )
    assert answer is None


def test_alipay_business_error_is_a_failed_refund(ali_config):
    answer = refund(
        ali_config,
        Recorded(
            [
                alipay_signed(
                    "alipay.trade.refund",
                    {
                        "code": "40004",
                        "msg": "Business Failed",
                        "sub_code": "ACQ.SELLER_BALANCE_NOT_ENOUGH",
                        "sub_msg": "卖家余额不足",
                    },
                )
            ]
        ),
    )
    assert answer.state is RefundState.FAILED and "ACQ.SELLER_BALANCE_NOT_ENOUGH" in answer.detail


@pytest.mark.parametrize(
    "answer, why",
    [
        (alipay_signed("alipay.trade.refund", REFUNDED, key="ali_app_key.pem"), "does not verify"),
        (
            alipay_signed(
                "alipay.trade.refund",
                {
                    "code": "20000",
                    "msg": "Service Currently Unavailable",
                    "sub_code": "ACQ.SYSTEM_ERROR",
                },
            ),
            "ACQ.SYSTEM_ERROR",
        ),
        ((504, {}, b"gateway timeout"), "HTTP 504"),
    ],
)
def test_alipay_bad_signature_or_no_answer_leaves_the_refund_unknown(ali_config, answer, why):
    with pytest.raises(GatewayUnavailable) as error:
        refund(ali_config, Recorded([answer]))
    assert why in error.value.message


# ------------------------------------------------------------------ WeChat Pay


def wechat_signed(status: int, obj: dict, wx_config, key: str = "wx_platform_key.pem"):
    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp, nonce = "1795574412", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
    signature = _rsa_sign(key, f"{timestamp}\n{nonce}\n".encode() + body + b"\n")
    return (
        status,
        {
            "Content-Type": "application/json",
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Serial": wx_config["platform_public_key_id"],
            "Wechatpay-Signature": signature,
        },
        body,
    )


def wx_refund(status: str) -> dict:
    return {
        "refund_id": "50000000382019052709732678859",
        "out_refund_no": CALL.request_id,
        "transaction_id": CALL.trade_no,
        "out_trade_no": CALL.out_trade_no,
        "channel": "ORIGINAL",
        "status": status,
        "create_time": "2026-11-25T10:30:00+08:00",
        "amount": {
            "total": 5800,
            "refund": 2000,
            "payer_total": 5800,
            "payer_refund": 2000,
            "currency": "CNY",
        },
    }


def _merchant_public_pem() -> str:
    key = serialization.load_pem_private_key(
        read_pem("wx_merchant_key.pem").encode(), password=None
    )
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_wechat_refund_processing_then_the_query_says_success(wx_config):
    adapter = Recorded([wechat_signed(200, wx_refund("PROCESSING"), wx_config)])
    answer = refund(wx_config, adapter)
    assert (answer.state, answer.gateway_refund_id) == (
        RefundState.PENDING,
        "50000000382019052709732678859",
    )
    sent = adapter.sent[0]
    assert sent.method == "POST" and urlsplit(sent.url).path == "/v3/refund/domestic/refunds"
    assert json.loads(sent.body) == {
        "transaction_id": CALL.trade_no,
        "out_refund_no": CALL.request_id,
        "reason": "duplicate payment",
        "amount": {"refund": 2000, "total": 5800, "currency": "CNY"},
    }
    fields = dict(
        part.split("=", 1) for part in sent.headers["Authorization"].split(" ", 1)[1].split(",")
    )
    fields = {k: v.strip('"') for k, v in fields.items()}
    # the SDK's verifier over "POST\n{path}\n{timestamp}\n{nonce}\n{body}\n", with the merchant's key
    assert wechat_sdk.rsa_verify(
        f"POST\n/v3/refund/domestic/refunds\n{fields['timestamp']}",
        fields["nonce_str"],
        sent.body.decode(),
        fields["signature"],
        wechat_sdk.load_public_key(_merchant_public_pem()),
    )

    query = Recorded([wechat_signed(200, wx_refund("SUCCESS"), wx_config)])
    confirmed = query_refund(wx_config, query)
    assert (confirmed.state, confirmed.refunded) == (RefundState.SUCCEEDED, Money(2000))
    assert urlsplit(query.sent[0].url).path == f"/v3/refund/domestic/refunds/{CALL.request_id}"


@pytest.mark.parametrize(
    "status, state",
    [
        ("SUCCESS", RefundState.SUCCEEDED),
        ("ABNORMAL", RefundState.FAILED),
        ("CLOSED", RefundState.FAILED),
    ],
)
def test_wechat_refund_states(wx_config, status, state):
    assert (
        refund(wx_config, Recorded([wechat_signed(200, wx_refund(status), wx_config)])).state
        is state
    )


def test_wechat_business_error_is_a_failed_refund_and_unknown_refund_is_none(wx_config):
    failed = refund(
        wx_config,
        Recorded(
            [wechat_signed(403, {"code": "NOT_ENOUGH", "message": "基本账户余额不足"}, wx_config)]
        ),
    )
    assert failed.state is RefundState.FAILED and "NOT_ENOUGH" in failed.detail
    assert (
        query_refund(
            wx_config,
            Recorded(
                [
                    wechat_signed(
                        404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"}, wx_config
                    )
                ]
            ),
        )
        is None
    )


@pytest.mark.parametrize(
    "answer",
    [
        lambda c: wechat_signed(200, wx_refund("SUCCESS"), c, key="wx_merchant_key.pem"),
        lambda c: (
            200,
            {"Content-Type": "application/json"},
            json.dumps(wx_refund("SUCCESS")).encode(),
        ),
        lambda c: wechat_signed(500, {"code": "SYSTEM_ERROR", "message": "系统错误"}, c),
        lambda c: wechat_signed(200, {**wx_refund("SUCCESS"), "out_refund_no": "another"}, c),
    ],
)
def test_wechat_bad_signature_or_system_error_leaves_the_refund_unknown(wx_config, answer):
    with pytest.raises(GatewayUnavailable):
        refund(wx_config, Recorded([answer(wx_config)]))


def test_wechat_refund_notifications_name_our_request(wx_config):
    plain = {
        "mchid": wx_config["mchid"],
        "out_trade_no": CALL.out_trade_no,
        "transaction_id": CALL.trade_no,
        "out_refund_no": CALL.request_id,
        "refund_id": "50000000382019052709732678859",
        "refund_status": "SUCCESS",
        "success_time": "2026-11-25T10:31:00+08:00",
        "amount": {"total": 5800, "refund": 2000, "payer_total": 5800, "payer_refund": 2000},
    }
    success = wechat_parse(envelope(plain, "REFUND.SUCCESS"), wx_config)
    assert (success.kind, success.refund_ref, success.amount) == (
        NoticeKind.REFUND,
        CALL.request_id,
        Money(2000),
    )
    assert success.extra == {
        "refund_state": "succeeded",
        "gateway_refund_id": "50000000382019052709732678859",
    }
    abnormal = wechat_parse(
        envelope({**plain, "refund_status": "ABNORMAL"}, "REFUND.ABNORMAL"), wx_config
    )
    assert (abnormal.kind, abnormal.extra["refund_state"]) == (NoticeKind.INFO, "failed")


# ------------------------------------------------------------------ Stripe


def st_refund(status: str, **extra) -> dict:
    return {
        "id": "re_3MtwBwLkdIwHu7ix28a3tqPa",
        "object": "refund",
        "amount": 2000,
        "currency": "cny",
        "payment_intent": CALL.trade_no,
        "status": status,
        "created": 1795574412,
        "metadata": {"refund_request_id": CALL.request_id, "order_id": CALL.out_trade_no},
        **extra,
    }


def test_stripe_refund_is_idempotent_on_the_request_id_and_answers_succeeded(stripe_config):
    adapter = Recorded([json_answer(st_refund("succeeded"))])
    answer = refund(stripe_config, adapter)
    assert (answer.state, answer.gateway_refund_id, answer.refunded) == (
        RefundState.SUCCEEDED,
        "re_3MtwBwLkdIwHu7ix28a3tqPa",
        Money(2000),
    )
    sent = adapter.sent[0]
    assert sent.headers["Idempotency-Key"] == CALL.request_id
    assert sent.headers["Authorization"] == "Bearer sk_test_dummy"
    assert dict(parse_qsl(sent.body)) == {
        "payment_intent": CALL.trade_no,
        "amount": "2000",
        "metadata[refund_request_id]": CALL.request_id,
        "metadata[order_id]": CALL.out_trade_no,
        "metadata[reason]": "duplicate payment",
    }


def test_stripe_refund_pending_then_the_list_says_succeeded(stripe_config):
    assert (
        refund(stripe_config, Recorded([json_answer(st_refund("pending"))])).state
        is RefundState.PENDING
    )
    other = {
        **st_refund("succeeded"),
        "id": "re_other",
        "metadata": {"refund_request_id": "rf_other"},
    }
    adapter = Recorded([json_answer({"object": "list", "data": [other, st_refund("succeeded")]})])
    answer = query_refund(stripe_config, adapter)
    assert (answer.state, answer.gateway_refund_id) == (
        RefundState.SUCCEEDED,
        "re_3MtwBwLkdIwHu7ix28a3tqPa",
    )
    assert dict(parse_qsl(urlsplit(adapter.sent[0].url).query))["payment_intent"] == CALL.trade_no
    assert (
        query_refund(stripe_config, Recorded([json_answer({"object": "list", "data": [other]})]))
        is None
    )


def test_stripe_refusals_and_failures(stripe_config):
    refused = refund(
        stripe_config,
        Recorded(
            [
                json_answer(
                    {"error": {"type": "invalid_request_error", "code": "charge_already_refunded"}},
                    400,
                )
            ]
        ),
    )
    assert refused.state is RefundState.FAILED and "charge_already_refunded" in refused.detail
    failed = refund(
        stripe_config,
        Recorded([json_answer(st_refund("failed", failure_reason="expired_or_canceled_card"))]),
    )
    assert failed.state is RefundState.FAILED and "expired_or_canceled_card" in failed.detail
    with pytest.raises(GatewayUnavailable):
        refund(
            stripe_config, Recorded([json_answer({"error": {"type": "authentication_error"}}, 401)])
        )


def test_stripe_refund_webhooks_name_our_request(stripe_config):
    updated = stripe_parse(stripe_event("refund.updated", st_refund("succeeded")), stripe_config)
    assert (updated.kind, updated.refund_ref, updated.out_trade_no, updated.amount) == (
        NoticeKind.REFUND,
        CALL.request_id,
        CALL.out_trade_no,
        Money(2000),
    )
    assert updated.extra["refund_state"] == "succeeded"
    failed = stripe_parse(stripe_event("refund.failed", st_refund("failed")), stripe_config)
    assert (failed.kind, failed.extra["refund_state"]) == (NoticeKind.INFO, "failed")


# ------------------------------------------------------------------ epay


def test_epay_refunds_only_where_the_aggregator_offers_it(epay_config):
    with pytest.raises(RefundNotOffered) as refused:
        refund(epay_config, Recorded([]))
    assert refused.value.details["manual_action"] == "mark_refunded"
    offered = {**epay_config, "refund_api": True}
    adapter = Recorded([json_answer({"code": 1, "msg": "退款成功"})])
    assert refund(offered, adapter).state is RefundState.SUCCEEDED
    sent = adapter.sent[0]
    assert sent.method == "POST" and "key=" not in sent.url  # the key travels in the form only
    assert dict(parse_qsl(sent.body))["money"] == "20.00"
    failed = refund(offered, Recorded([json_answer({"code": 0, "msg": "余额不足"})]))
    assert failed.state is RefundState.FAILED and "余额不足" in failed.detail
    with pytest.raises(RefundNotOffered):
        query_refund(offered, Recorded([]))
