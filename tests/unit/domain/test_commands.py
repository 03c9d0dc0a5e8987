"""The operators' commands, read from a query string or a body: typed values, or a 400 naming
the parameter (the HTTP edge answers it; services never see a raw dict)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.anomaly import AnomalyStatus, Severity
from chalicelib.domain.commands import (
    GetRun,
    ListAnomalies,
    ListRuns,
    OrderAction,
    OrderCursor,
    RequestExport,
    RunReconciliation,
    SearchOrders,
    UpdateAnomaly,
)
from chalicelib.domain.errors import RangeTooLarge, ValidationFailed
from chalicelib.domain.reconcile import Result

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
