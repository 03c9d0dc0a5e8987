"""Anomalies: record a finding once, whoever found it (stream rules, scheduled checks,
reconciliation), apply it to its order, and the operators' inbox (list, acknowledge, resolve).

Recording is idempotent end to end: the anomaly item is a conditional put on its deterministic
id, and its effect on the order (flag, `anomaly` timeline entry, hold when the rule holds) is
applied once, marked by that timeline entry (domain/rules/effects.py). A crash between the two
is repaired by the replay: the put finds the anomaly, the order still lacks the entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import unquote

from ..domain.anomaly import Anomaly, Finding, check_status_change, stored_ids
from ..domain.commands import ListAnomalies, UpdateAnomaly
from ..domain.errors import NotFound
from ..domain.order import Order
from ..domain.rules.effects import anomaly_changes, release_generation
from ..domain.verification import INBOX_RULES as VERIFICATION_RULES
from ..platform.observability import logger
from ..platform.settings import get_settings
from ..store import anomalies as anomaly_store
from ..store import audit
from ..store import orders as order_store
from . import metrics, ports
from .auth import Principal, key_names
from .order_writes import write_with_retry
from .ports import clock

SYSTEM = "system"


def record(finding: Finding, now: datetime) -> bool:
    """Record `finding` as an open anomaly unless it already is. True when recorded now."""
    created = _create(finding, now)
    if finding.order_no:
        order = ports.orders(order_store).get(finding.order_no)
        if order is not None:
            apply_to_order(finding, order, now)
    return created


def record_on_order(finding: Finding, order: Order, now: datetime) -> Order:
    """`record` for a caller that holds the order already (a stream image): no read unless the
    image is stale. Returns the order as it is after the finding's effect."""
    _create(finding, now)
    return apply_to_order(finding, order, now)


def apply_to_order(finding: Finding, order: Order, now: datetime) -> Order:
    """Flag `order`, note the anomaly on its timeline and hold it when the rule holds — once.
    Used for the finding's own order and for the other orders of an IP burst. `order` is what the
    finding was made from (a stream image, an index read): when the order turns out to have been
    released since, the finding does not hold it again (domain/rules/effects.py)."""
    seen = release_generation(order)
    return write_with_retry(order, lambda current: anomaly_changes(current, finding, now, seen))


def _create(finding: Finding, now: datetime) -> bool:
    created = ports.anomalies(anomaly_store).create(finding, now)
    if created:
        metrics.anomaly_recorded(finding.rule, finding.severity.value)
        logger.warning(
            "anomaly recorded",
            extra={
                "anomaly_id": finding.anomaly_id,
                "rule": finding.rule,
                "severity": finding.severity.value,
                "order_no": finding.order_no,
                "channel": finding.channel,
                "hold": finding.hold,
            },
        )
    return created


def resolve_by_system(anomaly_id: str, now: datetime, note: str) -> bool:
    """Close an anomaly whose cause went away by itself (an unknown order got registered)."""
    resolved = ports.anomalies(anomaly_store).resolve(anomaly_id, now, SYSTEM, note)
    if resolved:
        logger.info("anomaly resolved", extra={"anomaly_id": anomaly_id, "by": SYSTEM})
    return resolved


# ------------------------------------------------------------------------------- the inbox

DEFAULT_RANGE = timedelta(days=30)
MAX_RANGE = timedelta(days=92)
MAX_ID_LENGTH = 512  # a DynamoDB key is at most 2048 bytes; ids are far shorter


def inbox_rules() -> tuple[str, ...]:
    """The rules an anomaly in the inbox may name: the configured ones and the review's."""
    return (*get_settings().rules.rule_names(), *VERIFICATION_RULES)


@dataclass(frozen=True)
class Found:
    """Anomalies as a viewer or operator may see them: `masked` details for a viewer, the names
    of the keys that changed them, and when they were read (a review's expiry is shown by it)."""

    items: list[Anomaly]
    masked: bool
    names: dict[str, str]
    now: datetime
    next_cursor: str | None = None


def inbox(principal: Principal, command: ListAnomalies) -> Found:
    """Newest first, filtered, `limit` per page and `next_cursor` to go on; audited."""
    now = clock().now()
    since, until = command.created.resolve(now, DEFAULT_RANGE, MAX_RANGE)
    filters = anomaly_store.AnomalyFilter(
        since=since,
        until=until,
        rule=command.rule,
        status=command.status,
        severity=command.severity,
    )
    page = anomaly_store.query(filters, command.limit, command.cursor)
    ports.audit(audit).record_api(
        now, principal.key_id, principal.role, "list_anomalies", None, dict(command.given)
    )
    names = key_names({a.updated_by for a in page.items})
    return Found(page.items, not principal.sees_pii, names, now, page.next_cursor)


def _find(given: str) -> Anomaly:
    """The anomaly a URL names, by its printed id (`rule~subject`) or the stored one (`rule#subject`,
    sent as `%23`); 404 otherwise."""
    given = unquote(given)
    for candidate in stored_ids(given) if len(given) <= MAX_ID_LENGTH else []:
        found = ports.anomalies(anomaly_store).get(candidate)
        if found is not None:
            return found
    raise NotFound(f"no anomaly {given!r}", {"id": given})


def one(principal: Principal, anomaly_id: str) -> Found:
    """One anomaly, as the inbox lists it; audited."""
    found = _find(anomaly_id)
    now = clock().now()
    ports.audit(audit).record_api(
        now, principal.key_id, principal.role, "read_anomaly", found.anomaly_id, None
    )
    return Found([found], not principal.sees_pii, key_names({found.updated_by}), now)


def update(principal: Principal, command: UpdateAnomaly) -> Found:
    """Acknowledge or resolve, with a note; who and when are kept on the anomaly and in the
    audit trail."""
    current = _find(command.anomaly_id)
    anomaly_id, target, note = current.anomaly_id, command.status, command.note
    check_status_change(current.status, target)
    now = clock().now()
    updated = ports.anomalies(anomaly_store).set_status(
        anomaly_id, target, now, principal.key_id, note, expected=current.status
    )
    ports.audit(audit).record_api(
        now,
        principal.key_id,
        principal.role,
        "update_anomaly",
        anomaly_id,
        {"from": current.status.value, "to": target.value, "note": note},
    )
    return Found([updated], not principal.sees_pii, {principal.key_id: principal.name}, now)
