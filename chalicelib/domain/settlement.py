"""What an order's payment came to in the merchant's account: the fee and the net, always with
their currency — the settlement currency, which is not the paid one when the gateway converted
the payment (US$19.99 → HK$155.92 @ 7.8, fee HK$9.21) — and how sure we are of them.

Pure: no I/O. A fee is `statement` once reconciliation wrote the gateway's statement onto the
order, `gateway` when the payment's notification stated it, `estimated` when neither did and
the channel's contract states a rate (`fee_rate` in the channels file): shown as an estimate
until a statement confirms it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

from .money import Money
from .order import Order
from .reconcile import expected_fee


class FeeStatus:
    STATEMENT = "statement"
    GATEWAY = "gateway"
    ESTIMATED = "estimated"


class Settlement(NamedTuple):
    fee: Money | None
    net: Money | None
    settled: Money | None  # the payment converted into the settlement currency
    rate: str | None
    status: str | None  # a FeeStatus, None when no fee is known at all


def settlement_of(order: Order, fee_rate: Decimal | None = None) -> Settlement:
    if order.net is not None and order.fee is not None:
        return Settlement(
            order.fee, order.net, order.settled_amount, order.exchange_rate, FeeStatus.STATEMENT
        )
    gross = order.received_amount or order.paid_amount
    if order.fee is not None:
        net = (
            gross - order.fee
            if gross is not None and gross.currency == order.fee.currency
            else None
        )
        return Settlement(order.fee, net, None, None, FeeStatus.GATEWAY)
    if fee_rate is not None and gross is not None:
        fee = expected_fee(gross, fee_rate)
        return Settlement(fee, gross - fee, None, None, FeeStatus.ESTIMATED)
    return Settlement(None, gross, None, None, None)


def settlement_view(order: Order, fee_rate: Decimal | None = None) -> dict[str, Any]:
    """The API's fields: every amount with its currency beside it."""
    found = settlement_of(order, fee_rate)

    def amount(value: Money | None) -> str | None:
        return value.format() if value is not None else None

    return {
        "fee": amount(found.fee),
        "fee_currency": found.fee.currency if found.fee else None,
        "fee_status": found.status,
        "net_amount": amount(found.net),
        "net_currency": found.net.currency if found.net else None,
        "settled_amount": amount(found.settled),
        "settlement_currency": found.settled.currency if found.settled else None,
        "exchange_rate": found.rate,
    }
