"""GET /admin/lookup on moto against the gateway simulator over real HTTP: a buyer's trade number
paytrack never heard of is found at its gateway (asked in its protocol, answer verified), shown
beside paytrack's order and applied through `confirm_paid`; no such trade is a 404, an answer
that does not verify or a gateway that is down is a 502 that says so — never "not found" — and
every lookup is audited."""

from __future__ import annotations

import json

import pytest

from chalicelib.gateways._http import GatewayHttp
from chalicelib.platform.aws import client
from chalicelib.platform.settings import get_settings
from chalicelib.services import auth, channels, gateway_calls
from chalicelib.store import orders as order_store
from chalicelib.store.models import AuditModel
from tests.support import notifications as wires
from tests.support.gateway_sim import CURRENCY, start_simulator
from tests.support.keys import fresh_key, public_pem


@pytest.fixture
def sim(aws, monkeypatch):
    monkeypatch.setattr(
        gateway_calls, "http", lambda: GatewayHttp(timeout_s=5, attempts=2, backoff_s=0)
    )
    simulator = start_simulator()
    yield simulator
    simulator.close()


@pytest.fixture
def keys(api):
    return {
        role: auth.create_key(f"lookup {role}", role, "test")[1] for role in ("viewer", "operator")
    }


def register(api, channel: str) -> str:
    response = api.register(channel=channel, amount="58.00", currency=CURRENCY[channel])
    assert response.status_code == 201, response.body
    return api.json(response)["order_no"]


def lookup(api, key, trade_no, **params):
    query = "&".join(f"{k}={v}" for k, v in {"trade_no": trade_no, **params}.items())
    return api.call("GET", f"/admin/lookup?{query}", key=key)


def lookups_audited() -> list:
    return [
        item for item in AuditModel.scan() if item.kind == "api" and item.action == "lookup_trade"
    ]


@pytest.mark.parametrize("channel", list(CURRENCY))
def test_a_trade_never_notified_is_found_at_its_gateway_and_applied(api, sim, keys, channel):
    order_no = register(api, channel)
    trade = sim.pay(channel, order_no, "58.00", CURRENCY[channel], notify=False)

    response = lookup(api, keys["viewer"], trade.trade_no)

    assert response.status_code == 200, response.body
    body = api.json(response)
    assert (
        body["source"] == "gateway"
        and {"channel": channel, "answer": "found", "detail": ""} in body["asked"]
    )
    (found,) = body["found"]
    assert found["gateway"]["status"] == "paid" and found["gateway"]["out_trade_no"] == order_no
    assert found["gateway"]["amount"] == "58.00" and found["gateway"]["paid_at"]
    assert found["order"]["pay_status"] == "pending" and found["can_apply"] is True
    assert found["order"]["buyer_email"] != "buyer@qq.com"  # a viewer sees PII masked

    applied = api.call(
        "POST",
        f"/admin/orders/{order_no}/actions",
        {"action": "confirm_paid", "reason": f"buyer's receipt {trade.trade_no}"},
        key=keys["operator"],
    )
    assert applied.status_code == 200, applied.body
    assert order_store.get(order_no).pay_status.value == "paid"
    again = api.json(lookup(api, keys["viewer"], trade.trade_no))
    assert again["source"] == "paytrack" and [o["order_no"] for o in again["orders"]] == [order_no]


def test_a_trade_paytrack_knows_is_answered_without_asking(api, sim, keys):
    order_no = register(api, "alipay-main")
    api.send(wires.alipay(order_no, "58.00", trade_no="2026112522001400000000000777"))
    sim.close()  # nobody to ask, and nobody needs asking
    body = api.json(lookup(api, keys["viewer"], "2026112522001400000000000777"))
    assert (
        body["source"] == "paytrack"
        and body["orders"][0]["order_no"] == order_no
        and body["asked"] == []
    )


def test_no_such_trade_anywhere_is_a_404_naming_whom_it_asked(api, sim, keys):
    response = lookup(api, keys["viewer"], "2026112522001400000000000999")
    assert response.status_code == 404
    error = api.json(response)["error"]
    assert error["code"] == "not_found"
    assert {a["channel"]: a["answer"] for a in error["details"]["asked"]} == {
        "alipay-main": "not_found",
        "epay-main": "not_found",
    }
    (audited,) = lookups_audited()
    assert (
        audited.target == "2026112522001400000000000999" and audited.detail["source"] == "gateway"
    )


def test_an_answer_that_does_not_verify_is_a_502_not_a_not_found(api, sim, keys):
    order_no = register(api, "alipay-main")
    trade = sim.pay("alipay-main", order_no, "58.00", notify=False)
    secret_id = get_settings().channels_secret_id
    config = json.loads(
        client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    )
    config["alipay-main"]["alipay_public_key"] = public_pem(
        fresh_key()
    )  # not the key the gateway signs with
    client("secretsmanager").put_secret_value(SecretId=secret_id, SecretString=json.dumps(config))
    channels.forget()

    response = lookup(api, keys["viewer"], trade.trade_no, channel="alipay-main")

    assert response.status_code == 502
    error = api.json(response)["error"]
    assert (
        error["code"] == "gateway_unavailable" and "signature does not verify" in error["message"]
    )
    assert order_store.get(order_no).pay_status.value == "pending"


def test_a_gateway_down_is_a_clear_502_and_is_audited(api, sim, keys):
    sim.close()
    response = lookup(api, keys["viewer"], "pi_3QabcDEF12345678")
    assert response.status_code == 502
    error = api.json(response)["error"]
    assert (
        error["code"] == "gateway_unavailable" and "stripe-main did not answer" in error["message"]
    )
    (audited,) = lookups_audited()
    assert audited.detail["asked"][0]["answer"] == "unavailable"


@pytest.mark.parametrize(
    "params, status, field",
    [
        ({"trade_no": ""}, 400, "trade_no"),
        ({"trade_no": "x"}, 400, "trade_no"),
        ({"trade_no": "ORDER-NOT-A-TRADE"}, 400, "trade_no"),
        ({"trade_no": "2026112522001400000000000999", "channel": "nope"}, 404, "channel"),
    ],
)
def test_bad_lookups_are_refused_and_audited(api, sim, keys, params, status, field):
    trade_no = params.pop("trade_no")
    response = lookup(api, keys["viewer"], trade_no, **params)
    assert response.status_code == status
    assert field in json.dumps(api.json(response)["error"])
    (audited,) = lookups_audited()
    assert (
        audited.target == (trade_no or None)
        and audited.detail["refused"] == api.json(response)["error"]["code"]
    )
