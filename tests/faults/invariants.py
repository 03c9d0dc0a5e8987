"""What must hold after any crash and its recovery, per order (shared by the fault suites)."""

from __future__ import annotations

import uuid

from chalicelib.store import orders as order_store
from chalicelib.store.models import AnomalyModel, NoticeModel
from tests.support.faults import assert_announced


def new_product() -> str:
    """A product of its own per case: its stats counters belong to that case alone."""
    return f"fault-{uuid.uuid4().hex[:12]}"


def buyer_ip_of_its_own() -> str:
    """A buyer address per case: the module's hundreds of orders are not one same-IP burst, so
    each new order's by_ip window holds its own case's orders only (moto copies every match)."""
    a, b, c = uuid.uuid4().bytes[:3]
    return f"1.{a}.{b}.{c}"


def register(world, channel: str = "alipay-main", **fields) -> tuple[str, str]:
    product = new_product()
    fields.setdefault("buyer_ip", buyer_ip_of_its_own())
    response = world.api.register(channel=channel, product_id=product, **fields)
    assert response.status_code == 201, response.body
    return world.api.json(response)["order_no"], product


def anomalies_of(order_no: str) -> list[str]:
    return sorted(a.anomaly_id for a in AnomalyModel.by_order.query(order_no))


def assert_no_anomaly_twice(order) -> None:
    entries = [e.message for e in order.timeline if e.type == "anomaly"]
    assert len(entries) == len(set(entries)), f"an anomaly applied twice to the order: {entries}"
    assert len(order.hold_reasons) == len(set(order.hold_reasons)), order.hold_reasons


def assert_paid_once(
    world, order_no: str, product: str, minor: int = 5800, currency: str = "CNY", notices: int = 1
) -> None:
    """A valid payment: stored once, paid once, counted once, announced, no anomaly."""
    order = order_store.get(order_no)
    assert order.pay_status.value == "paid", f"order {order.pay_status.value}, expected paid"
    assert len(order.payments) == 1, f"{len(order.payments)} payments recorded"
    assert [e.type for e in order.timeline].count("payment") == 1, [e.type for e in order.timeline]
    assert not order.on_hold, f"held: {order.hold_reasons}"
    stored = list(NoticeModel.by_order.query(order_no))
    assert len(stored) == notices, f"{len(stored)} notices stored"
    counters = world.counters(product)
    assert (
        counters.get("created"),
        counters.get("paid"),
        counters.get(f"paid_minor|{currency}"),
    ) == (1, 1, minor), f"stats counted {counters}"
    messages = world.inbox.of(order_no)
    assert_announced(messages, "order.paid")
    assert_announced(messages, "order.ready")
    assert anomalies_of(order_no) == []
    assert_no_anomaly_twice(order)
