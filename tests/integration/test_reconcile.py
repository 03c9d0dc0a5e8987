"""Reconciliation on moto against the simulator's statements over real HTTP: a day with a line
of every result kind per channel and its sums, fees and nets written onto the orders, the CSV
report in S3, anomalies, idempotent re-runs with history, an unparseable statement failing
loudly, the admin API and the scheduled handlers fired with real schedule events; the failed
digest."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from chalicelib.domain import refunds
from chalicelib.domain.clock import day_of, to_iso, utcnow
from chalicelib.domain.money import Money
from chalicelib.domain.statement import beijing_day, day_bounds
from chalicelib.gateways._http import GatewayHttp
from chalicelib.platform.aws import client
from chalicelib.platform.settings import get_settings
from chalicelib.services import auth, channels, gateway_calls, statement_fees
from chalicelib.services import reconcile as service
from chalicelib.services.order_writes import write_with_retry
from chalicelib.store import orders as order_store
from chalicelib.store.models import AnomalyModel, OrderModel, ReconciliationModel, RefundDayModel
from local.sim_model import SimRefund
from tests.integration.conftest import ADMIN_KEY
from tests.integration.test_exports import csv_rows, download
from tests.integration.test_requery import notification_of, register
from tests.integration.test_stats import run_stats_stream
from tests.support import notifications
from tests.support.gateway_sim import (
    AHEAD,
    CURRENCY,
    fire_schedule,
    start_simulator,
    statements_ahead,
)


@pytest.fixture
def sim(aws, monkeypatch):
    monkeypatch.setattr(
        gateway_calls, "http", lambda: GatewayHttp(timeout_s=5, attempts=2, backoff_s=0)
    )
    statements_ahead(monkeypatch)  # what a test just paid is in today's statement at once
    simulator = start_simulator()
    yield simulator
    simulator.close()


@pytest.fixture
def operator(aws):
    return auth.create_key("op", "operator", "test")[1]


def paid_and_notified(api, sim, channel: str, **injected) -> tuple[str, str]:
    order_no = register(api, channel)
    trade = sim.pay(channel, order_no, "58.00", CURRENCY[channel], notify=False, **injected)
    api.send(notification_of(channel, order_no, trade.trade_no))
    return order_no, trade.trade_no


def day_of_every_kind(api, sim, channel: str) -> dict[str, str]:
    """One order per case; the simulator's statement of today tells them apart."""
    cases = {
        "matched": paid_and_notified(api, sim, channel)[0],
        "amount_mismatch": paid_and_notified(api, sim, channel, statement_amount="57.00")[0],
        "missing_there": paid_and_notified(api, sim, channel, in_statement=False)[0],
    }
    refunded, _ = paid_and_notified(api, sim, channel)
    sim.refund(channel, refunded, "58.00", notify=False)  # epay lists it as status 2 (已退款)
    cases["status_mismatch"] = refunded
    duplicate, _ = paid_and_notified(api, sim, channel)
    sim.pay(channel, duplicate, "58.00", CURRENCY[channel], notify=False)
    cases["duplicate"] = duplicate
    sim.pay(channel, "NEVER-REGISTERED-" + channel, "58.00", CURRENCY[channel], notify=False)
    cases["missing_here"] = "NEVER-REGISTERED-" + channel
    return cases


EXPECTED = {
    "matched": 3,
    "amount_mismatch": 1,
    "status_mismatch": 1,
    "missing_here": 1,
    "missing_there": 1,
    "duplicate": 1,
}


@pytest.mark.parametrize("channel", list(CURRENCY))
def test_a_day_with_a_line_of_every_result_kind_balances(api, sim, channel):
    cases = day_of_every_kind(api, sim, channel)
    later = utcnow() + AHEAD  # Stripe is asked for the whole seconds before `now`
    run = service.reconcile(channel, beijing_day(later), actor="test", now=later)
    summary = run.data["summary"]
    assert summary["counts"] == EXPECTED
    currency = summary["currencies"][CURRENCY[channel]]
    assert currency["unexplained"] == "0.00" and summary["balanced"] is True
    explained = {
        "amount_mismatch": "-1.00",
        "missing_here": "58.00",
        "missing_there": "-58.00",
        "duplicate": "58.00",
        "status_mismatch": "-58.00",
    }
    assert currency["explained"] == explained
    assert currency["difference"] == "-1.00"  # the explained sum
    lines = {line["result"]: line for line in service.run_store.lines(run)}
    assert lines["missing_there"]["order_no"] == cases["missing_there"]
    assert (
        lines["amount_mismatch"]["statement"] == "57.00"
        and lines["amount_mismatch"]["ledger"] == "58.00"
    )


