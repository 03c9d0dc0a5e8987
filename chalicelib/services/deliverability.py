"""Tell the shop whether a paid order may be delivered: `order.ready` or `order.held` (with the
hold reasons) on the events topic, decided in this one place from the order's state and
published once per decision (keys: domain/rules/effects.announcement)."""

from __future__ import annotations

from ..domain.order import Order
from ..domain.rules.effects import Announcement, announcement
from ..platform.observability import logger
from . import events


def announce(order: Order) -> Announcement | None:
    """Publish the deliverability event the order's state calls for, unless it already was.
    Returns it when it was published now."""
    due = announcement(order)
    if due is None or not events.publish_once(
        order, due.event, {"reasons": list(due.reasons), "generation": due.generation}, key=due.key
    ):
        return None
    logger.info(
        f"{due.event} published",
        extra={"order_no": order.order_no, "key": due.key, "reasons": list(due.reasons)},
    )
    return due
