"""The gateway-neutral notice: what a verified gateway event says, whatever gateway sent it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from .errors import NotificationRejected
from .money import Money


class NoticeKind(StrEnum):
    PAYMENT = (
        "payment"  # money arrived (paid); may repeat for the same payment (SUCCESS then FINISHED)
    )
    REFUND = "refund"  # money went back, fully or partly
    CLOSED = "closed"  # the gateway closed the trade unpaid (or a checkout expired)
    INFO = "info"  # worth a timeline line, changes no state (waiting, failed attempt, dispute)


class IngestOutcome(StrEnum):
    """What became of one notification (or a notice we fetched): the word in its audit record
    and the metric it counts towards (services/metrics.py)."""

    APPLIED = "applied"
    ALREADY_APPLIED = "already_applied"
    REFUSED = "refused"  # stored and acknowledged, but the state machine refused it
    DUPLICATE = "duplicate"  # the same event again: already stored
    UNKNOWN_ORDER = "unknown_order"  # stored, kept until its order is registered
    IGNORED = "ignored"  # verified, but nothing we track (answered success)
    REJECTED = "rejected"  # unknown channel, misconfigured, too large, bad signature or format
    STORE_FAILED = "store_failed"  # not stored: answered 503
    CONTENTION = "contention"  # the order stayed busy: answered 503
    CONFLICT = "conflict"  # another event under a stored notice's key: refused, an anomaly


class NoticeSource(StrEnum):
    NOTIFY = "notify"  # the gateway called us
    QUERY = "query"  # we asked the gateway (补单)


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

    def __post_init__(self) -> None:
        """A gateway never owes us a negative amount, and a payment or refund of nothing is no
        event: such a notice is refused where it is read (the notification's failure answer,
        audited; a query answer that does not read), so no order ever sees it."""
        for name in ("amount", "received", "fee", "refunded_total"):
            value = getattr(self, name)
            if value is not None and value.minor < 0:
                raise NotificationRejected("non_positive_amount", f"{name} {value} is negative")
        moves_money = self.kind in (NoticeKind.PAYMENT, NoticeKind.REFUND)
        if moves_money and self.amount is not None and self.amount.minor == 0:
            raise NotificationRejected(
                "non_positive_amount", f"a {self.kind.value} of {self.amount}"
            )

    @property
    def amount_moved(self) -> Money:
        """The amount of a payment or refund notice (one without is refused before it is applied)."""
        if self.amount is None:
            raise ValueError(f"{self.kind.value} notice {self.dedupe_key} carries no amount")
        return self.amount

    @property
    def payment_identity(self) -> str | None:
        return self.payment_ref or self.trade_no


# What makes an event the event it is: a notice delivered again under a stored notice's dedupe
# key must say the same of these (the rest — the raw payload, times, the payer — may be told
# differently by a retry, or by a query beside the notification: epay's share their key).
IDENTITY = ("out_trade_no", "trade_no")  # which order, which gateway payment
SUBSTANCE = ("kind", *IDENTITY, "amount", "refunded_total", "refund_ref")


def _shown(value: object) -> str | None:
    return None if value is None else str(value)


def differences(stored: Notice, again: Notice) -> dict[str, list[str | None]]:
    """What `again`, delivered under `stored`'s dedupe key, says otherwise: {field: [stored's,
    again's]}. Empty for the gateway's retry of the same event. Anything else is another event
    under a used key (a gateway that numbers two payments alike, or a forged or replayed one):
    taking it for a retry would answer success and never apply it, taking it for new would
    apply one event twice.

    Where either came from a query (补单), only IDENTITY must agree: a query's key is the trade's
    state as we key it (query_dedupe_key), and what the trade became beside that state is read
    into the kind and amounts (a Stripe payment refunded since is still `succeeded`). That was
    answered as a duplicate before and still is."""
    compared = IDENTITY if NoticeSource.QUERY in (stored.source, again.source) else SUBSTANCE
    return {
        name: [_shown(getattr(stored, name)), _shown(getattr(again, name))]
        for name in compared
        if getattr(stored, name) != getattr(again, name)
    }
