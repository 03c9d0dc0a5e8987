"""The gateway-neutral notice: what a verified gateway event says, whatever gateway sent it."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from .money import Money


class NoticeKind(str, Enum):
    PAYMENT = "payment"      # money arrived (paid); may repeat for the same payment (SUCCESS then FINISHED)
    REFUND = "refund"        # money went back, fully or partly
    CLOSED = "closed"        # the gateway closed the trade unpaid (or a checkout expired)
    INFO = "info"            # worth a timeline line, changes no state (waiting, failed attempt, dispute)


class NoticeSource(str, Enum):
    NOTIFY = "notify"        # the gateway called us
    QUERY = "query"          # we asked the gateway (补单)


@dataclass(frozen=True)
class Notice:
    """One verified gateway event, already parsed into our terms.

    `dedupe_key` identifies the event across the gateway's retries (Alipay notify_id, WeChat id,
    Stripe event id, epay trade_no+status); `payment_ref` identifies the payment itself (the
    gateway's trade number), so two events about one payment are never counted as two payments.
    An empty `out_trade_no` means the event names only the payment (a Stripe refund of a Checkout
    payment): ingestion finds the order through an earlier notice with the same `trade_no`.
    """

    channel: str
    gateway: str
    kind: NoticeKind
    dedupe_key: str
    out_trade_no: str
    trade_no: str | None
    amount: Money | None
    gateway_status: str
    event_time: datetime | None
    raw: dict[str, Any]
    payment_ref: str | None = None
    received: Money | None = None
    fee: Money | None = None
    refunded_total: Money | None = None
    refund_ref: str | None = None
    method: str | None = None
    payer: str | None = None
    source: NoticeSource = NoticeSource.NOTIFY
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def payment_identity(self) -> str | None:
        return self.payment_ref or self.trade_no
