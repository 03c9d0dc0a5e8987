"""Lazy, cached boto3 clients: created on first use, not at import (cold starts stay short).

boto3 follows AWS_ENDPOINT_URL, which is how the local stack points everything at moto.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from .settings import get_settings


@lru_cache(maxsize=None)
def client(service: str) -> Any:
    import boto3  # deferred: importing boto3 is a large part of a cold start

    return boto3.session.Session().client(service, region_name=get_settings().region)


def reset_clients() -> None:
    """Forget cached clients (tests switch endpoints between moto instances)."""
    client.cache_clear()
