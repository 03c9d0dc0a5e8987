"""What findings do to orders, and what the shop is told. Pure: decisions as values.

- `anomaly_changes`: an anomaly flags its order, leaves an `anomaly` timeline entry and, when its
  rule holds, holds delivery. The timeline entry is the marker that this anomaly was applied to
  this order: applied once, never again — so a replayed stream record, or the same burst seen by
  its next order, cannot hold an order an operator has since released. Nor can a finding made
  from an older image of the order (a lagging stream record, a read from an index): when an
  operator released the order after what the finding saw (`seen_generation`, the releases that
  image held), the anomaly is noted but the order is not held again — re-holding it would undo
  the release with facts the operator had already decided on, and announce `order.held` of the
  release's generation while the release's own record still announces `order.ready`.
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


def release_generation(order: Order) -> int:
    """How many times an operator released a hold of the order (its timeline's `release` entries)."""
    return sum(1 for entry in order.timeline if entry.type == EntryType.RELEASE)


def anomaly_changes(
    order: Order, finding: Finding, now: datetime, seen_generation: int | None = None
) -> OrderChanges:
    """`seen_generation`: the release generation of the order the finding was made from (None:
    made from `order` itself)."""
    if any(
        entry.type == EntryType.ANOMALY and entry.data.get("anomaly_id") == finding.anomaly_id
        for entry in order.timeline
    ):
        return OrderChanges(outcome=Outcome.ALREADY_APPLIED)
    released_since = seen_generation is not None and release_generation(order) > seen_generation
    holds = (
        finding.hold
        and order.delivery_status is not DeliveryStatus.DELIVERED
        and not released_since
    )
    skipped = finding.hold and released_since
    entry = TimelineEntry(
        at=now,
        type=EntryType.ANOMALY,
        source="system",
        message=f"anomaly {finding.rule} ({finding.severity.value})"
        + (": delivery held" if holds else "")
        + (": not held, an operator released the order after it was found" if skipped else ""),
        data={
            "anomaly_id": finding.anomaly_id,
            "rule": finding.rule,
            "severity": finding.severity.value,
            **({"hold": "released_since"} if skipped else {}),
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
    generation = release_generation(order)
    event = ORDER_HELD if order.on_hold else ORDER_READY
    return Announcement(event, f"{event}#{generation}", generation, tuple(order.hold_reasons))
