"""What one admin request may read: DynamoDB requests, items and wall-clock time.

API Gateway gives up on a request after 29 s while the Lambda function goes on reading, so a
request that would read too much is refused early with a 400 that says how to narrow it
(`read_budget_exceeded`), instead of starving the API. The HTTP edge (web.Guard) opens a budget
for every admin request; the loops that read unboundedly many items (order search and exports,
store/order_search.py and services/export_sources.py) charge it as they go. Outside a request
(stream handlers, scheduled jobs, benchmarks) nothing is charged.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

from ..domain.errors import ReadBudgetExceeded

T = TypeVar("T")

ADMIN_ITEMS = 150_000
ADMIN_REQUESTS = 1_500
ADMIN_SECONDS = 20.0  # well inside API Gateway's 29 s
NARROW = "narrow the time range, add a more selective filter, or ask totals=false"
clock = time.monotonic


@dataclass
class ReadBudget:
    items: int
    requests: int
    seconds: float
    items_read: int = 0
    requests_made: int = 0
    started: float = field(default_factory=lambda: clock())

    def charge(self, items: int = 0, requests: int = 0) -> None:
        self.items_read += items
        self.requests_made += requests
        elapsed = clock() - self.started
        if (
            self.items_read > self.items
            or self.requests_made > self.requests
            or elapsed > self.seconds
        ):
            raise ReadBudgetExceeded(
                f"this request would read more than one request may ({self.items} items, "
                f"{self.requests} requests, {self.seconds:.0f} s): {NARROW}",
                {
                    "items_read": self.items_read,
                    "requests": self.requests_made,
                    "seconds": round(elapsed, 1),
                    "max_items": self.items,
                    "max_requests": self.requests,
                    "max_seconds": self.seconds,
                },
            )


def admin_budget() -> ReadBudget:
    return ReadBudget(ADMIN_ITEMS, ADMIN_REQUESTS, ADMIN_SECONDS)


_current: ContextVar[ReadBudget | None] = ContextVar("read_budget", default=None)


@contextmanager
def within(budget: ReadBudget) -> Iterator[ReadBudget]:
    """Charge every read inside the block to `budget`."""
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def charge(items: int = 0, requests: int = 0) -> None:
    budget = _current.get()
    if budget is not None:
        budget.charge(items, requests)


def metered(results: Iterable[T], page_size: int) -> Iterator[T]:
    """The items of one paged Query, charged as they come: one request when it starts and one
    per `page_size` items after that, one item each."""
    charge(requests=1)
    for count, item in enumerate(results, start=1):
        charge(items=1, requests=1 if count % page_size == 0 else 0)
        yield item
