"""Registering an order, reporting its delivery and an operator's actions on it, on in-memory
repositories (services/orders.py, services/actions.py through the orders, audit and api-keys
ports): outcomes, the stored order, the audit records, and exactly once under a replayed request
and under a write that lands between our read and our write. No moto: milliseconds each."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain.actions import Idempotency
from chalicelib.domain.commands import OrderAction, ReportDelivery
from chalicelib.domain.errors import Conflict, TransitionRefused
from chalicelib.domain.order import DeliveryStatus, EntryType, Outcome, PayStatus
from chalicelib.services import actions, ingest, orders
from chalicelib.store.keys import StoredKey
from tests.support.notifications import epay
from tests.unit.services.support import OPERATOR, ORDER_NO, inbound, registration


def _paid(world):
    orders.register(registration())
    assert ingest.handle_notification("epay-main", inbound(epay(ORDER_NO, "58.00"))).body == (
        "success"
    )
    return world.orders.get(ORDER_NO)


def _act(action: str, reason: str = "buyer asked", **fields) -> actions.ActionDone:
    return actions.perform(OPERATOR, OrderAction(ORDER_NO, action, reason, **fields))


@pytest.fixture
def operator_key(world):
    world.api_keys.keys[OPERATOR.key_id] = StoredKey(
        OPERATOR.key_id,
        OPERATOR.name,
        "operator",
        datetime(2026, 1, 1, tzinfo=UTC),
        None,
        None,
        "h",
    )


# ------------------------------------------------------------------- registration


def test_a_new_order_is_stored_pending_with_its_creation_on_the_timeline(world):
    order, created = orders.register(registration())
    assert created and world.orders.orders[ORDER_NO] == order
    assert (order.pay_status, order.delivery_status, order.version) == (
        PayStatus.PENDING,
        DeliveryStatus.PENDING,
        0,
    )
    assert order.created_at == world.clock.now() and order.gateway == "epay"
    assert [e.type for e in order.timeline] == [EntryType.CREATED]


def test_the_same_registration_again_is_the_same_order_and_another_body_a_conflict(world):
    first, _ = orders.register(registration())
    again, created = orders.register(registration())
    assert not created and again == first and list(world.orders.orders) == [ORDER_NO]
    with pytest.raises(Conflict):
        orders.register(registration(amount="59.00"))
    assert world.orders.orders[ORDER_NO] == first


def test_an_order_without_a_number_gets_one_in_shop_time(world):
    order, created = orders.register(registration(order_no=None))
    assert created and order.order_no.startswith("20261125140000")  # 06:00Z is 14:00 in Beijing
    assert list(world.orders.orders) == [order.order_no]


# ------------------------------------------------------------------- delivery


def test_a_reported_delivery_is_written_once(world):
    _paid(world)
    delivered = orders.record_delivery(ReportDelivery(ORDER_NO, True, "card key sent"))
    assert delivered.delivery_status is DeliveryStatus.DELIVERED
    assert delivered.delivered_at == world.clock.now()
    again = orders.record_delivery(ReportDelivery(ORDER_NO, True, "card key sent"))
    assert again == delivered == world.orders.get(ORDER_NO)  # the repeat wrote nothing


def test_an_unpaid_order_is_not_delivered(world):
    orders.register(registration())
    with pytest.raises(TransitionRefused):
        orders.record_delivery(ReportDelivery(ORDER_NO, True, None))
    assert world.orders.get(ORDER_NO).delivery_status is DeliveryStatus.PENDING


def test_a_delivery_meeting_another_write_lands_once_on_top_of_it(world, operator_key):
    """A note lands between the shop's report and its write: the write's condition is on the
    order's state, not its version, so it lands, once, after the note; no read, no retry."""
    paid = _paid(world)
    world.orders.concurrently.append(lambda: _act("note", "buyer called"))
    delivered = orders.record_delivery(ReportDelivery(ORDER_NO, True, "card key sent"))
    stored = world.orders.get(ORDER_NO)
    assert delivered == stored and world.orders.conflicts == 0
    assert stored.version == paid.version + 2
    kinds = [e.type for e in stored.timeline]
    assert (
        kinds[-2:] == [EntryType.NOTE, EntryType.DELIVERY] and kinds.count(EntryType.DELIVERY) == 1
    )


def test_two_racing_deliveries_land_once(world):
    """The same report twice at once: the second's condition meets the first's delivery, and the
    order it hands back is delivered already: unchanged, no second entry."""
    _paid(world)
    world.orders.concurrently.append(
        lambda: orders.record_delivery(ReportDelivery(ORDER_NO, True, "card key sent"))
    )
    racing = orders.record_delivery(ReportDelivery(ORDER_NO, True, "card key sent"))
    stored = world.orders.get(ORDER_NO)
    assert racing == stored and world.orders.conflicts == 1
    assert [e.type for e in stored.timeline].count(EntryType.DELIVERY) == 1


def test_a_held_order_refuses_the_delivery_and_nothing_is_written(world, operator_key):
    """Held: the condition fails, the order it hands back is refused as the read one was."""
    _paid(world)
    held = _act("hold", "chargeback risk").order
    with pytest.raises(TransitionRefused, match="on hold"):
        orders.record_delivery(ReportDelivery(ORDER_NO, True, None))
    assert world.orders.get(ORDER_NO) == held and world.orders.conflicts == 1


