"""The business metrics (namespace Paytrack): what each is recorded for. Names, units and
breakdowns come from the metric catalogue (platform/metric_catalogue.py), which the template's
alarms are generated from. Each figure is recorded service-wide and, where it has one, per
breakdown; dimension values come from closed sets (configured channels, rule names, severities,
hold reasons, notify outcomes), never from request input.
"""

from __future__ import annotations

from ..domain.notice import IngestOutcome
from ..platform.metric_catalogue import (
    ANOMALIES,
    DELIVERY_HOLDS,
    NOTIFICATIONS_ACCEPTED,
    NOTIFICATIONS_REJECTED,
    NOTIFY_SERVER_ERRORS,
    ORDERS_PAID,
    PAY_TO_DELIVERY,
    STREAM_RECORD_FAILURES,
    Metric,
)
from ..platform.observability import add_metric

# ingestion outcomes (services/ingest.py) -> the figure they count towards
_NOTIFY_OUTCOMES: dict[str, Metric] = {
    IngestOutcome.APPLIED: NOTIFICATIONS_ACCEPTED,
    IngestOutcome.ALREADY_APPLIED: NOTIFICATIONS_ACCEPTED,
    IngestOutcome.REFUSED: NOTIFICATIONS_ACCEPTED,
    IngestOutcome.DUPLICATE: NOTIFICATIONS_ACCEPTED,
    IngestOutcome.UNKNOWN_ORDER: NOTIFICATIONS_ACCEPTED,
    IngestOutcome.IGNORED: NOTIFICATIONS_ACCEPTED,
    IngestOutcome.REJECTED: NOTIFICATIONS_REJECTED,
    IngestOutcome.CONFLICT: NOTIFICATIONS_REJECTED,
    IngestOutcome.STORE_FAILED: NOTIFY_SERVER_ERRORS,
    IngestOutcome.CONTENTION: NOTIFY_SERVER_ERRORS,
}


def _count(metric: Metric, **dimensions: str) -> None:
    add_metric(metric.name, metric.unit, 1)
    if dimensions:
        add_metric(metric.name, metric.unit, 1, **dimensions)


def notification_handled(channel: str, outcome: str) -> None:
    """A notification for a configured channel: accepted (verified and stored), rejected
    (signature, account, format) or answered 5xx (not stored, or the order stayed busy)."""
    metric = _NOTIFY_OUTCOMES.get(outcome)
    if metric:
        _count(metric, channel=channel)


def order_paid(channel: str) -> None:
    _count(ORDERS_PAID, channel=channel)


def delivery_held(reasons: list[str]) -> None:
    add_metric(DELIVERY_HOLDS.name, DELIVERY_HOLDS.unit, 1)
    for reason in reasons:
        add_metric(DELIVERY_HOLDS.name, DELIVERY_HOLDS.unit, 1, reason=reason)


def delivered(seconds_after_payment: float) -> None:
    add_metric(PAY_TO_DELIVERY.name, PAY_TO_DELIVERY.unit, seconds_after_payment)


def anomaly_recorded(rule: str, severity: str) -> None:
    """By rule and severity, and by each alone: the critical-anomaly alarm watches severity,
    the channel-failure alarm watches its rule."""
    name, unit = ANOMALIES.name, ANOMALIES.unit
    add_metric(name, unit, 1)
    add_metric(name, unit, 1, rule=rule, severity=severity)
    add_metric(name, unit, 1, severity=severity)
    add_metric(name, unit, 1, rule=rule)


def stream_records_failed(stream: str, count: int) -> None:
    if count:
        add_metric(STREAM_RECORD_FAILURES.name, STREAM_RECORD_FAILURES.unit, count)
        add_metric(STREAM_RECORD_FAILURES.name, STREAM_RECORD_FAILURES.unit, count, stream=stream)
