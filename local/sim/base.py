"""What the simulated gateways share: one channel of a gateway type as a `SimGateway` (ids,
notifications, delivery over HTTP, the answer it takes for success), the keys, the statement
entries of a day, the short-lived download links and the small helpers of times and ids. Each
gateway type plays its own part in its module beside this one; local/sim/__init__.py lists them.

Written from GATEWAYS.md alone — independent of chalicelib's signing and parsers, so a misreading
on one side shows up as a failed verification, parse or reconciliation instead of hiding behind
its twin. A forged notification differs from a genuine one only in its signature.
"""

from __future__ import annotations

import functools
import random
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from cryptography.hazmat.primitives.asymmetric import rsa

from ..sim_model import (
    SimPayment,
    SimRefund,
    TradeBook,
    WireNotice,
    minor_digits,
    to_major,
)
from ..sim_server import SimServer

if TYPE_CHECKING:
    from ..sim_refunds import RefundDesk, SimRefundRequest

from ..sim_signing import (
    load_private_key,
    load_public_key,
)

BEIJING = timezone(timedelta(hours=8))
FORM = "application/x-www-form-urlencoded; charset=utf-8"


DOWNLOAD_TTL_S = 30.0  # Alipay's bill URL is valid about 30 s; WeChat's tokens as well
MAX_SKEW_S = 300
_FEN = Decimal("0.01")


def _digits(n: int) -> str:
    return "".join(random.choices(string.digits, k=n))


def _alnum(n: int) -> str:
    return "".join(random.choices(string.ascii_letters + string.digits, k=n))


def _bj_moment(moment: datetime) -> datetime:
    return moment.astimezone(BEIJING)


def _bj_text(moment: datetime) -> str:
    return f"{moment.astimezone(BEIJING):%Y-%m-%d %H:%M:%S}"


def _alipay_time(moment: datetime) -> str:
    return f"{_bj_moment(moment):%Y-%m-%d %H:%M:%S}"


def _rfc3339(moment: datetime) -> str:
    return _bj_moment(moment).isoformat(timespec="seconds")


def exponential(first_s: float, count: int) -> tuple[float, ...]:
    return tuple(first_s * 2**i for i in range(count))


