"""Buyer verification on a held order (domain/verification.py): the operator asks, the shop's
software asks the buyer and posts the answer, the operator releases or refunds.

- ask: the request on the timeline (one conditional write: that is the whole request), then
  what follows from it, eagerly for latency and again by the orders stream for every request it
  sees (`on_order_change`), so a refusal or a crash after the write loses nothing:
  `order.verification_requested` to the shop with the question and the reply token (derived, the
  same in every copy: services/reply_tokens.py; published once per request id, claims) and a
  `verification` anomaly in the inbox (idempotent id), which reads as expired once the time is
  up. A failure of the eager part is logged, not answered 500. An `idempotency_key` makes a
  retried ask the same request.
- answer (shop role): token-checked, once; on the timeline and, the same way (eagerly, then by
  the stream), in the inbox (`verification_answered`, which an operator must act on).
- decide: `release` is the order's `release_hold` action (the shop gets `order.ready` again and
  delivers), `refund` is its `refund` action through the gateway (services/refunds.py) or, where
  the channel cannot refund through paytrack (epay without `refund_api`), the record of a manual
  refund (`mark_refunded`), which the answer says; both go through actions.perform with an
  idempotency key of the review (the refund request id derives from it), so a retry after a
  failure never refunds twice. Then the review is closed
  on the timeline and its anomalies resolved (eagerly, and by the stream).
Every step is audited, refusals too.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from ..domain import verification as review
from ..domain.anomaly import Finding, Severity
from ..domain.clock import to_api, to_iso
from ..domain.commands import (
    AnswerVerification,
    AskVerification,
    DecideVerification,
    OrderAction,
)
from ..domain.errors import PaytrackError, RefundNotOffered
from ..domain.order import Order, TimelineEntry
from ..domain.rules.change import OrderChange
from ..platform.observability import logger
from ..platform.verification_settings import get_verification_settings
from ..store import audit
from . import actions, anomalies, events, orders, ports, refunds, reply_tokens
from .auth import Principal
from .order_writes import write_with_retry
from .ports import clock

#: the order action a `refund` decision takes: through the gateway, or recorded where it cannot
REFUND_ACTION = "refund"
MANUAL_REFUND_ACTION = "mark_refunded"
RELEASE_ACTION = "release_hold"
ANSWER_PATH = "/orders/{order_no}/verification"


def _audit(principal: Principal, action: str, order_no: str, detail: dict[str, Any]) -> None:
    ports.audit(audit).record_api(
        clock().now(), principal.key_id, principal.role, action, order_no, detail
    )


def _audited(principal: Principal, action: str, order_no: str, detail: dict[str, Any], run):
    """`run()`, audited with its outcome; a refusal is audited with its code and raised."""
    try:
        result = run()
    except PaytrackError as error:
        _audit(principal, action, order_no, {**detail, "refused": error.code})
        raise
    _audit(principal, action, order_no, detail)
    return result


Command = AskVerification | AnswerVerification | DecideVerification
_AUDITED_AS: dict[type[Command], str] = {
    AskVerification: "verification_requested",
    AnswerVerification: "verification_answered",
    DecideVerification: "verification_decided",
}


def refused(
    principal: Principal,
    kind: type[Command],
    order_no: str,
    said: Mapping[str, Any],
    error: PaytrackError,
) -> None:
    """A request refused before it was read (the edge's 400): audited like the step it asked,
    with what it said (`kind.said`)."""
    detail = {**said, "refused": error.code}
    _audit(principal, _AUDITED_AS[kind], order_no, detail)


@dataclass(frozen=True)
class Review:
    """An order's verifications as they stand `now`, for the caller; after a decision, the
    order action it took and why a refund was only recorded (`manual_refund`)."""

    order: Order
    history: list[review.Verification]
    masked: bool
    templates: Mapping[str, str]
    ttl: timedelta
    acted: actions.ActionDone | None = None
    manual_refund: str | None = None


@dataclass(frozen=True)
class Answered:
    order_no: str
    verification_id: str
    state: review.State | None


def _request_anomaly_id(order_no: str, verification_id: str) -> str:
    return f"verification#{order_no}:{verification_id}"


def _answered_anomaly_id(order_no: str, verification_id: str) -> str:
    return f"verification_answered#{order_no}:{verification_id}"


# ------------------------------------------------------------------ the operator asks


def ask(principal: Principal, command: AskVerification) -> Review:
    return _audited(
        principal,
        "verification_requested",
        command.order_no,
        dict(command.given),
        lambda: _ask(principal, command),
    )


def _verification_id(order_no: str, idempotency_key: str | None) -> str:
    """Random, or derived from the operator's idempotency key (a retry is the same request)."""
    if idempotency_key is None:
        return "ver_" + secrets.token_hex(8)
    return "ver_" + hashlib.sha256(f"{order_no}\n{idempotency_key}".encode()).hexdigest()[:16]


def _ask(principal: Principal, command: AskVerification) -> Review:
    order_no, template, question = command.order_no, command.template, command.question
    verification_id = _verification_id(order_no, command.idempotency_key)
    order, now = orders.get(order_no), clock().now()
    order = write_with_retry(
        order,
        lambda current: review.request(
            current,
            now,
            principal.key_id,
            verification_id=verification_id,
            question=question,
            template=template,
            ttl=get_verification_settings().ttl,
        ),
    )
    (requested,) = [
        e
        for e in review.requested_in(order.timeline)
        if e.data["verification_id"] == verification_id
    ]
    order = _eagerly(order, lambda: _announce_request(order, requested, now))
    return _review(order, principal, now)


def _eagerly(order: Order, follow_up) -> Order:
    """`follow_up()` right away, for latency; the orders stream runs it again for the same
    timeline entry, so a failure here only delays it: logged, never the caller's error."""
    try:
        return follow_up()
    except Exception:
        logger.exception(
            "verification follow-up left to the orders stream", extra={"order_no": order.order_no}
        )
        return order


def _announce_request(order: Order, requested: TimelineEntry, now: datetime) -> Order:
    """Close the anomaly of the request this one supersedes, open its own, publish it to the
    shop (the inbox first: an operator sees the request even while SNS refuses). Idempotent:
    run by the request and by the stream, maybe both, maybe again."""
    asked = next(
        item
        for item in review.history(order, now)
        if item.verification_id == requested.data["verification_id"]
    )
    vid = asked.verification_id
    if requested.data.get("supersedes"):
        anomalies.resolve_by_system(
            _request_anomaly_id(order.order_no, requested.data["supersedes"]),
            now,
            f"superseded by {vid}",
        )
    order = anomalies.record_on_order(
        Finding(
            rule="verification",
            severity=Severity.INFO,
            subject=f"{order.order_no}:{vid}",
            details={
                "verification_id": vid,
                "question": asked.question,
                "state": review.State.AWAITING_ANSWER.value,
                "expires_at": to_iso(asked.expires_at),
            },
            order_no=order.order_no,
            channel=order.channel,
        ),
        order,
        now,
    )
    if (
        asked.token_sha256 is not None
    ):  # asked (and published) by the previous version: its token is unknown
        return order
    events.publish_once(
        order,
        review.EVENT,
        _event_extra(asked, reply_tokens.reply_token(order.order_no, vid)),
        key=f"{review.EVENT}#{vid}",
    )
    return order


def _event_extra(asked: review.Verification, token: str) -> dict[str, Any]:
    """What the shop needs to ask the buyer and to answer: the question, the token, where, until when."""
    return {
        "verification": {
            "id": asked.verification_id,
            "question": asked.question,
            "template": asked.template,
            "reply_token": token,
            "expires_at": to_api(asked.expires_at),
        },
        "answer_url": ANSWER_PATH,
    }


# ------------------------------------------------------------------ the shop answers


def answer(principal: Principal, command: AnswerVerification) -> Answered:
    return _audited(
        principal,
        "verification_answered",
        command.order_no,
        dict(command.given),
        lambda: _answer(command),
    )


def _answer(command: AnswerVerification) -> Answered:
    order_no, verification_id = command.order_no, command.verification_id
    token, text = command.token, command.answer
    order, now = orders.get(order_no), clock().now()
    derived = reply_tokens.reply_token(order_no, verification_id)
    order = write_with_retry(
        order,
        lambda current: review.answer(
            current,
            now,
            verification_id=verification_id,
            token=token,
            derived_token=derived,
            text=text,
        ),
    )
    answered = [
        e
        for e in order.timeline
        if e.type == review.ANSWERED and e.data["verification_id"] == verification_id
    ]
    _eagerly(order, lambda: _note_answer(order, answered[-1], now))
    latest = review.current(order, now)  # the one just answered
    return Answered(order_no, verification_id, latest.state if latest else None)


def _note_answer(order: Order, answered: TimelineEntry, now: datetime) -> Order:
    """The request's anomaly resolved, the answer's opened. Idempotent, like _announce_request."""
    vid = answered.data["verification_id"]
    asked = next(item for item in review.history(order, now) if item.verification_id == vid)
    anomalies.resolve_by_system(_request_anomaly_id(order.order_no, vid), now, "the buyer answered")
    return anomalies.record_on_order(
        Finding(
            rule="verification_answered",
            severity=Severity.WARNING,
            subject=f"{order.order_no}:{vid}",
            details={
                "verification_id": vid,
                "question": asked.question,
                "answer": answered.data["answer"],
            },
            order_no=order.order_no,
            channel=order.channel,
        ),
        order,
        now,
    )


def on_order_change(change: OrderChange, now: datetime) -> None:
    """The orders stream's part (services/streams.py): for every request, answer and decision
    the record added to the timeline, what the request path may have failed to finish. Records
    of one order come in order, so a late request's inbox item is resolved by its later answer."""
    order = change.after
    for entry in change.new_entries:
        follow_up = _FOLLOW_UPS.get(entry.type)
        if follow_up is not None:
            order = follow_up(order, entry, now)


# ------------------------------------------------------------------ the operator decides


def decide(principal: Principal, command: DecideVerification) -> Review:
    return _audited(
        principal,
        "verification_decided",
        command.order_no,
        dict(command.given),
        lambda: _decide(principal, command),
    )


def _decide(principal: Principal, command: DecideVerification) -> Review:
    order_no, decision, reason = command.order_no, command.decision, command.reason
    order, now = orders.get(order_no), clock().now()
    under_review = review.open_review(order, now)
    vid = under_review.verification_id
    action, manual = (RELEASE_ACTION, None) if decision == "release" else _refund_action(order)
    acted = actions.perform(
        principal,
        OrderAction.from_body(
            order_no,
            {
                "action": action,
                "reason": reason,
                "idempotency_key": f"verification-{vid}",
                **({"amount": command.amount} if command.amount is not None else {}),
            },
        ),
    )
    order = write_with_retry(
        orders.get(order_no),
        lambda current: review.decide(
            current, now, principal.key_id, verification_id=vid, decision=decision, reason=reason
        ),
    )
    decided = [
        e for e in order.timeline if e.type == review.DECIDED and e.data["verification_id"] == vid
    ]
    _eagerly(order, lambda: _close_review(order, decided[-1], now))
    return replace(_review(order, principal, now), acted=acted, manual_refund=manual)


def _refund_action(order: Order) -> tuple[str, str | None]:
    """The gateway refund where the sale's channel offers one; else the record of a manual refund
    and why (the operator refunds in the gateway's console)."""
    try:
        refunds.gateway_for_payment(order)
    except RefundNotOffered as error:
        return MANUAL_REFUND_ACTION, error.message
    return REFUND_ACTION, None


def _close_review(order: Order, decided: TimelineEntry, now: datetime) -> Order:
    """The review's inbox items resolved with the decision. Idempotent, like _announce_request."""
    vid, note = (
        decided.data["verification_id"],
        f"{decided.data['decision']}: {decided.data['reason']}",
    )
    for anomaly_id in (
        _request_anomaly_id(order.order_no, vid),
        _answered_anomaly_id(order.order_no, vid),
    ):
        anomalies.resolve_by_system(anomaly_id, now, note)
    return order


#: what each step's timeline entry calls for after its order write (request path, then stream)
_FOLLOW_UPS = {
    review.REQUESTED: _announce_request,
    review.ANSWERED: _note_answer,
    review.DECIDED: _close_review,
}


# ------------------------------------------------------------------ the review, read


def _review(order: Order, principal: Principal, now: datetime) -> Review:
    settings = get_verification_settings()
    return Review(
        order,
        review.history(order, now),
        not principal.sees_pii,
        settings.templates,
        settings.ttl,
    )


def read(principal: Principal, order_no: str) -> Review:
    now = clock().now()
    found = _review(orders.get(order_no), principal, now)
    _audit(principal, "read_verification", order_no, {"masked": not principal.sees_pii})
    return found
