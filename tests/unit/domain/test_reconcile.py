"""Reconciliation matching: one day with a line of every result kind, the sums and the
difference explained line by line, and the edge cases of each kind."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain.anomaly import Severity
from chalicelib.domain.money import Money
from chalicelib.domain.order import PayStatus
from chalicelib.domain.reconcile import (
    LedgerEntry,
    LedgerPayment,
    Result,
    findings,
    reconcile,
    refund_orders,
)
from chalicelib.domain.refunds import RefundRequest, RefundState
from chalicelib.domain.statement import LineKind, Statement, StatementLine, day_bounds
from chalicelib.services.render import reconcile_line_view

DAY = date(2026, 11, 24)
WINDOW = day_bounds(DAY)
NOON = WINDOW[0] + timedelta(hours=4)


def cny(text: str) -> Money:
    return Money.parse(text, "CNY", allow_negative=True)


def pay(n: int, order: str, trade: str, amount: str, fee: str | None = "0.35") -> StatementLine:
    return StatementLine(
        n, LineKind.PAYMENT, order, trade, cny(amount), cny(fee) if fee else None, at=NOON
    )


def refund(n: int, order: str, trade: str, amount: str, fee: str = "0.00") -> StatementLine:
    return StatementLine(n, LineKind.REFUND, order, trade, cny(amount), cny(fee), at=NOON)


def paid(
    order: str,
    *payments: tuple[str, str],
    status: PayStatus = PayStatus.PAID,
    refunded: str | None = None,
    refunded_at: datetime | None = None,
) -> LedgerEntry:
    return LedgerEntry(
        order,
        status,
        tuple(LedgerPayment(ref, cny(amount)) for ref, amount in payments),
        cny(refunded) if refunded else None,
        refunded_at,
    )


def statement(*lines: StatementLine) -> Statement:
    return Statement("alipay-main", DAY, list(lines), "test")


def day_with_every_kind():
    lines = statement(
        pay(1, "O-OK", "T-OK", "58.00"),  # matched
        pay(2, "O-AMT", "T-AMT", "57.00"),  # amount_mismatch (58.00 here)
        pay(3, "O-REF", "T-REF", "58.00"),  # matched payment ...
        refund(4, "O-REF", "T-REF", "58.00", "0.35"),  # ... status_mismatch: refunded only there
        pay(5, "O-GHOST", "T-GHOST", "25.00"),  # missing_here: no order
        pay(6, "O-PEND", "T-PEND", "19.90"),  # missing_here: pending here
        pay(7, "O-DUP", "T-DUP-1", "58.00"),  # matched
        pay(8, "O-DUP", "T-DUP-2", "58.00"),  # duplicate: second payment unknown here
        pay(9, "O-OK", "T-OK", "58.00"),  # duplicate: the statement repeats a line
    )
    day = [
        paid("O-OK", ("T-OK", "58.00")),
        paid("O-AMT", ("T-AMT", "58.00")),
        paid("O-REF", ("T-REF", "58.00")),
        paid("O-DUP", ("T-DUP-1", "58.00")),
        paid("O-GONE", ("T-GONE", "30.00")),
    ]  # O-GONE: missing_there
    other = [paid("O-PEND", status=PayStatus.PENDING)]
    return lines, day, other


def test_a_day_with_a_line_of_every_result_kind():
    lines, day, other = day_with_every_kind()
    run = reconcile(lines, day, other, WINDOW)
    got = [(n, line.result, line.out_trade_no, line.trade_no) for n, line in run.unmatched]
    assert got == [
        (2, Result.AMOUNT_MISMATCH, "O-AMT", "T-AMT"),
        (4, Result.STATUS_MISMATCH, "O-REF", "T-REF"),
        (5, Result.MISSING_HERE, "O-GHOST", "T-GHOST"),
        (6, Result.MISSING_HERE, "O-PEND", "T-PEND"),
        (8, Result.DUPLICATE, "O-DUP", "T-DUP-2"),
        (9, Result.DUPLICATE, "O-OK", "T-OK"),
        (10, Result.MISSING_THERE, "O-GONE", "T-GONE"),
    ]
    assert run.summary["counts"]["matched"] == 3  # lines 1, 3 and 7
    missing_there, refunded_there = run.unmatched[-1][1], run.unmatched[1][1]
    assert missing_there.statement == cny("0.00") and missing_there.ledger == cny("30.00")
    assert refunded_there.statement == cny("-58.00") and refunded_there.ledger == cny("0.00")


def test_the_sums_and_the_difference_explained_line_by_line():
    lines, day, other = day_with_every_kind()
    summary = reconcile(lines, day, other, WINDOW).summary
    cny_ = summary["currencies"]["CNY"]
    # statement: 8 payments 58+57+58+25+19.90+58+58+58 = 391.90, one refund 58.00, fees 8 x 0.35 - 0.35
    assert cny_["statement"] == {
        "gross": "391.90",
        "refunds": "58.00",
        "settled": "333.90",
        "converted_lines": 0,
        "fees": "2.45",
        "net": "331.45",
        "account_fees": "0.00",
    }
    # ledger: 58 (ok) + 58 (amt) + 58 (ref) + 58 (dup-1) + 30 (gone)
    assert cny_["ledger"] == {"gross": "262.00", "refunds": "0.00", "net": "262.00"}
    assert cny_["difference"] == "71.90"  # 391.90 - 58.00 - 262.00
    assert cny_["explained"] == {
        "amount_mismatch": "-1.00",
        "status_mismatch": "-58.00",
        "missing_here": "44.90",
        "missing_there": "-30.00",
        "duplicate": "116.00",
    }
    assert sum(cny(v).minor for v in cny_["explained"].values()) == cny(cny_["difference"]).minor
    assert cny_["unexplained"] == "0.00" and summary["balanced"] is True
    assert summary["counts"] == {
        "matched": 3,
        "amount_mismatch": 1,
        "status_mismatch": 1,
        "missing_here": 2,
        "missing_there": 1,
        "duplicate": 2,
    }


def test_fees_are_written_for_the_orders_own_payment_only_when_new():
    lines, day, other = day_with_every_kind()
    run = reconcile(lines, day, other, WINDOW)
    assert {(f.order_no, f.fee_minor, f.net_minor) for f in run.fee_updates} == {
        ("O-OK", 35, 5765),
        ("O-AMT", 35, 5665),
        ("O-REF", 35, 5765),
        ("O-DUP", 35, 5765),
    }
    known = [
        LedgerEntry(
            "O-OK",
            PayStatus.PAID,
            (LedgerPayment("T-OK", cny("58.00")),),
            fee=cny("0.35"),
            net=cny("57.65"),
        )
    ]
    again = reconcile(statement(pay(1, "O-OK", "T-OK", "58.00")), known, [], WINDOW)
    assert again.fee_updates == []


def test_every_unmatched_line_is_a_finding_critical_where_money_is_not_confirmed():
    lines, day, other = day_with_every_kind()
    run = reconcile(lines, day, other, WINDOW)
    found = findings(run, lambda n, line: {"n": n})
    assert len(found) == 7
    assert [f.details["n"] for f in found] == [n for n, _ in run.unmatched]
    severities = {f.rule: f.severity for f in found}
    assert severities["reconciliation_missing_there"] is Severity.CRITICAL
    assert severities["reconciliation_amount_mismatch"] is Severity.CRITICAL
    assert severities["reconciliation_missing_here"] is Severity.WARNING
    assert len({f.anomaly_id for f in found}) == 7  # one per line, stable across re-runs
    assert found[0].subject.startswith("alipay-main#2026-11-24#")


def test_partial_refunds_are_compared_cumulatively():
    order = paid(
        "O", ("T", "58.00"), status=PayStatus.PARTIALLY_REFUNDED, refunded="8.00", refunded_at=NOON
    )
    run = reconcile(
        statement(refund(1, "O", "T", "8.00"), refund(2, "O", "T", "10.00")), [], [order], WINDOW
    )
    assert run.summary["counts"]["matched"] == 1
    assert [(n, line.result, line.ledger.format()) for n, line in run.unmatched] == [
        (2, Result.STATUS_MISMATCH, "0.00")
    ]


def test_refunded_here_but_not_at_the_gateway():
    order = paid("O", ("T", "58.00"), status=PayStatus.REFUNDED, refunded="58.00", refunded_at=NOON)
    run = reconcile(statement(pay(1, "O", "T", "58.00")), [order], [], WINDOW)
    assert run.summary["counts"]["matched"] == 1
    [(n, line)] = run.unmatched
    assert (n, line.result, line.kind, line.note) == (
        2,
        Result.STATUS_MISMATCH,
        LineKind.REFUND,
        "refunded here, not at the gateway",
    )


def test_closed_at_the_gateway_while_paid_here_and_a_second_payment_known_here():
    closed = StatementLine(
        1, LineKind.CLOSED, "O-C", "T-C", cny("58.00"), at=NOON, status="REVOKED"
    )
    known_dup = paid("O-D", ("T-1", "58.00"), ("T-2", "58.00"))
    run = reconcile(
        statement(closed, pay(2, "O-D", "T-1", "58.00"), pay(3, "O-D", "T-2", "58.00")),
        [paid("O-C", ("T-C", "58.00")), known_dup],
        [],
        WINDOW,
    )
    assert [
        (n, line.result, line.statement.format(), line.ledger.format()) for n, line in run.unmatched
    ] == [(1, Result.STATUS_MISMATCH, "0.00", "58.00"), (3, Result.DUPLICATE, "58.00", "58.00")]


def test_lines_in_two_currencies_are_summed_apart():
    usd = StatementLine(
        1, LineKind.PAYMENT, "O-U", "pi_1", Money(799, "USD"), Money(53, "USD"), at=NOON
    )
    summary = reconcile(
        Statement("stripe-main", DAY, [usd, pay(2, "O-C", "T-C", "58.00", None)], "t"),
        [
            LedgerEntry("O-U", PayStatus.PAID, (LedgerPayment("pi_1", Money(799, "USD")),)),
            paid("O-C", ("T-C", "58.00")),
        ],
        [],
        WINDOW,
    ).summary
    assert set(summary["currencies"]) == {"CNY", "USD"}
    assert summary["currencies"]["USD"]["statement"] == {
        "gross": "7.99",
        "refunds": "0.00",
        "settled": "7.99",
        "converted_lines": 0,
        "fees": "0.53",
        "net": "7.46",
        "account_fees": "0.00",
    }
    assert summary["balanced"] is True


def test_a_line_view_is_plain_json():
    lines, day, other = day_with_every_kind()
    n, line = reconcile(lines, day, other, WINDOW).unmatched[0]
    view = reconcile_line_view(n, line)
    assert view == {
        "n": 2,
        "result": "amount_mismatch",
        "kind": "payment",
        "line": 2,
        "out_trade_no": "O-AMT",
        "trade_no": "T-AMT",
        "order_no": "O-AMT",
        "currency": "CNY",
        "statement": "57.00",
        "ledger": "58.00",
        "ledger_currency": "CNY",
        "difference": "-1.00",
        "fee": "0.35",
        "net": "56.65",
        "settlement_currency": "CNY",
        "settled": None,
        "exchange_rate": None,
        "refund_ref": None,
        "refund_request_id": None,
        "at": "2026-11-23T20:00:00Z",
        "gateway_status": "",
        "ledger_status": "paid",
        "note": "57.00 CNY at the gateway, 58.00 CNY here",
    }


@pytest.mark.parametrize("result", list(Result))
def test_every_result_kind_is_counted_even_when_absent(result):
    assert reconcile(statement(), [], [], WINDOW).summary["counts"][result.value] == 0


def test_day_bounds_are_beijing_days():
    start, end = day_bounds(DAY)
    assert start == datetime(2026, 11, 23, 16, tzinfo=UTC) and end - start == timedelta(days=1)


# ------------------------------------------------------------------ converted settlement (Stripe HKD account)


def hkd(text: str) -> Money:
    return Money.parse(text, "HKD")


def converted(
    n: int, kind: LineKind, order: str, trade: str, amount: Money, settled: str, fee: str, rate: str
) -> StatementLine:
    return StatementLine(
        n, kind, order, trade, amount, hkd(fee), at=NOON, settled=hkd(settled), rate=rate
    )


def test_a_converted_charge_matches_on_what_the_buyer_paid_and_books_fee_and_net_in_the_settlement_currency():
    usd = Money.parse("19.99", "USD")
    lines = statement(converted(1, LineKind.PAYMENT, "O-USD", "pi_1", usd, "155.92", "9.21", "7.8"))
    entry = LedgerEntry("O-USD", PayStatus.PAID.value, (LedgerPayment("pi_1", usd),))
    run = reconcile(lines, [entry], [], WINDOW)
    assert run.summary["counts"]["matched"] == 1 and run.summary["counts"]["amount_mismatch"] == 0
    assert run.summary["balanced"] is True
    assert run.fee_updates == [("O-USD", "HKD", 921, 14671, 15592, "7.8")]
    usd_, hkd_ = run.summary["currencies"]["USD"], run.summary["currencies"]["HKD"]
    assert usd_["statement"]["gross"] == "19.99" and usd_["statement"]["fees"] == "0.00"
    assert (hkd_["statement"]["settled"], hkd_["statement"]["fees"], hkd_["statement"]["net"]) == (
        "155.92",
        "9.21",
        "146.71",
    )
    assert hkd_["statement"]["converted_lines"] == 1 and hkd_["unexplained"] == "0.00"


def test_an_order_holding_the_converted_fee_gets_no_second_write():
    usd = Money.parse("19.99", "USD")
    lines = statement(converted(1, LineKind.PAYMENT, "O-USD", "pi_1", usd, "155.92", "9.21", "7.8"))
    entry = LedgerEntry(
        "O-USD",
        PayStatus.PAID.value,
        (LedgerPayment("pi_1", usd),),
        fee=hkd("9.21"),
        net=Money(14671, "HKD"),
        rate="7.8",
    )
    assert reconcile(lines, [entry], [], WINDOW).fee_updates == []


# ------------------------------------------------------------------ the contracted fee rate


def test_fees_off_the_contracted_rate_are_reported_once_for_the_day():
    from decimal import Decimal

    lines = statement(
        pay(1, "O-A", "T-A", "58.00", "0.35"),  # 0.6% of 58.00 = 0.348 -> 0.35
        pay(2, "O-B", "T-B", "100.00", "1.00"),
    )  # 0.60 expected: charged 0.40 more
    day = [paid("O-A", ("T-A", "58.00")), paid("O-B", ("T-B", "100.00"))]
    run = reconcile(lines, day, [], WINDOW, fee_rate=Decimal("0.006"))
    assert [(d.order_no, d.expected.format(), d.charged.format()) for d in run.fee_deviations] == [
        ("O-B", "0.60", "1.00")
    ]
    assert run.summary["fee_check"] == {
        "rate": "0.006",
        "differing": 1,
        "charged_over_expected": {"CNY": "0.40"},
        "estimated": {},
    }
    fee_findings = [
        f for f in findings(run, reconcile_line_view) if f.rule == "reconciliation_fee_rate"
    ]
    assert len(fee_findings) == 1 and fee_findings[0].details["lines"][0]["order_no"] == "O-B"


def test_a_statement_without_fees_gets_the_contracted_estimate_and_no_deviation():
    from decimal import Decimal

    lines = statement(pay(1, "O-A", "T-A", "58.00", None))
    run = reconcile(lines, [paid("O-A", ("T-A", "58.00"))], [], WINDOW, fee_rate=Decimal("0.02"))
    assert run.summary["fee_check"]["estimated"] == {"CNY": "1.16"} and run.fee_deviations == []
    assert run.fee_updates == []


# ------------------------------------------------------------------ refund lines by refund id


def test_a_refund_line_the_statement_repeats_under_the_same_refund_id_is_a_duplicate():
    first = StatementLine(
        2, LineKind.REFUND, "O-R", "T-R", cny("20.00"), cny("0.00"), at=NOON, refund_ref="R-1"
    )
    lines = statement(pay(1, "O-R", "T-R", "58.00"), first, first._replace(line_no=3))
    entry = paid(
        "O-R",
        ("T-R", "58.00"),
        status=PayStatus.PARTIALLY_REFUNDED,
        refunded="40.00",
        refunded_at=NOON,
    )
    run = reconcile(lines, [entry], [], WINDOW)
    results = [(line.result, line.note) for _, line in run.unmatched]
    assert run.summary["counts"]["matched"] == 2
    assert results[0][0] is Result.DUPLICATE and "R-1" in results[0][1]
    # the second 20.00 refunded here has no line of its own: the refund stays unmatched, not lost
    assert run.summary["currencies"]["CNY"]["unexplained"] == "0.00"


def test_one_refund_batch_over_two_trades_is_two_refunds_not_a_duplicate():
    """Alipay's 退款批次号 names a batch: the same number on two trades' refund rows."""
    lines = statement(
        pay(1, "O-A", "T-A", "58.00"),
        pay(2, "O-B", "T-B", "58.00"),
        StatementLine(
            3,
            LineKind.REFUND,
            "O-A",
            "T-A",
            cny("58.00"),
            cny("0.00"),
            at=NOON,
            refund_ref="BATCH-1",
        ),
        StatementLine(
            4,
            LineKind.REFUND,
            "O-B",
            "T-B",
            cny("58.00"),
            cny("0.00"),
            at=NOON,
            refund_ref="BATCH-1",
        ),
    )
    day = [
        paid(o, (t, "58.00"), status=PayStatus.REFUNDED, refunded="58.00", refunded_at=NOON)
        for o, t in (("O-A", "T-A"), ("O-B", "T-B"))
    ]
    run = reconcile(lines, day, [], WINDOW)
    assert run.summary["counts"]["matched"] == 4 and run.unmatched == []


# ------------------------------------------------------------------ refund lines by refund request


def request(
    rid: str,
    amount: str,
    state: RefundState = RefundState.SUCCEEDED,
    trade: str = "T",
    gateway_id: str | None = None,
    at: datetime = NOON,
) -> RefundRequest:
    return RefundRequest(
        rid,
        trade,
        cny(amount),
        state,
        "buyer asked",
        "op",
        at,
        gateway_refund_id=gateway_id,
        updated_at=at,
    )


def refund_line(n: int, amount: str, ref: str | None, trade: str = "T") -> StatementLine:
    return StatementLine(
        n, LineKind.REFUND, "O", trade, cny(amount), cny("0.00"), at=NOON, refund_ref=ref
    )


def with_sale(*lines: StatementLine) -> Statement:
    """The statement of the day the order was paid: its payment, then the refund lines."""
    return statement(pay(100, "O", "T", "58.00"), *lines)


def refunded_order(total: str, *requests: RefundRequest, payments=(("T", "58.00"),)):
    return paid(
        "O", *payments, status=PayStatus.PARTIALLY_REFUNDED, refunded=total, refunded_at=NOON
    )._replace(refunds=requests)


def test_two_partial_refunds_of_one_order_each_match_their_own_request():
    order = refunded_order("30.00", request("rf-1", "10.00"), request("rf-2", "20.00"))
    lines = with_sale(refund_line(1, "20.00", "rf-2"), refund_line(2, "10.00", "rf-1"))
    run = reconcile(lines, [order], [], WINDOW)
    assert run.unmatched == [] and run.summary["counts"]["matched"] == 3  # with the sale
    assert run.summary["currencies"]["CNY"]["unexplained"] == "0.00"
    assert run.summary["currencies"]["CNY"]["ledger"]["refunds"] == "30.00"


def test_each_refund_request_is_checked_on_its_own():
    """Under the order's total the 10 + 20 refunded here and 20 + 10 at the gateway would match:
    by request, one amount differs, one request is missing there and one refund is unknown."""
    order = refunded_order(
        "30.00", request("rf-1", "10.00"), request("rf-2", "20.00"), request("rf-3", "0.50")
    )._replace(refunded=cny("30.50"))
    lines = with_sale(refund_line(1, "20.00", "rf-1"), refund_line(2, "10.00", "re_unknown"))
    run = reconcile(lines, [order], [], WINDOW)
    found = [(line.result, line.refund_request_id, line.note) for _, line in run.unmatched]
    assert found == [
        (
            Result.AMOUNT_MISMATCH,
            "rf-1",
            "refund request rf-1: 20.00 CNY refunded at the gateway, 10.00 CNY here",
        ),
        (
            Result.STATUS_MISMATCH,
            None,
            "unknown refund: re_unknown at the gateway is none of paytrack's refund requests "
            "for this order",
        ),
        (
            Result.STATUS_MISMATCH,
            "rf-2",
            "refund request rf-2 succeeded here, not in the gateway's statement",
        ),
        (
            Result.STATUS_MISMATCH,
            "rf-3",
            "refund request rf-3 succeeded here, not in the gateway's statement",
        ),
    ]
    views = [reconcile_line_view(n, line) for n, line in run.unmatched]
    assert [v["refund_request_id"] for v in views] == ["rf-1", None, "rf-2", "rf-3"]
    assert [(v["statement"], v["ledger"]) for v in views] == [
        ("-20.00", "-10.00"),
        ("-10.00", "0.00"),
        ("0.00", "-20.00"),
        ("0.00", "-0.50"),
    ]
    assert run.summary["currencies"]["CNY"]["unexplained"] == "0.00"
    assert (
        len({f.subject for f in findings(run, reconcile_line_view)}) == 4
    )  # two requests of one trade: two anomalies


def test_a_refund_named_by_the_gateways_own_refund_id_matches_its_request():
    order = refunded_order("10.00", request("rf-1", "10.00", gateway_id="re_123"))
    run = reconcile(with_sale(refund_line(1, "10.00", "re_123")), [order], [], WINDOW)
    assert run.unmatched == [] and run.summary["counts"]["matched"] == 2  # with the sale


def test_refunded_at_the_gateway_while_the_request_is_still_pending_here():
    order = refunded_order("0.00", request("rf-1", "10.00", state=RefundState.PENDING))
    run = reconcile(with_sale(refund_line(1, "10.00", "rf-1")), [order], [], WINDOW)
    [(_, line)] = run.unmatched
    assert (line.result, line.refund_request_id, line.ledger.format()) == (
        Result.STATUS_MISMATCH,
        "rf-1",
        "0.00",
    )
    assert "rf-1 is pending here" in line.note


def test_a_request_for_another_payment_of_the_order_is_a_mismatch():
    order = refunded_order(
        "0.00",
        request("rf-1", "58.00", trade="T-2"),
        payments=(("T", "58.00"), ("T-2", "58.00")),
    )
    run = reconcile(with_sale(refund_line(1, "58.00", "rf-1", trade="T")), [order], [], WINDOW)
    [(_, line)] = run.unmatched
    assert line.result is Result.STATUS_MISMATCH and "refunds T-2 here, T at the gateway" in (
        line.note
    )


def test_a_refund_recorded_by_hand_accounts_for_a_line_naming_no_request():
    order = refunded_order("18.00", request("rf-1", "10.00"))  # 8.00 recorded by hand
    lines = with_sale(refund_line(1, "10.00", "rf-1"), refund_line(2, "8.00", "2026112422001"))
    run = reconcile(lines, [order], [], WINDOW)
    assert run.unmatched == [] and run.summary["counts"]["matched"] == 3  # with the sale
    missing_by_hand = reconcile(with_sale(refund_line(1, "10.00", "rf-1")), [order], [], WINDOW)
    [(_, line)] = missing_by_hand.unmatched
    assert (line.note, line.ledger.format()) == (
        "refunded here (recorded by hand), not at the gateway",
        "-8.00",
    )


def test_refund_lines_without_an_id_are_compared_with_the_orders_total():
    order = refunded_order("30.00", request("rf-1", "10.00"), request("rf-2", "20.00"))
    run = reconcile(with_sale(refund_line(1, "30.00", None)), [order], [], WINDOW)
    assert run.unmatched == [] and run.summary["counts"]["matched"] == 2  # with the sale


def test_a_request_outside_the_day_is_not_missing_from_its_statement():
    order = refunded_order(
        "10.00", request("rf-1", "10.00", at=WINDOW[1] + timedelta(hours=1))
    )._replace(refunded_at=WINDOW[1] + timedelta(hours=1))
    run = reconcile(statement(), [order], [], WINDOW)
    assert [line.result for _, line in run.unmatched] == [Result.MISSING_THERE]


def test_the_orders_whose_refund_requests_are_read():
    entries = [
        paid("O-PLAIN", ("T-1", "58.00")),
        refunded_order("8.00")._replace(order_no="O-REFUNDED"),
        paid("O-TWICE", ("T-2", "58.00"), ("T-3", "58.00")),
        paid("O-NAMED", ("T-4", "58.00")),
        paid("O-TRADE", ("T-5", "58.00")),
    ]
    lines = statement(
        StatementLine(1, LineKind.REFUND, "O-NAMED", "T-4", cny("1.00"), at=NOON),
        StatementLine(2, LineKind.REFUND, "", "T-5", cny("1.00"), at=NOON),
    )
    assert refund_orders(lines, entries) == {"O-REFUNDED", "O-TWICE", "O-NAMED", "O-TRADE"}


# ------------------------------------------------------------------ refunds of orders paid before the day


def paid_yesterday(*requests: RefundRequest, total: str = "10.00") -> LedgerEntry:
    """An order paid the day before, its refunds made here in the day (`other_entries`)."""
    return refunded_order(total, *requests)


def test_a_refund_of_an_order_paid_before_the_day_missing_from_the_statement_is_reported():
    order = paid_yesterday(request("rf-1", "10.00"))
    run = reconcile(statement(), [], [order], WINDOW)
    [(_, line)] = run.unmatched
    assert (line.result, line.refund_request_id, line.order_no, line.ledger.format()) == (
        Result.STATUS_MISMATCH,
        "rf-1",
        "O",
        "-10.00",
    )
    assert run.summary["currencies"]["CNY"]["ledger"]["refunds"] == "10.00"
    assert run.summary["currencies"]["CNY"]["unexplained"] == "0.00"


def test_a_refund_line_of_an_order_paid_before_the_day_matches_its_request_and_no_payment_is_due():
    order = paid_yesterday(request("rf-1", "10.00"))
    run = reconcile(statement(refund_line(1, "10.00", "rf-1")), [], [order], WINDOW)
    assert run.unmatched == [] and run.summary["counts"]["matched"] == 1
    refunds = run.summary["currencies"]["CNY"]
    assert (refunds["statement"]["refunds"], refunds["ledger"]["refunds"]) == ("10.00", "10.00")
    assert refunds["ledger"]["gross"] == "0.00"  # yesterday's payment is not today's


def test_an_order_paid_before_the_day_reports_only_the_refunds_made_in_the_day():
    yesterday = NOON - timedelta(days=1)
    order = paid_yesterday(
        request("rf-1", "10.00", at=yesterday),
        request("rf-2", "5.00"),
        request("rf-3", "2.00", at=WINDOW[1] + timedelta(hours=1)),
        total="17.00",
    )
    run = reconcile(statement(), [], [order, order], WINDOW)  # named twice: one order
    assert [(line.result, line.refund_request_id) for _, line in run.unmatched] == [
        (Result.STATUS_MISMATCH, "rf-2")
    ]


def test_an_order_of_the_day_passed_among_the_others_too_is_decided_once():
    order = paid("O", ("T", "58.00"), status=PayStatus.PARTIALLY_REFUNDED)._replace(
        refunded=cny("10.00"), refunded_at=NOON, refunds=(request("rf-1", "10.00"),)
    )
    run = reconcile(statement(), [order], [order], WINDOW)
    assert [(line.result, line.kind) for _, line in run.unmatched] == [
        (Result.MISSING_THERE, LineKind.PAYMENT),
        (Result.STATUS_MISMATCH, LineKind.REFUND),
    ]


def test_a_manual_refund_of_an_order_paid_before_the_day_is_compared_as_a_whole():
    order = paid("O", ("T", "58.00"), status=PayStatus.REFUNDED, refunded="58.00", refunded_at=NOON)
    assert [line.note for _, line in reconcile(statement(), [], [order], WINDOW).unmatched] == [
        "refunded here, not at the gateway"
    ]
    listed = statement(StatementLine(1, LineKind.REFUND, "O", "T", cny("58.00"), at=NOON))
    assert reconcile(listed, [], [order], WINDOW).unmatched == []
