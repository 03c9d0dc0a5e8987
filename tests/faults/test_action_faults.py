"""Crash at every step of an operator action: the Nth AWS call of POST
/admin/orders/{order_no}/actions fails, the operator sends the same request again until it is
answered 200, the stream consumers run; then the action is applied once, counted once and
announced (a refund: one refund, counted once — through the gateway, refunded there once and
order.refunded to the shop; a hold: order.held; a release: order.ready again)."""

from __future__ import annotations

from chalicelib.domain.refunds import refund_requests
from chalicelib.gateways._http import GatewayHttp
from chalicelib.services import gateway_calls
from chalicelib.store import orders as order_store
from tests.faults.invariants import anomalies_of, assert_no_anomaly_twice, register
from tests.integration.conftest import ADMIN_KEY
from tests.support import notifications as wires
from tests.support.faults import assert_announced, sweep
from tests.support.gateway_sim import start_simulator


def paid_order(world) -> tuple[str, str]:
    order_no, product = register(world)
    assert world.api.send(wires.alipay(order_no, "58.00")).body == b"success"
    world.streams.settle()
    return order_no, product


def act(world, order_no: str, body: dict):
    return world.api.call("POST", f"/admin/orders/{order_no}/actions", body, key=ADMIN_KEY)


def crash_then_retry(world, arm, order_no: str, body: dict, attempts: int = 4) -> None:
    with arm():
        act(world, order_no, body)
    for _ in range(attempts):
        world.streams.settle()
        if act(world, order_no, body).status_code == 200:
            world.streams.settle()
            return
    raise AssertionError(f"{body['action']} never answered 200 after {attempts} retries")


def timeline_count(order_no: str, kind: str) -> int:
    return [e.type for e in order_store.get(order_no).timeline].count(kind)


def test_a_refund_is_recorded_once_whatever_call_fails(world):
    body = {
        "action": "mark_refunded",
        "reason": "退差价",
        "amount": "8.00",
        "idempotency_key": "refund-1",
    }

    order_no, product = paid_order(world)

    def case(arm):
        crash_then_retry(world, arm, order_no, body)
        order = order_store.get(order_no)
        assert (order.pay_status.value, order.refunded_amount.format()) == (
            "partially_refunded",
            "8.00",
        )
        assert timeline_count(order_no, "refund") == 1
        counters = world.counters(product)
        assert (counters.get("refunded"), counters.get("refunded_minor|CNY")) == (1, 800), counters
        assert anomalies_of(order_no) == [f"quick_refund#{order_no}"]
        assert_no_anomaly_twice(order)

    sweep("action mark_refunded", world.injector, case, fresh=world.checkpoint()).assert_held()


def test_a_hold_is_applied_and_announced_once_whatever_call_fails(world):
    order_no, _ = paid_order(world)

    def case(arm):
        crash_then_retry(world, arm, order_no, {"action": "hold", "reason": "buyer asked to wait"})
        order = order_store.get(order_no)
        assert order.on_hold and timeline_count(order_no, "hold") == 1, [
            e.type for e in order.timeline
        ]
        messages = world.inbox.of(order_no)
        assert_announced(messages, "order.ready", generation=0)
        assert_announced(messages, "order.held", generation=0)

    sweep("action hold", world.injector, case, fresh=world.checkpoint()).assert_held()


def test_a_release_is_applied_and_announced_once_whatever_call_fails(world):
    order_no, _ = paid_order(world)
    assert act(world, order_no, {"action": "hold", "reason": "checking"}).status_code == 200
    world.streams.settle()

    def case(arm):
        crash_then_retry(
            world, arm, order_no, {"action": "release_hold", "reason": "checked with buyer"}
        )
        order = order_store.get(order_no)
        assert not order.on_hold and timeline_count(order_no, "release") == 1, [
            e.type for e in order.timeline
        ]
        assert_announced(world.inbox.of(order_no), "order.ready", generation=1)

    sweep("action release_hold", world.injector, case, fresh=world.checkpoint()).assert_held()


def test_a_gateway_refund_is_made_once_whatever_call_fails(world, monkeypatch):
    """The refund through the gateway: a crash anywhere (the reservation, the settlement, the
    audit) and the operator's retry with the same key ask the gateway first, so the money goes
    back once, is counted once and order.refunded reaches the shop with one id."""
    monkeypatch.setattr(
        gateway_calls, "http", lambda: GatewayHttp(timeout_s=5, attempts=1, backoff_s=0)
    )
    simulator = start_simulator()
    body = {
        "action": "refund",
        "reason": "重复支付",
        "amount": "8.00",
        "idempotency_key": "gateway-refund-1",
    }

    def case(arm):  # a trade of its own: the simulator's trades are not put back between cases
        order_no, product = register(world)
        trade = simulator.pay("alipay-main", order_no, "58.00", notify=False)
        assert act(world, order_no, {"action": "requery", "reason": "补单"}).status_code == 200
        world.streams.settle()
        crash_then_retry(world, arm, order_no, body)
        assert trade.refunded_minor == 800
        assert len([r for r in simulator.refunds.requests() if r.trade is trade]) == 1
        order = order_store.get(order_no)
        assert (order.pay_status.value, order.refunded_amount.format()) == (
            "partially_refunded",
            "8.00",
        )
        assert [r.state.value for r in refund_requests(order)] == [
            "succeeded"
        ] and not order.refund_open
        counters = world.counters(product)
        assert (counters.get("refunded"), counters.get("refunded_minor|CNY")) == (1, 800), counters
        assert_announced(world.inbox.of(order_no), "order.refunded")

    try:
        sweep(
            "action refund (gateway)", world.injector, case, fresh=world.checkpoint()
        ).assert_held()
    finally:
        simulator.close()
