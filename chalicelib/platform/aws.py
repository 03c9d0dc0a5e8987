"""One boto3 session for the process, and lazy cached clients made from it: created on first
use, not at import (cold starts stay short).

Every boto3 client and every PynamoDB model's connection is made from the same botocore session
(`share_session_with_pynamodb`): a session loads its endpoint and service data once, where a
session per client (PynamoDB makes one per model) pays 50–140 ms of CPU each on a cold start.
Client creation on a shared session is serialised: botocore sessions are not thread-safe.

Every client (and every PynamoDB connection, store/models.py) gets the same limits: botocore's
`standard` retry mode (retries throttling and transient errors with jittered backoff, on every
service alike) with at most MAX_ATTEMPTS attempts, and connect/read timeouts that keep the worst
case of one call — MAX_ATTEMPTS × (connect + read) plus backoff, about 21 s — inside API Gateway's
29 s and the API function's 30 s, where botocore's defaults (60 s each, legacy retries) would let
one stalled call outlive the invocation. Each keeps up to MAX_POOL_CONNECTIONS connections open:
a Lambda invocation uses one at a time, but the local stack's API answers 64 connections on as
many threads, and botocore's default of 10 closed and reopened a connection to the embedded AWS
for most requests under a flash sale.

boto3 follows AWS_ENDPOINT_URL, and a service's own AWS_ENDPOINT_URL_<SERVICE> before it, which is
how the local stack points everything at moto (DynamoDB and its streams at a process of their own).
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

from .settings import get_settings

_creating = threading.RLock()

CONNECT_TIMEOUT_S = 2
READ_TIMEOUT_S = 5
MAX_ATTEMPTS = 3  # the first try included
MAX_POOL_CONNECTIONS = 64


@cache
def _botocore_session() -> Any:
    from botocore.session import Session

    class SerialisedSession(Session):
        def create_client(self, *args: Any, **kwargs: Any) -> Any:
            with _creating:
                return super().create_client(*args, **kwargs)

    return SerialisedSession()


def botocore_session() -> Any:
    """The process's botocore session (PynamoDB's connections ask for it by this name)."""
    with _creating:
        return _botocore_session()


@cache
def session() -> Any:
    import boto3  # deferred: importing boto3 is a large part of a cold start

    return boto3.session.Session(
        botocore_session=botocore_session(), region_name=get_settings().region
    )


@cache
def client_config() -> Any:
    """The botocore Config every boto3 client is made with."""
    from botocore.config import Config

    return Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        max_pool_connections=MAX_POOL_CONNECTIONS,
    )


@cache
def client(service: str) -> Any:
    with _creating:
        return session().client(service, region_name=get_settings().region, config=client_config())


def share_session_with_pynamodb() -> None:
    """Make PynamoDB's connections take the process's session instead of a new one each (it
    calls `pynamodb.connection.base.get_session` when a model's connection first needs one)."""
    import pynamodb.connection.base

    pynamodb.connection.base.get_session = botocore_session


def reset_clients() -> None:
    """Forget cached clients (tests switch endpoints between moto instances)."""
    client.cache_clear()


#: error codes AWS answers when it is briefly unable to serve, not when the request is wrong
#: (botocore's standard retry mode retries the same ones)
UNAVAILABLE_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "LimitExceededException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "TransactionInProgressException",
    }
)


def is_unavailable(error: BaseException) -> bool:
    """Whether `error`, or an error it was raised from (PynamoDB wraps botocore's), is AWS
    being briefly unable to serve after the client's own retries: a connection that failed or
    timed out, throttling, or a 5xx. A caller can only try again later, so the API says that
    (503) rather than that it broke (500)."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (ConnectionError, HTTPClientError)):
            return True
        if isinstance(current, ClientError):
            answer = current.response
            status = answer.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            return answer.get("Error", {}).get("Code") in UNAVAILABLE_CODES or status >= 500
        current = current.__cause__ or current.__context__
    return False
