"""Operator actions on one order, as decisions (OrderChanges). Pure: no I/O.

Every action carries a reason and lands on the timeline with the operator's key as actor. An
action that has already had its effect is a no-op (`already_applied`): holding a held order,
releasing a released one, a note or refund repeated with the same idempotency key.
"""
from __future__ import annotations

from datetime import datetime

from .errors import TransitionRefused
from .money import Money
from .order import (
    PAID_STATES, HoldReason, Order, OrderChanges, Outcome, PayStatus, TimelineEntry, can_pay_transition, hold,
    release_hold,
)

ACTIONS = ("requery", "release_hold", "hold", "confirm_paid", "mark_refunded", "note")


def _already(order: Order, key: str | None) -> bool:
    return key is not None and any(e.data.get("idempotency_key") == key for e in order.timeline)


def _entry(now: datetime, kind: str, actor: str, message: str, data: dict) -> TimelineEntry:
    return TimelineEntry(at=now, type=kind, source="operator", message=message, data=data, actor=actor)


def operator_hold(order: Order, now: datetime, actor: str, reason: str) -> OrderChanges:
    return hold(order, [HoldReason.OPERATOR.value], now, "operator", actor, note=reason)


def operator_release(order: Order, now: datetime, actor: str, reason: str) -> OrderChanges:
    return release_hold(order, now, actor, reason)


def note(order: Order, now: datetime, actor: str, reason: str, key: str | None) -> OrderChanges:
    if _already(order, key):
        return OrderChanges(outcome=Outcome.ALREADY_APPLIED)
    data = {"idempotency_key": key} if key else {}
    return OrderChanges(outcome=Outcome.APPLIED, timeline=[_entry(now, "note", actor, reason, data)])


def mark_refunded(order: Order, amount: Money | None, now: datetime, actor: str, reason: str,
                  key: str | None) -> OrderChanges:
    """A refund the operator made outside paytrack (the gateway's console, a bank transfer)."""
    if _already(order, key):
        return OrderChanges(outcome=Outcome.ALREADY_APPLIED)
    if order.pay_status not in PAID_STATES or order.paid_amount is None:
        raise TransitionRefused(f"the order is {order.pay_status.value}: there is nothing to refund",
                                {"pay_status": order.pay_status.value})
    already = order.refunded_amount or Money(0, order.paid_amount.currency)
    refund = amount or (order.paid_amount - already)
    if refund.currency != order.paid_amount.currency or refund.minor <= 0:
        raise TransitionRefused("the refund must be positive and in the paid currency",
                                {"currency": order.paid_amount.currency})
    total = already + refund
    if total.minor > order.paid_amount.minor:
        raise TransitionRefused(f"refunds would exceed the {order.paid_amount} paid",
                                {"refunded": already.format(), "paid": order.paid_amount.format()})
    target = PayStatus.REFUNDED if total.minor == order.paid_amount.minor else PayStatus.PARTIALLY_REFUNDED
    if not can_pay_transition(order.pay_status, target):
        raise TransitionRefused(f"cannot go from {order.pay_status.value} to {target.value}", {})
    data = {"refunded": refund.format(), "total": total.format(), "currency": total.currency}
    if key:
        data["idempotency_key"] = key
    entry = _entry(now, "refund", actor, f"refund of {refund} recorded by an operator: {reason}", data)
    return OrderChanges(outcome=Outcome.APPLIED, timeline=[entry],
                        set={"pay_status": target, "refunded_amount": total, "refunded_at": now})

