"""Claims: the keys of what the orders stream's consumers have done once for an order (an event
published, a stats fact counted), kept beside the order, never on it (models.ClaimModel).

A consumer either claims in one transaction with its effect (stats: a counter added twice or
never is wrong — store/stats.add_once_each), or checks, acts, then claims (events: at least once,
so a crash before the claim repeats the effect rather than losing it — services/events.py; a
stream batch's events are claimed together once they went out, `claim_all`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import UpdateError

from ..platform.aws import client
from .models import ClaimModel

_DIM = "claims"


def _key(order_no: str) -> dict:
    return {"bucket": {"S": f"claims#{order_no}"}, "dim": {"S": _DIM}}


def _item(order_no: str) -> ClaimModel:
    return ClaimModel(f"claims#{order_no}", _DIM)


# The claims of a stream batch's orders, read ahead in one request (read_ahead), else None.
_read_ahead: ContextVar[dict[str, set[str]] | None] = ContextVar("claims_read_ahead", default=None)


@contextmanager
def read_ahead(order_nos: Iterable[str]) -> Iterator[None]:
    """Read the claims of a batch's orders in one request; inside, `is_claimed` answers from
    them (kept current by this process's own `claim`s). An order's records are one shard's,
    handled by one invocation at a time, so the consistent read can only miss a claim landing
    after it (an earlier, timed-out attempt's last request): the check then lets an event out
    again, which at least once allows, and `claim` itself stays exact."""
    token = _read_ahead.set(claimed_keys(order_nos))
    try:
        yield
    finally:
        _read_ahead.reset(token)


def is_claimed(order_no: str, key: str) -> bool:
    """From the batch's claims read ahead, else one consistent GetItem of the order's claims."""
    known = _read_ahead.get()
    if known is not None and order_no in known:
        return key in known[order_no]
    try:
        item = ClaimModel.get(
            f"claims#{order_no}", _DIM, consistent_read=True, attributes_to_get=["keys"]
        )
    except ClaimModel.DoesNotExist:
        return False
    return key in (item.keys or ())


def claim(order_no: str, key: str) -> bool:
    """Add `key` to the order's claims. False when it was already there (someone claimed first)."""
    try:
        _item(order_no).update(
            actions=[ClaimModel.keys.add({key})], condition=~ClaimModel.keys.contains(key)
        )
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            _remember(order_no, key)
            return False
        raise
    _remember(order_no, key)
    return True


# TransactWriteItems takes at most 100 items: one per order, all its keys in one ADD.
_ORDERS_PER_TRANSACTION = 100


def claim_all(keys_by_order: Mapping[str, Collection[str]]) -> None:
    """Claim each order's keys, one transaction per 100 orders. A transaction DynamoDB cancels
    (a key claimed meanwhile, or a write it met) is done again order by order, key by key, so
    what was claimed already stays as it was and the rest is claimed."""
    orders = [(order_no, keys) for order_no, keys in keys_by_order.items() if keys]
    for start in range(0, len(orders), _ORDERS_PER_TRANSACTION):
        chunk = orders[start : start + _ORDERS_PER_TRANSACTION]
        try:
            client("dynamodb").transact_write_items(
                TransactItems=[claim_item(order_no, keys) for order_no, keys in chunk]
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            for order_no, keys in chunk:
                for key in sorted(keys):
                    claim(order_no, key)
        for order_no, keys in chunk:
            for key in keys:
                _remember(order_no, key)


def _remember(order_no: str, key: str) -> None:
    known = _read_ahead.get()
    if known is not None:
        known.setdefault(order_no, set()).add(key)


def claim_item(order_no: str, keys: Iterable[str]) -> dict:
    """Claiming `keys` for the order as one TransactWriteItems element, for effects written in the
    same transaction (stats counters: store/stats.add_once_each); it fails if any is claimed."""
    keys = sorted(keys)
    values = {f":k{i}": {"S": key} for i, key in enumerate(keys)}
    return {
        "Update": {
            "TableName": ClaimModel.Meta.table_name,
            "Key": _key(order_no),
            "UpdateExpression": "ADD #k :keys",
            "ConditionExpression": " AND ".join(
                f"NOT contains(#k, :k{i})" for i in range(len(keys))
            ),
            "ExpressionAttributeNames": {"#k": "keys"},
            "ExpressionAttributeValues": {":keys": {"SS": keys}, **values},
        }
    }


def claimed_keys(order_nos: Iterable[str]) -> dict[str, set[str]]:
    """The claims of several orders (consistent BatchGetItem, 100 orders a request)."""
    wanted = list(dict.fromkeys(order_nos))
    table = ClaimModel.Meta.table_name
    found: dict[str, set[str]] = {order_no: set() for order_no in wanted}
    for start in range(0, len(wanted), 100):
        request: dict[str, Any] | None = {
            table: {
                "Keys": [_key(no) for no in wanted[start : start + 100]],
                "ConsistentRead": True,
            }
        }
        while request:
            response = client("dynamodb").batch_get_item(RequestItems=request)
            for item in response["Responses"].get(table, []):
                found[item["bucket"]["S"].split("#", 1)[1]] = set(
                    item.get("keys", {}).get("SS", ())
                )
            request = response.get("UnprocessedKeys") or None
    return found
