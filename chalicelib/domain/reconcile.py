"""Reconciliation of one channel and Beijing day: the gateway's statement against our ledger.
Pure: no I/O.

Every statement line, every ledger payment of the day and every refund made here in the day
(whatever day its order was paid) ends in exactly one result line:

- `matched`: the same payment (or refund) on both sides, same amount;
- `amount_mismatch`: the same payment, different amounts;
- `status_mismatch`: refunded or closed at the gateway and not here, or the reverse;
- `missing_here` (长款): the gateway took money our ledger lacks or shows unpaid;
- `missing_there` (短款): we show paid, the gateway's statement does not;
- `duplicate`: a second payment for one order, or a line the statement repeats.

Each result line carries its signed amount on both sides (+ payment, - refund), so the day's
difference between statement and ledger is the sum of the line differences: explained line by
line. `unexplained` re-derives the statement's total from the statement itself; anything but
zero means a line was lost or counted twice (a bug, never a business case).

Refund lines are matched to paytrack's own refund requests (domain/refunds.py) when the line
names one: by the request id the gateway dedupes on (Alipay 退款请求号, WeChat 商户退款单号) or
the gateway's refund id (Stripe `re_…`). Each request is then checked on its own — the refund
the gateway made and paytrack did not ask for (`unknown refund`), the one paytrack shows
succeeded that the statement lacks (`missing at the gateway`), a different amount, a request
not succeeded here — so two partial refunds of one order are two results, not one sum. A line
without a refund id (epay), or one naming a refund paytrack recorded by hand, is compared with
the order's refunded total, cumulatively, as before.

Matching compares what the buyer was charged (the presentment amount and currency, what the
order holds); a line the gateway converted into another settlement currency carries its
converted gross, fee and net in that currency with the rate, and those are summed per
settlement currency and written onto the order as such — never as if they were in the order's
currency.

A channel may state the fee rate its contract sets (`fee_rate`): each statement fee is checked
against it, and a day where the gateway charged more (or less) than the contract is reported.

A day holds up to hundreds of thousands of lines, so it is one streaming pass: each result line
is counted and summed (integer minor units) as it is decided; only the lines that are not
matched are kept. The day's bulk — a payment line that is its order's first payment, paid here
for the same amount — is told apart in that pass and counted without a result line, each run of
it between other lines by C iterators (`_Matcher.decide`, `_Matcher.matched_run`).
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import cache, cached_property
from itertools import chain, compress, count, repeat
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple, cast

from .anomaly import Finding, Severity
from .money import Money
from .order import PAID_STATES
from .refunds import RefundRequest, RefundState
from .statement import LineKind, Statement, StatementLine


class Result(StrEnum):
    MATCHED = "matched"
    AMOUNT_MISMATCH = "amount_mismatch"
    STATUS_MISMATCH = "status_mismatch"
    MISSING_HERE = "missing_here"
    MISSING_THERE = "missing_there"
    DUPLICATE = "duplicate"


#: money we show as received that the gateway does not confirm
CRITICAL_RESULTS = frozenset({Result.MISSING_THERE, Result.AMOUNT_MISMATCH})


class LedgerPayment(NamedTuple):
    ref: str  # the gateway's trade number (Notice.payment_ref)
    amount: Money


_PAID = frozenset(status.value for status in PAID_STATES)


class LedgerEntry(NamedTuple):
    """What reconciliation needs of one order (a lean projection, not the whole order)."""

    order_no: str
    pay_status: str  # a PayStatus value
    payments: tuple[LedgerPayment, ...]  # the first is the order's payment; more are duplicates
    refunded: Money | None = None
    refunded_at: datetime | None = None
    fee: Money | None = None  # the statement fee written by an earlier run (settlement currency)
    net: Money | None = None
    rate: str | None = None  # the conversion rate written with them, when converted
    refunds: tuple[RefundRequest, ...] = ()  # paytrack's refund requests, when they were read

    @property
    def paid(self) -> bool:
        return self.pay_status in _PAID

    def payment(self, ref: str) -> LedgerPayment | None:
        return next((p for p in self.payments if p.ref == ref), None)

    def refund_named(self, ref: str) -> RefundRequest | None:
        """The refund request a statement's refund id names: ours, or the gateway's for it."""
        return next(
            (r for r in self.refunds if ref in (r.refund_request_id, r.gateway_refund_id)), None
        )

    def refunded_otherwise(self, currency: str) -> int:
        """The refunded total less what paytrack's succeeded requests on the sale made: refunds
        recorded by hand or learnt from the gateway's notices (minor units)."""
        sale = self.payments[0].ref if self.payments else None
        by_requests = sum(
            r.amount.minor
            for r in self.refunds
            if r.state is RefundState.SUCCEEDED and r.trade_no == sale
        )
        return max(_refunded_minor(self, currency) - by_requests, 0)


