"""Refunds paytrack issues through the gateway: the refund request, its states and the decisions
that move it. Pure: no I/O.

A refund request lives on the order's timeline, where `mark_refunded` records a manual refund:
every entry of one request has type `refund` and carries `refund_request_id`, `trade_no` (the
payment refunded), `amount`, `currency` and `state`. The request's current state is its last
entry's. Only the `succeeded` entry moves money on the order and carries `refunded` (this
refund) and `total` (the order's refunded total), like a manual refund's entry.

    awaiting_approval --approve--> pending --answer/query/notice--> succeeded | failed
            \\--reject--> rejected

The request id is derived from the order and the operator's idempotency key, and is what each
gateway dedupes on (Alipay `out_request_no`, WeChat `out_refund_no`, Stripe `Idempotency-Key`,
epay `out_refund_no`): a retry after a timeout asks for the same refund again, never a second one.

Amounts: a payment can be refunded up to its amount, counting every request not failed or
rejected (so two requests racing never promise more than was paid: the second one is decided on
the order the first one wrote). The sale's payment (the order's first) also counts refunds that
were made elsewhere (`refunded_amount`); only its refunds move the order to partially_refunded /
refunded. A duplicate payment is refunded on its own trade number and leaves the sale as it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .errors import Conflict, Forbidden, NotFound, TransitionRefused
from .money import Money
from .notice import Notice, NoticeKind
from .order import (
    PAID_STATES,
    DeliveryStatus,
    EntryType,
    Order,
    OrderChanges,
    Outcome,
    Payment,
    PayStatus,
    TimelineEntry,
    can_pay_transition,
)


class RefundState(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    PENDING = "pending"  # asked of the gateway (or about to be); not confirmed yet
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"  # an admin refused it: never sent to the gateway


OPEN_STATES = frozenset({RefundState.AWAITING_APPROVAL, RefundState.PENDING})
FINAL_STATES = frozenset({RefundState.SUCCEEDED, RefundState.FAILED, RefundState.REJECTED})
#: states whose amount is promised or gone: what the next request can no longer have
_COUNTED = frozenset({RefundState.AWAITING_APPROVAL, RefundState.PENDING, RefundState.SUCCEEDED})


@dataclass(frozen=True)
class RefundRequest:
    """One refund request as the order's timeline tells it."""

    refund_request_id: str
    trade_no: str
    amount: Money
    state: RefundState
    reason: str
    requested_by: str | None
    requested_at: datetime
    approval_reasons: tuple[str, ...] = ()
    decided_by: str | None = None  # the admin who approved or rejected
    gateway_refund_id: str | None = None
    detail: str | None = None  # the gateway's word on the last change
    updated_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES


@dataclass(frozen=True)
class RefundAnswer:
    """What the gateway says about one refund (its answer to the request, its query, its
    notification), in our terms. `detail` is the gateway's own word (code, status)."""

    state: RefundState  # PENDING, SUCCEEDED or FAILED
    detail: str
    gateway_refund_id: str | None = None
    refunded: Money | None = None  # as the gateway confirms it, when it says


@dataclass(frozen=True)
class RefundCall:
    """What the gateway is asked: refund `amount` of the payment `trade_no` (of `total`) of our
    order `out_trade_no`, deduped on `request_id`."""

    out_trade_no: str
    trade_no: str
    request_id: str
    amount: Money
    total: Money
    reason: str


@dataclass(frozen=True)
class RefundPolicy:
    """When a refund needs a second person: above `approval_above` (in the order's currency's
    major units), or of an order already delivered."""

    approval_above: str = "200.00"

    def approval_reasons(self, order: Order, amount: Money) -> tuple[str, ...]:
        reasons = []
        if amount.to_decimal() > Decimal(self.approval_above):
            reasons.append("amount_above_limit")
        if order.delivery_status == DeliveryStatus.DELIVERED:
            reasons.append("already_delivered")
        return tuple(reasons)


