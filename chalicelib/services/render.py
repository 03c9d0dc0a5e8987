"""JSON views of domain objects, in the contract's conventions (API.md): money as a decimal string
with the currency's minor digits plus `currency`, times ISO 8601 UTC with Z."""
from __future__ import annotations

from typing import Any

from ..domain.clock import to_api
from ..domain.money import Money
from ..domain.order import Order


def money(value: Money | None) -> str | None:
    return value.format() if value is not None else None


def order_for_shop(order: Order) -> dict[str, Any]:
    """What the shop needs to decide delivery, and the fields it sent us."""
    return {
        "order_no": order.order_no,
        "pay_status": order.pay_status.value,
        "delivery_status": order.delivery_status.value,
        "hold": order.on_hold,
        "hold_reasons": list(order.hold_reasons),
        "amount": order.amount.format(),
        "currency": order.amount.currency,
        "paid_amount": money(order.paid_amount),
        "refunded_amount": money(order.refunded_amount),
        "channel": order.channel,
        "method": order.method,
        "trade_no": order.trade_no,
        "product_id": order.product_id,
        "product_name": order.product_name,
        "quantity": order.quantity,
        "buyer_email": order.buyer_email,
        "buyer_id": order.buyer_id,
        "created_at": to_api(order.created_at),
        "expires_at": to_api(order.expires_at),
        "paid_at": to_api(order.paid_at),
        "delivered_at": to_api(order.delivered_at),
    }
