"""Refund requests as decisions on the order (domain/refunds.py): reservation within what was
paid, per payment; maker-checker; settlement once; the gateway's notices of our refunds."""

from datetime import timedelta

import pytest

from chalicelib.domain.actions import mark_refunded
from chalicelib.domain.errors import Conflict, Forbidden, TransitionRefused
from chalicelib.domain.money import Money
from chalicelib.domain.notice import NoticeKind
from chalicelib.domain.order import DeliveryStatus, Outcome, PayStatus, apply_notice
from chalicelib.domain.refunds import (
    RefundAnswer,
    RefundPolicy,
    RefundState,
    apply_refund_notice,
    decide_approval,
    find_request,
    refund_request_id,
    refund_requests,
    refundable,
    refunds_moved,
    request_refund,
    settle,
    settle_by_hand,
)

from .test_order import NOW, make_order, notice

POLICY = RefundPolicy(approval_above="100.00")


def paid(*extra_payments, **overrides):
    """An order paid 58.00 with T1, plus duplicate payments (trade no, minor)."""
    order = make_order(**overrides)
    order = apply_notice(order, notice(), NOW).apply_to(order)
    for n, (trade_no, minor) in enumerate(extra_payments):
        order = apply_notice(
            order, notice(key=f"alipay-main:d{n}", trade_no=trade_no, amount=Money(minor)), NOW
        ).apply_to(order)
    return order


def reserve(order, key, amount=None, trade_no=None, actor="op1", policy=POLICY):
    changes = request_refund(
        order,
        request_id=refund_request_id(order.order_no, key),
        trade_no=trade_no,
        amount=amount,
        reason="buyer asked",
        actor=actor,
        now=NOW,
        policy=policy,
    )
    return changes.apply_to(order), refund_request_id(order.order_no, key)


def confirm(order, rid, state=RefundState.SUCCEEDED, detail="fund_change Y"):
    return settle(
        order, rid, RefundAnswer(state, detail, "2026112522001"), "operator", NOW
    ).apply_to(order)


def test_request_id_is_stable_per_order_and_key_and_fits_every_gateway():
    rid = refund_request_id("20261125140000123456", "k1")
    assert rid == refund_request_id("20261125140000123456", "k1")
    assert rid != refund_request_id("20261125140000123456", "k2")
    assert rid != refund_request_id("20261125140000123457", "k1")
    assert len(rid) == 32 and rid.isalnum()


def test_full_refund_reserves_then_succeeds_and_moves_the_order():
    order, rid = reserve(paid(), "k1")
    [request] = refund_requests(order)
    assert (request.state, request.amount, request.trade_no) == (
        RefundState.PENDING,
        Money(5800),
        "T1",
    )
    assert order.refund_open and order.pay_status is PayStatus.PAID
    order = confirm(order, rid)
    assert find_request(order, rid).state is RefundState.SUCCEEDED
    assert (order.pay_status, order.refunded_amount, order.refund_open) == (
        PayStatus.REFUNDED,
        Money(5800),
        False,
    )
    entry = order.timeline[-1]
    assert (
        entry.type == "refund"
        and entry.data["refunded"] == "58.00"
        and entry.data["total"] == "58.00"
    )
    assert entry.data["trade_no"] == "T1" and entry.data["refund_request_id"] == rid


def test_partials_up_to_the_paid_amount_and_never_beyond_counting_pending_ones():
    order, first = reserve(paid(), "k1", Money(2000))
    order, second = reserve(order, "k2", Money(3000))
    assert refundable(order, order.payments[0]) == Money(800)
    with pytest.raises(TransitionRefused) as refused:
        reserve(order, "k3", Money(801))
    assert refused.value.details["refundable"] == "8.00"
    order = confirm(order, first)
    assert (order.pay_status, order.refunded_amount) == (PayStatus.PARTIALLY_REFUNDED, Money(2000))
    order = confirm(order, second, RefundState.FAILED, "ACQ.SELLER_BALANCE_NOT_ENOUGH")
    assert refundable(order, order.payments[0]) == Money(3800)
    order, rest = reserve(order, "k4")
    assert find_request(order, rest).amount == Money(3800)
    order = confirm(order, rest)
    assert (order.pay_status, order.refunded_amount) == (PayStatus.REFUNDED, Money(5800))


