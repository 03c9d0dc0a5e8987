"""GET /admin/stats and the stream consumer that keeps its daily counters: each record of a batch
read into facts on its own, the batch's facts added to each day's counters together
(services/streams.process_together)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ..domain import stats as figures
from ..domain.clock import to_iso
from ..domain.commands import ReadStats
from ..domain.order import PAID_STATES, Order
from ..platform.settings import get_settings
from ..store import orders as order_store
from ..store import stats as stats_store
from ..store.models import OrderModel
from .auth import Principal
from .ports import clock


def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().shop_timezone)


# ------------------------------------------------------------------------------- counting


def _is_repeat_buyer(order: Order) -> bool:
    """Has this buyer paid before this order? One Query on the by_email index, answering the
    order number alone (whole orders were written, sent and parsed only to be counted)."""
    if not order.buyer_email:
        return False
    earlier = OrderModel.by_email.query(
        order.buyer_email.casefold(),
        OrderModel.created_at < to_iso(order.created_at),
        filter_condition=OrderModel.pay_status.is_in(*[s.value for s in PAID_STATES]),
        limit=1,
        attributes_to_get=[OrderModel.order_no.attr_name],
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


@dataclass(frozen=True)
class Group:
    key: str
    counters: dict[str, int]
    name: str | None = None  # a product's, when grouped by product


@dataclass(frozen=True)
class StatsReport:
    by: str
    since: date
    until: date
    timezone: str
    groups: list[Group]
    totals: dict[str, int]


def _group_order(by: str, key: str) -> tuple:
    """Price points by currency, then by amount (58.00 after 9.90); every other key as text."""
    if by == "price_point":
        currency, _, price = key.partition(" ")
        return currency, Decimal(price)
    return (key,)


def report(principal: Principal, command: ReadStats) -> StatsReport:
    zone = _zone()
    since, until = command.days(clock().now().astimezone(zone).date(), zone)
    by = command.by
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
    names = stats_store.read_labels(days) if by == "product" else {}
    return StatsReport(
        by,
        since,
        until,
        get_settings().shop_timezone,
        [
            Group(key, groups[key], names.get(product_label(key)))
            for key in sorted(groups, key=lambda k: _group_order(by, k))
        ],
        overall,
    )
