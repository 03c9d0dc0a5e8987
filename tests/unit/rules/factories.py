"""Orders, payments and changes for the rule tests: a paid order in one call, a change from two
states, every time relative to NOW."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from chalicelib.domain.money import Money
from chalicelib.domain.order import DeliveryStatus, Order, Payment, PayStatus, TimelineEntry
from chalicelib.domain.rules.change import OrderChange, PriorState

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def order(n: int = 1, **overrides) -> Order:
    fields = {
        "order_no": f"2026112514000000000{n}",
        "amount": Money(5800),
        "channel": "alipay-main",
        "product_id": "vip-month",
        "product_name": "VIP会员 月卡",
        "quantity": 1,
        "created_at": NOW,
        "expires_at": NOW + timedelta(minutes=15),
        "buyer_email": f"buyer{n}@qq.com",
        "buyer_ip": "36.110.1.2",
    }
    fields.update(overrides)
    return Order(**fields)


def payment(ref: str = "T1", amount: Money = Money(5800)) -> Payment:
    return Payment(
        payment_ref=ref, amount=amount, channel="alipay-main", at=NOW, notice_key=f"n-{ref}"
    )


def paid(
    base: Order,
    at: datetime = NOW,
    amount: Money | None = None,
    hold: list[str] | None = None,
    **overrides,
) -> Order:
    amount = amount or base.amount
    fields = {
        "pay_status": PayStatus.PAID,
        "paid_at": at,
        "trade_no": "T1",
        "paid_amount": amount,
        "payments": [payment("T1", amount)],
        "timeline": [*base.timeline, TimelineEntry(at, "payment", "notify", "paid")],
    }
    if hold:
        fields.update(hold_reasons=hold, delivery_status=DeliveryStatus.HELD)
    fields.update(overrides)
    return replace(base, **fields)


def change(before: Order | None, after: Order) -> OrderChange:
    return OrderChange(before=PriorState.of(before) if before else None, after=after)
