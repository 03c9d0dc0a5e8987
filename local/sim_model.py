"""What the simulated gateways keep: trades, the notifications they owe, every delivery attempt."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# Currencies without minor units (Stripe's list); every other one here has two.
ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)


def minor_digits(currency: str) -> int:
    return 0 if currency.upper() in ZERO_DECIMAL else 2


def to_minor(amount: str, currency: str) -> int:
    """`"58.00"` CNY -> 5800; refuses values with more digits than the currency has."""
    try:
        minor = Decimal(amount).scaleb(minor_digits(currency))
    except InvalidOperation:
        minor = Decimal("NaN")
    if not minor.is_finite() or minor != minor.to_integral_value() or minor <= 0:
        raise ValueError(f"amount {amount!r} is not a positive {currency} amount")
    return int(minor)


def to_major(minor: int, currency: str) -> str:
    """5800 CNY -> `"58.00"`; 1999 JPY -> `"1999"`."""
    digits = minor_digits(currency)
    return f"{Decimal(minor).scaleb(-digits):.{digits}f}"


@dataclass(frozen=True)
class WireNotice:
    """A notification as the gateway will send it. `payload` is fixed across retries; WeChat and
    Stripe sign each attempt afresh (timestamped headers), Alipay and epay sign inside it."""

    event_key: str  # what paytrack dedupes on: notify_id, event id, epay trade_no
    event_type: str  # trade_status / event_type / Stripe type, for logs
    payload: bytes  # form body, JSON body or (epay) query string
    forged: bool = False


@dataclass(frozen=True)
class Attempt:
    at: datetime
    status: int | None  # None: no HTTP answer (refused, timed out)
    body: str
    accepted: bool

    def summary(self) -> str:
        """How the answer reads in a log line: `success`, `fail`, `HTTP 204`, `no answer (…)`."""
        if self.status is None:
            return f"no answer ({self.body})"
        if self.status == 200 and self.body.isalpha() and len(self.body) <= 20:
            return self.body
        return f"HTTP {self.status}" + (f" {self.body[:80]}" if self.body else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "status": self.status,
            "body": self.body,
            "accepted": self.accepted,
        }


@dataclass(eq=False)
class SimEvent:
    """One notification the gateway delivers, and every attempt so far.

    `outcome` is `pending` until paytrack gives the gateway's success answer (`accepted`), the
    retry schedule runs out (`exhausted`) or the simulator stops (`stopped`).
    """

    seq: int
    channel: str
    gateway: str
    action: str  # pay / refund / close
    out_trade_no: str
    trade_no: str
    notice: WireNotice
    resend_of: int | None = None
    attempts: list[Attempt] = field(default_factory=list)
    outcome: str = "pending"
    _cv: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def record(self, attempt: Attempt) -> None:
        with self._cv:
            self.attempts.append(attempt)
            self._cv.notify_all()

    def settle(self, outcome: str) -> None:
        with self._cv:
            if self.outcome == "pending":
                self.outcome = outcome
            self._cv.notify_all()

    def wait_answered(self, timeout: float) -> bool:
        """Wait for the first attempt's answer (or lack of one)."""
        with self._cv:
            return self._cv.wait_for(lambda: bool(self.attempts), timeout)

    def wait_settled(self, timeout: float) -> bool:
        with self._cv:
            return self._cv.wait_for(lambda: self.outcome != "pending", timeout)

    def as_dict(self) -> dict[str, Any]:
        with self._cv:
            return {
                "seq": self.seq,
                "channel": self.channel,
                "gateway": self.gateway,
                "action": self.action,
                "event_type": self.notice.event_type,
                "event_key": self.notice.event_key,
                "out_trade_no": self.out_trade_no,
                "trade_no": self.trade_no,
                "forged": self.notice.forged,
                "resend_of": self.resend_of,
                "outcome": self.outcome,
                "attempts": [a.as_dict() for a in self.attempts],
            }


@dataclass(frozen=True)
class SimRefund:
    refund_no: str
    amount_minor: int
    at: datetime
    notified: bool = True
    refund_id: str = ""  # the gateway's own refund id (WeChat refund_id, Stripe re_…)


