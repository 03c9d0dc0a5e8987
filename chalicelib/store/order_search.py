"""Which index answers an order filter, and the candidates it yields, newest first.

One plan per filter shape (docs/internals.md "Access patterns"): the most selective filter present picks
the index (a composite one for channel + status, status + amount and channel + amount); every other
filter is applied afterwards by `OrderFilter.matches`. Candidates come
sorted by the plan's sort key (creation time, or payment time for a paid-time range) and then
order number, so key-set pagination works the same for every plan.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from itertools import chain
from typing import Any, Literal, overload

from pynamodb.pagination import ResultIterator

from ..domain.clock import from_iso, to_iso
from ..domain.order_filter import OrderFilter
from ..platform.read_budget import metered
from .amount_bands import bands_between
from .models import OrderModel
from .search_keys import AFTER_TIME, HEAD, SEP, amount_key, email_head

SWEEP_PAGE = 1000  # items per request when every match is read anyway (totals, exports)
OPEN_START, OPEN_END = "0", "9"  # sort-key bounds below and above every ISO time


class WireItem(dict):
    """An item as DynamoDB sends it (attribute name -> attribute value); its string attributes
    also read as a model's do (`item.created_at`, None when missing), which is all the merge and
    the plans ask of an item. No model is built (exports read every item this way)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> str | None:
        if name.startswith("__"):
            raise AttributeError(name)
        value = self.get(name)
        return None if value is None else value["S"]


@dataclass(frozen=True)
class Reading:
    """How the plan's Queries read: `attributes` a projection (None reads whole items);
    `wire` yields WireItems instead of models."""

    attributes: list[str] | None = None
    wire: bool = False


Item = OrderModel | WireItem
# (low, high, page size, how to read) -> streams
Sources = Callable[[str, str, int, Reading], list[Iterable[Item]]]


@dataclass(frozen=True)
class Plan:
    index: str
    sort_attr: str
    sources: Sources


def _days_desc(start: datetime, end: datetime) -> list[str]:
    days, day = [], end.date()
    while day >= start.date():
        days.append(day.isoformat())
        day -= timedelta(days=1)
    return days


def _query(
    index,
    key: str,
    condition,
    page_size: int,
    reading: Reading,
    after: dict | None = None,
) -> Iterable[Item]:
    """One Query, lazily: nothing is read (or charged to the request's read budget) until the
    merge asks for its first item. `after`: the index key of an item to start just below."""
    if reading.wire:
        return metered(_wire_query(index, key, condition, page_size, reading, after), page_size)
    return metered(
        index.query(
            key,
            condition,
            scan_index_forward=False,
            page_size=page_size,
            last_evaluated_key=after,
            attributes_to_get=reading.attributes,
        ),
        page_size,
    )


# Set only while a wire read's own Query is in flight: its items are then taken from the
# response body as sent (one json.loads) instead of botocore's per-shape parse, which walks every
# member of AttributeValue for every attribute of every item — most of an export's CPU.
_items_as_sent: ContextVar[bool] = ContextVar("items_as_sent", default=False)


def _take_items_as_sent(response_dict: dict, customized_response_dict: dict, **_: Any) -> None:
    """botocore's `before-parse` hook: on a wire read's successful Query, the items go into the
    parsed response as the JSON body holds them (DynamoDB's wire format: {"S": …}, {"N": "58"},
    {"L": […]}, {"M": {…}}; orders hold no binary attribute, whose base64 text botocore would
    have decoded); botocore parses the rest of the body (counts, LastEvaluatedKey) as ever."""
    if not _items_as_sent.get() or response_dict["status_code"] != 200:
        return
    body = json.loads(response_dict["body"])
    customized_response_dict["Items"] = body.pop("Items", [])
    response_dict["body"] = json.dumps(body).encode()


