"""The simulator's refund APIs over real HTTP: the gateways' own SDKs (python-alipay-sdk,
wechatpayv3) refund through them and verify their signed answers; paytrack's adapters agree; a
request number is refunded once, never beyond what the trade took; scripted failures and refunds
left pending end as their gateway's protocol says."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from alipay import AliPay

from chalicelib.domain.errors import GatewayUnavailable
from chalicelib.domain.money import Money
from chalicelib.domain.refunds import RefundCall, RefundState
from chalicelib.gateways._http import GatewayHttp
from chalicelib.gateways.base import CallContext
from chalicelib.gateways.registry import get_gateway

from .conftest import wechatpay_sdk
from .test_sim_apis import CURRENCY, configs, sim  # noqa: F401  (fixtures)

HTTP = GatewayHttp(timeout_s=5, attempts=1)


def call(trade, request_id: str, amount: str, currency: str = "CNY") -> RefundCall:
    return RefundCall(
        out_trade_no=trade.out_trade_no,
        trade_no=trade.trade_no,
        request_id=request_id,
        amount=Money.parse(amount, currency),
        total=Money(trade.amount_minor, currency),
        reason="test",
    )


def refund(configs, channel, refund_call):  # noqa: F811
    config = configs[channel]
    return get_gateway(config["type"]).refund(
        CallContext(config, channel, HTTP, datetime.now(UTC)), refund_call
    )


def query(configs, channel, refund_call):  # noqa: F811
    config = configs[channel]
    return get_gateway(config["type"]).query_refund(
        CallContext(config, channel, HTTP, datetime.now(UTC)), refund_call
    )


def test_python_alipay_sdk_refunds_through_the_simulator_and_verifies_its_answers(sim, configs):  # noqa: F811
    trade = sim.pay("alipay-main", "ORD-SDK-R", "58.00", notify=False)
    config = configs["alipay-main"]
    sdk = AliPay(
        appid=config["app_id"],
        app_notify_url=None,
        app_private_key_string=config["app_private_key"],
        alipay_public_key_string=config["alipay_public_key"],
        sign_type="RSA2",
    )
    sdk._gateway = config["gateway_url"]
    answer = sdk.api_alipay_trade_refund(
        "20.00", out_trade_no="ORD-SDK-R", out_request_no="R1"
    )  # verified
    assert (answer["code"], answer["fund_change"], answer["refund_fee"]) == ("10000", "Y", "20.00")
    again = sdk.api_alipay_trade_refund("20.00", out_trade_no="ORD-SDK-R", out_request_no="R1")
    assert (again["code"], again["fund_change"]) == ("10000", "N")  # the same request: once
    asked = sdk.api_alipay_trade_fastpay_refund_query("R1", out_trade_no="ORD-SDK-R")
    assert (asked["refund_status"], asked["refund_amount"]) == ("REFUND_SUCCESS", "20.00")
    too_much = sdk.api_alipay_trade_refund("38.01", out_trade_no="ORD-SDK-R", out_request_no="R2")
    assert too_much["sub_code"] == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
    assert trade.refunded_minor == 2000


def test_wechatpayv3_refunds_through_the_simulator_and_verifies_its_answers(sim, configs):  # noqa: F811
    trade = sim.pay("wxpay-main", "ORD-SDK-W", "58.00", notify=False)
    config = configs["wxpay-main"]
    sdk = wechatpay_sdk(config)
    status, body = sdk.refund(
        out_refund_no="W1",
        amount={"refund": 1000, "total": 5800, "currency": "CNY"},
        transaction_id=trade.trade_no,
    )  # raises unless the answer verifies
    assert status == 200 and json.loads(body)["status"] == "PROCESSING"
    status, body = sdk.query_refund(out_refund_no="W1")
    assert status == 200 and json.loads(body)["out_refund_no"] == "W1"
    status, body = sdk.query_refund(out_refund_no="nope")
    assert status == 404 and json.loads(body)["code"] == "RESOURCE_NOT_EXISTS"


@pytest.mark.parametrize("channel", list(CURRENCY))
def test_paytrack_refunds_each_gateway_once_per_request(sim, configs, channel):  # noqa: F811
    currency = CURRENCY[channel]
    trade = sim.pay(channel, f"ORD-P-{channel}", "58.00", currency, notify=False)
    first = refund(configs, channel, call(trade, "rfA", "20.00", currency))
    assert first.state in (RefundState.SUCCEEDED, RefundState.PENDING)
    refund(configs, channel, call(trade, "rfA", "20.00", currency))  # a retry
    records = [r for r in sim.refunds.requests() if r.trade is trade]
    assert len(records) == 1 and records[0].refund.amount_minor == 2000
    beyond = refund(configs, channel, call(trade, "rfB", "38.01", currency))
    assert beyond.state is RefundState.FAILED


@pytest.mark.parametrize("channel", ["alipay-main", "wxpay-main", "stripe-main"])
def test_a_refund_left_pending_is_settled_later(sim, configs, channel):  # noqa: F811
    currency = CURRENCY[channel]
    trade = sim.pay(channel, f"ORD-PEND-{channel}", "58.00", currency, notify=False)
    sim.refunds.script(channel, "pending")
    pending = call(trade, "rfP", "10.00", currency)
    if channel == "alipay-main":  # an unknown outcome in Alipay's words
        with pytest.raises(GatewayUnavailable):
            refund(configs, channel, pending)
        assert query(configs, channel, pending) is None
    else:
        assert refund(configs, channel, pending).state is RefundState.PENDING
        assert query(configs, channel, pending).state is RefundState.PENDING
    assert trade.refunded_minor == 0
    sim.refunds.settle(channel, "rfP", succeed=True)
    assert query(configs, channel, pending).state is RefundState.SUCCEEDED
    assert trade.refunded_minor == 1000


@pytest.mark.parametrize(
    "channel, state", [("alipay-main", RefundState.FAILED), ("epay-main", RefundState.FAILED)]
)
def test_a_scripted_failure_is_refused_at_once(sim, configs, channel, state):  # noqa: F811
    trade = sim.pay(channel, f"ORD-F-{channel}", "58.00", notify=False)
    sim.refunds.script(channel, "fail")
    answer = refund(configs, channel, call(trade, "rfF", "10.00"))
    assert answer.state is state and trade.refunded_minor == 0
    assert (
        refund(configs, channel, call(trade, "rfG", "10.00")).state is RefundState.SUCCEEDED
    )  # the next one
