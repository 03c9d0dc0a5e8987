"""Finding a payment by the gateway's own trade number (GET /admin/lookup), against recorded,
signed gateway answers: each gateway is asked in its protocol by its trade number, a verified
answer names the merchant order and the payment, "no such trade" is None, and an answer that
does not verify is GatewayUnavailable — never "not found"."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from chalicelib.domain.errors import GatewayUnavailable
from chalicelib.domain.query import QueryStatus
from chalicelib.gateways.base import CallContext
from chalicelib.gateways.registry import gateway_types_for, get_gateway

from .recorded import Recorded, alipay_answer, fixture, http, json_answer, wechat_answer

NOW = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
ALI_TRADE = "2026112422001411111111111111"
WX_TRADE = "4200000001202611241111111111"


def find(config, channel, trade_no, adapter):
    return get_gateway(config["type"]).find_trade(
        CallContext(config, channel, http(adapter), NOW), trade_no
    )


@pytest.mark.parametrize(
    "trade_no, types",
    [
        (ALI_TRADE, ["alipay", "epay"]),
        (WX_TRADE, ["wechatpay", "epay"]),
        ("2026112420300011111", ["epay"]),
        ("pi_3QabcDEF12345678", ["stripe"]),
        ("ch_3QabcDEF12345678", ["stripe"]),
        ("ORD-1", []),
        ("", []),
    ],
)
def test_trade_number_formats_say_whom_to_ask(trade_no, types):
    assert gateway_types_for(trade_no) == types


# ------------------------------------------------------------------ Alipay


def test_alipay_finds_a_paid_trade_by_its_trade_no(ali_config):
    adapter = Recorded([alipay_answer("alipay_trade_query_paid.json")])
    trade = find(ali_config, "ali1", ALI_TRADE, adapter)
    assert trade.as_dict() == {
        "channel": "ali1",
        "trade_no": ALI_TRADE,
        "out_trade_no": "20261124093000000001",
        "status": "paid",
        "gateway_status": "TRADE_SUCCESS",
        "amount": "58.00",
        "currency": "CNY",
        "paid_at": "2026-11-24T01:30:02Z",
    }
    sent = dict(parse_qsl(adapter.sent[0].body))
    assert sent["method"] == "alipay.trade.query" and json.loads(sent["biz_content"]) == {
        "trade_no": ALI_TRADE
    }


def test_alipay_waiting_trade_and_no_such_trade(ali_config):
    waiting = find(
        ali_config,
        "ali1",
        "2026112422001422222222222222",
        Recorded([alipay_answer("alipay_trade_query_wait.json")]),
    )
    assert (waiting.status, waiting.paid_at, waiting.out_trade_no) == (
        QueryStatus.NOT_PAID,
        None,
        "20261124093000000002",
    )
    assert (
        find(
            ali_config,
            "ali1",
            ALI_TRADE,
            Recorded([alipay_answer("alipay_trade_query_not_exist.json")]),
        )
        is None
    )


def test_alipay_answer_with_a_bad_signature_or_of_another_trade_is_unavailable(ali_config):
    forged = fixture("alipay_trade_query_paid.json").replace(
        b'"total_amount":"58.00"', b'"total_amount":"0.58"'
    )
    with pytest.raises(GatewayUnavailable, match="does not verify"):
        find(ali_config, "ali1", ALI_TRADE, Recorded([(200, {}, forged)]))
    with pytest.raises(GatewayUnavailable, match="another trade"):
        find(
            ali_config,
            "ali1",
            "2026112422001499999999999999",
            Recorded([alipay_answer("alipay_trade_query_paid.json")]),
        )


# ------------------------------------------------------------------ WeChat Pay


def test_wechat_finds_a_paid_transaction_by_its_id(wx_config):
    adapter = Recorded([wechat_answer("wechatpay_query_success.json")])
    trade = find(wx_config, "wx1", WX_TRADE, adapter)
    assert (trade.status, trade.out_trade_no, trade.amount.format(), trade.paid_at) == (
        QueryStatus.PAID,
        "20261124093000000011",
        "58.00",
        datetime(2026, 11, 24, 1, 30, 2, tzinfo=UTC),
    )
    assert (
        adapter.sent[0].url
        == f"https://api.mch.weixin.example/v3/pay/transactions/id/{WX_TRADE}?mchid=1900000109"
    )
    assert adapter.sent[0].headers["Authorization"].startswith("WECHATPAY2-SHA256-RSA2048 ")


def test_wechat_no_such_transaction_and_a_bad_signature(wx_config):
    assert (
        find(
            wx_config, "wx1", WX_TRADE, Recorded([wechat_answer("wechatpay_query_not_exist.json")])
        )
        is None
    )
    status, headers, body = wechat_answer("wechatpay_query_success.json")
    with pytest.raises(GatewayUnavailable, match="does not verify"):
        find(
            wx_config,
            "wx1",
            WX_TRADE,
            Recorded([(status, headers, body.replace(b"5800", b"58", 1))]),
        )


# ------------------------------------------------------------------ epay


def _epay_order(epay_config, status=1) -> dict:
    return {
        "code": 1,
        "msg": "查询订单号成功！",
        "trade_no": "2026112420300011111",
        "out_trade_no": "O1",
        "type": "alipay",
        "pid": int(epay_config["pid"]),
        "addtime": "2026-11-24 20:29:40",
        "endtime": "2026-11-24 20:30:02",
        "name": "VIP会员 月卡",
        "money": "58.00",
        "status": status,
    }


def test_epay_finds_an_order_by_its_trade_no(epay_config):
    adapter = Recorded([json_answer(_epay_order(epay_config))])
    trade = find(epay_config, "ep1", "2026112420300011111", adapter)
    assert (trade.status, trade.out_trade_no, trade.amount.format()) == (
        QueryStatus.PAID,
        "O1",
        "58.00",
    )
    assert dict(parse_qsl(urlsplit(adapter.sent[0].url).query)) == {
        "act": "order",
        "trade_no": "2026112420300011111",
        "pid": epay_config["pid"],
        "key": epay_config["key"],
    }
    unpaid = find(
        epay_config,
        "ep1",
        "2026112420300011111",
        Recorded([json_answer(_epay_order(epay_config, 0))]),
    )
    assert (unpaid.status, unpaid.paid_at) == (QueryStatus.NOT_PAID, None)


def test_epay_unknown_trade_is_none_and_another_merchant_is_unavailable(epay_config):
    assert (
        find(epay_config, "ep1", "2026112420300011111", Recorded([json_answer({"code": -1})]))
        is None
    )
    other = {**_epay_order(epay_config), "pid": 999999}
    with pytest.raises(GatewayUnavailable, match="another merchant"):
        find(epay_config, "ep1", "2026112420300011111", Recorded([json_answer(other)]))


# ------------------------------------------------------------------ Stripe


def test_stripe_finds_a_payment_intent_and_a_charge(stripe_config):
    intent = {
        "id": "pi_1",
        "object": "payment_intent",
        "amount": 799,
        "amount_received": 799,
        "currency": "usd",
        "status": "succeeded",
        "created": 1795574000,
        "metadata": {"order_id": "O1"},
        "latest_charge": {
            "id": "ch_1",
            "created": 1795574010,
            "refunded": False,
            "amount_refunded": 0,
        },
    }
    adapter = Recorded([json_answer(intent)])
    trade = find(stripe_config, "st1", "pi_1", adapter)
    assert (trade.status, trade.out_trade_no, trade.amount.format(), trade.amount.currency) == (
        QueryStatus.PAID,
        "O1",
        "7.99",
        "USD",
    )
    assert trade.paid_at == datetime.fromtimestamp(1795574010, UTC)
    assert adapter.sent[0].url.startswith("https://api.stripe.example/v1/payment_intents/pi_1?")
    charge = {
        "id": "ch_1",
        "object": "charge",
        "amount": 799,
        "currency": "usd",
        "status": "succeeded",
        "paid": True,
        "refunded": True,
        "created": 1795574010,
        "metadata": {"order_id": "O1"},
    }
    charges = Recorded([json_answer(charge)])
    assert find(stripe_config, "st1", "ch_1", charges).status is QueryStatus.REFUNDED
    assert urlsplit(charges.sent[0].url).path == "/v1/charges/ch_1"


def test_stripe_missing_payment_is_none_and_a_bad_key_is_unavailable(stripe_config):
    assert (
        find(
            stripe_config,
            "st1",
            "pi_x",
            Recorded([json_answer({"error": {"code": "resource_missing"}}, 404)]),
        )
        is None
    )
    with pytest.raises(GatewayUnavailable, match="HTTP 401"):
        find(
            stripe_config,
            "st1",
            "pi_x",
            Recorded([json_answer({"error": {"type": "invalid_request_error"}}, 401)]),
        )
