"""Counter items for statistics: one item per shop-time day (`bucket` = "day#YYYY-MM-DD",
`dim` = "counters"), one numeric attribute per counter (`<dimension>|<metric>[|<currency>]`),
incremented with a single ADD per order change, in one transaction with the fact's claim."""
from __future__ import annotations

from typing import Iterable

from botocore.exceptions import ClientError

from ..platform.aws import client
from . import claims
from .models import StatsModel

DIM = "counters"
_CLAIMED = "ConditionalCheckFailed"


def _key(day: str) -> dict:
    return {"bucket": {"S": f"day#{day}"}, "dim": {"S": DIM}}


def add_once(day: str, deltas: dict[str, int], order_no: str, claim_key: str,
             labels: dict[str, str] | None = None) -> bool:
    """Add the deltas and claim the fact for the order in one transaction: both or neither.
    False when the fact was claimed already (counted before, or by a lost answer's retry).

    Claiming first and adding after could lose the fact (the claim written, its answer lost)
    or count it twice (the ADD applied, its answer lost, the claim released and retried).

    `labels` are text attributes set alongside (`label|product:<id>` = the product's name)."""
    labels = labels or {}
    names = {f"#c{i}": name for i, name in enumerate(deltas)} | {f"#l{i}": name for i, name in enumerate(labels)}
    values = {f":v{i}": {"N": str(value)} for i, value in enumerate(deltas.values())}
    values |= {f":l{i}": {"S": value} for i, value in enumerate(labels.values())}
    expression = "ADD " + ", ".join(f"#c{i} :v{i}" for i in range(len(deltas)))
    if labels:
        expression += " SET " + ", ".join(f"#l{i} = :l{i}" for i in range(len(labels)))
    counters = {"Update": {
        "TableName": StatsModel.Meta.table_name, "Key": _key(day), "UpdateExpression": expression,
        "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}}
    try:
        client("dynamodb").transact_write_items(TransactItems=[claims.claim_item(order_no, claim_key), counters])
    except ClientError as error:
        reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
        if error.response["Error"]["Code"] == "TransactionCanceledException" and reasons[:1] == [_CLAIMED]:
            return False
        raise
    return True


def read(days: Iterable[str]) -> dict[str, dict[str, int]]:
    """Counters by day (days with no orders are absent). One BatchGetItem per 100 days."""
    return {day: {k: int(v["N"]) for k, v in item.items() if "N" in v} for day, item in _items(days)}


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
        keys = [_key(day) for day in wanted[start:start + 100]]
        request = {StatsModel.Meta.table_name: {"Keys": keys, "ConsistentRead": True}}
        while request:
            response = client("dynamodb").batch_get_item(RequestItems=request)
            for item in response["Responses"].get(StatsModel.Meta.table_name, []):
                found.append((item["bucket"]["S"].split("#", 1)[1], item))
            request = response.get("UnprocessedKeys") or None
    return found
