"""What the service tests on fakes build: a registration, a notification as its gateway sends
it, an operator."""

from __future__ import annotations

from urllib.parse import parse_qsl

from chalicelib.domain.commands import RegisterOrder
from chalicelib.domain.money import Money
from chalicelib.gateways.base import Headers, InboundRequest
from chalicelib.services.auth import Principal
from tests.support.notifications import Wire

ORDER_NO = "20261125140000000001"
OPERATOR = Principal(key_id="key_op1", name="Li Na (ops)", role="operator")


def registration(order_no: str | None = ORDER_NO, amount: str = "58.00") -> RegisterOrder:
    return RegisterOrder(
        order_no=order_no,
        product_id="vip-month",
        product_name="VIP会员 月卡",
        quantity=1,
        amount=Money.parse(amount, "CNY"),
        channel="epay-main",
        buyer_email="buyer@example.com",
        buyer_id="u-1",
        buyer_ip="203.0.113.7",
        user_agent=None,
        expires_in_s=900,
    )


def inbound(wire: Wire) -> InboundRequest:
    """The wire as /notify/{channel} receives it."""
    return InboundRequest(
        method=wire.method,
        headers=Headers(wire.signed_now()),
        body=wire.body,
        query=dict(parse_qsl(wire.query)),
        source_ip="198.51.100.9",
        raw_query_string=wire.query or None,
    )
