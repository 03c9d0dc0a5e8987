"""Every metric paytrack emits and every alarm the template creates, listed once.

services/metrics.py and services/job_metrics.py record the metrics below (by these names and
units, service-wide and under the listed breakdowns); infra/alarms.py turns ALARMS into the
template's `AWS::CloudWatch::Alarm` resources and the dashboard's alarm widget at packaging time
(infra/package.py), and local/alarms.py evaluates the same entries on the local stack. A metric or
alarm that is not here does not exist anywhere.

Metric names and dimension values are CloudWatch's: EMF lines in namespace `Paytrack`, every
value service-wide (dimension `service=paytrack`) and, where a breakdown is listed, once more per
breakdown (dimension values from closed sets: configured channels, rule names, severities, hold
reasons, notify outcomes, job names — never request input).

Severity says how soon a person must act, and is the first word of the alarm's description (so
of the page): `critical` — money or a customer is waiting now; `warning` — something fell
behind or a daily product is missing, fix it today. Every alarm pages (paging topic).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aws_lambda_powertools.metrics import MetricUnit

NAMESPACE = "Paytrack"
SERVICE = "paytrack"

Severity = Literal["critical", "warning"]
Comparison = Literal[
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
]
Statistic = Literal["Sum", "Maximum", "Minimum", "Average", "SampleCount"]


@dataclass(frozen=True)
class Metric:
    """One of paytrack's own metrics: recorded service-wide and under each breakdown (a tuple of
    dimension names, besides `service`)."""

    name: str
    unit: MetricUnit
    description: str
    breakdowns: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class AwsMetric:
    """A metric AWS publishes about one of the template's resources (`resource`: its logical id;
    the dimension's value is the resource's name)."""

    namespace: str
    name: str
    dimension: str
    resource: str


@dataclass(frozen=True)
class Alarm:
    """`paytrack-<stage>-<name>`: pages when `statistic` of `metric` over `period` seconds
    compares with `threshold` for `evaluation_periods` periods in a row. On one of our metrics,
    `dimensions` picks the series (none: the service-wide one); missing data never breaches."""

    name: str
    severity: Severity
    description: str
    metric: Metric | AwsMetric
    dimensions: tuple[tuple[str, str], ...] = ()
    statistic: Statistic = "Sum"
    period: int = 300
    evaluation_periods: int = 1
    threshold: float = 1
    comparison: Comparison = "GreaterThanOrEqualToThreshold"


# ------------------------------------------------------------------ notifications, orders, streams

NOTIFICATIONS_ACCEPTED = Metric(
    "NotificationsAccepted",
    MetricUnit.Count,
    "gateway notifications verified and stored (applied, duplicate, refused, for an unknown order)",
    (("channel",),),
)
NOTIFICATIONS_REJECTED = Metric(
    "NotificationsRejected",
    MetricUnit.Count,
    "gateway notifications refused: signature, account or format",
    (("channel",),),
)
NOTIFY_SERVER_ERRORS = Metric(
    "NotifyServerErrors",
    MetricUnit.Count,
    "gateway notifications answered 5xx (not stored, or the order stayed busy)",
    (("channel",),),
)
ORDERS_PAID = Metric("OrdersPaid", MetricUnit.Count, "orders that became paid", (("channel",),))
DELIVERY_HOLDS = Metric(
    "DeliveryHolds", MetricUnit.Count, "paid orders held from delivery", (("reason",),)
)
PAY_TO_DELIVERY = Metric(
    "PayToDeliverySeconds", MetricUnit.Seconds, "seconds from payment to reported delivery"
)
ANOMALIES = Metric(
    "Anomalies",
    MetricUnit.Count,
    "anomalies recorded by the anomaly engine",
    (("rule", "severity"), ("severity",), ("rule",)),
)
STREAM_RECORD_FAILURES = Metric(
    "StreamRecordFailures",
    MetricUnit.Count,
    "stream records a handler reported failed (retried, bisected, then queued)",
    (("stream",),),
)

# ------------------------------------------------------------------ scheduled jobs

STATEMENT_FAILURES = Metric(
    "StatementFailures",
    MetricUnit.Count,
    "gateway statements that could not be read",
    (("channel",),),
)
GATEWAY_QUERY_FAILURES = Metric(
    "GatewayQueryFailures",
    MetricUnit.Count,
    "gateway queries (补单, expiry, requery) left unanswered",
    (("channel",),),
)
JOB_FAILURES = Metric(
    "JobFailures", MetricUnit.Count, "scheduled jobs that failed or had failed parts", (("job",),)
)
FAILED_DIGEST_SENT = Metric("FailedDigestSent", MetricUnit.Count, "daily failed digests sent")
RECONCILED_LINES = Metric(
    "ReconciledLines",
    MetricUnit.Count,
    "statement lines reconciled, by channel and result (only broken down)",
    (("channel", "result"),),
)

METRICS: tuple[Metric, ...] = (
    NOTIFICATIONS_ACCEPTED,
    NOTIFICATIONS_REJECTED,
    NOTIFY_SERVER_ERRORS,
    ORDERS_PAID,
    DELIVERY_HOLDS,
    PAY_TO_DELIVERY,
    ANOMALIES,
    STREAM_RECORD_FAILURES,
    STATEMENT_FAILURES,
    GATEWAY_QUERY_FAILURES,
    JOB_FAILURES,
    FAILED_DIGEST_SENT,
    RECONCILED_LINES,
)

# ------------------------------------------------------------------ alarms

STREAM_CONSUMERS = ("OnOrdersStream", "OnNoticesStream", "OnExportsStream", "OnOrdersStats")


def _iterator_age(function: str) -> Alarm:
    return Alarm(
        f"{function}-iterator-age",
        "warning",
        f"{function} is falling behind its stream (records older than 10 minutes).",
        AwsMetric("AWS/Lambda", "IteratorAge", "FunctionName", function),
        statistic="Maximum",
        evaluation_periods=2,
        threshold=600_000,
        comparison="GreaterThanThreshold",
    )


def _function_errors(function: str, severity: Severity, description: str) -> Alarm:
    return Alarm(
        f"{function}-errors",
        severity,
        description,
        AwsMetric("AWS/Lambda", "Errors", "FunctionName", function),
    )


def _queue_depth(name: str, severity: Severity, queue: str, description: str) -> Alarm:
    return Alarm(
        name,
        severity,
        description,
        AwsMetric("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue),
        statistic="Maximum",
    )


ALARMS: tuple[Alarm, ...] = (
    Alarm(
        "critical-anomaly",
        "critical",
        "A critical anomaly was recorded in the last 5 minutes (amount or currency mismatch, "
        "duplicate or late payment, unknown order, status conflict, channel failure). Open "
        "GET /admin/anomalies?severity=critical&status=open.",
        ANOMALIES,
        dimensions=(("severity", "critical"),),
    ),
    Alarm(
        "channel-failure",
        "critical",
        "A payment channel failed (expired or closed) more than its allowed share of the last "
        "hour's attempts (channel_health, hourly). See GET /admin/anomalies?rule=channel_failure.",
        ANOMALIES,
        dimensions=(("rule", "channel_failure"),),
        period=3600,
    ),
    Alarm(
        "stream-record-failures",
        "critical",
        "Stream handlers reported 5 or more failed records in 5 minutes (each is retried, "
        "bisected, then sent to the stream-failures queue): look for the errors in the log group.",
        STREAM_RECORD_FAILURES,
        threshold=5,
    ),
    Alarm(
        "notify-5xx",
        "critical",
        "/notify answered 5 or more gateway notifications with a server error in 5 minutes (not "
        "stored, or the order stayed busy): gateways retry, but payments are waiting.",
        NOTIFY_SERVER_ERRORS,
        threshold=5,
    ),
    _queue_depth(
        "stream-failures",
        "critical",
        "StreamFailureQueue",
        "Stream records were given up on after retries (see the stream-failures queue; replay "
        "before the 24 h stream retention ends).",
    ),
    _function_errors(
        "OnOrdersStream",
        "critical",
        "OnOrdersStream failed as a whole (an error or timeout outside the per-record handling): "
        "its batch is retried.",
    ),
    _function_errors(
        "OnNoticesStream",
        "critical",
        "OnNoticesStream failed as a whole (an error or timeout outside the per-record handling): "
        "its batch is retried.",
    ),
    *(_iterator_age(function) for function in STREAM_CONSUMERS),
    Alarm(
        "statement-failures",
        "warning",
        "A gateway statement could not be read: the reconciliation of that channel and day did "
        "not run. The anomaly statement_unparseable#<channel>#<date> names the line and the "
        "reason; POST /admin/reconciliations re-runs it once the gateway serves a good file.",
        STATEMENT_FAILURES,
    ),
    Alarm(
        "gateway-query-failures",
        "critical",
        "Gateway queries (补单, expiry, operator requery) went unanswered for 10 minutes: the "
        "gateway is down or rejects our credentials. Pending orders are asked again each run and "
        "expire only after the grace; see GatewayQueryFailures by channel.",
        GATEWAY_QUERY_FAILURES,
        evaluation_periods=2,
        threshold=5,
    ),
    Alarm(
        "job-failures",
        "warning",
        "A scheduled job failed or reported failed parts (requery_pending, expire_orders, "
        "reconcile, apply_statement_fees, failed_digest, query_refunds): see the job's log lines "
        '(message "job failed" / "job done" with failed).',
        JOB_FAILURES,
    ),
    Alarm(
        "failed-digest",
        "warning",
        "The daily failed digest (failed, expired and held orders of yesterday) was not "
        "produced: operators did not get it. Run POST /admin/jobs/failed_digest once the cause "
        "is fixed.",
        JOB_FAILURES,
        dimensions=(("job", "failed_digest"),),
    ),
    _function_errors(
        "ReconcileDaily",
        "warning",
        "The daily reconciliation Lambda failed or timed out (a failure inside it also counts "
        "in JobFailures).",
    ),
    _function_errors(
        "FailedDigest",
        "warning",
        "The failed digest Lambda failed or timed out: the day's digest was not sent.",
    ),
    _queue_depth(
        "job-invocation-failures",
        "warning",
        "JobFailureQueue",
        "A scheduled function failed after Lambda's retries (or its event expired): the "
        "invocation record is in the job-failures queue. Read it, fix the cause, run the job "
        "with POST /admin/jobs/{name}.",
    ),
)