# ------------------------------------------------------------------- operator actions


def test_a_hold_and_its_release_are_on_the_timeline_and_in_the_audit(world, operator_key):
    _paid(world)
    held = _act("hold", "chargeback risk")
    assert held.outcome is Outcome.APPLIED and held.order.on_hold
    assert held.actor_names == {OPERATOR.key_id: OPERATOR.name}
    released = _act("release_hold", "checked with the buyer")
    assert released.order.delivery_status is DeliveryStatus.PENDING
    assert released.order.hold_reasons == []
    stored = world.orders.get(ORDER_NO)
    assert stored == released.order and stored.version == 3  # paid, held, released
    assert [(e.type, e.actor) for e in stored.timeline[-2:]] == [
        (EntryType.HOLD, OPERATOR.key_id),
        (EntryType.RELEASE, OPERATOR.key_id),
    ]
    assert [(r.action, r.target, r.actor, r.detail) for r in world.audit.api] == [
        (
            "order_hold",
            ORDER_NO,
            OPERATOR.key_id,
            {"reason": "chargeback risk", "outcome": "applied"},
        ),
        (
            "order_release_hold",
            ORDER_NO,
            OPERATOR.key_id,
            {"reason": "checked with the buyer", "outcome": "applied"},
        ),
    ]
    assert all(r.at == world.clock.now() and r.role == "operator" for r in world.audit.api)


def test_a_refund_made_elsewhere_is_recorded_once_for_a_replayed_request(world, operator_key):
    _paid(world)
    key = Idempotency.of("refund-1", {"action": "mark_refunded", "amount": "8.00"})
    first = _act("mark_refunded", "refunded by bank transfer", amount="8.00", idempotency=key)
    assert first.outcome is Outcome.APPLIED
    assert first.order.pay_status is PayStatus.PARTIALLY_REFUNDED
    assert (
        first.order.refunded_amount is not None and first.order.refunded_amount.format() == "8.00"
    )
    replay = _act("mark_refunded", "refunded by bank transfer", amount="8.00", idempotency=key)
    assert replay.outcome is Outcome.ALREADY_APPLIED
    assert world.orders.get(ORDER_NO) == first.order  # nothing written by the replay
    assert [r.detail["outcome"] for r in world.audit.api] == ["applied", "already_applied"]


def test_a_hold_meeting_a_payment_written_meanwhile_decides_again_on_the_paid_order(
    world, operator_key
):
    """The operator's hold reads the pending order; the payment lands before the hold's write:
    the write's condition fails, the hold is decided again on the paid order and written once."""
    orders.register(registration())
    world.orders.concurrently.append(
        lambda: ingest.handle_notification("epay-main", inbound(epay(ORDER_NO, "58.00")))
    )
    done = _act("hold", "looks like fraud")
    assert world.orders.conflicts == 1
    stored = world.orders.get(ORDER_NO)
    assert done.order == stored and stored.version == 2
    assert stored.pay_status is PayStatus.PAID and stored.on_hold
    kinds = [e.type for e in stored.timeline]
    assert kinds.count(EntryType.PAYMENT) == 1 and kinds.count(EntryType.HOLD) == 1
    (record,) = world.audit.api
    assert record.detail["outcome"] == "applied"


def test_two_racing_requests_with_one_key_refund_once(world, operator_key):
    """The same keyed request twice at once: the second's write meets the first's and, decided
    again, sees its own key already served."""
    _paid(world)
    key = Idempotency.of("refund-2", {"action": "mark_refunded", "amount": "58.00"})
    world.orders.concurrently.append(
        lambda: _act("mark_refunded", "refunded in the console", amount="58.00", idempotency=key)
    )
    racing = _act("mark_refunded", "refunded in the console", amount="58.00", idempotency=key)
    assert racing.outcome is Outcome.ALREADY_APPLIED and world.orders.conflicts == 1
    stored = world.orders.get(ORDER_NO)
    assert stored.pay_status is PayStatus.REFUNDED and stored.refunded_amount.format() == "58.00"
    assert [e.type for e in stored.timeline].count(EntryType.REFUND) == 1


def test_a_refund_beyond_what_was_paid_is_refused_and_nothing_is_written(world, operator_key):
    paid = _paid(world)
    with pytest.raises(TransitionRefused):
        _act("mark_refunded", "too much", amount="99.00")
    assert world.orders.get(ORDER_NO) == paid and world.audit.api == []


def test_a_note_on_an_unpaid_order_is_on_the_timeline_and_in_the_audit(world, operator_key):
    orders.register(registration())
    done = _act("note", "buyer called about the price")
    assert done.outcome is Outcome.APPLIED and done.order.pay_status is PayStatus.PENDING
    entry = world.orders.get(ORDER_NO).timeline[-1]
    assert (entry.type, entry.actor, entry.message) == (
        EntryType.NOTE,
        OPERATOR.key_id,
        "buyer called about the price",
    )
    (record,) = world.audit.api
    assert (record.action, record.detail["outcome"]) == ("order_note", "applied")
