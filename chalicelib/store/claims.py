"""Claims: the keys of what the orders stream's consumers have done once for an order (an event
published, a stats fact counted), kept beside the order, never on it (models.ClaimModel).

A consumer either claims in one transaction with its effect (stats: a counter added twice or
never is wrong — store/stats.add_once), or checks, acts, then claims (events: at least once, so a
crash before the claim repeats the effect rather than losing it — services/events.py).
"""
from __future__ import annotations

from pynamodb.exceptions import UpdateError

from .models import ClaimModel

_DIM = "claims"


def _item(order_no: str) -> ClaimModel:
    return ClaimModel(f"claims#{order_no}", _DIM)


def is_claimed(order_no: str, key: str) -> bool:
    """One consistent GetItem of the order's claims."""
    try:
        item = ClaimModel.get(f"claims#{order_no}", _DIM, consistent_read=True, attributes_to_get=["keys"])
    except ClaimModel.DoesNotExist:
        return False
    return key in (item.keys or ())


def claim(order_no: str, key: str) -> bool:
    """Add `key` to the order's claims. False when it was already there (someone claimed first)."""
    try:
        _item(order_no).update(actions=[ClaimModel.keys.add({key})], condition=~ClaimModel.keys.contains(key))
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def claim_item(order_no: str, key: str) -> dict:
    """`claim` as one TransactWriteItems element, for an effect written in the same transaction
    (stats counters: store/stats.add_once)."""
    return {"Update": {
        "TableName": ClaimModel.Meta.table_name, "Key": {"bucket": {"S": f"claims#{order_no}"}, "dim": {"S": _DIM}},
        "UpdateExpression": "ADD #k :k", "ConditionExpression": "NOT contains(#k, :key)",
        "ExpressionAttributeNames": {"#k": "keys"},
        "ExpressionAttributeValues": {":k": {"SS": [key]}, ":key": {"S": key}}}}

