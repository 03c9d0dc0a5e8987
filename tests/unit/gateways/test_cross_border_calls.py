"""A cross-border WeChat Pay channel (`"cross_border": true`, WeChat Pay Global) queries and
refunds through the `/v3/global/…` paths, against recorded signed answers in the documented
global shapes (docs/internals.md, "Cross-border calls"): the trade named `id`, the order's amount
in `amount.currency` whatever the payer paid in their own currency, the refund named `id` and
accepted without a status; requests signed as the SDK signs them, answers verified before they
are believed."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from wechatpayv3 import utils as wechat_sdk

from chalicelib.domain.errors import GatewayUnavailable
from chalicelib.domain.money import Money
from chalicelib.domain.notice import NoticeKind, NoticeSource
from chalicelib.domain.query import QueryStatus
from chalicelib.domain.refunds import RefundCall, RefundState
from chalicelib.gateways.base import CallContext
from chalicelib.gateways.registry import get_gateway
from local.sim_signing import wechat_sign

from .helpers import read_pem
from .recorded import Recorded, http, wechat_answer

NOW = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
ORDER_NO, TRADE_NO = "20261124093000000021", "4200000002202611242222222222"
CALL = RefundCall(
    out_trade_no=ORDER_NO,
    trade_no=TRADE_NO,
    request_id="rf0123456789abcdef0123456789abcd",
    amount=Money(500, "USD"),
    total=Money(1999, "USD"),
    reason="duplicate payment",
)
GLOBAL = "https://api.mch.weixin.example/v3/global"


@pytest.fixture
def config(wx_config) -> dict:
    return {**wx_config, "cross_border": True}


def ctx(config, adapter) -> CallContext:
    return CallContext(config, "wx-global", http(adapter, attempts=1), NOW)


def resigned(name: str, change) -> tuple[int, dict, bytes]:
    """A recorded answer whose body `change` altered, signed again with the platform key (a
    genuine answer of another shape)."""
    status, headers, body = wechat_answer(name)
    obj = change(json.loads(body))
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    key = serialization.load_pem_private_key(read_pem("wx_platform_key.pem").encode(), None)
    timestamp, nonce = headers["Wechatpay-Timestamp"], headers["Wechatpay-Nonce"]
    return (
        status,
        {**headers, "Wechatpay-Signature": wechat_sign(key, timestamp, nonce, text)},
        text,
    )


def authorization_fields(sent) -> dict[str, str]:
    parts = sent.headers["Authorization"].split(" ", 1)[1].split(",")
    return {k: v.strip('"') for k, v in (part.split("=", 1) for part in parts)}


# ------------------------------------------------------------------ 补单 and lookup


def test_global_order_query_reads_the_order_amount_not_the_payers(config, monkeypatch):
    adapter = Recorded([wechat_answer("wechatpay_global_query_paid.json")])
    result = get_gateway("wechatpay").query_order(ctx(config, adapter), ORDER_NO, None)
    assert result.status is QueryStatus.PAID
    notice = result.notice
    assert (notice.kind, notice.trade_no, notice.payment_ref, notice.amount, notice.source) == (
        NoticeKind.PAYMENT,
        TRADE_NO,
        TRADE_NO,
        Money(1999, "USD"),  # not the payer's 141.93 CNY
        NoticeSource.QUERY,
    )
    assert notice.raw["amount"]["payer_currency"] == "CNY" and notice.payer is not None
    target = f"/v3/global/transactions/out-trade-no/{ORDER_NO}?mchid=1900000109"
    sent = adapter.sent[0]
    assert sent.method == "GET" and sent.url == "https://api.mch.weixin.example" + target
    fields = authorization_fields(sent)
    monkeypatch.setattr(time, "time", lambda: int(fields["timestamp"]))
    assert sent.headers["Authorization"] == wechat_sdk.build_authorization(
        target,
        "GET",
        "1900000109",
        config["merchant_serial_no"],
        wechat_sdk.load_private_key(config["merchant_private_key"]),
        nonce_str=fields["nonce_str"],
    )


def test_global_order_not_paid_and_unknown_are_answers(config):
    adapter = Recorded(
        [
            wechat_answer("wechatpay_global_query_notpay.json"),
            wechat_answer("wechatpay_query_not_exist.json"),
        ]
    )
    gateway = get_gateway("wechatpay")
    assert gateway.query_order(ctx(config, adapter), "20261124093000000022").status is (
        QueryStatus.NOT_PAID
    )
    assert gateway.query_order(ctx(config, adapter), "X").status is QueryStatus.NOT_FOUND
    assert [urlsplit(s.url).path for s in adapter.sent] == [
        "/v3/global/transactions/out-trade-no/20261124093000000022",
        "/v3/global/transactions/out-trade-no/X",
    ]


def test_global_transaction_by_id_for_the_lookup(config):
    adapter = Recorded([wechat_answer("wechatpay_global_query_paid.json")])
    trade = get_gateway("wechatpay").find_trade(ctx(config, adapter), TRADE_NO)
    assert (trade.status, trade.out_trade_no, trade.amount, trade.paid_at) == (
        QueryStatus.PAID,
        ORDER_NO,
        Money(1999, "USD"),
        datetime(2026, 11, 24, 1, 30, 2, tzinfo=UTC),
    )
    assert adapter.sent[0].url == f"{GLOBAL}/transactions/id/{TRADE_NO}?mchid=1900000109"
    other = Recorded([wechat_answer("wechatpay_global_query_paid.json")])
    with pytest.raises(GatewayUnavailable, match="another merchant or trade"):
        get_gateway("wechatpay").find_trade(ctx(config, other), "4200000002202611249999999999")
    unknown = Recorded([wechat_answer("wechatpay_query_not_exist.json")])
    assert get_gateway("wechatpay").find_trade(ctx(config, unknown), TRADE_NO) is None


def _without_currency(obj: dict) -> dict:
    obj["amount"].pop("currency")
    return obj


def _institution(sp_mchid: str):
    def change(obj: dict) -> dict:
        obj.pop("mchid")
        return {**obj, "sp_mchid": sp_mchid, "sub_mchid": "1900000777"}

    return change


@pytest.mark.parametrize(
    "change, why",
    [
        (_without_currency, "unreadable answer"),
        (lambda o: {**o, "mchid": "1900000999"}, "another merchant or order"),
        (_institution("1900000999"), "another merchant or order"),
        (lambda o: {**o, "trade_state": "SOMETHING"}, "unknown trade_state"),
    ],
    ids=["no-currency", "other-mchid", "other-sp-mchid", "unknown-state"],
)
def test_global_answers_that_do_not_read_are_unavailable(config, change, why):
    answer = resigned("wechatpay_global_query_paid.json", change)
    with pytest.raises(GatewayUnavailable, match=why):
        get_gateway("wechatpay").query_order(ctx(config, Recorded([answer])), ORDER_NO)


def test_a_global_answer_in_the_institutions_shape_names_us_as_sp_mchid(config):
    answer = resigned("wechatpay_global_query_paid.json", _institution("1900000109"))
    result = get_gateway("wechatpay").query_order(ctx(config, Recorded([answer])), ORDER_NO)
    assert result.status is QueryStatus.PAID and result.notice.raw["sub_mchid"] == "1900000777"


# ------------------------------------------------------------------ 退款


def _merchant_public():
    key = serialization.load_pem_private_key(read_pem("wx_merchant_key.pem").encode(), None)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return wechat_sdk.load_public_key(pem.decode())


def test_global_refund_is_accepted_then_the_query_says_processing_then_success(config):
    adapter = Recorded([wechat_answer("wechatpay_global_refund_accepted.json")])
    answer = get_gateway("wechatpay").refund(ctx(config, adapter), CALL)
    assert (answer.state, answer.detail, answer.gateway_refund_id, answer.refunded) == (
        RefundState.PENDING,
        "ACCEPTED",
        "50300000012026112533333333333",
        Money(500, "USD"),
    )
    sent = adapter.sent[0]
    assert sent.method == "POST" and sent.url == f"{GLOBAL}/refunds"
    assert json.loads(sent.body) == {
        "mchid": "1900000109",
        "appid": config["appid"],
        "transaction_id": TRADE_NO,
        "out_refund_no": CALL.request_id,
        "reason": "duplicate payment",
        "amount": {"refund": 500, "total": 1999, "currency": "USD"},
    }
    fields = authorization_fields(sent)
    assert wechat_sdk.rsa_verify(
        f"POST\n/v3/global/refunds\n{fields['timestamp']}",
        fields["nonce_str"],
        sent.body.decode(),
        fields["signature"],
        _merchant_public(),
    )

    query = Recorded(
        [
            wechat_answer("wechatpay_global_refund_processing.json"),
            wechat_answer("wechatpay_global_refund_success.json"),
        ]
    )
    processing = get_gateway("wechatpay").query_refund(ctx(config, query), CALL)
    assert (processing.state, processing.detail) == (RefundState.PENDING, "PROCESSING")
    done = get_gateway("wechatpay").query_refund(ctx(config, query), CALL)
    assert (done.state, done.refunded, done.gateway_refund_id) == (
        RefundState.SUCCEEDED,
        Money(500, "USD"),
        "50300000012026112533333333333",
    )
    assert {s.url for s in query.sent} == {
        f"{GLOBAL}/refunds/out-refund-no/{CALL.request_id}?mchid=1900000109"
    }


@pytest.mark.parametrize(
    "status, state",
    [
        ("SUCCESS", RefundState.SUCCEEDED),
        ("PROCESSING", RefundState.PENDING),
        ("ABNORMAL", RefundState.FAILED),
        ("REFUNDCLOSE", RefundState.FAILED),
        ("CLOSED", RefundState.FAILED),
    ],
    ids=["success", "processing", "abnormal", "refundclose", "closed"],
)
def test_global_refund_states(config, status, state):
    answer = resigned("wechatpay_global_refund_success.json", lambda o: {**o, "status": status})
    assert get_gateway("wechatpay").query_refund(ctx(config, Recorded([answer])), CALL).state is (
        state
    )


def test_a_global_refund_answer_without_its_currency_is_in_the_one_asked_for(config):
    def change(obj: dict) -> dict:
        obj["amount"].pop("currency")
        return obj

    answer = resigned("wechatpay_global_refund_success.json", change)
    done = get_gateway("wechatpay").query_refund(ctx(config, Recorded([answer])), CALL)
    assert done.refunded == Money(500, "USD")


def test_global_business_error_fails_the_refund_and_an_unknown_refund_is_none(config):
    failed = get_gateway("wechatpay").refund(
        ctx(config, Recorded([wechat_answer("wechatpay_global_refund_not_enough.json")])), CALL
    )
    assert failed.state is RefundState.FAILED and failed.detail == "HTTP 403 NOT_ENOUGH"
    unknown = Recorded([wechat_answer("wechatpay_global_refund_not_exist.json")])
    assert get_gateway("wechatpay").query_refund(ctx(config, unknown), CALL) is None


def _tampered(name: str, old: bytes = b'"refund":500', new: bytes = b'"refund":50'):
    """A recorded answer with its body altered after it was signed."""
    status, headers, body = wechat_answer(name)
    return status, headers, body.replace(old, new, 1)


@pytest.mark.parametrize(
    "call, answer, why",
    [
        (
            lambda g, c: g.query_order(c, ORDER_NO),
            lambda: _tampered("wechatpay_global_query_paid.json", b"1999", b"199"),
            "does not verify",
        ),
        (
            lambda g, c: g.refund(c, CALL),
            lambda: _tampered("wechatpay_global_refund_accepted.json"),
            "does not verify",
        ),
        (
            lambda g, c: g.query_refund(c, CALL),
            lambda: _tampered("wechatpay_global_refund_success.json"),
            "does not verify",
        ),
        (
            lambda g, c: g.query_refund(c, CALL),
            lambda: resigned(
                "wechatpay_global_refund_success.json", lambda o: {**o, "out_refund_no": "x"}
            ),
            "another refund",
        ),
        (
            lambda g, c: g.query_refund(c, CALL),
            lambda: resigned(
                "wechatpay_global_refund_success.json", lambda o: {**o, "status": "?"}
            ),
            "unknown refund status",
        ),
    ],
    ids=["query", "refund", "refund-query", "another-refund", "unknown-status"],
)
def test_global_answers_that_do_not_verify_or_name_another_refund_are_unavailable(
    config, call, answer, why
):
    with pytest.raises(GatewayUnavailable, match=why):
        call(get_gateway("wechatpay"), ctx(config, Recorded([answer()])))
