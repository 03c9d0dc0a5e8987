"""The statistics counters: which facts an order change adds, under which dimensions, and how
groups and percentiles are read back out of them."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta, timezone

import pytest

from chalicelib.domain import stats
from chalicelib.domain.money import Money
from chalicelib.domain.order import DeliveryStatus, PayStatus
from tests.unit.rules.factories import NOW, order, paid

BEIJING = timezone(timedelta(hours=8))


def deltas(old, new, repeat=False) -> dict[str, int]:
    out: dict[str, int] = {}
    for fact in stats.facts(old, new, repeat):
        stats.merge(out, fact.deltas.items())
    return out


def test_a_new_order_counts_once_as_created():
    assert [f.key for f in stats.facts(None, order(), False)] == ["created"]


def test_payment_counts_amount_and_time_from_created_to_paid():
    base = order()
    counted = deltas(base, paid(base, at=NOW + timedelta(seconds=45)), repeat=True)
    assert counted == {"paid": 1, "paid_minor|CNY": 5800, "paylat_le_60": 1, "repeat_orders": 1}


def test_a_payment_already_counted_adds_nothing():
    base = paid(order())
    assert deltas(base, replace(base, delivery_status=DeliveryStatus.FAILED)) == {}


def test_delivery_latency_goes_to_its_own_histogram():
    before = paid(order())
    after = replace(
        before, delivery_status=DeliveryStatus.DELIVERED, delivered_at=NOW + timedelta(seconds=2)
    )
    assert deltas(before, after) == {"delivered": 1, "lat_le_2": 1}


def test_first_refund_counts_the_order_then_only_more_money():
    before = paid(order())
    first = replace(before, pay_status=PayStatus.PARTIALLY_REFUNDED, refunded_amount=Money(800))
    second = replace(first, pay_status=PayStatus.REFUNDED, refunded_amount=Money(5800))
    assert deltas(before, first) == {"refunded": 1, "refunded_minor|CNY": 800}
    assert deltas(first, second) == {"refunded_minor|CNY": 5000}


def test_dimensions_are_shop_time_hour_and_price_with_currency():
    late = order(created_at=NOW.replace(hour=17, minute=30), amount=Money(990, "USD"))
    assert stats.dims(late, BEIJING) == [
        "all",
        "hour:01",
        "channel:alipay-main",
        "product:vip-month",
        "price:USD 9.90",
    ]
    assert stats.cohort_day(late, BEIJING) == "2026-11-26"


@pytest.mark.parametrize(
    "by,dim,expected",
    [
        ("day", "all", "2026-11-25"),
        ("day", "hour:14", None),
        ("hour", "hour:14", "2026-11-25T14"),
        ("hour_of_day", "hour:14", "14"),
        ("hour_of_day", "all", None),
        ("channel", "channel:alipay-main", "alipay-main"),
        ("product", "product:vip", "vip"),
        ("price_point", "price:CNY 58.00", "CNY 58.00"),
        ("price_point", "channel:x", None),
    ],
)
def test_group_keys(by, dim, expected):
    assert stats.group_key(by, "2026-11-25", dim) == expected


@pytest.mark.parametrize(
    "buckets,p50,p95",
    [
        ({}, None, None),
        ({"lat_le_1": 1}, 1, 1),
        ({"lat_le_1": 50, "lat_le_60": 50}, 1, 60),
        ({"lat_le_1": 49, "lat_le_60": 51}, 60, 60),
        ({"lat_le_5": 95, "lat_gt_max": 5}, 5, 5),
        ({"lat_le_5": 94, "lat_gt_max": 6}, 5, None),
    ],
)
def test_percentiles_are_bucket_upper_bounds(buckets, p50, p95):
    figures = stats.summarise(buckets | {"paylat_le_86400": 7})
    assert figures["pay_to_delivery_seconds"] == {"p50": p50, "p95": p95}
    assert figures["create_to_pay_seconds"] == {"p50": 86400, "p95": 86400}


def test_summary_keeps_money_per_currency_and_rates():
    figures = stats.summarise(
        {
            "created": 4,
            "paid": 3,
            "paid_minor|CNY": 17400,
            "paid_minor|USD": 990,
            "refunded": 1,
            "expired": 1,
        }
    )
    assert figures["success_rate"] == 0.75 and figures["orders_refunded"] == 1
    assert figures["money"] == {"CNY": {"paid_minor": 17400}, "USD": {"paid_minor": 990}}
    assert stats.summarise({})["success_rate"] is None


def test_a_converted_payment_counts_its_fee_and_net_in_the_settlement_currency():
    from chalicelib.services.render import _money_view

    usd = order(amount=Money(1999, "USD"))
    before = paid(usd)
    after = replace(
        before,
        fee=Money(921, "HKD"),
        net=Money(14671, "HKD"),
        settled_amount=Money(15592, "HKD"),
        exchange_rate="7.8",
    )
    counted = deltas(before, after)
    assert counted == {
        "fee_minor|HKD": 921,
        "converted_minor|USD": 1999,
        "settled_minor|HKD": 15592,
    }
    assert deltas(after, replace(after, version=after.version + 1)) == {}  # counted once
    money = {
        "USD": {"paid_minor": 1999, "converted_minor": 1999},
        "HKD": {"fee_minor": 921, "settled_minor": 15592},
    }
    assert _money_view(money) == {
        "USD": {
            "paid": "19.99",
            "fees": "0.00",
            "refunds": "0.00",
            "converted": "19.99",
            "settled": "0.00",
            "net": "0.00",
        },
        "HKD": {
            "paid": "0.00",
            "fees": "9.21",
            "refunds": "0.00",
            "converted": "0.00",
            "settled": "155.92",
            "net": "146.71",
        },
    }
