"""The scheduled jobs' metrics (namespace Paytrack; names, units and breakdowns from the metric
catalogue, platform/metric_catalogue.py, which the alarms are generated from): a statement that
failed to read, gateway queries that could not be answered, a job that failed, the daily digest
sent, the statement lines reconciled."""

from __future__ import annotations

from ..platform.metric_catalogue import (
    FAILED_DIGEST_SENT,
    GATEWAY_QUERY_FAILURES,
    JOB_FAILURES,
    RECONCILED_LINES,
    STATEMENT_FAILURES,
    Metric,
)
from ..platform.observability import add_metric


def _count(metric: Metric, value: float = 1, **dimensions: str) -> None:
    add_metric(metric.name, metric.unit, value)
    if dimensions:
        add_metric(metric.name, metric.unit, value, **dimensions)


def statement_failed(channel: str) -> None:
    _count(STATEMENT_FAILURES, channel=channel)


def gateway_query_failed(channel: str) -> None:
    _count(GATEWAY_QUERY_FAILURES, channel=channel)


def job_failed(job: str) -> None:
    _count(JOB_FAILURES, job=job)


def failed_digest_sent() -> None:
    _count(FAILED_DIGEST_SENT)


def lines_reconciled(channel: str, result: str, count: int) -> None:
    if count:
        add_metric(
            RECONCILED_LINES.name, RECONCILED_LINES.unit, count, channel=channel, result=result
        )
