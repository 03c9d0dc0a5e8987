"""Make the embedded AWS behave like the real one where the local stack would otherwise differ.

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


def answer_unsupported_methods_like_api_gateway() -> None:
    """chalice's local server answers methods it has no handler for (TRACE, CONNECT) with 501;
    API Gateway refuses them with a 4xx. Answer 405 with our error shape instead."""
    import json

    from chalice.local import ChaliceRequestHandler

    def method_not_allowed(handler) -> None:
        body = json.dumps({"error": {"code": "method_not_allowed", "message": f"{handler.command} is not supported",
                                     "details": {}}}).encode()
        handler.send_response(405)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    for method in ("TRACE", "CONNECT"):
        setattr(ChaliceRequestHandler, f"do_{method}", method_not_allowed)
