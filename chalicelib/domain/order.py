"""The order, its two state machines (payment, delivery) and its timeline. Pure: no I/O.

Every change is expressed as an `OrderChanges` value: the fields to set, the timeline entries and
payments to append and the notice keys to mark applied. The store turns it into one conditional
UpdateItem; `OrderChanges.apply_to` gives the same result in memory. Functions here decide; they
never write.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from .errors import TransitionRefused
from .money import Money
from .notice import Notice, NoticeKind


class PayStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    EXPIRED = "expired"
    CLOSED = "closed"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    HELD = "held"
    DELIVERED = "delivered"
    FAILED = "failed"


PAY_TRANSITIONS: dict[PayStatus, frozenset[PayStatus]] = {
    PayStatus.PENDING: frozenset({PayStatus.PAID, PayStatus.EXPIRED, PayStatus.CLOSED}),
    # a payment that lands after expiry or close is still money received: paid, and held
    PayStatus.EXPIRED: frozenset({PayStatus.PAID, PayStatus.CLOSED}),
    PayStatus.CLOSED: frozenset({PayStatus.PAID}),
    PayStatus.PAID: frozenset({PayStatus.PARTIALLY_REFUNDED, PayStatus.REFUNDED}),
    PayStatus.PARTIALLY_REFUNDED: frozenset({PayStatus.PARTIALLY_REFUNDED, PayStatus.REFUNDED}),
    PayStatus.REFUNDED: frozenset(),
}

DELIVERY_TRANSITIONS: dict[DeliveryStatus, frozenset[DeliveryStatus]] = {
    DeliveryStatus.PENDING: frozenset(
        {DeliveryStatus.HELD, DeliveryStatus.DELIVERED, DeliveryStatus.FAILED}
    ),
    DeliveryStatus.HELD: frozenset({DeliveryStatus.PENDING}),
    DeliveryStatus.FAILED: frozenset(
        {DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.HELD}
    ),
    DeliveryStatus.DELIVERED: frozenset(),
}

PAID_STATES = frozenset({PayStatus.PAID, PayStatus.PARTIALLY_REFUNDED, PayStatus.REFUNDED})


def can_pay_transition(current: PayStatus, target: PayStatus) -> bool:
    return target in PAY_TRANSITIONS[current]


def can_delivery_transition(current: DeliveryStatus, target: DeliveryStatus) -> bool:
    return target in DELIVERY_TRANSITIONS[current]


class HoldReason(StrEnum):
    AMOUNT_MISMATCH = "amount_mismatch"
    CHANNEL_MISMATCH = "channel_mismatch"
    CURRENCY_MISMATCH = "currency_mismatch"
    DUPLICATE_PAYMENT = "duplicate_payment"
    LATE_PAYMENT = "late_payment"
    OPERATOR = "operator"


class EntryType(StrEnum):
    """The kinds of timeline entry: the words stored on the order and shown in its timeline."""

    CREATED = "created"
    PAYMENT = "payment"
    NOTICE = "notice"
    REFUND = "refund"
    CLOSED = "closed"
    CONFLICT = "conflict"
    HOLD = "hold"
    RELEASE = "release"
    DELIVERY = "delivery"
    STATUS = "status"
    QUERY = "query"
    NOTE = "note"
    ANOMALY = "anomaly"
    RECONCILIATION = "reconciliation"
    VERIFICATION_REQUESTED = "verification_requested"
    VERIFICATION_ANSWERED = "verification_answered"
    VERIFICATION_DECIDED = "verification_decided"


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    type: EntryType
    source: str  # shop, notify, query, operator, system
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    actor: str | None = None


@dataclass(frozen=True)
class Payment:
    """One distinct payment the gateway took for this order (usually exactly one)."""

    payment_ref: str
    amount: Money
    channel: str
    at: datetime | None
    notice_key: str
    received: Money | None = None
    fee: Money | None = None
    method: str | None = None
    payer: str | None = None


@dataclass
class Order:
    order_no: str
    amount: Money
    channel: str
    product_id: str
    product_name: str
    quantity: int
    created_at: datetime
    expires_at: datetime
    buyer_email: str | None = None
    buyer_id: str | None = None
    buyer_ip: str | None = None
    user_agent: str | None = None
    device: str | None = None
    browser: str | None = None
    os: str | None = None
    gateway: str | None = None
    pay_status: PayStatus = PayStatus.PENDING
    delivery_status: DeliveryStatus = DeliveryStatus.PENDING
    hold_reasons: list[str] = field(default_factory=list)
    paid_at: datetime | None = None
    trade_no: str | None = None
    paid_amount: Money | None = None
    received_amount: Money | None = None
    fee: Money | None = None  # in the settlement currency (the paid one unless converted)
    net: Money | None = None  # 实际到账 as the gateway's statement says (reconciliation)
    settled_amount: Money | None = (
        None  # the payment converted into the settlement currency (statement)
    )
    exchange_rate: str | None = None  # the gateway's rate for that conversion ("7.8")
    refunded_amount: Money | None = None
    refunded_at: datetime | None = None
    closed_at: datetime | None = None
    expired_at: datetime | None = None
    delivered_at: datetime | None = None
    method: str | None = None
    payer: str | None = None
    fingerprint: str | None = None
    flagged: bool = False  # an anomaly names this order (the by_flagged index)
    refund_open: bool = False  # a refund request awaits approval or the gateway (domain/refunds.py)
    payments: list[Payment] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    applied_notices: set[str] = field(default_factory=set)
    version: int = 0

    @property
    def on_hold(self) -> bool:
        return self.delivery_status == DeliveryStatus.HELD


@dataclass
class OrderChanges:
    """What one decision does to an order. `outcome` tells the caller what happened."""

    outcome: Outcome
    set: dict[str, Any] = field(default_factory=dict)
    timeline: list[TimelineEntry] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)

    @property
    def writes(self) -> bool:
        return bool(self.set or self.timeline or self.payments or self.applied)

    def apply_to(self, order: Order) -> Order:
        updated = replace(order, **copy.deepcopy(self.set))
        updated.timeline = order.timeline + self.timeline
        updated.payments = order.payments + self.payments
        updated.applied_notices = order.applied_notices | set(self.applied)
        updated.version = order.version + 1
        return updated


class Outcome(StrEnum):
    """What deciding a change did to the order."""

    APPLIED = "applied"
    ALREADY_APPLIED = "already_applied"
    REFUSED = "refused"  # stored and acknowledged, but the state machine refused it


# ---------------------------------------------------------------- notices


def apply_notice(
    order: Order, notice: Notice, now: datetime, accepted_currencies: frozenset[str] | None = None
) -> OrderChanges:
    """Decide what a verified notice does to the order it names.

    A notice from another channel than the order's proves only that its channel's key signed
    it: a payment is money received, so it is recorded and held (`channel_mismatch`); any other
    kind is refused (a close or refund of this order is not that channel's to say).
    `accepted_currencies`: what the notice's channel declares it takes (None: any).
    """
    if notice.dedupe_key in order.applied_notices:
        return OrderChanges(outcome=Outcome.ALREADY_APPLIED)
    if notice.kind is NoticeKind.PAYMENT:
        changes = _apply_payment(order, notice, now, accepted_currencies)
    elif notice.channel != order.channel:
        changes = _refused(
            order,
            notice,
            now,
            f"a {notice.kind.value} notice from channel {notice.channel}, "
            f"the order is on {order.channel}",
        )
    else:
        handler = {
            NoticeKind.REFUND: _apply_refund,
            NoticeKind.CLOSED: _apply_close,
            NoticeKind.INFO: _apply_info,
        }[notice.kind]
        changes = handler(order, notice, now)
    changes.applied.append(notice.dedupe_key)
    return changes


def first_payment_changes(
    notice: Notice, now: datetime, hold: list[str] | None = None, late: bool = False
) -> OrderChanges:
    """The changes of a payment to an unpaid order.

    The ingestion fast path writes exactly this, conditioned on the order being pending on the
    notice's channel with the same amount, without reading the order first. The caller marks the
    notice applied.
    """
    payment = _payment_of(notice)
    fields: dict[str, Any] = {
        "pay_status": PayStatus.PAID,
        "paid_at": notice.event_time or now,
        "trade_no": notice.trade_no,
        "paid_amount": notice.amount,
        "received_amount": notice.received,
        "fee": notice.fee,
        "method": notice.method,
        "payer": notice.payer,
    }
    entries = [
        _entry(
            now,
            EntryType.PAYMENT,
            notice,
            _payment_message(notice, late),
            {
                "amount": notice.amount.format() if notice.amount else None,
                "currency": notice.amount.currency if notice.amount else None,
                "trade_no": notice.trade_no,
                "gateway_status": notice.gateway_status,
            },
        )
    ]
    changes = OrderChanges(
        outcome=Outcome.APPLIED, set=fields, timeline=entries, payments=[payment]
    )
    if hold:
        changes.set["hold_reasons"] = hold
        changes.set["delivery_status"] = DeliveryStatus.HELD
        changes.timeline.append(
            _entry(
                now, EntryType.HOLD, notice, "delivery held: " + ", ".join(hold), {"reasons": hold}
            )
        )
    return changes


def _apply_payment(
    order: Order, notice: Notice, now: datetime, accepted_currencies: frozenset[str] | None
) -> OrderChanges:
    if notice.amount is None:
        return _refused(order, notice, now, "payment notice without an amount")
    known_refs = {(p.channel, p.payment_ref) for p in order.payments}
    if order.pay_status in PAID_STATES:
        if (notice.channel, notice.payment_identity) in known_refs:
            return _status_echo(notice, now)
        return _second_payment(order, notice, now)
    late = order.pay_status in (PayStatus.EXPIRED, PayStatus.CLOSED)
    reasons = _payment_hold_reasons(order, notice, accepted_currencies)
    if late:
        reasons.append(HoldReason.LATE_PAYMENT.value)
    return first_payment_changes(
        notice, now, _merge_holds(order, reasons) if reasons else None, late
    )


def _payment_hold_reasons(
    order: Order, notice: Notice, accepted_currencies: frozenset[str] | None
) -> list[str]:
    paid = notice.amount_moved
    reasons = [HoldReason.CHANNEL_MISMATCH.value] if notice.channel != order.channel else []
    undeclared = accepted_currencies is not None and paid.currency not in accepted_currencies
    if paid.currency != order.amount.currency or undeclared:
        reasons.append(HoldReason.CURRENCY_MISMATCH.value)
    elif paid.minor != order.amount.minor:
        reasons.append(HoldReason.AMOUNT_MISMATCH.value)
    return reasons


def _second_payment(order: Order, notice: Notice, now: datetime) -> OrderChanges:
    reasons = [HoldReason.DUPLICATE_PAYMENT.value]
    if notice.channel != order.channel:
        reasons.append(HoldReason.CHANNEL_MISMATCH.value)
    changes = OrderChanges(outcome=Outcome.APPLIED, payments=[_payment_of(notice)])
    changes.timeline.append(
        _entry(
            now,
            EntryType.PAYMENT,
            notice,
            f"second distinct payment {notice.amount} ({notice.trade_no}): refund due",
            {"trade_no": notice.trade_no, "duplicate": True},
        )
    )
    _hold_changes(order, changes, reasons, notice, now)
    return changes


def _status_echo(notice: Notice, now: datetime) -> OrderChanges:
    """Another event about a payment we already have (e.g. TRADE_SUCCESS then TRADE_FINISHED)."""
    entry = _entry(
        now,
        EntryType.NOTICE,
        notice,
        f"gateway status {notice.gateway_status} for a known payment",
        {"trade_no": notice.trade_no},
    )
    return OrderChanges(outcome=Outcome.APPLIED, timeline=[entry])


def _apply_refund(order: Order, notice: Notice, now: datetime) -> OrderChanges:
    if order.pay_status not in PAID_STATES or order.paid_amount is None:
        return _refused(order, notice, now, f"refund for an order that is {order.pay_status.value}")
    refunded = _refunded_total(order, notice)
    if refunded is None or refunded.currency != order.paid_amount.currency:
        return _refused(order, notice, now, "refund amount missing or in another currency")
    target = (
        PayStatus.REFUNDED
        if refunded.minor >= order.paid_amount.minor
        else PayStatus.PARTIALLY_REFUNDED
    )
    if not can_pay_transition(order.pay_status, target):
        return _refused(
            order, notice, now, f"cannot go from {order.pay_status.value} to {target.value}"
        )
    fields = {
        "pay_status": target,
        "refunded_amount": refunded,
        "refunded_at": notice.event_time or now,
    }
    entry = _entry(
        now,
        EntryType.REFUND,
        notice,
        f"refunded {refunded} in total ({target.value})",
        {"refunded": refunded.format(), "currency": refunded.currency, "status": target.value},
    )
    return OrderChanges(outcome=Outcome.APPLIED, set=fields, timeline=[entry])


def _refunded_total(order: Order, notice: Notice) -> Money | None:
    if notice.refunded_total is not None:
        return notice.refunded_total
    if notice.amount is None:
        return None
    already = order.refunded_amount or Money(0, notice.amount.currency)
    if already.currency != notice.amount.currency:
        return None
    return already + notice.amount


def _apply_close(order: Order, notice: Notice, now: datetime) -> OrderChanges:
    if not can_pay_transition(order.pay_status, PayStatus.CLOSED):
        return _refused(
            order, notice, now, f"gateway closed a trade that is {order.pay_status.value} here"
        )
    entry = _entry(now, EntryType.CLOSED, notice, "closed at the gateway without payment", {})
    return OrderChanges(
        outcome=Outcome.APPLIED,
        set={"pay_status": PayStatus.CLOSED, "closed_at": notice.event_time or now},
        timeline=[entry],
    )


def _apply_info(order: Order, notice: Notice, now: datetime) -> OrderChanges:
    entry = _entry(now, EntryType.NOTICE, notice, f"gateway says {notice.gateway_status}", {})
    return OrderChanges(outcome=Outcome.APPLIED, timeline=[entry])


def _refused(order: Order, notice: Notice, now: datetime, why: str) -> OrderChanges:
    """A notice that would move the order backwards or sideways: kept, shown, never applied."""
    entry = _entry(
        now,
        EntryType.CONFLICT,
        notice,
        f"not applied: {why}",
        {"pay_status": order.pay_status.value, "gateway_status": notice.gateway_status},
    )
    return OrderChanges(outcome=Outcome.REFUSED, timeline=[entry])


def _payment_of(notice: Notice) -> Payment:
    return Payment(
        payment_ref=notice.payment_identity or notice.dedupe_key,
        amount=notice.amount_moved,
        channel=notice.channel,
        at=notice.event_time,
        notice_key=notice.dedupe_key,
        received=notice.received,
        fee=notice.fee,
        method=notice.method,
        payer=notice.payer,
    )


def _payment_message(notice: Notice, late: bool) -> str:
    via = f"via {notice.channel}" + (f" ({notice.method})" if notice.method else "")
    return f"{'late ' if late else ''}payment of {notice.amount} {via}, trade {notice.trade_no}"


def _entry(
    now: datetime, kind: EntryType, notice: Notice, message: str, data: dict[str, Any]
) -> TimelineEntry:
    payload = {k: v for k, v in data.items() if v is not None}
    payload["notice"] = notice.dedupe_key
    return TimelineEntry(
        at=now, type=kind, source=notice.source.value, message=message, data=payload
    )


# ---------------------------------------------------------------- holds and delivery


def _merge_holds(order: Order, reasons: list[str]) -> list[str]:
    return order.hold_reasons + [r for r in reasons if r not in order.hold_reasons]


def _hold_changes(
    order: Order,
    changes: OrderChanges,
    reasons: list[str],
    notice: Notice | None,
    now: datetime,
    source: str = "system",
    actor: str | None = None,
) -> None:
    merged = _merge_holds(order, reasons)
    changes.set["hold_reasons"] = merged
    if can_delivery_transition(order.delivery_status, DeliveryStatus.HELD):
        changes.set["delivery_status"] = DeliveryStatus.HELD
    message = "delivery held: " + ", ".join(reasons)
    if notice is not None:
        changes.timeline.append(_entry(now, EntryType.HOLD, notice, message, {"reasons": reasons}))
    else:
        changes.timeline.append(
            TimelineEntry(
                at=now,
                type=EntryType.HOLD,
                source=source,
                message=message,
                data={"reasons": reasons},
                actor=actor,
            )
        )


def hold(
    order: Order,
    reasons: list[str],
    now: datetime,
    source: str,
    actor: str | None = None,
    note: str | None = None,
) -> OrderChanges:
    if order.delivery_status == DeliveryStatus.DELIVERED:
        raise TransitionRefused(
            "the order is already delivered: nothing to hold",
            {"delivery_status": order.delivery_status.value},
        )
    changes = OrderChanges(outcome=Outcome.APPLIED)
    if all(r in order.hold_reasons for r in reasons) and order.on_hold:
        return OrderChanges(outcome=Outcome.ALREADY_APPLIED)
    _hold_changes(order, changes, reasons, None, now, source, actor)
    if note:
        changes.timeline[-1] = replace(
            changes.timeline[-1], data={**changes.timeline[-1].data, "note": note}
        )
    return changes


def release_hold(order: Order, now: datetime, actor: str | None, note: str | None) -> OrderChanges:
    if not order.on_hold:
        return OrderChanges(outcome=Outcome.ALREADY_APPLIED)
    entry = TimelineEntry(
        at=now,
        type=EntryType.RELEASE,
        source="operator",
        actor=actor,
        message="hold released" + (f": {note}" if note else ""),
        data={"released": list(order.hold_reasons)},
    )
    return OrderChanges(
        outcome=Outcome.APPLIED,
        timeline=[entry],
        set={"delivery_status": DeliveryStatus.PENDING, "hold_reasons": []},
    )


def report_delivery(
    order: Order, delivered: bool, detail: str | None, now: datetime
) -> OrderChanges:
    """The shop tells us it delivered the card key (or failed to)."""
    target = DeliveryStatus.DELIVERED if delivered else DeliveryStatus.FAILED
    if order.pay_status != PayStatus.PAID:
        raise TransitionRefused(
            f"the order is {order.pay_status.value}, not paid: do not deliver",
            {"pay_status": order.pay_status.value},
        )
    if order.on_hold:
        raise TransitionRefused(
            "the order is on hold: do not deliver until an operator releases it",
            {"hold_reasons": order.hold_reasons},
        )
    if order.delivery_status == target == DeliveryStatus.DELIVERED:
        return OrderChanges(outcome=Outcome.ALREADY_APPLIED)
    if not can_delivery_transition(order.delivery_status, target):
        raise TransitionRefused(
            f"delivery is {order.delivery_status.value}; cannot become {target.value}",
            {"delivery_status": order.delivery_status.value},
        )
    return delivery_changes(delivered, detail, now)


#: the delivery statuses a report may move from: those whose transitions allow its target
DELIVERY_SOURCES: dict[DeliveryStatus, frozenset[DeliveryStatus]] = {
    target: frozenset(s for s, targets in DELIVERY_TRANSITIONS.items() if target in targets)
    for target in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)
}


def delivery_changes(delivered: bool, detail: str | None, now: datetime) -> OrderChanges:
    """What a delivery report writes, decided without the order: the fast path's write (store
    `apply_delivery`, under a condition that stands for `report_delivery`'s checks) and the
    slow path's, once `report_delivery` has allowed it."""
    target = DeliveryStatus.DELIVERED if delivered else DeliveryStatus.FAILED
    fields: dict[str, Any] = {"delivery_status": target}
    if delivered:
        fields["delivered_at"] = now
    entry = TimelineEntry(
        at=now,
        type=EntryType.DELIVERY,
        source="shop",
        message=f"delivery {target.value}" + (f": {detail}" if detail else ""),
        data={"status": target.value},
    )
    return OrderChanges(outcome=Outcome.APPLIED, set=fields, timeline=[entry])


def expire(order: Order, now: datetime) -> OrderChanges:
    if order.pay_status != PayStatus.PENDING:
        return OrderChanges(outcome=Outcome.ALREADY_APPLIED)
    entry = TimelineEntry(
        at=now,
        type=EntryType.STATUS,
        source="system",
        message="expired unpaid",
        data={"expires_at": order.expires_at.isoformat()},
    )
    return OrderChanges(
        outcome=Outcome.APPLIED,
        set={"pay_status": PayStatus.EXPIRED, "expired_at": now},
        timeline=[entry],
    )
