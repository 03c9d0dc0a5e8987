"""The simulator's gateway APIs over real HTTP: the gateways' own SDKs (python-alipay-sdk,
wechatpayv3) query it and verify its signatures; paytrack's adapters query it and parse its
statements — two independent implementations of each format agreeing; a caller with the wrong
credentials is refused the way the gateway refuses it; injected discrepancies show."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
from alipay import AliPay

from chalicelib.domain.errors import GatewayUnavailable
from chalicelib.domain.query import QueryStatus
from chalicelib.domain.statement import LineKind, beijing_day
from chalicelib.gateways._http import GatewayHttp
from chalicelib.gateways.base import CallContext
from chalicelib.gateways.registry import get_gateway
from local.sim.base import Downloads
from tests.support.gateway_sim import statements_ahead
from tests.unit.local.conftest import wechatpay_sdk

CURRENCY = {"alipay-main": "CNY", "wxpay-main": "CNY", "epay-main": "CNY", "stripe-main": "USD"}
HTTP = GatewayHttp(timeout_s=5, attempts=1)


@pytest.fixture
def sim(make_sim):
    simulator = make_sim()
    simulator.start_server(port=0)
    return simulator


@pytest.fixture
def configs(sim, channels):
    """paytrack's channel configs pointed at this simulator's port."""
    origin = f"http://127.0.0.1:{sim._server.port}/"
    return {
        cid: {
            k: v.replace("http://127.0.0.1:9000/", origin)
            if k in ("gateway_url", "api_base")
            else v
            for k, v in cfg.items()
        }
        for cid, cfg in channels.items()
    }


def now() -> datetime:
    return datetime.now(UTC)


def ask(configs, channel, out_trade_no, trade_no=None):
    config = configs[channel]
    return get_gateway(config["type"]).query_order(
        CallContext(config, channel, HTTP, now()), out_trade_no, trade_no
    )


@pytest.mark.parametrize("channel", list(CURRENCY))
def test_paytrack_queries_each_gateway_over_http(sim, configs, channel):
    trade = sim.pay(channel, "ORD-Q1", "58.00", CURRENCY[channel], notify=False)
    paid = ask(configs, channel, "ORD-Q1")
    assert paid.status is QueryStatus.PAID
    assert (paid.notice.trade_no, paid.notice.amount.minor, paid.notice.amount.currency) == (
        trade.trade_no,
        5800,
        CURRENCY[channel],
    )
    assert ask(configs, channel, "ORD-NONE").status is QueryStatus.NOT_FOUND


@pytest.mark.parametrize("channel", ["alipay-main", "wxpay-main", "stripe-main"])
def test_a_refunded_trade_is_never_reported_as_a_fresh_payment(sim, configs, channel):
    sim.pay(channel, "ORD-R1", "58.00", CURRENCY[channel], notify=False)
    sim.refund(channel, "ORD-R1", "58.00", notify=False)
    assert ask(configs, channel, "ORD-R1").status is QueryStatus.REFUNDED


def test_closed_trades_are_closed(sim, configs):
    sim.close_trade("alipay-main", "ORD-C1", "58.00")
    assert ask(configs, "alipay-main", "ORD-C1").status is QueryStatus.CLOSED


def test_python_alipay_sdk_queries_the_simulator_and_verifies_its_signature(
    sim, configs, sim_config
):
    trade = sim.pay("alipay-main", "ORD-SDK", "58.00", notify=False)
    config = configs["alipay-main"]
    sdk = AliPay(
        appid=config["app_id"],
        app_notify_url=None,
        app_private_key_string=config["app_private_key"],
        alipay_public_key_string=config["alipay_public_key"],
        sign_type="RSA2",
    )
    sdk._gateway = config[
        "gateway_url"
    ]  # the SDK calls its own gateway URL; point it at the simulator
    answer = sdk.api_alipay_trade_query(out_trade_no="ORD-SDK")  # raises unless the sign verifies
    assert (answer["trade_status"], answer["trade_no"], answer["total_amount"]) == (
        "TRADE_SUCCESS",
        trade.trade_no,
        "58.00",
    )


def test_wechatpayv3_queries_the_simulator_and_verifies_its_signature(sim, configs):
    trade = sim.pay("wxpay-main", "ORD-WX", "58.00", notify=False)
    config = configs["wxpay-main"]
    sdk = wechatpay_sdk(config)
    status, body = sdk.query(out_trade_no="ORD-WX")  # raises unless the answer verifies
    assert status == 200 and trade.trade_no in body
    status, body = sdk.trade_bill(bill_date=beijing_day(now()).isoformat())
    assert status == 200 and "hash_value" in body


@pytest.mark.parametrize("channel", list(CURRENCY))
def test_statements_in_each_format_parse_with_paytracks_parsers(sim, configs, channel, monkeypatch):
    ok = sim.pay(channel, "ORD-S1", "58.00", CURRENCY[channel], notify=False)
    sim.pay(channel, "ORD-S2", "25.00", CURRENCY[channel], notify=False, statement_amount="24.00")
    sim.pay(channel, "ORD-S3", "19.90", CURRENCY[channel], notify=False, in_statement=False)
    if channel != "epay-main":
        sim.refund(channel, "ORD-S1", "8.00", notify=False)
    later = statements_ahead(monkeypatch)  # a statement covers whole seconds up to when made
    config = configs[channel]
    statement = get_gateway(config["type"]).fetch_statement(
        CallContext(config, channel, HTTP, later), beijing_day(later)
    )
    got = {
        (line.kind, line.out_trade_no or line.trade_no, line.amount.format())
        for line in statement.lines
    }
    refund_key = "ORD-S1" if channel != "stripe-main" else ok.trade_no
    expected = {(LineKind.PAYMENT, "ORD-S1", "58.00"), (LineKind.PAYMENT, "ORD-S2", "24.00")}
    if channel != "epay-main":
        expected.add((LineKind.REFUND, refund_key, "8.00"))
    assert got == expected
    fees = {
        line.out_trade_no: line.fee for line in statement.lines if line.kind is LineKind.PAYMENT
    }
    if channel in ("alipay-main", "wxpay-main"):
        assert fees["ORD-S1"].format() == "0.35"
    if channel == "stripe-main":
        assert fees["ORD-S1"].minor == 198  # 2.9% of 58.00 + 0.30


@pytest.mark.parametrize(
    "channel, field, wrong",
    [
        ("alipay-main", "app_private_key", "wechat_merchant"),
        ("wxpay-main", "merchant_private_key", "alipay_app"),
        ("epay-main", "key", None),
        ("stripe-main", "api_key", None),
    ],
)
def test_callers_with_the_wrong_credentials_are_refused(sim, configs, channel, field, wrong):
    from pathlib import Path

    keys = Path(__file__).resolve().parents[3] / "local" / "keys"
    config = dict(configs[channel])
    config[field] = (keys / f"{wrong}_private.pem").read_text() if wrong else "wrong"
    with pytest.raises(GatewayUnavailable):
        get_gateway(config["type"]).query_order(CallContext(config, channel, HTTP, now()), "ORD-X")


def test_download_links_expire():
    downloads = Downloads(ttl_s=0.0)
    assert downloads.get(downloads.put(b"bill")) is None
    fresh = Downloads(ttl_s=30)
    assert fresh.get(fresh.put(b"bill")) == b"bill"


def test_control_api_pays_and_refunds_without_notifying(sim):
    url = f"http://127.0.0.1:{sim._server.port}/sim"
    paid = requests.post(
        f"{url}/pay",
        json={"channel": "epay-main", "out_trade_no": "ORD-C", "amount": "58.00", "notify": False},
        timeout=5,
    )
    assert paid.status_code == 201 and paid.json()["notified"] is False
    assert sim.book.paid("epay-main", "ORD-C")[0].trade_no == paid.json()["trade_no"]
    refunded = requests.post(
        f"{url}/refund",
        json={"channel": "epay-main", "out_trade_no": "ORD-C", "amount": "8.00", "notify": False},
        timeout=5,
    )
    assert (
        refunded.status_code == 201 and sim.book.paid("epay-main", "ORD-C")[0].refunded_minor == 800
    )
    assert sim.events() == []