class DayLedger:
    """The orders paid in the day, as columns: a day holds a hundred thousand. An order as the
    day should have it — one payment, not refunded, no statement fee written yet, no refund
    requests read — is its order number, pay status, payment reference and amount at one
    position of four parallel lists, with no object of its own; any other order is its
    LedgerEntry in `odd` (by position; its reference and amount None). Iterating gives each
    order's LedgerEntry, in order."""

    __slots__ = ("amounts", "odd", "order_nos", "refs", "statuses")

    def __init__(self) -> None:
        self.order_nos: list[str] = []
        self.statuses: list[str] = []  # PayStatus values
        self.refs: list[str | None] = []  # the payment's reference; None: the order is in `odd`
        self.amounts: list[Money | None] = []
        self.odd: dict[int, LedgerEntry] = {}

    @classmethod
    def of(cls, entries: Iterable[LedgerEntry]) -> DayLedger:
        day = cls()
        for entry in entries:
            day.add(entry)
        return day

    def add(self, entry: LedgerEntry) -> None:
        payments = entry.payments
        ref: str | None
        amount: Money | None
        if len(payments) == 1 and entry[3:] == _PLAIN_REST:  # refunded … refunds: none
            ref, amount = payments[0]
        else:
            self.odd[len(self.order_nos)] = entry
            ref = amount = None
        self.order_nos.append(entry.order_no)
        self.statuses.append(entry.pay_status)
        self.refs.append(ref)
        self.amounts.append(amount)

    def entry(self, position: int) -> LedgerEntry:
        odd = self.odd.get(position)
        if odd is not None:
            return odd
        ref, amount = self.refs[position], self.amounts[position]
        assert ref is not None and amount is not None  # a plain order has both
        return LedgerEntry(
            self.order_nos[position], self.statuses[position], (LedgerPayment(ref, amount),)
        )

    def __len__(self) -> int:
        return len(self.order_nos)

    def __iter__(self) -> Iterator[LedgerEntry]:
        return map(self.entry, range(len(self.order_nos)))

    def payment_refs(self) -> set[str]:
        """Every payment reference of the day's orders."""
        refs = cast(set[str], set(self.refs) - {None})  # None: an odd order's place
        return refs | {p.ref for entry in self.odd.values() for p in entry.payments}

    def attach_refunds(self, requests: Mapping[str, tuple[RefundRequest, ...]]) -> None:
        """Each named order's refund requests onto its entry (matched one by one to refund
        lines), which moves it to `odd`."""
        if not requests:
            return
        for position in compress(count(), map(requests.__contains__, self.order_nos)):
            entry = self.entry(position)
            self.odd[position] = entry._replace(refunds=requests[entry.order_no])
            self.refs[position] = self.amounts[position] = None


#: a plain LedgerEntry's fields after its payments: no refund, no statement fee, no requests
_PLAIN_REST = (None, None, None, None, None, ())


def refund_orders(
    statement: Statement, entries: Iterable[LedgerEntry], day: DayLedger | None = None
) -> set[str]:
    """The orders whose refund requests matching needs (read from their timelines, which the
    lean ledger projection leaves out): refunded ones, those with a second payment (refunded on
    its own trade number) and those a statement refund line names — of `entries` and of `day`
    (whose plain orders are neither refunded nor paid twice)."""
    named = {line.out_trade_no for line in statement.lines if line.kind is LineKind.REFUND}
    named_trades = {line.trade_no for line in statement.lines if line.kind is LineKind.REFUND}
    found = {
        e.order_no
        for e in chain(entries, day.odd.values() if day is not None else ())
        if (e.refunded is not None and e.refunded.minor > 0)
        or len(e.payments) > 1
        or e.order_no in named
        or any(p.ref in named_trades for p in e.payments)
    }
    if day is not None and (named or named_trades):
        found.update(
            compress(
                day.order_nos,
                map(
                    operator.or_,
                    map(named.__contains__, day.order_nos),
                    map(named_trades.__contains__, day.refs),
                ),
            )
        )
    return found


class ResultLine(NamedTuple):
    result: Result
    kind: LineKind
    statement: Money  # signed: what the statement line moved; zero when it has none
    ledger: Money  # signed: what our ledger holds for it; zero when it has none
    out_trade_no: str
    trade_no: str
    order_no: str | None = None
    source: StatementLine | None = None  # the statement's line; None for a ledger-only line
    ledger_status: str = ""
    note: str = ""
    at: datetime | None = None
    refund_request_id: str | None = None  # paytrack's refund request the line is about

    @property
    def difference(self) -> Money | None:
        """Statement minus ledger; None when the two sides are in different currencies."""
        if self.statement.currency != self.ledger.currency:
            return None
        return Money(self.statement.minor - self.ledger.minor, self.statement.currency)

    @property
    def fee(self) -> Money | None:
        return self.source.fee if self.source is not None else None

    @property
    def net(self) -> Money | None:
        return self.source.net if self.source is not None else None

    @property
    def key(self) -> str:
        """Stable across re-runs of the same statement: the anomaly subject of this line."""
        if self.source is None and self.refund_request_id:  # one per request of a trade
            return f"{self.kind.value}#{self.trade_no or self.order_no}#0#{self.refund_request_id}"
        line_no = self.source.line_no if self.source is not None else 0
        return f"{self.kind.value}#{self.trade_no or self.order_no}#{line_no}"


class FeeUpdate(NamedTuple):
    """The statement's fee and net (手续费, 实际到账) for an order that does not hold them yet, in
    the settlement `currency`; a converted payment also has its converted gross and the rate."""

    order_no: str
    currency: str
    fee_minor: int
    net_minor: int
    settled_minor: int | None = None
    rate: str | None = None


class FeeDeviation(NamedTuple):
    """A statement fee that is not what the channel's contracted rate gives."""

    order_no: str | None
    trade_no: str
    expected: Money
    charged: Money


@dataclass
class Reconciliation:
    channel: str
    day: date
    summary: dict[str, Any]
    unmatched: list[tuple[int, ResultLine]] = field(
        default_factory=list
    )  # (1-based position, line)
    fee_updates: list[FeeUpdate] = field(default_factory=list)
    fee_deviations: list[FeeDeviation] = field(default_factory=list)


