"""The simulator's trade lookups over real HTTP (local/sim/wechatpay.py, local/sim/stripe.py, local/sim/alipay.py): paytrack's `find_trade`
finds each gateway's paid trade by its trade number (Stripe: by PaymentIntent and by Charge), an
unknown number is "no such trade", and the gateways' own SDKs read the same answers and verify
their signatures — two implementations of each format agreeing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from alipay import AliPay

from chalicelib.domain.query import QueryStatus
from chalicelib.gateways._http import GatewayHttp
from chalicelib.gateways.base import CallContext
from chalicelib.gateways.registry import get_gateway
from tests.unit.local.conftest import wechatpay_sdk
from tests.unit.local.test_sim_apis import CURRENCY, configs, sim  # noqa: F401  (fixtures)

HTTP = GatewayHttp(timeout_s=5, attempts=1)
UNKNOWN = {
    "alipay-main": "2026112522001499999999999999",
    "wxpay-main": "4200099999202611259999999999",
    "epay-main": "20261125999999999999",
    "stripe-main": "pi_NoSuchIntent0000000000",
}


def find(configs, channel, trade_no):
    config = configs[channel]
    return get_gateway(config["type"]).find_trade(
        CallContext(config, channel, HTTP, datetime.now(UTC)), trade_no
    )


@pytest.mark.parametrize("channel", list(CURRENCY))
def test_each_gateway_finds_a_paid_trade_by_its_number(sim, configs, channel):
    trade = sim.pay(channel, "ORD-L1", "58.00", CURRENCY[channel], notify=False)
    found = find(configs, channel, trade.trade_no)
    assert (found.status, found.out_trade_no, found.amount.minor, found.amount.currency) == (
        QueryStatus.PAID,
        "ORD-L1",
        5800,
        CURRENCY[channel],
    )
    assert found.paid_at is not None
    assert find(configs, channel, UNKNOWN[channel]) is None


def test_a_stripe_charge_id_finds_its_payment_and_a_refund_shows(sim, configs):
    trade = sim.pay("stripe-main", "ORD-L2", "58.00", "USD", notify=False)
    sim.refund("stripe-main", "ORD-L2", "58.00", notify=False)
    found = find(configs, "stripe-main", trade.refs["charge"])
    assert (found.status, found.out_trade_no, found.trade_no) == (
        QueryStatus.REFUNDED,
        "ORD-L2",
        trade.refs["charge"],
    )


def test_the_gateways_sdks_read_the_lookups_and_verify_them(sim, configs):
    ali = sim.pay("alipay-main", "ORD-L3", "58.00", notify=False)
    config = configs["alipay-main"]
    alipay = AliPay(
        appid=config["app_id"],
        app_notify_url=None,
        app_private_key_string=config["app_private_key"],
        alipay_public_key_string=config["alipay_public_key"],
        sign_type="RSA2",
    )
    alipay._gateway = config["gateway_url"]
    answer = alipay.api_alipay_trade_query(trade_no=ali.trade_no)  # raises unless the sign verifies
    assert (answer["out_trade_no"], answer["trade_status"]) == ("ORD-L3", "TRADE_SUCCESS")

    wx = sim.pay("wxpay-main", "ORD-L4", "58.00", notify=False)
    config = configs["wxpay-main"]
    wechat = wechatpay_sdk(config)
    status, body = wechat.query(transaction_id=wx.trade_no)  # raises unless the answer verifies
    assert status == 200 and json.loads(body)["out_trade_no"] == "ORD-L4"
