"""POST /admin/orders/{order_no}/actions: an operator acts on one order, with a reason, on the
timeline and in the audit log. `confirm_paid` only succeeds when a live gateway query says paid.

An `idempotency_key` is bound to its action and body on the order (domain/actions.py): the same
request again is a replay, another request with the key is a 409 `conflict`. The gateway queries
(`requery`, `confirm_paid`) are asked again on a replay — asking is harmless and the answer is
applied exactly once by ingestion — and their timeline entry carries the key too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..domain import actions as decide
from ..domain import validation as v
from ..domain.clock import utcnow
from ..domain.errors import Conflict, PaytrackError, ValidationFailed
from ..domain.money import Money
from ..domain.order import PAID_STATES, Order, Outcome
from ..store import audit
from . import admin, orders, refunds, render, requery
from .auth import Principal
from .order_writes import write_with_retry

_FIELDS = {"action", "reason", "amount", "idempotency_key", "payment"}
_QUERIES = ("requery", "confirm_paid")


def _amount(body: Mapping[str, Any], order: Order) -> Money | None:
    text = body.get("amount")
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValidationFailed('amount: a decimal string such as "8.00"', {"field": "amount"})
    return Money.parse(text, (order.paid_amount or order.amount).currency)


def _decision(
    action: str, body: Mapping[str, Any], order: Order, now: datetime, actor: str, reason: str
) -> decide.Decision:
    if action == "hold":
        return lambda o: decide.operator_hold(o, now, actor, reason)
    if action == "release_hold":
        return lambda o: decide.operator_release(o, now, actor, reason)
    if action == "note":
        return lambda o: decide.note(o, now, actor, reason)
    amount = _amount(body, order)
    return lambda o: decide.mark_refunded(o, amount, now, actor, reason)


def _change(
    order: Order, decision: decide.Decision, idempotency: decide.Idempotency | None
) -> tuple[Order, str]:
    """Decide on the order as stored and write, re-deciding on a concurrent change (so two
    requests racing with one key apply once)."""
    keyed = decide.keyed(decision, idempotency)
    outcome = {"value": Outcome.APPLIED}

    def step(current: Order):
        changes = keyed(current)
        outcome["value"] = changes.outcome
        return changes

    return write_with_retry(order, step), outcome["value"]


def _gateway_query(
    principal: Principal,
    action: str,
    order: Order,
    reason: str,
    idempotency: decide.Idempotency | None,
) -> Order:
    """Ask the gateway now (补单); a paid answer is applied through ingestion, the query is on
    the timeline, and an unreachable gateway is a 502, never read as "unpaid"."""
    decide.replayed(order, idempotency)
    requery.requery_order(
        order.order_no,
        actor=principal.key_id,
        reason=reason,
        tags=idempotency.tags() if idempotency else None,
    )
    order = orders.get(order.order_no)
    if action == "confirm_paid" and order.pay_status not in PAID_STATES:
        _audit(principal, action, order.order_no, reason, "refused")
        raise Conflict(
            "the gateway does not confirm a payment for this order; nothing was changed",
            {"pay_status": order.pay_status.value},
        )
    return order


def perform(principal: Principal, order_no: str, body: Mapping[str, Any]) -> dict[str, Any]:
    body = v.require_object(body)
    v.reject_unknown(body, _FIELDS)
    action = v.choice(body, "action", decide.ACTIONS)
    reason = v.text(body, "reason", max_len=500)
    idempotency = decide.Idempotency.of(
        v.text(body, "idempotency_key", required=False, max_len=100), body
    )
    order = orders.get(order_no)
    if action == "refund":
        return _refund(principal, order, body, reason, idempotency)
    if "payment" in body:
        raise ValidationFailed(
            "payment: only the refund action names a payment", {"field": "payment"}
        )
    if action in _QUERIES:
        order, outcome = (
            _gateway_query(principal, action, order, reason, idempotency),
            Outcome.APPLIED,
        )
    else:
        decision = _decision(action, body, order, utcnow(), principal.key_id, reason)
        order, outcome = _change(order, decision, idempotency)
    _audit(principal, action, order_no, reason, outcome)
    names = admin.key_names({entry.actor for entry in order.timeline})
    return {
        "action": action,
        "outcome": outcome,
        "order": render.order_for_admin(order, masked=False, actor_names=names),
    }


def _refund(
    principal: Principal,
    order: Order,
    body: Mapping[str, Any],
    reason: str,
    idempotency: decide.Idempotency | None,
) -> dict[str, Any]:
    """A refund through the gateway (services/refunds.py): its request is in the answer."""
    try:
        order, outcome, refund = refunds.request(principal, order, body, reason, idempotency)
    except PaytrackError as error:
        _audit(principal, "refund", order.order_no, reason, "refused", {"why": error.code})
        raise
    _audit(
        principal,
        "refund",
        order.order_no,
        reason,
        outcome,
        {
            "refund_request_id": refund.refund_request_id,
            "amount": refund.amount.format(),
            "payment": refund.trade_no,
            "state": refund.state.value,
        },
    )
    names = admin.key_names({entry.actor for entry in order.timeline})
    return {
        "action": "refund",
        "outcome": outcome,
        "refund": render.refund_for_admin(refund),
        "order": render.order_for_admin(order, masked=False, actor_names=names),
    }


def _audit(
    principal: Principal,
    action: str,
    order_no: str,
    reason: str,
    outcome: str,
    detail: dict[str, Any] | None = None,
) -> None:
    audit.record_api(
        utcnow(),
        principal.key_id,
        principal.role,
        f"order_{action}",
        order_no,
        {"reason": reason, "outcome": outcome, **(detail or {})},
    )
