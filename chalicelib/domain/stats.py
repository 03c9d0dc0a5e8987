"""Sales statistics as counters. Pure: no I/O.

Every order counts in its creation cohort: the shop-time day and hour it was created in. A change
of the order (created, paid, fee known, refunded, delivered) becomes counter deltas under each
dimension it belongs to — `all`, `hour:HH`, `channel:<id>`, `product:<id>`,
`price:<currency> <amount>` — and per currency for money. The stream keeps one counter item per
day, so a month of statistics reads thirty items, not a month of orders. Latencies (created to
paid, paid to delivered) are kept as histograms, so p50/p95 come out of counters too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from .order import PAID_STATES, DeliveryStatus, Order, PayStatus

LATENCY_BOUNDS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 21600, 86400)
DIMENSIONS = ("hour", "hour_of_day", "day", "channel", "product", "price_point")
DELIVERY_LATENCY = "lat"
PAY_LATENCY = "paylat"


@dataclass(frozen=True)
class Fact:
    """Something about one order worth counting once, with the key that makes it once."""

    key: str
    deltas: dict[str, int]


def cohort_day(order: Order, zone: tzinfo) -> str:
    return order.created_at.astimezone(zone).strftime("%Y-%m-%d")


def dims(order: Order, zone: tzinfo) -> list[str]:
    hour = order.created_at.astimezone(zone).strftime("%H")
    return [
        "all",
        f"hour:{hour}",
        f"channel:{order.channel}",
        f"product:{order.product_id}",
        f"price:{order.amount.currency} {order.amount.format()}",
    ]


def _counter(dim: str, metric: str, currency: str | None = None) -> str:
    return f"{dim}|{metric}" + (f"|{currency}" if currency else "")


def latency_bucket(seconds: float, histogram: str = DELIVERY_LATENCY) -> str:
    for bound in LATENCY_BOUNDS:
        if seconds <= bound:
            return f"{histogram}_le_{bound}"
    return f"{histogram}_gt_max"


def facts(old: Order | None, new: Order, repeat_buyer: bool) -> list[Fact]:
    """What this change of the order adds to the counters (each fact counted once per order)."""
    found: list[Fact] = []
    if old is None:
        found.append(Fact("created", {"created": 1}))
    was_paid = old is not None and old.pay_status in PAID_STATES
    if new.pay_status in PAID_STATES and not was_paid and new.paid_amount:
        paid = {"paid": 1, f"paid_minor|{new.paid_amount.currency}": new.paid_amount.minor}
        if new.paid_at:
            paid[
                latency_bucket(max((new.paid_at - new.created_at).total_seconds(), 0), PAY_LATENCY)
            ] = 1
        if repeat_buyer:
            paid["repeat_orders"] = 1
        found.append(Fact("paid", paid))
    if new.fee and (old is None or old.fee != new.fee):
        previous = old.fee.minor if old and old.fee and old.fee.currency == new.fee.currency else 0
        found.append(
            Fact(
                f"fee:{new.fee.minor}", {f"fee_minor|{new.fee.currency}": new.fee.minor - previous}
            )
        )
    converted = _converted(old, new)
    if converted is not None:
        found.append(converted)
    if new.refunded_amount and (old is None or old.refunded_amount != new.refunded_amount):
        previous = old.refunded_amount.minor if old and old.refunded_amount else 0
        refund = {
            f"refunded_minor|{new.refunded_amount.currency}": new.refunded_amount.minor - previous
        }
        if not previous:
            refund["refunded"] = 1
        found.append(Fact(f"refund:{new.refunded_amount.minor}", refund))
    if new.pay_status is PayStatus.EXPIRED and (
        old is None or old.pay_status is not PayStatus.EXPIRED
    ):
        found.append(Fact("expired", {"expired": 1}))
    delivered_now = new.delivery_status is DeliveryStatus.DELIVERED and (
        old is None or old.delivery_status is not DeliveryStatus.DELIVERED
    )
    if delivered_now and new.paid_at and new.delivered_at:
        seconds = max((new.delivered_at - new.paid_at).total_seconds(), 0)
        found.append(Fact("delivered", {"delivered": 1, latency_bucket(seconds): 1}))
    return found


def _converted(old: Order | None, new: Order) -> Fact | None:
    """A payment the gateway settled in another currency: its amount leaves the paid currency's
    money and the converted amount joins the settlement currency's, so fees and net are summed
    where they were charged (US$19.99 paid, HK$155.92 settled, the HK$ fee against HK$)."""
    settled, paid = new.settled_amount, new.paid_amount
    if settled is None or paid is None or settled.currency == paid.currency:
        return None
    if old is not None and old.settled_amount == settled:
        return None
    return Fact(
        "settled",
        {
            f"converted_minor|{paid.currency}": paid.minor,
            f"settled_minor|{settled.currency}": settled.minor,
        },
    )


def counter_deltas(order: Order, zone: tzinfo, fact: Fact) -> dict[str, int]:
    """The fact's deltas under every dimension of the order: `<dim>|<metric>[|<currency>]`."""
    out: dict[str, int] = {}
    for dim in dims(order, zone):
        for metric, value in fact.deltas.items():
            name, _, currency = metric.partition("|")
            out[_counter(dim, name, currency or None)] = value
    return out


# ------------------------------------------------------------------------------- reading


def _percentile(counters: dict[str, int], histogram: str, fraction: float) -> int | None:
    """The upper bound of the bucket holding that fraction of the histogram's orders (seconds);
    None when empty or beyond the last bound."""
    total = sum(v for k, v in counters.items() if k.startswith(f"{histogram}_"))
    if not total:
        return None
    running = 0
    for bound in LATENCY_BOUNDS:
        running += counters.get(f"{histogram}_le_{bound}", 0)
        if running >= fraction * total:
            return bound
    return None


def _percentiles(counters: dict[str, int], histogram: str) -> dict[str, int | None]:
    return {
        "p50": _percentile(counters, histogram, 0.5),
        "p95": _percentile(counters, histogram, 0.95),
    }


def summarise(counters: dict[str, int]) -> dict[str, Any]:
    """One group's figures from its counters (money per currency, exact minor units)."""
    created, paid = counters.get("created", 0), counters.get("paid", 0)
    money: dict[str, dict[str, int]] = {}
    for name, value in counters.items():
        metric, _, currency = name.partition("|")
        if currency:
            money.setdefault(currency, {})[metric] = value
    return {
        "orders_created": created,
        "orders_paid": paid,
        "orders_expired": counters.get("expired", 0),
        "success_rate": round(paid / created, 4) if created else None,
        "orders_refunded": counters.get("refunded", 0),
        "repeat_buyer_orders": counters.get("repeat_orders", 0),
        "delivered": counters.get("delivered", 0),
        "money": money,
        "create_to_pay_seconds": _percentiles(counters, PAY_LATENCY),
        "pay_to_delivery_seconds": _percentiles(counters, DELIVERY_LATENCY),
    }


def group_key(by: str, day: str, dim: str) -> str | None:
    """Which output group a stored dimension feeds, for the `by` the operator asked."""
    kind, _, value = dim.partition(":")
    if by == "day":
        return day if kind == "all" else None
    if by == "hour":
        return f"{day}T{value}" if kind == "hour" else None
    if by == "hour_of_day":
        return value if kind == "hour" else None
    wanted = {"channel": "channel", "product": "product", "price_point": "price"}[by]
    return value if kind == wanted else None


def merge(into: dict[str, int], counters: Iterable[tuple[str, int]]) -> None:
    for name, value in counters:
        into[name] = into.get(name, 0) + value
