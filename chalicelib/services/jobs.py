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
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..domain.commands import RunJob
from ..domain.order import expire
from ..domain.query import QueryStatus
from ..platform.job_settings import get_job_settings
from ..platform.observability import logger
from ..store import audit
from ..store import orders as order_store
from . import digest, job_metrics, reconcile, refunds, requery, screening, statement_fees
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
    for order in order_store.pending_expired_before(now):
        outcome = requery.last_query(order, now)
        if outcome.status in _SETTLED_BY_QUERY:
            counts[f"found_{outcome.status}"] += 1
        elif outcome.status == requery.UNAVAILABLE and now < order.expires_at + grace:
            counts["deferred"] += 1
        else:
            write_with_retry(order, lambda current: expire(current, now))
            counts["expired"] += 1
    return {"job": "expire_orders", "expired": counts["expired"], **dict(counts)}


JOBS: dict[str, Callable[[RunJob], dict[str, Any]]] = {
    "requery_pending": lambda run: requery.requery_pending(),
    "expire_orders": lambda run: expire_orders(),
    "reconcile": lambda run: reconcile.reconcile_day(run.day, run.channel),
    "apply_statement_fees": lambda run: statement_fees.apply_statement_fees(),
    "failed_digest": lambda run: digest.failed_digest(),
    "channel_health": lambda run: screening.channel_health(),
    "slow_delivery": lambda run: screening.slow_delivery_check(),
    "query_refunds": lambda run: refunds.query_refunds(),
}
#: the body fields each job takes when run by hand (RunJob)
JOB_PARAMS: dict[str, frozenset[str]] = {
    name: frozenset({"date", "channel"} if name == "reconcile" else ()) for name in JOBS
}


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
    audit.record_api(
        clock().now(),
        principal.key_id,
        principal.role,
        "run_job",
        command.name,
        dict(command.given) or None,
    )
    return JOBS[command.name](command)
