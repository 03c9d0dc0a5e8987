"""The repositories' in-memory fakes (tests/support/fakes.py) keep the real store's contract:
one scenario of the calls the use cases make, through the `orders`, `notices` and `claims` ports,
run on the fakes and on the real tables (store/orders.py, store/notices.py, store/claims.py on
moto), gives the same answers and the same stored orders — so service tests on the fakes prove what they claim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.domain import actions
from chalicelib.domain.money import Money
from chalicelib.domain.notice import Notice, NoticeKind
from chalicelib.domain.order import (
    EntryType,
    Order,
    PayStatus,
    TimelineEntry,
    first_payment_changes,
    hold,
    release_hold,
)
from chalicelib.services import ports
from chalicelib.store import claims as claim_store
from chalicelib.store import notices as notice_store
from chalicelib.store import orders as order_store
from chalicelib.store.orders import FastPathResult, VersionConflict
from tests.support.fakes import MemoryClaims, MemoryNotices, MemoryOrders

AT = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
ORDER_NO = "20261125140000000001"
TRADE_NO = "2026112522001400001234567890"


def _order() -> Order:
    return Order(
        order_no=ORDER_NO,
        amount=Money.parse("58.00", "CNY"),
        channel="epay-main",
        gateway="epay",
        product_id="vip-month",
        product_name="VIP会员 月卡",
        quantity=1,
        created_at=AT,
        expires_at=AT + timedelta(minutes=15),
        buyer_email="buyer@example.com",
        buyer_ip="203.0.113.7",
        fingerprint="f" * 64,
        timeline=[TimelineEntry(AT, EntryType.CREATED, "shop", "order registered", {"n": 1})],
    )


def _notice(amount: str = "58.00", key: str = f"epay-main:{TRADE_NO}:TRADE_SUCCESS") -> Notice:
    return Notice(
        channel="epay-main",
        gateway="epay",
        kind=NoticeKind.PAYMENT,
        dedupe_key=key,
        out_trade_no=ORDER_NO,
        trade_no=TRADE_NO,
        amount=Money.parse(amount, "CNY"),
        gateway_status="TRADE_SUCCESS",
        event_time=AT,
        raw={"trade_no": TRADE_NO, "money": amount},
        payment_ref=TRADE_NO,
        method="alipay",
    )


def _scenario(orders: ports.Orders, notices: ports.Notices) -> list[object]:
    """Every answer the repositories give along the way, in order."""
    seen: list[object] = []
    seen += [orders.create(_order()), orders.create(_order()), orders.get("20261125140000000002")]
    registered = orders.get(ORDER_NO)
    seen.append(registered)
    assert registered is not None

    notice = _notice()
    seen.append(notices.record(notice, AT, "198.51.100.9"))
    seen.append(notices.record(notice, AT + timedelta(seconds=1), "198.51.100.9"))
    notices.mark_awaiting(notice.dedupe_key, AT)
    seen.append(notices.record(notice, AT + timedelta(seconds=2), None))
    seen.append(notices.for_order(ORDER_NO))
    notices.mark_matched(notice.dedupe_key)
    seen += [notices.for_order(ORDER_NO), notices.order_of_trade(TRADE_NO)]
    seen.append(notices.order_of_trade("2026000000000000000000000000"))

    def paying(paid: Notice):
        changes = first_payment_changes(paid, AT)
        changes.applied.append(paid.dedupe_key)
        return changes

    wrong = _notice("5.80", key="epay-main:other:TRADE_SUCCESS")
    seen.append(orders.apply_first_payment(wrong, paying(wrong)))  # refused: the order as stored
    seen.append(orders.apply_first_payment(notice, paying(notice)))  # applied
    seen.append(orders.apply_first_payment(notice, paying(notice)))  # refused: paid already
    paid = orders.get(ORDER_NO)
    assert paid is not None

    held = hold(paid, ["operator"], AT, "operator", "key_op1", note="chargeback risk")
    try:
        orders.apply_changes(registered, held)  # decided on a stale read
    except VersionConflict:
        seen.append("version conflict")
    held_order = orders.apply_changes(paid, held)
    released = orders.apply_changes(held_order, release_hold(held_order, AT, "key_op1", "ok"))
    refund = actions.mark_refunded(released, Money(800, "CNY"), AT, "key_op1", "bank transfer")
    seen += [held_order, released, orders.apply_changes(released, refund)]
    seen.append(orders.get(ORDER_NO))
    return seen


def _claiming(claims: ports.Claims) -> list[bool]:
    return [
        claims.is_claimed(ORDER_NO, "order.paid"),
        claims.claim(ORDER_NO, "order.paid"),
        claims.claim(ORDER_NO, "order.paid"),
        claims.is_claimed(ORDER_NO, "order.paid"),
        claims.is_claimed(ORDER_NO, "order.ready"),
    ]


def test_the_claims_fake_claims_once_as_the_table_does(aws):
    assert _claiming(MemoryClaims()) == _claiming(claim_store) == [False, True, False, True, False]


def test_the_fakes_answer_as_the_tables_do(aws):
    real = _scenario(order_store, notice_store)
    fake = _scenario(MemoryOrders(), MemoryNotices())
    assert fake == real
    refused, applied, again = real[11:14]
    assert isinstance(refused, FastPathResult) and not refused.applied
    assert refused.order == real[3]  # the order as stored came back with the failure
    assert applied == FastPathResult(True, None)
    assert isinstance(again, FastPathResult) and again.order is not None
    assert again.order.pay_status is PayStatus.PAID
    assert real[14] == "version conflict"
    final = real[-1]
    assert isinstance(final, Order) and final.version == 4
    assert final.pay_status is PayStatus.PARTIALLY_REFUNDED
    assert final.refunded_amount == Money(800, "CNY")
