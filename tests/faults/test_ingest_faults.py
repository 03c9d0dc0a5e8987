"""Crash at every step of /notify/{channel}, for every gateway: the Nth AWS call of the request
fails (every kind of fault of tests/support/faults.py), the gateway redelivers the same notice
until it is answered with success, the stream consumers run as Lambda would; then the notice is
stored once, the order paid once, counted once, order.paid and order.ready announced. And a
notice that contradicts the stored one under its id, crashed the same way, is one anomaly and
changes no order."""

from __future__ import annotations

import pytest

from chalicelib.store import orders as order_store
from chalicelib.store.models import NoticeModel
from tests.faults.invariants import (
    anomalies_of,
    assert_no_anomaly_twice,
    assert_paid_once,
    register,
)
from tests.integration.test_ingest import CHANNEL, SAME_ID, is_success, paid_wire
from tests.support.faults import sweep


def send(world, wire, now: bool = False):
    headers = wire.signed_now() if now else wire.headers
    return world.client.http.request(wire.method, wire.path, headers=headers, body=wire.body)


def redeliver(world, kind: str, wire, attempts: int = 5) -> None:
    """The gateway's retries: the same notice, signed at delivery time, until it hears success."""
    for _ in range(attempts):
        if is_success(kind, send(world, wire, now=True)):
            return
        world.streams.settle()
    raise AssertionError(f"{kind}: the gateway never heard success after {attempts} retries")


@pytest.mark.parametrize("gateway", ["alipay", "wechat", "epay", "stripe"])
def test_a_payment_survives_a_crash_at_every_call(world, gateway):
    order_no, product = register(world, CHANNEL[gateway])
    world.streams.settle()
    wire = paid_wire(gateway, order_no)

    def case(arm):
        with arm():
            send(world, wire)
        world.streams.settle()
        redeliver(world, gateway, wire)
        world.streams.settle()
        assert_paid_once(world, order_no, product)

    sweep(f"ingest {gateway}", world.injector, case, fresh=world.checkpoint()).assert_held()


@pytest.mark.parametrize("gateway", ["alipay", "wechat", "epay", "stripe"])
def test_a_conflicting_notice_is_raised_once_and_applied_nowhere_whatever_call_fails(
    world, gateway
):
    """Another order's payment under a stored notice's id, crashed at every call and retried by
    the gateway (it is never answered success): the other order stays unpaid and unheld, the
    stored notice keeps its one delivery, and the conflict is one anomaly, on the order once."""
    first_no, _ = register(world, CHANNEL[gateway])
    other_no, _ = register(world, CHANNEL[gateway])
    assert is_success(gateway, send(world, paid_wire(gateway, first_no, **SAME_ID[gateway]), True))
    world.streams.settle()
    conflicting = paid_wire(gateway, other_no, **SAME_ID[gateway])

    def case(arm):
        with arm():
            send(world, conflicting)
        world.streams.settle()
        for _ in range(2):  # the gateway's retries of what it was refused
            assert not is_success(gateway, send(world, conflicting, now=True))
            world.streams.settle()
        other = order_store.get(other_no)
        assert other.pay_status.value == "pending" and not other.on_hold
        assert other.flagged and len(anomalies_of(other_no)) == 1
        assert_no_anomaly_twice(other)
        (stored,) = NoticeModel.by_order.query(first_no)
        assert len(stored.attempts) == 1
        assert list(NoticeModel.by_order.query(other_no)) == []

    sweep(f"conflict {gateway}", world.injector, case, fresh=world.checkpoint()).assert_held()
