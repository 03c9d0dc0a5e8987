"""Time: the clock port and its system implementation, and the helpers. Everything inside is
timezone-aware UTC; strings are fixed-width ISO 8601 with Z so that they sort as text (DynamoDB
sort keys).

Services read the time from a `Clock` (services/ports.py wires the process's, the system clock
unless a test sets its own), never from `datetime.now` directly: a test moves its clock to age
an order instead of rewriting the stored one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Where a service reads the time: aware UTC."""

    def now(self) -> datetime: ...


class SystemClock:
    """The machine's clock (every Lambda handler's)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


SYSTEM_CLOCK = SystemClock()


def utcnow() -> datetime:
    """The system clock's time, for what runs outside the services (scripts, the simulator)."""
    return datetime.now(UTC)


def to_iso(value: datetime) -> str:
    """`2026-11-25T14:30:12.123456Z`: always microseconds, so lexical order is time order."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def day_of(value: datetime) -> str:
    """The UTC calendar day, the partition of every time-bucketed index."""
    return value.astimezone(UTC).strftime("%Y-%m-%d")


def utc_days(start: datetime, end: datetime) -> list[str]:
    """The UTC days [start, end) touches: the partitions a time range reads, one Query each."""
    days, day = [], start
    while day_of(day) <= day_of(end - timedelta(microseconds=1)):
        days.append(day_of(day))
        day += timedelta(days=1)
    return days


def to_api(value: datetime | None) -> str | None:
    """The contract's form: ISO 8601 UTC with Z, second precision kept as stored."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