def test_fees_and_nets_are_written_onto_the_orders_once(api, sim):
    order_no, _ = paid_and_notified(api, sim, "alipay-main")
    day = beijing_day(utcnow())
    run = service.reconcile("alipay-main", day, actor="test")
    assert run.status == "fees_pending" and run.data["summary"]["fees_to_write"] == 1
    assert statement_fees.apply_fees(run, timedelta(seconds=30)) == {
        "fees_written": 1,
        "fees_pending": 0,
    }
    order = order_store.get(order_no)
    assert (order.fee.format(), order.net.format()) == ("0.35", "57.65")
    assert (
        order.timeline[-1].type == "reconciliation" and "fee 0.35 CNY" in order.timeline[-1].message
    )
    assert service.run_store.get(run.run_id).status == "done"
    again = service.reconcile("alipay-main", day, actor="test")
    assert again.data["summary"]["fees_to_write"] == 0 and again.status == "done"


def test_rerunning_a_day_replaces_its_results_and_keeps_its_history(api, sim):
    day_of_every_kind(api, sim, "wxpay-main")
    day = beijing_day(utcnow())
    first = service.reconcile("wxpay-main", day, actor="first")
    second = service.reconcile("wxpay-main", day, actor="second")
    assert second.data["summary"]["counts"] == first.data["summary"]["counts"]
    items = list(ReconciliationModel.query(second.run_id))
    kinds = sorted(item.sk.split("#")[0] for item in items)
    assert kinds == sorted(["summary"] + ["line"] * 5 + ["fees"] * len(second.data["fee_sks"]))
    assert {item.attempt for item in items if item.sk != "summary"} == {second.attempt}
    assert [entry["actor"] for entry in second.data["history"]] == ["second", "first"]
    anomalies = [a for a in AnomalyModel.scan() if a.rule.startswith("reconciliation_")]
    assert len(anomalies) == 5  # one per unmatched line, not per run
    assert {
        a.severity
        for a in anomalies
        if a.rule in ("reconciliation_missing_there", "reconciliation_amount_mismatch")
    } == {"critical"}


def test_the_report_and_the_statement_file_go_to_s3(api, sim):
    day_of_every_kind(api, sim, "wxpay-main")
    run = service.reconcile("wxpay-main", beijing_day(utcnow()), actor="test")
    report = run.data["report"]
    assert report["key"] == f"reports/reconciliations/wxpay-main/{run.date}.csv"
    bucket = client("s3")
    body = (
        bucket.get_object(Bucket=get_settings().bucket, Key=report["key"])["Body"]
        .read()
        .decode("utf-8-sig")
    )
    lines, _, summary = body.partition("\r\n\r\n")
    rows = list(csv.DictReader(io.StringIO(lines)))
    assert sorted(row["result"] for row in rows) == sorted(r for r in EXPECTED if r != "matched")
    totals = {(row["result"]): row for row in csv.DictReader(io.StringIO(summary))}
    assert totals["matched"]["lines"] == "3" and totals["unexplained"]["difference"] == "0.00"
    statement = bucket.get_object(Bucket=get_settings().bucket, Key=report["statement_key"])[
        "Body"
    ].read()
    assert report["statement_key"].endswith(".statement.csv") and statement.decode(
        "utf-8-sig"
    ).startswith("交易时间")


def test_an_unparseable_statement_fails_loudly_and_alarms(api, sim, monkeypatch, capsys, operator):
    import local.sim.alipay as sim_alipay

    paid_and_notified(api, sim, "alipay-main")
    original = sim_alipay.alipay_bill_zip
    monkeypatch.setattr(
        sim_alipay, "alipay_bill_zip", lambda *args: original(*args).replace(b"\x00", b"\x01")
    )  # a corrupted download
    day = beijing_day(utcnow()).isoformat()
    answer = api.call(
        "POST", "/admin/reconciliations", {"channel": "alipay-main", "date": day}, key=operator
    )
    assert answer.status_code == 502, answer.body
    error = api.json(answer)["error"]
    assert error["code"] == "statement_unparseable" and "reason" in error["details"]
    anomaly = AnomalyModel.get(f"statement_unparseable#alipay-main#{day}")
    assert anomaly.severity == "critical" and anomaly.details["reason"]
    assert '"StatementFailures"' in capsys.readouterr().out  # the metric its alarm watches
    run = service.run_store.get(f"alipay-main#{day}")
    assert run.status == "failed" and run.history[0]["error"]["code"] == "statement_unparseable"


def test_an_epay_list_that_cannot_reach_the_day_is_completed_by_queries(api, sim, monkeypatch):
    from chalicelib.gateways import epay_api

    monkeypatch.setattr(epay_api, "MAX_PAGES", 1)
    monkeypatch.setattr(epay_api, "PAGE_SIZE", 2)
    orders = [paid_and_notified(api, sim, "epay-main")[0] for _ in range(4)]
    sim.refund(
        "epay-main", orders[0], "58.00", notify=False
    )  # the oldest: beyond the list, asked about
    run = service.reconcile("epay-main", beijing_day(utcnow()), actor="test")
    counts = run.data["summary"]["counts"]
    assert counts["matched"] == 4 and run.data["summary"]["balanced"] is True
    assert (
        counts["status_mismatch"] == 1 and counts["missing_there"] == 0
    )  # status 2 by query: a refund line
    assert [line["order_no"] for line in service.run_store.lines(run)] == [orders[0]]
    assert run.data["statement"]["source"].endswith("+ 2 per-order queries")