def _query_as_sent(*args: Any, **kwargs: Any) -> dict:
    connection = OrderModel._get_connection()
    connection.connection.client.meta.events.register(
        "before-parse.dynamodb.Query", _take_items_as_sent, unique_id="paytrack-items-as-sent"
    )
    token = _items_as_sent.set(True)
    try:
        return connection.query(*args, **kwargs)
    finally:
        _items_as_sent.reset(token)


def _wire_query(
    index, key: str, condition, page_size: int, reading: Reading, after: dict | None = None
) -> Iterator[WireItem]:
    """The same Query as `index.query` makes (PynamoDB's connection builds the request and its
    ResultIterator pages it), its items kept in the wire format as the response sent them."""
    return ResultIterator(
        _query_as_sent,
        (key,),
        {
            "range_key_condition": condition,
            "index_name": index.Meta.index_name,
            "exclusive_start_key": after,
            "scan_index_forward": False,
            "limit": page_size,
            "attributes_to_get": reading.attributes,
        },
        map_fn=WireItem,
    )


def _share(page: int, streams: int) -> int:
    """Items per request for each of `streams` merged streams: together about one page, so the
    merge reads little more than it returns however many values the filter unites."""
    return max(2, -(-page // max(streams, 1)))


def _per_value(index, values: Iterable[str]) -> Sources:
    values = list(values)
    return lambda low, high, page, reading: [
        _query(
            index,
            v,
            OrderModel.created_at.between(low, high),
            _share(page, len(values)),
            reading,
        )
        for v in values
    ]


def _newest_keys(index, partition: str, sort_attr, lowest: str, highest: str):
    """The distinct keys `k` of sort values `k#<created_at>` in [lowest, highest], highest
    first, each with its newest item: one Query of one item per key."""
    upper = highest
    while True:
        found = list(
            metered(
                index.query(
                    partition,
                    sort_attr.between(lowest, upper),
                    scan_index_forward=False,
                    limit=1,
                ),
                1,
            )
        )
        if not found:
            return
        key = getattr(found[0], sort_attr.attr_name).rpartition(SEP)[0]
        yield key, found[0]
        upper = key + SEP  # below every sort value of this key, above those of smaller keys


def _per_key(
    index, partitions: list[str], sort_attr, lowest: str, highest: str, known: str | None = None
) -> Sources:
    """Indexes sorted by `<key>#<created_at>` (an amount, an address): every key in range is
    found with its newest item, which heads its stream when it falls in the time range (a key
    whose newest order is older than the range adds nothing more); each stream then reads that
    key alone in the time range, newest first. A `known` single key (an exact price) needs no
    finding: one stream per partition. Wire reads start each stream at its key's top (the
    head, a model, read again among them)."""

    def sources(low: str, high: str, page: int, reading: Reading) -> list[Iterable[Item]]:
        heads: list[tuple[str, str, OrderModel | None]] = (
            [(partition, known, None) for partition in partitions]
            if known is not None
            else [
                (partition, key, head)
                for partition in partitions
                for key, head in _newest_keys(index, partition, sort_attr, lowest, highest)
                if head.created_at >= low
            ]
        )
        size = _share(page, len(heads))
        partition_attr = index._hash_key_attribute().attr_name

        def rest(partition: str, key: str, after: OrderModel | None) -> Iterable[Item]:
            span = sort_attr.between(f"{key}{SEP}{low}", f"{key}{SEP}{high}")
            start = None
            if after is not None:  # the head, read already: go on below it
                start = {
                    partition_attr: {"S": partition},
                    sort_attr.attr_name: {"S": getattr(after, sort_attr.attr_name)},
                    "order_no": {"S": after.order_no},
                }
            return _query(index, partition, span, size, reading, start)

        return [
            chain([head], rest(partition, key, head))
            if head is not None and head.created_at <= high and not reading.wire
            else rest(partition, key, None)
            for partition, key, head in heads
        ]

    return sources


def _per_created_day(f: OrderFilter) -> Sources:
    def sources(low: str, high: str, page: int, reading: Reading) -> list[Iterable[Item]]:
        days = _days_desc(
            from_iso(low), from_iso(high)
        )  # from the cursor's day, not the range's end
        return [
            chain.from_iterable(
                _query(
                    OrderModel.by_created,
                    day,
                    OrderModel.created_at.between(low, high),
                    page,
                    reading,
                )
                for day in days
            )
        ]

    return sources


def _per_paid_day(f: OrderFilter) -> Sources:
    """One Query per payment day: from `paid_from` (or the creation range's start: nothing is
    paid before it was created) to `paid_to`, never past now (nothing is paid in the future)."""
    now = datetime.now(f.created_to.tzinfo)
    start = max(f.paid_from or f.created_from, f.created_from)
    end = min(f.paid_to or now, now)

    def sources(low: str, high: str, page: int, reading: Reading) -> list[Iterable[Item]]:
        last = end if high == OPEN_END else min(end, from_iso(high))  # from the cursor's day on
        return [
            chain.from_iterable(
                _query(
                    OrderModel.by_paid,
                    day,
                    OrderModel.paid_at.between(low, high),
                    page,
                    reading,
                )
                for day in _days_desc(start, last)
            )
        ]

    return sources


def _minor_bounds(f: OrderFilter) -> tuple[int, int]:
    """Index bounds in minor units of two-digit currencies; the predicate is exact afterwards."""
    low = (f.min_amount or Decimal(0)) * 100
    high = (f.max_amount if f.max_amount is not None else Decimal(10**13)) * 100
    return int(low.to_integral_value(ROUND_FLOOR)), int(high.to_integral_value(ROUND_CEILING))


def _amount_plan(name: str, index, prefixes: list[str], f: OrderFilter) -> Plan:
    """Every price in the filter's range, each read alone: an exact price reads only its orders."""
    low, high = _minor_bounds(f)
    partitions = [f"{prefix}{band}" for prefix in prefixes for band in bands_between(low, high)]
    lowest, highest = amount_key(low) + SEP, amount_key(high) + SEP + AFTER_TIME
    exact = amount_key(low) if amount_key(low) == amount_key(high) else None
    return Plan(
        name,
        "created_at",
        _per_key(index, partitions, OrderModel.amount_at, lowest, highest, exact),
    )


def _email_plan(f: OrderFilter) -> Plan | None:
    """An address by its beginning (at least HEAD characters of local part, or all of a shorter
    one and "@"), or every address at one domain; None when neither index can answer."""
    assert f.email is not None
    if f.email_domain:
        return Plan(
            "by_email_domain",
            "created_at",
            _per_value(OrderModel.by_email_domain, [f.email_domain]),
        )
    needle = f.email.casefold()
    local, at, _ = needle.partition("@")
    if len(local) < HEAD and not (at and local):
        return None
    return Plan(
        "by_email_prefix",
        "created_at",
        _per_key(
            OrderModel.by_email_prefix,
            [email_head(local)],
            OrderModel.email_at,
            needle,
            needle + "\U0010ffff",
        ),
    )


def _single(order_no: str) -> Sources:
    def sources(low: str, high: str, page: int, reading: Reading) -> list[Iterable[Item]]:
        if reading.wire:
            found = OrderModel._get_connection().get_item(
                order_no, attributes_to_get=reading.attributes
            )
            return [[WireItem(found["Item"])] if "Item" in found else []]
        try:
            return [[OrderModel.get(order_no, attributes_to_get=reading.attributes)]]
        except OrderModel.DoesNotExist:
            return [[]]

    return sources


def _by_trade_no(trade_no: str) -> Sources:
    """The few orders of one trade number (an index without a sort key), sorted here."""

    def sources(low: str, high: str, page: int, reading: Reading) -> list[Iterable[Item]]:
        found = (
            _wire_query(OrderModel.by_trade_no, trade_no, None, page, reading)
            if reading.wire
            else OrderModel.by_trade_no.query(trade_no, attributes_to_get=reading.attributes)
        )
        return [
            sorted(metered(found, page), key=lambda i: (i.created_at, i.order_no), reverse=True)
        ]

    return sources


def choose_plan(f: OrderFilter) -> Plan:
    """The most selective index the filter allows, in this order."""
    created = "created_at"
    if f.order_no:
        return Plan("table", created, _single(f.order_no))
    if f.trade_no:
        return Plan("by_trade_no", created, _by_trade_no(f.trade_no))
    if f.ip:
        return Plan("by_ip", created, _per_value(OrderModel.by_ip, [f.ip]))
    if f.exact_email and f.email is not None:
        return Plan("by_email", created, _per_value(OrderModel.by_email, [f.email.casefold()]))
    if f.email and (plan := _email_plan(f)):
        return plan
    if f.flagged:
        return Plan("by_flagged", created, _per_value(OrderModel.by_flagged, ["1"]))
    if f.min_amount is not None or f.max_amount is not None:
        if f.channel:
            return _amount_plan(
                "by_channel_amount", OrderModel.by_channel_amount, [f.channel + SEP], f
            )
        if f.statuses:
            prefixes = [status + SEP for status in f.statuses]
            return _amount_plan("by_status_amount", OrderModel.by_status_amount, prefixes, f)
        return _amount_plan("by_amount", OrderModel.by_amount, [""], f)
    if f.channel and f.statuses:
        pairs = [f"{f.channel}{SEP}{status}" for status in f.statuses]
        return Plan("by_channel_status", created, _per_value(OrderModel.by_channel_status, pairs))
    for index, values in (
        (OrderModel.by_status, f.statuses),
        (OrderModel.by_delivery, [f.delivery]),
        (OrderModel.by_channel, [f.channel]),
        (OrderModel.by_method, [f.method]),
    ):
        if values and all(values):
            return Plan(index.Meta.index_name, created, _per_value(index, [v for v in values if v]))
    if f.paid_from or f.paid_to:
        return Plan("by_paid", "paid_at", _per_paid_day(f))
    return Plan("by_created", created, _per_created_day(f))


def _bounds(plan: Plan, f: OrderFilter, after: tuple[str, str] | None) -> tuple[str, str]:
    if plan.sort_attr == "paid_at":
        low = to_iso(f.paid_from) if f.paid_from else OPEN_START
        high = to_iso(f.paid_to) if f.paid_to else OPEN_END
    else:
        low, high = to_iso(f.created_from), to_iso(f.created_to)
    if after is not None:
        high = min(high, after[0])
    return low, high


@overload
def candidates(
    f: OrderFilter,
    after: tuple[str, str] | None,
    page_size: int = SWEEP_PAGE,
    attributes: list[str] | None = None,
    wire: Literal[False] = False,
) -> Iterator[OrderModel]: ...


@overload
def candidates(
    f: OrderFilter,
    after: tuple[str, str] | None,
    page_size: int = SWEEP_PAGE,
    attributes: list[str] | None = None,
    *,
    wire: Literal[True],
) -> Iterator[WireItem]: ...


def candidates(
    f: OrderFilter,
    after: tuple[str, str] | None,
    page_size: int = SWEEP_PAGE,
    attributes: list[str] | None = None,
    wire: bool = False,
) -> Iterator[Item]:
    """Every item the plan's index yields within the bounds, newest first, strictly after the
    cursor `after` = (sort value, order number). `page_size` items per request: what one page of
    results needs, so DynamoDB reads little more than is returned; larger when all is read.
    `attributes`: read only these (with the plan's sort key and order number), None for whole
    items; `wire`: yield WireItems (DynamoDB's own format) instead of models."""
    plan = choose_plan(f)
    low, high = _bounds(plan, f, after)

    def key(item: Item) -> tuple[str, str]:
        return getattr(item, plan.sort_attr) or "", item.order_no or ""

    if attributes is not None:
        attributes = sorted({*attributes, plan.sort_attr, "order_no"})
    reading = Reading(attributes, wire)
    for item in heapq.merge(*plan.sources(low, high, page_size, reading), key=key, reverse=True):
        if after is None or key(item) < tuple(after):
            yield item
