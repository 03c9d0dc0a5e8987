"""A payment found at the gateway by the gateway's own trade number (the number on the buyer's
receipt), when paytrack never heard of it. Pure: no I/O.

The gateway's answer is shown beside paytrack's order; it is never applied from here. An operator
applies a paid one through the order's `confirm_paid` action, which asks the gateway again by
the order number and goes through ingestion like any query answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .clock import to_api
from .money import Money
from .query import QueryStatus


@dataclass(frozen=True)
class GatewayTrade:
    """What one gateway says of one trade number."""

    channel: str
    trade_no: str
    out_trade_no: str  # the merchant order number the payment belongs to
    status: QueryStatus
    gateway_status: str
    amount: Money | None
    paid_at: datetime | None

    @property
    def paid(self) -> bool:
        return self.status is QueryStatus.PAID

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "trade_no": self.trade_no,
            "out_trade_no": self.out_trade_no,
            "status": self.status.value,
            "gateway_status": self.gateway_status,
            "amount": self.amount.format() if self.amount else None,
            "currency": self.amount.currency if self.amount else None,
            "paid_at": to_api(self.paid_at),
        }