@functools.cache
def forged_rsa_key() -> rsa.RSAPrivateKey:
    """A key no gateway owns: what a forger signs with (made once, RSA-2048 takes a moment)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def read_pem(value: str, base_dir: Path = Path(".")) -> str:
    """A config value holding either PEM text or the path of a PEM file (relative to base_dir)."""
    return value if value.lstrip().startswith("-----BEGIN") else (base_dir / value).read_text()


@dataclass(frozen=True)
class SimKeys:
    """The gateways' own keys. The public ones check paytrack's signed requests (query APIs)."""

    alipay_platform_private: rsa.RSAPrivateKey
    wechat_platform_private: rsa.RSAPrivateKey
    alipay_app_public: rsa.RSAPublicKey
    wechat_merchant_public: rsa.RSAPublicKey

    @classmethod
    def from_config(cls, sim_config: Mapping[str, str]) -> SimKeys:
        return cls(
            alipay_platform_private=load_private_key(
                read_pem(sim_config["alipay_platform_private_key"])
            ),
            wechat_platform_private=load_private_key(
                read_pem(sim_config["wechat_platform_private_key"])
            ),
            alipay_app_public=load_public_key(read_pem(sim_config["alipay_app_public_key"])),
            wechat_merchant_public=load_public_key(
                read_pem(sim_config["wechat_merchant_public_key"])
            ),
        )


@dataclass(frozen=True)
class HttpCall:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


def _percent_of(amount_minor: int, currency: str, rate: str, quantum: str) -> Decimal:
    """`rate` of the amount in major units, rounded half up to `quantum`."""
    major = Decimal(amount_minor).scaleb(-minor_digits(currency))
    return (major * Decimal(rate)).quantize(Decimal(quantum), rounding=ROUND_HALF_UP)


class SimGateway:
    """One channel of one gateway type. Subclasses provide ids, notices and the answer rule."""

    type_name: ClassVar[str]
    retry_delays_s: ClassVar[tuple[float, ...]]  # after attempt 1, 2, …; then it gives up
    #: the channel's URL field paytrack calls, and where the simulator serves it
    url_field: ClassVar[str] = "api_base"
    sim_path: ClassVar[str]
    #: the currencies it takes; an instance may widen it (a cross-border WeChat merchant takes any)
    currencies: frozenset[str] | None = frozenset({"CNY"})

    def __init__(
        self, channel: str, config: Mapping[str, Any], keys: SimKeys, options: Mapping[str, Any]
    ):
        self.channel = channel
        self.config = config

    def new_trade(
        self,
        out_trade_no: str,
        amount_minor: int,
        currency: str,
        subject: str,
        now: datetime,
        *,
        paid: bool,
        trade_no: str | None = None,
        forged: bool = False,
    ) -> SimPayment:
        if self.currencies is not None and currency not in self.currencies:
            raise ValueError(f"{self.type_name} channel {self.channel} does not take {currency}")
        return SimPayment(
            channel=self.channel,
            out_trade_no=out_trade_no,
            trade_no=trade_no or self.new_trade_no(now),
            amount_minor=amount_minor,
            currency=currency,
            subject=subject,
            created_at=now - timedelta(seconds=random.randint(5, 90)),
            paid_at=now if paid else None,
            forged=forged,
            fee=self.fee_of(amount_minor, currency) if paid else Decimal(0),
            **self.trade_extras(),
        )

    def new_trade_no(self, now: datetime) -> str:
        raise NotImplementedError

    def new_refund_id(self) -> str:
        """The gateway's own id of a refund ("" where the statement shows only ours)."""
        return ""

    def trade_extras(self) -> dict[str, Any]:
        return {}

    def fee_of(self, amount_minor: int, currency: str) -> Decimal:
        """What the gateway keeps of a payment, in major units (its statement shows it)."""
        return Decimal(0)

    def payment_notice(self, trade: SimPayment, now: datetime, forged: bool) -> WireNotice:
        raise NotImplementedError

    def refund_notice(
        self, trade: SimPayment, refund: SimRefund, refunded_minor: int, now: datetime, forged: bool
    ) -> WireNotice | None:
        """None: this gateway sends no refund notification."""
        return None

    def close_notice(self, trade: SimPayment, now: datetime, forged: bool) -> WireNotice | None:
        """None: this gateway sends no notification when an unpaid trade closes."""
        return None

    def refund_result_notice(
        self,
        trade: SimPayment,
        refund: SimRefund,
        succeeded: bool,
        metadata: Mapping[str, str],
        now: datetime,
    ) -> WireNotice | None:
        """The notification of a refund asked for through the refund API, once it succeeded or
        failed (`metadata`: what the merchant attached). None: this gateway sends none."""
        return None

    def http_call(self, notice: WireNotice, url: str, now: datetime) -> HttpCall:
        raise NotImplementedError

    def accepted(self, status: int, body: str) -> bool:
        raise NotImplementedError

    @staticmethod
    def key_checks(
        config: Mapping[str, Any], keys: SimKeys
    ) -> list[tuple[str, Callable[[], bool]]]:
        """Per key field of the channel: whether it holds the simulator's key (local/sim_channels.py).
        Empty where the secrets are shared through the channels file itself (the URL decides)."""
        return []

    @staticmethod
    def register_api(
        server: SimServer,
        book: TradeBook,
        gateways: list[SimGateway],
        keys: SimKeys,
        options: Mapping[str, Any],
        desk: RefundDesk,
    ) -> None:
        """Serve the gateway type's API (queries, statements, refunds, lookups) for its channels."""
        raise NotImplementedError


