"""When a pending order is asked about next: 1, 2, 5, 10 minutes after creation, then at expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.query import next_query_at, query_dedupe_key

CREATED = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
EXPIRES = CREATED + timedelta(minutes=15)
BACKOFF = tuple(timedelta(minutes=m) for m in (1, 2, 5, 10))


@pytest.mark.parametrize(
    "minutes_old, next_in",
    [(0, 1), (1.5, 2), (2, 5), (4.9, 5), (5, 10), (9, 10), (10, 15), (14, 15)],
)
def test_backoff_then_expiry(minutes_old, next_in):
    now = CREATED + timedelta(minutes=minutes_old)
    assert next_query_at(CREATED, EXPIRES, now, BACKOFF) == CREATED + timedelta(minutes=next_in)


def test_nothing_after_expiry():
    assert next_query_at(CREATED, EXPIRES, EXPIRES, BACKOFF) is None


def test_a_short_expiry_comes_before_the_backoff():
    expires = CREATED + timedelta(minutes=3)
    assert (
        next_query_at(CREATED, expires, CREATED + timedelta(minutes=2, seconds=30), BACKOFF)
        == expires
    )


def test_repeated_queries_of_one_trade_share_a_dedupe_key():
    assert (
        query_dedupe_key("alipay-main", "T1", "TRADE_SUCCESS")
        == "alipay-main:query:T1:TRADE_SUCCESS"
    )
