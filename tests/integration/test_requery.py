"""补单 and expiry on moto, against the gateway simulator over real HTTP: a payment whose
notification never came is recovered by query and applied through ingestion (timeline source
`query`), a later notification of it is the same payment, the backoff per order, an outage
reported and never read as unpaid, the last query before expiry and a late payment after it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.clock import to_iso
from chalicelib.gateways._http import GatewayHttp
from chalicelib.services import auth, gateway_calls
from chalicelib.store import orders as order_store
from chalicelib.store.models import AuditModel, OrderModel
from tests.support import notifications as wires
from tests.support.gateway_sim import CURRENCY, fire_schedule, start_simulator


@pytest.fixture
def sim(aws, monkeypatch):
    monkeypatch.setattr(
        gateway_calls, "http", lambda: GatewayHttp(timeout_s=5, attempts=2, backoff_s=0)
    )
    simulator = start_simulator()
    yield simulator
    simulator.close()


def register(api, channel: str, amount: str = "58.00") -> str:
    response = api.register(channel=channel, amount=amount, currency=CURRENCY[channel])
    assert response.status_code == 201, response.body
    return api.json(response)["order_no"]


def notification_of(channel: str, order_no: str, trade_no: str) -> wires.Wire:
    return {
        "alipay-main": lambda: wires.alipay(order_no, "58.00", trade_no=trade_no),
        "wxpay-main": lambda: wires.wechat(order_no, 5800, transaction_id=trade_no),
        "epay-main": lambda: wires.epay(order_no, "58.00", trade_no=trade_no),
        "stripe-main": lambda: wires.stripe(order_no, 5800, "usd", payment_intent=trade_no),
    }[channel]()


@pytest.mark.parametrize("channel", list(CURRENCY))
def test_requery_recovers_a_payment_whose_notification_never_came(
    app_client, api, sim, clock, channel
):
    order_no = register(api, channel)
    trade = sim.pay(channel, order_no, "58.00", CURRENCY[channel], notify=False)
    clock.advance(minutes=2)

    summary = fire_schedule(app_client, "requery_pending")

    assert summary["recovered"] == [order_no]
    order = order_store.get(order_no)
    assert (
        order.pay_status.value == "paid" and order.trade_no == trade.trade_no and not order.on_hold
    )
    payment = next(e for e in order.timeline if e.type == "payment")
    assert payment.source == "query"
    assert order.timeline[-1].type == "query" and "applied" in order.timeline[-1].message

    later = api.send(notification_of(channel, order_no, trade.trade_no))
    assert later.status_code in (200, 204) and later.body in (
        b"success",
        b"",
        b'{"received": true}',
    )
    order = order_store.get(order_no)
    assert len(order.payments) == 1 and not order.on_hold


def test_unpaid_orders_are_asked_on_a_backoff_and_not_before_a_minute(app_client, api, sim, clock):
    old = register(api, "wxpay-main")
    clock.advance(minutes=1.5)
    young = register(api, "alipay-main")
    summary = fire_schedule(app_client, "requery_pending")
    assert summary["asked"] == 1 and summary["answers"] == {"not_found": 1}
    order = order_store.get(old)
    assert order.pay_status.value == "pending"
    assert order.timeline[-1].type == "query" and "ORDER_NOT_EXIST" in order.timeline[-1].message
    assert OrderModel.get(old).next_query_at == to_iso(order.created_at + timedelta(minutes=2))
    assert fire_schedule(app_client, "requery_pending")["asked"] == 0  # not due before 2 minutes
    assert not [e for e in order_store.get(young).timeline if e.type == "query"]


def test_an_answer_with_another_amount_goes_through_the_same_checks(app_client, api, sim, clock):
    order_no = register(api, "epay-main")
    sim.pay("epay-main", order_no, "50.00", notify=False)
    clock.advance(minutes=2)
    fire_schedule(app_client, "requery_pending")
    order = order_store.get(order_no)
    assert order.pay_status.value == "paid" and order.hold_reasons == ["amount_mismatch"]


def test_a_gateway_outage_is_reported_and_never_read_as_unpaid(app_client, api, sim, clock):
    order_no = register(api, "alipay-main")
    sim.pay("alipay-main", order_no, "58.00", notify=False)
    sim.close()  # the gateway stops answering
    clock.advance(minutes=16)  # expired a minute ago (the default expiry is 15 minutes)

    summary = fire_schedule(app_client, "requery_pending")
    assert summary["answers"] == {"unavailable": 1} and summary["unanswered_by_channel"] == {
        "alipay-main": 1
    }
    expiry = fire_schedule(app_client, "expire_orders")
    assert expiry["expired"] == 0 and expiry["deferred"] == 1  # within the grace after expiry
    order = order_store.get(order_no)
    assert order.pay_status.value == "pending"
    assert "no answer from alipay-main" in order.timeline[-1].message


def test_expiry_asks_once_more_and_finds_a_silent_payment(app_client, api, sim, clock):
    order_no = register(api, "stripe-main")
    sim.pay("stripe-main", order_no, "58.00", "USD", notify=False)
    clock.advance(minutes=16)
    summary = fire_schedule(app_client, "expire_orders")
    assert summary["expired"] == 0 and summary["found_paid"] == 1
    assert order_store.get(order_no).pay_status.value == "paid"


def test_expired_after_a_last_query_then_a_late_payment_is_held(app_client, api, sim, clock):
    order_no = register(api, "epay-main")
    clock.advance(minutes=16)
    assert fire_schedule(app_client, "expire_orders")["expired"] == 1
    order = order_store.get(order_no)
    assert order.pay_status.value == "expired"
    assert [e.type for e in order.timeline[-2:]] == ["query", "status"]

    trade = sim.pay("epay-main", order_no, "58.00", notify=False)
    assert api.send(wires.epay(order_no, "58.00", trade_no=trade.trade_no)).body == b"success"
    order = order_store.get(order_no)
    assert order.pay_status.value == "paid" and order.hold_reasons == ["late_payment"]
    assert fire_schedule(app_client, "requery_pending")["asked"] == 0


def test_operators_requery_one_order_and_run_the_job(api, sim, clock):
    _, operator = auth.create_key("op", "operator", "test")
    _, viewer = auth.create_key("viewer", "viewer", "test")
    order_no = register(api, "wxpay-main")
    trade = sim.pay("wxpay-main", order_no, "58.00", notify=False)

    acted = api.call(
        "POST",
        f"/admin/orders/{order_no}/actions",
        {"action": "requery", "reason": "买家说已付款"},
        key=operator,
    )
    assert acted.status_code == 200, acted.body
    order = order_store.get(order_no)
    assert order.pay_status.value == "paid" and order.trade_no == trade.trade_no
    query = [e for e in order.timeline if e.type == "query"][-1]
    assert query.source == "operator" and "买家说已付款" in query.message

    other = register(api, "alipay-main")
    clock.advance(minutes=2)
    assert api.call("POST", "/admin/jobs/requery_pending", {}, key=viewer).status_code == 403
    ran = api.call("POST", "/admin/jobs/requery_pending", {}, key=operator)
    assert ran.status_code == 200 and api.json(ran)["answers"] == {"not_found": 1}
    assert order_store.get(other).timeline[-1].type == "query"
    assert api.call("POST", "/admin/jobs/nope", {}, key=operator).status_code == 404


def test_operator_requery_during_an_outage_is_a_502_not_unpaid(api, sim):
    _, operator = auth.create_key("op", "operator", "test")
    order_no = register(api, "epay-main")
    sim.close()
    answer = api.call(
        "POST",
        f"/admin/orders/{order_no}/actions",
        {"action": "confirm_paid", "reason": "check"},
        key=operator,
    )
    assert answer.status_code == 502 and api.json(answer)["error"]["code"] == "gateway_unavailable"
    assert "key=" not in answer.body.decode()


def test_confirm_paid_only_on_the_gateways_word_and_only_once(api, sim):
    _, operator = auth.create_key("op", "operator", "test")
    order_no = register(api, "alipay-main")

    refused = api.call(
        "POST",
        f"/admin/orders/{order_no}/actions",
        {"action": "confirm_paid", "reason": "买家发来截图"},
        key=operator,
    )
    assert refused.status_code == 409 and api.json(refused)["error"]["details"] == {
        "pay_status": "pending"
    }
    assert order_store.get(order_no).pay_status.value == "pending"

    trade = sim.pay("alipay-main", order_no, "58.00", notify=False)
    for _ in range(2):
        confirmed = api.call(
            "POST",
            f"/admin/orders/{order_no}/actions",
            {"action": "confirm_paid", "reason": "买家发来截图"},
            key=operator,
        )
        assert confirmed.status_code == 200, confirmed.body
    order = order_store.get(order_no)
    assert (
        order.pay_status.value == "paid"
        and order.trade_no == trade.trade_no
        and len(order.payments) == 1
    )
    assert [e.source for e in order.timeline if e.type == "payment"] == ["query"]
    assert sum("买家发来截图" in e.message for e in order.timeline if e.type == "query") == 3
    outcomes = [a.detail["outcome"] for a in AuditModel.scan() if a.action == "order_confirm_paid"]
    assert sorted(outcomes) == ["applied", "applied", "refused"]
