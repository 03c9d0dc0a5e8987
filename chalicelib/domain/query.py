"""What a gateway says when we ask it about one order (补单), and when to ask next. Pure: no I/O.

A query answer that moves money is a `Notice` with source QUERY, applied through the same
ingestion path as a notification: same dedupe, same checks. Its `payment_ref` is the gateway's
trade number, as in the notification of the same payment, so a notification arriving after the
query is recognised as that payment and never counted as a second one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .notice import Notice


class QueryStatus(StrEnum):
    PAID = "paid"  # the gateway took the money: apply the notice
    NOT_PAID = "not_paid"  # the trade exists and waits for the buyer (or a failed attempt)
    NOT_FOUND = "not_found"  # no trade yet: "not paid", never an error
    CLOSED = "closed"  # closed unpaid at the gateway
    REFUNDED = "refunded"  # paid and refunded since: recorded, never applied as a payment


@dataclass(frozen=True)
class QueryResult:
    status: QueryStatus
    gateway_status: str  # the gateway's own word: TRADE_SUCCESS, NOTPAY, ORDER_NOT_EXIST, ...
    notice: Notice | None = None

    @property
    def describe(self) -> str:
        return f"{self.gateway_status} ({self.status.value})"


def query_dedupe_key(channel: str, ref: str, gateway_status: str) -> str:
    """Repeated queries of one unchanged trade are one notice: the second is a duplicate."""
    return f"{channel}:query:{ref}:{gateway_status}"


def next_query_at(
    created_at: datetime, expires_at: datetime, now: datetime, backoff: Sequence[timedelta]
) -> datetime | None:
    """The next time a pending order is worth asking about: each backoff step after creation
    (1, 2, 5, 10 minutes), then once more at expiry; None after that (expiry asks last)."""
    for step in backoff:
        if created_at + step > now:
            return min(created_at + step, expires_at)
    return expires_at if expires_at > now else None
