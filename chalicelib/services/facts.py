"""Structured facts for the admin page: what a timeline entry or an anomaly says, as fields
(amounts, channel, reasons, expected and seen values) the page words in Chinese or English.

The stored English `message` and `details` stay as they are for curl users; the facts are derived
from them at read time, so entries and anomalies recorded before this existed get facts too. A
type or rule this module does not know passes its data through unchanged: the page labels the
fields it knows and shows the message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..domain.anomaly import printed_id
from ..domain.order import EntryType, Order, TimelineEntry

# bookkeeping keys of an entry's data that say nothing to an operator
_PLUMBING = frozenset({"notice", "idempotency_key", "request"})


def _after(message: str, separator: str) -> str | None:
    """The free text an operator or a shop wrote, after the fixed English part of a message."""
    _, found, rest = message.partition(separator)
    return rest.strip() or None if found else None


def _created(entry: TimelineEntry, order: Order) -> dict[str, Any]:
    return {
        "product": order.product_name,
        "quantity": order.quantity,
        "amount": order.amount.format(),
        "currency": order.amount.currency,
        "channel": order.channel,
    }


def _payment(entry: TimelineEntry, order: Order) -> dict[str, Any]:
    paid = next((p for p in order.payments if p.notice_key == entry.data.get("notice")), None)
    facts: dict[str, Any] = {
        "channel": paid.channel if paid else order.channel,
        "method": paid.method if paid else order.method,
        "late": entry.message.startswith("late "),
        "duplicate": bool(entry.data.get("duplicate")),
    }
    if paid is not None and "amount" not in entry.data:
        facts.update(amount=paid.amount.format(), currency=paid.amount.currency)
    return facts


def _refund(entry: TimelineEntry, order: Order) -> dict[str, Any]:
    if entry.source == "operator":
        return {"note": _after(entry.message, "recorded by an operator:")}
    # a gateway's refund notice carries the running total as `refunded`; None drops that key
    return {"total": entry.data.get("refunded"), "refunded": None}


def _query(entry: TimelineEntry, order: Order) -> dict[str, Any]:
    return {"channel": order.channel, "reason": _after(entry.message, " — ")}


_STATUS_IN_MESSAGE = re.compile(r"gateway (?:status|says) (?P<gateway_status>\S+)")


def _notice(entry: TimelineEntry, order: Order) -> dict[str, Any]:
    found = _STATUS_IN_MESSAGE.search(entry.message)
    return {
        "channel": order.channel,
        **({"gateway_status": found["gateway_status"]} if found else {}),
    }


_RECONCILED_DAY = re.compile(r"statement of (?P<date>\d{4}-\d{2}-\d{2})")

_TIMELINE: dict[EntryType, Callable[[TimelineEntry, Order], dict[str, Any]]] = {
    EntryType.CREATED: _created,
    EntryType.PAYMENT: _payment,
    EntryType.REFUND: _refund,
    EntryType.QUERY: _query,
    EntryType.NOTICE: _notice,
    EntryType.CLOSED: lambda entry, order: {"channel": order.channel},
    EntryType.HOLD: lambda entry, order: {"reasons": entry.data.get("reasons", [])},
    EntryType.RELEASE: lambda entry, order: {"note": _after(entry.message, "hold released:")},
    EntryType.DELIVERY: lambda entry, order: {"detail": _after(entry.message, ":")},
    EntryType.STATUS: lambda entry, order: (
        {"pay_status": "expired"} if entry.message == "expired unpaid" else {}
    ),
    EntryType.ANOMALY: lambda entry, order: {
        "held": entry.message.endswith("delivery held"),
        "released_since": entry.data.get("hold") == "released_since",
        "anomaly_id": printed_id(entry.data.get("anomaly_id") or "") or None,
    },
    EntryType.CONFLICT: lambda entry, order: {"why": _after(entry.message, "not applied:")},
    EntryType.NOTE: lambda entry, order: {"note": entry.message},
    EntryType.RECONCILIATION: lambda entry, order: (
        found.groupdict() if (found := _RECONCILED_DAY.search(entry.message)) else {}
    ),
}


def timeline_facts(entry: TimelineEntry, order: Order) -> dict[str, Any]:
    """The entry's data without bookkeeping, plus what its type lets us derive (None dropped)."""
    facts = {key: value for key, value in entry.data.items() if key not in _PLUMBING}
    derive = _TIMELINE.get(entry.type)
    if derive is not None:
        facts.update(derive(entry, order))
    return {key: value for key, value in facts.items() if value is not None}