@dataclass
class CrossBorder:
    """A cross-border merchant settling in `currency`: a trade priced in another currency is
    converted at `rates[priced currency]` in major units (19.99 USD x 7.8 = 155.92 HKD; the
    refund at its payment's rate), its fee charged on the settled amount."""

    currency: str
    rates: dict[str, Decimal]

    def convert(self, minor: int, currency: str) -> tuple[int, Decimal | None]:
        """(settled minor, rate); the rate is None when nothing was converted."""
        if currency == self.currency:
            return minor, None
        rate = self.rates[currency]
        major = Decimal(minor).scaleb(-minor_digits(currency)) * rate
        settled = major.scaleb(minor_digits(self.currency)).quantize(
            Decimal(1), rounding=ROUND_HALF_UP
        )
        return int(settled), rate


def _now() -> datetime:
    return datetime.now(UTC)


class Downloads:
    """Statement files handed out under short-lived tokens, as the gateways' download URLs are."""

    def __init__(self, ttl_s: float = DOWNLOAD_TTL_S):
        self._ttl_s = ttl_s
        self._files: dict[str, tuple[float, bytes]] = {}
        self._lock = threading.Lock()

    def put(self, data: bytes) -> str:
        token = secrets.token_urlsafe(16)
        with self._lock:
            now = time.monotonic()
            self._files = {t: f for t, f in self._files.items() if f[0] > now}
            self._files[token] = (now + self._ttl_s, data)
        return token

    def get(self, token: str) -> bytes | None:
        with self._lock:
            expires, data = self._files.get(token, (0.0, b""))
        return data if expires > time.monotonic() else None


def _after_answer(desk: RefundDesk, record: SimRefundRequest, outcome: str) -> None:
    """What the gateway does once it has answered (a notification follows the answer)."""
    timer = threading.Timer(0.2, desk.after_answer, (record, outcome))
    timer.daemon = True
    timer.start()


def _refunded_trade(
    book: TradeBook, channel: str, trade_no: str | None, out_trade_no: str | None
) -> SimPayment | None:
    """The paid trade a refund names: by the gateway's trade number, else the order's first."""
    if trade_no:
        trade = book.by_trade_no(channel, trade_no)
        return trade if trade is not None and trade.paid_at else None
    paid = book.paid(channel, out_trade_no or "")
    return paid[0] if paid else None


def _first_trade(book: TradeBook, channel: str, out_trade_no: str) -> SimPayment | None:
    """The order's trade as a query shows it: its (first) payment, else the closed trade."""
    paid = book.paid(channel, out_trade_no)
    return paid[0] if paid else book.closed(channel, out_trade_no)


@dataclass(frozen=True)
class Entry:
    """One line of a day's statement."""

    kind: str  # payment / refund
    trade: SimPayment
    amount_minor: int
    at: datetime
    refund: SimRefund | None = None

    @property
    def amount(self) -> str:
        return to_major(self.amount_minor, self.trade.currency)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), BEIJING)
    return start, start + timedelta(days=1)


def day_entries(trades: Iterable[SimPayment], day: date, until: datetime) -> list[Entry]:
    start, end = day_bounds(day)
    return entries_between(trades, start, min(end, until))


def entries_between(trades: Iterable[SimPayment], start: datetime, end: datetime) -> list[Entry]:
    entries = []
    for trade in trades:
        if trade.paid_at and trade.in_statement and start <= trade.paid_at < end:
            entries.append(Entry("payment", trade, trade.booked_minor, trade.paid_at))
        entries += [
            Entry("refund", trade, refund.amount_minor, refund.at, refund)
            for refund in trade.refunds
            if start <= refund.at < end
        ]
    return sorted(entries, key=lambda e: e.at)


def returned_fee(entry: Entry, quantum: Decimal) -> Decimal:
    """The part of the fee a refund gives back: proportional to the amount refunded."""
    share = entry.trade.fee * entry.amount_minor / entry.trade.amount_minor
    return share.quantize(quantum, rounding=ROUND_HALF_UP)


def _cn_time(moment: datetime) -> str:
    return f"{moment.astimezone(BEIJING):%Y年%m月%d日 %H:%M:%S}"


def same_key(public: rsa.RSAPublicKey, other: rsa.RSAPublicKey) -> bool:
    return public.public_numbers() == other.public_numbers()