def refund_request_id(order_no: str, idempotency_key: str) -> str:
    """`rf` + 30 hex digits of SHA-256(order, key): within every gateway's limit and alphabet
    (WeChat out_refund_no: 64 of [0-9a-zA-Z_-|*@]), the same for every retry of one request."""
    return "rf" + hashlib.sha256(f"{order_no}\n{idempotency_key}".encode()).hexdigest()[:30]


# ---------------------------------------------------------------- reading the timeline


def refund_requests(order: Order) -> list[RefundRequest]:
    """Every refund request of the order, oldest first, each in its current state."""
    return requests_in(order.timeline)


def requests_in(timeline: Iterable[TimelineEntry]) -> list[RefundRequest]:
    """Every refund request an order's timeline tells of, oldest first, each in its current
    state (`updated_at`: when it got there)."""
    found: dict[str, RefundRequest] = {}
    for entry in timeline:
        rid = entry.data.get("refund_request_id") if entry.type == EntryType.REFUND else None
        if not rid:
            continue
        state = RefundState(entry.data["state"])
        if rid not in found:
            found[rid] = RefundRequest(
                refund_request_id=rid,
                trade_no=entry.data["trade_no"],
                amount=Money.parse(entry.data["amount"], entry.data["currency"]),
                state=state,
                reason=entry.data.get("reason", ""),
                requested_by=entry.actor,
                requested_at=entry.at,
                approval_reasons=tuple(entry.data.get("approval_reasons") or ()),
                updated_at=entry.at,
            )
            continue
        previous = found[rid]
        found[rid] = RefundRequest(
            **{
                **previous.__dict__,
                "state": state,
                "updated_at": entry.at,
                "decided_by": entry.actor if entry.data.get("decision") else previous.decided_by,
                "gateway_refund_id": entry.data.get("gateway_refund_id")
                or previous.gateway_refund_id,
                "detail": entry.data.get("detail") or previous.detail,
            }
        )
    return list(found.values())


def refunds_moved(order: Order, changes: OrderChanges) -> set[tuple[str, datetime]]:
    """When, and on which channel, `changes` move refunded money of the order: each refund
    request they settle as succeeded (on its payment's channel) and a new refunded total (a
    manual refund, the gateway's own notice: on the order's channel). What reconciliation needs
    to find the orders refunded on a day, whatever day they were paid (store/refund_days.py)."""
    succeeded = [
        entry
        for entry in changes.timeline
        if entry.type == EntryType.REFUND
        and entry.data.get("refund_request_id")
        and entry.data.get("state") == RefundState.SUCCEEDED.value
    ]
    channels = {p.payment_ref: p.channel for p in order.payments} if succeeded else {}
    moved = {
        (channels.get(entry.data.get("trade_no", ""), order.channel), entry.at)
        for entry in succeeded
    }
    refunded_at = changes.set.get("refunded_at")
    if isinstance(refunded_at, datetime):
        moved.add((order.channel, refunded_at))
    return moved


def find_request(order: Order, request_id: str) -> RefundRequest:
    for request in refund_requests(order):
        if request.refund_request_id == request_id:
            return request
    raise NotFound(
        f"no refund request {request_id!r} on order {order.order_no}",
        {"order_no": order.order_no, "refund_request_id": request_id},
    )


def sale_payment(order: Order) -> Payment | None:
    """The payment the order was paid with (its first); any later one is a duplicate."""
    return order.payments[0] if order.payments else None


def payment_of(order: Order, trade_no: str | None) -> Payment:
    """The payment named by its trade number (default: the sale's)."""
    if not order.payments or order.pay_status not in PAID_STATES:
        raise TransitionRefused(
            f"the order is {order.pay_status.value}: there is nothing to refund",
            {"pay_status": order.pay_status.value},
        )
    if trade_no is None:
        return order.payments[0]
    for payment in order.payments:
        if payment.payment_ref == trade_no:
            return payment
    raise NotFound(
        f"the order has no payment {trade_no!r}",
        {"payment": trade_no, "payments": [p.payment_ref for p in order.payments]},
    )


