"""The business metrics (namespace Paytrack), in one place so the names the alarms and the
dashboard in infra/resources.json refer to are defined once. Each figure is recorded service-wide
and, where it has one, per breakdown; dimension values come from closed sets (configured
channels, rule names, severities, hold reasons, notify outcomes), never from request input.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from ..domain.notice import IngestOutcome
from ..platform.observability import add_metric

NOTIFICATIONS_ACCEPTED = "NotificationsAccepted"
NOTIFICATIONS_REJECTED = "NotificationsRejected"
NOTIFY_SERVER_ERRORS = "NotifyServerErrors"
ORDERS_PAID = "OrdersPaid"
DELIVERY_HOLDS = "DeliveryHolds"
PAY_TO_DELIVERY = "PayToDeliverySeconds"
ANOMALIES = "Anomalies"
STREAM_RECORD_FAILURES = "StreamRecordFailures"

# ingestion outcomes (services/ingest.py) -> the figure they count towards
_NOTIFY_OUTCOMES: dict[str, str] = {
    IngestOutcome.APPLIED: NOTIFICATIONS_ACCEPTED,
    IngestOutcome.ALREADY_APPLIED: NOTIFICATIONS_ACCEPTED,
    IngestOutcome.REFUSED: NOTIFICATIONS_ACCEPTED,
    IngestOutcome.DUPLICATE: NOTIFICATIONS_ACCEPTED,
    IngestOutcome.UNKNOWN_ORDER: NOTIFICATIONS_ACCEPTED,
    IngestOutcome.IGNORED: NOTIFICATIONS_ACCEPTED,
    IngestOutcome.REJECTED: NOTIFICATIONS_REJECTED,
    IngestOutcome.STORE_FAILED: NOTIFY_SERVER_ERRORS,
    IngestOutcome.CONTENTION: NOTIFY_SERVER_ERRORS,
}


def _count(name: str, **dimensions: str) -> None:
    add_metric(name, MetricUnit.Count, 1)
    if dimensions:
        add_metric(name, MetricUnit.Count, 1, **dimensions)


def notification_handled(channel: str, outcome: str) -> None:
    """A notification for a configured channel: accepted (verified and stored), rejected
    (signature, account, format) or answered 5xx (not stored, or the order stayed busy)."""
    name = _NOTIFY_OUTCOMES.get(outcome)
    if name:
        _count(name, channel=channel)


def order_paid(channel: str) -> None:
    _count(ORDERS_PAID, channel=channel)


def delivery_held(reasons: list[str]) -> None:
    add_metric(DELIVERY_HOLDS, MetricUnit.Count, 1)
    for reason in reasons:
        add_metric(DELIVERY_HOLDS, MetricUnit.Count, 1, reason=reason)


def delivered(seconds_after_payment: float) -> None:
    add_metric(PAY_TO_DELIVERY, MetricUnit.Seconds, seconds_after_payment)


def anomaly_recorded(rule: str, severity: str) -> None:
    """By rule and severity, and by each alone: the critical-anomaly alarm watches severity,
    the channel-failure alarm watches its rule."""
    add_metric(ANOMALIES, MetricUnit.Count, 1)
    add_metric(ANOMALIES, MetricUnit.Count, 1, rule=rule, severity=severity)
    add_metric(ANOMALIES, MetricUnit.Count, 1, severity=severity)
    add_metric(ANOMALIES, MetricUnit.Count, 1, rule=rule)


def stream_records_failed(stream: str, count: int) -> None:
    if count:
        add_metric(STREAM_RECORD_FAILURES, MetricUnit.Count, count)
        add_metric(STREAM_RECORD_FAILURES, MetricUnit.Count, count, stream=stream)
