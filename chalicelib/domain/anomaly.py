"""Anomalies: what the rules (and reconciliation) find, as plain values. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from .errors import TransitionRefused


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AnomalyStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


# An operator acknowledges (I am on it) and resolves (done); saying the same again updates the
# note. A resolved anomaly stays resolved: the same finding found again is the same anomaly.
STATUS_TRANSITIONS: dict[AnomalyStatus, frozenset[AnomalyStatus]] = {
    AnomalyStatus.OPEN: frozenset({AnomalyStatus.ACKNOWLEDGED, AnomalyStatus.RESOLVED}),
    AnomalyStatus.ACKNOWLEDGED: frozenset({AnomalyStatus.ACKNOWLEDGED, AnomalyStatus.RESOLVED}),
    AnomalyStatus.RESOLVED: frozenset({AnomalyStatus.RESOLVED}),
}


def check_status_change(current: AnomalyStatus, target: AnomalyStatus) -> None:
    if target not in STATUS_TRANSITIONS[current]:
        raise TransitionRefused(
            f"the anomaly is {current.value}; it cannot become {target.value}",
            {"status": current.value, "requested": target.value},
        )


@dataclass(frozen=True)
class Finding:
    """One thing a rule found. `subject` makes it unique per rule (an order number, a channel and
    hour, a reconciliation line): the same finding found twice is one anomaly."""

    rule: str
    severity: Severity
    subject: str
    details: dict[str, Any] = field(default_factory=dict)
    order_no: str | None = None
    channel: str | None = None
    hold: bool = False

    @property
    def anomaly_id(self) -> str:
        return f"{self.rule}#{self.subject}"


# Ids are stored as `rule#subject` (subjects may hold more `#`); the API prints them with `~`, an
# unreserved URL character, so a printed id pastes into a URL as is.
STORED_SEPARATOR, PRINTED_SEPARATOR = "#", "~"


def printed_id(stored_id: str) -> str:
    return stored_id.replace(STORED_SEPARATOR, PRINTED_SEPARATOR)


def stored_ids(given: str) -> list[str]:
    """The stored ids an id from a URL may name, most likely first: as given when it has a `#`
    (the old form, `%23` in a URL), else every `~` read as `#`, else only the first (a subject
    that had a `~` of its own)."""
    if STORED_SEPARATOR in given:
        return [given]
    every = given.replace(PRINTED_SEPARATOR, STORED_SEPARATOR)
    first = given.replace(PRINTED_SEPARATOR, STORED_SEPARATOR, 1)
    return list(dict.fromkeys([every, first]))


@dataclass(frozen=True)
class Anomaly:
    anomaly_id: str
    rule: str
    severity: Severity
    status: AnomalyStatus
    created_at: datetime
    details: dict[str, Any]
    order_no: str | None = None
    channel: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None
    note: str | None = None
