"""The day's bulk — payment lines each its order's first payment, paid here for the same amount —
is counted run by run (`_Matcher.matched_run`): by columns when the run is plain (one currency,
every line with its fee, no fee on the orders yet), line by line otherwise. Either way the
figures, the fee updates and their order are those of deciding each line on its own."""

from __future__ import annotations

from datetime import date, timedelta

from chalicelib.domain.money import Money
from chalicelib.domain.order import PayStatus
from chalicelib.domain.reconcile import FeeUpdate, LedgerEntry, LedgerPayment, reconcile
from chalicelib.domain.statement import LineKind, Statement, StatementLine, day_bounds

DAY = date(2026, 11, 24)
WINDOW = day_bounds(DAY)
NOON = WINDOW[0] + timedelta(hours=4)


def cny(text: str) -> Money:
    return Money.parse(text, "CNY")


def alipay_pay(n: int, amount: str, fee: str | None, received: str | None = None) -> StatementLine:
    """A payment line as Alipay's bill states it: 商家实收 (`received`) with the fee."""
    return StatementLine(
        n,
        LineKind.PAYMENT,
        f"O-{n}",
        f"T-{n}",
        cny(amount),
        cny(fee) if fee is not None else None,
        cny(received or amount),
        NOON,
        "交易",
    )


def order(n: int, amount: str, fee: str | None = None, net: str | None = None) -> LedgerEntry:
    return LedgerEntry(
        f"O-{n}",
        PayStatus.PAID,
        (LedgerPayment(f"T-{n}", cny(amount)),),
        fee=cny(fee) if fee else None,
        net=cny(net) if net else None,
    )


def run_of(lines: list[StatementLine], day: list[LedgerEntry]):
    return reconcile(Statement("alipay-main", DAY, lines, "test"), day, [], WINDOW)


def test_a_plain_run_split_by_an_other_line_keeps_the_fees_in_line_order():
    lines = [
        alipay_pay(1, "58.00", "0.35"),
        alipay_pay(2, "25.00", "0.15"),
        alipay_pay(3, "19.90", "0.12"),  # booked 20.00 here: amount_mismatch, decided alone
        alipay_pay(4, "158.00", "0.95"),
    ]
    day = [order(1, "58.00"), order(2, "25.00"), order(3, "20.00"), order(4, "158.00")]
    run = run_of(lines, day)
    assert run.fee_updates == [
        FeeUpdate("O-1", "CNY", 35, 5765),
        FeeUpdate("O-2", "CNY", 15, 2485),
        FeeUpdate("O-3", "CNY", 12, 1978),
        FeeUpdate("O-4", "CNY", 95, 15705),
    ]
    assert [(n, line.result.value) for n, line in run.unmatched] == [(3, "amount_mismatch")]
    summary = run.summary
    assert summary["counts"]["matched"] == 3 and summary["balanced"] is True
    assert summary["currencies"]["CNY"]["statement"] == {
        "gross": "260.90",
        "refunds": "0.00",
        "settled": "260.90",
        "converted_lines": 0,
        "fees": "1.57",
        "net": "259.33",
        "account_fees": "0.00",
    }


def test_a_run_that_is_not_plain_gives_what_the_plain_one_does_line_by_line():
    plain = [alipay_pay(1, "58.00", "0.35"), alipay_pay(2, "25.00", "0.15")]
    day = [order(1, "58.00"), order(2, "25.00")]
    # the same run, one line without 商家实收 (booked from its amount) and one order whose
    # statement fee an earlier run wrote with another net: summed line by line
    mixed = [plain[0]._replace(received=None), plain[1]]
    known = [order(1, "58.00"), order(2, "25.00", fee="0.15", net="24.00")]
    expected = run_of(plain, day)
    for lines, entries in ((mixed, day), (plain, known)):
        run = run_of(lines, entries)
        assert run.fee_updates == expected.fee_updates
        assert run.summary == expected.summary


def test_a_run_without_fees_and_orders_holding_theirs_write_nothing():
    lines = [alipay_pay(1, "58.00", None), alipay_pay(2, "25.00", "0.15")]
    day = [order(1, "58.00"), order(2, "25.00", fee="0.15", net="24.85")]
    run = run_of(lines, day)
    assert run.fee_updates == []
    assert run.summary["currencies"]["CNY"]["statement"]["fees"] == "0.15"
    assert run.summary["currencies"]["CNY"]["statement"]["net"] == "82.85"
