"""Powertools logger and metrics, shared by every entry point, and the middleware that flushes
the metrics after each invocation (STACK.md: Powertools decorators cannot sit on Chalice
handlers, so app.py registers `flush_metrics_after` as Chalice middleware).

Metrics are CloudWatch EMF lines on stdout. Powertools' `Metrics` gives everything in one flush
the same dimensions, so it carries the service-wide figures; a figure broken down by its own
dimensions (a channel, a rule and severity) is summed per dimension set during the invocation
and flushed as one EMF line per set. One lock guards both: the local stack serves many threads
from one process; in Lambda it is never contended.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

SERVICE = "paytrack"
NAMESPACE = "Paytrack"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

_lock = threading.Lock()
# (dimensions as sorted items) -> metric name -> (unit, summed count or list of samples)
_breakdowns: dict[tuple[tuple[str, str], ...], dict[str, tuple[MetricUnit, list[float]]]] = (
    defaultdict(dict)
)


def add_metric(name: str, unit: MetricUnit, value: float, **dimensions: str) -> None:
    """Record one value: service-wide without dimensions, else under exactly these dimensions.
    Counts are summed within an invocation; other units keep every sample (for percentiles)."""
    with _lock:
        if not dimensions:
            metrics.add_metric(name=name, unit=unit, value=value)
            return
        series = _breakdowns[tuple(sorted(dimensions.items()))]
        _, values = series.setdefault(name, (unit, []))
        if unit is MetricUnit.Count and values:
            values[0] += value
        else:
            values.append(value)


def flush_metrics() -> None:
    """Print everything recorded since the last flush as EMF lines, then forget it."""
    with _lock:
        if metrics.metric_set:
            metrics.flush_metrics()
        for dimensions, series in _breakdowns.items():
            line = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
            for key, dimension in dimensions:
                line.add_dimension(name=key, value=dimension)
            for name, (unit, values) in series.items():
                for value in values:
                    line.add_metric(name=name, unit=unit, value=value)
            line.flush_metrics()
        _breakdowns.clear()


def flush_metrics_after(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware (every event type): run the handler, then flush its metrics, also
    when it raised."""
    try:
        return get_response(event)
    finally:
        flush_metrics()
