"""Anomaly repository: one item per finding, created once (conditional put on its id), its
status changed conditionally, and the inbox listing served by the table's indexes.

Inbox query plan (never a Scan): a rule filter reads `by_rule`, else a status filter reads
`by_status` (one partition each, newest first, bounded by the time range on `created_at`);
without either, `by_day` is read one UTC day partition at a time from `to` back to `from`.
Severity (and status, under a rule) only narrows what the index bounded: a filter expression.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import Condition

from ..domain.anomaly import Anomaly, AnomalyStatus, Finding, Severity
from ..domain.clock import day_of, from_iso, to_iso
from ..domain.errors import Conflict, ValidationFailed
from ..domain.params import decode_cursor, encode_cursor, parse_day
from .models import AnomalyModel

_CONDITION_FAILED = "ConditionalCheckFailedException"


def to_domain(item: AnomalyModel) -> Anomaly:
    return Anomaly(
        anomaly_id=item.anomaly_id,
        rule=item.rule,
        severity=Severity(item.severity),
        status=AnomalyStatus(item.status),
        created_at=from_iso(item.created_at),
        details=item.details or {},
        order_no=item.order_no,
        channel=item.channel,
        updated_at=from_iso(item.updated_at) if item.updated_at else None,
        updated_by=item.updated_by,
        note=item.note,
    )


def create(finding: Finding, at: datetime) -> bool:
    """Store the finding as an open anomaly. False when it exists already (a replay)."""
    item = AnomalyModel(
        finding.anomaly_id,
        rule=finding.rule,
        severity=finding.severity.value,
        status=AnomalyStatus.OPEN.value,
        order_no=finding.order_no,
        channel=finding.channel,
        created_at=to_iso(at),
        created_day=day_of(at),
        details=finding.details or None,
    )
    try:
        item.save(condition=AnomalyModel.anomaly_id.does_not_exist())
    except PutError as error:
        if error.cause_response_code == _CONDITION_FAILED:
            return False
        raise
    return True


def get(anomaly_id: str) -> Anomaly | None:
    try:
        return to_domain(AnomalyModel.get(anomaly_id))
    except AnomalyModel.DoesNotExist:
        return None


def _status_actions(status: AnomalyStatus, at: datetime, by: str, note: str | None) -> list:
    actions = [
        AnomalyModel.status.set(status.value),
        AnomalyModel.updated_at.set(to_iso(at)),
        AnomalyModel.updated_by.set(by),
    ]
    if note:
        actions.append(AnomalyModel.note.set(note))
    return actions


def set_status(
    anomaly_id: str,
    status: AnomalyStatus,
    at: datetime,
    by: str,
    note: str | None,
    expected: AnomalyStatus,
) -> Anomaly:
    """Move the anomaly to `status` if it is still `expected` (no lost update between two
    operators); Conflict otherwise."""
    item = AnomalyModel(anomaly_id)
    try:
        item.update(
            actions=_status_actions(status, at, by, note),
            condition=AnomalyModel.anomaly_id.exists() & (AnomalyModel.status == expected.value),
        )
    except UpdateError as error:
        if error.cause_response_code == _CONDITION_FAILED:
            raise Conflict(
                "the anomaly changed meanwhile; read it again and retry", {"id": anomaly_id}
            ) from None
        raise
    return to_domain(item)


def resolve(anomaly_id: str, at: datetime, by: str, note: str) -> bool:
    """Resolve the anomaly unless it is resolved already or does not exist. True if now."""
    try:
        AnomalyModel(anomaly_id).update(
            actions=_status_actions(AnomalyStatus.RESOLVED, at, by, note),
            condition=AnomalyModel.anomaly_id.exists()
            & (AnomalyModel.status != AnomalyStatus.RESOLVED.value),
        )
    except UpdateError as error:
        if error.cause_response_code == _CONDITION_FAILED:
            return False
        raise
    return True


def for_order(order_no: str) -> list[Anomaly]:
    return [to_domain(item) for item in AnomalyModel.by_order.query(order_no)]


# ------------------------------------------------------------------------------- the inbox


@dataclass(frozen=True)
class AnomalyFilter:
    since: datetime
    until: datetime
    status: AnomalyStatus | None = None
    rule: str | None = None
    severity: Severity | None = None


@dataclass(frozen=True)
class Page:
    items: list[Anomaly]
    next_cursor: str | None


class InvalidCursor(ValidationFailed):
    def __init__(self) -> None:
        super().__init__(
            "cursor: not a cursor this listing issued (or for other filters)", {"field": "cursor"}
        )


_INDEX_KEYS = {"by_rule": "rule", "by_status": "status", "by_day": "created_day"}


def _encode_cursor(index: str, day: str | None, key: dict | None) -> str:
    return encode_cursor({"i": index, "d": day, "k": key})


def _decode_cursor(cursor: str, index: str) -> tuple[str | None, dict | None]:
    try:
        data = decode_cursor(cursor)
    except ValueError:
        raise InvalidCursor() from None
    if not isinstance(data, dict) or data.get("i") != index:
        raise InvalidCursor()
    day, key = data.get("d"), data.get("k")
    try:
        if day is not None:
            parse_day(day)
    except ValueError:
        raise InvalidCursor() from None
    expected_keys = {"anomaly_id", "created_at", _INDEX_KEYS[index]}
    if key is not None and not (
        isinstance(key, dict)
        and set(key) == expected_keys
        and all(
            isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str)
            for v in key.values()
        )
    ):
        raise InvalidCursor()
    if day is not None and not isinstance(day, str):
        raise InvalidCursor()
    return day, key


def _narrowing(filters: AnomalyFilter, index: str) -> Condition | None:
    conditions = []
    if filters.status is not None and index != "by_status":
        conditions.append(AnomalyModel.status == filters.status.value)
    if filters.severity is not None:
        conditions.append(AnomalyModel.severity == filters.severity.value)
    combined = None
    for condition in conditions:
        combined = condition if combined is None else combined & condition
    return combined


def _one_partition(
    index: str, partition: str, filters: AnomalyFilter, limit: int, start_key: dict | None
):
    """Newest first within the time range; returns the items and where to resume (or None)."""
    results = getattr(AnomalyModel, index).query(
        partition,
        AnomalyModel.created_at.between(to_iso(filters.since), to_iso(filters.until)),
        filter_condition=_narrowing(filters, index),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=start_key,
    )
    items = [to_domain(item) for item in results]
    return items, (results.last_evaluated_key if len(items) >= limit else None)


def query(filters: AnomalyFilter, limit: int, cursor: str | None = None) -> Page:
    if filters.rule is not None:
        return _query_by_index("by_rule", filters.rule, filters, limit, cursor)
    if filters.status is not None:
        return _query_by_index("by_status", filters.status.value, filters, limit, cursor)
    return _query_by_day(filters, limit, cursor)


def _query_by_index(
    index: str, partition: str, filters: AnomalyFilter, limit: int, cursor: str | None
) -> Page:
    _, start_key = _decode_cursor(cursor, index) if cursor else (None, None)
    items, resume = _one_partition(index, partition, filters, limit, start_key)
    return Page(items, _encode_cursor(index, None, resume) if resume else None)


def _query_by_day(filters: AnomalyFilter, limit: int, cursor: str | None) -> Page:
    first_day, last_day = day_of(filters.since), day_of(filters.until)
    day, start_key = _decode_cursor(cursor, "by_day") if cursor else (last_day, None)
    if day is None or not first_day <= day <= last_day:
        raise InvalidCursor()
    items: list[Anomaly] = []
    while day >= first_day:
        found, resume = _one_partition("by_day", day, filters, limit - len(items), start_key)
        items += found
        if resume:
            return Page(items, _encode_cursor("by_day", day, resume))
        day, start_key = _previous_day(day), None
        if len(items) >= limit:
            return Page(items, _encode_cursor("by_day", day, None) if day >= first_day else None)
    return Page(items, None)


def _previous_day(day: str) -> str:
    return day_of(from_iso(f"{day}T00:00:00Z") - timedelta(days=1))
