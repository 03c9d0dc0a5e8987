"""The rule on notices: a verified gateway event naming an order we do not have."""

from __future__ import annotations

from ..anomaly import Finding, Severity
from ..clock import to_api
from ..notice import Notice
from .config import RuleConfig
from .registry import rule


def unknown_order_id(notice: Notice) -> str:
    return f"unknown_order#{notice.dedupe_key}"


@rule(RuleConfig(Severity.CRITICAL), zh="未知订单的付款", en="Payment for an unknown order")
def unknown_order(notice: Notice, config: RuleConfig) -> Finding | None:
    """One anomaly per notice left waiting for its order; it resolves itself once the order is
    registered and the notice applied (services/screening.py)."""
    if not config.enabled:
        return None
    return Finding(
        rule="unknown_order",
        severity=config.severity,
        subject=notice.dedupe_key,
        order_no=notice.out_trade_no or None,
        channel=notice.channel,
        hold=False,
        details={
            "expected": f"an order {notice.out_trade_no or '(not named)'} registered before its payment",
            "seen": f"{notice.kind.value} notice with no order",
            "trade_no": notice.trade_no,
            "gateway_status": notice.gateway_status,
            "amount": notice.amount.format() if notice.amount else None,
            "currency": notice.amount.currency if notice.amount else None,
            "event_time": to_api(notice.event_time),
        },
    )
