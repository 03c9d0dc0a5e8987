"""Crash at every step of each stream consumer: the Nth AWS call of the consumer's first delivery
of a batch fails, then Lambda's redelivery runs (the whole batch on an error, from the first
reported failure on otherwise). Consumers: the notices stream (crash repair: a notice stored but
never applied), the orders stream's events and rules, and the stats counters."""

from __future__ import annotations

import pytest

import app
from chalicelib.domain.clock import utcnow
from chalicelib.gateways.base import Headers, InboundRequest
from chalicelib.gateways.registry import get_gateway
from chalicelib.services.channels import get_channel
from chalicelib.store import notices as notice_store
from chalicelib.store import orders as order_store
from tests.faults.invariants import (
    anomalies_of,
    assert_no_anomaly_twice,
    assert_paid_once,
    register,
)
from tests.support import notifications as wires
from tests.support.faults import assert_announced, sweep

CONSUMERS = {
    "notices (crash repair)": app.on_notices_stream,
    "orders (events, rules)": app.on_orders_stream,
    "orders (stats)": app.on_orders_stats,
}


def stored_but_never_applied(order_no: str) -> None:
    """A crash between storing a notice and applying it: only the notices stream can finish it."""
    wire = wires.alipay(order_no, "58.00")
    request = InboundRequest("POST", Headers(wire.headers), wire.body, {})
    notice = get_gateway("alipay").parse_notification(
        request, get_channel("alipay-main"), "alipay-main", utcnow()
    )
    assert notice_store.record(notice, utcnow(), "1.1.1.1").first


@pytest.mark.parametrize("consumer", list(CONSUMERS))
def test_a_payment_survives_a_consumer_crash_at_every_call(world, consumer):
    order_no, product = register(world)
    world.streams.settle()
    stored_but_never_applied(order_no)

    def case(arm):
        world.streams.settle(arm, CONSUMERS[consumer])
        world.streams.settle()
        assert_paid_once(world, order_no, product)

    sweep(f"stream {consumer}", world.injector, case, fresh=world.checkpoint()).assert_held()


@pytest.mark.parametrize("consumer", ["orders (events, rules)", "orders (stats)"])
def test_a_held_payment_survives_a_consumer_crash_at_every_call(world, consumer):
    """An amount mismatch: paid and held once, one anomaly, order.held announced, never ready."""
    order_no, product = register(world)
    world.streams.settle()
    assert world.api.send(wires.alipay(order_no, "1.00")).body == b"success"

    def case(arm):
        world.streams.settle(arm, CONSUMERS[consumer])
        world.streams.settle()
        order = order_store.get(order_no)
        assert order.pay_status.value == "paid" and order.hold_reasons == ["amount_mismatch"], (
            order.hold_reasons
        )
        assert anomalies_of(order_no) == [f"amount_mismatch#{order_no}"]
        assert_no_anomaly_twice(order)
        assert (
            world.counters(product).get("paid"),
            world.counters(product).get("paid_minor|CNY"),
        ) == (1, 100)
        messages = world.inbox.of(order_no)
        assert_announced(messages, "order.held")
        assert [m["event"] for m in messages if m["event"] in ("order.ready", "order.paid")] == []

    sweep(f"stream held {consumer}", world.injector, case, fresh=world.checkpoint()).assert_held()
