"""补单: ask the gateway about orders still pending, apply what it says through the ingestion path
(same dedupe, same checks as a notification; `query` on the timeline), and leave the trace of
every question on the order.

Scheduled every 2 minutes (`requery_pending`): pending orders older than a minute and not past
expiry plus grace are asked about on a backoff per order (1, 2, 5, 10 minutes after creation,
then at expiry). `expire_orders` asks once more before it expires an order. An operator asks
about one order with the `requery` action (`requery_order`). A gateway that cannot answer is
reported (summary, metric, timeline) and asked again next run — never taken for "unpaid".
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..domain.errors import ChannelMisconfigured, GatewayUnavailable, NotFound
from ..domain.order import EntryType, Order, TimelineEntry
from ..domain.query import QueryStatus, next_query_at
from ..platform.job_settings import get_job_settings
from ..platform.observability import logger
from ..store import pending
from . import gateway_calls, ingest, job_metrics, orders, ports
from .ports import clock

UNAVAILABLE = "unavailable"
MISCONFIGURED = "misconfigured"
SKIPPED = "skipped"
#: answers after which asking again tells nothing new
SETTLED = frozenset({QueryStatus.PAID.value, QueryStatus.CLOSED.value, QueryStatus.REFUNDED.value})
#: consecutive unanswered queries after which a channel is left alone until the next run
OUTAGE_AFTER = 3


@dataclass(frozen=True)
class QueryOutcome:
    order_no: str
    channel: str
    status: str  # a QueryStatus value, or unavailable / misconfigured / skipped
    gateway_status: str = ""
    applied: str | None = None  # the ingestion outcome of the notice the answer carried
    detail: str = ""

    def describe(self) -> str:
        if self.status in (UNAVAILABLE, MISCONFIGURED):
            return f"no answer from {self.channel}: {self.detail}"
        applied = f", {self.applied}" if self.applied else ""
        return f"{self.channel} says {self.gateway_status} ({self.status}{applied})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "order_no": self.order_no,
            "channel": self.channel,
            "status": self.status,
            "gateway_status": self.gateway_status,
            "applied": self.applied,
            "detail": self.detail,
        }


def ask(order: Order, now: datetime) -> QueryOutcome:
    """Query the order's gateway; apply a paid (or closed) answer through ingestion."""
    try:
        ctx, gateway = ports.gateways(gateway_calls).reach(order.channel, now)
        result = gateway.query_order(ctx, order.order_no, order.trade_no)
    except GatewayUnavailable as error:
        job_metrics.gateway_query_failed(order.channel)
        logger.warning(
            "gateway query unanswered",
            extra={"channel": order.channel, "order_no": order.order_no, "why": error.message},
        )
        return QueryOutcome(order.order_no, order.channel, UNAVAILABLE, detail=error.message)
    except (ChannelMisconfigured, NotFound) as error:
        logger.error(
            "channel unusable for queries", extra={"channel": order.channel, "why": error.message}
        )
        return QueryOutcome(order.order_no, order.channel, MISCONFIGURED, detail=error.message)
    applied = ingest.ingest_verified(result.notice, now).outcome if result.notice else None
    return QueryOutcome(
        order.order_no, order.channel, result.status.value, result.gateway_status, applied
    )


def _trace(
    outcome: QueryOutcome,
    now: datetime,
    actor: str | None = None,
    reason: str | None = None,
    tags: dict[str, str] | None = None,
) -> TimelineEntry:
    message = "gateway query: " + outcome.describe() + (f" — {reason}" if reason else "")
    data = {k: v for k, v in outcome.as_dict().items() if v and k not in ("order_no", "channel")}
    data.update(tags or {})
    return TimelineEntry(
        at=now,
        type=EntryType.QUERY,
        source="operator" if actor else "query",
        message=message,
        data=data,
        actor=actor,
    )


def _next_time(order: Order, outcome: QueryOutcome, now: datetime) -> datetime | None:
    if outcome.status in SETTLED:
        return None
    if outcome.status in (UNAVAILABLE, MISCONFIGURED):
        return now  # due again next run, until expiry plus grace
    return next_query_at(
        order.created_at, order.expires_at, now, get_job_settings().requery_backoff
    )


class _Outages:
    """Channels whose gateway stopped answering during this run: asked no more until the next."""

    def __init__(self) -> None:
        self._misses: Counter[str] = Counter()
        self._lock = threading.Lock()

    def down(self, channel: str) -> bool:
        with self._lock:
            return self._misses[channel] >= OUTAGE_AFTER

    def note(self, outcome: QueryOutcome) -> None:
        with self._lock:
            if outcome.status == UNAVAILABLE:
                self._misses[outcome.channel] += 1
            else:
                self._misses[outcome.channel] = 0


def _requery(order: Order, now: datetime, outages: _Outages) -> QueryOutcome:
    if outages.down(order.channel):
        return QueryOutcome(
            order.order_no, order.channel, SKIPPED, detail="channel not answering this run"
        )
    outcome = ask(order, now)
    outages.note(outcome)
    ports.pending(pending).record_query(
        order.order_no, _trace(outcome, now), _next_time(order, outcome, now)
    )
    return outcome


def requery_pending(now: datetime | None = None) -> dict[str, Any]:
    """The scheduled job: every pending order due for a question, a few at a time."""
    now = now or clock().now()
    settings = get_job_settings()
    due = ports.pending(pending).due_for_query(
        now, settings.requery_min_age, settings.requery_grace, settings.requery_batch
    )
    outages = _Outages()
    with ThreadPoolExecutor(max_workers=settings.requery_workers) as pool:
        outcomes = list(pool.map(lambda order: _requery(order, now, outages), due))
    counts = Counter(o.status for o in outcomes)
    unanswered = Counter(o.channel for o in outcomes if o.status in (UNAVAILABLE, SKIPPED))
    recovered = [
        o.order_no
        for o in outcomes
        if o.status == QueryStatus.PAID.value and o.applied == "applied"
    ]
    return {
        "job": "requery_pending",
        "asked": len(due),
        "answers": dict(counts),
        "recovered": recovered,
        "unanswered_by_channel": dict(unanswered),
    }


def last_query(order: Order, now: datetime) -> QueryOutcome:
    """The question `expire_orders` asks before it expires an order; never asked again after."""
    outcome = ask(order, now)
    unanswered = outcome.status in (UNAVAILABLE, MISCONFIGURED)
    ports.pending(pending).record_query(
        order.order_no, _trace(outcome, now), now if unanswered else None
    )
    return outcome


def requery_order(
    order_no: str,
    *,
    actor: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
    tags: dict[str, str] | None = None,
) -> QueryOutcome:
    """An operator's `requery` (and `confirm_paid`): ask now, whatever the backoff says.
    `tags` go into the query's timeline entry (the action's idempotency key).

    A gateway that cannot answer raises GatewayUnavailable (502) once the attempt is on the
    timeline: the operator must not read "no answer" as "not paid"."""
    now = now or clock().now()
    order = orders.get(order_no)
    outcome = ask(order, now)
    ports.pending(pending).record_query(order_no, _trace(outcome, now, actor, reason, tags))
    if outcome.status == UNAVAILABLE:
        raise GatewayUnavailable(
            f"{order.channel} did not answer: {outcome.detail}", {"channel": order.channel}
        )
    if outcome.status == MISCONFIGURED:
        raise ChannelMisconfigured(f"channel {order.channel} cannot be queried: {outcome.detail}")
    return outcome
