"""Claims: the keys of what the orders stream's consumers have done once for an order (an event
published, a stats fact counted), kept beside the order, never on it (models.ClaimModel).

A consumer either claims before its effect and releases the claim when the effect fails (stats:
a counter added twice is wrong), or checks, acts, then claims (events: at least once, so a crash
before the claim repeats the effect rather than losing it — services/events.py).
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


def release(order_no: str, key: str) -> None:
    """Withdraw a claim whose effect failed, so the retried stream record tries again."""
    _item(order_no).update(actions=[ClaimModel.keys.delete({key})])
