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


def add_once(day: str, deltas: dict[str, int], order_no: str, claim_key: str) -> bool:
    """Add the deltas and claim the fact for the order in one transaction: both or neither.
    False when the fact was claimed already (counted before, or by a lost answer's retry).

    Claiming first and adding after could lose the fact (the claim written, its answer lost)
    or count it twice (the ADD applied, its answer lost, the claim released and retried)."""
    names = {f"#c{i}": name for i, name in enumerate(deltas)}
    values = {f":v{i}": {"N": str(value)} for i, value in enumerate(deltas.values())}
    counters = {"Update": {
        "TableName": StatsModel.Meta.table_name, "Key": _key(day),
        "UpdateExpression": "ADD " + ", ".join(f"#c{i} :v{i}" for i in range(len(deltas))),
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
    wanted = list(dict.fromkeys(days))
    found: dict[str, dict[str, int]] = {}
    for start in range(0, len(wanted), 100):
        keys = [_key(day) for day in wanted[start:start + 100]]
        request = {StatsModel.Meta.table_name: {"Keys": keys, "ConsistentRead": True}}
        while request:
            response = client("dynamodb").batch_get_item(RequestItems=request)
            for item in response["Responses"].get(StatsModel.Meta.table_name, []):
                day = item["bucket"]["S"].split("#", 1)[1]
                found[day] = {k: int(v["N"]) for k, v in item.items() if "N" in v}
            request = response.get("UnprocessedKeys") or None
    return found