@cache
def _zero(currency: str) -> Money:
    return Money(0, currency)


def _negative(amount: Money) -> Money:
    return Money(-amount.minor, amount.currency)


def expected_fee(gross: Money, rate: Decimal) -> Money:
    """The fee a contracted rate gives on a gross, rounded half up to the minor unit."""
    return Money(int((gross.minor * rate).to_integral_value(ROUND_HALF_UP)), gross.currency)


#: a statement fee within this many minor units of the contract's is the contract's (per-line rounding)
FEE_TOLERANCE_MINOR = 1


# ------------------------------------------------------------------ matching


#: a LedgerEntry's refunded total and refund requests; a StatementLine's amount, fee,
#: received, settled and rate; a Money's fields
_REFUND_FIELDS = itemgetter(3, 8)
_LINE_AMOUNT, _LINE_FEE, _LINE_RECEIVED, _LINE_SETTLED, _LINE_RATE = (
    itemgetter(4),
    itemgetter(5),
    itemgetter(6),
    itemgetter(10),
    itemgetter(11),
)
_MINOR, _CURRENCY = attrgetter("minor"), attrgetter("currency")


class _Matcher:
    """Decides each statement line, then each day's ledger entry no line accounted for."""

    def __init__(self, day: DayLedger, others: list[LedgerEntry], fee_rate: Decimal | None = None):
        self.day, self.others = day, others
        self.fee_rate = fee_rate
        self.fee_deviations: list[FeeDeviation] = []
        # (trade, refund id) seen: Alipay's 退款批次号 names a batch that may refund several trades
        self.refund_refs: set[tuple[str, str]] = set()
        # by payment reference, as one dict over [*others, *day] would have it (the later wins):
        # a plain order of the day by its position (built in C: a day holds a hundred
        # thousand), any other order by its entry
        refs = day.refs
        self.plain_ref: dict[str | None, int]
        if day.odd:
            self.plain_ref = dict(
                compress(zip(refs, count()), map(operator.is_not, refs, repeat(None)))
            )
        else:
            self.plain_ref = dict(zip(refs, count()))
        self.entry_ref: dict[str, LedgerEntry] = {
            p.ref: e for e in others for p in e.payments if p.ref not in self.plain_ref
        }
        for position in sorted(day.odd):
            entry = day.odd[position]
            for payment in entry.payments:
                if self.plain_ref.get(payment.ref, -1) > position:
                    continue  # a later plain order of the day
                self.plain_ref.pop(payment.ref, None)
                self.entry_ref[payment.ref] = entry
        # payment references a line named, and orders whose payment a line accounted for; a
        # plain order's bulk line marks its position in `taken` instead (`was_seen`,
        # `accounted_here`): a day holds a hundred thousand
        self.seen_refs: set[str] = set()
        self.accounted: set[str] = set()
        self.taken = bytearray(len(day))
        self.refund_left: dict[str, int] = {}  # ledger refunds not yet matched, per order
        # refunds recorded otherwise than by a request, not yet matched by a line naming no request
        self.otherwise_left: dict[str, int] = {}
        self.requests_seen: set[str] = set()  # refund requests a statement line accounted for
        self.fee_updates: list[FeeUpdate] = []

    @cached_property
    def order_positions(self) -> dict[str, int]:
        """The day's orders by order number, for the few lines not found by their trade number."""
        return dict(zip(self.day.order_nos, count()))

    @cached_property
    def others_by_order(self) -> dict[str, LedgerEntry]:
        return {entry.order_no: entry for entry in self.others}

    def was_seen(self, ref: str) -> bool:
        """Whether a line named this payment reference already."""
        if ref in self.seen_refs:
            return True
        position = self.plain_ref.get(ref)
        return position is not None and self.taken[position] == 1

    def accounted_here(self, order_no: str) -> bool:
        """Whether a line accounted for this order's payment."""
        if order_no in self.accounted:
            return True
        order_nos, positions = self.day.order_nos, self.order_positions
        if len(positions) == len(order_nos):  # one position per order number
            position = positions.get(order_no)
            return position is not None and self.taken[position] == 1
        return any(self.taken[p] for p, no in enumerate(order_nos) if no == order_no)

    def find(self, line: StatementLine) -> LedgerEntry | None:
        position = self.plain_ref.get(line.trade_no)
        if position is not None:
            return self.day.entry(position)
        found = self.entry_ref.get(line.trade_no)
        if found is not None:
            return found
        position = self.order_positions.get(line.out_trade_no)
        if position is not None:
            return self.day.entry(position)
        return self.others_by_order.get(line.out_trade_no)

    @staticmethod
    def result(
        result: Result,
        line: StatementLine,
        statement: Money,
        ledger: Money,
        entry: LedgerEntry | None,
        note: str = "",
        request: RefundRequest | None = None,
    ) -> ResultLine:
        return ResultLine(
            result,
            line.kind,
            statement,
            ledger,
            line.out_trade_no,
            line.trade_no,
            entry.order_no if entry else None,
            line,
            entry.pay_status if entry else "",
            note,
            line.at,
            request.refund_request_id if request else None,
        )

    def payment(self, line: StatementLine) -> ResultLine:
        zero = _zero(line.amount.currency)
        if self.was_seen(line.trade_no):
            return self.result(
                Result.DUPLICATE,
                line,
                line.amount,
                zero,
                self.find(line),
                "the statement lists this payment again",
            )
        self.seen_refs.add(line.trade_no)
        entry = self.find(line)
        if entry is None:
            return self.result(
                Result.MISSING_HERE, line, line.amount, zero, None, "no order here for this payment"
            )
        if not entry.paid:
            return self.result(
                Result.MISSING_HERE,
                line,
                line.amount,
                zero,
                entry,
                f"the order is {entry.pay_status} here",
            )
        first = entry.payments[0]
        paid = first if first.ref == line.trade_no else entry.payment(line.trade_no)
        if paid is None:
            return self.result(
                Result.DUPLICATE,
                line,
                line.amount,
                zero,
                entry,
                f"second payment: the order is paid here by {first.ref}",
            )
        if paid is not first:
            return self.result(
                Result.DUPLICATE,
                line,
                line.amount,
                paid.amount,
                entry,
                "second payment of the order (known here, refund due)",
            )
        self.accounted.add(entry.order_no)
        self.note_fee(line, entry)
        if paid.amount != line.amount:
            return self.result(
                Result.AMOUNT_MISMATCH,
                line,
                line.amount,
                paid.amount,
                entry,
                f"{line.amount} at the gateway, {paid.amount} here",
            )
        return self.result(Result.MATCHED, line, line.amount, line.amount, entry)

    def note_fee(self, line: StatementLine, entry: LedgerEntry) -> None:
        """A payment line's fee and net onto the order when new to it; against the contract's
        rate. (Once per payment line of the day: StatementLine.booked and net_minor inlined, the
        amounts compared by their fields.)"""
        fee = line.fee
        if fee is None:
            return
        settled = line.settled
        booked = settled or line.received or line.amount
        net, known, had = booked.minor - fee.minor, entry.net, entry.fee
        if (
            had is None
            or had.minor != fee.minor
            or had.currency != fee.currency
            or known is None
            or known.minor != net
            or known.currency != fee.currency
            or entry.rate != line.rate
        ):
            self.fee_updates.append(
                FeeUpdate(
                    entry.order_no,
                    fee.currency,
                    fee.minor,
                    net,
                    settled.minor if settled else None,
                    line.rate,
                )
            )
        self.check_fee_rate(line, entry.order_no)

    def check_fee_rate(self, line: StatementLine, order_no: str) -> None:
        """A payment line's fee against the channel's contracted rate, when it has one."""
        fee = line.fee
        if self.fee_rate is None or fee is None:
            return
        expected = expected_fee(line.booked, self.fee_rate)
        if abs(expected.minor - fee.minor) > FEE_TOLERANCE_MINOR:
            self.fee_deviations.append(FeeDeviation(order_no, line.trade_no, expected, fee))

    def refund(self, line: StatementLine) -> ResultLine:
        refunded, zero = _negative(line.amount), _zero(line.amount.currency)
        entry = self.find(line)
        if line.refund_ref:
            seen = (line.trade_no, line.refund_ref)
            if seen in self.refund_refs:
                return self.result(
                    Result.DUPLICATE,
                    line,
                    refunded,
                    zero,
                    entry,
                    f"the statement lists refund {line.refund_ref} again",
                )
            self.refund_refs.add(seen)
        if entry is None:
            return self.result(
                Result.STATUS_MISMATCH,
                line,
                refunded,
                zero,
                None,
                "refunded at the gateway; no order here",
            )
        if line.refund_ref and entry.refunds:
            request = entry.refund_named(line.refund_ref)
            if request is not None:
                return self.own_refund(line, entry, request)
            return self.refund_otherwise(line, entry)
        left = self.refund_left.setdefault(
            entry.order_no, _refunded_minor(entry, line.amount.currency)
        )
        if left >= line.amount.minor:
            self.refund_left[entry.order_no] = left - line.amount.minor
            return self.result(Result.MATCHED, line, refunded, refunded, entry)
        self.refund_left[entry.order_no] = 0
        note = (
            f"refunded {line.amount} at the gateway, {Money(left, line.amount.currency)} here"
            if left
            else "refunded at the gateway, not here"
        )
        return self.result(
            Result.STATUS_MISMATCH, line, refunded, Money(-left, line.amount.currency), entry, note
        )

    def own_refund(
        self, line: StatementLine, entry: LedgerEntry, request: RefundRequest
    ) -> ResultLine:
        """A refund line naming one of paytrack's refund requests, checked against that request."""
        refunded, zero = _negative(line.amount), _zero(line.amount.currency)
        rid = request.refund_request_id
        self.requests_seen.add(rid)
        if request.state is not RefundState.SUCCEEDED:
            return self.result(
                Result.STATUS_MISMATCH,
                line,
                refunded,
                zero,
                entry,
                f"refunded at the gateway; refund request {rid} is {request.state.value} here",
                request,
            )
        ours = _negative(request.amount)
        if line.trade_no and request.trade_no != line.trade_no:
            return self.result(
                Result.STATUS_MISMATCH,
                line,
                refunded,
                ours,
                entry,
                f"refund request {rid} refunds {request.trade_no} here, "
                f"{line.trade_no} at the gateway",
                request,
            )
        if request.amount != line.amount:
            return self.result(
                Result.AMOUNT_MISMATCH,
                line,
                refunded,
                ours,
                entry,
                f"refund request {rid}: {line.amount} refunded at the gateway, "
                f"{request.amount} here",
                request,
            )
        return self.result(Result.MATCHED, line, refunded, ours, entry, "", request)

    def refund_otherwise(self, line: StatementLine, entry: LedgerEntry) -> ResultLine:
        """A refund line whose id is none of the order's refund requests: a refund recorded here
        by hand (or from the gateway's notice) accounts for it, else paytrack never asked for it."""
        refunded, currency = _negative(line.amount), line.amount.currency
        left = self.otherwise_left.setdefault(entry.order_no, entry.refunded_otherwise(currency))
        if left >= line.amount.minor:
            self.otherwise_left[entry.order_no] = left - line.amount.minor
            return self.result(
                Result.MATCHED, line, refunded, refunded, entry, "a refund recorded by hand here"
            )
        self.otherwise_left[entry.order_no] = 0
        return self.result(
            Result.STATUS_MISMATCH,
            line,
            refunded,
            Money(-left, currency),
            entry,
            f"unknown refund: {line.refund_ref} at the gateway is none of paytrack's refund "
            f"requests for this order"
            + (f" ({Money(left, currency)} refunded here otherwise)" if left else ""),
        )

    def closed(self, line: StatementLine) -> ResultLine:
        entry = self.find(line)
        zero = _zero(line.amount.currency)
        if entry is None or not entry.paid:
            return self.result(
                Result.MATCHED, line, zero, zero, entry, "closed unpaid on both sides"
            )
        paid = entry.payment(line.trade_no) or entry.payments[0]
        self.seen_refs.add(paid.ref)
        self.accounted.add(entry.order_no)
        return self.result(
            Result.STATUS_MISMATCH,
            line,
            zero,
            paid.amount,
            entry,
            "closed at the gateway, paid here",
        )

    def payment_here_only(self, entry: LedgerEntry) -> Iterator[ResultLine]:
        """A payment of the day no statement line accounted for."""
        first = entry.payments[0] if entry.payments else None
        if (
            entry.paid
            and first
            and not self.accounted_here(entry.order_no)
            and not self.was_seen(first.ref)
        ):
            yield ResultLine(
                Result.MISSING_THERE,
                LineKind.PAYMENT,
                _zero(first.amount.currency),
                first.amount,
                entry.order_no,
                first.ref,
                entry.order_no,
                ledger_status=entry.pay_status,
                note="paid here, not in the gateway's statement",
            )

    def refunds_here_only(
        self, entry: LedgerEntry, window: tuple[datetime, datetime]
    ) -> Iterator[ResultLine]:
        """The order's refunds made here in the window that no statement line accounted for,
        whatever day it was paid."""
        first = entry.payments[0] if entry.payments else None
        if entry.refunds and entry.order_no not in self.refund_left:
            yield from self.requests_missing_there(entry, window)
            return
        if (
            entry.refunded
            and entry.refunded.minor > 0
            and entry.order_no not in self.refund_left
            and entry.refunded_at
            and window[0] <= entry.refunded_at < window[1]
        ):
            yield ResultLine(
                Result.STATUS_MISMATCH,
                LineKind.REFUND,
                _zero(entry.refunded.currency),
                _negative(entry.refunded),
                entry.order_no,
                first.ref if first else "",
                entry.order_no,
                ledger_status=entry.pay_status,
                note="refunded here, not at the gateway",
                at=entry.refunded_at,
            )

    def requests_missing_there(
        self, entry: LedgerEntry, window: tuple[datetime, datetime]
    ) -> Iterator[ResultLine]:
        """Each refund request that succeeded here in the window and no statement line named (an
        order whose refund lines carry no id was compared as a whole instead); then what the
        order refunded otherwise, when no line accounted for it."""
        for request in entry.refunds:
            at = request.updated_at
            if (
                request.state is not RefundState.SUCCEEDED
                or request.refund_request_id in self.requests_seen
                or at is None
                or not window[0] <= at < window[1]
            ):
                continue
            yield ResultLine(
                Result.STATUS_MISMATCH,
                LineKind.REFUND,
                _zero(request.amount.currency),
                _negative(request.amount),
                entry.order_no,
                request.trade_no,
                entry.order_no,
                ledger_status=entry.pay_status,
                note=f"refund request {request.refund_request_id} succeeded here, "
                "not in the gateway's statement",
                at=at,
                refund_request_id=request.refund_request_id,
            )
        refunded = entry.refunded
        if refunded is None or entry.order_no in self.otherwise_left:
            return
        otherwise = entry.refunded_otherwise(refunded.currency)
        if otherwise and entry.refunded_at and window[0] <= entry.refunded_at < window[1]:
            first = entry.payments[0] if entry.payments else None
            yield ResultLine(
                Result.STATUS_MISMATCH,
                LineKind.REFUND,
                _zero(refunded.currency),
                Money(-otherwise, refunded.currency),
                entry.order_no,
                first.ref if first else "",
                entry.order_no,
                ledger_status=entry.pay_status,
                note="refunded here (recorded by hand), not at the gateway",
                at=entry.refunded_at,
            )

    def matched_run(self, lines: list[StatementLine], positions: list[int], tally: _Tally) -> None:
        """A run of the day's bulk — payment lines each the payment of a plain order of the day
        (`DayLedger`), paid here for the same amount (`decide`) — counted as matched, their
        settlement figures summed and their fees noted as `note_fee` does, column by column: a
        run is up to a hundred thousand lines. A run in one currency, every line with its fee
        (the day as it usually is) is summed by C iterators; any other run line by line."""
        amounts = list(map(_LINE_AMOUNT, lines))
        fees = list(map(_LINE_FEE, lines))
        received = list(map(_LINE_RECEIVED, lines))
        nothing = repeat(None)  # compared by identity: Money's __eq__ is Python-level
        plain = (
            all(map(operator.is_, map(_LINE_SETTLED, lines), nothing))
            and all(map(operator.is_not, received, nothing))
            and all(map(operator.is_not, fees, nothing))
        )
        currencies = set(map(_CURRENCY, amounts))
        if (
            not plain
            or len(currencies) != 1
            or currencies != set(map(_CURRENCY, received))
            or currencies != set(map(_CURRENCY, fees))
        ):
            for line, position in zip(lines, positions, strict=True):
                self.matched_line(line, self.day.entry(position), tally)
            return
        (currency,) = currencies
        matched = tally.matched_payments.setdefault(currency, [0, 0])
        matched[0] += len(lines)
        matched[1] += sum(map(_MINOR, amounts))
        gross, fee_minors = list(map(_MINOR, received)), list(map(_MINOR, fees))
        figures = tally.booked.setdefault(currency, [0, 0, 0, 0])
        gross_total, fee_total = sum(gross), sum(fee_minors)
        figures[0] += gross_total
        figures[1] += fee_total
        figures[2] += gross_total - fee_total
        # FeeUpdate's fields in order, without its Python-level __new__ (a plain order holds no
        # statement fee yet: every line's is new to its order)
        self.fee_updates += map(
            tuple.__new__,
            repeat(FeeUpdate),
            zip(
                map(self.day.order_nos.__getitem__, positions),
                repeat(currency),
                fee_minors,
                map(operator.sub, gross, fee_minors),
                nothing,
                map(_LINE_RATE, lines),
            ),
        )
        if self.fee_rate is not None:
            for line, position in zip(lines, positions, strict=True):
                self.check_fee_rate(line, self.day.order_nos[position])

    def matched_line(self, line: StatementLine, entry: LedgerEntry, tally: _Tally) -> None:
        """One line of a bulk run that `matched_run` does not sum by columns."""
        amount = line.amount
        count = tally.matched_payments.setdefault(amount.currency, [0, 0])
        count[0] += 1
        count[1] += amount.minor
        # _Tally.add's settlement figures, inlined
        fee, settled = line.fee, line.settled
        gross = line.booked
        figures = tally.booked.setdefault(gross.currency, [0, 0, 0, 0])
        figures[0] += gross.minor
        figures[1] += fee.minor if fee is not None else 0
        figures[2] += gross.minor - (fee.minor if fee is not None else 0)
        figures[3] += settled is not None
        self.note_fee(line, entry)

    def decide(
        self, statement: Statement, window: tuple[datetime, datetime], tally: _Tally
    ) -> list[tuple[int, ResultLine]]:
        """Every line into `tally`; the lines that are not matched, numbered in the order
        decided (the statement's, then the ledger's own).

        The day's bulk — a payment line whose trade number is its order's first payment, paid
        here for the same amount — is only told apart here and counted without a result line:
        each run of it between other lines whose orders are plain (`DayLedger`) by
        `matched_run`, any other order's on the spot by `matched_line`; so is a ledger payment
        such a line accounted for. Everything else goes through the result lines above."""
        decide = {
            LineKind.PAYMENT: self.payment,
            LineKind.REFUND: self.refund,
            LineKind.CLOSED: self.closed,
        }
        unmatched: list[tuple[int, ResultLine]] = []
        day, plain_ref, entry_ref = self.day, self.plain_ref, self.entry_ref
        statuses, amounts = day.statuses, day.amounts
        seen, accounted, taken = self.seen_refs, self.accounted, self.taken
        add = tally.add
        payment_kind, paid_states, matched_result = LineKind.PAYMENT, _PAID, Result.MATCHED
        run_lines: list[StatementLine] = []
        run_positions: list[int] = []
        n = 0
        for n, line in enumerate(statement.lines, 1):
            if line[1] is payment_kind:  # StatementLine's kind, trade number, amount by index
                trade = line[3]
                position = plain_ref.get(trade)
                if position is not None:
                    if (
                        not taken[position]
                        and trade not in seen
                        and statuses[position] in paid_states
                    ):
                        ours, amount = amounts[position], line[4]
                        if ours is amount or (
                            ours.minor == amount.minor  # type: ignore[union-attr]  # a plain order's
                            and ours.currency == amount.currency  # type: ignore[union-attr]
                        ):
                            taken[position] = 1
                            run_lines.append(line)
                            run_positions.append(position)
                            continue
                elif entry_ref:
                    entry = entry_ref.get(trade)
                    if entry is not None and trade not in seen and entry[1] in paid_states:
                        first_ref, ours = entry[2][0]  # LedgerEntry's pay status, first payment
                        amount = line[4]
                        if (
                            first_ref == trade
                            and ours.minor == amount.minor
                            and ours.currency == amount.currency
                        ):
                            if run_lines:
                                self.matched_run(run_lines, run_positions, tally)
                                run_lines, run_positions = [], []
                            seen.add(trade)
                            accounted.add(entry[0])
                            self.matched_line(line, entry, tally)
                            continue
            if run_lines:
                self.matched_run(run_lines, run_positions, tally)
                run_lines, run_positions = [], []
            result = decide[line.kind](line)
            add(result)
            if result.result is not matched_result:
                unmatched.append((n, result))
        if run_lines:
            self.matched_run(run_lines, run_positions, tally)
        # the day's orders paid here that no line accounted for, and those with a refund (the
        # others have nothing left for the day), picked by C iterators: a plain order has no
        # refund, and a day holds a hundred thousand
        paid = map(paid_states.__contains__, statuses)
        order_nos = day.order_nos
        left = {
            position  # paid, and not accounted for by a line
            for position in compress(count(), map(operator.gt, paid, taken))
            if not self.accounted_here(order_nos[position])
        }
        left.update(p for p, entry in day.odd.items() if any(_REFUND_FIELDS(entry)))
        for position in sorted(left):
            entry = day.entry(position)
            for result in chain(
                self.payment_here_only(entry), self.refunds_here_only(entry, window)
            ):
                n += 1
                add(result)
                if result.result is not matched_result:
                    unmatched.append((n, result))
        for entry in self.others:
            if entry.order_no not in self.order_positions:
                for result in self.refunds_here_only(entry, window):
                    n += 1
                    add(result)
                    if result.result is not matched_result:
                        unmatched.append((n, result))
        return unmatched


