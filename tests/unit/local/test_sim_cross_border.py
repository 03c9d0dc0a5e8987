"""The simulator as WeChat Pay Global over real HTTP (local/sim/wechatpay.py): a cross-border
merchant's `/v3/global/…` order queries, refund and refund query, signed, in the global shapes;
paytrack's adapters on a `cross_border` channel read them and the wechatpayv3 SDK verifies them;
a domestic merchant is refused the global API."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from wechatpayv3.type import RequestType

from chalicelib.domain.errors import GatewayUnavailable
from chalicelib.domain.money import Money
from chalicelib.domain.query import QueryStatus
from chalicelib.domain.refunds import RefundCall, RefundState
from chalicelib.gateways._http import GatewayHttp
from chalicelib.gateways.base import CallContext
from chalicelib.gateways.registry import get_gateway

from .conftest import wechatpay_sdk
from .test_sim_apis import configs, sim  # noqa: F401  (fixtures)

HTTP = GatewayHttp(timeout_s=5, attempts=1)
WX = "wxpay-main"


@pytest.fixture
def global_config(sim, configs):  # noqa: F811
    """wxpay-main as a cross-border merchant settling in HKD, paytrack's channel marked so."""
    sim.settle_cross_border(WX, "HKD", {"USD": "7.8"})
    return {**configs[WX], "cross_border": True}


def ctx(config) -> CallContext:
    return CallContext(config, WX, HTTP, datetime.now(UTC))


def test_paytrack_queries_a_cross_border_trade_through_the_global_paths(sim, global_config):  # noqa: F811
    trade = sim.pay(WX, "ORD-G1", "19.99", "USD", notify=False)
    gateway = get_gateway("wechatpay")
    paid = gateway.query_order(ctx(global_config), "ORD-G1")
    assert (paid.status, paid.notice.trade_no, paid.notice.amount) == (
        QueryStatus.PAID,
        trade.trade_no,
        Money(1999, "USD"),
    )
    assert paid.notice.raw["amount"] == {
        "total": 1999,
        "currency": "USD",
        "payer_total": 14193,  # 19.99 x 7.1, the buyer's CNY
        "payer_currency": "CNY",
        "exchange_rate": {"type": "SETTLEMENT_RATE", "rate": 710000000},
    }
    assert "transaction_id" not in paid.notice.raw and paid.notice.raw["id"] == trade.trade_no
    found = gateway.find_trade(ctx(global_config), trade.trade_no)
    assert (found.status, found.out_trade_no, found.amount) == (
        QueryStatus.PAID,
        "ORD-G1",
        Money(1999, "USD"),
    )
    assert gateway.query_order(ctx(global_config), "ORD-NONE").status is QueryStatus.NOT_FOUND
    assert gateway.find_trade(ctx(global_config), "4" + "0" * 27) is None


def test_paytrack_refunds_a_cross_border_trade_through_global_refunds(sim, global_config):  # noqa: F811
    trade = sim.pay(WX, "ORD-G2", "19.99", "USD", notify=False)
    call = RefundCall("ORD-G2", trade.trade_no, "rfG2", Money(500, "USD"), Money(1999, "USD"), "t")
    gateway = get_gateway("wechatpay")
    sim.refunds.script(WX, "pending")  # PROCESSING until settled below
    accepted = gateway.refund(ctx(global_config), call)
    assert (accepted.state, accepted.detail, accepted.refunded) == (
        RefundState.PENDING,
        "ACCEPTED",
        Money(500, "USD"),
    )
    [record] = [r for r in sim.refunds.requests() if r.refund.refund_no == "rfG2"]
    assert accepted.gateway_refund_id == record.refund.refund_id
    processing = gateway.query_refund(ctx(global_config), call)
    assert (processing.state, processing.detail) == (RefundState.PENDING, "PROCESSING")
    sim.refunds.settle(WX, "rfG2", succeed=True)
    done = gateway.query_refund(ctx(global_config), call)
    assert (done.state, done.refunded) == (RefundState.SUCCEEDED, Money(500, "USD"))
    assert trade.refunded_minor == 500
    again = gateway.refund(ctx(global_config), call)  # the same request number: the same refund
    assert again.gateway_refund_id == record.refund.refund_id and trade.refunded_minor == 500
    other = RefundCall("ORD-G2", trade.trade_no, "rfG3", Money(500, "HKD"), Money(1999, "HKD"), "t")
    refused = gateway.refund(ctx(global_config), other)
    assert refused.state is RefundState.FAILED and "PARAM_ERROR" in refused.detail
    unknown = RefundCall(
        "ORD-G2", trade.trade_no, "rfNONE", Money(1, "USD"), Money(1999, "USD"), "t"
    )
    assert gateway.query_refund(ctx(global_config), unknown) is None


def test_the_wechatpayv3_sdk_verifies_the_global_answers(sim, global_config):  # noqa: F811
    trade = sim.pay(WX, "ORD-G4", "19.99", "USD", notify=False)
    config = global_config
    wechat = wechatpay_sdk(config)
    mchid = config["mchid"]
    status, body = wechat._core.request(
        f"/v3/global/transactions/id/{trade.trade_no}?mchid={mchid}"
    )  # raises unless the answer verifies
    assert status == 200 and json.loads(body)["out_trade_no"] == "ORD-G4"
    status, body = wechat._core.request(
        "/v3/global/refunds",
        method=RequestType.POST,
        data={
            "mchid": mchid,
            "appid": config["appid"],
            "transaction_id": trade.trade_no,
            "out_refund_no": "rfG4",
            "amount": {"refund": 1999, "total": 1999, "currency": "USD"},
        },
    )
    answer = json.loads(body)
    assert status == 200 and set(answer) == {"id", "out_refund_no", "create_time", "amount"}
    status, body = wechat._core.request(f"/v3/global/refunds/out-refund-no/rfG4?mchid={mchid}")
    assert status == 200 and json.loads(body)["amount"]["payer_refund"] == 14193


def test_a_domestic_merchant_is_refused_the_global_api(sim, configs):  # noqa: F811
    sim.pay(WX, "ORD-G5", "58.00", notify=False)
    config = {**configs[WX], "cross_border": True}  # paytrack thinks so, the gateway does not
    with pytest.raises(GatewayUnavailable, match="HTTP 403 NO_AUTH"):
        get_gateway("wechatpay").query_order(ctx(config), "ORD-G5")
    assert get_gateway("wechatpay").query_order(ctx(configs[WX]), "ORD-G5").status is (
        QueryStatus.PAID
    )