@dataclass(eq=False)
class SimPayment:
    """A trade as the gateway knows it, with the notification that announced it.

    The statement fields inject what reconciliation must find: `statement_amount_minor` is the
    amount the gateway's books (and statement) hold when it differs from what it notified;
    `in_statement=False` leaves the trade off the statement (reversed at the gateway).
    """

    channel: str
    out_trade_no: str
    trade_no: str
    amount_minor: int
    currency: str
    subject: str
    created_at: datetime
    paid_at: datetime | None  # None: never paid (a trade that closed or expired)
    payer: str = ""  # Alipay buyer_id, WeChat openid
    method: str | None = None  # epay `type`: alipay / wxpay
    refs: dict[str, str] = field(default_factory=dict)  # Stripe session and charge ids
    forged: bool = False  # never happened at the gateway: not in its ledger
    refunded_minor: int = 0
    refund_count: int = 0
    event: SimEvent | None = None  # None: the gateway never notified this trade
    fee: Decimal = Decimal(0)  # the gateway's fee in major units (WeChat: five decimals)
    refunds: list[SimRefund] = field(default_factory=list)
    statement_amount_minor: int | None = None
    in_statement: bool = True

    @property
    def amount(self) -> str:
        return to_major(self.amount_minor, self.currency)

    @property
    def booked_minor(self) -> int:
        """The amount the gateway's books hold (what its statement shows)."""
        return (
            self.amount_minor
            if self.statement_amount_minor is None
            else self.statement_amount_minor
        )

    @property
    def attempts(self) -> list[Attempt]:
        """The delivery attempts of the notification that announced this trade."""
        return self.event.attempts if self.event else []

    def wait_settled(self, timeout: float) -> bool:
        return self.event.wait_settled(timeout) if self.event else True


class TradeBook:
    """Every trade of every channel: what the query APIs answer from and statements are built
    from. Thread-safe: HTTP handlers read while the simulator adds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paid: dict[tuple[str, str], list[SimPayment]] = defaultdict(list)
        self._closed: dict[tuple[str, str], SimPayment] = {}
        self._order: list[SimPayment] = []

    def snapshot(self) -> tuple[dict, dict, list]:
        """Every trade as it is now, for `restore` (the fault sweeps put the simulator back to a
        checkpoint before each case, with moto: statements list every trade of the day)."""
        with self._lock:
            return (
                {key: list(trades) for key, trades in self._paid.items()},
                dict(self._closed),
                list(self._order),
            )

    def restore(self, state: tuple[dict, dict, list]) -> None:
        """The trades as `snapshot` found them."""
        paid, closed, order = state
        with self._lock:
            self._paid.clear()
            self._paid.update({key: list(trades) for key, trades in paid.items()})
            self._closed.clear()
            self._closed.update(closed)
            self._order[:] = order

    def add_paid(self, trade: SimPayment) -> None:
        with self._lock:
            self._paid[(trade.channel, trade.out_trade_no)].append(trade)
            self._order.append(trade)

    def add_closed(self, trade: SimPayment) -> None:
        with self._lock:
            self._closed[(trade.channel, trade.out_trade_no)] = trade
            self._order.append(trade)

    def paid(self, channel: str, out_trade_no: str) -> list[SimPayment]:
        with self._lock:
            return list(self._paid.get((channel, out_trade_no), ()))

    def closed(self, channel: str, out_trade_no: str) -> SimPayment | None:
        with self._lock:
            return self._closed.get((channel, out_trade_no))

    def by_trade_no(self, channel: str, trade_no: str) -> SimPayment | None:
        with self._lock:
            return next(
                (
                    t
                    for t in self._order
                    if t.channel == channel
                    and trade_no in (t.trade_no, t.refs.get("charge"), t.refs.get("session"))
                ),
                None,
            )

    def of_channel(self, channel: str) -> Iterator[SimPayment]:
        """A snapshot of the channel's trades, oldest first."""
        with self._lock:
            trades = [t for t in self._order if t.channel == channel]
        return iter(trades)

    def add_refund(self, trade: SimPayment, refund: SimRefund) -> None:
        with self._lock:
            trade.refunds.append(refund)
            trade.refunded_minor += refund.amount_minor
            trade.refund_count += 1
