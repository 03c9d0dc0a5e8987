"""POST /admin/orders/{order_no}/actions: an operator acts on one order, with a reason, on the
timeline and in the audit log. `confirm_paid` only succeeds when a live gateway query says paid."""
from __future__ import annotations

from typing import Any, Mapping

from ..domain import actions as decide
from ..domain import validation as v
from ..domain.clock import utcnow
from ..domain.errors import Conflict, ValidationFailed
from ..domain.money import Money
from ..domain.order import PAID_STATES, Order
from ..store import audit
from . import orders, render, requery
from .auth import Principal
from .order_writes import write_with_retry

_FIELDS = {"action", "reason", "amount", "idempotency_key"}


def _amount(body: Mapping[str, Any], order: Order) -> Money | None:
    text = body.get("amount")
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValidationFailed("amount: a decimal string such as \"8.00\"", {"field": "amount"})
    return Money.parse(text, (order.paid_amount or order.amount).currency)


def _gateway_query(order_no: str, actor: str, reason: str) -> Order:
    """Ask the gateway now (补单); a paid answer is applied through ingestion, the query is on
    the timeline, and an unreachable gateway is a 502, never read as "unpaid"."""
    requery.requery_order(order_no, actor=actor, reason=reason)
    return orders.get(order_no)


def perform(principal: Principal, order_no: str, body: Mapping[str, Any]) -> dict[str, Any]:
    body = v.require_object(body)
    v.reject_unknown(body, _FIELDS)
    action = v.choice(body, "action", decide.ACTIONS)
    reason = v.text(body, "reason", max_len=500)
    key = v.text(body, "idempotency_key", required=False, max_len=100)
    order = orders.get(order_no)
    now, actor = utcnow(), principal.key_id
    outcome = {"value": "applied"}

    def run(decision):
        def step(current: Order):
            changes = decision(current)
            outcome["value"] = changes.outcome
            return changes
        return write_with_retry(order, step)

    if action == "hold":
        order = run(lambda o: decide.operator_hold(o, now, actor, reason))
    elif action == "release_hold":
        order = run(lambda o: decide.operator_release(o, now, actor, reason))
    elif action == "note":
        order = run(lambda o: decide.note(o, now, actor, reason, key))
    elif action == "mark_refunded":
        amount = _amount(body, order)
        order = run(lambda o: decide.mark_refunded(o, amount, now, actor, reason, key))
    else:
        order = _gateway_query(order_no, actor, reason)
        if action == "confirm_paid" and order.pay_status not in PAID_STATES:
            _audit(principal, action, order_no, reason, "refused")
            raise Conflict("the gateway does not confirm a payment for this order; nothing was changed",
                           {"pay_status": order.pay_status.value})
    _audit(principal, action, order_no, reason, outcome["value"])
    return {"action": action, "outcome": outcome["value"], "order": render.order_for_admin(order, masked=False)}


def _audit(principal: Principal, action: str, order_no: str, reason: str, outcome: str) -> None:
    audit.record_api(utcnow(), principal.key_id, principal.role, f"order_{action}", order_no,
                     {"reason": reason, "outcome": outcome})
