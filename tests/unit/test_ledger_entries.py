"""The day's orders as the ledger reads them from DynamoDB's wire format: `add_to_day` reads a
page straight into the day's columns where it can and gives, order by order, what `entry_of`
gives."""

from __future__ import annotations

from chalicelib.domain.money import Money
from chalicelib.domain.reconcile import DayLedger
from chalicelib.store.ledger import add_to_day, entry_of


def item(order_no: str, *payments: tuple[str, str, str], **more: dict[str, str]) -> dict:
    return {
        "order_no": {"S": order_no},
        "channel": {"S": "alipay-main"},
        "currency": {"S": "CNY"},
        "pay_status": {"S": "paid"},
        "payments": {
            "L": [
                {
                    "M": {
                        "payment_ref": {"S": ref},
                        "amount_minor": {"N": minor},
                        "currency": {"S": currency},
                    }
                }
                for ref, minor, currency in payments
            ]
        },
        **more,
    }


def test_a_page_of_every_shape_reads_as_entry_of_reads_each_order():
    page = [
        item("O-1", ("T-1", "5800", "CNY")),
        item("O-2", ("T-2", "2500", "CNY"), ("T-2b", "2500", "CNY")),  # a second payment
        item("O-3"),  # no payment
        item(
            "O-4",
            ("T-4", "5800", "CNY"),
            refunded_minor={"N": "5800"},
            refunded_at={"S": "2026-11-24T05:00:00Z"},
        ),
        item(
            "O-5",
            ("T-5", "1999", "USD"),
            fee_minor={"N": "460"},
            net_minor={"N": "15132"},
            fee_currency={"S": "HKD"},
            exchange_rate={"S": "7.8"},
        ),
        item("O-6", ("T-6", "5800", "CNY")),
    ]
    day = DayLedger()
    add_to_day(day, page[:3])
    add_to_day(day, page[3:])  # a second page
    entries = list(day)
    assert entries == [entry_of(one) for one in page]
    assert sorted(day.odd) == [1, 2, 3, 4]  # the plain orders are columns only
    assert day.refs == ["T-1", None, None, None, None, "T-6"]
    assert day.payment_refs() == {"T-1", "T-2", "T-2b", "T-4", "T-5", "T-6"}
    assert [type(entry).__name__ for entry in entries] == ["LedgerEntry"] * 6
    first = entries[0]
    assert (first.order_no, first.pay_status, first.payments[0].amount) == (
        "O-1",
        "paid",
        Money(5800, "CNY"),
    )
    assert first.payments[0].ref == "T-1" and first.refunds == () and first.fee is None
    assert entries[4].fee == Money(460, "HKD") and entries[4].rate == "7.8"
    assert len(entries[1].payments) == 2 and entries[2].payments == ()
