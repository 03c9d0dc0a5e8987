"""A gateway's statement of one day in our terms: every payment it took and every refund it gave
back, with its fee. Pure: no I/O. The gateway modules parse their own file formats into this.

Statement days are Beijing days (00:00-24:00 UTC+8), the gateways' settlement day.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, NamedTuple

from .errors import PaytrackError
from .money import Money

BEIJING = timezone(timedelta(hours=8))


class LineKind(StrEnum):
    PAYMENT = "payment"  # money taken (Alipay 交易, WeChat SUCCESS, Stripe charge, epay paid)
    REFUND = "refund"  # money given back (退款, REFUND, Stripe refund)
    CLOSED = "closed"  # the gateway lists the trade as closed or revoked: no money moved


class StatementLine(NamedTuple):
    """One line of the statement. Amounts are positive; `kind` says which way the money went.
    (A tuple: a statement has a hundred thousand of them.)

    `amount` is in the currency the buyer was charged (the presentment currency: what the order
    says, what matching compares). A line the gateway converted into the account's settlement
    currency (a Stripe account settling in HKD charging USD, a cross-border bill) carries the
    converted gross as `settled` and the gateway's `rate` (settled = amount x rate, in major
    units); its `fee` and `net` are in the settlement currency."""

    line_no: int  # where it is in the file (physical line, or item n of a list)
    kind: LineKind
    out_trade_no: str  # our order number; "" when the statement does not carry it
    trade_no: str  # the gateway's trade number
    amount: Money  # a payment's gross (订单金额) or the amount refunded
    fee: Money | None = None  # charged on a payment, returned on a refund; None: not stated
    received: Money | None = None  # what the merchant got before the fee (商家实收, 应结订单金额)
    at: datetime | None = None
    status: str = ""  # the gateway's own word for the line
    refund_ref: str | None = (
        None  # the refund's id or request number (退款批次号/请求号, 商户退款单号)
    )
    settled: Money | None = (
        None  # the gross converted into the settlement currency; None: not converted
    )
    rate: str | None = None  # the conversion rate as the gateway states it ("7.8")

    @property
    def settlement_currency(self) -> str:
        return (self.settled or self.amount).currency

    @property
    def booked(self) -> Money:
        """The gross the merchant's account was credited (or debited) with, before the fee, in
        the settlement currency (positive)."""
        return self.settled or self.received or self.amount

    @property
    def net_minor(self) -> int:
        """What this line moved into (+) or out of (-) the merchant's account after the fee,
        in minor units of the settlement currency."""
        if self.kind is LineKind.CLOSED:
            return 0
        gross = self.booked.minor - (self.fee.minor if self.fee is not None else 0)
        return -gross if self.kind is LineKind.REFUND else gross

    @property
    def net(self) -> Money:
        return Money(self.net_minor, self.settlement_currency)


@dataclass(frozen=True)
class Statement:
    """The statement of one channel and Beijing day.

    `covers_until` is set when the statement ends before the day does (today's statement from a
    gateway that serves one, or a list read at a given time): the ledger is compared up to there.
    `complete` is False when the gateway could not list the whole day (epay's order list only
    reaches back so far); the reconciliation then asks the gateway about each ledger order.
    `raw` is the statement file itself when the gateway serves one (Alipay, WeChat Pay).
    `refunds_dated` is False when the statement lists a refund on its payment's day rather than
    its own (epay's order list has no refund time): the refunds made here in the day of orders
    paid before it are then asked about one by one.
    """

    channel: str
    day: date
    lines: list[StatementLine]
    source: str = ""
    covers_until: datetime | None = None
    complete: bool = True
    refunds_dated: bool = True
    account: str | None = None
    account_fees: tuple[
        Money, ...
    ] = ()  # the gateway's own charges that are no trade (Stripe's Radar fee)
    raw: bytes | None = field(
        default=None, repr=False
    )  # the file as the gateway served it, to archive
    raw_suffix: str = ""


class StatementUnparseable(PaytrackError):
    """The gateway's statement does not read as its format says: never reconcile a guess.

    The message names the file, the line and the reason, never a secret."""

    code = "statement_unparseable"

    def __init__(self, source: str, line: int | None, reason: str):
        where = f"{source}, line {line}" if line is not None else source
        super().__init__(
            f"statement {where}: {reason}", {"source": source, "line": line, "reason": reason}
        )
        self.source, self.line, self.reason = source, line, reason


class StatementNotReady(PaytrackError):
    """The gateway has no statement for that day (yet): WeChat bills are ready after 10:00 the
    next day; a day without trades has no Alipay bill."""

    code = "statement_not_ready"


# ------------------------------------------------------------------ Beijing days


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The Beijing day as a UTC interval [start, end)."""
    start = datetime.combine(day, time(0), BEIJING).astimezone(UTC)
    return start, start + timedelta(days=1)


def beijing_day(moment: datetime) -> date:
    return moment.astimezone(BEIJING).date()


def yesterday(now: datetime) -> date:
    """The last complete Beijing day: what the daily jobs reconcile and digest."""
    return beijing_day(now) - timedelta(days=1)


def parse_day(text: Any) -> date:
    """A `YYYY-MM-DD` date, or a ValueError that says so."""
    if not isinstance(text, str) or len(text) != 10:
        raise ValueError(f"date must be YYYY-MM-DD, got {text!r}")
    return date.fromisoformat(text)


def beijing_time(text: str) -> datetime:
    """`yyyy-MM-dd HH:mm:ss` in Beijing time (Alipay, WeChat bills, epay), aware in UTC+8.

    A ValueError for anything else. (fromisoformat: a statement has one time per line, and
    strptime would cost more than the rest of the line's parsing.)"""
    if len(text) != 19 or text[10] != " ":
        raise ValueError(f"time {text!r} is not yyyy-MM-dd HH:mm:ss")
    return datetime.fromisoformat(text + "+08:00")


def stated_rate(text: str) -> str:
    """A conversion rate as a statement writes it ("7.84239700"), normalized ("7.842397"); a
    ValueError unless it is a positive decimal number."""
    try:
        value = Decimal(text.strip()) if text.strip() else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value <= 0:
        raise ValueError(f"rate {text[:20]!r} is not a positive number")
    return format(value.normalize(), "f")


def read_at(statement: Statement, now: datetime) -> Statement:
    """The statement as read at `now`: a day not over yet (a gateway that serves one) is covered
    only up to then, or up to where the statement itself says it ends if that is earlier."""
    end = day_bounds(statement.day)[1]
    covers = min(c for c in (statement.covers_until, now, end) if c is not None)
    return replace(statement, covers_until=covers) if covers < end else statement
