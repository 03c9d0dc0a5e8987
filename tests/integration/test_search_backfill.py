"""The search keys backfill (store/search_backfill.py, the `backfill_search_keys` job): orders
stored before the keys existed are found by every index after it; a write to an order during the
pass is kept; the pass is bounded per run, resumes from its cursor, and a second pass writes
nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.money import Money
from chalicelib.domain.notice import Notice, NoticeKind
from chalicelib.domain.order import Order, first_payment_changes
from chalicelib.services import jobs
from chalicelib.store import orders as order_store
from chalicelib.store import search_backfill
from chalicelib.store.models import OrderModel
from tests.integration.conftest import ADMIN_KEY

NOW = datetime.now(UTC).replace(microsecond=0)
CHANNELS = ["alipay-main", "wxpay-main", "epay-main"]
INDEXES = {
    name: index
    for name, index in vars(OrderModel).items()
    if name.startswith("by_") and hasattr(index, "Meta")
}


def _notice(order: Order, n: int) -> Notice:
    return Notice(
        channel=order.channel,
        gateway="alipay",
        kind=NoticeKind.PAYMENT,
        dedupe_key=f"k{n}",
        out_trade_no=order.order_no,
        trade_no=f"T{n:04d}",
        amount=order.amount,
        gateway_status="TRADE_SUCCESS",
        event_time=order.created_at + timedelta(minutes=1),
        raw={},
        method="alipay",
    )


def _pay(order: Order, n: int) -> Order:
    return order_store.apply_changes(
        order, first_payment_changes(_notice(order, n), order.created_at + timedelta(minutes=1))
    )


def _seed_without_keys(count: int = 12) -> list[str]:
    """Orders over several days, paid and not, with and without an e-mail, then stripped of
    every search key, as orders stored before the keys existed are."""
    made = []
    for i in range(count):
        created = NOW - timedelta(days=i % 4, hours=i)
        order = Order(
            order_no=f"U{i:04d}",
            amount=Money([1000, 5800, 50000][i % 3]),
            channel=CHANNELS[i % 3],
            product_id="p1",
            product_name="VIP 月卡",
            quantity=1,
            created_at=created,
            expires_at=created + timedelta(minutes=15),
            buyer_email=None if i % 5 == 4 else f"User{i}@{'qq' if i % 2 else '163'}.com",
            buyer_ip=f"36.110.0.{i}",
        )
        assert order_store.create(order)
        if i % 2:
            _pay(order, i)
        attributes = OrderModel.get_attributes()
        OrderModel(order.order_no).update(
            actions=[attributes[name].remove() for name in search_backfill.KEYS]
        )
        made.append(order.order_no)
    return made


def _found_by(order_no: str) -> set[str]:
    """The indexes whose partition of this order's own key value holds it."""
    item = OrderModel.get(order_no, consistent_read=True)
    found = set()
    for name, index in INDEXES.items():
        value = getattr(item, index._hash_key_attribute().attr_name)
        if value is not None and order_no in {i.order_no for i in index.query(value)}:
            found.add(name)
    return found


def _run(api, body: dict) -> dict:
    response = api.call("POST", "/admin/jobs/backfill_search_keys", body, key=ADMIN_KEY)
    assert response.status_code == 200, response.body
    return api.json(response)


def _since() -> str:
    return (NOW - timedelta(days=10)).date().isoformat()


KEYED = {
    "by_amount",
    "by_channel_status",
    "by_status_amount",
    "by_channel_amount",
    "by_email_domain",
    "by_email_prefix",
}


