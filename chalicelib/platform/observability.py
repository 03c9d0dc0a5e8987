"""Powertools logger and metrics, shared by every entry point, and the middleware every
invocation runs in (STACK.md: Powertools decorators cannot sit on Chalice handlers, so app.py
registers `observe_invocation` as Chalice middleware): it logs the process's cold start once, gives
every log line of the invocation its correlation id, traces it on Lambda (platform/tracing.py),
and flushes the metrics afterwards.

Correlation: every log line carries `correlation_id` — an HTTP request's API request id (the
`request_id` a 500 answer quotes), else the Lambda request id of the invocation — and the
function's name and request id; `correlated(...)` narrows it to one unit of work inside the
invocation (a stream record: its order number, notice dedupe key or export id) and adds the keys
that work is known by (`order_no`, `dedupe_key`), restored when the unit ends. The keys are the
logger's thread-local ones: the local stack serves many requests from one process at once.

Metrics are CloudWatch EMF lines on stdout. Powertools' `Metrics` gives everything in one flush
the same dimensions, so it carries the service-wide figures; a figure broken down by its own
dimensions (a channel, a rule and severity) is summed per dimension set during the invocation
and flushed as one EMF line per set. One lock guards both: the local stack serves many threads
from one process; in Lambda it is never contended.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from .metric_catalogue import NAMESPACE, SERVICE
from .tracing import traced

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

_lock = threading.Lock()
_cold = [True]  # until the process's first invocation starts
_MAX_KEY_CHARS = 64
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


@contextmanager
def correlated(correlation_id: str | None = None, **keys: Any) -> Iterator[None]:
    """Log lines within the block carry `correlation_id` (when given) and `keys` (those not None)
    on top of the current ones; the previous keys are back after it."""
    before = dict(logger.thread_safe_get_current_keys())
    added = {k: v for k, v in keys.items() if v is not None}
    if correlation_id is not None:
        added["correlation_id"] = correlation_id
    logger.thread_safe_append_keys(**added)
    try:
        yield
    finally:
        logger.thread_safe_clear_keys()
        logger.thread_safe_append_keys(**before)


def log_keys(**keys: Any) -> None:
    """The rest of the current unit's lines (the invocation, or the innermost `correlated`
    block) carry these keys too (those not None): what the work turned out to be about."""
    logger.thread_safe_append_keys(**{k: v for k, v in keys.items() if v is not None})


def request_id(request: Any) -> str | None:
    """An HTTP request's id: API Gateway's (`$context.requestId`, which its own error answers
    quote), else the Lambda request id (chalice local has no API Gateway id)."""
    context = getattr(request, "context", None)
    api_id = context.get("requestId") if isinstance(context, dict) else None
    lambda_context = getattr(request, "lambda_context", None)
    return api_id or getattr(lambda_context, "aws_request_id", None)


def _invocation_keys(event: Any) -> dict[str, Any]:
    """The keys of every line of this invocation: for an HTTP request (a chalice Request, whose
    `context` is API Gateway's request context) its request id and the order its path names,
    else the Lambda request id."""
    lambda_context = getattr(event, "lambda_context", None)
    is_request = lambda_context is not None or isinstance(getattr(event, "context", None), dict)
    if not is_request:
        lambda_context = getattr(event, "context", None)
    function_request_id = getattr(lambda_context, "aws_request_id", None)
    keys = {
        "correlation_id": request_id(event) if is_request else function_request_id,
        "function_name": getattr(lambda_context, "function_name", None),
        "function_request_id": function_request_id,
    }
    order_no = ((getattr(event, "uri_params", None) if is_request else None) or {}).get("order_no")
    if order_no:
        keys["order_no"] = order_no[:_MAX_KEY_CHARS]  # request input: bounded
    return keys


def _cold_start() -> bool:
    with _lock:
        cold, _cold[0] = _cold[0], False
    return cold


def observe_invocation(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware (every event type): log the cold start, correlate every log line of
    the handler, and flush its metrics afterwards, also when it raised."""
    keys = _invocation_keys(event)
    cold_start = _cold_start()
    with correlated(**keys, cold_start=cold_start):
        if cold_start:
            logger.info("cold start")
        try:
            with traced(
                f"## {keys['function_name']}",
                correlation_id=keys["correlation_id"],
                cold_start=cold_start,
            ):
                return get_response(event)
        finally:
            flush_metrics()
