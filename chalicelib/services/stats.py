"""GET /admin/stats and the stream consumer that keeps its daily counters: each record of a batch
read into facts on its own, the batch's facts added to each day's counters together
(services/streams.process_together)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ..domain import params as p
from ..domain import stats as figures
from ..domain.clock import to_iso
from ..domain.errors import ValidationFailed
from ..domain.money import Money
from ..domain.order import PAID_STATES, Order
from ..platform.settings import get_settings
from ..store import orders as order_store
from ..store import stats as stats_store
from ..store.models import OrderModel
from . import render
from .auth import Principal

MAX_DAYS = 366


def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().shop_timezone)


# ------------------------------------------------------------------------------- counting


def _is_repeat_buyer(order: Order) -> bool:
    """Has this buyer paid before this order? One Query on the by_email index."""
    if not order.buyer_email:
        return False
    earlier = OrderModel.by_email.query(
        order.buyer_email.casefold(),
        OrderModel.created_at < to_iso(order.created_at),
        filter_condition=OrderModel.pay_status.is_in(*[s.value for s in PAID_STATES]),
        limit=1,
    )
    return next(iter(earlier), None) is not None


def facts_of_change(old: Order | None, new: Order) -> list[stats_store.Fact]:
    """What one change of an order adds to its day's counters, each fact under its claim key."""
    zone = _zone()
    repeat = (
        new.pay_status in PAID_STATES
        and (old is None or old.pay_status not in PAID_STATES)
        and _is_repeat_buyer(new)
    )
    day = figures.cohort_day(new, zone)
    return [
        stats_store.Fact(
            day,
            new.order_no,
            f"stats:{fact.key}",
            figures.counter_deltas(new, zone, fact),
            {product_label(new.product_id): new.product_name} if fact.key == "created" else {},
        )
        for fact in figures.facts(old, new, repeat)
    ]


def product_label(product_id: str) -> str:
    """The stats item's text attribute naming a product, so reports show names, not ids."""
    return f"label|product:{product_id}"


def read_order_record(record: dict[str, Any]) -> list[stats_store.Fact]:
    """The facts of one orders-stream record (Lambda's wire format)."""
    dynamodb = record.get("dynamodb") or {}
    if record.get("eventName") == "REMOVE" or not dynamodb.get("NewImage"):
        return []
    new = order_store.from_stream_image(dynamodb["NewImage"])
    old = order_store.from_stream_image(dynamodb["OldImage"]) if dynamodb.get("OldImage") else None
    return facts_of_change(old, new)


def count_facts(facts: list[stats_store.Fact]) -> int:
    """Add a batch's facts to their days' counters, each once (store/stats.add_once_each)."""
    return stats_store.add_once_each(facts)


# ------------------------------------------------------------------------------- reporting


def _day(params: Mapping[str, str], name: str, default: date) -> date:
    """A shop-time day: `2026-11-25`, or the day an ISO 8601 time falls on in the shop's zone."""
    value = params.get(name)
    if not value:
        return default
    try:
        if len(value) == 10:
            return p.parse_day(value)
        return p.parse_time(value).astimezone(_zone()).date()
    except (ValueError, OverflowError):
        raise ValidationFailed(
            f"{name}: a date (2026-11-25) or an ISO 8601 time, from {p.TIME_MIN.year} "
            f"to {p.TIME_MAX.year - 1}",
            {"field": name},
        ) from None


def _money_view(money: dict[str, dict[str, int]]) -> dict[str, dict[str, str]]:
    """Per currency: paid in it, what was converted out of it to another settlement currency,
    settled into it from others, its fees (charged in it) and the net that stays in it."""
    out = {}
    for currency, values in money.items():
        paid, fee, refunded = (
            values.get("paid_minor", 0),
            values.get("fee_minor", 0),
            values.get("refunded_minor", 0),
        )
        converted, settled = values.get("converted_minor", 0), values.get("settled_minor", 0)
        out[currency] = {
            "paid": Money(paid, currency).format(),
            "fees": Money(fee, currency).format(),
            "refunds": Money(refunded, currency).format(),
            "converted": Money(converted, currency).format(),
            "settled": Money(settled, currency).format(),
            "net": Money(paid - converted + settled - fee - refunded, currency).format(),
        }
    return out


def _view(key: str | None, counters: dict[str, int], by: str | None = None) -> dict[str, Any]:
    summary = figures.summarise(counters)
    summary["money"] = _money_view(summary["money"])
    if key is None:
        return summary
    if by == "price_point":
        currency, _, price = key.partition(" ")
        return {"key": key, "currency": currency, "price": price} | summary
    return {"key": key} | summary


def _group_order(by: str, key: str) -> tuple:
    """Price points by currency, then by amount (58.00 after 9.90); every other key as text."""
    if by == "price_point":
        currency, _, price = key.partition(" ")
        return currency, Decimal(price)
    return (key,)


def report(principal: Principal, params: Mapping[str, str]) -> dict[str, Any]:
    today = datetime.now(_zone()).date()
    until = _day(params, "to", today)
    since = _day(params, "from", until - timedelta(days=6))
    by = params.get("by") or "day"
    if by not in figures.DIMENSIONS:
        raise ValidationFailed(f"by: one of {', '.join(figures.DIMENSIONS)}", {"field": "by"})
    p.check_range(since, until, timedelta(days=MAX_DAYS - 1))
    days = [(since + timedelta(days=i)).isoformat() for i in range((until - since).days + 1)]
    stored = stats_store.read(days)
    groups: dict[str, dict[str, int]] = {}
    overall: dict[str, int] = {}
    for day, counters in stored.items():
        for name, value in counters.items():
            dim, _, metric = name.partition("|")
            key = figures.group_key(by, day, dim)
            if key is not None:
                figures.merge(groups.setdefault(key, {}), [(metric, value)])
            if dim == "all":
                figures.merge(overall, [(metric, value)])
    views = [
        _view(key, groups[key], by) for key in sorted(groups, key=lambda k: _group_order(by, k))
    ]
    if by == "product":
        names = stats_store.read_labels(days)
        for view in views:
            view["name"] = names.get(product_label(view["key"]))
    return {
        "by": by,
        "from": since.isoformat(),
        "to": until.isoformat(),
        "timezone": get_settings().shop_timezone,
        "groups": views,
        "totals": _view(None, overall),
        "channel_names": render.channel_names(),
    }
