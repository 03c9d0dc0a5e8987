"""The scheduled jobs' metrics (namespace Paytrack), named once here for the alarms in
infra/resources.json: a statement that failed to read, gateway queries that could not be
answered, a job that failed, the daily digest sent."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from ..platform.observability import add_metric

STATEMENT_FAILURES = "StatementFailures"
GATEWAY_QUERY_FAILURES = "GatewayQueryFailures"
JOB_FAILURES = "JobFailures"
FAILED_DIGEST_SENT = "FailedDigestSent"
RECONCILED_LINES = "ReconciledLines"


def _count(name: str, value: float = 1, **dimensions: str) -> None:
    add_metric(name, MetricUnit.Count, value)
    if dimensions:
        add_metric(name, MetricUnit.Count, value, **dimensions)


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
        add_metric(RECONCILED_LINES, MetricUnit.Count, count, channel=channel, result=result)
