"""GET /admin/orders against a seeded data set with known answers: every filter alone and
combined, boundaries, cursor continuity, totals, masking, and no Scan."""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from chalicelib.domain.clock import to_iso
from chalicelib.domain.money import Money
from chalicelib.domain.notice import Notice, NoticeKind
from chalicelib.domain.order import PAID_STATES, Order, first_payment_changes
from chalicelib.services import auth
from chalicelib.store import orders as order_store
from chalicelib.store.models import OrderModel
from tests.integration.conftest import ADMIN_KEY, Api, chalice_client, provisioned_aws

NOW = datetime.now(UTC).replace(microsecond=0)
CHANNELS = ["alipay-main", "wxpay-main", "epay-main", "stripe-main"]
METHODS = {
    "alipay-main": "alipay",
    "wxpay-main": "wechat",
    "epay-main": "wxpay",
    "stripe-main": "stripe",
}
PRODUCTS = ["Steam 充值卡 50元", "VIP会员 月卡", "Netflix 月卡"]


def seed(count: int = 60) -> list[Order]:
    made = []
    for i in range(count):
        channel = CHANNELS[i % 4]
        created = NOW - timedelta(days=i % 5, hours=i % 7, minutes=i)
        order = Order(
            order_no=f"S{i:04d}",
            amount=Money([1000, 5800, 50000, 5800][i % 4]),
            channel=channel,
            product_id=f"p{i % 3}",
            product_name=PRODUCTS[i % 3],
            quantity=1,
            created_at=created,
            expires_at=created + timedelta(minutes=15),
            buyer_email=f"user{i % 6}@{'qq' if i % 2 else '163'}.com",
            buyer_id=f"buyer-{i % 9}",
            buyer_ip=f"36.110.{i % 3}.{i % 11}",
            gateway="alipay",
        )
        assert order_store.create(order)
        if i % 3 != 0:
            notice = Notice(
                channel=channel,
                gateway="alipay",
                kind=NoticeKind.PAYMENT,
                dedupe_key=f"k{i}",
                out_trade_no=order.order_no,
                trade_no=f"T{i:04d}",
                amount=order.amount,
                gateway_status="TRADE_SUCCESS",
                event_time=created + timedelta(minutes=1),
                raw={},
                method=METHODS[channel],
            )
            order = order_store.apply_changes(
                order, first_payment_changes(notice, created, ["operator"] if i % 10 == 1 else None)
            )
        if i % 7 == 0:
            OrderModel(order.order_no).update(actions=[OrderModel.flag.set("1")])
        made.append(order_store.get(order.order_no))
    return made


@pytest.fixture(scope="module")
def seeded():
    """One seeded stage for the whole module: these tests only read."""
    with provisioned_aws(), chalice_client() as client:
        yield Api(client), seed(), auth.create_key("viewer", "viewer", "test")[1]


@pytest.fixture
def api(seeded):
    return seeded[0]


@pytest.fixture
def data(seeded):
    return seeded[1]


@pytest.fixture
def viewer(seeded):
    return seeded[2]


def search(api, key=ADMIN_KEY, **params):
    query = urlencode(params, doseq=True)
    response = api.call("GET", f"/admin/orders?{query}", key=key)
    assert response.status_code == 200, response.body
    return api.json(response)