def test_a_manual_refund_counts_against_the_sale_payment_and_open_requests_count_against_manual():
    order = paid()
    order = mark_refunded(order, Money(5000), NOW, "op1", "refunded in the console").apply_to(order)
    with pytest.raises(TransitionRefused):
        reserve(order, "k1", Money(1000))
    order, _ = reserve(paid(), "k1", Money(5000))
    with pytest.raises(TransitionRefused):
        mark_refunded(order, Money(1000), NOW, "op1", "and more by hand")


def test_a_duplicate_payment_is_refunded_on_its_own_trade_number_leaving_the_sale():
    order = paid(("T2", 5800))
    order, rid = reserve(order, "k1", trade_no="T2")
    assert find_request(order, rid).amount == Money(5800)
    order = confirm(order, rid)
    assert order.pay_status is PayStatus.PAID and order.refunded_amount is None
    assert refundable(order, order.payments[1]) == Money(0)
    assert refundable(order, order.payments[0]) == Money(5800)
    with pytest.raises(TransitionRefused):
        reserve(order, "k2", Money(1), trade_no="T2")


def test_the_changes_that_move_refunded_money_say_when_and_on_which_channel():
    """What store/refund_days notes for reconciliation: a request settled as succeeded (a
    duplicate payment's too, which leaves the refunded total alone) and a new refunded total;
    not a reservation, an approval or a failure."""
    later = NOW + timedelta(days=1)
    order, rid = reserve(paid(("T2", 5800)), "k1", Money(1000))
    assert (
        refunds_moved(
            order,
            request_refund(
                order,
                request_id="rf-x",
                trade_no=None,
                amount=Money(100),
                reason="r",
                actor="op1",
                now=NOW,
                policy=POLICY,
            ),
        )
        == set()
    )
    answer = RefundAnswer(RefundState.SUCCEEDED, "fund_change Y")
    succeeded = settle(order, rid, answer, "query", later)
    assert refunds_moved(order, succeeded) == {("alipay-main", later)}
    failed = settle(order, rid, RefundAnswer(RefundState.FAILED, "no"), "query", later)
    assert refunds_moved(order, failed) == set()
    order, duplicate = reserve(order, "k2", trade_no="T2")
    assert refunds_moved(order, settle(order, duplicate, answer, "query", later)) == {
        ("alipay-main", later)
    }
    manual = mark_refunded(paid(), Money(500), later, "op1", "refunded in the console")
    assert refunds_moved(paid(), manual) == {("alipay-main", later)}


def test_unknown_payment_and_unpaid_orders_are_refused():
    with pytest.raises(Exception) as missing:
        reserve(paid(), "k1", trade_no="T9")
    assert missing.value.code == "not_found"
    with pytest.raises(TransitionRefused):
        reserve(make_order(), "k1")


def test_large_or_delivered_refunds_wait_for_another_admin():
    order, rid = reserve(paid(), "k1", Money(5800), policy=RefundPolicy(approval_above="50.00"))
    request = find_request(order, rid)
    assert request.state is RefundState.AWAITING_APPROVAL and request.approval_reasons == (
        "amount_above_limit",
    )
    assert order.refund_open
    with pytest.raises(Forbidden):
        decide_approval(order, rid, True, "op1", "self-approval", NOW)
    approved = decide_approval(order, rid, True, "admin1", "checked", NOW).apply_to(order)
    assert find_request(approved, rid).state is RefundState.PENDING
    assert find_request(approved, rid).decided_by == "admin1"
    assert (
        decide_approval(approved, rid, True, "admin1", "again", NOW).outcome
        == Outcome.ALREADY_APPLIED
    )
    with pytest.raises(Conflict):
        decide_approval(approved, rid, False, "admin2", "too late", NOW)
    rejected = decide_approval(order, rid, False, "admin1", "no", NOW).apply_to(order)
    assert find_request(rejected, rid).state is RefundState.REJECTED and not rejected.refund_open
    assert refundable(rejected, rejected.payments[0]) == Money(5800)

    delivered = paid(delivery_status=DeliveryStatus.DELIVERED)
    delivered, rid = reserve(delivered, "k2", Money(100))
    assert find_request(delivered, rid).approval_reasons == ("already_delivered",)


def test_settlement_is_once_a_second_answer_changes_nothing():
    order, rid = reserve(paid(), "k1")
    order = confirm(order, rid)
    again = settle(order, rid, RefundAnswer(RefundState.FAILED, "late"), "query", NOW)
    assert again.outcome == Outcome.ALREADY_APPLIED and not again.writes
    order2, rid2 = reserve(paid(), "k1")
    pending = settle(order2, rid2, RefundAnswer(RefundState.PENDING, "PROCESSING"), "query", NOW)
    assert not pending.writes


