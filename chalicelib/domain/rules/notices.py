"""The rules on notices: a verified gateway event naming an order we do not have, and one
under a stored notice's id that says otherwise."""

from __future__ import annotations

import hashlib
import json

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


def _conflict_subject(notice: Notice, conflict: dict[str, list[str | None]]) -> str:
    """The key and what the other event says: its retries are one anomaly, another is another."""
    said = json.dumps(sorted((name, seen[1]) for name, seen in conflict.items()))
    return f"{notice.dedupe_key}#{hashlib.sha256(said.encode()).hexdigest()[:12]}"


@rule(
    RuleConfig(Severity.CRITICAL),
    zh="通知编号被另一笔交易占用",
    en="Notification id used by another event",
)
def notice_conflict(
    notice: Notice, conflict: dict[str, list[str | None]], config: RuleConfig
) -> Finding | None:
    """A verified notice under a stored notice's dedupe key that says otherwise (another order,
    amount or trade number): answered failure and applied nowhere, so an operator must see it
    (services/ingest.py). Its order, when it names one we have, is flagged, not held: unpaid,
    it is not delivered anyway."""
    if not config.enabled:
        return None
    return Finding(
        rule="notice_conflict",
        severity=config.severity,
        subject=_conflict_subject(notice, conflict),
        order_no=notice.out_trade_no or None,
        channel=notice.channel,
        hold=False,
        details={
            "expected": f"notice {notice.dedupe_key} as stored",
            "seen": "another event under its id: "
            + ", ".join(f"{name} {seen[1]} (stored {seen[0]})" for name, seen in conflict.items()),
            "dedupe_key": notice.dedupe_key,
            "differences": conflict,
            "trade_no": notice.trade_no,
            "amount": notice.amount.format() if notice.amount else None,
            "currency": notice.amount.currency if notice.amount else None,
            "source": notice.source.value,
        },
    )
