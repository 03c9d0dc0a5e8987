"""What findings do to orders, and what the shop is told. Pure: decisions as values.

- `anomaly_changes`: an anomaly flags its order, leaves an `anomaly` timeline entry and, when its
  rule holds, holds delivery. The timeline entry is the marker that this anomaly was applied to
  this order: applied once, never again — so a replayed stream record, or the same burst seen by
  its next order, cannot hold an order an operator has since released.
- `announcement`: which deliverability event the shop gets for a paid order, and its claim key
  (store/claims.py; also the seed of the event's id). Keys are `<event>#<generation>`, the
  generation being how many times an operator released a hold: each generation announces
  `order.ready` once and `order.held` once (at least once on the wire, one event id), so a paid
  order is announced once (ready or held), a hold after ready announces held, and each release
  announces ready again under a fresh key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..anomaly import Finding
from ..order import (
    DeliveryStatus,
    EntryType,
    Order,
    OrderChanges,
    Outcome,
    PayStatus,
    TimelineEntry,
    hold,
)

ORDER_READY = "order.ready"
ORDER_HELD = "order.held"


def anomaly_changes(order: Order, finding: Finding, now: datetime) -> OrderChanges:
    if any(
        entry.type == EntryType.ANOMALY and entry.data.get("anomaly_id") == finding.anomaly_id
        for entry in order.timeline
    ):
        return OrderChanges(outcome=Outcome.ALREADY_APPLIED)
    holds = finding.hold and order.delivery_status is not DeliveryStatus.DELIVERED
    entry = TimelineEntry(
        at=now,
        type=EntryType.ANOMALY,
        source="system",
        message=f"anomaly {finding.rule} ({finding.severity.value})"
        + (": delivery held" if holds else ""),
        data={
            "anomaly_id": finding.anomaly_id,
            "rule": finding.rule,
            "severity": finding.severity.value,
        },
    )
    changes = OrderChanges(outcome=Outcome.APPLIED, timeline=[entry])
    if not order.flagged:
        changes.set["flagged"] = True
    if holds:
        held = hold(order, [finding.rule], now, source="system")
        changes.set.update(held.set)
        changes.timeline.extend(held.timeline)
    return changes


@dataclass(frozen=True)
class Announcement:
    event: str  # order.ready | order.held
    key: str  # its claim key (store/claims.py), the seed of its event id
    generation: int
    reasons: tuple[str, ...]


def announcement(order: Order) -> Announcement | None:
    """The deliverability event the order's current state calls for (None: not paid, or
    already delivered — nothing to decide)."""
    if order.pay_status is not PayStatus.PAID or order.delivery_status is DeliveryStatus.DELIVERED:
        return None
    generation = sum(1 for entry in order.timeline if entry.type == EntryType.RELEASE)
    event = ORDER_HELD if order.on_hold else ORDER_READY
    return Announcement(event, f"{event}#{generation}", generation, tuple(order.hold_reasons))