def _refunded_minor(entry: LedgerEntry, currency: str) -> int:
    refunded = entry.refunded
    return refunded.minor if refunded is not None and refunded.currency == currency else 0


def reconcile(
    statement: Statement,
    day_entries: DayLedger | Iterable[LedgerEntry],
    other_entries: Iterable[LedgerEntry],
    window: tuple[datetime, datetime],
    fee_rate: Decimal | None = None,
) -> Reconciliation:
    """Match the statement against the ledger, in one pass.

    `day_entries` are the orders paid in `window` (the statement's day, up to where it covers):
    each payment and each refund made here in the window must be accounted for. `other_entries`
    are orders paid on another day that the statement names (a refund of an older payment, a
    payment recorded late) or that were refunded here in the window: their payments are looked
    up, not required; their refunds made here in the window are required like the day's.
    Lines are numbered in the order decided: the statement's, then the ledger's own.
    `fee_rate` is the channel's contracted fee rate (0.006 for 0.6%), when configured.
    """
    day = day_entries if isinstance(day_entries, DayLedger) else DayLedger.of(day_entries)
    other_entries = list({e.order_no: e for e in other_entries}.values())
    matcher = _Matcher(day, other_entries, fee_rate)
    tally = _Tally()
    unmatched = matcher.decide(statement, window, tally)
    summary = tally.summary(statement, len(matcher.fee_updates))
    summary["fee_check"] = _fee_check(statement, fee_rate, matcher.fee_deviations)
    return Reconciliation(
        statement.channel,
        statement.day,
        summary,
        unmatched,
        matcher.fee_updates,
        matcher.fee_deviations,
    )


