"""The orders export's rows straight from DynamoDB's wire format: no model and no Order per item.

`order_row(zone, pii, word)` compiles a row builder once per export; it reads an item as the
Query sends it (attribute name -> {"S": …} / {"N": …} / {"L": …} / {"M": …}) and gives exactly
the cells `export_sources._order_row` gives for the same order read through PynamoDB and
`to_domain` (tests/unit/test_export_rows.py holds every attribute shape to that): numbers
decode as PynamoDB's NumberAttribute decodes them (JSON), amounts format from minor units (one
Money per distinct amount, cached), the fee, net and settled amount follow `settlement_of`.
`WireOrder` reads an item as the attributes the filter's checks ask of an Order, so
`OrderFilter.matches` itself decides which items are exported.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from ..domain.money import Money
from ..domain.order import DeliveryStatus, PayStatus
from ..domain.settlement import FeeStatus
from .export_words import Words

Wire = dict[str, Any]

#: What the export's Query reads: every attribute `order_row` and `WireOrder` (the filter's
#: checks) read, nothing else — not the history (timeline, applied notices, user agent), the
#: derived index keys or the lower-cased copies (with them an item is two thirds larger, and its
#: json.loads a third dearer). tests/unit/test_export_rows.py reads items through this projection
#: and compares their rows with those of whole items, for shapes that fill every column.
ATTRIBUTES = (
    "order_no",
    "created_at",
    "product_id",
    "product_name",
    "quantity",
    "amount_minor",
    "currency",
    "payments",
    "fee_minor",
    "net_minor",
    "fee_currency",
    "settled_minor",
    "exchange_rate",
    "refunded_minor",
    "pay_status",
    "delivery_status",
    "hold_reasons",
    "channel",
    "method",
    "trade_no",
    "paid_at",
    "delivered_at",
    "buyer_email",
    "buyer_id",
    "buyer_ip",
    "device",
    "browser",
    "os",
    "flag",
)
Masker = Callable[[str, "str | None"], "str | None"]


@lru_cache(maxsize=4096)
def _minor(number: str) -> int:
    """A DynamoDB number as PynamoDB's NumberAttribute reads it, then `int()` as `to_domain`."""
    return int(json.loads(number))


@lru_cache(maxsize=65536)
def _formatted(minor: int, currency: str) -> str:
    return Money(minor, currency).format()


def _text(item: Wire, name: str) -> str | None:
    value = item.get(name)
    return None if value is None else value.get("S")  # {"NULL": true} reads as None too


def _number(item: Wire, name: str) -> int | None:
    value = item.get(name)
    number = None if value is None else value.get("N")
    return None if number is None else _minor(number)


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _local(value: datetime | None, zone: tzinfo) -> str:
    """As `export_sources._local`: "YYYY-MM-DD HH:MM:SS" in the shop's zone."""
    return value.astimezone(zone).isoformat(" ", "seconds")[:19] if value else ""


def local_clock(zone: tzinfo) -> Callable[[str | None], str]:
    """Stored times (`to_iso`: "2026-11-25T06:23:00.123456Z") as `_local` shows them, read by
    the hour: the zone's hour for each UTC hour is worked out once, and the minutes and seconds
    are the stored ones — exact whenever the zone's offset is whole hours all through that hour
    (any other hour, or text of another shape, goes the whole way)."""

    @lru_cache(maxsize=16384)
    def hour(utc_hour: str) -> str | None:
        start = datetime.fromisoformat(utc_hour + ":00:00+00:00")
        first = start.astimezone(zone)
        last = (start + timedelta(hours=1, microseconds=-1)).astimezone(zone)
        offset = first.utcoffset()
        if offset is None or offset != last.utcoffset() or offset % timedelta(hours=1):
            return None
        return first.isoformat(" ", "seconds")[:13]

    def local(text: str | None) -> str:
        if not text:
            return ""
        if len(text) == 27 and text[10] == "T" and text[26] == "Z":
            found = hour(text[:13])
            if found is not None:
                return found + text[13:19]
        return _local(datetime.fromisoformat(text), zone)

    return local


def _money(minor: int | None, currency: str | None) -> str:
    return "" if minor is None or currency is None else _formatted(minor, currency)


class _Payment:
    __slots__ = ("payment_ref",)

    def __init__(self, payment: Wire):
        self.payment_ref = payment["M"]["payment_ref"]["S"]


