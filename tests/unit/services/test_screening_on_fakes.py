"""The anomaly engine's window rules on in-memory ports (services/screening.py through the
order windows, the anomalies and the orders): an IP burst holds every order of the burst, a
slow delivery is found once a paid order waits past its limit, a failing channel is named once
an hour, an unknown order's notice resolves itself when the order comes. (The real indexes and
the stream records: tests/integration/test_anomaly_engine.py, test_streams.py.)"""

from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.anomaly import AnomalyStatus
from chalicelib.domain.clock import to_iso
from chalicelib.domain.order import PayStatus
from chalicelib.domain.rules.change import OrderChange
from chalicelib.services import ingest, orders, screening
from tests.support.notifications import epay
from tests.unit.services.support import ORDER_NO, inbound, registration


def _created(order_no: str, buyer: int):
    """A registration from the shared IP, by buyer `buyer`, as the orders stream shows it."""
    command = replace(
        registration(order_no=order_no), buyer_email=f"b{buyer}@example.com", buyer_id=f"u-{buyer}"
    )
    order, _ = orders.register(command)
    return OrderChange(None, order)


def _screened(change: OrderChange, now) -> None:
    """The change as the orders stream screens it, in a batch of its own."""
    order = change.after
    assert order.buyer_ip
    new = [(order.order_no, order.buyer_ip, to_iso(order.created_at))]
    screening.on_order_change(change, now, screening.ip_counts(new))


def _rules(world) -> dict[str, AnomalyStatus]:
    return {a.rule: a.status for a in world.anomalies.anomalies.values()}


def test_an_ip_burst_holds_every_undelivered_order_of_it_once(world):
    numbers = [f"2026112514000000000{n}" for n in range(1, 6)]
    for n, order_no in enumerate(numbers[:4]):
        _screened(_created(order_no, n % 3), world.clock.now())
        world.clock.advance(minutes=1)
    assert world.anomalies.anomalies == {}  # four orders: not a burst yet
    _screened(_created(numbers[4], 3), world.clock.now())
    (burst,) = world.anomalies.anomalies.values()
    assert burst.rule == "ip_burst" and burst.anomaly_id == f"ip_burst#{numbers[0]}"
    assert all(world.orders.get(no).on_hold for no in numbers)


def test_a_paid_order_waiting_past_the_limit_is_found_slow_once(world):
    orders.register(registration())
    wire = epay(ORDER_NO, "58.00")
    assert ingest.handle_notification("epay-main", inbound(wire)).body == "success"
    assert screening.slow_delivery_check() == {"job": "slow_delivery", "checked": 0, "slow": 0}
    world.clock.advance(minutes=4)  # paid less than 5 minutes ago: not in the window yet
    assert screening.slow_delivery_check()["checked"] == 0
    world.clock.advance(minutes=2)
    assert screening.slow_delivery_check() == {"job": "slow_delivery", "checked": 1, "slow": 1}
    assert screening.slow_delivery_check()["slow"] == 1
    assert _rules(world) == {"slow_delivery": AnomalyStatus.OPEN}
    assert world.orders.get(ORDER_NO).flagged


def test_a_channel_failing_more_than_its_share_is_named_once_an_hour(world):
    for n in range(20):
        order, _ = orders.register(registration(order_no=f"202611251400000001{n:02d}"))
        status = PayStatus.EXPIRED if n < 3 else PayStatus.PAID
        world.orders.orders[order.order_no] = replace(
            world.orders.orders[order.order_no], pay_status=status
        )
    healthy = screening.channel_health()
    assert healthy["channels"] == {"epay-main": {"attempts": 20, "failed": 3}}  # 15%: not above
    assert healthy["failing"] == [] and world.anomalies.anomalies == {}
    world.orders.orders["20261125140000000119"] = replace(
        world.orders.orders["20261125140000000119"], pay_status=PayStatus.EXPIRED
    )
    assert screening.channel_health()["failing"] == ["epay-main"]
    assert screening.channel_health()["failing"] == ["epay-main"]
    assert list(world.anomalies.anomalies) == ["channel_failure#epay-main#2026-11-25T06"]


def test_an_unknown_orders_notice_resolves_itself_when_the_order_is_registered(world):
    ingest.handle_notification("epay-main", inbound(epay(ORDER_NO, "58.00")))
    (awaiting,) = world.notices.notices.values()
    assert awaiting.awaiting_day is not None  # kept for the order that has not come
    screening.on_unknown_order(awaiting.notice, world.clock.now())
    assert _rules(world) == {"unknown_order": AnomalyStatus.OPEN}
    screening.on_notice_matched(awaiting.notice, world.clock.now())
    assert _rules(world) == {"unknown_order": AnomalyStatus.RESOLVED}