def _fee_check(
    statement: Statement, fee_rate: Decimal | None, deviations: list[FeeDeviation]
) -> dict[str, Any] | None:
    """The statement's fees against the contracted rate: how many lines differ, by how much; for
    a statement that states no fee (epay), the fees the rate gives (an estimate)."""
    if fee_rate is None:
        return None
    estimated: dict[str, int] = defaultdict(int)
    for line in statement.lines:
        if line.fee is None and line.kind is LineKind.PAYMENT:
            fee = expected_fee(line.booked, fee_rate)
            estimated[fee.currency] += fee.minor
    over: dict[str, int] = defaultdict(int)
    for deviation in deviations:
        over[deviation.charged.currency] += deviation.charged.minor - deviation.expected.minor
    return {
        "rate": str(fee_rate),
        "differing": len(deviations),
        "charged_over_expected": {c: _fmt(m, c) for c, m in sorted(over.items())},
        "estimated": {c: _fmt(m, c) for c, m in sorted(estimated.items())},
    }


# ------------------------------------------------------------------ summary and findings


def _fmt(minor: int, currency: str) -> str:
    return Money(minor, currency).format()


class _Tally:
    """Counts and sums per result, line kind and currencies, one dict update per line; `summary`
    folds them into the statement's gross, refunds, fees and net, the ledger's side, and the
    difference explained per result (per currency). Integer minor units.

    Gross, refunds and the differences are in the currency the buyer was charged; what the
    account was credited with (`settled`), fees and net are in the settlement currency."""

    def __init__(self) -> None:
        # (result, kind, statement currency, ledger currency) -> [count, statement, ledger]
        self.figures: dict[tuple[Result, LineKind, str, str], list[int]] = {}
        # settlement currency -> [settled (signed), fees, net, converted lines]
        self.booked: dict[str, list[int]] = {}
        # currency -> [count, amount]: payment lines matched on the spot (_Matcher.decide), each
        # counted into figures as (matched, payment, currency, currency) when summarized
        self.matched_payments: dict[str, list[int]] = {}

    def add(self, line: ResultLine) -> None:
        s, l_, source = line.statement, line.ledger, line.source
        key = (line.result, line.kind, s.currency, l_.currency)
        figures = self.figures.get(key)
        if figures is None:
            figures = self.figures[key] = [0, 0, 0]
        figures[0] += 1
        figures[1] += s.minor
        figures[2] += l_.minor
        if source is not None and source.kind is not LineKind.CLOSED:
            # StatementLine.booked and net_minor, inlined: this runs once per line of the day
            settled, fee = source.settled, source.fee
            gross = settled or source.received or source.amount
            booked = self.booked.get(gross.currency)
            if booked is None:
                booked = self.booked[gross.currency] = [0, 0, 0, 0]
            fee_minor = fee.minor if fee is not None else 0
            sign = -1 if source.kind is LineKind.REFUND else 1
            booked[0] += sign * gross.minor
            booked[1] += sign * fee_minor
            booked[2] += sign * (gross.minor - fee_minor)
            if settled is not None:
                booked[3] += 1

    def _sum(self, column: int, currency: str, side: int, **only: Any) -> int:
        """Column totals over the figures whose currency on `side` (2: statement, 3: ledger) is
        `currency`, narrowed by `result` and/or `kind`."""
        return sum(
            figures[column]
            for (result, kind, *currencies), figures in self.figures.items()
            if currencies[side - 2] == currency
            and only.get("result", result) is result
            and only.get("kind", kind) is kind
        )

    def summary(self, statement: Statement, fees_to_write: int) -> dict[str, Any]:
        for currency, (matched, minor) in self.matched_payments.items():
            key = (Result.MATCHED, LineKind.PAYMENT, currency, currency)
            figures = self.figures.setdefault(key, [0, 0, 0])
            figures[0] += matched
            figures[1] += minor
            figures[2] += minor
        self.matched_payments.clear()
        expected = _statement_totals(statement)
        account_fees: dict[str, int] = defaultdict(int)
        for fee in statement.account_fees:
            account_fees[fee.currency] += fee.minor
        currencies = sorted(
            {key[2] for key in self.figures}
            | {key[3] for key in self.figures}
            | set(expected)
            | set(self.booked)
            | set(account_fees)
        )
        by_currency = {
            c: self._currency(c, expected.get(c, 0), account_fees.get(c, 0)) for c in currencies
        }
        counts = {
            r.value: sum(f[0] for key, f in self.figures.items() if key[0] is r) for r in Result
        }
        return {
            "channel": statement.channel,
            "date": statement.day.isoformat(),
            "lines": sum(counts.values()),
            "statement_lines": len(statement.lines),
            "counts": counts,
            "currencies": by_currency,
            "balanced": all(s["unexplained"] == _fmt(0, c) for c, s in by_currency.items()),
            "fees_to_write": fees_to_write,
        }

    def _currency(self, currency: str, expected: int, account_fees: int) -> dict[str, Any]:
        """`expected`: the statement's own total (payments - refunds), counted from its lines;
        `account_fees`: the gateway's charges that are no trade (kept apart from the trades' net)."""
        results, explained = {}, 0
        for result in Result:
            s, l_ = (
                self._sum(1, currency, 2, result=result),
                self._sum(2, currency, 3, result=result),
            )
            results[result.value] = {
                "statement": _fmt(s, currency),
                "ledger": _fmt(l_, currency),
                "difference": _fmt(s - l_, currency),
            }
            if result is not Result.MATCHED:
                explained += s - l_
        refunds = -self._sum(1, currency, 2, kind=LineKind.REFUND)
        ledger_refunds = -self._sum(2, currency, 3, kind=LineKind.REFUND)
        ledger_net = self._sum(2, currency, 3)
        difference = expected - ledger_net
        settled, fees, net, converted = self.booked.get(currency, (0, 0, 0, 0))
        return {
            "statement": {
                "gross": _fmt(self._sum(1, currency, 2) + refunds, currency),
                "refunds": _fmt(refunds, currency),
                "settled": _fmt(settled, currency),
                "converted_lines": converted,
                "fees": _fmt(fees, currency),
                "net": _fmt(net, currency),
                "account_fees": _fmt(account_fees, currency),
            },
            "ledger": {
                "gross": _fmt(ledger_net + ledger_refunds, currency),
                "refunds": _fmt(ledger_refunds, currency),
                "net": _fmt(ledger_net, currency),
            },
            "difference": _fmt(difference, currency),
            "explained": {
                r: v["difference"] for r, v in results.items() if r != Result.MATCHED.value
            },
            "unexplained": _fmt(difference - explained, currency),
            "results": results,
        }


