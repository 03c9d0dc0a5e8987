"""Verifying a suspicious buyer before deciding (the fraud flow's 联系用户进行验证 → 根据验证结果决定
发货或退款). Pure: decisions as OrderChanges, state read back from the timeline.

An operator asks for verification on a held order: a question (from a template, or their own)
and a reply token that only the shop receives, in `order.verification_requested`. The token is
derived, never stored: HMAC-SHA256 of the order and the request under a server secret
(`reply_token`), so whoever publishes the event — the request, or the orders stream after a
failure — sends the same token, and the answer is checked by deriving it again. The shop asks
the buyer and posts the answer with the token, once. The operator then ends the review: release
(deliver) or refund, each with its reason. A request not answered within its time is expired:
computed whenever it is read, nothing needs to run for it.

The order's timeline is the record (one conditional write per step, so two answers racing are
one answer and one 409): `verification_requested` (the question and the expiry; requests
written before tokens were derived also carry their random token's SHA-256, still accepted),
`verification_answered` (the answer), `verification_decided` (release or refund). A new
request on an unanswered one supersedes it; an answered one must be decided first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from .clock import from_iso, to_api, to_iso
from .errors import Conflict, Forbidden, NotFound, TransitionRefused
from .masking import mask_answer
from .order import EntryType, Order, OrderChanges, Outcome, TimelineEntry

REQUESTED, ANSWERED, DECIDED = (
    EntryType.VERIFICATION_REQUESTED,
    EntryType.VERIFICATION_ANSWERED,
    EntryType.VERIFICATION_DECIDED,
)
EVENT = "order.verification_requested"
FREE_QUESTION = "free"
#: the inbox rules of a review (anomalies recorded by services/verification.py, not by the engine)
INBOX_RULES = ("verification", "verification_answered")
DECISIONS = ("release", "refund")


class State(StrEnum):
    AWAITING_ANSWER = "awaiting_answer"
    EXPIRED = "expired"
    ANSWERED = "answered"
    RELEASED = "released"
    REFUNDED = "refunded"


OPEN_STATES = frozenset({State.AWAITING_ANSWER, State.EXPIRED, State.ANSWERED})


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def reply_token(secret: bytes, order_no: str, verification_id: str) -> str:
    """The reply token of one request: the same every time it is derived (URL-safe, 43 chars)."""
    mac = hmac.new(secret, f"{order_no}\n{verification_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Verification:
    """One request and what became of it, as read from the order's timeline at `now`."""

    verification_id: str
    question: str
    template: str
    requested_at: datetime
    requested_by: str | None
    expires_at: datetime
    token_sha256: str | None  # only on requests written before tokens were derived
    answer: str | None = None
    answered_at: datetime | None = None
    decision: str | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    reason: str | None = None
    now: datetime | None = None

    def accepts(self, token: str, derived: str) -> bool:
        """Is `token` this request's reply token? `derived`: `reply_token` of this request."""
        if self.token_sha256 is not None:
            return hmac.compare_digest(self.token_sha256, token_digest(token))
        return hmac.compare_digest(derived.encode("utf-8"), token.encode("utf-8"))

    @property
    def state(self) -> State:
        if self.decision is not None:
            return State.RELEASED if self.decision == "release" else State.REFUNDED
        if self.answer is not None:
            return State.ANSWERED
        if self.now is not None and self.now >= self.expires_at:
            return State.EXPIRED
        return State.AWAITING_ANSWER

    def view(self, *, masked: bool) -> dict[str, Any]:
        """The review as the admin API shows it (the buyer's answer masked for viewers)."""
        return {
            "id": self.verification_id,
            "state": self.state.value,
            "question": self.question,
            "template": self.template,
            "requested_at": to_api(self.requested_at),
            "requested_by": self.requested_by,
            "expires_at": to_api(self.expires_at),
            "answer": mask_answer(self.answer) if masked else self.answer,
            "answered_at": to_api(self.answered_at),
            "decision": self.decision,
            "decided_at": to_api(self.decided_at),
            "decided_by": self.decided_by,
            "reason": self.reason,
        }


def history(order: Order, now: datetime) -> list[Verification]:
    """Every verification of the order, oldest first."""
    found: dict[str, Verification] = {}
    for entry in order.timeline:
        vid = entry.data.get("verification_id")
        if entry.type == REQUESTED:
            vid = entry.data["verification_id"]  # every request names its id (`ask` writes it)
            found[vid] = Verification(
                vid,
                entry.data["question"],
                entry.data.get("template", FREE_QUESTION),
                entry.at,
                entry.actor,
                from_iso(entry.data["expires_at"]),
                entry.data.get("token_sha256"),
                now=now,
            )
        elif entry.type == ANSWERED and vid in found:
            found[vid] = _with(found[vid], answer=entry.data["answer"], answered_at=entry.at)
        elif entry.type == DECIDED and vid in found:
            found[vid] = _with(
                found[vid],
                decision=entry.data["decision"],
                decided_at=entry.at,
                decided_by=entry.actor,
                reason=entry.data.get("reason"),
            )
    return list(found.values())


def _with(verification: Verification, **changes: Any) -> Verification:
    return Verification(**{**verification.__dict__, **changes})


def current(order: Order, now: datetime) -> Verification | None:
    """The latest verification of the order (superseded ones are older and never answerable)."""
    all_of_them = history(order, now)
    return all_of_them[-1] if all_of_them else None


def _entry(
    now: datetime,
    kind: EntryType,
    source: str,
    actor: str | None,
    message: str,
    data: dict[str, Any],
) -> TimelineEntry:
    return TimelineEntry(at=now, type=kind, source=source, message=message, data=data, actor=actor)