def test_admin_api_runs_lists_and_shows_runs(api, sim, operator):
    day_of_every_kind(api, sim, "epay-main")
    _, viewer = auth.create_key("v", "viewer", "test")
    day = beijing_day(utcnow()).isoformat()
    body = {"channel": "epay-main", "date": day}
    assert api.call("POST", "/admin/reconciliations", body, key=viewer).status_code == 403
    assert (
        api.call(
            "POST", "/admin/reconciliations", {**body, "channel": "nope"}, key=operator
        ).status_code
        == 400
    )
    tomorrow = (beijing_day(utcnow()) + timedelta(days=1)).isoformat()
    assert (
        api.call(
            "POST", "/admin/reconciliations", {**body, "date": tomorrow}, key=operator
        ).status_code
        == 400
    )
    ran = api.call("POST", "/admin/reconciliations", body, key=operator)
    assert ran.status_code == 201, ran.body
    run = api.json(ran)
    assert (
        run["id"] == f"epay-main:{day}"
        and run["summary"]["balanced"] is True
        and run["fees"]["fees_pending"] == 0
    )

    listed = api.json(api.call("GET", "/admin/reconciliations?channel=epay-main", key=viewer))[
        "items"
    ]
    assert [item["id"] for item in listed] == [run["id"]]
    assert (
        api.json(api.call("GET", f"/admin/reconciliations?date={day}", key=viewer))["items"][0][
            "id"
        ]
        == run["id"]
    )
    shown = api.json(api.call("GET", f"/admin/reconciliations/{run['id']}", key=viewer))
    assert set(shown["lines"]) == {
        "amount_mismatch",
        "status_mismatch",
        "missing_here",
        "missing_there",
        "duplicate",
    }
    assert shown["report"]["url"].startswith("http") and shown["report"]["expires_in_s"] == 900
    only = api.json(
        api.call("GET", f"/admin/reconciliations/{run['id']}?result=duplicate", key=viewer)
    )
    assert list(only["lines"]) == ["duplicate"]
    assert (
        api.call("GET", "/admin/reconciliations/epay-main:1999-01-01", key=viewer).status_code
        == 404
    )
    assert (
        api.call("GET", f"/admin/reconciliations/{run['id']}?result=odd", key=viewer).status_code
        == 400
    )


def test_the_daily_schedule_reconciles_yesterday_for_every_channel(app_client, sim):
    summary = fire_schedule(app_client, "reconcile_daily")
    assert summary["date"] == (beijing_day(utcnow()) - timedelta(days=1)).isoformat()
    assert set(summary["channels"]) == set(CURRENCY) and summary["failed"] == []
    assert all(result["balanced"] for result in summary["channels"].values())


def test_the_reconcile_job_runs_now_for_a_day_and_a_channel(api, sim, operator):
    paid_and_notified(api, sim, "alipay-main")
    day = beijing_day(utcnow()).isoformat()
    ran = api.call(
        "POST", "/admin/jobs/reconcile", {"date": day, "channel": "alipay-main"}, key=operator
    )
    assert ran.status_code == 200, ran.body
    result = api.json(ran)
    assert result["channels"]["alipay-main"]["counts"]["matched"] == 1
    assert result["channels"]["alipay-main"]["fees_written"] == 1
    assert (
        api.call("POST", "/admin/jobs/reconcile", {"date": "24/11"}, key=operator).status_code
        == 400
    )


def test_an_unreachable_gateway_fails_one_channel_not_the_job(app_client, sim):
    sim.close()
    summary = fire_schedule(app_client, "reconcile_daily")
    assert sorted(summary["failed"]) == sorted(CURRENCY)
    assert summary["channels"]["alipay-main"]["error"] == "gateway_unavailable"


def test_fee_write_back_resumes_on_its_schedule(app_client, api, sim, monkeypatch):
    order_no, _ = paid_and_notified(api, sim, "wxpay-main")
    run = service.reconcile("wxpay-main", beijing_day(utcnow()), actor="test")
    assert statement_fees.apply_fees(run, timedelta(0))["fees_pending"] == 1  # budget spent at once
    assert fire_schedule(app_client, "apply_statement_fees")["runs"][run.run_id] == {
        "fees_written": 1,
        "fees_pending": 0,
    }
    assert order_store.get(order_no).fee.format() == "0.35"


