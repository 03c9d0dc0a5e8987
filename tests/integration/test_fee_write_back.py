"""The statement fees written back onto orders in transactions of up to 100 orders (issue 14):
a failed condition inside a transaction skips that order alone, the rest are written, every
order holds its amounts and one timeline entry, and writing the same fees again writes nothing.
Requests counted at the botocore level."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from chalicelib.domain.money import Money
from chalicelib.domain.order import EntryType, Order, TimelineEntry
from chalicelib.services import orders as order_service
from chalicelib.store import ledger
from chalicelib.store import orders as order_store
from tests.support.aws_requests import aws_requests

NOW = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)


def _orders(count: int) -> list[str]:
    return [
        order_service.register(
            order_service.read_registration(
                {
                    "order_no": f"FEE{i:05d}",
                    "product_id": "vip-month",
                    "product_name": "VIP会员 月卡",
                    "amount": "58.00",
                    "channel": "alipay-main",
                    "buyer_email": f"buyer{i}@qq.com",
                }
            )
        )[0].order_no
        for i in range(count)
    ]


def _write(order_no: str, fee: int = 35, settled: Money | None = None) -> ledger.StatementAmounts:
    entry = TimelineEntry(
        at=NOW, type=EntryType.RECONCILIATION, source="system", message=f"fee {fee}", data={}
    )
    return ledger.StatementAmounts(
        order_no,
        Money(fee, "CNY"),
        Money(5800 - fee, "CNY"),
        entry,
        settled,
        "7.8" if settled else None,
    )


def _stored(order_no: str) -> Order:
    order = order_store.get(order_no)
    assert order is not None, order_no
    return order


def _fee_entries(order_no: str) -> list[TimelineEntry]:
    return [e for e in _stored(order_no).timeline if e.type == "reconciliation"]


def test_a_failed_condition_skips_its_order_and_the_transaction_writes_the_rest(aws, monkeypatch):
    numbers = _orders(150)
    assert ledger.write_statement_amounts([_write(numbers[7])]) == [True]  # written before
    writes = [_write(n) for n in numbers]
    writes[40:40] = [_write("NO-SUCH-ORDER")]  # gone meanwhile
    writes[50:50] = [_write(numbers[3], fee=36)]  # the same order again: a new transaction

    with aws_requests(monkeypatch) as (calls, _):
        written = ledger.write_statement_amounts(writes)

    assert written == [write.order_no not in (numbers[7], "NO-SUCH-ORDER") for write in writes]
    # 50 (cancelled once by its two failed conditions, then sent without them), 100, 2
    assert calls == Counter({"TransactWriteItems": 4})
    for order_no in numbers:
        order = _stored(order_no)
        expected = (36, 5764) if order_no == numbers[3] else (35, 5765)
        assert (order.fee, order.net) == (Money(expected[0], "CNY"), Money(expected[1], "CNY"))
        assert len(_fee_entries(order_no)) == (2 if order_no == numbers[3] else 1), order_no
    assert order_store.get("NO-SUCH-ORDER") is None

    latest = [write for position, write in enumerate(writes) if position != 3]
    with aws_requests(monkeypatch) as (calls, _):
        again = ledger.write_statement_amounts(latest)
    assert again == [False] * len(latest)
    assert calls == Counter({"TransactWriteItems": 2})  # each cancelled, nothing left to send
    assert [len(_fee_entries(n)) for n in numbers] == [1 + (n == numbers[3]) for n in numbers]


def test_a_converted_payment_gets_its_settled_gross_and_rate_and_loses_them_when_not(aws):
    (order_no,) = _orders(1)
    assert ledger.write_statement_amounts([_write(order_no, settled=Money(45240, "CNY"))]) == [True]
    order = _stored(order_no)
    assert (order.settled_amount, order.exchange_rate) == (Money(45240, "CNY"), "7.8")
    assert ledger.write_statement_amounts([_write(order_no, fee=34)]) == [True]
    order = _stored(order_no)
    assert (order.fee, order.settled_amount, order.exchange_rate) == (Money(34, "CNY"), None, None)
