"""Counter items for statistics: one item per shop-time day (`bucket` = "day#YYYY-MM-DD",
`dim` = "counters"), one numeric attribute per counter (`<dimension>|<metric>[|<currency>]`),
incremented with a single ADD per order change."""
from __future__ import annotations

from typing import Iterable

from ..platform.aws import client
from .models import StatsModel

DIM = "counters"


def _key(day: str) -> dict:
    return {"bucket": {"S": f"day#{day}"}, "dim": {"S": DIM}}


def add(day: str, deltas: dict[str, int]) -> None:
    if not deltas:
        return
    names = {f"#c{i}": name for i, name in enumerate(deltas)}
    values = {f":v{i}": {"N": str(value)} for i, value in enumerate(deltas.values())}
    client("dynamodb").update_item(
        TableName=StatsModel.Meta.table_name, Key=_key(day),
        UpdateExpression="ADD " + ", ".join(f"#c{i} :v{i}" for i in range(len(deltas))),
        ExpressionAttributeNames=names, ExpressionAttributeValues=values)


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
