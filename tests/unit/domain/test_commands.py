"""The operators' commands, read from a query string or a body: typed values, or a 400 naming
the parameter (the HTTP edge answers it; services never see a raw dict)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.anomaly import AnomalyStatus, Severity
from chalicelib.domain.commands import (
    AskVerification,
    DecideRefund,
    DecideVerification,
    GetRun,
    ListAnomalies,
    ListRefunds,
    ListRuns,
    LookupTrade,
    OrderAction,
    OrderCursor,
    ReadStats,
    RegisterOrder,
    ReportDelivery,
    RequestExport,
    RunJob,
    RunReconciliation,
    SearchOrders,
    SettleRefund,
    UpdateAnomaly,
)
from chalicelib.domain.errors import InvalidMoney, NotFound, RangeTooLarge, ValidationFailed
from chalicelib.domain.money import Money
from chalicelib.domain.reconcile import Result
from chalicelib.domain.refunds import RefundState

NOW = datetime(2026, 11, 25, 8, tzinfo=UTC)


def _refused(read, *args) -> dict:
    with pytest.raises(ValidationFailed) as refused:
        read(*args)
    return refused.value.details


def test_an_order_search_is_typed_and_its_ranges_resolve_on_the_services_clock():
    command = SearchOrders.from_query(
        {
            "min_amount": "58",
            "flagged": "true",
            "limit": "20",
            "email": "  a@b.cn ",
            "totals": "false",
        },
        ["paid", "paid", "refunded"],
    )
    assert (command.limit, command.want_totals, command.cursor) == (20, False, None)
    criteria = command.criteria
    assert criteria.statuses == ("paid", "refunded") and criteria.flagged is True
    assert criteria.min_amount == Decimal("58") and criteria.text["email"] == "a@b.cn"
    found = criteria.to_filter(NOW)
    assert (found.created_from, found.created_to) == (NOW - timedelta(days=30), NOW)
    assert found.time_bounded


def test_an_order_number_without_a_range_is_an_exact_lookup():
    assert not SearchOrders.from_query({"order_no": "O-1"}, []).criteria.to_filter(NOW).time_bounded
    ranged = {"order_no": "O-1", "from": "2026-11-01T00:00:00Z"}
    assert SearchOrders.from_query(ranged, []).criteria.to_filter(NOW).time_bounded


@pytest.mark.parametrize(
    "params,statuses,field",
    [
        ({"limit": "0"}, [], "limit"),
        ({"flagged": "yes"}, [], "flagged"),
        ({"delivery": "lost"}, [], "delivery"),
        ({}, ["paidish"], "status"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, [], "cursor"),
        ({"paid_to": "tomorrow"}, [], "paid_to"),
    ],
    ids=["limit", "flagged", "delivery", "status", "cursor", "paid_to"],
)
def test_an_order_search_refuses_each_bad_parameter_by_name(params, statuses, field):
    assert _refused(SearchOrders.from_query, params, statuses)["field"] == field


def test_too_wide_a_paid_range_is_refused_when_resolved():
    command = SearchOrders.from_query({"paid_from": "2024-01-01T00:00:00Z"}, [])
    with pytest.raises(RangeTooLarge) as wide:
        command.criteria.to_filter(NOW)
    assert wide.value.details["field"] == "paid_from"


def test_an_order_cursor_round_trips_with_its_totals():
    totals = {"count": 3, "amount_by_currency": {"CNY": "174.00"}}
    cursor = OrderCursor(("2026-11-25T08:00:00Z", "O-3"), totals)
    assert OrderCursor.decode(cursor.encode()) == cursor
    forged = OrderCursor(("2026-11-25T08:00:00Z", "O-3"), {"count": "3", "amount_by_currency": {}})
    assert _refused(OrderCursor.decode, forged.encode()) == {"field": "cursor"}


def test_the_inbox_reads_its_filters_and_refuses_unknown_ones():
    command = ListAnomalies.from_query(
        {"status": "open", "severity": "critical", "rule": "large_amount", "limit": "5"},
        ("large_amount",),
    )
    assert command.status is AnomalyStatus.OPEN and command.severity is Severity.CRITICAL
    assert (command.rule, command.limit, command.given["rule"]) == (
        "large_amount",
        5,
        "large_amount",
    )
    assert (
        _refused(ListAnomalies.from_query, {"rule": "made_up"}, ("large_amount",))["field"]
        == "rule"
    )
    assert _refused(ListAnomalies.from_query, {"sort": "x"}, ()) == {"fields": ["sort"]}
    update = UpdateAnomaly.from_body("large_amount~O-1", {"status": "resolved", "note": " ok "})
    assert (update.status, update.note) == (AnomalyStatus.RESOLVED, "ok")
    assert _refused(UpdateAnomaly.from_body, "x", {"status": "open"})["field"] == "status"


def test_reconciliation_commands():
    assert ListRuns.from_query({"date": "2026-11-24"}) == ListRuns(None, date(2026, 11, 24))
    assert _refused(ListRuns.from_query, {"date": "24/11"}) == {"field": "date"}
    assert GetRun.from_query("a:2026-11-24", {"result": "matched"}).result is Result.MATCHED
    assert _refused(GetRun.from_query, "a:2026-11-24", {"result": "maybe"}) == {"field": "result"}
    run = RunReconciliation.from_body({"channel": "alipay-main", "date": " 2026-11-24 "})
    assert run == RunReconciliation("alipay-main", date(2026, 11, 24))
    assert _refused(RunReconciliation.from_body, {"channel": "alipay-main"})["field"] == "date"


def test_an_action_takes_an_amount_only_where_it_means_one():
    note = OrderAction.from_body("O-1", {"action": "note", "reason": "r", "amount": 5})
    assert note.amount is None  # a note has no amount: ignored, as always
    refund = {"action": "mark_refunded", "reason": "r", "amount": 5}
    assert _refused(OrderAction.from_body, "O-1", refund)["field"] == "amount"
    paid = {"action": "hold", "reason": "r", "payment": "T-1"}
    assert _refused(OrderAction.from_body, "O-1", paid)["field"] == "payment"
    keyed = OrderAction.from_body(
        "O-1", {"action": "refund", "reason": "r", "payment": "T-1", "idempotency_key": "k"}
    )
    assert keyed.payment == "T-1" and keyed.idempotency is not None


def test_an_export_keeps_its_filters_as_given():
    export = RequestExport.from_body(
        {"kind": "anomalies", "from": "2026-11-01", "lang": "zh"}, ("zh", "en")
    )
    assert (export.kind, export.format, export.filters) == (
        "anomalies",
        "csv",
        {"from": "2026-11-01", "lang": "zh"},
    )
    assert _refused(RequestExport.from_body, {"kind": "orders", "rule": "x"}, ("zh",)) == {
        "fields": ["rule"]
    }
    assert _refused(RequestExport.from_body, {"status": 3}, ("zh",))["field"] == "status"


def test_a_trade_lookup_reads_the_number_and_the_channel():
    assert LookupTrade.from_query({"trade_no": " 2026112522001 ", "channel": ""}) == LookupTrade(
        "2026112522001", None
    )
    assert _refused(LookupTrade.from_query, {"trade_no": "x"}) == {"field": "trade_no"}
    assert _refused(LookupTrade.from_query, {"trade_no": "abcdef", "channel": "c" * 65}) == {
        "field": "channel"
    }
    assert LookupTrade.said({"trade_no": "t" * 80, "channel": 3}) == {
        "trade_no": "t" * 64,
        "channel": "3",
    }


def test_stats_days_are_shop_days_resolved_on_the_services_today():
    shanghai = ZoneInfo("Asia/Shanghai")
    week = ReadStats.from_query({})
    assert week.days(date(2026, 11, 25), shanghai) == (date(2026, 11, 19), date(2026, 11, 25))
    late = ReadStats.from_query({"to": "2026-11-24T20:00:00Z", "by": "channel"})
    assert late.by == "channel"
    assert late.days(date(2026, 11, 30), shanghai)[1] == date(2026, 11, 25)  # Beijing's day
    assert _refused(ReadStats.from_query, {"by": "minute"}) == {"field": "by"}
    assert _refused(ReadStats.from_query, {"from": "25/11"}) == {"field": "from"}
    backwards = ReadStats.from_query({"from": "2026-11-25", "to": "2026-11-24"})
    with pytest.raises(ValidationFailed):
        backwards.days(date(2026, 11, 25), shanghai)
    with pytest.raises(RangeTooLarge):
        ReadStats.from_query({"from": "2025-01-01"}).days(date(2026, 11, 25), shanghai)


def test_refund_commands():
    assert ListRefunds.from_query({}) == ListRefunds(RefundState.AWAITING_APPROVAL, 50, None)
    assert ListRefunds.from_query({"state": "pending", "limit": "5"}).limit == 5
    assert _refused(ListRefunds.from_query, {"state": "succeeded"})["field"] == "state"
    assert _refused(ListRefunds.from_query, {"limit": "201"}) == {"field": "limit"}
    assert _refused(ListRefunds.from_query, {"page": "2"}) == {"fields": ["page"]}
    assert DecideRefund.from_body("O-1", "R-1", True, {"note": " ok "}).note == "ok"
    assert _refused(DecideRefund.from_body, "O-1", "R-1", False, {}) == {"field": "note"}
    settle = SettleRefund.from_body("O-1", "R-1", {"outcome": "failed", "note": " n "})
    assert settle.state is RefundState.FAILED and settle.given == {
        "outcome": "failed",
        "note": " n ",
    }
    assert _refused(SettleRefund.from_body, "O-1", "R-1", {"outcome": "pending", "note": "n"})


def test_verification_commands():
    templates = {"last4": "The last four digits of your card?"}
    asked = AskVerification.from_body("O-1", {"template": "last4"}, templates)
    assert (asked.template, asked.question, asked.given) == (
        "last4",
        templates["last4"],
        {"template": "last4", "question": None},
    )
    own = AskVerification.from_body("O-1", {"question": "Where?"}, templates)
    assert (own.template, own.question) == ("free", "Where?")
    both = {"template": "last4", "question": "both?"}
    assert _refused(AskVerification.from_body, "O-1", both, templates)["field"] == "question"
    assert _refused(AskVerification.from_body, "O-1", {}, templates)["field"] == "question"
    release = {"decision": "release", "reason": "r", "amount": "1.00"}
    assert _refused(DecideVerification.from_body, "O-1", release) == {"field": "amount"}
    refund = {"decision": "refund", "reason": "r", "amount": 1}
    assert _refused(DecideVerification.from_body, "O-1", refund) == {"field": "amount"}


def test_a_registration_is_read_against_the_channels_and_keeps_its_fingerprint():
    body = {
        "order_no": "X",
        "product_id": "p",
        "product_name": "P 月卡",
        "quantity": 2,
        "amount": "58.00",
        "channel": "alipay-main",
        "buyer_email": "a@b.cn",
        "buyer_ip": "1.2.3.4",
        "expires_in_s": 900,
    }
    channels = ("alipay-main", "stripe-main")

    def currencies(channel):
        return frozenset({"USD"}) if channel == "stripe-main" else None

    order = RegisterOrder.from_body(body, channels, currencies, 1800)
    assert order.amount == Money.parse("58.00", "CNY") and order.quantity == 2
    # the digest stored with every order since the first release: unchanged
    assert order.fingerprint() == (
        "a5c053c7e9227d96312cac3e77bc0e1bb5d4f8d23b1cd3564436e388d4220d14"
    )
    defaulted = {k: val for k, val in body.items() if k != "expires_in_s"}
    assert RegisterOrder.from_body(defaulted, channels, currencies, 1800).expires_in_s == 1800
    stripe = {**body, "channel": "stripe-main"}
    assert _refused(RegisterOrder.from_body, stripe, channels, currencies, 1)["field"] == "currency"
    nope = {**body, "channel": "nope"}
    assert _refused(RegisterOrder.from_body, nope, channels, currencies, 1)["field"] == "channel"
    with pytest.raises(InvalidMoney):
        RegisterOrder.from_body({**body, "amount": "58.001"}, channels, currencies, 1)


def test_delivery_and_jobs():
    assert ReportDelivery.from_body("O-1", {"status": "failed"}) == ReportDelivery("O-1", False)
    assert _refused(ReportDelivery.from_body, "O-1", {"status": "lost"})["field"] == "status"
    jobs = {"reconcile": frozenset({"date", "channel"}), "expire_orders": frozenset()}
    run = RunJob.from_body("reconcile", {"date": "2026-11-24"}, jobs)
    assert (run.day, run.channel, run.given) == (date(2026, 11, 24), None, {"date": "2026-11-24"})
    assert _refused(RunJob.from_body, "expire_orders", {"date": "2026-11-24"}, jobs) == {
        "fields": ["date"]
    }
    with pytest.raises(NotFound):
        RunJob.from_body("nope", {}, jobs)
