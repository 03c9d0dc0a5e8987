from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import product

import pytest

from chalicelib.domain.errors import TransitionRefused
from chalicelib.domain.money import Money
from chalicelib.domain.notice import Notice, NoticeKind
from chalicelib.domain.order import (
    DELIVERY_TRANSITIONS,
    PAY_TRANSITIONS,
    DeliveryStatus,
    Order,
    Outcome,
    PayStatus,
    apply_notice,
    can_delivery_transition,
    can_pay_transition,
    expire,
    hold,
    release_hold,
    report_delivery,
)

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)

ALLOWED_PAY = {
    ("pending", "paid"),
    ("pending", "expired"),
    ("pending", "closed"),
    ("expired", "paid"),
    ("expired", "closed"),
    ("closed", "paid"),
    ("paid", "partially_refunded"),
    ("paid", "refunded"),
    ("partially_refunded", "partially_refunded"),
    ("partially_refunded", "refunded"),
}
ALLOWED_DELIVERY = {
    ("pending", "held"),
    ("pending", "delivered"),
    ("pending", "failed"),
    ("held", "pending"),
    ("failed", "delivered"),
    ("failed", "failed"),
    ("failed", "held"),
}


@pytest.mark.parametrize("current,target", list(product(PayStatus, PayStatus)))
def test_pay_transition_table(current, target):
    assert can_pay_transition(current, target) == ((current.value, target.value) in ALLOWED_PAY)


@pytest.mark.parametrize("current,target", list(product(DeliveryStatus, DeliveryStatus)))
def test_delivery_transition_table(current, target):
    assert can_delivery_transition(current, target) == (
        (current.value, target.value) in ALLOWED_DELIVERY
    )


def test_tables_cover_every_state():
    assert set(PAY_TRANSITIONS) == set(PayStatus)
    assert set(DELIVERY_TRANSITIONS) == set(DeliveryStatus)


def make_order(**overrides) -> Order:
    fields = {
        "order_no": "20261125140000123456",
        "amount": Money(5800),
        "channel": "alipay-main",
        "product_id": "p1",
        "product_name": "VIP会员 月卡",
        "quantity": 1,
        "created_at": NOW,
        "expires_at": NOW + timedelta(minutes=15),
    }
    fields.update(overrides)
    return Order(**fields)


def notice(
    kind=NoticeKind.PAYMENT, key="alipay-main:n1", amount=Money(5800), trade_no="T1", **extra
) -> Notice:
    return Notice(
        channel="alipay-main",
        gateway="alipay",
        kind=kind,
        dedupe_key=key,
        out_trade_no="20261125140000123456",
        trade_no=trade_no,
        amount=amount,
        gateway_status=extra.pop("status", "TRADE_SUCCESS"),
        event_time=NOW,
        raw={},
        payment_ref=trade_no,
        **extra,
    )


def run(order, n):
    changes = apply_notice(order, n, NOW)
    return changes, changes.apply_to(order)


def test_payment_pays_and_records_everything():
    changes, order = run(make_order(), notice(received=Money(5765), fee=Money(35), method="alipay"))
    assert changes.outcome == Outcome.APPLIED
    assert order.pay_status is PayStatus.PAID and order.delivery_status is DeliveryStatus.PENDING
    assert order.paid_amount == Money(5800) and order.fee == Money(35) and order.trade_no == "T1"
    assert [p.payment_ref for p in order.payments] == ["T1"]
    assert order.applied_notices == {"alipay-main:n1"}
    assert [e.type for e in order.timeline] == ["payment"]
    assert order.timeline[0].data["notice"] == "alipay-main:n1"


def test_same_notice_twice_is_a_no_op():
    _, order = run(make_order(), notice())
    changes = apply_notice(order, notice(), NOW)
    assert changes.outcome == Outcome.ALREADY_APPLIED and not changes.writes


def test_second_event_for_same_payment_is_not_a_duplicate():
    _, order = run(make_order(), notice())
    changes, order = run(order, notice(key="alipay-main:n2", status="TRADE_FINISHED"))
    assert changes.outcome == Outcome.APPLIED
    assert len(order.payments) == 1 and not order.on_hold


def test_second_distinct_payment_holds():
    _, order = run(make_order(), notice())
    _changes, order = run(order, notice(key="alipay-main:n2", trade_no="T2"))
    assert len(order.payments) == 2 and order.on_hold
    assert order.hold_reasons == ["duplicate_payment"]
    assert order.pay_status is PayStatus.PAID


@pytest.mark.parametrize(
    "paid,reason", [(Money(5700), "amount_mismatch"), (Money(5800, "USD"), "currency_mismatch")]
)
def test_mismatch_pays_and_holds(paid, reason):
    _, order = run(make_order(), notice(amount=paid))
    assert order.pay_status is PayStatus.PAID and order.on_hold and order.hold_reasons == [reason]
    assert order.paid_amount == paid


def test_payment_from_another_channel_is_recorded_and_held_as_channel_mismatch():
    changes, order = run(make_order(), replace(notice(), channel="epay-main", gateway="epay"))
    assert changes.outcome == Outcome.APPLIED
    assert (
        order.pay_status is PayStatus.PAID
        and order.on_hold
        and order.hold_reasons == ["channel_mismatch"]
    )
    assert [p.channel for p in order.payments] == ["epay-main"]


def test_payment_from_another_channel_with_another_amount_holds_for_both():
    _, order = run(make_order(), replace(notice(amount=Money(1)), channel="epay-main"))
    assert order.hold_reasons == ["channel_mismatch", "amount_mismatch"]


