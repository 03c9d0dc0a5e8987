"""The orders export's rows built straight from DynamoDB's wire format (services/export_rows.py)
are exactly the rows of the model-based path (the item read by PynamoDB, `to_domain`,
`export_sources._order_row`), for orders of every attribute shape, in both languages, masked and
not, in a zone with and without daylight saving; and the filter decides the same on the wire
item as on the Order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.order import Order
from chalicelib.domain.order_filter import OrderFilter
from chalicelib.services import export_rows
from chalicelib.services.export_sources import _order_row
from chalicelib.services.export_words import Words
from chalicelib.services.exports import _pii_masker
from chalicelib.store.models import OrderModel, PaymentMap
from chalicelib.store.orders import to_domain

CREATED = "2026-03-08T06:59:59.999999Z"  # New York's clocks go forward at 07:00 UTC that day


def _payment(ref: str, minor: int, currency: str = "CNY", **more: Any) -> PaymentMap:
    return PaymentMap(
        payment_ref=ref, amount_minor=minor, currency=currency, channel="c", notice_key=ref, **more
    )


def _order(order_no: str, **fields: Any) -> dict[str, Any]:
    """The item as DynamoDB holds it (wire format), the bare minimum unless `fields` add more."""
    base: dict[str, Any] = {
        "amount_minor": 5800,
        "currency": "CNY",
        "channel": "alipay-main",
        "product_id": "p1",
        "product_name": "VIP 月卡",
        "product_lc": "vip 月卡",
        "quantity": 1,
        "created_at": CREATED,
        "created_day": CREATED[:10],
        "expires_at": "2026-03-08T07:14:59.999999Z",
        "pay_status": "pending",
        "delivery_status": "pending",
    }
    item = OrderModel(order_no, **(base | fields))
    return cast(dict[str, Any], item.serialize())


PAID = {
    "pay_status": "paid",
    "paid_at": "2026-03-08T07:00:30.500000Z",
    "paid_day": "2026-03-08",
    "trade_no": "T1",
    "method": "alipay",
}

SHAPES: dict[str, dict[str, Any]] = {
    "pending, nothing optional": _order("A01"),
    "paid, delivered, every buyer field": _order(
        "A02",
        **PAID,
        delivery_status="delivered",
        delivered_at="2026-03-08T07:01:00.000000Z",
        buyer_email="Zhang.San@QQ.com",
        email_lc="zhang.san@qq.com",
        buyer_id="u12345",
        buyer_ip="36.1.2.3",
        device="mobile",
        browser="Chrome 120",
        os="iOS 17",
        payments=[_payment("T1", 5800, payer="2088****")],
    ),
    "gateway fee and received amount": _order(
        "A03", **PAID, payments=[_payment("T1", 5800, received_minor=5790, fee_minor=35)]
    ),
    "gateway fee above what was received": _order(
        "A04", **PAID, payments=[_payment("T1", 5800, received_minor=3, fee_minor=35)]
    ),
    "refunded in part": _order(
        "A05",
        **PAID | {"pay_status": "partially_refunded"},
        refunded_minor=1000,
        refunded_at="2026-03-09T01:00:00.000000Z",
        payments=[_payment("T1", 5800)],
    ),
    "refunded in full": _order(
        "A06",
        **PAID | {"pay_status": "refunded"},
        refunded_minor=5800,
        refunded_at="2026-03-09T01:00:00.000000Z",
        payments=[_payment("T1", 5800)],
    ),
    "converted, statement fee net and settled": _order(
        "A07",
        **PAID,
        amount_minor=1999,
        currency="USD",
        fee_minor=921,
        net_minor=14671,
        fee_currency="HKD",
        settled_minor=15592,
        exchange_rate="7.8",
        payments=[_payment("T1", 1999, "USD", fee_minor=118)],
    ),
    "converted fee without a net": _order(
        "A08",
        **PAID,
        amount_minor=1999,
        currency="USD",
        fee_minor=921,
        fee_currency="HKD",
        payments=[_payment("T1", 1999, "USD")],
    ),
    "statement net, the payment's fee": _order(
        "A09", **PAID, net_minor=5765, payments=[_payment("T1", 5800, fee_minor=35)]
    ),
    "several payments, the first in another currency": _order(
        "A10",
        **PAID,
        payments=[
            _payment("T1", 800, "USD", fee_minor=20),
            _payment("T2", 5800, "CNY", fee_minor=35),
        ],
        refunded_minor=800,
    ),
    "held, two reasons, delivery failed later": _order(
        "A11",
        **PAID,
        delivery_status="held",
        hold_reasons=["velocity", "operator"],
        flag="1",
        refund_open="1",
        payments=[_payment("T1", 5800)],
    ),
    "no minor digits, three minor digits": _order(
        "A12", **PAID, amount_minor=1999, currency="JPY", payments=[_payment("T1", 1234, "BHD")]
    ),
    "delivered, never paid": _order(
        "A13", delivery_status="failed", delivered_at="2026-03-08T08:00:00.000000Z"
    ),
    "expired and closed": _order(
        "A14",
        pay_status="closed",
        expired_at="2026-03-08T07:15:00.000000Z",
        closed_at="2026-03-08T07:16:00.000000Z",
        trade_no="T3",
        device="bot",
        buyer_email="nobody",
    ),
}


def _odd(item: dict[str, Any]) -> dict[str, Any]:
    """The same item with numbers written as decimals and absent attributes as NULLs: shapes
    another writer may leave, read the same way by both paths."""
    odd = {
        name: {"N": value["N"] + ".0"} if "N" in value else value for name, value in item.items()
    }
    return odd | {
        name: {"NULL": True} for name in ("buyer_ip", "method", "fee_minor") if name not in item
    }


SHAPES |= {f"{name}, odd numbers and NULLs": _odd(item) for name, item in SHAPES.items()}

ZONES = ["Asia/Shanghai", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]


@pytest.mark.parametrize("zone", ZONES)
def test_local_times_by_the_hour_are_the_whole_conversion_all_year(zone):
    """Every hour's first and last microsecond of a year (DST both ways; half-hour offsets and a
    half-hour DST shift go the whole way) as `_local` shows them."""
    from chalicelib.domain.clock import to_iso
    from chalicelib.services.export_sources import _local

    zone_info, start = ZoneInfo(zone), datetime(2026, 1, 1, tzinfo=UTC)
    local = export_rows.local_clock(zone_info)
    for hour in range(366 * 24):
        for at in (
            start + timedelta(hours=hour),
            start + timedelta(hours=hour + 1, microseconds=-1),
        ):
            assert local(to_iso(at)) == _local(at, zone_info), at
    assert local("2026-03-08T07:00:00+00:00") == _local(
        datetime(2026, 3, 8, 7, tzinfo=UTC), zone_info
    )
    assert local(None) == local("") == ""


def _model_row(item: dict[str, Any], zone: ZoneInfo, masked: bool, lang: str) -> list[Any]:
    order = to_domain(OrderModel.from_raw_data(item))
    return _order_row(order, zone, _pii_masker(masked), Words(lang))


def _projected(item: dict[str, Any]) -> dict[str, Any]:
    """What the export's Query answers: the item projected to export_rows.ATTRIBUTES."""
    return {name: value for name, value in item.items() if name in export_rows.ATTRIBUTES}


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize(("masked", "lang"), [(False, "en"), (True, "zh")], ids=["en", "zh-masked"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_wire_row_is_the_model_row(shape, masked, lang, zone):
    item, zone_info = SHAPES[shape], ZoneInfo(zone)
    row = export_rows.order_row(zone_info, _pii_masker(masked), Words(lang))
    wire = row(_projected(item))
    assert wire == _model_row(item, zone_info, masked, lang)
    assert [type(cell) for cell in wire] == [
        type(cell) for cell in _model_row(item, zone_info, masked, lang)
    ]


def test_the_shapes_cover_every_column():
    """Every column is non-empty in some shape (so each extractor is compared on a value)."""
    zone = ZoneInfo("Asia/Shanghai")
    rows = [_model_row(item, zone, False, "en") for item in SHAPES.values()]
    assert all(any(row[n] not in ("", None) for row in rows) for n in range(len(rows[0])))
    assert {row[-1] for row in rows} == {"", "statement", "gateway"}


def _filters() -> dict[str, OrderFilter]:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    end = start + timedelta(days=30)
    day = OrderFilter(created_from=start, created_to=end)
    return {
        "time": day,
        "outside the time": OrderFilter(created_from=end, created_to=end + timedelta(days=1)),
        "untimed": OrderFilter(created_from=start, created_to=end, time_bounded=False),
        "paid time": OrderFilter(
            created_from=start,
            created_to=end,
            paid_from=datetime(2026, 3, 8, 7, tzinfo=UTC),
            paid_to=end,
        ),
        "statuses": OrderFilter(created_from=start, created_to=end, statuses=("paid", "closed")),
        "delivery": OrderFilter(created_from=start, created_to=end, delivery="held"),
        "channel": OrderFilter(created_from=start, created_to=end, channel="alipay-main"),
        "method": OrderFilter(created_from=start, created_to=end, method="alipay"),
        "amount": OrderFilter(
            created_from=start,
            created_to=end,
            min_amount=Decimal("19.99"),
            max_amount=Decimal("58"),
        ),
        "order no": OrderFilter(created_from=start, created_to=end, order_no="A07"),
        "trade no of a later payment": OrderFilter(
            created_from=start, created_to=end, trade_no="T2"
        ),
        "trade no, no payment": OrderFilter(created_from=start, created_to=end, trade_no="T3"),
        "e-mail": OrderFilter(created_from=start, created_to=end, email="zhang.san@qq.com"),
        "e-mail domain": OrderFilter(created_from=start, created_to=end, email="@qq.com"),
        "e-mail prefix": OrderFilter(created_from=start, created_to=end, email="zhang"),
        "buyer id": OrderFilter(created_from=start, created_to=end, buyer_id="123"),
        "product": OrderFilter(created_from=start, created_to=end, product="vip"),
        "ip": OrderFilter(created_from=start, created_to=end, ip="36.1.2.3"),
        "flagged": OrderFilter(created_from=start, created_to=end, flagged=True),
        "not flagged": OrderFilter(created_from=start, created_to=end, flagged=False),
    }


@pytest.mark.parametrize("name", list(_filters()))
def test_the_filter_decides_the_same_on_the_wire_item(name):
    order_filter = _filters()[name]
    on_orders, on_wire = [], []
    for shape, item in SHAPES.items():
        order = to_domain(OrderModel.from_raw_data(item))
        if order_filter.matches(order, order.flagged):
            on_orders.append(shape)
        wire = _projected(item)
        if order_filter.matches(
            cast(Order, export_rows.WireOrder(wire)), export_rows.flagged(wire)
        ):
            on_wire.append(shape)
    assert on_wire == on_orders
    assert name == "outside the time" or on_orders  # each filter matches something


def test_items_taken_as_sent_are_what_botocore_parses_them_into():
    """A wire read's Query items come from the body as sent (store/order_search.py's
    before-parse hook): the same dictionaries botocore's own parse of every attribute type an
    order holds gives, and botocore still parses the rest of the body."""
    import json

    from botocore import parsers
    from botocore.session import get_session

    from chalicelib.store.order_search import _items_as_sent, _take_items_as_sent

    shape = get_session().get_service_model("dynamodb").operation_model("Query").output_shape
    items = [
        _projected(item)
        | {"applied": {"SS": ["k1", "k2"]}, "gone": {"NULL": True}, "ok": {"BOOL": False}}
        for item in SHAPES.values()
    ]
    body = {
        "Items": items,
        "Count": len(items),
        "ScannedCount": len(items) + 2,
        "LastEvaluatedKey": {"order_no": {"S": "A14"}, "created_day": {"S": "2026-03-08"}},
    }

    def parsed(flagged: bool) -> tuple[dict, dict]:
        response = {"status_code": 200, "headers": {}, "body": json.dumps(body).encode()}
        customized: dict = {}
        token = _items_as_sent.set(flagged)
        try:
            _take_items_as_sent(response_dict=response, customized_response_dict=customized)
        finally:
            _items_as_sent.reset(token)
        return parsers.create_parser("json").parse(response, shape) | customized, customized

    (by_botocore, untaken), (as_sent, taken) = parsed(False), parsed(True)
    assert untaken == {} and taken["Items"] == items  # only a wire read's Query is taken
    assert as_sent["Items"] == by_botocore["Items"] == items
    for name in ("Count", "ScannedCount", "LastEvaluatedKey"):
        assert as_sent[name] == by_botocore[name] == body[name]
    failed = {"status_code": 400, "headers": {}, "body": b'{"__type": "x", "message": "m"}'}
    token = _items_as_sent.set(True)
    try:
        _take_items_as_sent(response_dict=failed, customized_response_dict=(untouched := {}))
    finally:
        _items_as_sent.reset(token)
    assert untouched == {} and failed["body"] == b'{"__type": "x", "message": "m"}'