def all_pages(api, **params):
    seen, cursor = [], None
    while True:
        page = search(api, **params, **({"cursor": cursor} if cursor else {}))
        seen += [item["order_no"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            return seen, page["totals"]


def expect(data, predicate):
    chosen = [o for o in data if predicate(o)]
    return sorted(o.order_no for o in chosen), Counter()


CASES = {
    "none": ({}, lambda o: True),
    "status": ({"status": "paid"}, lambda o: o.pay_status.value == "paid"),
    "two statuses": ({"status": ["paid", "pending"]}, lambda o: True),
    "delivery held": ({"delivery": "held"}, lambda o: o.delivery_status.value == "held"),
    "channel": ({"channel": "wxpay-main"}, lambda o: o.channel == "wxpay-main"),
    "method": ({"method": "wxpay"}, lambda o: o.method == "wxpay"),
    "min amount at boundary": ({"min_amount": "58.00"}, lambda o: o.amount.minor >= 5800),
    "max amount at boundary": ({"max_amount": "58.00"}, lambda o: o.amount.minor <= 5800),
    "amount range": (
        {"min_amount": "10.00", "max_amount": "58"},
        lambda o: 1000 <= o.amount.minor <= 5800,
    ),
    "order no": ({"order_no": "S0005"}, lambda o: o.order_no == "S0005"),
    "trade no": ({"trade_no": "T0005"}, lambda o: o.trade_no == "T0005"),
    "email partial": ({"email": "USER1@"}, lambda o: o.buyer_email.startswith("user1@")),
    "email exact": ({"email": "user2@163.com"}, lambda o: o.buyer_email == "user2@163.com"),
    "email domain": ({"email": "@QQ.com"}, lambda o: o.buyer_email.endswith("@qq.com")),
    "email prefix": ({"email": "user"}, lambda o: True),
    "email prefix and domain start": (
        {"email": "user3@q"},
        lambda o: o.buyer_email.startswith("user3@q"),
    ),
    "email short prefix (a sweep)": ({"email": "us"}, lambda o: True),
    "email inside the address (not a prefix)": ({"email": "ser1"}, lambda o: False),
    "buyer partial": ({"buyer_id": "buyer-3"}, lambda o: o.buyer_id == "buyer-3"),
    "product ci": ({"product": "netflix"}, lambda o: "Netflix" in o.product_name),
    "ip": ({"ip": "36.110.1.1"}, lambda o: o.buyer_ip == "36.110.1.1"),
    "flagged": ({"flagged": "true"}, lambda o: int(o.order_no[1:]) % 7 == 0),
    "not flagged": ({"flagged": "false"}, lambda o: int(o.order_no[1:]) % 7 != 0),
    "combined": (
        {"status": "paid", "channel": "alipay-main", "min_amount": "5", "product": "vip"},
        lambda o: (
            o.pay_status.value == "paid"
            and o.channel == "alipay-main"
            and o.amount.minor >= 500
            and "VIP" in o.product_name
        ),
    ),
    "channel + two statuses": (
        {"channel": "alipay-main", "status": ["paid", "pending"]},
        lambda o: o.channel == "alipay-main" and o.pay_status.value in ("paid", "pending"),
    ),
    "status + exact price": (
        {"status": "pending", "min_amount": "58", "max_amount": "58"},
        lambda o: o.pay_status.value == "pending" and o.amount.minor == 5800,
    ),
    "channel + amount range": (
        {"channel": "stripe-main", "min_amount": "9.99", "max_amount": "500"},
        lambda o: o.channel == "stripe-main" and 999 <= o.amount.minor <= 50000,
    ),
    "ip + email + flagged": (
        {"ip": "36.110.0.0", "email": "user0", "flagged": "true"},
        lambda o: (
            o.buyer_ip == "36.110.0.0"
            and o.buyer_email.startswith("user0")
            and int(o.order_no[1:]) % 7 == 0
        ),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_filter_and_combinations_have_exact_answers(api, data, name):
    params, predicate = CASES[name]
    found, totals = all_pages(api, limit=7, **params)
    wanted = sorted(o.order_no for o in data if predicate(o))
    assert sorted(found) == wanted and len(found) == len(set(found)), name
    assert totals["count"] == len(wanted)
    by_currency = sum(o.amount.minor for o in data if predicate(o))
    assert (
        totals["amount_by_currency"].get("CNY", "0.00") == Money(by_currency).format() or not wanted
    )
    paid = [o for o in data if predicate(o) and o.pay_status in PAID_STATES]
    assert totals["paid_count"] == len(paid)
    assert (
        totals["paid_amount_by_currency"].get("CNY", "0.00")
        == Money(sum(o.paid_amount.minor for o in paid)).format()
    )


def test_time_range_edges_are_inclusive(api, data):
    target = data[10]
    exact = to_iso(target.created_at).replace(".000000", "")
    found, _ = all_pages(api, **{"from": exact, "to": exact})
    assert found == [target.order_no]
    paid = next(o for o in data if o.paid_at)
    at = to_iso(paid.paid_at).replace(".000000", "")
    found, _ = all_pages(api, paid_from=at, paid_to=at)
    assert found == [paid.order_no]


def test_pages_are_newest_first_without_gaps_or_duplicates(api, data):
    found, totals = all_pages(api, limit=4)
    expected = [
        o.order_no for o in sorted(data, key=lambda o: (o.created_at, o.order_no), reverse=True)
    ]
    assert found == expected and totals["count"] == len(data)


def test_viewer_gets_masked_rows(api, data, viewer):
    page = search(api, key=viewer, email="user1@qq.com")
    assert page["items"] and all(item["buyer_email"] == "us***@qq.com" for item in page["items"])
    assert all(item["buyer_ip"].endswith(".*.*") for item in page["items"])


@pytest.mark.parametrize(
    "params",
    [
        {"status": "done"},
        {"min_amount": "abc"},
        {"from": "yesterday"},
        {"limit": "500"},
        {"limit": "-1"},
        {"cursor": "garbage!"},
        {"flagged": "maybe"},
        {"delivery": "sent"},
        {"limit": "²"},
        {"limit": "٣"},
        {"limit": "1e2"},
        {"limit": "9" * 5000},
        {"min_amount": "1e999999"},
        {"max_amount": "1_000"},
        {"min_amount": "-1"},
        {"min_amount": "NaN"},
        {"to": "9999-12-31T23:59:59-01:00"},
        {"paid_to": "9999-12-31T23:59:59Z"},
        {"from": "0001-01-01T00:00:00+14:00"},
        {"from": "２０２６-11-25T00:00:00Z"},
        {"paid_from": "2026-13-01T00:00:00Z"},
    ],
)
def test_bad_parameters_are_400(api, data, params):
    response = api.call("GET", f"/admin/orders?{urlencode(params)}", key=ADMIN_KEY)
    assert (
        response.status_code == 400 and api.json(response)["error"]["code"] == "validation_failed"
    )


def test_no_scan_and_exact_lookups_in_one_request(api, data, monkeypatch):
    from pynamodb.connection.base import Connection

    calls = Counter()
    original = Connection._make_api_call

    def counting(conn, operation, kwargs):
        calls[(operation, kwargs.get("IndexName"))] += 1
        return original(conn, operation, kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", counting)
    for params in CASES.values():
        search(api, **params[0])
    assert not [c for c in calls if c[0] == "Scan"]
    calls.clear()
    search(api, order_no="S0005")
    orders_reads = {
        k: v for k, v in calls.items() if k[0] in ("GetItem", "Query") and k[1] != "by_kind"
    }
    assert orders_reads == {
        ("GetItem", None): 2
    }  # the order (page and totals in one pass) + the auth key
    calls.clear()
    assert [i["order_no"] for i in search(api, trade_no="T0005")["items"]] == ["S0005"]
    orders_reads = {
        k: v for k, v in calls.items() if k[0] in ("GetItem", "Query") and k[1] != "by_kind"
    }
    assert orders_reads == {("Query", "by_trade_no"): 1, ("GetItem", None): 1}  # + the auth key


@pytest.mark.parametrize(
    "params,index",
    [
        ({"channel": "wxpay-main", "status": "paid"}, "by_channel_status"),
        ({"status": ["paid", "expired"], "min_amount": "58"}, "by_status_amount"),
        ({"channel": "wxpay-main", "status": "paid", "max_amount": "58"}, "by_channel_amount"),
        ({"min_amount": "58", "max_amount": "58"}, "by_amount"),
        ({"email": "@qq.com", "channel": "wxpay-main"}, "by_email_domain"),
        ({"email": "user1", "status": "paid"}, "by_email_prefix"),
        ({"email": "u1@"}, "by_email_prefix"),
        ({"email": "u1"}, "by_created"),
    ],
    ids=[
        "channel+status",
        "status+amount",
        "channel+status+amount",
        "exact price",
        "domain",
        "prefix",
        "short local part",
        "short prefix",
    ],
)
def test_combinations_are_served_by_their_composite_index(api, data, params, index):
    assert search(api, limit=3, totals="false", **params)["index"] == index


def test_capped_totals_count_the_first_page_and_read_no_more(api, data, monkeypatch):
    read = _items_read(monkeypatch)
    first = search(api, limit=5, channel="wxpay-main", totals="capped")
    shown = [o for o in data if o.order_no in {i["order_no"] for i in first["items"]}]
    paid = [o.paid_amount.minor for o in shown if o.pay_status in PAID_STATES and o.paid_amount]
    assert first["totals"] == {
        "count": 5,
        "amount_by_currency": {"CNY": Money(sum(o.amount.minor for o in shown)).format()},
        "paid_count": len(paid),
        "paid_amount_by_currency": {"CNY": Money(sum(paid)).format()} if paid else {},
        "capped": True,
    }
    assert read["Query"] <= 5 + 2
    second = search(
        api, limit=5, channel="wxpay-main", totals="capped", cursor=first["next_cursor"]
    )
    assert second["totals"] == first["totals"]  # carried, not counted again
    wanted = [o for o in data if o.channel == "wxpay-main" and o.pay_status.value == "paid"]
    whole = search(api, limit=50, channel="wxpay-main", status="paid", totals="capped")
    assert whole["totals"]["capped"] is False and whole["totals"]["count"] == len(wanted)
    assert search(api, limit=5, channel="wxpay-main")["totals"].keys() == {
        "count",
        "amount_by_currency",
        "paid_count",
        "paid_amount_by_currency",
    }  # the default stays the whole set, as before


@pytest.mark.parametrize(
    "params,predicate",
    [
        ({"channel": "wxpay-main"}, lambda o: o.channel == "wxpay-main"),
        ({"min_amount": "58", "max_amount": "58.00"}, lambda o: o.amount.minor == 5800),
    ],
    ids=["channel", "amount"],
)
def test_dynamodb_reads_the_set_once_then_about_a_page_per_page(
    api, data, monkeypatch, params, predicate
):
    read = _items_read(monkeypatch)
    matches = [o for o in data if predicate(o)]
    first = search(api, limit=5, **params)
    assert read == {"Query": len(matches)} and first["totals"]["count"] == len(matches)
    read.clear()
    second = search(api, limit=5, **params, cursor=first["next_cursor"])
    assert len(second["items"]) == 5 and read["Query"] <= 5 + 2


def test_totals_false_skips_the_whole_set_pass(api, data, monkeypatch):
    from pynamodb.connection.base import Connection

    calls = Counter()
    original = Connection._make_api_call
    monkeypatch.setattr(
        Connection,
        "_make_api_call",
        lambda conn, op, kw: calls.update([op]) or original(conn, op, kw),
    )
    with_totals = search(api, limit=3)
    reads_with_totals = calls["Query"] + calls["BatchGetItem"]
    calls.clear()
    without = search(api, limit=3, totals="false")
    assert without["totals"] is None and without["items"] == with_totals["items"]
    assert calls["Query"] + calls["BatchGetItem"] < reads_with_totals
    second = search(api, limit=3, totals="false", cursor=without["next_cursor"])
    assert second["totals"] is None and second["items"][0]["order_no"] not in {
        i["order_no"] for i in without["items"]
    }
    resumed = search(api, limit=3, cursor=without["next_cursor"])
    assert resumed["totals"]["count"] == len(data)


def test_later_pages_query_only_the_days_from_the_cursor_on(api, data, monkeypatch):
    from pynamodb.connection.base import Connection

    queries = Counter()
    original = Connection._make_api_call
    monkeypatch.setattr(
        Connection,
        "_make_api_call",
        lambda conn, op, kw: queries.update([kw.get("IndexName")]) or original(conn, op, kw),
    )
    page = search(api, limit=5)
    assert queries["by_created"] == 31  # the totals pass: every day of the default 30 days
    seen, per_page = [i["order_no"] for i in page["items"]], []
    while page["next_cursor"]:
        queries.clear()
        page = search(api, limit=5, cursor=page["next_cursor"])
        seen += [i["order_no"] for i in page["items"]]
        per_page.append(queries["by_created"])
    assert sorted(seen) == sorted(o.order_no for o in data)
    # the cursor's day, and the next when it runs out; only the last page looks through the
    # older days to learn there is nothing more
    assert max(per_page[:-1]) <= 2 and per_page[-1] <= 31, per_page


def _items_read(monkeypatch) -> Counter:
    """Items DynamoDB reads from the orders table, by operation (a Query's ScannedCount, a
    GetItem's one item)."""
    from pynamodb.connection.base import Connection

    read = Counter()
    original = Connection._make_api_call

    def counting(conn, operation, kwargs):
        answer = original(conn, operation, kwargs)
        if kwargs.get("TableName") == OrderModel.Meta.table_name:
            read[operation] += answer.get("ScannedCount", int("Item" in answer))
        return answer

    monkeypatch.setattr(Connection, "_make_api_call", counting)
    return read


def _order_reads(monkeypatch) -> Counter:
    """DynamoDB requests on the orders table, by operation and index."""
    from pynamodb.connection.base import Connection

    calls = Counter()
    original = Connection._make_api_call

    def counting(conn, operation, kwargs):
        if kwargs.get("TableName") == OrderModel.Meta.table_name:
            calls[(operation, kwargs.get("IndexName"))] += 1
        return original(conn, operation, kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", counting)
    return calls


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        {"paid_from": to_iso(NOW - timedelta(days=3000))},
        {"paid_to": to_iso(NOW + timedelta(days=400))},
        {"paid_from": "2026-01-01T00:00:00Z", "paid_to": "2027-01-03T00:00:00Z"},
    ],
    ids=["created 6 years", "paid_from 3000 days ago", "paid_to 400 days ahead", "paid 367 days"],
)
def test_ranges_wider_than_366_days_are_refused_before_any_read(api, data, monkeypatch, params):
    reads = _order_reads(monkeypatch)
    response = api.call("GET", f"/admin/orders?{urlencode(params)}", key=ADMIN_KEY)
    error = api.json(response)["error"]
    assert response.status_code == 400 and error["code"] == "range_too_large"
    assert error["details"]["max_days"] == 366 and "narrow" in error["message"]
    assert sum(reads.values()) == 0


def test_a_paid_range_reads_no_day_before_the_creation_range(api, data, monkeypatch):
    reads = _order_reads(monkeypatch)
    page = search(api, paid_from=to_iso(NOW - timedelta(days=300)))
    assert page["totals"]["count"] == sum(1 for o in data if o.paid_at is not None)
    assert reads[("Query", "by_paid")] == 31  # the default 30 days of creation, not 300 days


def test_a_search_past_its_read_budget_is_a_400_that_says_how_to_narrow(api, data, monkeypatch):
    from chalicelib.platform import read_budget

    monkeypatch.setattr(read_budget, "ADMIN_ITEMS", 20)
    response = api.call("GET", "/admin/orders", key=ADMIN_KEY)
    error = api.json(response)["error"]
    assert response.status_code == 400 and error["code"] == "read_budget_exceeded"
    assert "totals=false" in error["message"] and error["details"]["items_read"] == 21
    assert len(search(api, limit=5, totals="false")["items"]) == 5  # a page alone fits
    monkeypatch.setattr(read_budget, "ADMIN_ITEMS", 10**6)
    monkeypatch.setattr(read_budget, "ADMIN_REQUESTS", 10)
    response = api.call("GET", "/admin/orders", key=ADMIN_KEY)  # 31 days: 31 Queries
    assert api.json(response)["error"]["details"]["requests"] == 11


def test_a_search_past_its_deadline_is_a_400(api, data, monkeypatch):
    from chalicelib.platform import read_budget

    ticks = iter(range(0, 10**6, 7))  # a clock that moves 7 s at every look
    monkeypatch.setattr(read_budget, "clock", lambda: next(ticks))
    response = api.call("GET", "/admin/orders", key=ADMIN_KEY)
    error = api.json(response)["error"]
    assert response.status_code == 400 and error["code"] == "read_budget_exceeded"
    assert (
        error["details"]["seconds"] == 21
        and error["details"]["max_seconds"] == read_budget.ADMIN_SECONDS
    )


def _cursor(data) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("[" * 5000, id="5000 brackets"),
        pytest.param(_cursor({"a": ["0", "S0001"], "t": None}), id="time not a time"),
        pytest.param(_cursor({"a": ["", "S0001"], "t": None}), id="empty time"),
        pytest.param(
            _cursor({"a": ["9999-12-31T23:59:59-01:00", "x"], "t": None}),
            id="time past year 9999 in UTC",
        ),
        pytest.param(
            _cursor(
                {"a": [to_iso(NOW), "S0001"], "t": {"count": "many", "amount_by_currency": {}}}
            ),
            id="count not a number",
        ),
        pytest.param(
            _cursor({"a": [to_iso(NOW), "S0001"], "t": [[[[[]]]]]}), id="totals nested lists"
        ),
        pytest.param(_cursor({"a": [to_iso(NOW), "S0001"]}), id="no totals"),
        pytest.param(_cursor(json.loads("[" * 900 + "]" * 900)), id="900 nested lists"),
        pytest.param(_cursor({"a": [to_iso(NOW), 1], "t": None}), id="order number not a string"),
        pytest.param(base64.urlsafe_b64encode(b"[" * 1000).decode(), id="base64 of 1000 brackets"),
        pytest.param("A" * 5000, id="5000 letters"),
    ],
)
def test_forged_cursors_are_400(api, data, cursor):
    response = api.call("GET", f"/admin/orders?{urlencode({'cursor': cursor})}", key=ADMIN_KEY)
    assert (
        response.status_code == 400 and api.json(response)["error"]["details"]["field"] == "cursor"
    )


@pytest.mark.parametrize(
    "params",
    [{"paid_to": to_iso(NOW - timedelta(days=60))}, {"paid_from": to_iso(NOW + timedelta(days=2))}],
    ids=["paid before", "paid after"],
)
def test_a_one_sided_paid_range_outside_the_creation_range_is_empty_not_refused(api, data, params):
    page = search(api, **params)
    assert page["items"] == [] and page["totals"]["count"] == 0


@pytest.mark.parametrize("name", list(CASES))
def test_an_export_reads_the_same_orders_from_the_wire_format_as_models(api, data, name):
    """The orders export's wire reads (store/order_search.candidates(wire=True)) yield the
    items the search's model reads yield, in the same order, for every plan; and its rows are
    the model-based rows of exactly the matching orders."""
    from zoneinfo import ZoneInfo

    from chalicelib.platform.settings import get_settings
    from chalicelib.services import export_rows, exports
    from chalicelib.services.export_sources import _order_row
    from chalicelib.services.export_words import Words
    from chalicelib.services.order_search import parse_filter
    from chalicelib.store.order_search import candidates

    params, predicate = CASES[name]
    statuses = params.get("status", [])
    order_filter = parse_filter(
        {k: v for k, v in params.items() if k != "status"},
        statuses if isinstance(statuses, list) else [statuses],
    )
    projection = list(export_rows.ATTRIBUTES)
    models = list(candidates(order_filter, None))
    wire = list(candidates(order_filter, None, attributes=projection, wire=True))
    assert [item["order_no"]["S"] for item in wire] == [model.order_no for model in models]
    zone = ZoneInfo(get_settings().shop_timezone)
    matching = [
        order
        for order in map(order_store.to_domain, models)
        if order_filter.matches(order, order.flagged)
    ]
    _, rows = exports._rows_for("orders", params, masked=False)
    assert list(rows) == [_order_row(o, zone, lambda _, v: v, Words("en")) for o in matching]
    assert sorted(o.order_no for o in matching) == sorted(o.order_no for o in data if predicate(o))
