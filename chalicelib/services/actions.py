"""POST /admin/orders/{order_no}/actions: an operator acts on one order, with a reason, on the
timeline and in the audit log. `confirm_paid` only succeeds when a live gateway query says paid.

An `idempotency_key` is bound to its action and body on the order (domain/actions.py): the same
request again is a replay, another request with the key is a 409 `conflict`. The gateway queries
(`requery`, `confirm_paid`) are asked again on a replay — asking is harmless and the answer is
applied exactly once by ingestion — and their timeline entry carries the key too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..domain import actions as decide
from ..domain.commands import OrderAction
from ..domain.errors import Conflict, PaytrackError
from ..domain.money import Money
from ..domain.order import PAID_STATES, Order, Outcome
from ..domain.refunds import RefundRequest
from ..store import audit
from . import auth, orders, ports, refunds, requery
from .auth import Principal
from .order_writes import write_with_retry
from .ports import clock

_QUERIES = ("requery", "confirm_paid")


@dataclass(frozen=True)
class ActionDone:
    """What an action did: its outcome, the order after it (and the refund it asked for)."""

    action: str
    outcome: Outcome
    order: Order
    actor_names: dict[str, str]
    refund: RefundRequest | None = None


def _decision(command: OrderAction, order: Order, now: datetime, actor: str) -> decide.Decision:
    action, reason = command.action, command.reason
    if action == "hold":
        return lambda o: decide.operator_hold(o, now, actor, reason)
    if action == "release_hold":
        return lambda o: decide.operator_release(o, now, actor, reason)
    if action == "note":
        return lambda o: decide.note(o, now, actor, reason)
    currency = (order.paid_amount or order.amount).currency
    amount = Money.parse(command.amount, currency) if command.amount is not None else None
    return lambda o: decide.mark_refunded(o, amount, now, actor, reason)


def _change(
    order: Order, decision: decide.Decision, idempotency: decide.Idempotency | None
) -> tuple[Order, Outcome]:
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


def perform(principal: Principal, command: OrderAction) -> ActionDone:
    action, reason, idempotency = command.action, command.reason, command.idempotency
    order = orders.get(command.order_no)
    if action == "refund":
        return _refund(principal, order, command)
    outcome: Outcome
    if action in _QUERIES:
        order = _gateway_query(principal, action, order, reason, idempotency)
        outcome = Outcome.APPLIED
    else:
        decision = _decision(command, order, clock().now(), principal.key_id)
        order, outcome = _change(order, decision, idempotency)
    _audit(principal, action, command.order_no, reason, outcome)
    names = auth.key_names({entry.actor for entry in order.timeline})
    return ActionDone(action, outcome, order, names)


def _refund(principal: Principal, order: Order, command: OrderAction) -> ActionDone:
    """A refund through the gateway (services/refunds.py): its request is in the answer."""
    reason = command.reason
    try:
        order, outcome, refund = refunds.request(
            principal, order, command.payment, command.amount, reason, command.idempotency
        )
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
    names = auth.key_names({entry.actor for entry in order.timeline})
    return ActionDone("refund", outcome, order, names, refund)


def _audit(
    principal: Principal,
    action: str,
    order_no: str,
    reason: str,
    outcome: str,
    detail: dict[str, Any] | None = None,
) -> None:
    ports.audit(audit).record_api(
        clock().now(),
        principal.key_id,
        principal.role,
        f"order_{action}",
        order_no,
        {"reason": reason, "outcome": outcome, **(detail or {})},
    )
