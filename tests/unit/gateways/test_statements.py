"""Statement parsers against fixtures in the gateways' real formats — Alipay's ZIP of GBK CSVs
with comment lines, trailing TABs and negative refund rows; WeChat Pay's GZIP of backticked CSV
with a BOM, a summary row and its SHA-1; Stripe's balance transactions; epay's order list — and
malformed files, which fail with the line and the reason."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlparse

import pytest

from chalicelib.domain.money import Money
from chalicelib.domain.statement import BEIJING, LineKind, StatementUnparseable
from chalicelib.gateways import alipay_bill, epay_api, stripe_api, wechatpay_bill
from chalicelib.gateways.base import CallContext

from .recorded import Recorded, alipay_zip, fixture, http, json_answer

DAY = date(2026, 11, 24)
AFTER_DAY = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
EPAY = {"type": "epay", "pid": "1001", "key": "k" * 32, "api_base": "https://pay.example/"}
STRIPE = {
    "type": "stripe",
    "webhook_secret": "whsec_x",
    "api_key": "sk_test_x",
    "api_base": "https://api.stripe.example",
}


def cny(text: str) -> Money:
    return Money.parse(text, "CNY", allow_negative=True)


def detail_text() -> str:
    return fixture("alipay_trade_bill_20261124_detail.csv").decode("gbk")


def broken_alipay(text: str) -> bytes:
    return alipay_zip(text.encode("gbk"))


# ------------------------------------------------------------------ Alipay


def test_alipay_bill_reads_rows_refunds_fees_and_the_account():
    statement = alipay_bill.parse(alipay_zip(), "alipay-main", DAY)
    got = [
        (
            line.line_no,
            line.kind,
            line.out_trade_no,
            line.trade_no,
            line.amount.format(),
            line.fee.format(),
        )
        for line in statement.lines
    ]
    assert got == [
        (
            6,
            LineKind.PAYMENT,
            "20261124093000000001",
            "2026112422001411111111111111",
            "58.00",
            "0.35",
        ),
        (
            7,
            LineKind.PAYMENT,
            "20261124101500000002",
            "2026112422001422222222222222",
            "50.00",
            "0.30",
        ),
        (
            8,
            LineKind.PAYMENT,
            "20261124203000000003",
            "2026112422001433333333333333",
            "19.90",
            "0.12",
        ),
        (
            9,
            LineKind.REFUND,
            "20261124093000000001",
            "2026112422001411111111111111",
            "58.00",
            "0.35",
        ),
    ]
    first, refund = statement.lines[0], statement.lines[3]
    assert first.net == cny("57.65") and refund.net == cny("-57.65")
    assert refund.refund_ref == "20261124093000000001R1"
    assert first.at == datetime(2026, 11, 24, 9, 30, 2, tzinfo=BEIJING)
    assert statement.account == "20880000000000010156" and statement.covers_until is None


@pytest.mark.parametrize(
    "mutate, line, reason",
    [
        (
            lambda t: t.replace("0.00,0.00,,0.12,0.00,", "0.00,,0.12,0.00,"),
            8,
            "24 columns, expected 25",
        ),
        (lambda t: t.replace("共127.90元", "共128.90元"), 11, "交易合计 says 3 rows, 128.90 yuan"),
        (lambda t: t.replace("#交易合计：3笔", "#交易合计：4笔"), 11, "says 4 rows"),
        (
            lambda t: t.split("#-----------------------------------------业务明细列表结束")[0],
            None,
            "truncated",
        ),
        (
            lambda t: t.replace(
                ",退款,VIP会员 月卡,2026-11-24 09:29:40,2026-11-24 15:00:00,,,,,li***@qq.com,-58.00",
                ",退款,VIP会员 月卡,2026-11-24 09:29:40,2026-11-24 15:00:00,,,,,li***@qq.com,58.00",
            ),
            9,
            "refund rows are negative",
        ),
        (lambda t: t.replace(",交易,Netflix", ",冻结,Netflix"), 8, "业务类型 '冻结'"),
        (lambda t: t.replace("19.90,19.90", "19.9O,19.90"), 8, "not a decimal number"),
        (
            lambda t: t.replace("2026-11-24 10:15:10", "2026/11/24 10:15"),
            7,
            "is not yyyy-MM-dd HH:mm:ss",
        ),
        (
            lambda t: t.replace("19.90,19.90", "19.900000000000000000000000000001,19.90"),
            8,
            "more than 2 decimal places",
        ),
        (lambda t: t.replace("19.90,19.90", "1_9.90,19.90"), 8, "not a decimal number"),
        (lambda t: t.replace("19.90,19.90", "1.99e1,19.90"), 8, "not a decimal number"),
        (
            lambda t: t.replace("支付宝交易号,商户订单号", "交易号,商户订单号"),
            5,
            "not Alipay's 25-column detail header",
        ),
    ],
)
def test_alipay_bill_malformed_fails_with_the_line_and_reason(mutate, line, reason):
    with pytest.raises(StatementUnparseable) as failure:
        alipay_bill.parse(broken_alipay(mutate(detail_text())), "alipay-main", DAY)
    assert failure.value.line == (line if line is not None else failure.value.line)
    assert reason in failure.value.reason
    assert "alipay trade bill" in failure.value.message


def test_alipay_bill_that_is_not_gbk_or_not_a_zip():
    raw = fixture("alipay_trade_bill_20261124_detail.csv").replace(
        "月卡".encode("gbk"), b"\xff\xff", 1
    )
    with pytest.raises(StatementUnparseable) as failure:
        alipay_bill.parse(alipay_zip(raw), "alipay-main", DAY)
    assert (failure.value.line, failure.value.reason) == (6, "not GBK text")
    with pytest.raises(StatementUnparseable, match="not a readable ZIP"):
        alipay_bill.parse(b"<html>bill expired</html>", "alipay-main", DAY)


def test_alipay_bill_of_a_day_not_over_covers_until_its_end_date():
    text = detail_text().replace(
        "终止日期：[2026年11月25日 00:00:00]", "终止日期：[2026年11月24日 21:00:00]"
    )
    statement = alipay_bill.parse(broken_alipay(text), "alipay-main", DAY)
    assert statement.covers_until == datetime(2026, 11, 24, 21, 0, tzinfo=BEIJING)


# ------------------------------------------------------------------ WeChat Pay


def wechat_raw() -> bytes:
    return fixture("wechatpay_tradebill_ALL_20261124.csv")


def test_wechat_bill_reads_backticked_fields_refunds_and_five_decimal_fees():
    raw = wechatpay_bill.decompress(
        gzip.compress(wechat_raw()), "SHA1", hashlib.sha1(wechat_raw()).hexdigest(), "t"
    )
    statement = wechatpay_bill.parse(raw, "wxpay-main", DAY)
    got = [
        (
            line.line_no,
            line.kind,
            line.out_trade_no,
            line.trade_no,
            line.amount.format(),
            line.fee.format(),
            line.net.format(),
        )
        for line in statement.lines
    ]
    assert got == [
        (
            2,
            LineKind.PAYMENT,
            "20261124093000000011",
            "4200000001202611241111111111",
            "58.00",
            "0.35",
            "57.65",
        ),
        (
            3,
            LineKind.PAYMENT,
            "20261124101500000012",
            "4200000001202611242222222222",
            "50.00",
            "0.30",
            "49.70",
        ),
        (
            4,
            LineKind.REFUND,
            "20261124093000000011",
            "4200000001202611241111111111",
            "58.00",
            "0.35",
            "-57.65",
        ),
    ]
    assert statement.lines[2].refund_ref == "20261124093000000011R1"


def test_wechat_bill_without_a_bom_reads_the_same():
    raw = wechat_raw().removeprefix("\ufeff".encode())
    assert len(wechatpay_bill.parse(raw, "wxpay-main", DAY).lines) == 3


@pytest.mark.parametrize(
    "mutate, line, reason",
    [
        (lambda t: t.replace("`3,`108.00", "`4,`108.00"), 6, "总交易单数 says 4, the rows give 3"),
        (
            lambda t: t.replace("`0.30000,`108.00", "`0.30001,`108.00"),
            6,
            "手续费总金额 says 0.30001",
        ),
        (lambda t: t.replace(",`JSAPI,", ",JSAPI,"), 3, "field 9 lacks the backtick prefix"),
        (lambda t: t.replace("`NATIVE,`SUCCESS", "`NATIVE,`PAYERROR", 1), 2, "交易状态 'PAYERROR'"),
        (lambda t: t.split("总交易单数")[0], 4, "ends without its summary rows"),
        (lambda t: t.replace("`58.00,`0.00,`0,`0", "`58.00,`0,`0", 1), 2, "26 fields, expected 27"),
        (
            lambda t: t.replace("`0.34800,", "`0.348000000000000000000000000001,", 1),
            2,
            "more than 5 decimal places",
        ),
        (lambda t: t.replace("`0.34800,", "`3.48E-1,", 1), 2, "not a decimal number"),
        (
            lambda t: t.replace("`58.00,`0.00,`0,`0", "`5_8.00,`0.00,`0,`0", 1),
            2,
            "not a decimal number",
        ),
        (lambda t: t.replace("`3,`108.00", "`٣,`108.00"), 6, "the summary row is not numbers"),
        (
            lambda t: t.replace("`0.30000,`108.00", "`0.300000000000000000000000000001,`108.00"),
            6,
            "the summary row is not numbers",
        ),
    ],
)
def test_wechat_bill_malformed_fails_with_the_line_and_reason(mutate, line, reason):
    text = wechat_raw().decode("utf-8")
    with pytest.raises(StatementUnparseable) as failure:
        wechatpay_bill.parse(mutate(text).encode("utf-8"), "wxpay-main", DAY)
    assert (failure.value.line, reason in failure.value.reason) == (line, True), (
        failure.value.reason
    )


def test_wechat_download_whose_sha1_differs_or_is_not_gzip():
    with pytest.raises(StatementUnparseable, match="SHA-1 of the bill does not match"):
        sha1 = hashlib.sha1(wechat_raw()).hexdigest()
        wechatpay_bill.decompress(gzip.compress(wechat_raw() + b" "), "SHA1", sha1, "t")
    with pytest.raises(StatementUnparseable, match="not a readable GZIP"):
        wechatpay_bill.decompress(wechat_raw(), "SHA1", "x", "t")


# ------------------------------------------------------------------ Stripe


def stripe_pages():
    return [
        json_answer(page)
        for page in json.loads(fixture("stripe_balance_transactions_20261124.json"))
    ]


def test_stripe_balance_transactions_pages_charges_and_refunds_with_fee_and_net():
    adapter = Recorded(stripe_pages())
    statement = stripe_api.fetch_balance(
        CallContext(STRIPE, "stripe-main", http(adapter), AFTER_DAY), DAY
    )
    got = [
        (line.line_no, line.kind, line.out_trade_no, line.trade_no, line.amount, line.fee, line.net)
        for line in statement.lines
    ]
    usd = lambda minor: Money(minor, "USD")  # noqa: E731
    assert got == [
        (
            1,
            LineKind.PAYMENT,
            "20261124101500000022",
            "pi_3QX2222222222222222",
            usd(2199),
            usd(94),
            usd(2105),
        ),
        (
            2,
            LineKind.PAYMENT,
            "20261124093000000021",
            "pi_3QX1111111111111111",
            usd(799),
            usd(53),
            usd(746),
        ),
        (4, LineKind.REFUND, "", "pi_3QX1111111111111111", usd(799), usd(0), usd(-799)),
    ]
    first, second = adapter.sent
    assert "created%5Bgte%5D=1795449600&created%5Blt%5D=1795536000" in first.url  # the Beijing day
    assert "expand%5B%5D=data.source" in first.url
    assert "starting_after=txn_3QX1111111111111111" in second.url
    assert first.headers["Authorization"] == "Bearer sk_test_x"


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda item: item.update(net=700), "amount 799 - fee 53 != net 700"),
        (lambda item: item.update(source="ch_3QX1111111111111111"), "source is not expanded"),
        (lambda item: item.pop("fee"), "unreadable balance transaction (KeyError"),
    ],
)
def test_stripe_unreadable_transactions_fail_with_the_item_and_reason(change, reason):
    pages = json.loads(fixture("stripe_balance_transactions_20261124.json"))
    change(pages[0]["data"][1])
    with pytest.raises(StatementUnparseable) as failure:
        stripe_api.fetch_balance(
            CallContext(
                STRIPE, "stripe-main", http(Recorded([json_answer(p) for p in pages])), AFTER_DAY
            ),
            DAY,
        )
    assert failure.value.line == 2 and reason in failure.value.reason


# ------------------------------------------------------------------ epay


def test_epay_order_list_gives_the_days_paid_orders():
    adapter = Recorded([json_answer(json.loads(fixture("epay_orders_page1.json")))] * 2)
    statement = epay_api.fetch_orders(CallContext(EPAY, "epay-main", http(adapter), AFTER_DAY), DAY)
    assert [
        (line.line_no, line.out_trade_no, line.amount.format(), line.fee)
        for line in statement.lines
    ] == [
        (1, "20261124203000000031", "58.00", None),
        (3, "20261123235900000033", "19.90", None),
    ]
    assert statement.complete is True
    assert "act=orders" in adapter.sent[0].url and "limit=50" in adapter.sent[0].url


def test_epay_order_list_that_cannot_reach_the_day_is_incomplete(monkeypatch):
    from chalicelib.gateways import epay_api

    monkeypatch.setattr(epay_api, "MAX_PAGES", 2)
    monkeypatch.setattr(epay_api, "PAGE_SIZE", 2)
    page = json.loads(fixture("epay_orders_page1.json"))
    recent = {**page, "data": [dict(page["data"][0], addtime="2026-11-25 01:00:00")] * 2}
    statement = epay_api.fetch_orders(
        CallContext(EPAY, "epay-main", http(Recorded([json_answer(recent)] * 4)), AFTER_DAY), DAY
    )
    assert statement.complete is False


def test_epay_unreadable_order_fails_with_its_position():
    page = json.loads(fixture("epay_orders_page1.json"))
    page["data"][2]["money"] = "19,90"
    with pytest.raises(StatementUnparseable) as failure:
        epay_api.fetch_orders(
            CallContext(EPAY, "epay-main", http(Recorded([json_answer(page)])), AFTER_DAY), DAY
        )
    assert failure.value.line == 3 and "19,90" in failure.value.reason


def hkd_pages():
    """An account settling in HKD: US$19.99, €25.00 and ¥2000 (zero-decimal) charges converted at
    Stripe's rate, a partial refund of US$5.00 and a Radar fee (balance transactions as the API
    documents them: `exchange_rate`, the expanded `source` with the charged amount)."""
    return [
        json_answer(page)
        for page in json.loads(fixture("stripe_balance_transactions_hkd_20261124.json"))
    ]


def test_stripe_converted_transactions_carry_the_charged_amount_and_the_settled_one_with_the_rate():
    statement = stripe_api.fetch_balance(
        CallContext(STRIPE, "stripe-main", http(Recorded(hkd_pages())), AFTER_DAY), DAY
    )
    got = [
        (line.kind, line.trade_no, line.amount, line.settled, line.rate, line.fee, line.net)
        for line in statement.lines
    ]
    hkd = lambda minor: Money(minor, "HKD")  # noqa: E731
    assert got == [
        (LineKind.REFUND, "pi_3QYUSD", Money(500, "USD"), hkd(3900), "7.8", hkd(0), hkd(-3900)),
        (
            LineKind.PAYMENT,
            "pi_3QYJPY",
            Money(2000, "JPY"),
            hkd(10420),
            "0.0521",
            hkd(589),
            hkd(9831),
        ),
        (
            LineKind.PAYMENT,
            "pi_3QYEUR",
            Money(2500, "EUR"),
            hkd(21000),
            "8.4",
            hkd(949),
            hkd(20051),
        ),
        (
            LineKind.PAYMENT,
            "pi_3QYUSD",
            Money(1999, "USD"),
            hkd(15592),
            "7.8",
            hkd(921),
            hkd(14671),
        ),
    ]
    assert statement.lines[0].refund_ref == "re_3QYUSD"
    assert statement.account_fees == (hkd(55),)


def test_stripe_conversion_without_the_charged_amount_is_unreadable():
    pages = json.loads(fixture("stripe_balance_transactions_hkd_20261124.json"))
    del pages[0]["data"][2]["source"]["amount"]
    with pytest.raises(StatementUnparseable) as failure:
        stripe_api.fetch_balance(
            CallContext(
                STRIPE, "stripe-main", http(Recorded([json_answer(p) for p in pages])), AFTER_DAY
            ),
            DAY,
        )
    assert (
        failure.value.line == 3
        and "without exchange_rate and source amount" in failure.value.reason
    )


def test_stripe_cursor_paging_is_safe_when_a_transaction_arrives_during_the_read():
    """Stripe lists newest first and pages by `starting_after` (an id, not an offset): a charge
    created between two page reads sorts before the cursor, so the pages after it are the same
    whether it arrived or not — nothing read twice, nothing skipped. (It belongs to the next read
    of today; a past day's read is bounded by `created[lt]` anyway.)"""
    live = [
        item
        for page in json.loads(fixture("stripe_balance_transactions_hkd_20261124.json"))
        for item in page["data"]
    ]
    newcomer = dict(
        live[2],
        id="txn_3QYNEW",
        created=1795501000,
        source=dict(live[2]["source"], id="ch_3QYNEW", payment_intent="pi_3QYNEW"),
    )

    def answer(request):
        after = parse_qs(urlparse(request.url).query).get("starting_after")
        start = [item["id"] for item in live].index(after[0]) + 1 if after else 0
        page = live[start : start + 2]
        if not after:
            live.insert(0, newcomer)  # arrives right after the first page is served
        return json_answer({"object": "list", "has_more": start + 2 < len(live), "data": page})

    statement = stripe_api.fetch_balance(
        CallContext(STRIPE, "stripe-main", http(Recorded(answer)), AFTER_DAY), DAY
    )
    assert [line.trade_no for line in statement.lines] == [
        "pi_3QYUSD",
        "pi_3QYJPY",
        "pi_3QYEUR",
        "pi_3QYUSD",
    ]
    assert statement.account_fees == (Money(55, "HKD"),)


def epay_list(*rows: dict) -> dict:
    return {"code": 1, "msg": "查询结算记录成功！", "data": list(rows)}


def epay_row(
    n: int, status: int, created: str, paid: str | None, money: str = "58.00", **extra
) -> dict:
    """A row as 彩虹易支付's act=orders lists it (fixture epay_orders_page1.json's shape)."""
    return {
        "trade_no": f"20261124{n:011d}",
        "out_trade_no": f"O-{n}",
        "api_trade_no": "",
        "type": "alipay",
        "pid": 1001,
        "addtime": created,
        "endtime": paid,
        "name": "VIP会员 月卡",
        "money": money,
        "status": status,
        "param": "",
        "buyer": "",
        **extra,
    }


def test_epay_statuses_each_give_their_lines():
    rows = [
        epay_row(1, 1, "2026-11-24 10:00:00", "2026-11-24 10:00:30"),  # 已支付
        epay_row(2, 2, "2026-11-24 09:00:00", "2026-11-24 09:00:30"),  # 已退款, whole
        epay_row(3, 2, "2026-11-24 08:00:00", "2026-11-24 08:00:30", refundmoney="20.00"),  # part
        epay_row(4, 3, "2026-11-24 07:00:00", "2026-11-24 07:00:30"),  # 已冻结: taken
        epay_row(5, 0, "2026-11-24 06:00:00", None),  # 未支付
        epay_row(6, 1, "2026-11-22 06:00:00", "2026-11-22 06:00:30"),
    ]  # before the day
    statement = epay_api.fetch_orders(
        CallContext(
            EPAY, "epay-main", http(Recorded([json_answer(epay_list(*rows))] * 2)), AFTER_DAY
        ),
        DAY,
    )
    assert [
        (line.out_trade_no, line.kind, line.amount.format(), line.status)
        for line in statement.lines
    ] == [
        ("O-1", LineKind.PAYMENT, "58.00", "1"),
        ("O-2", LineKind.PAYMENT, "58.00", "2"),
        ("O-2", LineKind.REFUND, "58.00", "2"),
        ("O-3", LineKind.PAYMENT, "58.00", "2"),
        ("O-3", LineKind.REFUND, "20.00", "2"),
        ("O-4", LineKind.PAYMENT, "58.00", "3"),
    ]
    assert statement.complete is True


def test_epay_unknown_status_fails_the_read():
    rows = [epay_row(1, 7, "2026-11-24 10:00:00", "2026-11-24 10:00:30")]
    with pytest.raises(StatementUnparseable) as failure:
        epay_api.fetch_orders(
            CallContext(
                EPAY, "epay-main", http(Recorded([json_answer(epay_list(*rows))])), AFTER_DAY
            ),
            DAY,
        )
    assert failure.value.line == 1 and "unknown order status '7'" in failure.value.reason


class MovingList:
    """彩虹's act=orders over a live table: newest first, `page` of `limit` by offset; `arrive`
    is inserted at the top right after the first page is served (an order created mid-read)."""

    def __init__(self, rows: list[dict], arrive: list[dict]):
        self.rows, self.arrive, self.pages = list(rows), list(arrive), 0

    def __call__(self, request):
        query = parse_qs(urlparse(request.url).query)
        limit, page = int(query["limit"][0]), int(query["page"][0])
        served = self.rows[(page - 1) * limit : page * limit]
        self.pages += 1
        if self.arrive:
            self.rows.insert(0, self.arrive.pop(0))
        return json_answer(epay_list(*served))


def test_epay_an_order_inserted_between_two_page_reads_is_neither_doubled_nor_lost(monkeypatch):
    from chalicelib.gateways import epay_api

    monkeypatch.setattr(epay_api, "PAGE_SIZE", 2)
    rows = [
        epay_row(n, 1, f"2026-11-24 {20 - n:02d}:00:00", f"2026-11-24 {20 - n:02d}:00:30")
        for n in range(1, 6)
    ]
    rows.append(
        epay_row(9, 1, "2026-11-22 10:00:00", "2026-11-22 10:00:30")
    )  # reaches back before the day
    late = epay_row(7, 0, "2026-11-25 02:00:00", None)  # created after the day, unpaid
    moving = MovingList(rows, [late])
    statement = epay_api.fetch_orders(
        CallContext(EPAY, "epay-main", http(Recorded(moving)), AFTER_DAY), DAY
    )
    assert sorted(line.out_trade_no for line in statement.lines) == [
        "O-1",
        "O-2",
        "O-3",
        "O-4",
        "O-5",
    ]
    assert statement.complete is True and moving.pages == 4 + 4  # one read moved, the second agreed


def test_epay_a_list_that_keeps_moving_is_incomplete_so_orders_are_asked_about(monkeypatch):
    from chalicelib.gateways import epay_api

    monkeypatch.setattr(epay_api, "PAGE_SIZE", 2)
    rows = [epay_row(n, 0, f"2026-11-24 {20 - n:02d}:00:00", None) for n in range(1, 4)]
    rows.append(epay_row(9, 1, "2026-11-22 10:00:00", "2026-11-22 10:00:30"))

    def paying(request):  # every read finds another order of the day paid
        for row in rows if "page=1&" in request.url else ():
            if row["status"] == 0:
                row.update(status=1, endtime=row["addtime"].replace(":00:00", ":00:30"))
                break
        return MovingList(rows, [])(request)

    statement = epay_api.fetch_orders(
        CallContext(EPAY, "epay-main", http(Recorded(paying)), AFTER_DAY), DAY
    )
    assert statement.complete is False and "kept changing" in statement.source


def test_stripe_a_converted_charge_captured_in_part_is_the_captured_amount():
    pages = json.loads(fixture("stripe_balance_transactions_hkd_20261124.json"))
    usd = pages[1]["data"][1]
    usd["source"].update(amount=2999, amount_captured=1999)  # authorized 29.99, captured 19.99
    statement = stripe_api.fetch_balance(
        CallContext(
            STRIPE, "stripe-main", http(Recorded([json_answer(p) for p in pages])), AFTER_DAY
        ),
        DAY,
    )
    assert statement.lines[-1].amount == Money(1999, "USD") and statement.lines[
        -1
    ].settled == Money(15592, "HKD")


@pytest.mark.parametrize("rate", ["abc", "NaN", "Infinity", 0, -7.8, True, {"rate": 7.8}])
def test_stripe_an_exchange_rate_that_is_no_positive_number_is_unreadable(rate):
    pages = json.loads(fixture("stripe_balance_transactions_hkd_20261124.json"))
    pages[0]["data"][2]["exchange_rate"] = rate
    with pytest.raises(StatementUnparseable) as failure:
        stripe_api.fetch_balance(
            CallContext(
                STRIPE, "stripe-main", http(Recorded([json_answer(p) for p in pages])), AFTER_DAY
            ),
            DAY,
        )
    assert failure.value.line == 3 and "is not a positive number" in failure.value.reason
