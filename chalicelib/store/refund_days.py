"""The orders whose refunds moved money on a day, whatever day they were paid: what reconciliation
adds to the day's ledger beside the orders paid in it (by_paid).

One item per channel, instant and order (models.RefundDayModel), partitioned by the instant's
UTC day and sorted by the instant, so a window is one bounded Query per UTC day. An order's two
partial refunds on two days are two items: neither hides the other, as an order-level
"refunded day" would.

The item is written *before* the order's change (store/orders.apply_changes): a crash between
the two leaves an item whose order has nothing refunded at that instant, which reconciliation
reads and finds nothing to report in — never a refund no item points to. An unconditional
PutItem of the same key again is the same item, so a retried write adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ..domain.clock import day_of, to_iso, utc_days
from .models import RefundDayModel


def _bucket(channel: str, day: str) -> str:
    return f"refunds#{channel}#{day}"


def record(order_no: str, moved: Iterable[tuple[str, datetime]]) -> None:
    """Note that the order's refunds moved money on each (channel, instant)."""
    for channel, at in sorted(moved):
        RefundDayModel(
            _bucket(channel, day_of(at)), f"{to_iso(at)}#{order_no}", order_no=order_no
        ).save()


def orders_refunded_between(channel: str, start: datetime, end: datetime) -> set[str]:
    """The channel's orders whose refunds moved money in [start, end): one paged Query per UTC
    day. `dim` is "<ISO time>#<order_no>" and ISO times are fixed-width, so every item of an
    instant in the window sorts between the window's start and its end (exclusive)."""
    found: set[str] = set()
    for day in utc_days(start, end):
        for item in RefundDayModel.query(
            _bucket(channel, day),
            RefundDayModel.dim.between(to_iso(start), to_iso(end)),
            attributes_to_get=["order_no"],
        ):
            found.add(item.order_no)
    return found