def request(
    order: Order,
    now: datetime,
    actor: str,
    *,
    verification_id: str,
    question: str,
    template: str,
    ttl: timedelta,
) -> OrderChanges:
    """Ask the buyer, through the shop, on a held order. An unanswered request is superseded.
    Once per `verification_id`: asking again under an id already on the order changes nothing
    (an operator's retry with the same idempotency key)."""
    earlier = next(
        (
            entry
            for entry in order.timeline
            if entry.type == REQUESTED and entry.data.get("verification_id") == verification_id
        ),
        None,
    )
    if earlier is not None:
        if (earlier.data["question"], earlier.data.get("template")) != (question, template):
            raise Conflict(
                "this idempotency key asked another question", {"verification_id": verification_id}
            )
        return OrderChanges(outcome=Outcome.ALREADY_APPLIED)
    if not order.on_hold:
        raise TransitionRefused(
            "verification is asked on a held order: hold it first",
            {"delivery_status": order.delivery_status.value},
        )
    latest = current(order, now)
    if latest is not None and latest.state is State.ANSWERED:
        raise Conflict(
            "the buyer has answered the last verification: release or refund first",
            {"verification_id": latest.verification_id, "state": latest.state.value},
        )
    expires_at = now + ttl
    data = {
        "verification_id": verification_id,
        "question": question,
        "template": template,
        "expires_at": to_iso(expires_at),
    }
    if latest is not None and latest.state in (State.AWAITING_ANSWER, State.EXPIRED):
        data["supersedes"] = latest.verification_id
    entry = _entry(
        now, REQUESTED, "operator", actor, f"verification asked of the buyer: {question}", data
    )
    return OrderChanges(outcome=Outcome.APPLIED, timeline=[entry])


def answer(
    order: Order, now: datetime, *, verification_id: str, token: str, derived_token: str, text: str
) -> OrderChanges:
    """The shop's answer: the token of this very request (`derived_token`: its `reply_token`),
    once, before it expires. The same answer again (a retry after a lost reply) changes nothing."""
    every = history(order, now)
    asked = next((v for v in every if v.verification_id == verification_id), None)
    if asked is None:
        raise NotFound(
            f"no verification {verification_id!r} on order {order.order_no}",
            {"verification_id": verification_id},
        )
    latest = every[-1]
    if not asked.accepts(token, derived_token):
        raise Forbidden(
            "the reply token is not this verification's", {"verification_id": verification_id}
        )
    if asked.verification_id != latest.verification_id:
        raise Conflict(
            "this verification was superseded by a newer question",
            {
                "verification_id": verification_id,
                "state": "superseded",
                "latest": latest.verification_id,
            },
        )
    if asked.state is State.ANSWERED and asked.answer == text:
        return OrderChanges(outcome=Outcome.ALREADY_APPLIED)  # the shop's retry of its answer
    if asked.state is not State.AWAITING_ANSWER:
        raise Conflict(
            f"the verification is {asked.state.value}: it takes one answer, before it expires",
            {"verification_id": verification_id, "state": asked.state.value},
        )
    entry = _entry(
        now,
        ANSWERED,
        "shop",
        None,
        answered_message(text),
        {"verification_id": verification_id, "answer": text},
    )
    return OrderChanges(outcome=Outcome.APPLIED, timeline=[entry])


def answered_message(text: str) -> str:
    """The timeline message of an answer (render masks the answer in it for viewers)."""
    return f"the buyer answered: {text}"


def requested_in(entries: list[TimelineEntry]) -> list[TimelineEntry]:
    """The verification requests among `entries` (what a stream record's change added)."""
    return [entry for entry in entries if entry.type == REQUESTED]


def open_review(order: Order, now: datetime) -> Verification:
    """The verification an operator's decision ends: asked, and not decided yet."""
    latest = current(order, now)
    if latest is None or latest.state not in OPEN_STATES:
        raise TransitionRefused(
            "no verification under way on this order",
            {"state": latest.state.value if latest else None},
        )
    return latest


def decide(
    order: Order, now: datetime, actor: str, *, verification_id: str, decision: str, reason: str
) -> OrderChanges:
    """Mark the review ended (the release or refund itself is the order's action). Once."""
    latest = current(order, now)
    if (
        latest is not None
        and latest.verification_id == verification_id
        and latest.decision == decision
    ):
        return OrderChanges(outcome=Outcome.ALREADY_APPLIED)
    review = open_review(order, now)
    if review.verification_id != verification_id:
        raise Conflict(
            "another verification is under way on this order", {"verification_id": verification_id}
        )
    entry = _entry(
        now,
        DECIDED,
        "operator",
        actor,
        f"verification ended: {decision} — {reason}",
        {"verification_id": verification_id, "decision": decision, "reason": reason},
    )
    return OrderChanges(outcome=Outcome.APPLIED, timeline=[entry])


def mark_expired(view: dict[str, Any], now: datetime) -> dict[str, Any]:
    """An inbox item (render.anomaly_view) of a `verification` anomaly still awaiting its answer
    past its expiry reads as expired: computed on read, the anomaly keeps what it said when
    recorded."""
    details = view.get("details") or {}
    expires_at = details.get("expires_at")
    if (
        view.get("rule") != "verification"
        or view.get("status") == "resolved"
        or not expires_at
        or details.get("state") != State.AWAITING_ANSWER.value
        or from_iso(expires_at) > now
    ):
        return view
    return {**view, "details": {**details, "state": State.EXPIRED.value}}
