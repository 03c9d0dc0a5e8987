"""Fires the app's scheduled functions locally with real CloudWatch scheduled events, on their
Rate or Cron (UTC, like EventBridge). PAYTRACK_SCHEDULE_SCALE < 1 compresses Rate intervals."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("paytrack.local.scheduler")
_UNIT_SECONDS = {
    "MINUTE": 60,
    "MINUTES": 60,
    "HOUR": 3600,
    "HOURS": 3600,
    "DAY": 86400,
    "DAYS": 86400,
}


def scheduled_event(name: str, now: datetime) -> dict:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "ap-east-1",
        "resources": [f"arn:aws:events:ap-east-1:123456789012:rule/{name}"],
        "detail": {},
    }


def _field_matches(spec: str, value: int) -> bool:
    for part in str(spec).split(","):
        if part in ("*", "?"):
            return True
        base, _, step = part.partition("/")
        low, _, high = base.partition("-")
        start = 0 if low == "*" else int(low)
        end = int(high) if high else (10**6 if (step or low == "*") else start)
        if start <= value <= end and (value - start) % int(step or 1) == 0:
            return True
    return False


def cron_matches(expression: Any, moment: datetime) -> bool:
    """Minute, hour, day of month, month, day of week (1=Sunday in EventBridge)."""
    fields = (expression.minutes, expression.hours, expression.day_of_month, expression.month)
    values = (moment.minute, moment.hour, moment.day, moment.month)
    weekday = (moment.isoweekday() % 7) + 1
    return all(
        _field_matches(f, v) for f, v in zip(fields, values, strict=True)
    ) and _field_matches(expression.day_of_week, weekday)


class Scheduler(threading.Thread):
    def __init__(self, jobs: list[tuple[Any, Callable]], scale: float = 1.0, tick_s: float = 1.0):
        super().__init__(name="scheduler", daemon=True)
        self.jobs = jobs
        self.scale = scale
        self.tick_s = tick_s
        self.stop_event = threading.Event()
        self.last_run: dict[str, float] = {}
        self.last_minute: dict[str, str] = {}

    def run(self) -> None:
        started = datetime.now(UTC).timestamp()
        for source, _ in self.jobs:
            self.last_run[source.name] = started
            log.info("scheduled: %s (%s)", source.name, source.schedule_expression.to_string())
        while not self.stop_event.wait(self.tick_s):
            now = datetime.now(UTC)
            for source, handler in self.jobs:
                if self._due(source, now):
                    self._fire(source, handler, now)

    def _due(self, source: Any, now: datetime) -> bool:
        expression = source.schedule_expression
        if hasattr(expression, "unit"):
            interval = expression.value * _UNIT_SECONDS[expression.unit.upper()] * self.scale
            return now.timestamp() - self.last_run[source.name] >= interval
        minute = now.strftime("%Y%m%d%H%M")
        return cron_matches(expression, now) and self.last_minute.get(source.name) != minute

    def _fire(self, source: Any, handler: Callable, now: datetime) -> None:
        self.last_run[source.name] = now.timestamp()
        self.last_minute[source.name] = now.strftime("%Y%m%d%H%M")
        try:
            summary = handler(scheduled_event(source.name, now), None)
            log.info("ran %s: %s", source.name, summary)
        except Exception:  # a failing job is logged and tried again at its next time, like Lambda
            log.exception("scheduled job %s failed", source.name)

    def stop(self) -> None:
        self.stop_event.set()
