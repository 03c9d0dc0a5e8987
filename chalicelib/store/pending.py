"""Pending orders for 补单: which are due for a gateway query now (and which are past expiry),
and the trace each query leaves on its order (a timeline entry and when to ask next).

The trace is an append and a `next_query_at` set in one UpdateItem that does not bump the
order's version: asking the gateway changes nothing the order's state machines decide on, so
it never makes a concurrent decision retry.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import islice

from pynamodb.expressions.update import Action

from ..domain.clock import to_iso
from ..domain.order import Order, PayStatus, TimelineEntry
from .models import OrderModel
from .orders import timeline_to_map, to_domain

#: orders expire at most 7 days after creation; one more day covers the grace after expiry
LOOKBACK = timedelta(days=8)
KEEP = object()  # record_query: leave next_query_at as it is


def due_for_query(now: datetime, min_age: timedelta, grace: timedelta, limit: int) -> list[Order]:
    """Pending orders older than `min_age`, not past expiry plus `grace`, whose next query time
    has come (or who were never asked): the by_status index bounded by creation time, narrowed by
    a filter; oldest first, at most `limit`."""
    due = (
        OrderModel.next_query_at.does_not_exist() | (OrderModel.next_query_at <= to_iso(now))
    ) & (OrderModel.expires_at > to_iso(now - grace))
    items = OrderModel.by_status.query(
        PayStatus.PENDING.value,
        OrderModel.created_at.between(to_iso(now - LOOKBACK), to_iso(now - min_age)),
        filter_condition=due,
    )
    return [to_domain(item) for item in islice(items, limit)]


def expired_before(now: datetime) -> Iterator[Order]:
    """Pending orders whose expiry has passed, oldest first: the by_status index bounded by
    creation time (`LOOKBACK`), narrowed by a filter on expires_at."""
    for item in OrderModel.by_status.query(
        PayStatus.PENDING.value,
        OrderModel.created_at.between(to_iso(now - LOOKBACK), to_iso(now)),
        filter_condition=OrderModel.expires_at <= to_iso(now),
    ):
        yield to_domain(item)


def record_query(
    order_no: str, entry: TimelineEntry, next_query_at: datetime | object | None = KEEP
) -> None:
    """Append the query's timeline entry and set when to ask next (None: never again)."""
    actions: list[Action] = [
        OrderModel.timeline.set(OrderModel.timeline.append([timeline_to_map(entry)]))
    ]
    if next_query_at is None:
        actions.append(OrderModel.next_query_at.remove())
    elif isinstance(next_query_at, datetime):
        actions.append(OrderModel.next_query_at.set(to_iso(next_query_at)))
    OrderModel(order_no).update(actions=actions, condition=OrderModel.order_no.exists())