def test_second_payment_from_another_channel_is_never_an_echo_of_the_first():
    _, order = run(make_order(), notice())
    _changes, order = run(order, replace(notice(key="epay-main:T1"), channel="epay-main"))
    assert len(order.payments) == 2 and order.hold_reasons == [
        "duplicate_payment",
        "channel_mismatch",
    ]


@pytest.mark.parametrize("kind", [NoticeKind.REFUND, NoticeKind.CLOSED, NoticeKind.INFO])
def test_other_notices_from_another_channel_are_refused(kind):
    _, paid_order = run(make_order(), notice())
    base = paid_order if kind is NoticeKind.REFUND else make_order()
    foreign = replace(
        notice(kind=kind, key="epay-main:x", refunded_total=Money(5800)), channel="epay-main"
    )
    changes, order = run(base, foreign)
    assert changes.outcome == Outcome.REFUSED and order.pay_status is base.pay_status
    assert order.timeline[-1].type == "conflict" and "epay-main" in order.timeline[-1].message
    assert "epay-main:x" in order.applied_notices


def test_payment_in_a_currency_its_channel_does_not_declare_is_held():
    changes = apply_notice(make_order(), notice(), NOW, frozenset({"USD"}))
    order = changes.apply_to(make_order())
    assert order.pay_status is PayStatus.PAID and order.hold_reasons == ["currency_mismatch"]
    assert (
        apply_notice(make_order(), notice(), NOW, frozenset({"CNY"})).set.get("hold_reasons")
        is None
    )


@pytest.mark.parametrize("status", [PayStatus.EXPIRED, PayStatus.CLOSED])
def test_late_payment_pays_and_holds(status):
    _, order = run(make_order(pay_status=status), notice())
    assert order.pay_status is PayStatus.PAID and order.hold_reasons == ["late_payment"]


def test_refunds_partial_then_full():
    _, order = run(make_order(), notice())
    _, order = run(order, notice(kind=NoticeKind.REFUND, key="r1", amount=Money(1000)))
    assert order.pay_status is PayStatus.PARTIALLY_REFUNDED and order.refunded_amount == Money(1000)
    _, order = run(
        order, notice(kind=NoticeKind.REFUND, key="r2", amount=None, refunded_total=Money(5800))
    )
    assert order.pay_status is PayStatus.REFUNDED and order.refunded_amount == Money(5800)


def test_refund_of_unpaid_order_is_refused_not_applied():
    changes, order = run(make_order(), notice(kind=NoticeKind.REFUND, amount=Money(100)))
    assert changes.outcome == Outcome.REFUSED
    assert order.pay_status is PayStatus.PENDING
    assert order.timeline[-1].type == "conflict"
    assert order.applied_notices == {"alipay-main:n1"}


def test_close_pending_but_refuse_close_of_paid():
    _, closed = run(
        make_order(), notice(kind=NoticeKind.CLOSED, amount=None, status="TRADE_CLOSED")
    )
    assert closed.pay_status is PayStatus.CLOSED
    _, paid = run(make_order(), notice())
    changes, after = run(
        paid, notice(kind=NoticeKind.CLOSED, key="c", amount=None, status="TRADE_CLOSED")
    )
    assert changes.outcome == Outcome.REFUSED and after.pay_status is PayStatus.PAID


def test_info_only_adds_timeline():
    _changes, order = run(make_order(), notice(kind=NoticeKind.INFO, status="WAIT_BUYER_PAY"))
    assert order.pay_status is PayStatus.PENDING and order.timeline[-1].type == "notice"


def test_delivery_rules():
    with pytest.raises(TransitionRefused):
        report_delivery(make_order(), True, None, NOW)
    _, paid = run(make_order(), notice())
    delivered = report_delivery(paid, True, "card sent", NOW).apply_to(paid)
    assert delivered.delivery_status is DeliveryStatus.DELIVERED and delivered.delivered_at == NOW
    assert report_delivery(delivered, True, None, NOW).outcome == Outcome.ALREADY_APPLIED
    with pytest.raises(TransitionRefused):
        report_delivery(delivered, False, None, NOW)


def test_held_order_cannot_be_delivered_until_released():
    _, held = run(make_order(), notice(amount=Money(1)))
    with pytest.raises(TransitionRefused):
        report_delivery(held, True, None, NOW)
    released = release_hold(held, NOW, "op1", "checked with buyer").apply_to(held)
    assert released.delivery_status is DeliveryStatus.PENDING and released.hold_reasons == []
    assert released.timeline[-1].actor == "op1"
    assert report_delivery(released, True, None, NOW).outcome == Outcome.APPLIED


def test_operator_hold_is_idempotent_and_refused_after_delivery():
    order = make_order()
    held = hold(order, ["operator"], NOW, "operator", "op1").apply_to(order)
    assert held.on_hold
    assert hold(held, ["operator"], NOW, "operator", "op1").outcome == Outcome.ALREADY_APPLIED
    _, paid = run(make_order(), notice())
    delivered = report_delivery(paid, True, None, NOW).apply_to(paid)
    with pytest.raises(TransitionRefused):
        hold(delivered, ["operator"], NOW, "operator")


def test_expire_only_pending():
    order = make_order()
    expired = expire(order, NOW).apply_to(order)
    assert expired.pay_status is PayStatus.EXPIRED and expired.expired_at == NOW
    assert expire(expired, NOW).outcome == Outcome.ALREADY_APPLIED
