"""Crash at every step of /notify/{channel}, for every gateway: the Nth AWS call of the request
fails (every kind of fault of tests/support/faults.py), the gateway redelivers the same notice
until it is answered with success, the stream consumers run as Lambda would; then the notice is
stored once, the order paid once, counted once, order.paid and order.ready announced."""

from __future__ import annotations

import pytest

from tests.faults.invariants import assert_paid_once, register
from tests.integration.test_ingest import CHANNEL, is_success, paid_wire
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
