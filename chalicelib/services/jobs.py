"""Scheduled jobs. Each returns a JSON-able summary (also what POST /admin/jobs/{name} shows)."""
from __future__ import annotations

from typing import Any

from ..domain.clock import utcnow
from ..domain.order import expire
from ..store import orders as order_store
from .order_writes import write_with_retry


def expire_orders() -> dict[str, Any]:
    """Pending orders past their expiry become `expired` (a payment after that is a late one)."""
    now = utcnow()
    expired = 0
    for order in order_store.pending_expired_before(now):
        write_with_retry(order.order_no, lambda current: expire(current, now), _load, order=order)
        expired += 1
    return {"job": "expire_orders", "expired": expired}


def _load(order_no: str):
    return order_store.get(order_no)


JOBS = {"expire_orders": expire_orders}