def test_failed_digest_exports_and_announces_the_days_failed_orders(app_client, api, aws):
    from chalicelib.services import digest
    from chalicelib.store.models import OrderModel

    sqs = client("sqs")
    queue = sqs.create_queue(QueueName="paging-test")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    client("sns").subscribe(
        TopicArn=get_settings().paging_topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    expired = register(api, "epay-main")
    OrderModel(expired).update(actions=[OrderModel.pay_status.set("expired")])
    held = register(api, "alipay-main")
    OrderModel(held).update(
        actions=[
            OrderModel.delivery_status.set("held"),
            OrderModel.hold_reasons.set(["amount_mismatch"]),
        ]
    )

    assert fire_schedule(app_client, "failed_digest")["counts"] == {
        "expired": 0,
        "closed": 0,
        "delivery_failed": 0,
        "held": 0,
    }  # yesterday: nothing
    summary = digest.failed_digest(day=beijing_day(utcnow()))
    assert summary["counts"] == {"expired": 1, "closed": 0, "delivery_failed": 0, "held": 1}
    report = (
        client("s3").get_object(Bucket=get_settings().bucket, Key=summary["report"])["Body"].read()
    )
    rows = list(csv.DictReader(io.StringIO(report.decode("utf-8-sig"))))
    assert {(row["section"], row["order_no"]) for row in rows} == {
        ("expired", expired),
        ("held", held),
    }
    assert "buyer@qq.com" not in report.decode("utf-8-sig")
    messages = [
        json.loads(m["Body"])
        for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    ]
    assert [m["counts"]["held"] for m in messages if m["event"] == "failed_digest"] == [0, 1]


def test_reconciliation_lines_export(api, sim):
    from tests.integration.conftest import ADMIN_KEY
    from tests.integration.test_exports import csv_rows, download

    day_of_every_kind(api, sim, "wxpay-main")
    day = beijing_day(utcnow())
    service.reconcile("wxpay-main", day, actor="test")
    view = api.json(
        api.call(
            "POST",
            "/admin/exports",
            {"kind": "reconciliation", "date": day.isoformat()},
            key=ADMIN_KEY,
        )
    )
    rows = csv_rows(download(view))
    assert view["status"] == "ready" and view["rows"] == 5
    assert {row[3] for row in rows[1:]} == {
        "amount_mismatch",
        "status_mismatch",
        "missing_here",
        "missing_there",
        "duplicate",
    }
    assert all(row[0] == "wxpay-main" and row[1] == day.isoformat() for row in rows[1:])
    bad = api.call("POST", "/admin/exports", {"kind": "reconciliation"}, key=ADMIN_KEY)
    assert bad.status_code == 400


# ------------------------------------------------------------------ foreign-currency settlement, moving lists


HKD_RATES = {"USD": "7.8", "EUR": "8.4", "JPY": "0.0521"}


def stripe_paid(api, sim, amount: str, currency: str, minor: int) -> tuple[str, str]:
    response = api.register(channel="stripe-main", amount=amount, currency=currency)
    assert response.status_code == 201, response.body
    order_no = api.json(response)["order_no"]
    trade = sim.pay("stripe-main", order_no, amount, currency, notify=False)
    assert (
        api.send(
            notifications.stripe(order_no, minor, currency.lower(), payment_intent=trade.trade_no)
        ).status_code
        == 200
    )
    return order_no, trade.trade_no


def assert_clean_day(summary: dict, matched: int, unexplained: dict[str, str]) -> None:
    """A converted day closed clean: every line matched, balanced, no reconciliation anomaly, and
    nothing unexplained in each currency (written with that currency's digits)."""
    assert summary["counts"] == {
        "matched": matched,
        "amount_mismatch": 0,
        "status_mismatch": 0,
        "missing_here": 0,
        "missing_there": 0,
        "duplicate": 0,
    }
    assert summary["balanced"] is True
    assert not list(AnomalyModel.scan(AnomalyModel.rule.startswith("reconciliation_")))
    assert {c: s["unexplained"] for c, s in summary["currencies"].items()} == unexplained


def test_a_stripe_account_settling_in_hkd_reconciles_usd_eur_and_jpy_charges_a_refund_and_a_radar_fee(
    api, sim
):
    sim.settle_stripe_in("stripe-main", "HKD", HKD_RATES)
    usd, usd_trade = stripe_paid(api, sim, "19.99", "USD", 1999)
    _eur, _ = stripe_paid(api, sim, "25.00", "EUR", 2500)
    jpy, _ = stripe_paid(api, sim, "2000", "JPY", 2000)
    sim.refund("stripe-main", usd, "5.00", notify=False)
    refunded = notifications.stripe(
        usd,
        1999,
        "usd",
        payment_intent=usd_trade,
        event_type="charge.refunded",
        amount_refunded=500,
    )
    assert api.send(refunded).status_code == 200
    sim.charge_stripe_fee("stripe-main", "0.55")
    later = utcnow() + AHEAD  # Stripe is asked for the whole seconds before `now`
    run = service.reconcile("stripe-main", beijing_day(later), actor="test", now=later)
    summary = run.data["summary"]
    assert_clean_day(summary, 4, {"EUR": "0.00", "HKD": "0.00", "JPY": "0", "USD": "0.00"})
    assert summary["currencies"]["USD"]["statement"]["gross"] == "19.99"
    assert summary["currencies"]["USD"]["statement"]["refunds"] == "5.00"
    # 155.92 + 210.00 + 104.20 - 39.00 booked; fees 6.86 + 8.65 + 4.58 (2.9% + 30, converted)
    hkd = summary["currencies"]["HKD"]["statement"]
    assert (
        hkd["settled"],
        hkd["fees"],
        hkd["net"],
        hkd["account_fees"],
        hkd["converted_lines"],
    ) == ("431.12", "20.09", "411.03", "0.55", 4)

    assert statement_fees.apply_fees(run, timedelta(seconds=30)) == {
        "fees_written": 3,
        "fees_pending": 0,
    }
    order = order_store.get(usd)
    assert (order.paid_amount.format(), order.paid_amount.currency) == ("19.99", "USD")
    assert (order.settled_amount, order.exchange_rate) == (Money(15592, "HKD"), "7.8")
    assert (order.fee, order.net) == (Money(686, "HKD"), Money(14906, "HKD"))
    assert "settled 155.92 HKD @ 7.8, fee 6.86 HKD" in order.timeline[-1].message
    yen = order_store.get(jpy)
    assert (yen.paid_amount, yen.settled_amount, yen.fee) == (
        Money(2000, "JPY"),
        Money(10420, "HKD"),
        Money(458, "HKD"),
    )
    again = service.reconcile("stripe-main", beijing_day(utcnow()), actor="test")
    assert again.data["summary"]["fees_to_write"] == 0  # written with their currency: nothing new

    # the stats keep fees and net where they were charged (the US$5.00 refund stays in USD: refunds are
    # counted as recorded on the order); the export names the settlement currency
    run_stats_stream()
    money = api.json(api.call("GET", "/admin/stats?by=channel", key=ADMIN_KEY))["groups"][0][
        "money"
    ]
    assert money["USD"] == {
        "paid": "19.99",
        "fees": "0.00",
        "refunds": "5.00",
        "converted": "19.99",
        "settled": "0.00",
        "net": "-5.00",
    }
    assert money["HKD"] == {
        "paid": "0.00",
        "fees": "20.09",
        "refunds": "0.00",
        "converted": "0.00",
        "settled": "470.12",
        "net": "450.03",
    }
    export = api.json(
        api.call("POST", "/admin/exports", {"kind": "orders", "format": "csv"}, key=ADMIN_KEY)
    )
    rows = csv_rows(download(export))
    columns = {name: i for i, name in enumerate(rows[0])}
    row = next(r for r in rows[1:] if r[0] == usd)
    assert [
        row[columns[c]]
        for c in (
            "实付金额",
            "币种",
            "手续费",
            "实际到账",
            "结算币种",
            "结算金额",
            "汇率",
            "手续费来源",
        )
    ] == ["19.99", "USD", "6.86", "149.06", "HKD", "155.92", "7.8", "statement"]
    detail = api.json(api.call("GET", f"/admin/orders/{usd}", key=ADMIN_KEY))
    assert {
        k: detail[k]
        for k in (
            "paid_amount",
            "currency",
            "settled_amount",
            "settlement_currency",
            "exchange_rate",
            "fee",
            "fee_currency",
            "fee_status",
            "net_amount",
            "net_currency",
        )
    } == {
        "paid_amount": "19.99",
        "currency": "USD",
        "settled_amount": "155.92",
        "settlement_currency": "HKD",
        "exchange_rate": "7.8",
        "fee": "6.86",
        "fee_currency": "HKD",
        "fee_status": "statement",
        "net_amount": "149.06",
        "net_currency": "HKD",
    }


def test_epay_refunded_orders_and_an_order_created_during_the_read_reconcile_without_false_anomalies(
    api, sim, monkeypatch
):
    from chalicelib.gateways import epay_api

    monkeypatch.setattr(epay_api, "PAGE_SIZE", 2)
    orders = [paid_and_notified(api, sim, "epay-main")[0] for _ in range(5)]
    operator_key = auth.create_key("op", "operator", "test")[1]
    for order_no in orders[:2]:  # refunded at the aggregator (status 2) and here
        sim.refund("epay-main", order_no, "58.00", notify=False)
        answer = api.call(
            "POST",
            f"/admin/orders/{order_no}/actions",
            {"action": "mark_refunded", "reason": "refunded at the aggregator"},
            key=operator_key,
        )
        assert answer.status_code == 200, answer.body
    only_there = paid_and_notified(api, sim, "epay-main")[0]
    sim.refund("epay-main", only_there, "58.00", notify=False)  # refunded there only
    original, reads = epay_api._get, []

    def a_new_order_after_the_first_page(config, params, http, what):
        reads.append(params.get("page"))
        if len(reads) == 2:  # between page 1 and page 2 of the first read
            sim.pay("epay-main", register(api, "epay-main"), "58.00", "CNY", notify=False)
        return original(config, params, http, what)

    monkeypatch.setattr(epay_api, "_get", a_new_order_after_the_first_page)
    run = service.reconcile("epay-main", beijing_day(utcnow()), actor="test")
    summary = run.data["summary"]
    lines = {(line["result"], line["kind"]): line for line in service.run_store.lines(run)}
    assert summary["counts"]["duplicate"] == 0 and summary["counts"]["missing_there"] == 0
    assert summary["counts"]["status_mismatch"] == 1
    assert lines[("status_mismatch", "refund")]["order_no"] == only_there
    assert summary["counts"]["matched"] == 6 + 2  # six payments, two refunds
    assert summary["counts"]["missing_here"] == 1  # the newcomer: paid, never notified
    assert summary["balanced"] is True and reads.count(1) >= 2  # read again until two reads agreed


def test_refund_lines_are_matched_to_each_refund_request(api, sim):
    """Three partial refunds of one order through paytrack, then the gateway's statement with the
    second refund for 21.00 instead of 20.00, the third left out and a 3.00 refund paytrack never
    asked for: 34.00 refunded there against 35.00 here would pass as three cumulative matches of
    the order's total; by request each difference is its own result."""
    channel = "alipay-main"
    order_no, _ = paid_and_notified(api, sim, channel)
    requests = {}
    for key, amount in (("a", "10.00"), ("b", "20.00"), ("c", "5.00")):
        body = {"action": "refund", "amount": amount, "reason": "partial", "idempotency_key": key}
        answer = api.call("POST", f"/admin/orders/{order_no}/actions", body, key=ADMIN_KEY)
        assert answer.status_code == 200, answer.body
        refund = api.json(answer)["refund"]
        assert refund["state"] == "succeeded"
        requests[key] = refund["refund_request_id"]
    sim.refund(channel, order_no, "3.00", notify=False)  # at the gateway only
    trade = sim._latest_trade(channel, order_no)
    by_no = {refund.refund_no: refund for refund in trade.refunds}
    assert set(requests.values()) <= set(by_no)  # the gateway took our request ids
    trade.refunds[:] = [
        replace(refund, amount_minor=2100) if refund.refund_no == requests["b"] else refund
        for refund in trade.refunds
        if refund.refund_no != requests["c"]
    ]
    unknown = next(no for no in by_no if no not in requests.values())

    run = service.reconcile(channel, beijing_day(utcnow()), actor="test")
    summary = run.data["summary"]
    assert summary["counts"] == {
        "matched": 2,  # the payment, refund a
        "amount_mismatch": 1,  # refund b
        "status_mismatch": 2,  # the unknown refund, refund c missing at the gateway
        "missing_here": 0,
        "missing_there": 0,
        "duplicate": 0,
    }
    assert summary["balanced"] is True
    assert summary["currencies"]["CNY"]["explained"]["amount_mismatch"] == "-1.00"
    lines = {
        (
            line["result"],
            line["refund_request_id"],
            line["refund_ref"],
            line["statement"],
            line["ledger"],
        )
        for line in service.run_store.lines(run)
    }
    assert lines == {
        ("amount_mismatch", requests["b"], requests["b"], "-21.00", "-20.00"),
        ("status_mismatch", None, unknown, "-3.00", "0.00"),
        ("status_mismatch", requests["c"], None, "0.00", "-5.00"),
    }
    rules = sorted(
        a.rule for a in AnomalyModel.scan() if a.order_no == order_no and a.channel == channel
    )
    assert rules == [
        "reconciliation_amount_mismatch",
        "reconciliation_status_mismatch",
        "reconciliation_status_mismatch",
    ]


# ------------------------------------------------------------------ cross-border statements


def mark_cross_border(channel: str) -> None:
    """The stage's channels secret with `channel` marked `"cross_border": true`."""
    secrets = client("secretsmanager")
    secret_id = get_settings().channels_secret_id
    doc = json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"])
    doc[channel]["cross_border"] = True
    secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(doc, ensure_ascii=False))
    channels.forget()


