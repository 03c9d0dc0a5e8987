"""Counting the AWS requests a block of code makes, by operation, through botocore itself (every
client and PynamoDB model goes through it)."""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager

from botocore.client import BaseClient


@contextmanager
def aws_requests(monkeypatch, service: str = "dynamodb"):
    """Every DynamoDB (or `service`) request made inside, by operation (and the parameters of
    each)."""
    calls: Counter[str] = Counter()
    sent: list[tuple[str, dict]] = []
    original = BaseClient._make_api_call

    def counting(client, operation, params):
        if client.meta.service_model.service_name == service:
            calls[operation] += 1
            sent.append((operation, params))
        return original(client, operation, params)

    with monkeypatch.context() as patch:
        patch.setattr(BaseClient, "_make_api_call", counting)
        yield calls, sent
