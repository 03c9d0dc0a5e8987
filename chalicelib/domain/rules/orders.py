"""The rules that look at one order change (a stream record). Pure: each takes the change and its
rule's configuration and returns its findings, the same ones however often it sees the record.

amount_mismatch, channel_mismatch, currency_mismatch, late_payment: the state machine already held
the order at ingestion (domain/order.py); these turn a newly added hold reason into an anomaly
record.
duplicate_payment: every payment after the first. status_conflict: every `conflict` timeline
entry (a notice or query refused because it would move the order backwards or sideways).
"""

from __future__ import annotations

from typing import Any, overload

from ..anomaly import Finding, Severity
from ..clock import to_api
from ..money import Money
from ..order import EntryType, HoldReason, Order
from .change import OrderChange
from .config import (
    LargeAmountConfig,
    QuickRefundConfig,
    RuleConfig,
    RulesConfig,
    SuspiciousEmailConfig,
)
from .email import email_warnings
from .registry import order_rules, rule


@overload
def _money(value: Money) -> dict[str, str]: ...
@overload
def _money(value: Money | None) -> dict[str, str] | None: ...
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


@rule(
    RuleConfig(Severity.CRITICAL, hold=True),
    zh="金额不符",
    en="Amount mismatch",
    per_order_change=True,
    fixed_hold=True,
)
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


@rule(
    RuleConfig(Severity.CRITICAL, hold=True),
    zh="渠道不符",
    en="Paid on another channel",
    per_order_change=True,
    fixed_hold=True,
)
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


@rule(
    RuleConfig(Severity.CRITICAL, hold=True),
    zh="币种不符",
    en="Currency mismatch",
    per_order_change=True,
    fixed_hold=True,
)
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


@rule(
    RuleConfig(Severity.CRITICAL, hold=True),
    zh="超时后付款",
    en="Paid after expiry",
    per_order_change=True,
    fixed_hold=True,
)
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


@rule(
    RuleConfig(Severity.CRITICAL, hold=True),
    zh="重复付款",
    en="Paid twice",
    per_order_change=True,
    fixed_hold=True,
)
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


@rule(RuleConfig(Severity.CRITICAL), zh="状态冲突", en="Status conflict", per_order_change=True)
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
        if entry.type == EntryType.CONFLICT
    ]


@rule(
    SuspiciousEmailConfig(Severity.WARNING),
    zh="可疑邮箱",
    en="Suspicious e-mail",
    per_order_change=True,
)
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


@rule(
    QuickRefundConfig(Severity.WARNING),
    zh="付款后立即退款",
    en="Refund right after payment",
    per_order_change=True,
)
def quick_refund(change: OrderChange, config: QuickRefundConfig) -> list[Finding]:
    """A refund at most `within_minutes` after the payment (seed: 支付成功后立即要求退款)."""
    order = change.after
    if not (config.enabled and change.newly_refunded and order.paid_at and order.refunded_at):
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


@rule(LargeAmountConfig(Severity.INFO), zh="大额交易", en="Large amount", per_order_change=True)
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


def order_findings(change: OrderChange, rules: RulesConfig) -> list[Finding]:
    """Every finding of the per-order rules on this change, each rule with its configuration."""
    return [finding for r in order_rules() for finding in r.check(change, rules.of(r.name))]
