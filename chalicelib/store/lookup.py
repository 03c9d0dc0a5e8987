"""What paytrack already knows of a gateway trade number: the orders whose payment or notices
carry it (the orders' and the notices' by_trade_no indexes)."""

from __future__ import annotations

from itertools import islice

from ..platform.read_budget import metered
from .models import NoticeModel, OrderModel

MAX_ORDERS = 20  # one trade number names one order; a few more are a data problem to show


def orders_of_trade(trade_no: str) -> list[str]:
    """The order numbers an order's first payment or any notice ties to `trade_no`, in the order
    found (a duplicate payment is known only by its notice)."""
    found = [
        item.order_no
        for item in islice(
            metered(OrderModel.by_trade_no.query(trade_no, limit=MAX_ORDERS), MAX_ORDERS),
            MAX_ORDERS,
        )
    ]
    notices = metered(NoticeModel.by_trade_no.query(trade_no, limit=MAX_ORDERS), MAX_ORDERS)
    found += [item.out_trade_no for item in islice(notices, MAX_ORDERS) if item.out_trade_no]
    return list(dict.fromkeys(found))
