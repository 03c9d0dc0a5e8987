"""The rules that look at one order change (a stream record). Pure: each takes the change and its
rule's configuration and returns its findings, the same ones however often it sees the record.

amount_mismatch, channel_mismatch, currency_mismatch, late_payment: the state machine already held
the order at ingestion (domain/order.py); these turn a newly added hold reason into an anomaly
record.
duplicate_payment: every payment after the first. status_conflict: every `conflict` timeline
entry (a notice or query refused because it would move the order backwards or sideways).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..anomaly import Finding
from ..clock import to_api
from ..money import Money
from ..order import HoldReason, Order
from .change import OrderChange
from .config import (
    LargeAmountConfig,
    QuickRefundConfig,
    RuleConfig,
    RulesConfig,
    SuspiciousEmailConfig,
)
from .email import email_warnings


def _money(value: Money | None) -> dict[str, str] | None:
    return {"amount": value.format(), "currency": value.currency} if value is not None else None


def _finding(
    rule: str, config: RuleConfig, order: Order, details: dict[str, Any], subject: str | None = None
) -> Finding:
    return Finding(
        rule=rule,
        severity=config.severity,
        subject=subject or order.order_no,
        details=details,
        order_no=order.order_no,
        channel=order.channel,
        hold=config.hold,
    )


def _held_for(change: OrderChange, reason: HoldReason, config: RuleConfig) -> bool:
    return config.enabled and reason.value in change.new_hold_reasons


def amount_mismatch(change: OrderChange, config: RuleConfig) -> list[Finding]:
    if not _held_for(change, HoldReason.AMOUNT_MISMATCH, config):
        return []
    order = change.after
    return [
        _finding(
            "amount_mismatch",
            config,
            order,
            {
                "expected": _money(order.amount),
                "seen": _money(order.paid_amount),
                "trade_no": order.trade_no,
            },
        )
    ]


def channel_mismatch(change: OrderChange, config: RuleConfig) -> list[Finding]:
    """A payment arrived on another channel than the order's: money received, never delivered on
    automatically (whoever holds that channel's key could otherwise pay any order)."""
    if not _held_for(change, HoldReason.CHANNEL_MISMATCH, config):
        return []
    order = change.after
    foreign = [payment for payment in order.payments if payment.channel != order.channel]
    details: dict[str, Any] = {
        "expected": f"a payment on {order.channel}",
        "seen": "a payment on another channel",
    }
    if foreign:
        payment = foreign[-1]
        details.update(
            seen=f"a payment on {payment.channel}",
            paid_channel=payment.channel,
            trade_no=payment.payment_ref,
            paid=_money(payment.amount),
        )
    return [_finding("channel_mismatch", config, order, details)]


def currency_mismatch(change: OrderChange, config: RuleConfig) -> list[Finding]:
    if not _held_for(change, HoldReason.CURRENCY_MISMATCH, config):
        return []
    order = change.after
    return [
        _finding(
            "currency_mismatch",
            config,
            order,
            {
                "expected": _money(order.amount),
                "seen": _money(order.paid_amount),
                "trade_no": order.trade_no,
            },
        )
    ]


def late_payment(change: OrderChange, config: RuleConfig) -> list[Finding]:
    if not _held_for(change, HoldReason.LATE_PAYMENT, config):
        return []
    order = change.after
    deadline = order.closed_at or order.expired_at or order.expires_at
    return [
        _finding(
            "late_payment",
            config,
            order,
            {
                "expected": f"paid by {to_api(deadline)}",
                "seen": f"paid at {to_api(order.paid_at)}",
                "expires_at": to_api(order.expires_at),
                "closed_at": to_api(order.closed_at),
                "expired_at": to_api(order.expired_at),
                "paid_at": to_api(order.paid_at),
            },
        )
    ]


def duplicate_payment(change: OrderChange, config: RuleConfig) -> list[Finding]:
    """One anomaly per extra payment: each is money to give back."""
    if not config.enabled:
        return []
    order = change.after
    if not order.payments:
        return []
    first = order.payments[0]
    return [
        _finding(
            "duplicate_payment",
            config,
            order,
            {
                "expected": f"one payment ({first.payment_ref})",
                "seen": f"payment #{position + 1} ({payment.payment_ref})",
                "first_payment": {"ref": first.payment_ref, **_money(first.amount)},
                "extra_payment": {"ref": payment.payment_ref, **_money(payment.amount)},
                "refund_due": _money(payment.amount),
            },
            subject=f"{order.order_no}#{payment.payment_ref}",
        )
        for position, payment in change.new_payments
        if position > 0
    ]


def status_conflict(change: OrderChange, config: RuleConfig) -> list[Finding]:
    if not config.enabled:
        return []
    order = change.after
    return [
        _finding(
            "status_conflict",
            config,
            order,
            {
                "expected": f"a change allowed from {entry.data.get('pay_status', order.pay_status.value)}",
                "seen": entry.data.get("gateway_status"),
                "message": entry.message,
                "source": entry.source,
                "ledger_status": entry.data.get("pay_status"),
                "notice": entry.data.get("notice"),
            },
            subject=f"{order.order_no}#{entry.data.get('notice') or to_api(entry.at)}",
        )
        for entry in change.new_entries
        if entry.type == "conflict"
    ]


def suspicious_email(change: OrderChange, config: SuspiciousEmailConfig) -> list[Finding]:
    order = change.after
    if not (config.enabled and change.created and order.buyer_email):
        return []
    reasons = email_warnings(
        order.buyer_email,
        check_random=config.check_random_local_part,
        min_length=config.random_min_length,
        extra_disposable=config.extra_disposable_domains,
    )
    if not reasons:
        return []
    return [
        _finding(
            "suspicious_email",
            config,
            order,
            {"expected": "a personal e-mail address", "seen": reasons, "email": order.buyer_email},
        )
    ]


def quick_refund(change: OrderChange, config: QuickRefundConfig) -> list[Finding]:
    """A refund at most `within_minutes` after the payment (seed: 支付成功后立即要求退款)."""
    order = change.after
    if not (config.enabled and change.newly_refunded and order.paid_at):
        return []
    elapsed = order.refunded_at - order.paid_at
    if elapsed > config.within:
        return []
    return [
        _finding(
            "quick_refund",
            config,
            order,
            {
                "expected": f"no refund within {config.within_minutes} minutes of payment",
                "seen": f"refunded {int(elapsed.total_seconds())} s after payment",
                "paid_at": to_api(order.paid_at),
                "refunded_at": to_api(order.refunded_at),
                "refunded": _money(order.refunded_amount),
            },
        )
    ]


def large_amount(change: OrderChange, config: LargeAmountConfig) -> list[Finding]:
    """A payment at or above the threshold of its currency (seed: 大额交易提醒)."""
    order = change.after
    paid = order.paid_amount or order.amount
    if not (config.enabled and change.newly_paid):
        return []
    threshold = config.threshold(paid.currency)
    if threshold is None or paid.minor < threshold.minor:
        return []
    return [
        _finding(
            "large_amount",
            config,
            order,
            {
                "expected": f"below {threshold}",
                "seen": str(paid),
                "threshold": _money(threshold),
                "paid": _money(paid),
            },
        )
    ]


OrderRule = Callable[[OrderChange, Any], list[Finding]]

ORDER_RULES: tuple[tuple[str, OrderRule], ...] = (
    ("amount_mismatch", amount_mismatch),
    ("channel_mismatch", channel_mismatch),
    ("currency_mismatch", currency_mismatch),
    ("late_payment", late_payment),
    ("duplicate_payment", duplicate_payment),
    ("status_conflict", status_conflict),
    ("suspicious_email", suspicious_email),
    ("quick_refund", quick_refund),
    ("large_amount", large_amount),
)


def order_findings(change: OrderChange, rules: RulesConfig) -> list[Finding]:
    """Every finding of the per-order rules on this change, each rule with its configuration."""
    return [finding for name, rule in ORDER_RULES for finding in rule(change, getattr(rules, name))]