def refundable(order: Order, payment: Payment) -> Money:
    """What is left to refund of the payment, counting every request not failed or rejected and,
    for the sale's payment, refunds recorded otherwise (manual, or the gateway's own notice)."""
    requests = [r for r in refund_requests(order) if r.trade_no == payment.payment_ref]
    promised = sum(
        r.amount.minor
        for r in requests
        if r.state in (RefundState.AWAITING_APPROVAL, RefundState.PENDING)
    )
    succeeded = sum(r.amount.minor for r in requests if r.state is RefundState.SUCCEEDED)
    if payment is sale_payment(order) and order.refunded_amount is not None:
        succeeded = max(succeeded, order.refunded_amount.minor)
    return Money(max(payment.amount.minor - promised - succeeded, 0), payment.amount.currency)


def open_refunds(order: Order) -> list[RefundRequest]:
    return [r for r in refund_requests(order) if r.open]


# ---------------------------------------------------------------- decisions


def _entry(
    now: datetime,
    actor: str | None,
    source: str,
    message: str,
    request: RefundRequest,
    state: RefundState,
    extra: dict[str, Any] | None = None,
) -> TimelineEntry:
    data = {
        "refund_request_id": request.refund_request_id,
        "trade_no": request.trade_no,
        "amount": request.amount.format(),
        "currency": request.amount.currency,
        "state": state.value,
        **(extra or {}),
    }
    return TimelineEntry(
        at=now, type=EntryType.REFUND, source=source, message=message, data=data, actor=actor
    )


def _with_open_flag(order: Order, changes: OrderChanges) -> OrderChanges:
    """Keep `refund_open` (the open-refunds index key) true exactly while a request is open."""
    after = open_refunds(changes.apply_to(order))
    if bool(after) != order.refund_open:
        changes.set["refund_open"] = bool(after)
    return changes


def request_refund(
    order: Order,
    *,
    request_id: str,
    trade_no: str | None,
    amount: Money | None,
    reason: str,
    actor: str,
    now: datetime,
    policy: RefundPolicy,
) -> OrderChanges:
    """Reserve a refund of `amount` (default: all that is left) of one payment: `pending`, or
    `awaiting_approval` when the policy wants a second person. Refused beyond what is left."""
    payment = payment_of(order, trade_no)
    left = refundable(order, payment)
    amount = amount or left
    if amount.currency != payment.amount.currency or amount.minor <= 0:
        raise TransitionRefused(
            "the refund must be positive and in the paid currency",
            {"currency": payment.amount.currency},
        )
    if amount.minor > left.minor:
        raise TransitionRefused(
            f"refunds would exceed the {payment.amount} paid with {payment.payment_ref}: "
            f"{left} is left to refund",
            {
                "payment": payment.payment_ref,
                "paid": payment.amount.format(),
                "refundable": left.format(),
            },
        )
    reasons = policy.approval_reasons(order, amount)
    state = RefundState.AWAITING_APPROVAL if reasons else RefundState.PENDING
    request = RefundRequest(
        request_id, payment.payment_ref, amount, state, reason, actor, now, reasons
    )
    waits = f", awaiting an admin's approval ({', '.join(reasons)})" if reasons else ""
    entry = _entry(
        now,
        actor,
        "operator",
        f"refund of {amount} on {payment.payment_ref} requested{waits}: {reason}",
        request,
        state,
        {"reason": reason, **({"approval_reasons": list(reasons)} if reasons else {})},
    )
    return _with_open_flag(order, OrderChanges(outcome=Outcome.APPLIED, timeline=[entry]))