def wechat_paid(api, sim, amount: str, currency: str, minor: int) -> tuple[str, str]:
    response = api.register(channel="wxpay-main", amount=amount, currency=currency)
    assert response.status_code == 201, response.body
    order_no = api.json(response)["order_no"]
    trade = sim.pay("wxpay-main", order_no, amount, currency, notify=False)
    wire = notifications.wechat(order_no, minor, transaction_id=trade.trade_no, currency=currency)
    assert api.send(wire).status_code in (200, 204)
    return order_no, trade.trade_no


def test_a_cross_border_wechat_merchant_settling_in_hkd_reconciles_usd_and_jpy_orders(api, sim):
    """WeChat Pay Global's statement prices each row in the order's currency and settles it in
    HKD at its rate: matched on the priced amount, fee and net written in HKD with the rate."""
    mark_cross_border("wxpay-main")
    sim.settle_cross_border("wxpay-main", "HKD", {"USD": "7.8", "JPY": "0.0521"})
    usd, usd_trade = wechat_paid(api, sim, "19.99", "USD", 1999)
    jpy, _ = wechat_paid(api, sim, "2000", "JPY", 2000)
    sim.refund("wxpay-main", usd, "5.00", notify=False)
    refunded = notifications.wechat(
        usd,
        1999,
        transaction_id=usd_trade,
        event_type="REFUND.SUCCESS",
        refund_fen=500,
        currency="USD",
    )
    assert api.send(refunded).status_code in (200, 204)
    later = utcnow() + AHEAD
    run = service.reconcile("wxpay-main", beijing_day(later), actor="test", now=later)
    summary = run.data["summary"]
    assert_clean_day(summary, 3, {"HKD": "0.00", "JPY": "0", "USD": "0.00"})
    # 155.92 + 104.20 - 39.00 booked; fees 0.94 + 0.63 - 0.23 (0.6% of the settled amounts)
    hkd = summary["currencies"]["HKD"]["statement"]
    assert (hkd["settled"], hkd["fees"], hkd["net"], hkd["converted_lines"]) == (
        "221.12",
        "1.34",
        "219.78",
        3,
    )

    assert statement_fees.apply_fees(run, timedelta(seconds=30)) == {
        "fees_written": 2,
        "fees_pending": 0,
    }
    order = order_store.get(usd)
    assert (order.paid_amount, order.settled_amount, order.exchange_rate) == (
        Money(1999, "USD"),
        Money(15592, "HKD"),
        "7.8",
    )
    assert (order.fee, order.net) == (Money(94, "HKD"), Money(15498, "HKD"))
    assert "settled 155.92 HKD @ 7.8, fee 0.94 HKD" in order.timeline[-1].message
    yen = order_store.get(jpy)
    assert (yen.paid_amount, yen.settled_amount, yen.fee, yen.exchange_rate) == (
        Money(2000, "JPY"),
        Money(10420, "HKD"),
        Money(63, "HKD"),
        "0.0521",
    )
    detail = api.json(api.call("GET", f"/admin/orders/{jpy}", key=ADMIN_KEY))
    assert {
        k: detail[k]
        for k in ("paid_amount", "currency", "settled_amount", "settlement_currency", "fee")
    } == {
        "paid_amount": "2000",
        "currency": "JPY",
        "settled_amount": "104.20",
        "settlement_currency": "HKD",
        "fee": "0.63",
    }
    assert (detail["fee_currency"], detail["net_currency"]) == ("HKD", "HKD")
    again = service.reconcile("wxpay-main", beijing_day(utcnow()), actor="test")
    assert again.data["summary"]["fees_to_write"] == 0


