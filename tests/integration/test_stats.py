"""Statistics kept by the orders stream (real stream records) and read back per day, hour,
hour of day, channel, product and price point — exact money, counted once even when records replay."""

from __future__ import annotations

from datetime import timedelta

import boto3

from chalicelib.domain.clock import utcnow
from chalicelib.store.models import OrderModel
from local.stream_pump import read_all, to_lambda_event
from tests.integration.conftest import ADMIN_KEY
from tests.support import notifications as wires


def run_stats_stream():
    import app

    ddb, streams = boto3.client("dynamodb"), boto3.client("dynamodbstreams")
    arn = ddb.describe_table(TableName=OrderModel.Meta.table_name)["Table"]["LatestStreamArn"]
    return app.on_orders_stats(to_lambda_event(read_all(streams, arn), arn), None)


def make_day(api):
    """5 orders: 3 paid (one by a returning buyer), 1 delivered, 1 refunded in part; 2 unpaid."""
    numbers = []
    for _i, (channel, amount, email) in enumerate(
        [
            ("alipay-main", "58.00", "a@qq.com"),
            ("alipay-main", "58.00", "a@qq.com"),
            ("epay-main", "10.00", "b@qq.com"),
            ("epay-main", "10.00", "c@qq.com"),
            ("alipay-main", "99.50", "d@qq.com"),
        ]
    ):
        numbers.append(
            api.json(api.register(channel=channel, amount=amount, buyer_email=email))["order_no"]
        )
    api.send(wires.alipay(numbers[0], "58.00"))
    api.send(wires.alipay(numbers[1], "58.00", trade_no="T-R"))
    api.send(wires.epay(numbers[2], "10.00"))
    api.call("POST", f"/orders/{numbers[0]}/delivery", {"status": "delivered"})
    api.send(
        wires.alipay(
            numbers[1],
            "58.00",
            trade_no="T-R",
            extra={"refund_fee": "8.00", "gmt_refund": "2026-11-25 10:00:00"},
        )
    )
    return numbers


def test_daily_counters_are_exact_and_replay_safe(api):
    make_day(api)
    run_stats_stream()
    run_stats_stream()  # the same records again: nothing counted twice
    today = api.json(api.call("GET", "/admin/stats?by=day", key=ADMIN_KEY))
    totals = today["totals"]
    assert totals["orders_created"] == 5 and totals["orders_paid"] == 3
    assert totals["success_rate"] == 0.6 and totals["repeat_buyer_orders"] == 1
    assert totals["money"]["CNY"] == {
        "paid": "126.00",
        "fees": "0.00",
        "refunds": "8.00",
        "converted": "0.00",
        "settled": "0.00",
        "net": "118.00",
    }
    assert totals["delivered"] == 1 and totals["pay_to_delivery_seconds"]["p50"] is not None
    assert totals["orders_refunded"] == 1 and totals["create_to_pay_seconds"]["p95"] is not None
    assert len(today["groups"]) == 1 and today["groups"][0]["orders_created"] == 5


def test_by_channel_product_price_and_hour(api):
    make_day(api)
    run_stats_stream()
    by_channel = {
        g["key"]: g
        for g in api.json(api.call("GET", "/admin/stats?by=channel", key=ADMIN_KEY))["groups"]
    }
    assert (
        by_channel["alipay-main"]["orders_created"] == 3
        and by_channel["alipay-main"]["orders_paid"] == 2
    )
    assert by_channel["epay-main"]["money"]["CNY"]["paid"] == "10.00"
    prices = api.json(api.call("GET", "/admin/stats?by=price_point", key=ADMIN_KEY))["groups"]
    assert [(g["currency"], g["price"]) for g in prices] == [
        ("CNY", "10.00"),
        ("CNY", "58.00"),
        ("CNY", "99.50"),
    ]
    by_price = {g["key"]: g for g in prices}
    assert (
        by_price["CNY 58.00"]["success_rate"] == 1.0
        and by_price["CNY 10.00"]["success_rate"] == 0.5
    )
    assert (
        by_price["CNY 99.50"]["orders_paid"] == 0 and by_price["CNY 58.00"]["orders_refunded"] == 1
    )
    hours = api.json(api.call("GET", "/admin/stats?by=hour", key=ADMIN_KEY))["groups"]
    assert sum(g["orders_created"] for g in hours) == 5
    hours_of_day = api.json(api.call("GET", "/admin/stats?by=hour_of_day", key=ADMIN_KEY))["groups"]
    assert [g["key"] for g in hours_of_day] == [g["key"][-2:] for g in hours]
    assert sum(g["orders_paid"] for g in hours_of_day) == 3
    products = api.json(api.call("GET", "/admin/stats?by=product", key=ADMIN_KEY))["groups"]
    assert [(g["key"], g["name"]) for g in products] == [("vip-month", "VIP会员 月卡")]


def test_a_month_reads_thirty_items_not_the_orders(api, monkeypatch):
    make_day(api)
    run_stats_stream()
    from pynamodb.connection.base import Connection

    calls = []
    original = Connection._make_api_call
    monkeypatch.setattr(
        Connection, "_make_api_call", lambda c, op, kw: calls.append(op) or original(c, op, kw)
    )
    since = (utcnow() - timedelta(days=29)).date().isoformat()
    month = api.json(api.call("GET", f"/admin/stats?from={since}", key=ADMIN_KEY))
    assert month["totals"]["orders_created"] == 5
    assert "Query" not in calls and "Scan" not in calls


def test_bad_parameters(api):
    for query in (
        "by=week",
        "from=yesterday",
        "from=2026-01-10&to=2026-01-01",
        "from=2020-01-01&to=2026-01-01",
    ):
        response = api.call("GET", f"/admin/stats?{query}", key=ADMIN_KEY)
        assert response.status_code == 400, query
