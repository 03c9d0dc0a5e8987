"""The slow-delivery check's sparse index (`by_awaiting_delivery`, store/search_keys.py): an order
is in it from its first payment until it is delivered or refunded, held and failed deliveries
included, and the check's Query reads those orders alone: a day of delivered sales costs it
nothing, where `by_paid` made it read every order paid that day, every minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.money import Money
from chalicelib.domain.notice import Notice, NoticeKind
from chalicelib.domain.order import (
    Order,
    OrderChanges,
    Outcome,
    PayStatus,
    first_payment_changes,
    hold,
    report_delivery,
)
from chalicelib.platform.aws import client
from chalicelib.platform.settings import get_settings
from chalicelib.store import orders as order_store
from chalicelib.store.models import OrderModel

NOW = datetime.now(UTC).replace(microsecond=0)
PAID_AT = NOW - timedelta(minutes=30)


def _paid(order_no: str) -> Order:
    order = Order(
        order_no=order_no,
        amount=Money(3000),
        channel="epay-main",
        product_id="card-30",
        product_name="30元充值卡",
        quantity=1,
        created_at=PAID_AT - timedelta(minutes=1),
        expires_at=PAID_AT + timedelta(minutes=14),
    )
    assert order_store.create(order)
    notice = Notice(
        channel=order.channel,
        gateway="epay",
        kind=NoticeKind.PAYMENT,
        dedupe_key=f"k-{order_no}",
        out_trade_no=order_no,
        trade_no=f"T-{order_no}",
        amount=order.amount,
        gateway_status="TRADE_SUCCESS",
        event_time=PAID_AT,
        raw={},
    )
    return order_store.apply_changes(order, first_payment_changes(notice, PAID_AT))


def _awaited() -> set[str]:
    return {item.order_no for item in OrderModel.by_awaiting_delivery.scan()}


def _items_read_by_the_check() -> int:
    """What the check's Query of today's partition reads before its filter (ScannedCount)."""
    index_query = client("dynamodb").query(
        TableName=OrderModel.Meta.table_name,
        IndexName="by_awaiting_delivery",
        KeyConditionExpression="awaiting_delivery = :d",
        ExpressionAttributeValues={":d": {"S": PAID_AT.date().isoformat()}},
        Select="COUNT",
    )
    return index_query["ScannedCount"]


@pytest.fixture
def orders(aws):
    """Six paid orders, then: delivered, failed, held, refunded, left alone twice."""
    made = {name: _paid(f"AW-{name}") for name in ("delivered", "failed", "held", "refunded")}
    made |= {name: _paid(f"AW-{name}") for name in ("waiting", "also-waiting")}
    order_store.apply_changes(
        made["delivered"], report_delivery(made["delivered"], True, None, NOW)
    )
    order_store.apply_changes(
        made["failed"], report_delivery(made["failed"], False, "no stock", NOW)
    )
    order_store.apply_changes(made["held"], hold(made["held"], ["manual"], NOW, "operator"))
    refund = OrderChanges(
        outcome=Outcome.APPLIED,
        set={"pay_status": PayStatus.REFUNDED, "refunded_amount": Money(3000), "refunded_at": NOW},
    )
    order_store.apply_changes(made["refunded"], refund)
    return made


def test_an_order_is_awaited_from_payment_until_delivered_or_refunded(orders):
    assert _awaited() == {"AW-failed", "AW-held", "AW-waiting", "AW-also-waiting"}
    assert OrderModel.get("AW-waiting").awaiting_delivery == PAID_AT.date().isoformat()


def test_the_check_reads_the_awaited_orders_alone_and_finds_the_undelivered(orders):
    assert _items_read_by_the_check() == 4  # of six paid that day
    config = get_settings().rules.slow_delivery
    found = {
        order.order_no
        for order in order_store.paid_undelivered(NOW - config.lookback, NOW - config.after)
    }
    assert found == {"AW-failed", "AW-waiting", "AW-also-waiting"}  # the held one is filtered out


def test_a_delivery_after_a_failure_takes_the_order_out(orders):
    failed = OrderModel.get("AW-failed")
    current = order_store.get("AW-failed")
    assert failed.awaiting_delivery and current is not None
    order_store.apply_changes(current, report_delivery(current, True, None, NOW))
    assert "AW-failed" not in _awaited()