# ------------------------------------------------------------------ refunds of orders paid before the day


def paid_at(sim, channel: str, order_no: str, when: datetime) -> None:
    """Move an order's payment to `when`, at the gateway (its statements) and here (by_paid)."""
    trade = sim._latest_trade(channel, order_no)
    trade.created_at = trade.paid_at = when
    OrderModel(order_no).update(
        actions=[OrderModel.paid_at.set(to_iso(when)), OrderModel.paid_day.set(day_of(when))]
    )


def refund_by_api(api, order_no: str, amount: str, key: str) -> str:
    body = {"action": "refund", "amount": amount, "reason": "partial", "idempotency_key": key}
    answer = api.call("POST", f"/admin/orders/{order_no}/actions", body, key=ADMIN_KEY)
    assert answer.status_code == 200, answer.body
    refund = api.json(answer)["refund"]
    assert refund["state"] == "succeeded"
    return refund["refund_request_id"]


def refund_by_the_store(sim, channel: str, order_no: str, amount: str, at: datetime) -> str:
    """A partial refund that succeeded at `at`, here (a request settled by the query's answer,
    written through the store) and at the gateway (in its trade book, so its statements list it)."""
    rid = refunds.refund_request_id(order_no, f"at {to_iso(at)}")
    amount_paid = Money.parse(amount, "CNY")
    order = write_with_retry(
        order_store.get(order_no),
        lambda current: refunds.request_refund(
            current,
            request_id=rid,
            trade_no=None,
            amount=amount_paid,
            reason="partial",
            actor="op",
            now=at,
            policy=refunds.RefundPolicy(),
        ),
    )
    answer = refunds.RefundAnswer(refunds.RefundState.SUCCEEDED, "REFUND_SUCCESS")
    order = write_with_retry(
        order, lambda current: refunds.settle(current, rid, answer, "query", at)
    )
    assert refunds.find_request(order, rid).state is refunds.RefundState.SUCCEEDED
    trade = sim._latest_trade(channel, order_no)
    sim.book.add_refund(trade, SimRefund(rid, amount_paid.minor, at))
    return rid


