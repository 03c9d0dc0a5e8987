"""Counter items for statistics: one item per shop-time day (`bucket` = "day#YYYY-MM-DD",
`dim` = "counters"), one numeric attribute per counter (`<dimension>|<metric>[|<currency>]`),
incremented with one ADD per day per stream batch, in one transaction with the facts' claims."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ..platform.aws import client
from . import claims
from .models import StatsModel

DIM = "counters"
_CLAIMED = "ConditionalCheckFailed"


def _key(day: str) -> dict:
    return {"bucket": {"S": f"day#{day}"}, "dim": {"S": DIM}}


@dataclass(frozen=True)
class Fact:
    """One fact of one order to count once: its claim key and what it adds to a day's counters."""

    day: str
    order_no: str
    key: str
    deltas: dict[str, int]
    labels: dict[str, str] = field(
        default_factory=dict
    )  # text set alongside (`label|product:<id>`)


# A transaction holds at most 100 items (the orders' claims and the day's counter item), and an
# UpdateExpression at most 4 KB: ~13 bytes per counter or label ("#c199 :v199, ").
MAX_ORDERS_PER_WRITE = 99
MAX_COUNTERS_PER_WRITE = 250

OrderFacts = dict[str, dict[str, Fact]]  # order number -> claim key -> fact


def add_once_each(facts: Iterable[Fact]) -> int:
    """Add every fact not counted yet: per day, one transaction of the orders' claims and one ADD
    of their summed deltas (chunked under DynamoDB's limits) — both or neither, so a counter is
    never added twice or lost. A fact claimed already (a replayed record, a lost answer's retry)
    cancels the transaction; the claims are read and the rest written again. Returns how many
    facts were counted now.

    Claiming first and adding after could lose a fact (the claim written, its answer lost) or
    count it twice (the ADD applied, its answer lost, the claim released and retried)."""
    by_day: dict[str, OrderFacts] = {}
    for fact in facts:
        by_day.setdefault(fact.day, {}).setdefault(fact.order_no, {})[fact.key] = fact
    return sum(_add_day(day, chunk) for day, orders in by_day.items() for chunk in _chunks(orders))


def _chunks(orders: OrderFacts) -> Iterator[OrderFacts]:
    chunk: OrderFacts = {}
    counters: set[str] = set()
    for order_no, facts in orders.items():
        names = {name for fact in facts.values() for name in [*fact.deltas, *fact.labels]}
        if chunk and (
            len(chunk) == MAX_ORDERS_PER_WRITE or len(counters | names) > MAX_COUNTERS_PER_WRITE
        ):
            yield chunk
            chunk, counters = {}, set()
        chunk[order_no] = facts
        counters |= names
    if chunk:
        yield chunk


def _add_day(day: str, orders: OrderFacts) -> int:
    while orders:
        if _write(day, orders):
            return sum(len(facts) for facts in orders.values())
        claimed = claims.claimed_keys(orders)
        orders = {
            order_no: remaining
            for order_no, facts in orders.items()
            if (remaining := {key: f for key, f in facts.items() if key not in claimed[order_no]})
        }
    return 0


def _write(day: str, orders: OrderFacts) -> bool:
    """False when a claim was taken already (the transaction changed nothing)."""
    totals: dict[str, int] = {}
    labels: dict[str, str] = {}
    for facts in orders.values():
        for fact in facts.values():
            for name, value in fact.deltas.items():
                totals[name] = totals.get(name, 0) + value
            labels.update(fact.labels)
    expression = "ADD " + ", ".join(f"#c{i} :v{i}" for i in range(len(totals)))
    if labels:
        expression += " SET " + ", ".join(f"#l{i} = :l{i}" for i in range(len(labels)))
    counters = {
        "Update": {
            "TableName": StatsModel.Meta.table_name,
            "Key": _key(day),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": {f"#c{i}": name for i, name in enumerate(totals)}
            | {f"#l{i}": name for i, name in enumerate(labels)},
            "ExpressionAttributeValues": {
                f":v{i}": {"N": str(value)} for i, value in enumerate(totals.values())
            }
            | {f":l{i}": {"S": value} for i, value in enumerate(labels.values())},
        }
    }
    items = [claims.claim_item(order_no, facts) for order_no, facts in orders.items()]
    try:
        client("dynamodb").transact_write_items(TransactItems=[*items, counters])
    except ClientError as error:
        reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
        if (
            error.response["Error"]["Code"] == "TransactionCanceledException"
            and _CLAIMED in reasons[: len(items)]
        ):
            return False
        raise
    return True


def read(days: Iterable[str]) -> dict[str, dict[str, int]]:
    """Counters by day (days with no orders are absent). One BatchGetItem per 100 days."""
    return {
        day: {k: int(v["N"]) for k, v in item.items() if "N" in v} for day, item in _items(days)
    }


def read_labels(days: Iterable[str]) -> dict[str, str]:
    """The text labels of those days (`label|product:<id>` -> name), the latest day's winning."""
    found: dict[str, str] = {}
    for _, item in sorted(_items(days), key=lambda pair: pair[0]):
        found.update({k: v["S"] for k, v in item.items() if k.startswith("label|") and "S" in v})
    return found


def _items(days: Iterable[str]) -> list[tuple[str, dict]]:
    wanted = list(dict.fromkeys(days))
    found: list[tuple[str, dict]] = []
    for start in range(0, len(wanted), 100):
        keys = [_key(day) for day in wanted[start : start + 100]]
        request: dict[str, Any] | None = {
            StatsModel.Meta.table_name: {"Keys": keys, "ConsistentRead": True}
        }
        while request:
            response = client("dynamodb").batch_get_item(RequestItems=request)
            found.extend(
                (item["bucket"]["S"].split("#", 1)[1], item)
                for item in response["Responses"].get(StatsModel.Meta.table_name, [])
            )
            request = response.get("UnprocessedKeys") or None
    return found