def test_a_pending_refund_is_settled_by_hand_once_and_only_while_pending():
    order, rid = reserve(paid(), "k1", Money(800))
    with pytest.raises(ValueError):
        settle_by_hand(order, rid, RefundState.PENDING, "admin1", "checked", NOW)
    order = settle_by_hand(
        order, rid, RefundState.SUCCEEDED, "admin1", "seen in the console", NOW
    ).apply_to(order)
    request = find_request(order, rid)
    assert request.state is RefundState.SUCCEEDED and "seen in the console" in request.detail
    assert (order.pay_status, order.refunded_amount, order.timeline[-1].actor) == (
        PayStatus.PARTIALLY_REFUNDED,
        Money(800),
        "admin1",
    )
    again = settle_by_hand(order, rid, RefundState.SUCCEEDED, "admin2", "again", NOW)
    assert again.outcome == Outcome.ALREADY_APPLIED and not again.writes
    with pytest.raises(Conflict):
        settle_by_hand(order, rid, RefundState.FAILED, "admin1", "changed my mind", NOW)
    waiting, big = reserve(paid(), "k2", Money(5800), policy=RefundPolicy(approval_above="50.00"))
    with pytest.raises(Conflict):
        settle_by_hand(waiting, big, RefundState.FAILED, "admin1", "not sent yet", NOW)


def test_the_gateway_notice_of_our_refund_settles_it_and_is_not_counted_twice():
    order, rid = reserve(paid(), "k1", Money(2000))
    wx = notice(
        kind=NoticeKind.REFUND,
        key="alipay-main:r1",
        amount=Money(2000),
        refund_ref=rid,
        status="REFUND.SUCCESS",
    )
    changes = apply_refund_notice(order, wx, NOW)
    order = changes.apply_to(order)
    assert find_request(order, rid).state is RefundState.SUCCEEDED
    assert order.refunded_amount == Money(2000) and "alipay-main:r1" in order.applied_notices
    assert apply_refund_notice(order, wx, NOW) is None  # applied: apply_notice says already
    assert apply_notice(order, wx, NOW).outcome == Outcome.ALREADY_APPLIED


def test_a_running_total_our_open_request_accounts_for_is_only_shown():
    order, rid = reserve(paid(), "k1", Money(2000))
    total = notice(
        kind=NoticeKind.REFUND, key="stripe:evt1", amount=Money(5800), refunded_total=Money(2000)
    )
    changes = apply_refund_notice(order, total, NOW)
    order = changes.apply_to(order)
    assert order.refunded_amount is None and order.timeline[-1].type == "notice"
    order = confirm(order, rid)
    assert order.refunded_amount == Money(2000)
    beyond = notice(
        kind=NoticeKind.REFUND, key="stripe:evt2", amount=Money(5800), refunded_total=Money(3000)
    )
    assert (
        apply_refund_notice(order, beyond, NOW) is None
    )  # a refund made elsewhere: the order decides


def test_a_failed_notice_fails_the_request():
    order, rid = reserve(paid(), "k1", Money(2000))
    closed = notice(
        kind=NoticeKind.INFO,
        key="alipay-main:r2",
        amount=Money(2000),
        refund_ref=rid,
        status="REFUND.CLOSED",
        extra={"refund_state": "failed"},
    )
    order = apply_refund_notice(order, closed, NOW + timedelta(minutes=1)).apply_to(order)
    assert find_request(order, rid).state is RefundState.FAILED and not order.refund_open


def test_the_running_total_of_a_refunded_duplicate_payment_leaves_the_sale_alone():
    order = paid(("T2", 5800))
    order, rid = reserve(order, "k1", trade_no="T2")
    order = confirm(order, rid)
    charge_refunded = notice(
        kind=NoticeKind.REFUND,
        key="stripe:evt3",
        trade_no="T2",
        amount=Money(5800),
        refunded_total=Money(5800),
    )
    changes = apply_refund_notice(order, charge_refunded, NOW)
    assert changes is not None and changes.timeline[0].type == "notice"
    order = changes.apply_to(order)
    assert order.pay_status is PayStatus.PAID and order.refunded_amount is None
