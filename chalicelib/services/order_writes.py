"""Read-decide-write with optimistic concurrency: the one loop every order change goes through
when it cannot take the ingestion fast path."""

from __future__ import annotations

from collections.abc import Callable

from ..domain.errors import Conflict, NotFound
from ..domain.order import Order, OrderChanges
from ..store import orders as order_store
from ..store.orders import VersionConflict
from . import ports

MAX_ATTEMPTS = 8


def write_with_retry(order: Order, decide: Callable[[Order], OrderChanges]) -> Order:
    """Apply `decide(order)` to the order; on a concurrent change, re-read and decide again.

    `decide` may raise a domain error (refused transition); nothing is written then.
    """
    current = order
    for _ in range(MAX_ATTEMPTS):
        changes = decide(current)
        if not changes.writes:
            return current
        try:
            return ports.orders(order_store).apply_changes(current, changes)
        except VersionConflict:
            current = _reload(order.order_no)
    raise Conflict("the order kept changing under us; retry", {"order_no": order.order_no})


def _reload(order_no: str) -> Order:
    current = ports.orders(order_store).get(order_no)
    if current is None:
        raise NotFound(f"order {order_no} disappeared", {"order_no": order_no})
    return current
