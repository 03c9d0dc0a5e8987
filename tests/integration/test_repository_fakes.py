"""The repositories' in-memory fakes (tests/support/fakes.py) keep the real store's contract:
one scenario of the calls the use cases make, through the `orders`, `notices`, `claims`,
`trades`, `pending` and `anomalies` ports (the orders' fast paths included), run on the fakes and on the real tables
(store/orders.py, store/notices.py, store/claims.py, store/lookup.py, store/pending.py,
store/anomalies.py on moto), gives the same
answers and the same stored orders — so service tests on the fakes prove what they claim."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from chalicelib.domain import actions
from chalicelib.domain.anomaly import Anomaly, AnomalyStatus, Finding, Severity
from chalicelib.domain.clock import to_iso
from chalicelib.domain.errors import Conflict
from chalicelib.domain.money import Money
from chalicelib.domain.notice import Notice, NoticeKind
from chalicelib.domain.order import (
    DeliveryStatus,
    EntryType,
    Order,
    OrderChanges,
    Outcome,
    PayStatus,
    TimelineEntry,
    delivery_changes,
    first_payment_changes,
    hold,
    release_hold,
)
from chalicelib.services import ports
from chalicelib.store import anomalies as anomaly_store
from chalicelib.store import claims as claim_store
from chalicelib.store import lookup as trade_store
from chalicelib.store import notices as notice_store
from chalicelib.store import orders as order_store
from chalicelib.store import pending as pending_store
from chalicelib.store.orders import FastPathResult, VersionConflict
from tests.support.fakes import (
    MemoryAnomalies,
    MemoryClaims,
    MemoryNotices,
    MemoryOrders,
    MemoryPending,
    MemoryTrades,
    MemoryWindows,
)

AT = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
ORDER_NO = "20261125140000000001"
TRADE_NO = "2026112522001400001234567890"


def _order(order_no: str = ORDER_NO, created_at: datetime = AT) -> Order:
    return Order(
        order_no=order_no,
        amount=Money.parse("58.00", "CNY"),
        channel="epay-main",
        gateway="epay",
        product_id="vip-month",
        product_name="VIP会员 月卡",
        quantity=1,
        created_at=created_at,
        expires_at=created_at + timedelta(minutes=15),
        buyer_email="buyer@example.com",
        buyer_ip="203.0.113.7",
        fingerprint="f" * 64,
        timeline=[
            TimelineEntry(created_at, EntryType.CREATED, "shop", "order registered", {"n": 1})
        ],
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
    other = ORDER_NO[:-1] + "9"
    claims.claim_all({other: {"order.paid", "order.ready#0"}})
    claims.claim_all({other: {"order.ready#0"}, ORDER_NO: {"order.held#0"}})  # one taken already
    return [
        claims.is_claimed(other, "order.paid"),
        claims.is_claimed(other, "order.ready#0"),
        claims.claim(ORDER_NO, "order.held#0"),
        claims.is_claimed(ORDER_NO, "order.paid"),
        claims.claim(ORDER_NO, "order.paid"),
        claims.claim(ORDER_NO, "order.paid"),
        claims.is_claimed(ORDER_NO, "order.paid"),
        claims.is_claimed(ORDER_NO, "order.ready"),
    ]


def test_the_claims_fake_claims_once_as_the_table_does(aws):
    assert (
        _claiming(MemoryClaims())
        == _claiming(claim_store)
        == [True, True, False, False, True, False, True, False]
    )


def test_the_fakes_answer_as_the_tables_do(aws):
    real = _scenario(order_store, notice_store)
    fake_orders, fake_notices = MemoryOrders(), MemoryNotices()
    fake = _scenario(fake_orders, fake_notices)
    assert fake == real
    fake_trades = MemoryTrades(fake_orders, fake_notices)
    for trade_no in (TRADE_NO, "2026000000000000000000000000"):
        assert fake_trades.orders_of_trade(trade_no) == trade_store.orders_of_trade(trade_no)
    assert trade_store.orders_of_trade(TRADE_NO) == [ORDER_NO]
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


def _delivering(orders: ports.Orders) -> list[object]:
    """Delivery reports under the fast path's condition: refused (no order, unpaid, held,
    delivered already), failed then delivered."""
    seen: list[object] = []
    delivered = delivery_changes(True, "card key sent", AT)
    failed = delivery_changes(False, "no stock", AT)
    seen.append(orders.apply_delivery(ORDER_NO, delivered, True))  # no order
    orders.create(_order())
    seen.append(orders.apply_delivery(ORDER_NO, delivered, True))  # unpaid
    notice = _notice()
    assert orders.apply_first_payment(notice, first_payment_changes(notice, AT)).applied
    paid = orders.get(ORDER_NO)
    assert paid is not None
    held = orders.apply_changes(paid, hold(paid, ["operator"], AT, "operator"))
    seen.append(orders.apply_delivery(ORDER_NO, delivered, True))  # held
    orders.apply_changes(held, release_hold(held, AT, "key_op1", "ok"))
    seen += [orders.apply_delivery(ORDER_NO, failed, False) for _ in range(2)]  # failed, twice
    seen.append(orders.apply_delivery(ORDER_NO, delivered, True))
    seen += [
        orders.apply_delivery(ORDER_NO, changes, to)
        for changes, to in [(delivered, True), (failed, False)]
    ]
    return seen


def test_the_delivery_fast_path_of_the_fake_is_the_tables(aws):
    real = _delivering(order_store)
    assert _delivering(MemoryOrders()) == real
    applied = [result.applied for result in real if isinstance(result, FastPathResult)]
    assert applied == [False, False, False, True, True, True, False, False]
    nobody, unpaid, held, _, _, delivered, again, _ = real
    assert nobody == FastPathResult(False, None)
    assert isinstance(unpaid, FastPathResult) and unpaid.order is not None
    assert unpaid.order.pay_status is PayStatus.PENDING  # the order as it was
    assert isinstance(held, FastPathResult) and held.order is not None and held.order.on_hold
    assert isinstance(delivered, FastPathResult) and delivered.order is not None
    assert delivered.order.delivery_status is DeliveryStatus.DELIVERED  # the new order
    assert delivered.order.delivered_at == AT and delivered.order.version == 6
    assert isinstance(again, FastPathResult) and again.order == delivered.order


def _numbered(n: int) -> str:
    return f"2026112514000000000{n}"


def _open_refunds(orders: ports.Orders) -> list[object]:
    """Orders whose refund opens and closes, listed whole and a page at a time."""
    for n in range(1, 5):
        orders.create(_order(_numbered(n), AT + timedelta(minutes=n)))
    for n in (1, 2, 4):
        stored = orders.get(_numbered(n))
        assert stored is not None
        orders.apply_changes(stored, OrderChanges(Outcome.APPLIED, set={"refund_open": True}))
    closed = orders.get(_numbered(2))
    assert closed is not None
    orders.apply_changes(closed, OrderChanges(Outcome.APPLIED, set={"refund_open": False}))
    listed = [(order.order_no, key) for order, key in orders.with_open_refunds()]
    first, key = next(iter(orders.with_open_refunds(page_size=1)))
    rest = [(order.order_no, k) for order, k in orders.with_open_refunds(after=key, page_size=1)]
    after_last = list(orders.with_open_refunds(after=listed[-1][1]))
    return [listed, first.order_no, first.refund_open, rest, after_last]


def test_the_open_refunds_list_of_the_fake_is_the_indexes(aws):
    real = _open_refunds(order_store)
    assert _open_refunds(MemoryOrders()) == real
    listed, first, is_open, rest, after_last = real
    assert [no for no, _ in listed] == [_numbered(4), _numbered(1)]
    assert (first, is_open, rest, after_last) == (_numbered(4), True, listed[1:], [])


def _querying(orders: ports.Orders, pending: ports.Pending) -> list[object]:
    """Pending orders due for a question, the trace each question leaves, when each is due next."""
    now = AT + timedelta(minutes=20)
    orders.create(_order(_numbered(1), AT))  # expired at 06:15, within a 10-minute grace
    orders.create(_order(_numbered(2), AT + timedelta(minutes=10)))
    orders.create(_order(_numbered(3), now - timedelta(seconds=30)))  # too young
    orders.create(_order(_numbered(4), AT - timedelta(minutes=30)))  # past expiry and grace
    grace, young = timedelta(minutes=10), timedelta(minutes=1)

    def due(at: datetime) -> list[str]:
        return [o.order_no for o in pending.due_for_query(at, young, grace, limit=10)]

    seen: list[object] = [due(now)]
    entry = TimelineEntry(now, EntryType.QUERY, "query", "gateway query: NOTPAY", {"n": 2})
    pending.record_query(_numbered(1), entry, now + timedelta(minutes=3))
    pending.record_query(_numbered(2), replace(entry, message="once more"), None)
    seen.append(due(now))
    seen.append(due(now + timedelta(minutes=3)))
    pending.record_query(_numbered(1), replace(entry, message="kept"))
    seen.append(due(now + timedelta(minutes=2)))
    seen += [orders.get(_numbered(1)), orders.get(_numbered(2))]
    seen.append([o.order_no for o in pending.due_for_query(now, young, grace, limit=1)])
    seen.append([o.order_no for o in pending.expired_before(now)])
    return seen


def test_the_pending_fake_answers_and_traces_as_the_table_does(aws):
    real = _querying(order_store, pending_store)
    fake_orders = MemoryOrders()
    assert _querying(fake_orders, MemoryPending(fake_orders)) == real
    first_due, after, later, kept, traced, removed, one, expired = real
    assert first_due == [_numbered(1), _numbered(2)]
    assert after == [_numbered(2)]  # with its next time removed, it is due at once
    assert later == [_numbered(1), _numbered(2), _numbered(3)]
    assert kept == [_numbered(2), _numbered(3)]  # the next time was left as it was
    assert isinstance(traced, Order) and traced.version == 0
    assert [e.message for e in traced.timeline[1:]] == ["gateway query: NOTPAY", "kept"]
    assert isinstance(removed, Order) and removed.timeline[-1].message == "once more"
    assert one == [_numbered(2)]  # at most `limit`, the oldest due first
    assert expired == [_numbered(4), _numbered(1)]


def _anomalies(anomalies: ports.Anomalies) -> list[object]:
    """Anomalies created once, moved from the status expected only, resolved once."""
    held = Finding(
        "amount_mismatch", Severity.CRITICAL, ORDER_NO, {"paid": "5.80"}, ORDER_NO, "epay-main"
    )
    later = Finding(
        "late_payment", Severity.WARNING, ORDER_NO, {}, ORDER_NO, "epay-main", hold=True
    )
    seen: list[object] = [
        anomalies.create(held, AT),
        anomalies.create(held, AT + timedelta(minutes=1)),
        anomalies.create(later, AT + timedelta(minutes=2)),
        anomalies.get(held.anomaly_id),
        anomalies.get("nothing#here"),
    ]
    acked = anomalies.set_status(
        held.anomaly_id, AnomalyStatus.ACKNOWLEDGED, AT, "key_op1", "looking", AnomalyStatus.OPEN
    )
    seen.append(acked)
    try:
        anomalies.set_status(
            held.anomaly_id, AnomalyStatus.RESOLVED, AT, "key_op1", None, AnomalyStatus.OPEN
        )
    except Conflict:
        seen.append("conflict")
    seen += [
        anomalies.resolve(held.anomaly_id, AT + timedelta(minutes=3), "system", "paid in full"),
        anomalies.resolve(held.anomaly_id, AT + timedelta(minutes=4), "system", "again"),
        anomalies.resolve("nothing#here", AT, "system", "none"),
        anomalies.for_order(ORDER_NO),
        anomalies.for_order("20261125140000000009"),
    ]
    return seen


def test_the_anomalies_fake_answers_as_the_table_does(aws):
    real = _anomalies(anomaly_store)
    assert _anomalies(MemoryAnomalies()) == real
    created, again, other, stored, missing, acked, conflict, resolved, twice, none = real[:10]
    assert (created, again, other, missing, conflict) == (True, False, True, None, "conflict")
    assert (resolved, twice, none) == (True, False, False)
    assert isinstance(stored, Anomaly) and stored.created_at == AT
    assert (stored.status, stored.details) == (AnomalyStatus.OPEN, {"paid": "5.80"})
    assert isinstance(acked, Anomaly) and acked.note == "looking"
    listed = real[10]
    assert [(a.rule, a.status, a.note) for a in listed] == [
        ("amount_mismatch", AnomalyStatus.RESOLVED, "paid in full"),
        ("late_payment", AnomalyStatus.OPEN, None),
    ]
    assert real[11] == []


def _windows(orders: ports.Orders, windows: ports.OrderWindows) -> list[object]:
    """Orders by buyer IP and by channel in a creation window, paid ones still undelivered in a
    payment window across UTC days."""
    late = AT.replace(hour=23, minute=50)  # 23:50Z: its payment falls on the next UTC day
    for n, created in enumerate([AT, AT + timedelta(minutes=5), late, AT - timedelta(hours=2)]):
        orders.create(_order(_numbered(n + 1), created))
    for n, paid_at in ((1, AT + timedelta(minutes=1)), (3, late + timedelta(minutes=20))):
        stored = orders.get(_numbered(n))
        assert stored is not None
        paid = _notice()
        changes = first_payment_changes(replace(paid, out_trade_no=stored.order_no), paid_at)
        changes.set["paid_at"] = paid_at
        orders.apply_changes(stored, changes)
    ip, since, until = "203.0.113.7", AT - timedelta(minutes=1), AT + timedelta(hours=1)
    return [
        windows.created_from_ips([ip, "198.51.100.1"], since, until),
        [o.order_no for o in windows.from_ip(ip, since, until)],
        [o.order_no for o in windows.from_ip(ip, since, until, limit=1)],
        [o.order_no for o in windows.paid_undelivered(AT, late + timedelta(hours=1))],
        [o.order_no for o in windows.paid_undelivered(AT + timedelta(minutes=2), late)],
        windows.pay_statuses_on_channel("epay-main", since, late),
        windows.pay_statuses_on_channel("alipay-main", since, late),
    ]


def test_the_window_fake_answers_as_the_indexes_do(aws):
    real = _windows(order_store, order_store)
    fake_orders = MemoryOrders()
    assert _windows(fake_orders, MemoryWindows(fake_orders)) == real
    assert real == [
        {"203.0.113.7": [to_iso(AT), to_iso(AT + timedelta(minutes=5))], "198.51.100.1": []},
        [_numbered(2), _numbered(1)],
        [_numbered(2)],
        [_numbered(3), _numbered(1)],  # the later UTC day first
        [],
        [PayStatus.PAID, PayStatus.PENDING, PayStatus.PAID],
        [],
    ]
