"""The operator's order filter (API.md GET /admin/orders) as a value, and the exact predicate.

The store picks an index from the filter to bound what it reads; this predicate then decides,
for every candidate, whether it belongs — so any combination of filters is answered exactly,
whichever index served it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from .order import Order


@dataclass(frozen=True)
class OrderFilter:
    created_from: datetime
    created_to: datetime
    paid_from: datetime | None = None
    paid_to: datetime | None = None
    statuses: tuple[str, ...] = ()
    delivery: str | None = None
    channel: str | None = None
    method: str | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    order_no: str | None = None
    trade_no: str | None = None
    # case-insensitive: a whole address is an exact lookup, "@domain" every address at that domain,
    # anything else the beginning of the address (a local-part prefix, maybe with "@" and more)
    email: str | None = None
    buyer_id: str | None = None  # partial
    product: str | None = None  # partial, case-insensitive, on the product name
    ip: str | None = None
    flagged: bool | None = None
    time_bounded: bool = True  # False: an exact number was asked for without a time range

    @property
    def exact_email(self) -> bool:
        if self.email is None:
            return False
        local, _, domain = self.email.rpartition("@")
        return bool(local) and "." in domain

    @property
    def email_domain(self) -> str | None:
        """The domain asked for by "@domain", case-folded."""
        if self.email is None or not self.email.startswith("@"):
            return None
        return self.email[1:].casefold()

    def matches(self, order: Order, flagged: bool) -> bool:
        return all(check(order, flagged) for check in self._checks())

    def _checks(self) -> Iterator[Callable[[Order, bool], bool]]:
        if self.order_no:
            yield lambda o, _: o.order_no == self.order_no
        if self.trade_no:
            yield (
                lambda o, _: (
                    o.trade_no == self.trade_no
                    or any(p.payment_ref == self.trade_no for p in o.payments)
                )
            )
        if self.time_bounded:
            yield lambda o, _: self.created_from <= o.created_at <= self.created_to
        if self.paid_from or self.paid_to:
            yield (
                lambda o, _: (
                    o.paid_at is not None and _within(o.paid_at, self.paid_from, self.paid_to)
                )
            )
        if self.statuses:
            yield lambda o, _: o.pay_status.value in self.statuses
        if self.delivery:
            yield lambda o, _: o.delivery_status.value == self.delivery
        if self.channel:
            yield lambda o, _: o.channel == self.channel
        if self.method:
            yield lambda o, _: o.method == self.method
        if self.min_amount is not None or self.max_amount is not None:
            yield lambda o, _: _within(o.amount.to_decimal(), self.min_amount, self.max_amount)
        if self.email:
            yield _email_check(self.email.casefold(), self.exact_email, self.email_domain)
        if self.buyer_id:
            buyer = self.buyer_id.casefold()
            yield lambda o, _: bool(o.buyer_id) and buyer in (o.buyer_id or "").casefold()
        if self.product:
            product = self.product.casefold()
            yield lambda o, _: product in o.product_name.casefold()
        if self.ip:
            yield lambda o, _: o.buyer_ip == self.ip
        if self.flagged is not None:
            yield lambda o, flagged: flagged == self.flagged


def _email_check(needle: str, exact: bool, domain: str | None) -> Callable[[Order, bool], bool]:
    def check(o: Order, _: bool) -> bool:
        address = (o.buyer_email or "").casefold()
        if not address:
            return False
        if exact:
            return address == needle
        if domain is not None:
            return address.rpartition("@")[2] == domain
        return address.startswith(needle)

    return check


_Bound = TypeVar("_Bound", datetime, Decimal)


def _within(value: _Bound, low: _Bound | None, high: _Bound | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)
