"""Operator actions on one order, as decisions (OrderChanges). Pure: no I/O.

Every action carries a reason and lands on the timeline with the operator's key as actor. An
action that has already had its effect is a no-op (`already_applied`): holding a held order,
releasing a released one, any action repeated with the same idempotency key and body.

An idempotency key is bound to one request — its action and body (`Idempotency.request`) — on
one order: the timeline entries the request writes carry the key and the request's digest. The
same key with the same request again is a replay (`already_applied`); with another action or
body it is refused (`Conflict`), so a key reused by mistake can never skip a refund.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from .errors import Conflict, TransitionRefused
from .money import Money
from .order import (
    PAID_STATES,
    DeliveryStatus,
    EntryType,
    HoldReason,
    Order,
    OrderChanges,
    Outcome,
    PayStatus,
    TimelineEntry,
    can_pay_transition,
    hold,
    release_hold,
)
from .refunds import open_refunds, refundable, sale_payment

ACTIONS = ("requery", "release_hold", "hold", "confirm_paid", "mark_refunded", "note", "refund")

Decision = Callable[[Order], OrderChanges]


def allowed(order: Order) -> list[str]:
    """The actions the order allows now, as the order detail lists them for a caller who may act
    (the page offers these and no others; each request is still decided on its own)."""
    checks = {
        "refund": any(refundable(order, payment).minor > 0 for payment in order.payments),
        "requery": True,
        "confirm_paid": order.pay_status not in PAID_STATES,
        "hold": not order.on_hold and order.delivery_status is not DeliveryStatus.DELIVERED,
        "release_hold": order.on_hold,
        "mark_refunded": order.pay_status in (PayStatus.PAID, PayStatus.PARTIALLY_REFUNDED),
        "note": True,
    }
    return [action for action in ACTIONS if checks[action]]


@dataclass(frozen=True)
class Idempotency:
    key: str
    request: str  # digest of the action and its body: what the key is bound to

    @classmethod
    def of(cls, key: str | None, body: Mapping[str, Any]) -> Idempotency | None:
        """The key and the digest of every other field of the (validated) body."""
        if key is None:
            return None
        request = {name: value for name, value in body.items() if name != "idempotency_key"}
        canonical = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return cls(key, hashlib.sha256(canonical.encode()).hexdigest()[:32])

    def tags(self) -> dict[str, str]:
        return {"idempotency_key": self.key, "request": self.request}


def replayed(order: Order, idempotency: Idempotency | None) -> bool:
    """True when this key already served this very request on the order; `Conflict` when it
    served another action or body (or was recorded before requests were bound to keys)."""
    if idempotency is None:
        return False
    for entry in order.timeline:
        if entry.data.get("idempotency_key") != idempotency.key:
            continue
        if entry.data.get("request") != idempotency.request:
            raise Conflict(
                f"idempotency key {idempotency.key!r} was already used on this order for another "
                "action or body; use a new key for a new request",
                {"idempotency_key": idempotency.key, "used_by": entry.type},
            )
        return True
    return False


def keyed(decision: Decision, idempotency: Idempotency | None) -> Decision:
    """`decision`, unless the key already served this request; its timeline entries carry the key."""

    def decide(order: Order) -> OrderChanges:
        if replayed(order, idempotency):
            return OrderChanges(outcome=Outcome.ALREADY_APPLIED)
        changes = decision(order)
        if idempotency is not None:
            changes.timeline = [
                replace(e, data={**e.data, **idempotency.tags()}) for e in changes.timeline
            ]
        return changes

    return decide


def _entry(
    now: datetime, kind: EntryType, actor: str, message: str, data: dict[str, Any]
) -> TimelineEntry:
    return TimelineEntry(
        at=now, type=kind, source="operator", message=message, data=data, actor=actor
    )


def operator_hold(order: Order, now: datetime, actor: str, reason: str) -> OrderChanges:
    return hold(order, [HoldReason.OPERATOR.value], now, "operator", actor, note=reason)


def operator_release(order: Order, now: datetime, actor: str, reason: str) -> OrderChanges:
    return release_hold(order, now, actor, reason)


def note(order: Order, now: datetime, actor: str, reason: str) -> OrderChanges:
    return OrderChanges(
        outcome=Outcome.APPLIED, timeline=[_entry(now, EntryType.NOTE, actor, reason, {})]
    )


def _promised(order: Order) -> int:
    """What open refund requests on the sale's payment have promised (domain/refunds.py)."""
    sale = sale_payment(order)
    return sum(
        r.amount.minor for r in open_refunds(order) if sale and r.trade_no == sale.payment_ref
    )


def mark_refunded(
    order: Order, amount: Money | None, now: datetime, actor: str, reason: str
) -> OrderChanges:
    """A refund the operator made outside paytrack (the gateway's console, a bank transfer)."""
    if order.pay_status not in PAID_STATES or order.paid_amount is None:
        raise TransitionRefused(
            f"the order is {order.pay_status.value}: there is nothing to refund",
            {"pay_status": order.pay_status.value},
        )
    already = order.refunded_amount or Money(0, order.paid_amount.currency)
    refund = amount or (order.paid_amount - already)
    if refund.currency != order.paid_amount.currency or refund.minor <= 0:
        raise TransitionRefused(
            "the refund must be positive and in the paid currency",
            {"currency": order.paid_amount.currency},
        )
    total = already + refund
    if total.minor + _promised(order) > order.paid_amount.minor:
        raise TransitionRefused(
            f"refunds would exceed the {order.paid_amount} paid",
            {"refunded": already.format(), "paid": order.paid_amount.format()},
        )
    target = (
        PayStatus.REFUNDED
        if total.minor == order.paid_amount.minor
        else PayStatus.PARTIALLY_REFUNDED
    )
    if not can_pay_transition(order.pay_status, target):
        raise TransitionRefused(f"cannot go from {order.pay_status.value} to {target.value}", {})
    data = {"refunded": refund.format(), "total": total.format(), "currency": total.currency}
    entry = _entry(
        now, EntryType.REFUND, actor, f"refund of {refund} recorded by an operator: {reason}", data
    )
    return OrderChanges(
        outcome=Outcome.APPLIED,
        timeline=[entry],
        set={"pay_status": target, "refunded_amount": total, "refunded_at": now},
    )
