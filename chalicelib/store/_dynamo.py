"""The low-level DynamoDB calls PynamoDB's model API does not offer: conditional writes that,
when their condition fails, return the item as it was (ReturnValuesOnConditionCheckFailure).

That saves the GetItem a failed condition would otherwise cost to classify — the reason a
duplicate notification costs two requests and not three (DESIGN.md: the ingestion write path).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pynamodb.constants import ITEM
from pynamodb.exceptions import VerboseClientError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model

M = TypeVar("M", bound=Model)
_CONDITION_FAILED = "ConditionalCheckFailedException"


@dataclass(frozen=True)
class WriteResult(Generic[M]):
    ok: bool
    item: M | None  # the new item (ok, when asked for) or the item as it was (condition
    # failed; None if absent)


def _connection(model: type[Model]):
    return model._get_connection().connection


def dispatch(model: type[Model], operation: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """A raw DynamoDB call through the model's connection (requests stay counted and retried
    like PynamoDB's own); the caller builds the wire-format arguments."""
    return _connection(model).dispatch(operation, kwargs)


def _condition_failed_item(error: VerboseClientError) -> dict[str, Any] | None:
    if error.response.get("Error", {}).get("Code") != _CONDITION_FAILED:
        raise error
    cause = error.__cause__
    return getattr(cause, "response", {}).get("Item")


def update_or_old(
    model: type[M],
    hash_key: Any,
    actions: Sequence[Action],
    condition: Condition | None,
    return_new: bool = True,
) -> WriteResult[M]:
    """UpdateItem returning the item as it was when the condition fails, and on success the
    new item (ALL_NEW) or, with `return_new=False`, nothing: the caller that needs only the
    outcome does not pay for DynamoDB sending and PynamoDB parsing the whole item back."""
    conn = _connection(model)
    table = model.Meta.table_name
    kwargs = conn.get_operation_kwargs(
        table,
        model._serialize_keys(hash_key)[0],
        actions=actions,
        condition=condition,
        return_values="ALL_NEW" if return_new else None,
        return_values_on_condition_failure="ALL_OLD",
    )
    try:
        response = conn.dispatch("UpdateItem", kwargs)
    except VerboseClientError as error:
        old = _condition_failed_item(error)
        return WriteResult(False, model.from_raw_data(old) if old else None)
    return WriteResult(True, model.from_raw_data(response["Attributes"]) if return_new else None)


def put_or_old(item: M, condition: Condition) -> WriteResult[M]:
    """PutItem; when the condition fails, the item already stored comes back instead."""
    model = type(item)
    conn = _connection(model)
    args, save = item._get_save_args(condition=condition)
    kwargs = conn.get_operation_kwargs(
        model.Meta.table_name,
        next(iter(args)),  # the hash key
        range_key=save.get("range_key"),
        key=ITEM,
        attributes=save["attributes"],
        condition=condition,
        return_values_on_condition_failure="ALL_OLD",
    )
    try:
        conn.dispatch("PutItem", kwargs)
    except VerboseClientError as error:
        old = _condition_failed_item(error)
        return WriteResult(False, model.from_raw_data(old) if old else None)
    return WriteResult(True, item)
