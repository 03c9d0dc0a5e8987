"""ip_burst, channel_failure, slow_delivery and unknown_order: counts exactly at and just under
their thresholds, and the edges of their windows."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.domain.anomaly import Severity
from chalicelib.domain.money import Money
from chalicelib.domain.notice import Notice, NoticeKind
from chalicelib.domain.order import DeliveryStatus, PayStatus, TimelineEntry
from chalicelib.domain.rules.config import RulesConfig
from chalicelib.domain.rules.notices import notice_conflict, unknown_order, unknown_order_id
from chalicelib.domain.rules.windows import (
    ChannelTally,
    burst_orders,
    channel_failure,
    distinct_buyers,
    ip_burst,
    slow_delivery,
    tally,
)

from .factories import NOW, order, paid

CONFIG = RulesConfig()
US = timedelta(microseconds=1)
MINUTE = timedelta(minutes=1)


def burst(n: int, buyers: int | None = None, spacing: timedelta = MINUTE, **extra):
    """`n` orders from one IP, the last at NOW, cycling through `buyers` e-mail addresses."""
    buyers = buyers or n
    return [
        order(
            i,
            created_at=NOW - spacing * (n - 1 - i),
            buyer_email=f"buyer{i % buyers}@qq.com",
            **extra,
        )
        for i in range(n)
    ]


# ------------------------------------------------------------------ ip_burst


def test_five_orders_three_buyers_in_ten_minutes_is_a_burst():
    orders = burst(5, buyers=3)
    found = ip_burst(orders[-1], orders, CONFIG.ip_burst)
    assert (
        found is not None
        and found.rule == "ip_burst"
        and found.severity is Severity.WARNING
        and found.hold
    )
    assert found.anomaly_id == f"ip_burst#{orders[0].order_no}"  # named after its oldest order
    assert found.order_no == orders[-1].order_no
    assert (
        found.details["orders"] == [o.order_no for o in orders]
        and found.details["ip"] == "36.110.1.2"
    )
    assert found.details["seen"] == "5 orders, 3 buyers"


@pytest.mark.parametrize("n,buyers", [(4, 4), (5, 2), (6, 2)])
def test_just_under_either_threshold_is_no_burst(n, buyers):
    orders = burst(n, buyers=buyers)
    assert ip_burst(orders[-1], orders, CONFIG.ip_burst) is None


def test_window_edges_an_order_exactly_ten_minutes_before_counts_one_microsecond_more_does_not():
    orders = burst(5, spacing=timedelta(minutes=2, seconds=30))  # first at NOW - 10 min
    assert orders[0].created_at == NOW - timedelta(minutes=10)
    assert ip_burst(orders[-1], orders, CONFIG.ip_burst) is not None
    early = [replace(orders[0], created_at=orders[0].created_at - US), *orders[1:]]
    assert ip_burst(early[-1], early, CONFIG.ip_burst) is None


def test_orders_after_the_trigger_or_from_other_ips_do_not_count():
    orders = burst(4)
    later = order(9, created_at=NOW + US, buyer_email="late@qq.com")
    elsewhere = order(8, created_at=NOW, buyer_ip="36.110.1.3", buyer_email="other@qq.com")
    assert ip_burst(orders[-1], [*orders, later, elsewhere], CONFIG.ip_burst) is None
    assert [
        o.order_no for o in burst_orders(orders[-1], [*orders, later, elsewhere], CONFIG.ip_burst)
    ] == [o.order_no for o in orders]


def test_buyers_count_by_email_case_insensitively_or_by_buyer_id():
    same_mail = burst(5, buyers=1)
    assert distinct_buyers([replace(o, buyer_email=o.buyer_email.upper()) for o in same_mail]) == 1
    by_id = [replace(o, buyer_id=f"uid{o.order_no[-1]}") for o in same_mail]
    assert distinct_buyers(by_id) == 5
    assert ip_burst(by_id[-1], by_id, CONFIG.ip_burst) is not None


def test_a_burst_that_goes_on_joins_the_anomaly_already_on_its_orders():
    orders = burst(6)
    linked = replace(
        orders[1],
        timeline=[
            TimelineEntry(
                NOW,
                "anomaly",
                "system",
                "x",
                {"anomaly_id": "ip_burst#EARLIER", "rule": "ip_burst"},
            )
        ],
    )
    window = [orders[0], linked, *orders[2:]]
    assert ip_burst(window[-1], window, CONFIG.ip_burst).anomaly_id == "ip_burst#EARLIER"


def test_no_ip_or_disabled_is_no_burst():
    orders = burst(6, buyer_ip=None)
    assert ip_burst(orders[-1], orders, CONFIG.ip_burst) is None
    orders = burst(6)
    assert ip_burst(orders[-1], orders, replace(CONFIG.ip_burst, enabled=False)) is None


# ------------------------------------------------------------------ channel_failure


@pytest.mark.parametrize(
    "attempts,failed,fires",
    [
        (20, 3, False),  # exactly 15%: not above
        (20, 4, True),  # 20%
        (100, 16, True),  # 16%
        (100, 15, False),
        (19, 19, False),  # too few attempts to judge
        (0, 0, False),
    ],
)
def test_channel_failure_share_and_minimum_attempts(attempts, failed, fires):
    found = channel_failure(
        "alipay-main", ChannelTally(attempts, failed), NOW, CONFIG.channel_failure
    )
    assert (found is not None) is fires
    if fires:
        assert found.anomaly_id == "channel_failure#alipay-main#2026-11-25T06"
        assert (
            found.channel == "alipay-main"
            and found.severity is Severity.CRITICAL
            and not found.hold
        )


def test_tally_counts_decided_attempts_and_failures():
    statuses = (
        [PayStatus.PAID] * 10
        + [PayStatus.EXPIRED] * 3
        + [PayStatus.CLOSED] * 2
        + [PayStatus.PENDING] * 7
        + [PayStatus.REFUNDED, PayStatus.PARTIALLY_REFUNDED]
    )
    assert tally(statuses) == ChannelTally(attempts=17, failed=5)


# ------------------------------------------------------------------ slow_delivery


@pytest.mark.parametrize(
    "waited,fires",
    [(timedelta(minutes=5), True), (timedelta(minutes=5) - US, False), (timedelta(hours=3), True)],
)
def test_slow_delivery_boundary(waited, fires):
    order_ = paid(order(), at=NOW - waited)
    found = slow_delivery(order_, NOW, CONFIG.slow_delivery)
    assert (found is not None) is fires
    if fires:
        assert (
            found.anomaly_id == f"slow_delivery#{order_.order_no}"
            and found.severity is Severity.WARNING
        )


@pytest.mark.parametrize(
    "changes",
    [
        {"delivery_status": DeliveryStatus.DELIVERED},
        {"delivery_status": DeliveryStatus.HELD, "hold_reasons": ["operator"]},
        {"pay_status": PayStatus.REFUNDED},
    ],
)
def test_delivered_held_or_refunded_orders_are_not_slow(changes):
    order_ = replace(paid(order(), at=NOW - timedelta(hours=1)), **changes)
    assert slow_delivery(order_, NOW, CONFIG.slow_delivery) is None


def test_a_failed_delivery_is_still_undelivered():
    order_ = replace(
        paid(order(), at=NOW - timedelta(minutes=6)), delivery_status=DeliveryStatus.FAILED
    )
    assert slow_delivery(order_, NOW, CONFIG.slow_delivery) is not None


# ------------------------------------------------------------------ unknown_order


UNKNOWN = Notice(
    channel="alipay-main",
    gateway="alipay",
    kind=NoticeKind.PAYMENT,
    dedupe_key="alipay-main:abc",
    out_trade_no="NOSUCH1",
    trade_no="T9",
    amount=Money(5800),
    gateway_status="TRADE_SUCCESS",
    event_time=NOW,
    raw={},
)


def test_unknown_order_one_per_notice():
    notice = UNKNOWN
    found = unknown_order(notice, CONFIG.unknown_order)
    assert found.anomaly_id == unknown_order_id(notice) == "unknown_order#alipay-main:abc"
    assert found.order_no == "NOSUCH1" and found.severity is Severity.CRITICAL and not found.hold
    assert found.details["amount"] == "58.00"
    assert unknown_order(notice, replace(CONFIG.unknown_order, enabled=False)) is None


# ------------------------------------------------------------------ notice_conflict


def test_notice_conflict_is_one_anomaly_per_contradicting_event_on_the_order_it_names():
    other_order = {"out_trade_no": ["ORD-1", "NOSUCH1"]}
    found = notice_conflict(UNKNOWN, other_order, CONFIG.notice_conflict)
    assert found.anomaly_id.startswith("notice_conflict#alipay-main:abc#")
    assert found.order_no == "NOSUCH1" and found.severity is Severity.CRITICAL and not found.hold
    assert found.details["differences"] == other_order
    assert (
        found.details["seen"] == "another event under its id: out_trade_no NOSUCH1 (stored ORD-1)"
    )
    again = notice_conflict(UNKNOWN, dict(other_order), CONFIG.notice_conflict)
    assert again.anomaly_id == found.anomaly_id
    another = notice_conflict(
        UNKNOWN, {"amount": ["58.00 CNY", "0.01 CNY"]}, CONFIG.notice_conflict
    )
    assert another.anomaly_id != found.anomaly_id
    disabled = replace(CONFIG.notice_conflict, enabled=False)
    assert notice_conflict(UNKNOWN, other_order, disabled) is None