def decide_approval(
    order: Order, request_id: str, approve: bool, actor: str, note: str, now: datetime
) -> OrderChanges:
    """An admin approves (-> pending, to be sent) or rejects a request awaiting approval. The
    requester never approves their own request (maker-checker)."""
    request = find_request(order, request_id)
    target = RefundState.PENDING if approve else RefundState.REJECTED
    if request.state is not RefundState.AWAITING_APPROVAL:
        if request.decided_by == actor and request.state in (
            target,
            *((RefundState.SUCCEEDED, RefundState.FAILED) if approve else ()),
        ):
            return OrderChanges(outcome=Outcome.ALREADY_APPLIED)
        raise Conflict(
            f"refund request {request_id} is {request.state.value}, not awaiting approval",
            {"refund_request_id": request_id, "state": request.state.value},
        )
    if request.requested_by == actor:
        raise Forbidden(
            "a refund request is approved or rejected by another person than its requester",
            {"refund_request_id": request_id, "requested_by": actor},
        )
    verb = "approved" if approve else "rejected"
    entry = _entry(
        now,
        actor,
        "operator",
        f"refund of {request.amount} {verb}: {note}",
        request,
        target,
        {"decision": verb, "note": note},
    )
    return _with_open_flag(order, OrderChanges(outcome=Outcome.APPLIED, timeline=[entry]))


def settle(
    order: Order,
    request_id: str,
    answer: RefundAnswer,
    source: str,
    now: datetime,
    actor: str | None = None,
) -> OrderChanges:
    """Apply the gateway's word on a pending request. Pending again: nothing changes (unless it
    brings the gateway's refund id). Succeeded: the money moves on the order (the sale's payment
    only). A request already final stays so: its first confirmation is the one that counts."""
    request = find_request(order, request_id)
    if request.state is not RefundState.PENDING:
        return OrderChanges(outcome=Outcome.ALREADY_APPLIED)
    if answer.state is RefundState.PENDING:
        if not answer.gateway_refund_id or answer.gateway_refund_id == request.gateway_refund_id:
            return OrderChanges(outcome=Outcome.ALREADY_APPLIED)
        entry = _entry(
            now,
            actor,
            source,
            f"refund of {request.amount} accepted by the gateway, not yet "
            f"confirmed ({answer.detail})",
            request,
            RefundState.PENDING,
            {"gateway_refund_id": answer.gateway_refund_id, "detail": answer.detail},
        )
        return OrderChanges(outcome=Outcome.APPLIED, timeline=[entry])
    extra = {
        "detail": answer.detail,
        **({"gateway_refund_id": answer.gateway_refund_id} if answer.gateway_refund_id else {}),
    }
    if answer.state is RefundState.FAILED:
        entry = _entry(
            now,
            actor,
            source,
            f"refund of {request.amount} failed at the gateway: {answer.detail}",
            request,
            RefundState.FAILED,
            extra,
        )
        return _with_open_flag(order, OrderChanges(outcome=Outcome.APPLIED, timeline=[entry]))
    return _with_open_flag(order, _succeeded(order, request, extra, source, now, actor))


#: settled by hand: the outcomes an admin may give a pending request
BY_HAND = (RefundState.SUCCEEDED, RefundState.FAILED)


def settle_by_hand(
    order: Order, request_id: str, state: RefundState, actor: str, note: str, now: datetime
) -> OrderChanges:
    """An admin settles a pending request after checking the gateway's console (an epay refund
    whose answer was lost: 彩虹 has no refund query, so nothing else ever will). Once: the same
    outcome again is already applied; a request that is not pending and not in that state (the
    gateway said otherwise, or it never left the approvals queue) is a conflict."""
    if state not in BY_HAND:
        raise ValueError(f"a refund is settled by hand as succeeded or failed, not {state.value}")
    request = find_request(order, request_id)
    if request.state is state:
        return OrderChanges(outcome=Outcome.ALREADY_APPLIED)
    if request.state is not RefundState.PENDING:
        raise Conflict(
            f"refund request {request_id} is {request.state.value}: only a pending refund is settled "
            "by hand",
            {"refund_request_id": request_id, "state": request.state.value},
        )
    answer = RefundAnswer(state, f"settled by hand after checking the gateway's console: {note}")
    return settle(order, request_id, answer, "operator", now, actor)


