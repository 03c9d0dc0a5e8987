"""Scheduled jobs. Each returns a JSON-able summary — what the schedule logs and what
`POST /admin/jobs/{name}` answers.

| job | schedule | what |
|---|---|---|
| requery_pending | every 2 minutes | 补单: ask the gateway about pending orders on a backoff |
| expire_orders | every 5 minutes | a last query, then pending orders past expiry become expired |
| reconcile | daily 10:30 Beijing | yesterday's statement of every channel against the ledger |
| apply_statement_fees | every 15 minutes | finish writing statement fees onto orders |
| failed_digest | daily 09:00 Beijing | yesterday's failed, expired and held orders, to S3 and SNS |
| channel_health | hourly | the channel_failure rule's check (the anomaly engine's job) |
| slow_delivery | every minute | the slow_delivery rule's check: paid orders still not delivered |
| query_refunds | every 5 minutes | ask the gateway about refunds still pending (services/refunds.py) |
| backfill_search_keys | by hand, after an upgrade | the search keys onto orders stored before them |
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from ..domain.commands import RunJob
from ..domain.errors import ValidationFailed
from ..domain.order import expire
from ..domain.query import QueryStatus
from ..platform.job_settings import get_job_settings
from ..platform.observability import logger
from ..store import audit, pending, search_backfill
from . import (
    digest,
    job_metrics,
    ports,
    reconcile,
    refunds,
    requery,
    screening,
    statement_fees,
)
from .auth import Principal
from .order_writes import write_with_retry
from .ports import clock

#: answers that settle the order without expiring it: the last query found it paid or closed
_SETTLED_BY_QUERY = frozenset({QueryStatus.PAID.value, QueryStatus.CLOSED.value})


def expire_orders(now: datetime | None = None) -> dict[str, Any]:
    """Each pending order past its expiry is asked about once more, then expired; a payment after
    that is a late payment (paid and held). While its gateway cannot answer, an order waits
    until expiry plus grace before it is expired anyway."""
    now = now or clock().now()
    grace = get_job_settings().requery_grace
    counts: Counter[str] = Counter()
    for order in ports.pending(pending).expired_before(now):
        outcome = requery.last_query(order, now)
        if outcome.status in _SETTLED_BY_QUERY:
            counts[f"found_{outcome.status}"] += 1
        elif outcome.status == requery.UNAVAILABLE and now < order.expires_at + grace:
            counts["deferred"] += 1
        else:
            write_with_retry(order, lambda current: expire(current, now))
            counts["expired"] += 1
    return {"job": "expire_orders", "expired": counts["expired"], **dict(counts)}


BACKFILL_ITEMS = 500  # orders read (and at most written) per run: well inside an API request
BACKFILL_DAYS = 100  # creation days queried per run (an empty day is one Query)
BACKFILL_YEARS = 3  # how far back a first run goes unless its `date` names the oldest day


def _backfill_cursor(position: search_backfill.Position) -> str:
    state = {
        "day": position.day.isoformat(),
        "since": position.since.isoformat(),
        "after": position.after,
    }
    return base64.urlsafe_b64encode(json.dumps(state, sort_keys=True).encode()).decode()


def _backfill_position(run: RunJob) -> search_backfill.Position:
    """The first run's (from today back to `date`, or BACKFILL_YEARS) or the given cursor's."""
    cursor = run.given.get("cursor")
    if cursor is None:
        today = clock().now().date()
        since = run.day or today.replace(year=today.year - BACKFILL_YEARS)
        return search_backfill.Position(today, since)
    try:
        state = json.loads(base64.urlsafe_b64decode(str(cursor).encode()))
        after = state["after"]
        if after is not None and (
            set(after) != {"order_no", "created_day", "created_at"}
            or not all(set(v) == {"S"} and isinstance(v["S"], str) for v in after.values())
        ):
            raise ValueError(after)
        return search_backfill.Position(
            date.fromisoformat(state["day"]), date.fromisoformat(state["since"]), after
        )
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise ValidationFailed(
            "cursor: the `cursor` a previous run answered", {"field": "cursor"}
        ) from error


def backfill_search_keys(run: RunJob) -> dict[str, Any]:
    """The search keys onto orders stored before they existed (store/search_backfill.py), a
    bounded part per run: the answer's `cursor` continues it, `done` when the oldest day is."""
    done = search_backfill.backfill(_backfill_position(run), BACKFILL_ITEMS, BACKFILL_DAYS)
    position = done.position
    return {
        "job": "backfill_search_keys",
        "read": done.read,
        "written": done.written,
        "conflicts": done.conflicts,
        "days": done.days,
        "done": position is None,
        "cursor": None if position is None else _backfill_cursor(position),
        "next_day": None if position is None else position.day.isoformat(),
    }


JOBS: dict[str, Callable[[RunJob], dict[str, Any]]] = {
    "requery_pending": lambda run: requery.requery_pending(),
    "expire_orders": lambda run: expire_orders(),
    "reconcile": lambda run: reconcile.reconcile_day(run.day, run.channel),
    "apply_statement_fees": lambda run: statement_fees.apply_statement_fees(),
    "failed_digest": lambda run: digest.failed_digest(),
    "channel_health": lambda run: screening.channel_health(),
    "slow_delivery": lambda run: screening.slow_delivery_check(),
    "query_refunds": lambda run: refunds.query_refunds(),
    "backfill_search_keys": backfill_search_keys,
}
#: the body fields each job takes when run by hand (RunJob)
JOB_PARAMS: dict[str, frozenset[str]] = {
    name: frozenset({"date", "channel"} if name == "reconcile" else ()) for name in JOBS
} | {"backfill_search_keys": frozenset({"date", "cursor"})}


def run_scheduled(name: str) -> dict[str, Any]:
    """A schedule fired: run the job, log its summary; a job that raises (or reports failed
    parts) counts in `JobFailures`, whose alarm pages."""
    try:
        summary = JOBS[name](RunJob(name))
    except Exception:
        job_metrics.job_failed(name)
        logger.exception("job failed", extra={"job": name})
        raise
    if summary.get("failed"):
        job_metrics.job_failed(name)
    logger.info("job done", extra=summary)
    return summary


def run_now(principal: Principal, command: RunJob) -> dict[str, Any]:
    """POST /admin/jobs/{name}: an operator runs a scheduled job now (audited)."""
    ports.audit(audit).record_api(
        clock().now(),
        principal.key_id,
        principal.role,
        "run_job",
        command.name,
        dict(command.given) or None,
    )
    return JOBS[command.name](command)
