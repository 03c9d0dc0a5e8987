"""补单 and reconciliation on the local stack as `make run` starts it, over real HTTP only: the
stack's simulator (driven through its /sim control API) takes payments whose notifications never
come — the scheduler's requery_pending recovers them — and books discrepancies; the admin API
reconciles today on every channel with each result kind and an unexplained difference of zero."""

from __future__ import annotations

import time

import pytest
import requests

from tests.e2e.conftest import ADMIN_KEY, start_stack, stop_stack

CURRENCY = {"alipay-main": "CNY", "wxpay-main": "CNY", "epay-main": "CNY", "stripe-main": "USD"}
FAST_SCHEDULES = {
    "PAYTRACK_SCHEDULE_SCALE": "0.05",
    "PAYTRACK_REQUERY_MIN_AGE_S": "2",
    "PAYTRACK_REQUERY_BACKOFF_S": "2,4,8,16",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAST_SCHEDULES.items():
            patch.setenv(name, value)
        running = start_stack(tmp_path_factory, demo=False)
    wait_for(
        lambda: _answers(f"http://127.0.0.1:{running.sim_port}/sim/health")
    )  # started after the API
    yield running
    stop_stack(running)


def sim(stack, path: str, **body) -> dict:
    response = requests.post(f"http://127.0.0.1:{stack.sim_port}/sim/{path}", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()


def register(stack, channel: str) -> str:
    body = {
        "product_id": "vip-month",
        "product_name": "VIP会员 月卡",
        "amount": "58.00",
        "currency": CURRENCY[channel],
        "channel": channel,
        "buyer_email": "li@163.com",
        "buyer_ip": "36.110.1.2",
    }
    response = stack.call("POST", "/orders", json=body)
    assert response.status_code == 201, response.text
    return response.json()["order_no"]


def pay(stack, channel: str, order_no: str, **injected) -> dict:
    return sim(
        stack,
        "pay",
        channel=channel,
        out_trade_no=order_no,
        amount="58.00",
        currency=CURRENCY[channel],
        **injected,
    )


def wait_for(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError("condition not met in time")


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def pay_status(stack, order_no: str) -> str:
    return stack.call("GET", f"/orders/{order_no}").json()["pay_status"]


def test_requery_recovers_payments_whose_notifications_never_came(stack):
    silent = {channel: register(stack, channel) for channel in CURRENCY}
    trades = {
        channel: pay(stack, channel, order_no, notify=False) for channel, order_no in silent.items()
    }
    assert not any(trade["notified"] for trade in trades.values())
    for channel, order_no in silent.items():
        wait_for(lambda order_no=order_no: pay_status(stack, order_no) == "paid")
        detail = stack.call("GET", f"/admin/orders/{order_no}", key=ADMIN_KEY).json()
        assert detail["trade_no"] == trades[channel]["trade_no"] and detail["hold"] is False
        assert [e["source"] for e in detail["timeline"] if e["type"] == "payment"] == ["query"]
    assert "recovered" in stack.app_log()


def test_every_channel_reconciles_today_with_every_result_kind(stack):
    for channel in CURRENCY:
        orders = {
            case: register(stack, channel)
            for case in ("matched", "refunded", "misbooked", "dropped", "twice")
        }
        for case, order_no in orders.items():
            injected = {
                "misbooked": {"statement_amount": "57.00"},
                "dropped": {"in_statement": False},
            }.get(case, {})
            pay(stack, channel, order_no, **injected)
        wait_for(
            lambda orders=orders: all(pay_status(stack, no) == "paid" for no in orders.values())
        )
        sim(
            stack,
            "refund",
            channel=channel,
            out_trade_no=orders["refunded"],
            amount="58.00",
            notify=False,
        )
        pay(stack, channel, orders["twice"])
        pay(stack, channel, f"STRAY{int(time.time() * 1000)}", notify=False)
    time.sleep(3)  # second payments answered; statements cover whole seconds

    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    for channel in CURRENCY:
        ran = stack.call(
            "POST",
            "/admin/reconciliations",
            key=ADMIN_KEY,
            json={"channel": channel, "date": today},
        )
        assert ran.status_code == 201, ran.text
        summary = ran.json()["summary"]
        counts = summary["counts"]
        assert (
            counts["amount_mismatch"] >= 1
            and counts["missing_here"] >= 1
            and counts["missing_there"] >= 1
        )
        assert counts["duplicate"] >= 1 and counts["matched"] >= 1
        assert counts["status_mismatch"] >= 1, (channel, counts)  # epay: status 2 (已退款)
        assert summary["balanced"] is True
        assert all(
            c["unexplained"] == "0.00" or c["unexplained"] == "0"
            for c in summary["currencies"].values()
        )
        shown = stack.call(
            "GET", f"/admin/reconciliations/{ran.json()['id']}", key=ADMIN_KEY
        ).json()
        report = requests.get(shown["report"]["url"], timeout=30)
        assert report.status_code == 200 and report.content.decode("utf-8-sig").startswith(
            "n,result,kind"
        )