# ---------------------------------------------------------------------------------- anomalies

# The rules' English `expected` / `seen` texts (domain/rules), read back into fields.
_ANOMALY_TEXTS: dict[str, tuple[str | None, str | None]] = {
    "channel_mismatch": (
        r"a payment on (?P<expected_channel>\S+)",
        r"a payment on (?P<seen_channel>\S+)",
    ),
    "late_payment": (r"paid by (?P<deadline>\S+)", r"paid at (?P<paid_at>\S+)"),
    "duplicate_payment": (
        r"one payment \((?P<first_ref>.+)\)",
        r"payment #(?P<position>\d+) \((?P<extra_ref>.+)\)",
    ),
    "status_conflict": (r"a change allowed from (?P<ledger_status>\w+)", None),
    "quick_refund": (
        r"no refund within (?P<within_minutes>\d+) minutes",
        r"refunded (?P<elapsed_s>\d+) s",
    ),
    "ip_burst": (
        r"fewer than (?P<min_orders>\d+) orders for (?P<min_buyers>\d+) or more buyers from one IP "
        r"in (?P<window_minutes>\d+) minutes",
        r"(?P<order_count>\d+) orders, (?P<buyer_count>\d+) buyers",
    ),
    "channel_failure": (
        r"at most (?P<max_percent>\d+)% failed",
        r"(?P<failed>\d+) of (?P<attempts>\d+) failed \((?P<percent>\d+)%\)",
    ),
    "slow_delivery": (
        r"delivered within (?P<after_minutes>\d+) minutes",
        r"(?P<delivery_status>\w+) (?P<waited_s>\d+) s after payment",
    ),
    "unknown_order": (
        r"an order (?P<out_trade_no>\S+) registered",
        r"(?P<kind>\w+) notice with no order",
    ),
}


# reconciliation lines' notes (domain/reconcile.py), as a code and amounts
_RECONCILIATION_NOTES = (
    ("paid_here_only", r"paid here, not in the gateway's statement$"),
    ("refunded_here_only", r"refunded here, not at the gateway$"),
    ("refunded_there_only", r"refunded at the gateway, not here$"),
    (
        "refunds_differ",
        r"refunded (?P<gateway_refund>\S+) \S+ at the gateway, (?P<our_refund>\S+) \S+ here$",
    ),
)


def _reconciliation_note(note: Any) -> dict[str, Any]:
    for code, pattern in _RECONCILIATION_NOTES:
        found = re.match(pattern, note) if isinstance(note, str) else None
        if found:
            return {"note_code": code, **found.groupdict()}
    return {}


def _read(pattern: str | None, text: Any) -> dict[str, Any]:
    if pattern is None or not isinstance(text, str):
        return {}
    found = re.match(pattern, text)
    if found is None:
        return {}
    return {
        key: int(value) if value.isdigit() else value for key, value in found.groupdict().items()
    }


def anomaly_facts(rule: str, details: dict[str, Any]) -> dict[str, Any]:
    """Expected and seen as fields: amounts stay {amount, currency} objects, counts are numbers,
    an e-mail's problems their codes (`disposable_domain`, `random_local_part`)."""
    expected, seen = details.get("expected"), details.get("seen")
    facts: dict[str, Any] = {}
    if isinstance(expected, dict):
        facts["expected_amount"] = expected
    if isinstance(seen, dict):
        facts["seen_amount"] = seen
    if rule == "suspicious_email" and isinstance(seen, list):
        facts["email_problems"] = seen
    if rule == "status_conflict" and isinstance(seen, str):
        facts["gateway_status"] = seen
    expected_pattern, seen_pattern = _ANOMALY_TEXTS.get(rule, (None, None))
    facts.update(_read(expected_pattern, expected))
    facts.update(_read(seen_pattern, seen))
    if rule.startswith("reconciliation_"):
        facts.update(_reconciliation_note(details.get("note")))
    return {key: value for key, value in facts.items() if value is not None}