def _succeeded(
    order: Order,
    request: RefundRequest,
    extra: dict[str, Any],
    source: str,
    now: datetime,
    actor: str | None,
) -> OrderChanges:
    changes = OrderChanges(outcome=Outcome.APPLIED)
    sale = sale_payment(order)
    total: Money | None = None
    if sale is not None and request.trade_no == sale.payment_ref:
        total = (order.refunded_amount or Money(0, request.amount.currency)) + request.amount
        target = (
            PayStatus.REFUNDED if total.minor >= sale.amount.minor else PayStatus.PARTIALLY_REFUNDED
        )
        if can_pay_transition(order.pay_status, target):
            changes.set.update({"pay_status": target, "refunded_amount": total, "refunded_at": now})
    what = "" if total is not None else " (a duplicate payment: the sale stands)"
    entry = _entry(
        now,
        actor,
        source,
        f"refund of {request.amount} on {request.trade_no} succeeded{what}",
        request,
        RefundState.SUCCEEDED,
        {
            **extra,
            "refunded": request.amount.format(),
            **({"total": total.format()} if total is not None else {}),
        },
    )
    changes.timeline.append(entry)
    return changes


# ---------------------------------------------------------------- the gateway's notices


def apply_refund_notice(order: Order, notice: Notice, now: datetime) -> OrderChanges | None:
    """A verified notice about one of the order's refund requests (its `refund_ref` is the
    request id, or the gateway's refund id we were given), as the settlement of that request.

    None when the notice is about no request of ours: the order's state machine decides it. A
    running total (`refunded_total`) that our open requests already account for is only shown:
    applied as a refund too, it would count our money twice."""
    if notice.dedupe_key in order.applied_notices or notice.channel != order.channel:
        return None
    request = _named_request(order, notice.refund_ref)
    if request is None:
        return _echo_of_our_refunds(order, notice, now)
    state = RefundState(
        notice.extra.get("refund_state")
        or (
            RefundState.SUCCEEDED.value
            if notice.kind is NoticeKind.REFUND
            else RefundState.PENDING.value
        )
    )
    detail = notice.extra.get("detail") or notice.gateway_status
    answer = RefundAnswer(state, detail, notice.extra.get("gateway_refund_id"), notice.amount)
    changes = settle(order, request.refund_request_id, answer, notice.source.value, now)
    if not changes.writes:
        changes = OrderChanges(
            outcome=Outcome.ALREADY_APPLIED,
            timeline=[
                TimelineEntry(
                    at=now,
                    type=EntryType.NOTICE,
                    source=notice.source.value,
                    message=f"gateway says {notice.gateway_status} for refund {request.refund_request_id} "
                    f"({request.state.value})",
                    data={
                        "refund_request_id": request.refund_request_id,
                        "notice": notice.dedupe_key,
                    },
                )
            ],
        )
    changes.applied.append(notice.dedupe_key)
    return changes


def _named_request(order: Order, ref: str | None) -> RefundRequest | None:
    if not ref:
        return None
    return next(
        (r for r in refund_requests(order) if ref in (r.refund_request_id, r.gateway_refund_id)),
        None,
    )


def _echo_of_our_refunds(order: Order, notice: Notice, now: datetime) -> OrderChanges | None:
    """A running total of a payment (Stripe charge.refunded, an Alipay refund_fee) that our
    requests on that payment — succeeded or still open — account for: shown, not applied."""
    if notice.kind is not NoticeKind.REFUND or notice.refunded_total is None:
        return None
    payment = next((p for p in order.payments if p.payment_ref == notice.payment_identity), None)
    payment = payment or sale_payment(order)
    if payment is None:
        return None
    ours = [
        r
        for r in refund_requests(order)
        if r.trade_no == payment.payment_ref and r.state in _COUNTED
    ]
    if not ours:
        return None
    accounted = payment.amount.minor - refundable(order, payment).minor
    if notice.refunded_total.minor > accounted:
        return None
    entry = TimelineEntry(
        at=now,
        type=EntryType.NOTICE,
        source=notice.source.value,
        message=f"gateway reports {notice.refunded_total} refunded in total on "
        f"{payment.payment_ref}: paytrack's refund requests account for it",
        data={
            "refunded_total": notice.refunded_total.format(),
            "trade_no": payment.payment_ref,
            "notice": notice.dedupe_key,
        },
    )
    return OrderChanges(outcome=Outcome.APPLIED, timeline=[entry], applied=[notice.dedupe_key])