def test_orders_without_keys_are_found_by_every_index_after_the_backfill(api):
    orders = _seed_without_keys()
    before = {no: _found_by(no) for no in orders}
    assert all(not found & (KEYED | {"by_awaiting_delivery"}) for found in before.values())
    summary = _run(api, {"date": _since()})
    assert summary["done"] and summary["cursor"] is None
    assert summary["read"] == summary["written"] == len(orders) and summary["conflicts"] == 0
    for no in orders:
        item = OrderModel.get(no)
        keyed = KEYED if item.buyer_email else KEYED - {"by_email_domain", "by_email_prefix"}
        if item.pay_status == "paid":  # and not delivered: awaited by the slow-delivery check
            keyed = keyed | {"by_awaiting_delivery"}
        assert _found_by(no) == before[no] | keyed, no
        assert search_backfill.missing_keys(item) == {}
    # and the searches themselves find them
    search = api.call(
        "GET", "/admin/orders?min_amount=58&max_amount=58&totals=false&limit=100", key=ADMIN_KEY
    )
    found = {row["order_no"] for row in api.json(search)["items"]}
    assert found == {no for n, no in enumerate(orders) if n % 3 == 1}


def test_a_second_pass_writes_nothing(api):
    orders = _seed_without_keys(6)
    assert _run(api, {"date": _since()})["written"] == len(orders)
    again = _run(api, {"date": _since()})
    assert again["done"] and again["read"] == len(orders) and again["written"] == 0


def test_each_run_is_bounded_and_the_cursor_resumes_it(api, monkeypatch):
    orders = _seed_without_keys(11)
    monkeypatch.setattr(jobs, "BACKFILL_ITEMS", 3)
    monkeypatch.setattr(jobs, "BACKFILL_DAYS", 2)
    runs, read, written, body = 0, 0, 0, {"date": _since()}
    while True:
        summary = _run(api, body)
        runs += 1
        assert summary["read"] <= 3 and summary["days"] <= 2
        read, written = read + summary["read"], written + summary["written"]
        if summary["done"]:
            break
        body = {"cursor": summary["cursor"]}
    assert read == written == len(orders)  # every order once: no gap, no repeat
    assert runs >= 6  # 11 days back in steps of two, 11 orders in steps of three
    assert all(search_backfill.missing_keys(OrderModel.get(no)) == {} for no in orders)


def test_a_write_during_the_pass_is_kept_and_its_keys_follow_it(api, monkeypatch):
    """The order is paid between the backfill's read and its write: the write at the old
    version is refused, the order read again, and the keys written for it as paid."""
    _seed_without_keys(3)
    pending = "U0000"  # even: left pending
    original, paid_once = search_backfill.missing_keys, []

    def paid_meanwhile(item):
        if item.order_no == pending and not paid_once:
            paid_once.append(_pay(order_store.get(pending), 99))
        return original(item)

    monkeypatch.setattr(search_backfill, "missing_keys", paid_meanwhile)
    summary = _run(api, {"date": _since()})
    assert paid_once and summary["conflicts"] == 1 and summary["written"] == 3
    item = OrderModel.get(pending, consistent_read=True)
    assert item.pay_status == "paid" and item.trade_no == "T0099" and len(item.payments) == 1
    assert item.channel_status == f"{item.channel}#paid"
    assert item.status_band.startswith("paid#") and item.amount_at is not None
    assert search_backfill.missing_keys(item) == {}
    assert item.version == paid_once[0].version  # the backfill's write bumps no version


@pytest.mark.parametrize(
    "body",
    [
        {"cursor": "not base64 json"},
        {"cursor": "eyJkYXkiOiAxfQ=="},  # {"day": 1}
        {"cursor": 7},
        {"date": "yesterday"},
        {"channel": "alipay-main"},
    ],
    ids=["garbage", "wrong shape", "not text", "bad date", "unknown field"],
)
def test_a_bad_body_is_a_400(api, body):
    response = api.call("POST", "/admin/jobs/backfill_search_keys", body, key=ADMIN_KEY)
    assert response.status_code == 400


def test_the_days_end_at_the_oldest_even_the_first_day_of_the_calendar():
    from datetime import date

    position = search_backfill.Position(date(1, 1, 2), date.min)
    assert list(search_backfill._days(position)) == [date(1, 1, 2), date.min]
