"""Make the embedded DynamoDB as atomic as the real one under concurrent requests.

DynamoDB applies each write to an item atomically, conditions included. moto's server handles
requests on many threads and its backend checks a condition and then writes without a lock, so
two concurrent conditional updates of one item can both pass. The local stack serves real
concurrent traffic, so its writes are serialized here (one lock: stricter than DynamoDB, never
weaker). Tests on in-process moto call from one thread and need nothing.
"""
from __future__ import annotations

import functools
import threading

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_lock = threading.RLock()


def serialize_dynamodb_writes() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    for name in _WRITES:
        original = getattr(DynamoDBBackend, name)
        if getattr(original, "_serialized", False):
            continue

        @functools.wraps(original)
        def locked(self, *args, __original=original, **kwargs):
            with _lock:
                return __original(self, *args, **kwargs)

        locked._serialized = True
        setattr(DynamoDBBackend, name, locked)