def refund_results(run) -> list[tuple[str, str | None, str]]:
    return [
        (line["result"], line["refund_request_id"], line["ledger"])
        for line in service.run_store.lines(run)
    ]


@pytest.mark.parametrize("listed", [True, False], ids=["listed", "left_off"])
def test_a_refund_today_of_an_order_paid_yesterday_is_reconciled_today(api, sim, listed):
    """Paid yesterday, refunded 10.00 through paytrack today: today's statement lists only the
    refund. Listed, it matches its request and the day balances with 10.00 refunded on both
    sides; left off, it is exactly one status_mismatch naming the request (not unreported)."""
    channel = "alipay-main"
    order_no, _ = paid_and_notified(api, sim, channel)
    paid_at(sim, channel, order_no, utcnow() - timedelta(days=1))
    rid = refund_by_api(api, order_no, "10.00", "today")
    assert [item.order_no for item in RefundDayModel.scan()] == [order_no]
    trade = sim._latest_trade(channel, order_no)
    if not listed:
        trade.refunds.clear()

    later = utcnow() + AHEAD
    run = service.reconcile(channel, beijing_day(later), actor="test", now=later)
    summary = run.data["summary"]
    cny = summary["currencies"]["CNY"]
    assert summary["balanced"] is True and cny["ledger"]["refunds"] == "10.00"
    assert cny["ledger"]["gross"] == "0.00"  # yesterday's payment is not today's
    if listed:
        assert summary["counts"] == {**NOTHING, "matched": 1}
        assert cny["statement"]["refunds"] == "10.00" and cny["difference"] == "0.00"
        return
    assert summary["counts"] == {**NOTHING, "status_mismatch": 1}
    assert refund_results(run) == [("status_mismatch", rid, "-10.00")]
    assert cny["explained"]["status_mismatch"] == "10.00"
    [anomaly] = [a for a in AnomalyModel.scan() if a.order_no == order_no]
    assert anomaly.rule == "reconciliation_status_mismatch"
    assert anomaly.details["refund_request_id"] == rid
    assert the_csv_files_name(api, run, rid)