_ORDER_FIELDS: dict[str, Callable[[Wire], Any]] = {
    "order_no": lambda i: i["order_no"]["S"],
    "trade_no": lambda i: _text(i, "trade_no"),
    "payments": lambda i: [_Payment(p) for p in (i.get("payments") or {}).get("L", ())],
    "created_at": lambda i: datetime.fromisoformat(i["created_at"]["S"]),
    "paid_at": lambda i: _when(_text(i, "paid_at")),
    "pay_status": lambda i: PayStatus(i["pay_status"]["S"]),
    "delivery_status": lambda i: DeliveryStatus(i["delivery_status"]["S"]),
    "channel": lambda i: i["channel"]["S"],
    "method": lambda i: _text(i, "method"),
    "amount": lambda i: Money(_minor(i["amount_minor"]["N"]), i["currency"]["S"]),
    "buyer_email": lambda i: _text(i, "buyer_email"),
    "buyer_id": lambda i: _text(i, "buyer_id"),
    "product_name": lambda i: i["product_name"]["S"],
    "buyer_ip": lambda i: _text(i, "buyer_ip"),
}


class WireOrder:
    """An item read as the attributes `OrderFilter`'s checks ask of an Order, decoded on access
    (a check that is not asked decodes nothing)."""

    __slots__ = ("_item",)

    def __init__(self, item: Wire):
        self._item = item

    def __getattr__(self, name: str) -> Any:
        return _ORDER_FIELDS[name](self._item)


def flagged(item: Wire) -> bool:
    return bool(_text(item, "flag"))


def order_row(zone: tzinfo, pii: Masker, word: Words) -> Callable[[Wire], list[Any]]:
    """The row builder of one export (its zone, masker and language)."""
    local = local_clock(zone)

    def row(item: Wire) -> list[Any]:
        currency = item["currency"]["S"]
        payments = (item.get("payments") or {}).get("L")
        first = payments[0]["M"] if payments else None
        paid_currency = first["currency"]["S"] if first else currency
        settlement_currency = _text(item, "fee_currency") or paid_currency
        paid = _minor(first["amount_minor"]["N"]) if first else None
        fee_minor = _number(item, "fee_minor")
        fee: tuple[int, str] | None = (
            (fee_minor, settlement_currency)
            if fee_minor is not None
            else (
                (_minor(first["fee_minor"]["N"]), paid_currency)
                if first and "fee_minor" in first
                else None
            )
        )
        net_minor = _number(item, "net_minor")
        # settlement_of(order), column by column
        settled: tuple[int, str] | None = None
        rate = status = None
        net: tuple[int, str] | None
        if net_minor is not None and fee is not None:
            net = (net_minor, settlement_currency)
            settled_minor = _number(item, "settled_minor")
            settled = None if settled_minor is None else (settled_minor, settlement_currency)
            rate, status = _text(item, "exchange_rate"), FeeStatus.STATEMENT
        else:
            received = (
                _minor(first["received_minor"]["N"])
                if first and "received_minor" in first
                else None
            )
            gross = received if received is not None else paid
            if fee is not None:
                net = (
                    (gross - fee[0], paid_currency)
                    if gross is not None and paid_currency == fee[1]
                    else None
                )
                status = FeeStatus.GATEWAY
            else:
                net = None if gross is None else (gross, paid_currency)
        paid_at, delivered_at = _text(item, "paid_at"), _text(item, "delivered_at")
        latency = (
            int(
                (
                    datetime.fromisoformat(delivered_at) - datetime.fromisoformat(paid_at)
                ).total_seconds()
            )
            if paid_at and delivered_at
            else ""
        )
        money = fee or net
        hold = (item.get("hold_reasons") or {}).get("L") or ()
        return [
            item["order_no"]["S"],
            local(item["created_at"]["S"]),
            item["product_id"]["S"],
            item["product_name"]["S"],
            _minor(item["quantity"]["N"]),
            _formatted(_minor(item["amount_minor"]["N"]), currency),
            currency,
            _money(paid, paid_currency),
            _money(*fee) if fee else "",
            _money(*net) if net else "",
            _money(_number(item, "refunded_minor"), paid_currency),
            word("pay_status", item["pay_status"]["S"]),
            word("delivery_status", item["delivery_status"]["S"]),
            word.joined("hold_reason", [reason["S"] for reason in hold]),
            item["channel"]["S"],
            _text(item, "method") or "",
            _text(item, "trade_no") or "",
            local(paid_at),
            local(delivered_at),
            latency,
            pii("email", _text(item, "buyer_email")) or "",
            pii("id", _text(item, "buyer_id")) or "",
            pii("ip", _text(item, "buyer_ip")) or "",
            word("device", _text(item, "device")) or "",
            _text(item, "browser") or "",
            _text(item, "os") or "",
            money[1] if money else "",
            _money(*settled) if settled else "",
            rate or "",
            status or "",
        ]

    return row
