"""What the simulated gateways keep: trades, the notifications they owe, every delivery attempt."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# Currencies without minor units (Stripe's list); every other one here has two.
ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())


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

    event_key: str        # what paytrack dedupes on: notify_id, event id, epay trade_no
    event_type: str       # trade_status / event_type / Stripe type, for logs
    payload: bytes        # form body, JSON body or (epay) query string
    forged: bool = False


@dataclass(frozen=True)
class Attempt:
    at: datetime
    status: int | None    # None: no HTTP answer (refused, timed out)
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
        return {"at": self.at.isoformat(), "status": self.status, "body": self.body,
                "accepted": self.accepted}


@dataclass(eq=False)
class SimEvent:
    """One notification the gateway delivers, and every attempt so far.

    `outcome` is `pending` until paytrack gives the gateway's success answer (`accepted`), the
    retry schedule runs out (`exhausted`) or the simulator stops (`stopped`).
    """

    seq: int
    channel: str
    gateway: str
    action: str           # pay / refund / close
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
            return {"seq": self.seq, "channel": self.channel, "gateway": self.gateway,
                    "action": self.action, "event_type": self.notice.event_type,
                    "event_key": self.notice.event_key, "out_trade_no": self.out_trade_no,
                    "trade_no": self.trade_no, "forged": self.notice.forged,
                    "resend_of": self.resend_of, "outcome": self.outcome,
                    "attempts": [a.as_dict() for a in self.attempts]}


@dataclass(eq=False)
class SimPayment:
    """A trade as the gateway knows it, with the notification that announced it."""

    channel: str
    out_trade_no: str
    trade_no: str
    amount_minor: int
    currency: str
    subject: str
    created_at: datetime
    paid_at: datetime | None         # None: never paid (a trade that closed or expired)
    payer: str = ""                  # Alipay buyer_id, WeChat openid
    method: str | None = None        # epay `type`: alipay / wxpay
    refs: dict[str, str] = field(default_factory=dict)   # Stripe session and charge ids
    forged: bool = False             # never happened at the gateway: not in its ledger
    refunded_minor: int = 0
    refund_count: int = 0
    event: SimEvent | None = None

    @property
    def amount(self) -> str:
        return to_major(self.amount_minor, self.currency)

    @property
    def attempts(self) -> list[Attempt]:
        """The delivery attempts of the notification that announced this trade."""
        return self.event.attempts

    def wait_settled(self, timeout: float) -> bool:
        return self.event.wait_settled(timeout)