def the_csv_files_name(api, run, rid: str) -> bool:
    """The request is a column of the S3 report and of the reconciliation export (en and zh),
    read back from the files themselves."""
    key = run.data["report"]["key"]
    report = client("s3").get_object(Bucket=get_settings().bucket, Key=key)["Body"].read()
    rows = list(csv.DictReader(io.StringIO(report.decode("utf-8-sig").partition("\r\n\r\n")[0])))
    assert [(row["result"], row["refund_request_id"]) for row in rows] == [("status_mismatch", rid)]
    for lang, column in (("en", "refund_request_id"), ("zh", "退款单号")):
        body = {"kind": "reconciliation", "date": run.date, "lang": lang}
        view = api.json(api.call("POST", "/admin/exports", body, key=ADMIN_KEY))
        header, *lines = csv_rows(download(view))
        assert [line[header.index(column)] for line in lines] == [rid], lang
    return True


NOTHING = dict.fromkeys(EXPECTED, 0)


def test_two_partial_refunds_on_two_days_are_each_reconciled_on_their_own_day(api, sim):
    """Paid on D-1, refunded 10.00 on D and 5.00 on D+1: each day's ledger holds its own refund
    only — D's statement lists its refund (matched), D+1's leaves its refund off (one
    status_mismatch naming that request, not the other)."""
    channel = "alipay-main"
    day = beijing_day(utcnow()) - timedelta(days=2)
    noon = {n: day_bounds(day + timedelta(days=n))[0] + timedelta(hours=4) for n in (-1, 0, 1)}
    order_no, _ = paid_and_notified(api, sim, channel)
    paid_at(sim, channel, order_no, noon[-1])
    first = refund_by_the_store(sim, channel, order_no, "10.00", noon[0])
    second = refund_by_the_store(sim, channel, order_no, "5.00", noon[1])
    trade = sim._latest_trade(channel, order_no)
    trade.refunds[:] = [refund for refund in trade.refunds if refund.refund_no != second]
    assert sorted(item.bucket for item in RefundDayModel.scan()) == [
        f"refunds#{channel}#{day_of(noon[0])}",
        f"refunds#{channel}#{day_of(noon[1])}",
    ]

    on_d = service.reconcile(channel, day, actor="test")
    assert on_d.data["summary"]["counts"] == {**NOTHING, "matched": 1}
    assert on_d.data["summary"]["currencies"]["CNY"]["ledger"]["refunds"] == "10.00"
    on_next = service.reconcile(channel, day + timedelta(days=1), actor="test")
    assert on_next.data["summary"]["counts"] == {**NOTHING, "status_mismatch": 1}
    assert refund_results(on_next) == [("status_mismatch", second, "-5.00")]
    assert on_next.data["summary"]["currencies"]["CNY"]["ledger"]["refunds"] == "5.00"
    assert first != second


def test_an_epay_refund_today_of_an_order_paid_yesterday_is_asked_about(api, sim):
    """epay's list shows a refund on its payment's day: today's has no line for yesterday's
    order refunded today, so the aggregator is asked about it (act=order: 已退款) and its refunded
    total is compared with ours — matched, not a false status_mismatch."""
    channel = "epay-main"
    order_no, _ = paid_and_notified(api, sim, channel)
    paid_at(sim, channel, order_no, utcnow() - timedelta(days=1))
    refund_by_api(api, order_no, "8.00", "today")
    later = utcnow() + AHEAD
    run = service.reconcile(channel, beijing_day(later), actor="test", now=later)
    summary = run.data["summary"]
    assert summary["counts"] == {**NOTHING, "matched": 1} and summary["balanced"] is True
    assert summary["currencies"]["CNY"]["statement"]["refunds"] == "8.00"
    assert run.data["statement"]["source"].endswith(" + 1 refund queries")