def _statement_totals(statement: Statement) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    payment, refund = LineKind.PAYMENT, LineKind.REFUND
    for kind, amount in map(_KIND_AND_AMOUNT, statement.lines):
        if kind is payment:
            totals[amount.currency] += amount.minor
        elif kind is refund:
            totals[amount.currency] -= amount.minor
    return totals


#: a StatementLine's kind and amount (fields 1 and 4), read in C
_KIND_AND_AMOUNT = itemgetter(1, 4)


#: how many of a day's fee deviations its anomaly lists
FEE_DEVIATION_SAMPLES = 20


def findings(
    run: Reconciliation, describe: Callable[[int, ResultLine], dict[str, Any]]
) -> list[Finding]:
    """One anomaly per line that is not matched (critical where money we show is not confirmed),
    with `describe(n, line)` as its details, and one for the day when the gateway charged fees
    its contracted rate does not give."""
    day = run.day.isoformat()
    found = [
        Finding(
            rule=f"reconciliation_{line.result.value}",
            severity=Severity.CRITICAL if line.result in CRITICAL_RESULTS else Severity.WARNING,
            subject=f"{run.channel}#{day}#{line.key}",
            details=describe(n, line),
            order_no=line.order_no,
            channel=run.channel,
        )
        for n, line in run.unmatched
    ]
    if run.fee_deviations:
        found.append(
            Finding(
                rule="reconciliation_fee_rate",
                severity=Severity.WARNING,
                subject=f"{run.channel}#{day}",
                channel=run.channel,
                details={
                    **run.summary["fee_check"],
                    "date": day,
                    "lines": [
                        {
                            "order_no": d.order_no,
                            "trade_no": d.trade_no,
                            "currency": d.charged.currency,
                            "expected": d.expected.format(),
                            "charged": d.charged.format(),
                        }
                        for d in run.fee_deviations[:FEE_DEVIATION_SAMPLES]
                    ],
                },
            )
        )
    return found
