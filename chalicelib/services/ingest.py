"""Gateway notifications: verify, store, apply exactly once, answer in the gateway's words.

The write path (DESIGN.md), two requests:
- first delivery: (1) a conditional PutItem of the notice keyed by its dedupe key — the durable
  record, the dedupe and this delivery's audit in one; (2) a conditional UpdateItem of the order
  that applies it. A failed condition in (2) returns the order as it was, which classifies the
  case (a second payment, a mismatch, no order yet) without another read.
- a retry of a stored notice: (1) the PutItem fails and returns the stored notice; (2) this
  delivery is added to its attempts. The order is not touched unless the notice still awaits
  its order; a notice stored but not applied by a crash is applied by the notices stream.
- another event under a stored notice's key (another order, amount or trade number: a gateway
  numbering two payments alike, or a forgery): (1) the PutItem fails and returns the stored
  notice, which it contradicts; it is applied nowhere, answered failure (409 where the
  protocol has a status) and recorded as a `notice_conflict` anomaly, its payload in its audit
  item. Taken for a retry, it was answered
  success and its payment never applied.
Success is answered only after (1) stored the notice; when storing fails the gateway gets a
retryable failure. Audit: accepted deliveries are in their notice's `attempts`; every other
request (rejected, unknown channel, unknown order, not stored, ignored event, conflict) gets an
audit item.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from ..domain.errors import ChannelMisconfigured, Conflict, NotFound, NotificationRejected
from ..domain.money import normalize_currency
from ..domain.notice import IngestOutcome, Notice, NoticeKind
from ..domain.order import Order, Outcome, apply_notice, first_payment_changes
from ..domain.refunds import apply_refund_notice
from ..gateways._signing import redact_keys, redact_text
from ..gateways.base import Answer, Gateway, InboundRequest
from ..gateways.registry import GATEWAYS, get_gateway
from ..platform.observability import log_keys, logger
from ..platform.settings import get_settings
from ..store import audit
from ..store import notices as notice_store
from ..store import orders as order_store
from . import channels, metrics, ports, screening
from .order_writes import write_with_retry
from .ports import clock

STORAGE_ERRORS = (PynamoDBException, BotoCoreError, ClientError)
AUDITED_IN_NOTICE = frozenset(
    {
        IngestOutcome.APPLIED,
        IngestOutcome.ALREADY_APPLIED,
        IngestOutcome.REFUSED,
        IngestOutcome.DUPLICATE,
    }
)


@dataclass(frozen=True)
class IngestResult:
    outcome: IngestOutcome
    order: Order | None  # after the write; None after the one-request fast path (it
    # returns nothing: the gateway's answer needs only the outcome)
    conflict: dict[str, list[str | None]] = field(default_factory=dict)  # CONFLICT's differences


# ------------------------------------------------------------------- apply


def accepted_currencies(channel_id: str) -> frozenset[str] | None:
    """The currencies a channel declares it takes (`"currencies": ["CNY"]`), None when it does
    not say (or is gone or misconfigured now: a stored notice of such a channel is still applied)."""
    try:
        declared = channels.get_channel(channel_id).get("currencies")
    except (NotFound, ChannelMisconfigured):
        return None
    return frozenset(normalize_currency(code) for code in declared) if declared else None


def apply_stored_notice(notice: Notice, now: datetime) -> IngestResult:
    """Apply a notice that is already durably stored. Safe to call any number of times.

    The one-request fast path is tried only for a payment in a currency its channel takes; its
    condition checks the rest (pending, same channel, same amount). Anything else is decided
    by the state machine on the order as it is.
    """
    order: Order | None
    accepted = accepted_currencies(notice.channel)
    if (
        notice.kind is NoticeKind.PAYMENT
        and notice.amount is not None
        and (accepted is None or notice.amount.currency in accepted)
    ):
        changes = first_payment_changes(notice, now)
        changes.applied.append(notice.dedupe_key)
        fast = ports.orders(order_store).apply_first_payment(notice, changes)
        if fast.applied:
            return IngestResult(IngestOutcome.APPLIED, fast.order)
        order = fast.order
    else:
        order = ports.orders(order_store).get(notice.out_trade_no)
    if order is None:
        return IngestResult(IngestOutcome.UNKNOWN_ORDER, None)
    return _apply_general(order, notice, now, accepted)


def _apply_general(
    order: Order, notice: Notice, now: datetime, accepted: frozenset[str] | None
) -> IngestResult:
    outcome: dict[str, Outcome] = {}

    def decide(current: Order):
        changes = apply_refund_notice(current, notice, now) or apply_notice(
            current, notice, now, accepted
        )
        outcome["value"] = changes.outcome
        return changes

    updated = write_with_retry(order, decide)
    return IngestResult(IngestOutcome(outcome["value"]), updated)


def apply_awaiting(notice: Notice, awaiting: bool, now: datetime) -> IngestResult:
    """Apply a stored notice and, once it found its order, take it off the unmatched list."""
    result = apply_stored_notice(notice, now)
    if awaiting and result.outcome is not IngestOutcome.UNKNOWN_ORDER:
        ports.notices(notice_store).mark_matched(notice.dedupe_key)
    return result


def apply_kept_notices(order: Order) -> Order:
    """A newly registered order picks up notices that arrived before it (kept, answered failure);
    the order as it is after them (read again only when one was applied by the fast path)."""
    now = clock().now()
    stale = False
    for notice, awaiting in ports.notices(notice_store).for_order(order.order_no):
        result = apply_awaiting(notice, awaiting, now)
        stale = result.order is None and result.outcome is IngestOutcome.APPLIED
        order = result.order or order
    return (ports.orders(order_store).get(order.order_no) or order) if stale else order


def ingest_verified(notice: Notice, now: datetime) -> IngestResult:
    """A notice we fetched ourselves (a gateway query, 补单): stored and applied exactly as a
    notification is — same dedupe, same checks — with no request to answer or audit."""
    return _record_and_apply(notice, None, now)


def _record_and_apply(notice: Notice, source_ip: str | None, now: datetime) -> IngestResult:
    """Store (the raw payload without any secret-named field, whichever gateway or query it came
    from), then apply."""
    notice = replace(notice, raw=redact_keys(notice.raw))
    recorded = ports.notices(notice_store).record(notice, now, source_ip)
    if recorded.conflict:
        screening.on_conflicting_notice(notice, recorded.conflict, now)
        return IngestResult(IngestOutcome.CONFLICT, None, recorded.conflict)
    if not recorded.first and not recorded.awaiting_order:
        return IngestResult(IngestOutcome.DUPLICATE, None)
    result = apply_awaiting(notice, recorded.awaiting_order, now)
    if recorded.first and result.outcome is IngestOutcome.UNKNOWN_ORDER:
        ports.notices(notice_store).mark_awaiting(notice.dedupe_key, now)
    return result


# ------------------------------------------------------------------- the endpoint


def _payload_text(request: InboundRequest, limit: int = 16_384) -> str:
    """The request as received, for the audit: cut at `limit`, secret-named values masked."""
    body = request.body[:limit].decode("utf-8", errors="replace")
    if request.raw_query_string:
        body = f"?{request.raw_query_string[:limit]}\n{body}"
    return redact_text(body)


def _with_order_ref(notice: Notice) -> Notice:
    """Fill in the order of an event that names only the payment (see Notice)."""
    if notice.out_trade_no or not notice.trade_no:
        return notice
    return replace(
        notice, out_trade_no=ports.notices(notice_store).order_of_trade(notice.trade_no) or ""
    )


def handle_notification(channel_id: str, request: InboundRequest) -> Answer:
    """Everything /notify/{channel} does. Always leaves one audit record; never raises for bad input."""
    now = clock().now()
    settings = get_settings()
    trail: dict[str, Any] = {"verification": "ok", "outcome": "", "detail": {}}
    try:
        config = channels.get_channel(channel_id)
    except NotFound:
        answer = Answer(
            404,
            json.dumps(
                {"error": {"code": "unknown_channel", "message": f"no channel {channel_id!r}"}}
            ),
            "application/json",
        )
        trail.update(verification="unknown_channel", outcome=IngestOutcome.REJECTED)
        _audit(channel_id, request, now, answer, trail)
        return answer
    except ChannelMisconfigured as error:
        answer = _misconfigured_answer(channel_id, error)
        trail.update(
            verification="channel_misconfigured",
            outcome=IngestOutcome.REJECTED,
            detail={"problems": error.details.get("problems", [])},
        )
        _audit(channel_id, request, now, answer, trail)
        return answer
    gateway = get_gateway(config["type"])
    answer = _process(gateway, config, channel_id, request, now, settings.max_notify_bytes, trail)
    metrics.notification_handled(channel_id, trail["outcome"])
    if trail["outcome"] not in AUDITED_IN_NOTICE:
        _audit(channel_id, request, now, answer, trail)
    return answer


def _misconfigured_answer(channel_id: str, error: ChannelMisconfigured) -> Answer:
    """A failure the gateway retries, in its own protocol when the channel names a known type;
    what is wrong stays in the logs and the audit record, not in the answer."""
    message = f"channel {channel_id} is misconfigured; please retry later"
    gateway = GATEWAYS.get(error.details.get("type") or "")
    if gateway is not None:
        return gateway.failure_answer(message, 503)
    return Answer(
        503, json.dumps({"error": {"code": error.code, "message": message}}), "application/json"
    )


def _process(
    gateway: Gateway,
    config: dict,
    channel_id: str,
    request: InboundRequest,
    now: datetime,
    max_bytes: int,
    trail: dict[str, Any],
) -> Answer:
    if len(request.body) > max_bytes or len(request.raw_query_string or "") > max_bytes:
        trail.update(verification="too_large", outcome=IngestOutcome.REJECTED)
        return gateway.failure_answer(f"payload larger than {max_bytes} bytes", 413)
    try:
        notice = gateway.parse_notification(request, config, channel_id, now)
    except NotificationRejected as rejected:
        trail.update(
            verification=rejected.reason,
            outcome=IngestOutcome.REJECTED,
            detail={"why": rejected.message},
        )
        logger.warning(
            "notification rejected", extra={"channel": channel_id, "reason": rejected.reason}
        )
        return gateway.failure_answer(rejected.message, 400)
    if notice is None:
        trail.update(outcome=IngestOutcome.IGNORED)
        return gateway.success_answer()
    try:
        notice = _with_order_ref(notice)
        log_keys(dedupe_key=notice.dedupe_key, order_no=notice.out_trade_no or None)
        trail["detail"] = {
            "out_trade_no": notice.out_trade_no,
            "dedupe_key": notice.dedupe_key,
            "kind": notice.kind.value,
        }
        if not notice.out_trade_no:
            trail.update(outcome=IngestOutcome.UNKNOWN_ORDER)
            return gateway.failure_answer(
                "no earlier payment event names this payment yet; retry", 409
            )
        result = _record_and_apply(notice, request.source_ip, now)
    except STORAGE_ERRORS:
        logger.exception("notification not stored", extra={"channel": channel_id})
        trail.update(outcome=IngestOutcome.STORE_FAILED)
        return gateway.failure_answer("not stored, please retry", 503)
    except Conflict:
        trail.update(outcome=IngestOutcome.CONTENTION)
        return gateway.failure_answer("order busy, please retry", 503)
    trail["outcome"] = result.outcome
    if result.outcome is IngestOutcome.CONFLICT:
        trail["detail"]["differences"] = result.conflict
        return gateway.failure_answer(
            "another event is stored under this notification's id; not applied, kept for review",
            409,
        )
    if result.outcome is IngestOutcome.UNKNOWN_ORDER:
        return gateway.failure_answer("order not registered yet; kept, please retry", 409)
    return gateway.success_answer()


def _audit(
    channel_id: str, request: InboundRequest, now: datetime, answer: Answer, trail: dict[str, Any]
) -> None:
    """Best effort: an audit write failure is logged, and never turns an answer into an error."""
    entry = audit.NotifyAudit(
        channel=channel_id,
        received_at=now,
        source_ip=request.source_ip,
        verification=trail["verification"],
        outcome=trail["outcome"],
        answer_status=answer.status,
        answer_body=answer.body,
        payload=_payload_text(request),
        detail=trail["detail"],
    )
    try:
        ports.audit(audit).record_notify(entry, get_settings().audit_ttl_days)
    except STORAGE_ERRORS:
        logger.exception("audit record not written", extra={"channel": channel_id})
