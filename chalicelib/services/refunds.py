"""Refunds through the gateway (POST /admin/orders/{no}/actions {"action": "refund"}), their
approval by an admin (maker-checker) and the scheduled query of refunds still pending.

Exactly once: the refund request is first reserved on the order (a version-conditioned write,
so two operators racing never promise more than was paid), under an id derived from the order
and the idempotency key; only then is the gateway asked, with that id, which every gateway
dedupes on. A retry of the same request finds the reservation: it asks the gateway what became
of the refund and sends it again only when the gateway never took it. The gateway's word —
its answer, a query (`query_refunds`, every 5 minutes) or its notification (ingestion,
domain/refunds.apply_refund_notice) — settles the request once: succeeded or failed, on the
timeline and in the audit log; the orders stream then publishes `order.refunded` once per
succeeded refund (services/streams.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..domain.actions import Idempotency, keyed
from ..domain.commands import DecideRefund, ListRefunds, SettleRefund
from ..domain.errors import (
    ChannelMisconfigured,
    Conflict,
    Forbidden,
    GatewayUnavailable,
    NotFound,
    PaytrackError,
    RefundNotOffered,
    ValidationFailed,
)
from ..domain.money import Money
from ..domain.order import EntryType, Order, Outcome
from ..domain.refunds import (
    RefundAnswer,
    RefundCall,
    RefundPolicy,
    RefundRequest,
    RefundState,
    decide_approval,
    find_request,
    payment_of,
    refund_request_id,
    refund_requests,
    request_refund,
    settle,
    settle_by_hand,
)
from ..domain.rules.change import OrderChange
from ..platform.observability import logger
from ..platform.settings import get_settings
from ..store import audit
from ..store import cursor as cursor_codec
from ..store import orders as order_store
from . import events, gateway_calls, orders, ports, render
from .auth import Principal
from .order_writes import write_with_retry
from .ports import clock

#: a pending request younger than this is left to the request that is sending it
QUERY_MIN_AGE = timedelta(minutes=1)
JOB_ACTOR = "job:query_refunds"


def policy() -> RefundPolicy:
    return RefundPolicy(approval_above=get_settings().refund_approval_above)


# ---------------------------------------------------------------- the refund action


def request(
    principal: Principal,
    order: Order,
    trade_no: str | None,
    amount_text: str | None,
    reason: str,
    idempotency: Idempotency | None,
) -> tuple[Order, Outcome, RefundRequest]:
    """Reserve the refund of the payment `trade_no` (default: the sale), `amount_text` of it
    (default: what is left), then (unless it waits for an admin) send it. Returns the order,
    the action's outcome and the request as it stands after the gateway's answer."""
    if idempotency is None:
        raise ValidationFailed(
            "idempotency_key: required for a refund (the refund request id is derived "
            "from it, so a retry never refunds twice)",
            {"field": "idempotency_key"},
        )
    payment = payment_of(order, trade_no)
    _gateway_for(
        payment.channel
    )  # a channel that cannot refund is refused before anything is written
    amount = Money.parse(amount_text, payment.amount.currency) if amount_text is not None else None
    request_id = refund_request_id(order.order_no, idempotency.key)
    now = clock().now()
    decision = keyed(
        lambda current: request_refund(
            current,
            request_id=request_id,
            trade_no=payment.payment_ref,
            amount=amount,
            reason=reason,
            actor=principal.key_id,
            now=now,
            policy=policy(),
        ),
        idempotency,
    )
    outcome = {"value": Outcome.APPLIED}

    def step(current: Order):
        changes = decision(current)
        outcome["value"] = changes.outcome
        return changes

    order = write_with_retry(order, step)
    refund = find_request(order, request_id)
    if refund.state is RefundState.PENDING:
        order, refund = send(
            order,
            refund,
            principal.key_id,
            principal.role,
            "operator",
            retry=outcome["value"] == Outcome.ALREADY_APPLIED,
        )
    return order, outcome["value"], refund


def gateway_for_payment(order: Order, trade_no: str | None = None):
    """The call context and gateway that refund the named payment (default: the sale's);
    RefundNotOffered when its channel cannot refund through paytrack."""
    return _gateway_for(payment_of(order, trade_no).channel)


def _gateway_for(channel: str, now: datetime | None = None):
    ctx, gateway = ports.gateways(gateway_calls).reach(channel, now or clock().now())
    if not gateway.offers_refunds(ctx.config):
        raise RefundNotOffered(
            f"channel {channel} cannot refund through paytrack: refund in the gateway's "
            "console, then record it with the mark_refunded action",
            {"channel": channel, "manual_action": "mark_refunded"},
        )
    return ctx, gateway


def _call(order: Order, refund: RefundRequest) -> RefundCall:
    payment = payment_of(order, refund.trade_no)
    return RefundCall(
        out_trade_no=order.order_no,
        trade_no=refund.trade_no,
        request_id=refund.refund_request_id,
        amount=refund.amount,
        total=payment.amount,
        reason=refund.reason,
    )


def send(
    order: Order, refund: RefundRequest, actor: str, role: str, source: str, retry: bool
) -> tuple[Order, RefundRequest]:
    """Ask the gateway for the refund and apply its answer (`source`: operator, or query for the
    job). `retry`: the request may have reached the gateway before, so it is asked about first and
    sent only if the gateway never took it (a gateway without a refund query is never asked
    twice). No answer leaves the request pending for `query_refunds`."""
    channel = payment_of(order, refund.trade_no).channel
    call, now = _call(order, refund), clock().now()
    ctx, gateway = _gateway_for(channel, now)
    try:
        answer = gateway.query_refund(ctx, call) if retry else None
        if answer is None:
            answer = gateway.refund(ctx, call)
    except RefundNotOffered:
        logger.warning(
            "refund left pending: the gateway has no refund query",
            extra={"order_no": order.order_no, "refund_request_id": refund.refund_request_id},
        )
        return order, refund
    except GatewayUnavailable as error:
        logger.warning(
            "refund left pending: no answer",
            extra={
                "order_no": order.order_no,
                "refund_request_id": refund.refund_request_id,
                "why": error.message,
            },
        )
        return order, refund
    return _apply_answer(order, refund, answer, source, actor, role)


def _apply_answer(
    order: Order, refund: RefundRequest, answer: RefundAnswer, source: str, actor: str, role: str
) -> tuple[Order, RefundRequest]:
    """Settle the request with the gateway's answer; a change of state is audited."""
    now = clock().now()
    order = write_with_retry(
        order,
        lambda current: settle(
            current,
            refund.refund_request_id,
            answer,
            source,
            now,
            actor if source == "operator" else None,
        ),
    )
    settled = find_request(order, refund.refund_request_id)
    if settled.state is not refund.state:
        ports.audit(audit).record_api(
            now,
            actor,
            role,
            f"refund_{settled.state.value}",
            order.order_no,
            {
                "refund_request_id": settled.refund_request_id,
                "amount": settled.amount.format(),
                "payment": settled.trade_no,
                "detail": answer.detail,
            },
        )
    return order, settled


# ---------------------------------------------------------------- maker-checker


def decide(principal: Principal, command: DecideRefund) -> RefundRequest:
    """POST /admin/orders/{no}/refunds/{id}/approve|reject (admin, not the requester): both
    audited; an approved refund is sent at once. Returns the request as it stands after."""
    order_no, request_id, approve, note = (
        command.order_no,
        command.request_id,
        command.approve,
        command.note,
    )
    order = orders.get(order_no)
    now = clock().now()
    action = "refund_approve" if approve else "refund_reject"
    outcome = {"value": Outcome.APPLIED}

    def step(current: Order):
        changes = decide_approval(current, request_id, approve, principal.key_id, note, now)
        outcome["value"] = changes.outcome
        return changes

    try:
        order = write_with_retry(order, step)
    except (Forbidden, Conflict):
        ports.audit(audit).record_api(
            now,
            principal.key_id,
            principal.role,
            action,
            order_no,
            {"refund_request_id": request_id, "note": note, "outcome": "refused"},
        )
        raise
    refund = find_request(order, request_id)
    ports.audit(audit).record_api(
        now,
        principal.key_id,
        principal.role,
        action,
        order_no,
        {"refund_request_id": request_id, "note": note, "outcome": refund.state.value},
    )
    if approve and refund.state is RefundState.PENDING:
        order, refund = send(
            order,
            refund,
            principal.key_id,
            principal.role,
            "operator",
            retry=outcome["value"] == Outcome.ALREADY_APPLIED,
        )
    return refund


def settle_refused(
    principal: Principal,
    order_no: str,
    request_id: str,
    said: Mapping[str, Any],
    error: PaytrackError,
) -> None:
    """A settlement refused before it was read (the edge's 400): audited with what it said
    (SettleRefund.said)."""
    _audit_settle(
        principal,
        order_no,
        {"refund_request_id": request_id, **said},
        {"result": "refused", "why": error.code},
    )


def _audit_settle(
    principal: Principal, order_no: str, said: dict[str, Any], result: dict[str, Any]
) -> None:
    ports.audit(audit).record_api(
        clock().now(),
        principal.key_id,
        principal.role,
        "refund_settle",
        order_no,
        {**said, **result},
    )


def settle_pending(principal: Principal, command: SettleRefund) -> tuple[Outcome, RefundRequest]:
    """POST /admin/orders/{no}/refunds/{id}/settle {"outcome": "succeeded"|"failed", "note"}
    (admin): a pending refund settled by hand, once, after checking the gateway's console. On the
    timeline like the gateway's answer (a succeeded one moves the money and the orders stream
    publishes `order.refunded` once); audited, refusals too."""
    now = clock().now()
    order_no, request_id = command.order_no, command.request_id
    said = {"refund_request_id": request_id, **command.given}
    outcome = {"value": Outcome.APPLIED}

    def step(current: Order):
        changes = settle_by_hand(
            current, request_id, command.state, principal.key_id, command.note, now
        )
        outcome["value"] = changes.outcome
        return changes

    try:
        order = write_with_retry(orders.get(order_no), step)
    except PaytrackError as error:
        _audit_settle(principal, order_no, said, {"result": "refused", "why": error.code})
        raise
    refund = find_request(order, request_id)
    _audit_settle(principal, order_no, said, {"result": outcome["value"]})
    if outcome["value"] == Outcome.APPLIED:
        ports.audit(audit).record_api(
            now,
            principal.key_id,
            principal.role,
            f"refund_{refund.state.value}",
            order_no,
            {
                "refund_request_id": request_id,
                "amount": refund.amount.format(),
                "payment": refund.trade_no,
                "detail": refund.detail,
            },
        )
    return outcome["value"], refund


@dataclass(frozen=True)
class RefundQueue:
    """A page of the queue: each request in the state with its order, and where the next starts."""

    state: RefundState
    rows: list[tuple[Order, RefundRequest]]
    next_cursor: str | None


def open_requests(principal: Principal, command: ListRefunds) -> RefundQueue:
    """GET /admin/refunds: open refund requests (`state`: awaiting_approval, the approvals queue,
    by default; or pending), newest order first, `limit` a page (default 50) and `next_cursor`
    for the next one. A page ends with a whole order, so an order with several requests in the
    state can take it a little past `limit`; each is listed once across pages."""
    state, limit = command.state, command.limit
    index = f"by_refund_open/{state.value}"  # a cursor is for the state it was given for
    after = (
        cursor_codec.decode(command.cursor, index, order_store.OPEN_REFUND_KEYS)[1]
        if command.cursor
        else None
    )
    found: list[tuple[Order, RefundRequest]] = []
    last_key, next_cursor = None, None
    for order, key in ports.orders(order_store).with_open_refunds(
        after, page_size=min(limit + 1, 100)
    ):
        rows = [
            (order, refund) for refund in reversed(refund_requests(order)) if refund.state is state
        ]
        if not rows:
            continue
        if len(found) >= limit:  # one more order in the state: there is a next page
            next_cursor = cursor_codec.encode(index, last_key)
            break
        found += rows
        last_key = key
    return RefundQueue(state, found, next_cursor)


# ---------------------------------------------------------------- the scheduled query


def query_refunds(now: datetime | None = None) -> dict[str, Any]:
    """The scheduled job: every pending refund older than a minute is asked about; one the
    gateway never took is sent again under the same id; the answer settles it."""
    now = now or clock().now()
    counts: Counter[str] = Counter()
    for order, _ in ports.orders(order_store).with_open_refunds():
        for refund in refund_requests(order):
            if (
                refund.state is not RefundState.PENDING
                or now - (refund.updated_at or now) < QUERY_MIN_AGE
            ):
                continue
            try:
                order, settled = send(order, refund, JOB_ACTOR, "system", "query", retry=True)
            except (NotFound, ChannelMisconfigured) as error:
                logger.error(
                    "refund cannot be asked about",
                    extra={"order_no": order.order_no, "why": error.message},
                )
                counts["unusable_channel"] += 1
                continue
            counts[settled.state.value] += 1
    return {"job": "query_refunds", **dict(counts)}


# ---------------------------------------------------------------- the shop's event


def announce_succeeded(change: OrderChange) -> list[str]:
    """`order.refunded` to the shop for each refund request this change settled as succeeded,
    once per request (its claim key names it). Returns the ids published now."""
    published = []
    for entry in change.new_entries:
        if entry.type != EntryType.REFUND or entry.data.get("state") != RefundState.SUCCEEDED.value:
            continue
        refund = find_request(change.after, entry.data["refund_request_id"])
        if events.publish_once(
            change.after,
            "order.refunded",
            {"refund": render.refund_for_admin(refund)},
            key=f"order.refunded#{refund.refund_request_id}",
        ):
            published.append(refund.refund_request_id)
    return published
